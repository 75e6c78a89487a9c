/*
 * Linked stack growth, the runtime side (docs/stack-growth-design.md, "The
 * runtime: __morestack" and its revisions; docs/runtime-design.md, "Stack
 * growth (runtime side)"): __morestack in arch/x86_64.S runs a thunk on a
 * fresh chunk; grow.c is its C half.
 *
 * The link record sits at the top of every chunk __morestack switches to;
 * the thunk runs with its stack pointer just below it (the record's address
 * is 16-byte aligned). It says how to go back: __morestack's frame on the
 * caller's stack (read by the CFI, so unwinders step across chunks), the
 * limit word and the stack bounds before, and where the chunk came from.
 * The owner's stack_hi is the record's address while the chunk is the
 * current one, so the chain of records is reached from the owner alone.
 *
 * __morestack runs no C on the caller's stack, which a failed check may
 * have left with no room at all: it pushes its return address and rbp (and
 * once per kernel thread, to map the system stack, three more registers:
 * GROW_ENTRY_MARGIN in all) and switches to a level of the kernel thread's
 * system stack (struct grow_tls, below). Its hot case (a capri thread
 * taking its cached chunk again) needs no C at all and stays in the
 * assembly, which therefore knows some offsets of the scheduler and thread
 * structs too (below).
 *
 * This header is included by the assembly too (the offsets below).
 */
#ifndef CAPRI_GROW_H
#define CAPRI_GROW_H

/* struct grow_link, for arch/x86_64.S. (The hot return reads kind, cls,
 * owner_tls and tools as one 32-bit word, kind in its low byte.) */
#define GROW_LINK_FRAME 0
#define GROW_LINK_HOOKS 8
#define GROW_LINK_KIND 12
#define GROW_LINK_CLS 13
#define GROW_LINK_OWNER_TLS 14
#define GROW_LINK_TOOLS 15
#define GROW_LINK_THUNK 16
#define GROW_LINK_BLOCK 24
#define GROW_LINK_OLD_LIMIT 32
#define GROW_LINK_OLD_OWN_LIMIT 40
#define GROW_LINK_OLD_LO 48
#define GROW_LINK_OLD_HI 56
#define GROW_LINK_OWNER 64
#define GROW_LINK_CHUNK 72
#define GROW_LINK_SLOT 88
#define GROW_LINK_SIZE 128

/* capri_grow_tls (a struct grow_tls), for arch/x86_64.S. */
#define GROW_TLS_SYS_TOP 0
#define GROW_TLS_SYS_FLOOR 8
#define GROW_TLS_SYS_BASE 16
#define GROW_TLS_SYS_VALGRIND_ID 24
#define GROW_TLS_DEFERRED_CHUNK 88

/* What __morestack's hot case reads and writes outside the link record
 * (arch/x86_64.S; grow.c asserts every value against the C definitions):
 * struct capri_sched (scheduler.h), struct capri_thread (thread.h), the
 * limit word's values (limit.h) and the chunk classes (chunk_pool.h). */
#define GROW_SCHED_CURRENT 0
#define GROW_SCHED_HOT 872 /* grow_hot, then in_handler: 1 when the hot case may run */
#define GROW_THREAD_STACK_LO 144
#define GROW_THREAD_STACK_HI 152
#define GROW_THREAD_CACHED_CHUNK 160
#define GROW_THREAD_CACHED_SLOT 168
#define GROW_THREAD_CACHED_CLS 172
#define GROW_THREAD_LIMIT 176
#define GROW_THREAD_DEPTH 188
#define GROW_THREAD_CACHED_CLASS_MAX 4 /* THREAD_CACHED_CLASS_MAX */
#define GROW_LIMIT_PREEMPT_BIT 62      /* LIMIT_PREEMPT is 1 << this */
#define GROW_LIMIT_ABOVE_LO 304        /* limit_for_stack(lo) - lo */
#define GROW_CHUNK_MIN_SHIFT 12        /* CHUNK_MIN_SHIFT: class c has 4 KiB << c */

/* A flag in __morestack's `need` (far above any real need, so the hot case
 * leaves it to the C half): the call comes from __capri_loop_yield. */
#define GROW_NEED_LOOP_YIELD 0x8000000000000000

/* The new chunk's own use above the thunk's region: the link record and
 * the return address of the call to the thunk (rounded to keep the
 * alignment). A chunk of `size` bytes holds a need up to
 * size - GROW_FRAME - GROW_LIMIT_ABOVE_LO. */
#define GROW_FRAME (GROW_LINK_SIZE + 16)

/* A kernel thread's system stack: mapped (with a guard page below) the
 * first time __morestack runs on it, in levels of GROW_SYS_LEVEL bytes: a
 * signal handler that grows while the interrupted code is on the system
 * stack takes the next level down. */
#define GROW_SYS_SIZE (64 * 1024)
#define GROW_SYS_GUARD 4096
#define GROW_SYS_LEVEL (16 * 1024)

/* What __morestack uses of the caller's stack below the caller's stack
 * pointer, at most: the return address, rbp, and on a kernel thread's first
 * growth the call that maps its system stack with three saved registers.
 * The limit word must keep this much above the chunk's bottom on top of the
 * slack (the design's M). */
