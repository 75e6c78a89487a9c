/*
 * Threads: start-up of the runtime, spawn, join, detach, exit, self, names,
 * sleeping and yielding. The state machine is in thread.h; the queues and
 * switching are in sched.c.
 */
#include "thread.h"

#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "bounds.h"
#include "chunk_pool.h"
#include "clock.h"
#include "config.h"
#include "grow.h"
#include "limit.h"
#include "verify_stacks.h"
#include "log.h"
#include "modules.h"
#include "scheduler.h"
#include "signal_wrap.h"
#include "sys.h"
#include "wait.h"

/* The stand-in of a kernel thread libcapri does not run (see thread.h). */
static __thread struct capri_thread *tls_foreign;
static pthread_key_t foreign_key;

enum { INIT_NONE, INIT_RUNNING, INIT_DONE, INIT_FAILED };
static uint32_t init_state;
static int init_error;

struct capri_thread *thread_current(void)
{
    struct capri_sched *s = sched_here();
    return s ? s->current : tls_foreign;
}

/* Fields every thread struct needs, whatever it is. */
static void thread_struct_init(struct capri_thread *t, uint32_t flags)
{
    memset(t, 0, sizeof *t);
    t->canary = THREAD_CANARY;
    t->flags = flags;
    t->heap_index = -1;
}

static void foreign_release(void *p)
{
    struct capri_thread *t = p;
    keys_run_destructors(t);
    keys_release(t);
    thread_extra_release(t);
    tls_foreign = NULL;
    free(t);
}

static int adopt_foreign(void)
{
    struct capri_thread *t = aligned_alloc(CACHE_LINE, sizeof *t);
    if (!t)
        return ENOMEM;
    thread_struct_init(t, THREAD_FOREIGN);
    t->run_state = THREAD_RUNNING;
    tls_foreign = t;
    pthread_setspecific(foreign_key, t);
    limit_track_kernel_thread();
    return 0;
}

/* Claims a slot and generation for a thread whose struct sits at the top of
 * `chunk`: the handle is (generation << 32) | slot, never 0. */
static capri_t handle_claim(struct capri_thread *t, uint32_t slot)
{
    struct chunk_slot *cs = chunk_slot_at(slot);
    uint32_t gen = load_relaxed(&cs->generation);
    if (gen == 0) {
        gen = 1;
        store_relaxed(&cs->generation, gen);
    }
    store_relaxed(&cs->owner, (void *)t);
    store_release(&cs->state, (uint8_t)CHUNK_THREAD);
    t->slot = slot;
    t->handle = ((uint64_t)gen << 32) | slot;
    return t->handle;
}

/* Where the struct goes in a chunk: at the top, staggered by a few cache
 * lines so that all threads' structs do not fall into the same cache sets. */
static struct capri_thread *struct_place(void *chunk, size_t size, uint32_t slot)
{
    uintptr_t top = (uintptr_t)chunk + size - (uintptr_t)(slot & 3) * CACHE_LINE;
    return (struct capri_thread *)((top - sizeof(struct capri_thread)) & ~(uintptr_t)(CACHE_LINE - 1));
}

/* A dense chunk's struct: at the very top, no stagger. Dense strides are
 * not powers of two (multiples of 64 bytes), so the structs of neighbouring
 * chunks fall into different cache sets anyway, and a stagger would cost
 * every thread up to three cache lines of memory. */
static struct capri_thread *struct_place_dense(void *chunk, size_t size)
{
    return (struct capri_thread *)((char *)chunk + size - sizeof(struct capri_thread));
}

/* Dense first chunks hold what guard mode's first chunks hold (the entry
 * region, libcapri's own frames, the limit's room above the bottom so that
 * a check at the region's deepest point passes, the struct), with no
 * stagger and no page rounding, plus the canary's room. libcapri's frames
 * are THREAD_DENSE_ENTRY_FRAMES below the struct before the entry function
 * runs (thread_start and the context capri_arch_prepare lays out) and
 * THREAD_DENSE_EXIT_FRAMES for thread_exit after it has returned (48 and
 * 176 bytes measured in the plain build; the sanitizers' hooks take more,
 * measured as for SPAWN_ENTRY_FRAMES in bounds.h). DENSE_MIN_BYTES is the smallest
 * chunk a thread starts on at all. */
