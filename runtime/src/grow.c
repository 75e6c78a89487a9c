/*
 * Growing and shrinking a thread's stack: the C half of __morestack
 * (arch/x86_64.S), the chunk depth and its resynchronisation after a
 * longjmp. grow.h has the link record and the per-kernel-thread state;
 * docs/runtime-design.md ("Stack growth (runtime side)") the why.
 *
 * Whose stack grows (the "owner"):
 *  - a capri thread, main included (sched_here()->current, not a
 *    scheduler's own context): its struct. Chunks come from its cached
 *    chunk and its scheduler's cache (thread_chunk_take), so a boundary
 *    crossed in a hot loop costs no pool operation; its stack_lo/stack_hi
 *    and limit follow the current chunk, so the switch and the tools see
 *    the right stack, and t->grow_depth counts the chunks.
 *  - anything else on the kernel thread (a plain pthread, a foreign thread,
 *    a scheduler's own context, main before the runtime started): the
 *    kernel thread's struct grow_tls (initial-exec TLS: an %fs-relative
 *    access, no allocation). Chunks come straight from the pool (the depot;
 *    the scheduler's cache on a scheduler's kernel thread). Its own stack's
 *    bounds are derived once, at its first growth outside a handler.
 *
 * In a signal handler (signal_in_handler()) the pool's locks and the
 * owner-only caches are off limits: the chunk is the scheduler's reserve
 * (taken at the first growth outside a handler on that scheduler), or,
 * when there is none (no growth outside a handler yet, a nested growth, a
 * need above the reserve, a kernel thread without a scheduler), a mapping
 * of its own made with raw mmap/munmap, which are async-signal-safe.
 *
 * enter, leave and the helpers run on the kernel thread's system stack
 * (x86_64.S), never on the caller's nearly full chunk. Only the yield for
 * a preemption request runs elsewhere (the system stack is the kernel
 * thread's, and the thread may resume on another one): on the new chunk
 * (capri_grow_hook), or on the caller's stack when there is room.
 */
#include "grow.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "atomic.h"
#include "chunk_pool.h"
#include "clock.h"
#include "limit.h"
#include "log.h"
#include "preempt.h"
#include "scheduler.h"
#include "signal_wrap.h"
#include "sys.h"
#include "thread.h"
#include "tools.h"
#include "verify_stacks.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GROW_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GROW_ASAN 1
#endif
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

_Static_assert(GROW_ENTRY_MARGIN <= LIMIT_ENTRY_MARGIN,
               "the limit must leave room for what __morestack pushes before it switches");
#define GROW_VALGRIND 1
#endif

#ifdef GROW_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* The smallest chunk the slow path takes (the plugin's MinChunk). */
#define GROW_MIN_CHUNK 4096u
/* Room for a yield (and what the scheduler runs on the thread's stack
 * after it): what the plugin reserves for a call into code without
 * metadata. */
#define GROW_YIELD_ROOM (16u * 1024u)
/* The reserve chunk signal handlers grow onto: as big as the altstack. */
#define GROW_RESERVE_CLS 4u
/* A need above this is a bug in the caller (or a corrupt argument). */
#define GROW_NEED_MAX (1ull << 40)
#define GROW_PAGE 4096u

__thread struct grow_tls capri_grow_tls;

/* What __morestack's hot case (arch/x86_64.S) knows of the structs and
 * values outside grow.h. */
_Static_assert(offsetof(struct capri_sched, current) == GROW_SCHED_CURRENT, "x86_64.S");
_Static_assert(offsetof(struct capri_sched, grow_hot) == GROW_SCHED_HOT &&
                   offsetof(struct capri_sched, in_handler) == GROW_SCHED_HOT + 4 &&
                   sizeof(((struct capri_sched *)0)->in_handler) == 4 && GROW_SCHED_HOT % 8 == 0,
               "x86_64.S: grow_hot and in_handler are one 64-bit word, 1 when the hot case may run");
_Static_assert(offsetof(struct capri_thread, stack_lo) == GROW_THREAD_STACK_LO, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, stack_hi) == GROW_THREAD_STACK_HI, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, cached_chunk) == GROW_THREAD_CACHED_CHUNK, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, cached_slot) == GROW_THREAD_CACHED_SLOT &&
                   sizeof(((struct capri_thread *)0)->cached_slot) == 4, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, cached_cls) == GROW_THREAD_CACHED_CLS &&
                   sizeof(((struct capri_thread *)0)->cached_cls) == 4, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, limit) == GROW_THREAD_LIMIT, "x86_64.S");