#define GROW_ENTRY_MARGIN 48

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capri_thread;
struct capri_sched;

/* The exported ABI (default visibility). See docs/runtime-design.md. */
void __morestack(void (*thunk)(void *), void *block, uint64_t need);
unsigned __capri_chunk_depth(void);
void __capri_stack_resync(unsigned depth);

/* Where a chunk came from, so it goes back the same way. */
enum grow_kind {
    GROW_KIND_THREAD = 0,  /* thread_chunk_take on the capri thread (its cache) */
    GROW_KIND_POOL = 1,    /* chunk_pool_take: a kernel thread libcapri does not run */
    GROW_KIND_RESERVE = 2, /* the scheduler's reserve (growth in a signal handler) */
    GROW_KIND_MAPPED = 3,  /* mmap: larger than the largest class, no pool memory, or a
                            * handler without a free reserve */
};

/* Work __morestack has capri_grow_hook do on the new chunk before the
 * thunk (link->hooks): what cannot run on the system stack. */
enum {
    GROW_HOOK_YIELD = 1u << 0, /* a preemption request: yield (the system stack
                                * is the kernel thread's, not the thread's) */
};

struct grow_link {
    uintptr_t frame;           /* __morestack's rbp on the caller's stack: CFA = frame + 16 */
    uint32_t hooks;            /* GROW_HOOK_* */
    uint8_t kind;              /* enum grow_kind */
    uint8_t cls;               /* the chunk's class (pool kinds) */
    uint8_t owner_tls;         /* owner is the kernel thread's struct grow_tls */
    uint8_t tools;             /* 1: the tools were told (leaving undoes it); 2: verify */
    void (*thunk)(void *);
    void *block;
    uintptr_t old_limit;       /* the limit word before */
    uintptr_t old_own_limit;   /* the owner's limit before (t->limit) */
    uintptr_t old_lo, old_hi;  /* the owner's stack bounds before */
    void *owner;               /* struct capri_thread, or struct grow_tls */
    void *chunk;               /* lowest usable address */
    size_t size;               /* usable bytes */
    uint32_t slot;             /* the chunk's slot (pool kinds) */
    uint32_t valgrind_id;
    struct capri_sched *reserve_of; /* GROW_KIND_RESERVE: whose */
    const void *asan_bottom;   /* ASan's idea of the stack before */
    size_t asan_size;
    uint8_t in_handler;        /* made in a signal handler */
    uint8_t verify;            /* painted: scan at the return (verify_stacks.h) */
    uint16_t pad_;
    uint32_t verify_allowed;   /* bytes below the record the region may use */
};

/* A chunk whose release waits until nothing runs on it (an unwind left
 * it: the unwinder itself still runs there). */
struct grow_deferred {
    void *chunk;
    size_t size;
    struct capri_sched *reserve_of;
    uint32_t valgrind_id;
    uint8_t kind, cls;
};

/* Per kernel thread (initial-exec TLS). */
struct grow_tls {
    uintptr_t sys_top;   /* the system stack's first free level's top; 0: not mapped */
    uintptr_t sys_floor; /* its lowest usable address */
    uintptr_t sys_base;  /* the mapping (guard page first) */
    uint64_t sys_valgrind_id; /* its valgrind stack id (registered when it is mapped) */
    /* The stack of whatever runs here that is not a capri thread (a plain
     * pthread, a scheduler's own context, main before the runtime). */
    uintptr_t lo, hi;    /* the current stack (hi: the link record when depth > 0) */
    uintptr_t limit;     /* the limit this kernel thread's growth set (0: none) */
    uint32_t depth;
    uint32_t derived;    /* lo/hi of its own stack are known */
    uint32_t key_set;    /* the exit destructor is registered */
    uint32_t alt_valgrind_id; /* the signal stack, registered with valgrind */
    uint32_t asan_stale;      /* ASan still takes the stack for a chunk a jump left */
    uintptr_t alt_registered; /* ... its base then */
    struct grow_deferred deferred;
};

extern __thread struct grow_tls capri_grow_tls __attribute__((visibility("hidden")));

_Static_assert(offsetof(struct grow_link, frame) == GROW_LINK_FRAME, "x86_64.S");
_Static_assert(offsetof(struct grow_link, hooks) == GROW_LINK_HOOKS, "x86_64.S");
_Static_assert(offsetof(struct grow_link, kind) == GROW_LINK_KIND, "x86_64.S");
_Static_assert(offsetof(struct grow_link, cls) == GROW_LINK_CLS, "x86_64.S");
_Static_assert(offsetof(struct grow_link, owner_tls) == GROW_LINK_OWNER_TLS, "x86_64.S");
_Static_assert(offsetof(struct grow_link, tools) == GROW_LINK_TOOLS, "x86_64.S");
_Static_assert(GROW_LINK_CLS == GROW_LINK_KIND + 1 && GROW_LINK_OWNER_TLS == GROW_LINK_KIND + 2 &&
                   GROW_LINK_TOOLS == GROW_LINK_KIND + 3,
               "x86_64.S: kind, cls, owner_tls and tools are one 32-bit word");
