/*
 * A capri thread: its struct, its states, and the wait token every
 * blocking primitive uses.
 *
 * The struct sits at the top of the thread's first chunk (CHUNK_THREAD in
 * the slot table); a spawn takes one chunk and nothing else (a name given
 * at spawn adds the side record, struct thread_extra). It is 256 bytes,
 * and in dense mode every byte of it is a byte of every thread's memory:
 * three cache lines of fields the thread's own scheduler uses, then one of
 * fields other kernel threads write (the wait token, the inbox link, the
 * join word), which also holds the pointers to what few threads use.
 */
#ifndef CAPRI_THREAD_H
#define CAPRI_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "thread_fifo.h"
#include "capri.h"
#include "chunk_pool.h"

struct capri_sched;

#define THREAD_CANARY 0x6361707269746864ull /* "capri thd" */
#define THREAD_NAME_MAX 16
#define THREAD_KEYS_FIRST 8 /* key slots of a thread's first key allocation */

/* Scheduling states (thread->run_state, written by the owner scheduler). */
enum thread_run_state {
    THREAD_NEW = 0,     /* never ran: may be stolen */
    THREAD_READY = 1,   /* in a queue */
    THREAD_RUNNING = 2,
    THREAD_BLOCKED = 3, /* parked on a wait token */
    THREAD_DEAD = 4,    /* finished; waiting to be reaped */
};

/* thread->flags (set at spawn or by the thread itself). */
enum {
    THREAD_MIGRATABLE = 1u << 0,
    THREAD_MAIN = 1u << 1,      /* the process's main thread, on its own stack */
    THREAD_SCHED_CTX = 1u << 2, /* a scheduler's own context */
    THREAD_FOREIGN = 1u << 3,   /* a kernel thread libcapri does not run (waits on a futex) */
    THREAD_CANCEL_DISABLED = 1u << 4,
    THREAD_CANCELLING = 1u << 5, /* cancellation is being acted on */
    THREAD_DENSE = 1u << 6,      /* its first chunk is dense: no guard, CHUNK_CANARY at its bottom */
};

/*
 * The wait token: one 32-bit word, (sequence << 4) | (reason << 2) | state.
 * A thread bumps the sequence and sets WAITING before it parks; every waker
 * (queue, timer, cancel, close) does one CAS from exactly that value to
 * WOKEN with its reason, and only the winner makes it ready. The reason is
 * in the word so the woken thread reads it with the state, and 32 bits so
 * foreign threads can futex-wait on it.
 */
#define TOKEN_IDLE 0u
#define TOKEN_WAITING 1u
#define TOKEN_WOKEN 2u
#define TOKEN_STATE(t) ((t)&3u)
#define TOKEN_REASON(t) (((t) >> 2) & 3u)
#define TOKEN_SEQ(t) ((t) >> 4)
#define TOKEN_WOKEN_BY(t, reason) (((t) & ~15u) | ((uint32_t)(reason) << 2) | TOKEN_WOKEN)

/* Why a wait ended. */
/* WAKE_INTERRUPTED: a signal handler ended the wait (intr.c); only the
 * interposed calls that link an intr_waiter see it. */
enum wake_reason { WAKE_INTERRUPTED = 0, WAKE_SIGNALED = 1, WAKE_TIMEOUT = 2, WAKE_CANCELED = 3 };

/* A thread's value for one key; the generation tells a value stored under
 * a deleted key from one stored under the key's new incarnation. */
struct key_value {
    void *value;
    uintptr_t generation;
};

/* A thread's key values (keys.c): allocated at its first
 * capri_setspecific, grown by doubling, freed when it is reaped. */
struct thread_keys {
    uintptr_t cap; /* entries in value[] */
    struct key_value value[];
};

/* What few threads use, out of line: allocated at the first use
 * (thread_extra_get), freed when the thread is reaped (thread_extra_release),
 * so a thread that never uses it costs no byte for it. */
struct thread_extra {
    char name[THREAD_NAME_MAX]; /* capri_setname, the spawn attribute's name */
    /* The thread's recorded sigaltstack (signal.c): altstack_size 0 if none. */
    void *altstack_sp;
    size_t altstack_size;
    uint32_t altstack_flags;
};

/* The join word (thread->join): 0, a joiner's struct pointer (aligned), or
 * these bits. */
#define JOIN_EXITING 1u
#define JOIN_EXITED 2u
#define JOIN_DETACHED 4u
#define JOIN_BITS 7u