_Static_assert(offsetof(struct capri_thread, grow_depth) == GROW_THREAD_DEPTH &&
                   sizeof(((struct capri_thread *)0)->grow_depth) == 4, "x86_64.S");
_Static_assert(THREAD_CACHED_CLASS_MAX == GROW_THREAD_CACHED_CLASS_MAX, "x86_64.S");
_Static_assert(LIMIT_PREEMPT == (uintptr_t)1 << GROW_LIMIT_PREEMPT_BIT, "x86_64.S");
/* (limit_for_stack(lo) is lo + LIMIT_ENTRY_MARGIN + LIMIT_SLACK: if the
 * slack becomes a run-time value, the hot case must read it.) */
_Static_assert(LIMIT_ENTRY_MARGIN + LIMIT_SLACK == GROW_LIMIT_ABOVE_LO, "x86_64.S");
_Static_assert(CHUNK_MIN_SHIFT == GROW_CHUNK_MIN_SHIFT, "x86_64.S");

/* The owner's fields, whichever kind it is. */
struct grow_view {
    uintptr_t *lo, *hi, *limit;
    uint32_t *depth;
    struct capri_thread *t; /* NULL: the TLS struct */
};

static inline struct grow_view view_of_thread(struct capri_thread *t)
{
    return (struct grow_view){&t->stack_lo, &t->stack_hi, &t->limit, &t->grow_depth, t};
}

static inline struct grow_view view_of_tls(struct grow_tls *g)
{
    return (struct grow_view){&g->lo, &g->hi, &g->limit, &g->depth, NULL};
}

/* The capri thread whose stack this kernel thread runs on, or NULL. */
static inline struct capri_thread *thread_here(struct capri_sched *s)
{
    if (!s)
        return NULL;
    struct capri_thread *t = s->current;
    return t && !(t->flags & THREAD_SCHED_CTX) ? t : NULL;
}

static inline struct grow_view view_here(void)
{
    struct capri_thread *t = thread_here(sched_here());
    return t ? view_of_thread(t) : view_of_tls(&capri_grow_tls);
}

static inline struct grow_view view_of_link(const struct grow_link *l)
{
    return l->owner_tls ? view_of_tls(l->owner) : view_of_thread(l->owner);
}

static inline bool in_handler_here(struct capri_sched *s)
{
    return s ? load_relaxed(&s->in_handler) != 0 : signal_in_handler() != 0;
}

/* chunk_pool.h's geometry: class c has (4 KiB << c) usable bytes. */
static inline unsigned class_for(size_t bytes)
{
    if (bytes <= ((size_t)1 << CHUNK_MIN_SHIFT))
        return 0;
    return (unsigned)(64 - __builtin_clzll((unsigned long long)bytes - 1)) - CHUNK_MIN_SHIFT;
}

static inline size_t class_size(unsigned cls) { return (size_t)1 << (CHUNK_MIN_SHIFT + cls); }

/* ---- chunks of our own (mmap) ------------------------------------------- */

/* A chunk outside the pool, with a guard page below it: raw system calls
 * only (signal handlers). NULL when the kernel refuses. */
static void *map_chunk(size_t size)
{
    long p = sys_call6(SYS_mmap, 0, (long)(size + GROW_PAGE), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p < 0 && p > -4096)
        return NULL;
    /* Without the guard the chunk still works; an overflow is then not
     * caught, as in CAPRI_GUARD=0. */
    sys_mprotect((void *)p, GROW_PAGE, PROT_NONE);
    return (char *)p + GROW_PAGE;
}

static void unmap_chunk(void *chunk, size_t size)
{
    sys_call6(SYS_munmap, (long)((char *)chunk - GROW_PAGE), (long)(size + GROW_PAGE), 0, 0, 0, 0);
}

/* ---- chunks of the pool, before and around the runtime ------------------ */

/* A thread that is not a capri thread (main before the runtime starts, a
 * plain pthread) takes its chunks from the pool too: one mapping per chunk
 * would cost a system call per growth, and two of the kernel's memory
 * areas per chunk, so a recursion some 100 MB deep would reach the map
 * count limit (65,530 by default; much sooner under ASan). The runtime
 * may not have started: the pool starts here (guarded; a later
 * CAPRI_GUARD=0 turns guards off for what is carved after). false when
 * it cannot be had (then a mapping). */