#ifdef CAPRI_SWITCH_HOOKS
#define DENSE_BEFORE 128u  /* ASan 80, TSan 96 */
#define DENSE_AFTER 2560u  /* ASan 304 (2416 with libcapri.so), TSan 720 */
#else
#define DENSE_BEFORE THREAD_DENSE_ENTRY_FRAMES
#define DENSE_AFTER THREAD_DENSE_EXIT_FRAMES
#endif
#define DENSE_FIXED_BYTES (sizeof(struct capri_thread) + CHUNK_CANARY_ROOM + LIMIT_ABOVE_LO)
#define DENSE_MIN_BYTES (DENSE_FIXED_BYTES + DENSE_AFTER)

static size_t dense_spawn_bytes(uint32_t region)
{
    size_t frames = (size_t)region + DENSE_BEFORE;
    return DENSE_FIXED_BYTES + (frames > DENSE_AFTER ? frames : DENSE_AFTER);
}

/* The class of a new thread's first chunk; CHUNK_CLASSES when the caller's
 * size is out of range. */
/* Once per process: a stack_size below what the entry function needs
 * before its first checkpoint (known from the records). In dense mode no
 * guard page is under the chunk, and an overflow damages the chunk below
 * before the canary is checked (guard mode reports it at the guard). */
static void dense_size_warn(void *(*fn)(void *), unsigned cls)
{
    static int warned;
    uint32_t region = bounds_entry_region((const void *)fn);
    if (!region || load_relaxed(&warned) || chunk_class_size(cls) >= dense_spawn_bytes(region))
        return;
    store_relaxed(&warned, 1);
    char msg[320];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, "capri_spawn: a stack_size of ");
    p = log_append_u64(p, e, chunk_class_size(cls));
    p = log_append(p, e, " bytes is below the ");
    p = log_append_u64(p, e, dense_spawn_bytes(region));
    p = log_append(p, e, " bytes its entry function needs before its first checkpoint; in dense mode an "
                         "overflow damages the chunk below before the canary is checked "
                         "(reported once)");
    *p = 0;
    capri_warn(msg);
}

static unsigned spawn_class(void *(*fn)(void *), const capri_attr_t *attr)
{
    if (attr && attr->stack_size) {
        /* The caller's size wins (in dense mode, from the dense floor up). */
        if (!capri_rt.dense)
            return chunk_class_for(attr->stack_size);
        size_t bytes = attr->stack_size < DENSE_MIN_BYTES ? DENSE_MIN_BYTES : attr->stack_size;
        unsigned cls = chunk_dense_class_for(bytes);
        dense_size_warn(fn, cls);
        return cls;
    }
    /* The entry function's region (from the records) and what libcapri
     * keeps on the chunk; the configured default when no record knows the
     * function (no metadata, or a COMDAT function with no address). */
    uint32_t region = bounds_entry_region((const void *)fn);
    unsigned cls;
    if (!region)
        cls = capri_rt.stack_cls;
    else if (capri_rt.dense)
        cls = chunk_dense_class_for(dense_spawn_bytes(region));
    else
        cls = chunk_class_for(bounds_spawn_bytes(region));
    if (cls == CHUNK_CLASSES)
        cls = CHUNK_CLASSES - 1; /* the guard page reports what does not fit */
    return cls;
}

/* main's struct, set once when the runtime adopts main. */
static struct capri_thread *main_struct;