_Static_assert(offsetof(struct grow_link, thunk) == GROW_LINK_THUNK, "x86_64.S");
_Static_assert(offsetof(struct grow_link, block) == GROW_LINK_BLOCK, "x86_64.S");
_Static_assert(offsetof(struct grow_link, old_limit) == GROW_LINK_OLD_LIMIT, "x86_64.S");
_Static_assert(offsetof(struct grow_link, old_own_limit) == GROW_LINK_OLD_OWN_LIMIT, "x86_64.S");
_Static_assert(offsetof(struct grow_link, old_lo) == GROW_LINK_OLD_LO, "x86_64.S");
_Static_assert(offsetof(struct grow_link, old_hi) == GROW_LINK_OLD_HI, "x86_64.S");
_Static_assert(offsetof(struct grow_link, owner) == GROW_LINK_OWNER, "x86_64.S");
_Static_assert(offsetof(struct grow_link, chunk) == GROW_LINK_CHUNK, "x86_64.S");
_Static_assert(offsetof(struct grow_link, slot) == GROW_LINK_SLOT &&
                   sizeof(((struct grow_link *)0)->slot) == 4, "x86_64.S");
_Static_assert(GROW_KIND_THREAD == 0, "x86_64.S: the hot case's links have kind 0");
_Static_assert(sizeof(struct grow_link) == GROW_LINK_SIZE, "x86_64.S");
_Static_assert(GROW_LINK_SIZE % 16 == 0, "the thunk's stack must stay 16-byte aligned");
_Static_assert(offsetof(struct grow_tls, sys_top) == GROW_TLS_SYS_TOP, "x86_64.S");
_Static_assert(offsetof(struct grow_tls, sys_floor) == GROW_TLS_SYS_FLOOR, "x86_64.S");
_Static_assert(offsetof(struct grow_tls, sys_base) == GROW_TLS_SYS_BASE, "x86_64.S");
_Static_assert(offsetof(struct grow_tls, sys_valgrind_id) == GROW_TLS_SYS_VALGRIND_ID, "x86_64.S");
_Static_assert(offsetof(struct grow_tls, deferred.chunk) == GROW_TLS_DEFERRED_CHUNK, "x86_64.S");

/* The C half, called by __morestack only (hidden).
 * enter: on the system stack; writes the link record on the new chunk and
 *   returns it, or returns 0 when __morestack is to yield and run the thunk
 *   on the caller's stack (a preemption request, and the region fits), or 1
 *   to run it there without a yield (a request that waits, a spurious one,
 *   or __capri_loop_yield's, whose body yields).
 * hook: on the new chunk, when link->hooks is non-zero.
 * leave: on the system stack after the thunk returned, the chunk intact.
 * unwind: on the chunk, when an exception or a forced unwind leaves the
 *   thunk; returns exc for _Unwind_Resume (the chunk's release waits). */
uintptr_t capri_grow_enter(void (*thunk)(void *), void *block, uint64_t need, uintptr_t frame)
    __attribute__((visibility("hidden")));
void capri_grow_hook(struct grow_link *link) __attribute__((visibility("hidden")));
void capri_grow_leave(struct grow_link *link) __attribute__((visibility("hidden")));
void *capri_grow_unwind(struct grow_link *link, void *exc) __attribute__((visibility("hidden")));

/* Maps this kernel thread's system stack now if it is not (arch/x86_64.S):
 * a scheduler's, as it starts, so that __capri_loop_yield never has to. */
void capri_grow_sys_ensure(void) __attribute__((visibility("hidden")));

/* For the longjmp interposers: puts the running owner's stack right for a
 * jump to a frame whose stack pointer is sp (a setjmp the plugin did not
 * see, so no depth was saved): the chunks above the one holding sp go.
 * When no chunk of the chain holds sp, it is on the first stack (all go)
 * or on a signal stack (the growths made in handlers go). Called right
 * before the jump, on the owner's kernel thread: the chunk it runs on, if
 * it goes, is released at the next growth there (as after an unwind).
 * True when chunks went and sp lies on the stack that is current now (the
 * jump goes to an older chunk, wherever it lies in memory). */
bool grow_resync_to_sp(uintptr_t sp);

/* Gives back every chunk still linked to a thread that ended on one
 * (capri_exit or cancellation from a grown chunk): to be called once the
 * thread is off its stacks (the post-exit action or its reaping). */
void grow_release_all(struct capri_thread *t);

/* Releases the chunk an unwind or a longjmp left on this kernel thread, if
 * any: to be called where nothing can be running on it (after a switch
 * away from a thread that ended), so that a finished thread leaves no
 * chunk behind. */
void grow_flush_deferred(void);

/* Runs fn with at least `room` bytes of stack under the caller: here when
 * the limit word allows it, else on a chunk through __morestack, as a
 * checkpoint would. For libcapri's own deep paths that the plugin's marks
 * for its calls do not cover: the runtime's start-up, which the first call
 * into libcapri runs, wherever its caller's stack stands. Returns fn's
 * result. */
int grow_call_with_room(int (*fn)(void), size_t room);

#endif
#endif