static bool pool_ready_for_growth(struct capri_sched *s)
{
    if (s || load_acquire(&capri_rt.scheds))
        return true;
    /* The tools too: a reused chunk must be unpoisoned for ASan and
     * registered with valgrind, as after the runtime's start. */
    tools_init();
    return chunk_pool_init(CHUNK_GUARD_MADVISE) == 0;
}

/* Gives a pool chunk back. Before the runtime runs, no idle scheduler
 * decays the pool: the return does it, so a deep recursion's memory goes
 * back to the kernel (at once above the depot's resident maximum, else
 * after the decay period). */
static void pool_chunk_back(void *chunk, unsigned cls)
{
    struct capri_sched *s = sched_here();
    chunk_pool_give(s ? &s->chunks : NULL, chunk, cls);
    if (!s && !load_acquire(&capri_rt.scheds))
        chunk_pool_decay(NULL, clock_now_ns());
}

/* ---- the kernel thread's state -------------------------------------------- */

/* Releases a chunk an unwind left, when that is allowed here: a pool
 * chunk not in a signal handler (its thread may be gone: straight to the
 * pool, never to a thread's cache). */
static void tools_chunk_released(uint32_t valgrind_id, void *chunk, size_t size);

/* __morestack's hot case runs on this kernel thread only while its
 * scheduler's grow_hot is 1 (and no handler runs): the reserve is taken,
 * no tool listens, no chunk waits in the deferred slot. grow_hot caches
 * the three, written on the scheduler's own kernel thread: when a chunk is
 * deferred, when the slot is flushed, and at every growth through the C
 * half outside handlers. A handler landing between the reading and the
 * writing can leave it 1 with a chunk waiting: the hot case then leaves
 * the chunk waiting, and the return it makes flushes it (it checks the
 * slot itself); it goes wrong only the safe way otherwise (0: the C half,
 * which sets it again). */
static inline void hot_gate_update(struct capri_sched *s)
{
    if (s)
        store_relaxed(&s->grow_hot,
                      (uint32_t)(s->grow_reserve && !capri_tools_active && !__capri_limit_poison &&
                                 !capri_grow_tls.deferred.chunk));
}

static inline void hot_gate_close(void)
{
    struct capri_sched *s = sched_here();
    if (s)
        store_relaxed(&s->grow_hot, 0u);
}

static void deferred_flush(bool in_handler)
{
    struct grow_deferred *d = &capri_grow_tls.deferred;
    if (likely(!d->chunk))
        return;
    if (in_handler && (d->kind == GROW_KIND_THREAD || d->kind == GROW_KIND_POOL))
        return;
    /* Taken off the slot (one exchange: atomic against a handler that
     * flushes too) before it is released. */
    struct grow_deferred mine = *d;
    mine.chunk = __atomic_exchange_n(&d->chunk, (void *)NULL, __ATOMIC_RELAXED);
    if (!mine.chunk)
        return;
    if (mine.valgrind_id)
        tools_chunk_released(mine.valgrind_id, mine.chunk, mine.size);
    switch (mine.kind) {
    case GROW_KIND_THREAD:
    case GROW_KIND_POOL:
        pool_chunk_back(mine.chunk, mine.cls);
        break;
    case GROW_KIND_RESERVE:
        store_relaxed(&mine.reserve_of->grow_reserve_busy, 0u);
        break;
    default:
        unmap_chunk(mine.chunk, mine.size);
        break;
    }
    hot_gate_update(sched_here());
}

static pthread_key_t grow_key;
static pthread_once_t grow_key_once = PTHREAD_ONCE_INIT;

/* A kernel thread that grew ends: its deferred chunk and system stack go.
 * (Runs on the thread's own stack, after any unwind.) */
static void grow_thread_end(void *unused)
{
    (void)unused;
    struct grow_tls *g = &capri_grow_tls;
    deferred_flush(false);
    if (g->sys_base) {
        uintptr_t base = g->sys_base;
#ifdef GROW_VALGRIND
        if (g->sys_valgrind_id)
            VALGRIND_STACK_DEREGISTER((unsigned)g->sys_valgrind_id);
#endif
        g->sys_valgrind_id = 0;
        g->sys_top = g->sys_floor = g->sys_base = 0;
        sys_call6(SYS_munmap, (long)base, GROW_SYS_SIZE + GROW_SYS_GUARD, 0, 0, 0, 0);
    }
    g->key_set = 0;
}