static int adopt_main(struct capri_sched *s0)
{
    /* The main thread keeps its own stack; a class-0 chunk holds its struct
     * so that its handle works like any other. */
    uint32_t slot;
    void *chunk = chunk_pool_take(NULL, 0, &slot);
    if (!chunk)
        return ENOMEM;
    struct capri_thread *t = struct_place(chunk, chunk_class_size(0), slot);
    thread_struct_init(t, THREAD_MAIN);
    main_struct = t;
    /* Its name, "main", is in the side record. */
    struct thread_extra *e = thread_extra_get(t);
    if (!e) {
        chunk_pool_give(NULL, chunk, 0);
        return ENOMEM;
    }
    memcpy(e->name, "main", 5);
    t->chunk = chunk;
    t->run_state = THREAD_RUNNING;
    t->limit = limit_read(); /* set by libcapri's constructor (pthread_wrap.c) */
    handle_claim(t, slot);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
            t->stack_lo = (uintptr_t)lo;
            t->stack_hi = (uintptr_t)lo + size;
        }
        pthread_attr_destroy(&attr);
    }
    /* Start-up may run on a chunk (grow_call_with_room), whose limit the
     * word holds until it returns: main's own is its stack's. */
    if (__capri_chunk_depth() > 0 && t->stack_hi > t->stack_lo)
        t->limit = limit_for_stack(t->stack_lo);
    int err = sched_init_main(s0, t);
    if (err)
        return err;
    tools_thread_created(t);
    return 0;
}

/* Room for the one-time work the first calls into libcapri do, which
 * their marks do not cover: the runtime's start-up (2.7 KiB used) and the
 * first capri_spawn's start of the schedulers' kernel threads
 * (pthread_create, 3.7 KiB), measured with CAPRI_VERIFY_STACKS=1, which
 * checks them at every start; the rest is for libc and the loader, whose
 * paths vary. */
#define START_ROOM (32u * 1024)

static int runtime_init(void)
{
    struct runtime_config cfg;
    config_resolve(&cfg);
    capri_arch_init();
    tools_init();
    if (pthread_key_create(&foreign_key, foreign_release) != 0)
        return EAGAIN;
    int err = chunk_pool_init(cfg.guard ? CHUNK_GUARD_MADVISE : CHUNK_GUARD_NONE);
    if (err)
        return err < 0 ? -err : err;
    /* The monitor's spares get their slots now: the array never moves. */
    uint32_t capacity = cfg.schedulers + cfg.spare_schedulers;
    size_t bytes = (size_t)capacity * sizeof(struct capri_sched);
    struct capri_sched *scheds = aligned_alloc(CACHE_LINE, (bytes + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1));
    if (!scheds)
        return ENOMEM;
    memset(scheds, 0, bytes);
    for (uint32_t i = 0; i < capacity; i++) {
        scheds[i].index = i;
        thread_struct_init(&scheds[i].ctx, THREAD_SCHED_CTX);
        scheds[i].ctx.sched = &scheds[i];
    }
    capri_rt.scheds = scheds;
    capri_rt.nscheds = cfg.schedulers;
    capri_rt.sched_capacity = capacity;
    capri_rt.spare_schedulers = cfg.spare_schedulers;
    capri_rt.time_slice_ns = (uint64_t)cfg.time_slice_us * 1000u;
    capri_rt.stack_size = cfg.stack_size;
    capri_rt.stack_cls = chunk_class_for(cfg.stack_size);
    capri_rt.max_threads = cfg.max_threads;
    capri_rt.guard = cfg.guard;
    capri_rt.dense = cfg.dense;
    modules_load();
    err = signal_runtime_init();
    if (err)
        capri_warn("signal handlers could not be set up; stack overflows are not reported");
    fork_install();
    graph_init();
    if (sys_gettid() == getpid())
        return adopt_main(&scheds[0]);
    return 0;
}

static int runtime_ensure_slow(void)
{
    uint32_t state = load_acquire(&init_state);
    if (state == INIT_NONE) {
        uint32_t expected = INIT_NONE;
        if (cas_acq_rel(&init_state, &expected, (uint32_t)INIT_RUNNING)) {
            init_error = grow_call_with_room(runtime_init, START_ROOM);
            store_release(&init_state, init_error ? (uint32_t)INIT_FAILED : (uint32_t)INIT_DONE);
        }
    }
    while ((state = load_acquire(&init_state)) == INIT_RUNNING)
        sched_yield();
    if (state == INIT_FAILED)
        return init_error;
    if (sched_here() || tls_foreign)
        return 0;
    return adopt_foreign();
}