struct capri_thread {
    /* Three cache lines (192 bytes) the thread's scheduler works with;
     * __morestack's hot case reads stack_lo to grow_depth, all in the
     * third, at grow.h's GROW_THREAD_* offsets. */
    uint64_t canary;
    void *sp;                  /* saved stack pointer while switched out */
    struct capri_sched *sched; /* the scheduler it runs on (owner) */
    struct capri_thread *next; /* run-queue / stealable-list link */
    struct capri_thread *prev; /* stealable-list link (O(1) removal) */
    uint32_t run_state;        /* enum thread_run_state */
    uint32_t flags;
    uint64_t ready_seq;   /* when it became ready on its scheduler (FIFO order) */
    uint32_t queue_;      /* which queue holds it: 0 none, 1 run queue, 2 stealable */
    uint32_t slot;        /* chunk slot of the first chunk; the handle's index */
    capri_t handle;
    void *(*fn)(void *);
    /* The blocking graph (graph.c) shares two words with fields whose
     * lifetimes do not overlap with its own: `arg` is read once, when the
     * thread starts (which zeroes graph_cycles), and `result` is written
     * once, after the thread's last park. */
    void *arg;
    union {
        void *result;
        uintptr_t graph_from;  /* the site it last parked at, 0: none yet */
    };
    void *chunk;          /* first chunk (lowest usable address) */
    uint32_t chunk_cls;
    int32_t heap_index;   /* position in the scheduler's timer heap, -1: none */
    uint64_t deadline;    /* timer key */
    union {
        /* Timer tie-break, insertion order: read only while the thread is
         * in its scheduler's timer heap (parked with a deadline). */
        uint64_t timer_seq;
        /* The blocking graph: cycles run since it left graph_from, across
         * preemptions and yields; live only while it runs or is runnable.
         * wait_park hands it to the graph before arming a timer, and a
         * resume zeroes it; even a clash would only reorder timers with the
         * same deadline. */
        uint64_t graph_cycles;
    };
    uint32_t timer_token; /* the token value the timer may wake */
    uint32_t join_token;  /* the token of the thread joining this one */
    struct capri_thread *exit_joiner; /* the joiner an exit must still wake */
    uintptr_t stack_lo, stack_hi; /* usable stack of the current chunk */
    void *cached_chunk;   /* the extra chunk it released last (thread_chunks.c) */
    uint32_t cached_slot;
    uint32_t cached_cls;
    uintptr_t limit;      /* the value of %fs:0x70 while it runs */
    uint16_t preempt;     /* a preemption request is pending (or deferred) */
    uint16_t plocks;      /* own: pthread locks held (preempt.c); sticks at its maximum */
    uint32_t grow_depth;  /* chunks linked above the first by stack growth (grow.c) */

    /* The last cache line, never shared with the fields above: those other
     * kernel threads write, then the thread's own that most threads never
     * use (written rarely, they add little to the line's traffic). */
    _Alignas(CACHE_LINE) uint32_t token;
    uint32_t cancel_pending;
    uint32_t cancel_token;            /* the token of a cancellable wait, or 0 */
    uint32_t valgrind_id;             /* own: its stack's valgrind registration (tools.c), or 0 */
    uintptr_t join;                   /* see JOIN_* */
    struct capri_thread *inbox_next;  /* scheduler inbox link */
    struct thread_extra *extra;       /* NULL or the side record; any kernel thread
                                       * may install it (capri_setname) */
    struct thread_keys *keys;         /* own: NULL until the first capri_setspecific */
    struct capri_cleanup *cleanup;    /* own: capri_cleanup_push's handlers */
    union {                           /* own: a sanitizer's fiber state (tools.c) */
        void *asan_fake_stack;        /* ASan: its fake stack, saved at a switch away */
        void *tsan_fiber;             /* TSan: its fiber */
    };
};
_Static_assert(sizeof(void *) == sizeof(uint64_t) && sizeof(void *) == sizeof(uintptr_t),
               "the graph's words share timer_seq and result (graph.h) without growing the struct");
_Static_assert(offsetof(struct capri_thread, token) == 3 * CACHE_LINE,
               "the fields other kernel threads write start the struct's last cache line");
_Static_assert(sizeof(struct capri_thread) == 4 * CACHE_LINE,
               "256 bytes: in dense mode every byte is a byte of every thread (docs/runtime-design.md)");

/* thread_fifo.h's operations. */
static inline void thread_fifo_push(struct thread_fifo *q, struct capri_thread *t)
{
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static inline void thread_fifo_push_front(struct thread_fifo *q, struct capri_thread *t)
{
    t->next = q->head;
    q->head = t;
    if (!q->tail)
        q->tail = t;
}

/* The first thread, taken off, or NULL when empty. */
static inline struct capri_thread *thread_fifo_pop(struct thread_fifo *q)
{
    struct capri_thread *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
    }
    return t;
}