static void grow_key_create(void) { pthread_key_create(&grow_key, grow_thread_end); }

/* Once per kernel thread, outside handlers: what happens at its exit.
 * (This and derive_tls_bounds call into libc, which may call a malloc
 * built with the plugin: the limit word, which describes the caller's
 * chunk and not this system stack, says "no checks" meanwhile.) */
static __attribute__((noinline)) void register_thread_end(void)
{
    uintptr_t word = limit_read();
    limit_write(0);
    pthread_once(&grow_key_once, grow_key_create);
    pthread_setspecific(grow_key, (void *)1);
    capri_grow_tls.key_set = 1;
    limit_write(word);
}

/* A kernel thread's own stack, for the first link of its TLS owner. */
static __attribute__((noinline)) void derive_tls_bounds(struct grow_link *l)
{
    struct grow_tls *g = &capri_grow_tls;
    int saved_errno = errno; /* pthread_getattr_np may read /proc */
    uintptr_t word = limit_read();
    limit_write(0);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *base;
        size_t size;
        if (pthread_attr_getstack(&attr, &base, &size) == 0) {
            l->old_lo = (uintptr_t)base;
            l->old_hi = (uintptr_t)base + size;
            /* A value libcapri did not set (a stale word in a TCB glibc
             * reused): the way back gets the real limit instead. 0, no
             * checks, stays. */
            uintptr_t real = limit_for_stack((uintptr_t)base);
            if (l->old_limit != 0 && l->old_limit != real && l->old_limit != l->old_own_limit)
                l->old_limit = real;
            if (l->old_own_limit == 0)
                l->old_own_limit = l->old_limit;
        }
        pthread_attr_destroy(&attr);
    }
    g->derived = 1;
    limit_write(word);
    errno = saved_errno;
}

/* ---- entering a chunk ---------------------------------------------------- */

/* Does a region of `need` below the thunk's stack pointer fit above
 * `limit`, with room for a yield? (frame: __morestack's, where the thunk
 * would be called.) */
static inline bool fits_here(uintptr_t frame, uint64_t need, uintptr_t limit)
{
    uint64_t want = need + 16u > GROW_YIELD_ROOM ? need + 16u : GROW_YIELD_ROOM;
    return limit && frame > limit && frame - limit >= want;
}

/* Valgrind's stack registration; ASan's idea of the current stack, except
 * in signal handlers (the handler may have interrupted a fiber switch,
 * which ASan does not allow to nest; it does not know the altstack the
 * handler runs on either), which leave asan_bottom NULL. */
static void tools_enter(struct grow_link *l, bool in_handler)
{
    l->tools = 1;
#ifdef GROW_VALGRIND
    if (RUNNING_ON_VALGRIND)
        l->valgrind_id = VALGRIND_STACK_REGISTER((uintptr_t)l->chunk, (uintptr_t)l);
#endif
#ifdef GROW_ASAN
    /* Old frames may have been left poisoned (a longjmp over them). */
    __asan_unpoison_memory_region(l->chunk, (uintptr_t)l - (uintptr_t)l->chunk);
    if (!in_handler) {
        /* The same fake stack goes on: frames on the chunk belong to the
         * same thread of execution. */
        void *fake = NULL;
        __sanitizer_start_switch_fiber(&fake, l->chunk, (uintptr_t)l - (uintptr_t)l->chunk);
        __sanitizer_finish_switch_fiber(fake, &l->asan_bottom, &l->asan_size);
    }
#endif
    (void)in_handler;
}

/* Valgrind: the chunk is no stack any more. Frames that returned left
 * their memory inaccessible to memcheck, and the chunk's next user (a
 * thread struct) writes it directly. */
static void tools_chunk_released(uint32_t valgrind_id, void *chunk, size_t size)
{
#ifdef GROW_VALGRIND
    VALGRIND_STACK_DEREGISTER(valgrind_id);
    VALGRIND_MAKE_MEM_UNDEFINED(chunk, size);
#endif
    (void)valgrind_id;
    (void)chunk;
    (void)size;
}