int runtime_ensure(void)
{
    if (likely(sched_here() != NULL || tls_foreign != NULL))
        return 0;
    return runtime_ensure_slow();
}

struct capri_thread *thread_from_handle(capri_t handle)
{
    struct chunk_slot *cs = chunk_slot_at((uint32_t)handle);
    if (!cs || handle == 0)
        return NULL;
    if (load_acquire(&cs->generation) != (uint32_t)(handle >> 32) ||
        load_acquire(&cs->state) != CHUNK_THREAD)
        return NULL;
    struct capri_thread *t = load_acquire(&cs->owner);
    /* Reaped meanwhile (a use of a handle racing its join): stale. */
    if (load_acquire(&cs->generation) != (uint32_t)(handle >> 32))
        return NULL;
    return t;
}

/* ---- spawn ---------------------------------------------------------------- */

static void thread_start(void *prev, void *a, void *b)
{
    (void)b;
    sched_after_switch(prev);
    struct capri_thread *self = a;
    tools_after_switch(self);
    self->graph_cycles = 0;
    thread_exit(self, self->fn(self->arg));
}

int capri_spawn(capri_t *out, void *(*fn)(void *), void *arg, const capri_attr_t *attr)
{
    int err = runtime_ensure();
    if (err)
        return err;
    if (!out || !fn)
        return EINVAL;
    unsigned cls = spawn_class(fn, attr);
    if (cls == CHUNK_CLASSES || cls >= CHUNK_ALL_CLASSES)
        return EINVAL;
    /* A name goes in the side record; most threads have none. */
    struct thread_extra *extra = NULL;
    if (attr && attr->name && attr->name[0]) {
        if (!(extra = calloc(1, sizeof *extra)))
            return ENOMEM;
        strncpy(extra->name, attr->name, THREAD_NAME_MAX - 1);
    }
    if (fetch_add_acq_rel(&capri_rt.live_threads, 1u) >= capri_rt.max_threads) {
        fetch_sub_acq_rel(&capri_rt.live_threads, 1u);
        free(extra);
        return EAGAIN;
    }
    struct capri_sched *s = sched_here();
    uint32_t slot;
    void *chunk = chunk_pool_take(s ? &s->chunks : NULL, cls, &slot);
    if (!chunk) {
        fetch_sub_acq_rel(&capri_rt.live_threads, 1u);
        free(extra);
        return ENOMEM;
    }
    size_t size = chunk_class_size(cls);
    bool dense = chunk_class_is_dense(cls);
    struct capri_thread *t = dense ? struct_place_dense(chunk, size) : struct_place(chunk, size, slot);
    thread_struct_init(t, (attr && attr->migratable ? THREAD_MIGRATABLE : 0) | (dense ? THREAD_DENSE : 0));
    t->fn = fn;
    t->arg = arg;
    t->chunk = chunk;
    t->chunk_cls = cls;
    t->run_state = THREAD_NEW;
    t->stack_lo = (uintptr_t)chunk;
    if (dense) {
        /* No guard below: the canary is what an overflow hits first, and
         * the stack starts above it (sched.c checks it at every switch). */
        thread_dense_canary_set(chunk);
        t->stack_lo += CHUNK_CANARY_ROOM;
    }
    t->stack_hi = (uintptr_t)t;
    t->limit = limit_for_stack(t->stack_lo);
    if (unlikely(__capri_limit_poison))
        verify_stacks_paint_first(t);
    if (attr && attr->detached)
        t->join = JOIN_DETACHED;
    t->extra = extra;
    t->sp = capri_arch_prepare(t, thread_start, t, NULL);
    capri_arch_set_limit(t->sp, t->limit);
    *out = handle_claim(t, slot);
    tools_thread_created(t);
    /* Every scheduler not hosted by the main thread gets its kernel thread
     * on the first spawn (all of them when a plain pthread started us). */
    if (!load_acquire(&capri_rt.started_scheds))
        grow_call_with_room(sched_start_all, START_ROOM);
    sched_submit_new(t);
    return 0;
}