/* Dense first chunks (THREAD_DENSE): CHUNK_CANARY_ROOM bytes at the
 * chunk's bottom hold two canary words, mixed with the chunk's address so
 * that a copy of another chunk's bottom does not pass. */
static inline uint64_t thread_dense_canary_value(const void *chunk)
{
    return CHUNK_CANARY ^ (uint64_t)(uintptr_t)chunk;
}
static inline void thread_dense_canary_set(void *chunk)
{
    uint64_t *w = chunk;
    w[0] = w[1] = thread_dense_canary_value(chunk);
}
static inline bool thread_dense_canary_intact(const struct capri_thread *t)
{
    const uint64_t *w = t->chunk;
    uint64_t v = thread_dense_canary_value(w);
    return ((w[0] ^ v) | (w[1] ^ v)) == 0;
}
/* libcapri's own stack use in a thread's first chunk, below the struct:
 * before the entry function runs, and in thread_exit after it returned
 * (thread.c sizes dense first chunks with them; test_dense checks the
 * first). */
#define THREAD_DENSE_ENTRY_FRAMES 64u
#define THREAD_DENSE_EXIT_FRAMES 256u
/* Reports an overwritten dense canary of t, the running thread, and aborts
 * (at a switch away from t). */
_Noreturn void thread_dense_overflow(struct capri_thread *t);

/* The thread running on this kernel thread: a capri thread, a scheduler
 * context, or the foreign-thread stand-in (THREAD_FOREIGN) of a kernel
 * thread libcapri does not run. Never NULL after runtime_ensure(). */
struct capri_thread *thread_current(void);

/* Sets the runtime up on first use (idempotent, cheap when done). 0 or an
 * errno value. */
int runtime_ensure(void);
/* For API calls that do nothing else with the thread: like every call, the
 * first one starts the runtime (its error is the call's). */
#define RUNTIME_ENSURE_OR_RETURN()                                                       \
    do {                                                                                 \
        int ensure_err_ = runtime_ensure();                                              \
        if (ensure_err_)                                                                 \
            return ensure_err_;                                                          \
    } while (0)

/* The struct of a handle, or NULL (stale, never valid, or not a thread). */
struct capri_thread *thread_from_handle(capri_t handle);

/* Ends the calling thread (cancellation and capri_exit). */
_Noreturn void thread_exit(struct capri_thread *self, void *result);

/* Acts on a pending cancellation if enabled: never returns then. */
void thread_test_cancel(struct capri_thread *self);

/* keys.c: run the destructors of a thread's keys (at exit). */
void keys_run_destructors(struct capri_thread *t);
void keys_release(struct capri_thread *t);

/* t's side record, allocated (zeroed) if it has none yet; NULL when that
 * allocation fails (the caller's ENOMEM). Any kernel thread may call it
 * for any live thread: the first record installed wins. */
struct thread_extra *thread_extra_get(struct capri_thread *t);
/* Frees t's side record (when t is reaped, or a foreign stand-in ends). */
void thread_extra_release(struct capri_thread *t);
/* t's name (NUL-terminated within THREAD_NAME_MAX bytes), "" if it has
 * none. It allocates nothing, and does not follow the pointer of a struct
 * whose canary is overwritten: the overflow reports use it. */
static inline const char *thread_name(const struct capri_thread *t)
{
    const struct thread_extra *e = load_acquire(&t->extra);
    return e && t->canary == THREAD_CANARY ? e->name : "";
}

/* thread_chunks.c: chunks beyond a thread's first (stack growth). The one
 * released last stays cached on the thread, so a call that crosses a chunk
 * boundary in a hot loop costs no pool operation; the cache goes back to
 * the pool when the thread blocks or ends, and only classes up to
 * THREAD_CACHED_CLASS_MAX are cached, so blocked threads hold no spare.
 * A chunk taken from the pool has the chunk field of the link record at
 * its top cleared (no record of this thread's yet); one released into the
 * cache by stack growth carries that thread's link record there (grow.c),
 * and nothing writes to it while it is cached: __morestack's hot case
 * (arch/x86_64.S) reuses the record's fixed part (kind, class, owner,
 * chunk, size, slot) when its chunk field is the chunk, and leaves a
 * chunk cached without one to the C half. */
#define THREAD_CACHED_CLASS_MAX 4 /* 64 KiB */
void *thread_chunk_take(struct capri_thread *t, unsigned cls, uint32_t *slot);
void thread_chunk_release(struct capri_thread *t, void *chunk, uint32_t slot, unsigned cls);
void thread_chunk_flush(struct capri_thread *t);

/* cancel.c: run and pop every cleanup handler (at cancellation/exit). */
void cleanup_run_all(struct capri_thread *t);

#endif