/* Valgrind takes a move of the stack pointer between a stack it knows and
 * one it does not, less than 2 MiB apart, for a frame pushed or popped and
 * marks the memory in between: the signal stack a handler grows from must
 * be known to it too (the system stack and the chunks are registered). */
static void tools_handler_stack(void)
{
#ifdef GROW_VALGRIND
    struct grow_tls *g = &capri_grow_tls;
    stack_t ss;
    if (!RUNNING_ON_VALGRIND || sys_call6(SYS_sigaltstack, 0, (long)&ss, 0, 0, 0, 0) != 0 ||
        (ss.ss_flags & SS_DISABLE) || (uintptr_t)ss.ss_sp == g->alt_registered)
        return;
    if (g->alt_valgrind_id)
        VALGRIND_STACK_DEREGISTER(g->alt_valgrind_id);
    g->alt_valgrind_id = VALGRIND_STACK_REGISTER((uintptr_t)ss.ss_sp, (uintptr_t)ss.ss_sp + ss.ss_size);
    g->alt_registered = (uintptr_t)ss.ss_sp;
#endif
}

/* After grow_resync_to_sp left ASan's idea of the stack on the chunk the
 * jump came from (so that the jump's own no-return unpoisoning matched):
 * the stack the owner runs on now, i.e. the new link's old bounds. */
static void tools_asan_fix(struct grow_link *l, struct grow_tls *g)
{
    g->asan_stale = 0;
#ifdef GROW_ASAN
    if (l->old_hi > l->old_lo) {
        void *fake = NULL;
        __sanitizer_start_switch_fiber(&fake, (void *)l->old_lo, l->old_hi - l->old_lo);
        __sanitizer_finish_switch_fiber(fake, NULL, NULL);
    }
#endif
    (void)l;
}

/* ASan's idea of the stack back (when asan_bottom is set). */
static void tools_leave(const void *asan_bottom, size_t asan_size)
{
#ifdef GROW_ASAN
    if (asan_bottom) {
        void *fake = NULL;
        __sanitizer_start_switch_fiber(&fake, asan_bottom, asan_size);
        __sanitizer_finish_switch_fiber(fake, NULL, NULL);
    }
#endif
    (void)asan_bottom;
    (void)asan_size;
}

/*
 * Everything but the hot case, which __morestack does in assembly with no
 * call (a capri thread outside signal handlers, no tools, no deferred
 * chunk, no preemption request, a cached chunk with its link record at
 * least as big as needed, whatever its class: arch/x86_64.S leaves the
 * same link record and bookkeeping as below): a preemption request, a
 * thread without a cached chunk big enough, plain pthreads, signal
 * handlers, tools, a kernel thread's first growth.
 */