/* ---- dense mode's overflow report --------------------------------------- */

static char *append_name(char *p, char *end, const struct capri_thread *t)
{
    const char *name = thread_name(t);
    for (size_t i = 0; i < THREAD_NAME_MAX && name[i] && p < end; i++) {
        char c = name[i];
        *p++ = c >= 0x20 && c < 0x7f && c != '"' ? c : '?';
    }
    return p;
}

/* Runs on a fresh chunk through __morestack, whose CFI links it back to the
 * overflowed thread's frames: the backtrace shows where that thread was
 * when it switched out, without writing further below its chunk. */
struct dense_overflow {
    struct capri_thread *t;
    void *switch_pc; /* where thread_dense_overflow returns to: the switch */
};

static void dense_overflow_trace(void *arg)
{
    const struct dense_overflow *o = arg;
    const struct capri_thread *t = o->t;
    char buf[512], *end = buf + sizeof buf - 1;
    char *p = log_append_place(log_append(buf, end, "  entry "), end, (const void *)t->fn);
    p = log_append(p, end, "; switched out in:\n");
    sys_write(2, buf, (size_t)(p - buf));
    void *frames[48];
    int n = backtrace(frames, 48), first = 0;
    /* From the frame that was switching on: this function, __morestack
     * and the report's own frame are not the thread's. */
    for (int i = 0; i < n; i++)
        if (frames[i] == o->switch_pc) {
            first = i;
            break;
        }
    backtrace_symbols_fd(frames + first, n - first, 2);
    if (n == 48) {
        static const char cut[] = "  (more frames not shown)\n";
        sys_write(2, cut, sizeof cut - 1);
    }
    abort();
}

__attribute__((noinline, cold)) _Noreturn void thread_dense_overflow(struct capri_thread *t)
{
    /* The first line goes out before anything that needs stack. */
    char buf[256], *end = buf + sizeof buf - 1;
    char *p = log_append(buf, end, "capri: stack overflow in thread ");
    p = log_append_u64(p, end, t->handle);
    p = append_name(log_append(p, end, " \""), end, t);
    p = log_append(p, end, "\": the canary at the bottom of its first chunk (");
    p = log_append_hex(p, end, (uintptr_t)t->chunk);
    p = log_append(p, end, ") was overwritten (dense mode: no guard page)\n");
    sys_write(2, buf, (size_t)(p - buf));
    struct dense_overflow o = {t, __builtin_return_address(0)};
    __morestack(dense_overflow_trace, &o, 32 * 1024);
    abort();
}

/* ---- exit, join, detach ------------------------------------------------- */

void thread_reap(struct capri_thread *t);
void thread_reap(struct capri_thread *t)
{
    /* A thread that ended on grown chunks (capri_exit, cancellation deep in
     * a recursion) still holds them: it is off its stacks now. */
    grow_release_all(t);
    tools_thread_destroyed(t);
    if (t->keys)
        keys_release(t);
    if (t->extra)
        thread_extra_release(t);
    struct chunk_slot *cs = chunk_slot_at(t->slot);
    uint32_t gen = cs->generation + 1;
    store_release(&cs->generation, gen ? gen : 1u);
    struct capri_sched *s = sched_here();
    chunk_pool_give(s ? &s->chunks : NULL, t->chunk, t->chunk_cls);
}

/* main's capri_exit: the process ends when the last capri thread has.
 * main's kernel thread goes on running scheduler 0; main itself ends like
 * any thread (it can be joined), its stack simply never runs again. */
static void main_exit_check(void)
{
    __atomic_store_n(&capri_rt.main_exited, 1u, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&capri_rt.live_threads, __ATOMIC_SEQ_CST) == 0)
        exit(0);
}