uintptr_t capri_grow_enter(void (*thunk)(void *), void *block, uint64_t need, uintptr_t frame)
{
    uintptr_t word = limit_read();
    struct capri_sched *s = sched_here();
    struct capri_thread *t = thread_here(s);
    bool in_handler = in_handler_here(s);
    struct grow_tls *g = &capri_grow_tls;
    struct grow_view v = t ? view_of_thread(t) : view_of_tls(g);
    uint32_t hooks = 0;
    uintptr_t old_limit = word;
    /* __capri_loop_yield asks for room for its body, which takes the
     * request itself once the loop's registers are saved. */
    bool loop_yield = (need & GROW_NEED_LOOP_YIELD) != 0;
    need &= ~(uint64_t)GROW_NEED_LOOP_YIELD;

    if (unlikely(need > GROW_NEED_MAX))
        capri_fatal("__morestack: the stack region asked for is absurdly large");
    if (unlikely(g->deferred.chunk))
        deferred_flush(in_handler);
    if (!t && !g->key_set && !in_handler)
        register_thread_end();
    if (t && !in_handler && unlikely(word == LIMIT_PREEMPT)) {
        /* A preemption request (a spurious one is harmless: the thread's
         * limit comes back; one that waits for a pthread lock stays
         * pending, preempt.c). Only the request made the check fail:
         * when the region fits, __morestack runs the thunk where it is
         * (1), after a yield (0). */
        old_limit = t->limit;
        if (loop_yield) {
            if (fits_here(frame, need, t->limit))
                return 1;
        } else if (preempt_take(s, t)) {
            if (fits_here(frame, need, t->limit))
                return 0;
            hooks |= GROW_HOOK_YIELD; /* on the new chunk */
        } else if (fits_here(frame, need, t->limit)) {
            return 1;
        }
    }
    if (s && !in_handler && unlikely(!s->grow_reserve)) {
        uint32_t rslot;
        void *r = chunk_pool_take(&s->chunks, GROW_RESERVE_CLS, &rslot);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        s->grow_reserve = r;
    }
    if (s && !in_handler)
        hot_gate_update(s);

    size_t total = (size_t)need + GROW_FRAME + LIMIT_ABOVE_LO;
    if (total < GROW_MIN_CHUNK)
        total = GROW_MIN_CHUNK;
    if ((hooks & GROW_HOOK_YIELD) && total < GROW_YIELD_ROOM + GROW_FRAME)
        total = GROW_YIELD_ROOM + GROW_FRAME;

    unsigned cls = class_for(total);
    uint8_t kind = GROW_KIND_MAPPED;
    uint32_t slot = CHUNK_SLOT_NONE;
    void *chunk = NULL;
    size_t size = 0;
    if (in_handler) {
        if (s && s->grow_reserve && !s->grow_reserve_busy && total <= class_size(GROW_RESERVE_CLS)) {
            store_relaxed(&s->grow_reserve_busy, 1u);
            chunk = s->grow_reserve;
            cls = GROW_RESERVE_CLS;
            kind = GROW_KIND_RESERVE;
        }
    } else if (cls < CHUNK_CLASSES) {
        if (t) {
            chunk = thread_chunk_take(t, cls, &slot);
            kind = GROW_KIND_THREAD;
        } else if (pool_ready_for_growth(s)) {
            chunk = chunk_pool_take(s ? &s->chunks : NULL, cls, &slot);
            kind = GROW_KIND_POOL;
        }
    }
    if (chunk) {
        size = class_size(cls);
    } else {
        kind = GROW_KIND_MAPPED;
        size = (total + GROW_PAGE - 1) & ~(size_t)(GROW_PAGE - 1);
        chunk = map_chunk(size);
        if (!chunk)
            capri_fatal("__morestack: no memory for a stack chunk");
    }

    uintptr_t lo = (uintptr_t)chunk;
    struct grow_link *l = (struct grow_link *)(lo + size - GROW_LINK_SIZE);
    l->frame = frame;
    l->hooks = hooks;
    l->kind = kind;
    l->cls = (uint8_t)cls;
    l->owner_tls = t ? 0 : 1;
    l->tools = 0;
    l->thunk = thunk;
    l->block = block;
    l->old_limit = old_limit;
    l->old_own_limit = *v.limit;
    l->old_lo = *v.lo;
    l->old_hi = *v.hi;
    l->owner = t ? (void *)t : (void *)g;
    l->chunk = chunk;
    l->size = size;
    l->slot = slot;
    l->valgrind_id = 0;
    l->reserve_of = kind == GROW_KIND_RESERVE ? s : NULL;
    l->asan_bottom = NULL;
    l->asan_size = 0;
    l->in_handler = in_handler;
    l->verify = 0;
    if (!t && !in_handler && !g->derived && g->depth == 0)
        derive_tls_bounds(l);
    if (unlikely(capri_tools_active)) {
        if (in_handler)
            tools_handler_stack();
        else if (g->asan_stale)
            tools_asan_fix(l, g);
        tools_enter(l, in_handler);
    }
    if (unlikely(__capri_limit_poison)) {
        verify_stacks_paint(l, need);
        l->tools |= 2; /* (the return comes to C, which scans) */
    }

    uintptr_t limit = limit_for_stack(lo);
    *v.lo = lo;
    *v.hi = (uintptr_t)l;
    *v.limit = limit;
    *v.depth += 1;
    limit_write(limit);
    return (uintptr_t)l;
}

void capri_grow_hook(struct grow_link *l)
{
    uint32_t hooks = l->hooks;
    l->hooks = 0;
    if (hooks & GROW_HOOK_YIELD)
        capri_preempt_yield();
}

/* ---- leaving a chunk ----------------------------------------------------- */

/* The limit word to go back to: the saved one, unless a preemption request
 * for the running thread arrived meanwhile (it must not be lost). */
static inline uintptr_t limit_back(struct capri_thread *t, uintptr_t saved)
{
    if (t && limit_read() == LIMIT_PREEMPT && limit_preempt_pending(t->sched, t))
        return LIMIT_PREEMPT;
    return saved;
}

/* Gives a chunk back the way it came. */
static void chunk_back(struct capri_thread *t, uint8_t kind, void *chunk, uint32_t slot,
                       unsigned cls, size_t size, struct capri_sched *reserve_of)
{
    switch (kind) {
    case GROW_KIND_THREAD:
        thread_chunk_release(t, chunk, slot, cls);
        break;
    case GROW_KIND_POOL:
        pool_chunk_back(chunk, cls);
        break;
    case GROW_KIND_RESERVE:
        store_relaxed(&reserve_of->grow_reserve_busy, 0u);
        break;
    default:
        unmap_chunk(chunk, size);
        break;
    }
}

/* Unlinks the owner's top link l: bounds and depth restored, and the chunk
 * released, or, with defer, left for deferred_flush. Returns the limit to
 * go back to. here: the owner runs on this kernel thread (ASan's idea of
 * the stack follows). */
static uintptr_t unlink_top(struct grow_link *l, bool here, bool defer)
{
    /* Everything first: the record lives in the chunk given back. */
    struct grow_view v = view_of_link(l);
    uintptr_t old_limit = l->old_limit;
    uint8_t kind = l->kind, tools = l->tools;
    void *chunk = l->chunk;
    uint32_t slot = l->slot, valgrind_id = l->valgrind_id;
    unsigned cls = l->cls;
    size_t size = l->size;
    struct capri_sched *reserve_of = l->reserve_of;
    const void *asan_bottom = l->asan_bottom;
    size_t asan_size = l->asan_size;

    *v.lo = l->old_lo;
    *v.hi = l->old_hi;
    *v.limit = l->old_own_limit;
    *v.depth -= 1;
    if (unlikely(tools))
        tools_leave(here ? asan_bottom : NULL, asan_size);
    if (defer) {
        /* The unwinder still runs on it: valgrind keeps it as a stack. */
        struct grow_deferred *d = &capri_grow_tls.deferred;
        if (d->chunk)
            return old_limit; /* one is waiting already (in a handler): leaked */
        d->valgrind_id = valgrind_id;
        d->size = size;
        d->reserve_of = reserve_of;
        d->kind = kind;
        d->cls = (uint8_t)cls;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        d->chunk = chunk;
        hot_gate_close();
    } else {
        if (unlikely(valgrind_id))
            tools_chunk_released(valgrind_id, chunk, size);
        chunk_back(v.t, kind, chunk, slot, cls, size, reserve_of);
    }
    return old_limit;
}

static __attribute__((noinline)) void grow_leave_slow(struct grow_link *l)
{
    struct capri_thread *t = l->owner_tls ? NULL : (struct capri_thread *)l->owner;
    if (capri_grow_tls.deferred.chunk)
        deferred_flush(in_handler_here(sched_here()));
    if (unlikely(l->verify))
        verify_stacks_check(l);
    uintptr_t old_limit = unlink_top(l, true, false);
    limit_write(limit_back(t, old_limit));
}

void capri_grow_leave(struct grow_link *l)
{
    /* A capri thread's chunk goes back into its empty cache: __morestack
     * does this itself (arch/x86_64.S) unless a preemption request waits
     * in the limit word; what it leaves to C comes here. */
    struct capri_thread *t = l->owner;
    if (unlikely(l->kind != GROW_KIND_THREAD) || unlikely(l->tools) || t->cached_chunk ||
        l->cls > THREAD_CACHED_CLASS_MAX || unlikely(capri_grow_tls.deferred.chunk)) {
        grow_leave_slow(l);
        return;
    }
    t->stack_lo = l->old_lo;
    t->stack_hi = l->old_hi;
    t->limit = l->old_own_limit;
    t->grow_depth--;
    t->cached_chunk = l->chunk;
    t->cached_slot = l->slot;
    t->cached_cls = l->cls;
    limit_write(limit_back(t, l->old_limit));
}

void *capri_grow_unwind(struct grow_link *l, void *exc)
{
    struct capri_thread *t = l->owner_tls ? NULL : (struct capri_thread *)l->owner;
    /* A chunk an earlier landing pad deferred lies deeper: nothing runs on
     * it any more. This one stays until the unwinder has left it. */
    if (capri_grow_tls.deferred.chunk)
        deferred_flush(in_handler_here(sched_here()));
    uintptr_t old_limit = unlink_top(l, true, true);
    limit_write(limit_back(t, old_limit));
    return exc;
}