_Noreturn void thread_exit(struct capri_thread *self, void *result)
{
    if (self->flags & THREAD_FOREIGN) {
        cleanup_run_all(self); /* its keys' destructors run at pthread exit */
        pthread_exit(result);
    }
    self->flags |= THREAD_CANCEL_DISABLED;
    cleanup_run_all(self);
    if (self->keys)
        keys_run_destructors(self);
    if (unlikely(__capri_limit_poison) && !(self->flags & THREAD_MAIN))
        verify_stacks_check_first(self);
    thread_chunk_flush(self);
    if (self->flags & THREAD_MAIN)
        main_exit_check();
    self->result = result;
    uintptr_t old = load_acquire(&self->join);
    while (!cas_acq_rel(&self->join, &old, (uintptr_t)JOIN_EXITING | (old & JOIN_DETACHED)))
        ;
    struct capri_thread *joiner = (old & JOIN_BITS) ? NULL : (struct capri_thread *)old;
    sched_exit(self->sched, self, joiner);
}

void thread_test_cancel(struct capri_thread *self)
{
    if (unlikely(load_relaxed(&self->cancel_pending)) &&
        !(self->flags & (THREAD_CANCEL_DISABLED | THREAD_CANCELLING | THREAD_FOREIGN))) {
        self->flags |= THREAD_CANCELLING;
        thread_exit(self, CAPRI_CANCELED);
    }
}

/* Claims an exited thread for reaping (one claimant wins). */
static bool claim_exited(struct capri_thread *t)
{
    uintptr_t expected = JOIN_EXITED;
    return cas_acq_rel(&t->join, &expected, (uintptr_t)JOIN_DETACHED | JOIN_EXITED);
}

int capri_join(capri_t handle, void **result)
{
    SCHED_YIELD_ENTRY();
    int err = runtime_ensure();
    if (err)
        return err;
    struct capri_thread *self = thread_current();
    struct capri_thread *t = thread_from_handle(handle);
    if (!t)
        return ESRCH;
    if (t == self)
        return EDEADLK;
    for (;;) {
        uintptr_t old = load_acquire(&t->join);
        if (old & JOIN_DETACHED)
            return EINVAL;
        if (old == JOIN_EXITED) {
            if (!claim_exited(t))
                continue;
            if (result)
                *result = t->result;
            thread_reap(t);
            return 0;
        }
        if (old & JOIN_EXITING) {
            /* Its exit is being published right now on some kernel thread. */
            if (self->flags & THREAD_FOREIGN)
                sched_yield();
            else
                capri_yield();
            continue;
        }
        if (old != 0)
            return EINVAL; /* someone else is joining it */
        thread_test_cancel(self);
        uint32_t token = wait_prepare(self, NULL);
        t->join_token = token;
        uintptr_t expected = 0;
        if (!cas_acq_rel(&t->join, &expected, (uintptr_t)self))
            continue;
        if (!(self->flags & THREAD_FOREIGN))
            sched_run_next_if_new(self->sched, t);
        int why = wait_park(self, token, NULL, DEADLINE_NONE, true);
        if (why == WAKE_CANCELED) {
            /* Leave t joinable: withdraw unless it exited meanwhile. */
            expected = (uintptr_t)self;
            cas_acq_rel(&t->join, &expected, (uintptr_t)0);
            thread_test_cancel(self);
        }
    }
}

int capri_detach(capri_t handle)
{
    int err = runtime_ensure();
    if (err)
        return err;
    struct capri_thread *t = thread_from_handle(handle);
    if (!t)
        return ESRCH;
    uintptr_t old = load_acquire(&t->join);
    for (;;) {
        if (old & JOIN_DETACHED)
            return EINVAL;
        if (old == JOIN_EXITED) {
            if (claim_exited(t)) {
                thread_reap(t);
                return 0;
            }
            old = load_acquire(&t->join);
            continue;
        }
        if (old != 0 && !(old & JOIN_EXITING))
            return EINVAL; /* being joined */
        if (cas_acq_rel(&t->join, &old, old | JOIN_DETACHED))
            return 0;
    }
}

_Noreturn void capri_exit(void *result)
{
    if (runtime_ensure() != 0)
        pthread_exit(result);
    thread_exit(thread_current(), result);
}

capri_t capri_self(void)
{
    /* Like every call, the first one starts the runtime: main's handle is
     * valid from its first capri_self on. */
    if (runtime_ensure() != 0)
        return 0;
    struct capri_thread *t = thread_current();
    return t ? t->handle : 0;
}

/* ---- yield and sleep ---------------------------------------------------- */

static int sleep_until_deadline(uint64_t deadline)
{
    int err = runtime_ensure();
    if (err)
        return err;
    struct capri_thread *self = thread_current();
    thread_test_cancel(self);
    uint32_t token = wait_prepare(self, NULL);
    if (wait_park(self, token, NULL, deadline, true) == WAKE_CANCELED)
        thread_test_cancel(self);
    return 0;
}

int capri_sleep_ns(uint64_t ns)
{
    SCHED_YIELD_ENTRY();
    return sleep_until_deadline(clock_deadline_after(ns));
}

int capri_sleep_until(const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    int invalid;
    if (!abstime)
        return EINVAL;
    uint64_t deadline = clock_deadline_from_realtime(abstime, &invalid);
    return invalid ? EINVAL : sleep_until_deadline(deadline);
}

/* ---- the side record and names ------------------------------------------ */

/* main's struct is in the chunk arena, which LeakSanitizer does not scan,
 * and main is rarely reaped: a root it sees for main's side record. */
static struct thread_extra *main_extra_root;

struct thread_extra *thread_extra_get(struct capri_thread *t)
{
    struct thread_extra *e = load_acquire(&t->extra);
    if (e)
        return e;
    struct thread_extra *fresh = calloc(1, sizeof *fresh);
    if (!fresh)
        return NULL;
    /* Another kernel thread's capri_setname may install one meanwhile. */
    if (cas_acq_rel(&t->extra, &e, fresh))
        e = fresh;
    else
        free(fresh);
    /* Not t->flags: the thread itself writes that word meanwhile. */
    if (t == main_struct)
        main_extra_root = e;
    return e;
}

void thread_extra_release(struct capri_thread *t)
{
    free(t->extra);
    t->extra = NULL;
}

int capri_setname(capri_t handle, const char *name)
{
    struct capri_thread *t = thread_from_handle(handle);
    if (!t)
        return ESRCH;
    if (!name)
        return EINVAL;
    char buf[THREAD_NAME_MAX] = {0};
    strncpy(buf, name, THREAD_NAME_MAX - 1);
    /* No name yet and none given: nothing to allocate. */
    if (!buf[0] && !load_acquire(&t->extra))
        return 0;
    struct thread_extra *e = thread_extra_get(t);
    if (!e)
        return ENOMEM;
    memcpy(e->name, buf, THREAD_NAME_MAX);
    return 0;
}

int capri_getname(capri_t handle, char *buf, size_t len)
{
    struct capri_thread *t = thread_from_handle(handle);
    if (!t)
        return ESRCH;
    const char *name = thread_name(t);
    size_t n = strnlen(name, THREAD_NAME_MAX);
    if (!buf || len <= n)
        return ERANGE;
    memcpy(buf, name, n);
    buf[n] = 0;
    return 0;
}

int capri_pool_stats(struct capri_pool_stats *out)
{
    int err = runtime_ensure();
    if (err)
        return err;
    if (!out)
        return EINVAL;
    chunk_pool_stats_collect(out);
    return 0;
}

int capri_pool_dense_stats(struct capri_pool_dense_stats *out)
{
    int err = runtime_ensure();
    if (err)
        return err;
    if (!out)
        return EINVAL;
    chunk_pool_dense_stats_collect(out);
    return 0;
}