/* ---- depth, resync, exit -------------------------------------------------- */

unsigned __capri_chunk_depth(void) { return *view_here().depth; }

void __capri_stack_resync(unsigned depth)
{
    struct grow_view v = view_here();
    if (capri_grow_tls.deferred.chunk)
        deferred_flush(in_handler_here(sched_here()));
    if (*v.depth <= depth)
        return;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), limit = 0;
    while (*v.depth > depth) {
        struct grow_link *l = (struct grow_link *)*v.hi;
        if (sp >= (uintptr_t)l->chunk && sp < (uintptr_t)l->chunk + l->size)
            capri_fatal("__capri_stack_resync: still running on a chunk it was asked to release");
        limit = unlink_top(l, true, false);
    }
    limit_write(limit_back(v.t, limit));
}

bool grow_resync_to_sp(uintptr_t sp)
{
    struct grow_view v = view_here();
    unsigned depth = *v.depth, keep = depth, handler_top = 0;
    bool handlers = true;
    struct grow_link *l = (struct grow_link *)*v.hi;
    for (unsigned k = depth; k > 0; k--) {
        if (sp >= (uintptr_t)l->chunk && sp < (uintptr_t)l) {
            keep = k;
            goto release;
        }
        handlers = handlers && l->in_handler;
        if (handlers)
            handler_top = k; /* links k..depth were all made in handlers */
        if (k == 1) {
            /* Not on a chunk: the first stack, or a signal stack. */
            if (sp >= l->old_lo && sp < l->old_hi)
                keep = 0;
            else if (handler_top)
                keep = handler_top - 1;
            goto release;
        }
        l = (struct grow_link *)l->old_hi;
    }
release:;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0), limit = 0;
    /* (Not the deferred chunk this runs on: a longjmp from a cleanup or an
     * unwinder's stop function, on the chunk an unwind left.) */
    uintptr_t dc = (uintptr_t)capri_grow_tls.deferred.chunk;
    if (dc && !(here >= dc && here < dc + capri_grow_tls.deferred.size))
        deferred_flush(in_handler_here(sched_here()));
    if (*v.depth <= keep)
        return false;
    /* Running on the top chunk (the interposer before the jump): it is
     * released at the next growth, and ASan keeps taking it for the stack
     * until then (the jump's no-return unpoisoning is of this stack); the
     * next growth puts that right. */
    l = (struct grow_link *)*v.hi;
    bool on_top = here >= (uintptr_t)l->chunk && here < (uintptr_t)l->chunk + l->size;
    if (on_top && (l->tools & 1))
        capri_grow_tls.asan_stale = 1;
    while (*v.depth > keep) {
        l = (struct grow_link *)*v.hi;
        bool on_it = on_top && here >= (uintptr_t)l->chunk && here < (uintptr_t)l->chunk + l->size;
        limit = unlink_top(l, !on_top, on_it);
    }
    limit_write(limit_back(v.t, limit));
    bool on_stack = sp >= *v.lo && sp < *v.hi;
#ifdef GROW_ASAN
    /* The frames the jump leaves on the target's stack (below its stack
     * pointer) are dead, but their redzones are still poisoned: ASan's own
     * no-return unpoisoning, requested before the jump, took the stack for
     * the chunk the jump leaves (and refused such a range). */
    if (on_stack && sp > *v.lo) /* (also before the runtime has started) */
        __asan_unpoison_memory_region((const void *)*v.lo, sp - *v.lo);
#endif
    return on_stack;
}

void grow_flush_deferred(void) { deferred_flush(false); }

struct room_call {
    int (*fn)(void);
    int result;
};

static void room_call_thunk(void *p)
{
    struct room_call *c = p;
    c->result = c->fn();
}

__attribute__((noinline)) int grow_call_with_room(int (*fn)(void), size_t room)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), word = limit_read();
    /* 0: no checks on this thread (its own stack, as large as it is). A
     * request or the verification bit fails the comparison. */
    if (word == 0 || (sp > word && sp - word >= room))
        return fn();
    struct room_call c = {fn, 0};
    __morestack(room_call_thunk, &c, room);
    return c.result;
}

void grow_release_all(struct capri_thread *t)
{
    while (t->grow_depth > 0)
        unlink_top((struct grow_link *)t->stack_hi, false, false);
    thread_chunk_flush(t); /* the last one went to its cache */
}
