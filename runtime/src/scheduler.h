/*
 * Schedulers: one per kernel thread. Each has
 *  - a run queue: FIFO of ready threads that have run (owner only, no lock);
 *  - a stealable list: FIFO of ready threads that may move (never ran, or
 *    migratable), doubly linked under a spinlock the owner and thieves take;
 *  - an inbox: threads made ready by other kernel threads, pushed with a CAS,
 *    taken whole by the owner with one exchange;
 *  - a timer heap, a chunk cache and its own context (stack) for idling.
 * Every ready thread gets a sequence number from its scheduler when it
 * becomes ready; the pick takes the lower of the two queue heads, so within
 * a scheduler threads run in the order they became ready.
 */
#ifndef CAPRI_SCHEDULER_H
#define CAPRI_SCHEDULER_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"
#include "chunk_pool.h"
#include "reactor.h"
#include "graph.h"
#include "grow.h"
#include "thread.h"
#include "timer.h"

/* What the next context runs right after a switch, on behalf of the thread
 * that switched away (which is then safely off its stack). */
enum post_action {
    POST_NONE = 0,
    POST_REQUEUE,  /* the previous thread yielded: make it ready again */
    POST_UNLOCK,   /* the previous thread blocked: release post_lock */
    POST_EXIT,     /* the previous thread ended: publish, wake the joiner or free */
};

enum sched_idle_state { SCHED_AWAKE = 0, SCHED_SLEEPING = 1 };

/* What the fields before grow_hot leave of GROW_SCHED_HOT bytes (checked
 * below; the scheduler context and the chunk cache come after grow_hot). */
#define SCHED_GROW_HOT_PAD 728

struct intr_waiter;

struct capri_sched {
    /* Owner-only, hot. */
    struct capri_thread *current;
    struct thread_fifo rq; /* the run queue */
    uint64_t ready_seq;
    uint32_t switches; /* for the cached clock */
    uint32_t index;
    uint64_t now;      /* cached CLOCK_MONOTONIC, refreshed every 64 switches and when idle */
    enum post_action post_action;
    unsigned *post_lock;
    uint32_t current_woken; /* the running thread was made ready before it blocked */
    struct capri_thread *runnext_seen; /* a victim's runnext seen by our last look */
    struct timer_heap timers;
    void *ctx_stack;
    size_t ctx_stack_size;
    uintptr_t *limit_word;   /* &%fs:0x70 of this kernel thread */
    pthread_t kthread;
    long tid;
    /* Keeps grow_hot where __morestack's hot case (arch/x86_64.S) reads it,
     * GROW_SCHED_HOT bytes in (the static assertion below says when the
     * fields above change size). */
    char grow_hot_pad_[SCHED_GROW_HOT_PAD];
    /* grow.c: 1 when __morestack's hot case may run on this kernel thread
     * (the reserve is taken, no tools, no chunk waits in the deferred
     * slot); one 64-bit word with in_handler for arch/x86_64.S. */
    uint32_t grow_hot;
    uint32_t in_handler;     /* signal handlers running (nesting count) */
    void *altstack;          /* signal.c */
    size_t altstack_size;
    uint32_t started;
    uint32_t launched;       /* its kernel thread was created (under start_lock) */
    uint32_t grow_reserve_busy; /* grow.c: the reserve chunk is in use (a handler grew) */
    void *grow_reserve;         /* grow.c: the chunk signal handlers grow onto, or NULL */
    /* intr.c: handlers run on this kernel thread (all, and those without
     * SA_RESTART), and the counts the scheduler last acted on. */
    uint32_t intr_any, intr_norestart;
    uint32_t intr_seen_any, intr_seen_norestart;
    /* Moved by every pick: the monitor's sign that the kernel thread is
     * not stuck in a system call (monitor.c). */
    uint32_t progress;
    /* preempt.c: threads preempted at the end of their time slice, picked
     * after the run queue and the stealable list (owner only), and the
     * picks since one was last taken first (aging). */
    uint32_t pq_age;
    struct thread_fifo pq; /* preempted threads (sched.c) */
    /* The cycle counter when the running thread was switched in: the
     * monitor preempts it a time slice later (monitor.c). */
    uint64_t run_tsc;
    /* A request from another kernel thread (the monitor) for the run whose
     * stamp is run_tsc | 1: it writes here, never into a thread struct,
     * which may have been freed and its memory reused since it looked. */
    uint64_t preempt_run;
    /* io_file.c: regular-file reads the page cache answered in the try
     * (capri_io_stats sums them; owner-only, so no shared line). */
    uint64_t file_cached;
    /* graph.c: the blocking graph's recording and the resource policy */
    struct graph_sched graph;
    struct chunk_cache chunks;
    struct capri_thread ctx; /* the scheduler's own context (idle loop) */
    /* reactor.c: descriptors, wakes and the next timer in one wait */
    struct reactor reactor;

    /* Shared with thieves. */
    _Alignas(CACHE_LINE) unsigned steal_lock;
    uint32_t steal_count;
    struct capri_thread *st_head, *st_tail;

    /* The thread spawned last, kept out of the stealable list so that a
     * spawn and join on one scheduler touch nothing thieves poll often;
     * thieves take it only when it sat there untouched between two of their
     * (rare) looks. A line of its own, away from steal_count, which thieves
     * read on every round. */
    _Alignas(CACHE_LINE) struct capri_thread *runnext;

    /* Shared with wakers. */
    _Alignas(CACHE_LINE) struct capri_thread *inbox;
    uint32_t idle_state; /* enum sched_idle_state */
    uint32_t idle_epoch; /* the futex word idle schedulers sleep on */

    /* intr.c: the parked calls a signal handler may end (parkers of this
     * scheduler link them; a migratable one may unlink from elsewhere). */
    _Alignas(CACHE_LINE) unsigned intr_lock;
    struct intr_waiter *intr_head;
};

_Static_assert(offsetof(struct capri_sched, grow_hot) == GROW_SCHED_HOT,
               "set SCHED_GROW_HOT_PAD to GROW_SCHED_HOT less the fields before it");

struct runtime {
    struct capri_sched *scheds;
    /* Schedulers in use; the monitor adds spares (up to sched_capacity,
     * the slots allocated at start-up, so the array never moves): read it
     * with load_acquire where a spare may be starting. */
    uint32_t nscheds;
    uint32_t sched_capacity;
    uint32_t spare_schedulers; /* 0: none (the monitor then only preempts) */
    uint64_t time_slice_ns;    /* 0: no preemption (monitor.c) */
    sigset_t sched_sigmask;    /* what scheduler kernel threads start with */
    uint32_t started_scheds;
    uint32_t live_threads;  /* capri threads spawned and not yet reaped/ended */
    uint32_t max_threads;
    uint32_t idle_count;    /* schedulers asleep */
    uint32_t spinning;      /* schedulers looking for work */
    uint32_t next_foreign;  /* round robin for spawns from foreign threads */
    uint32_t main_exited;   /* main called capri_exit */
    size_t stack_size;
    unsigned stack_cls;     /* the chunk class of stack_size */
    int guard;
    int dense;              /* dense mode: sub-page first chunks with canaries */
    unsigned start_lock;
};

extern struct runtime capri_rt __attribute__((visibility("hidden")));

/* The scheduler this kernel thread runs, or NULL for foreign threads.
 * Initial-exec TLS: one %fs-relative load, never a cached address. */
extern __thread struct capri_sched *capri_tls_sched __attribute__((visibility("hidden")));
static inline struct capri_sched *sched_here(void) { return capri_tls_sched; }

/* Starts the kernel thread of the next spare slot (the monitor): 0, or
 * EAGAIN when every slot is in use, or pthread_create's error. */
int sched_start_spare(void);
/* The monitor, for a scheduler stuck in the kernel (its pick count still
 * `progress`): the threads woken into its inbox that may move (migratable
 * or new, no timer in its heap, not its current thread) go to `to`'s
 * stealable list; the rest go back. */
void sched_relocate_inbox(struct capri_sched *stuck, struct capri_sched *to, uint32_t progress);
/* Starts the monitor thread once (monitor.c; not with 0 spares). */
void monitor_start(void);
/* A forked child: the monitor thread does not exist there. */
void monitor_forget_after_fork(void);

/* Makes t (blocked or new) ready on its scheduler: the run queue or the
 * stealable list when the caller is that scheduler, its inbox otherwise
 * (waking it if it sleeps). Foreign threads are woken on their futex. */
void sched_make_ready(struct capri_thread *t);

/* A new thread: onto the current scheduler's stealable list (or a
 * scheduler's inbox from a foreign thread). */
void sched_submit_new(struct capri_thread *t);

/* Switches the running thread out with its state already set (BLOCKED or
 * DEAD), releasing `lock` after the switch. Returns when resumed. */
void sched_block(struct capri_sched *s, struct capri_thread *self, unsigned *lock);
/* Exit: switches away for good (POST_EXIT), handing over to `joiner`
 * directly when it is set and on this scheduler. */
_Noreturn void sched_exit(struct capri_sched *s, struct capri_thread *self,
                          struct capri_thread *joiner);
/* A preemption (preempt.c): due timers fire, the reactor is polled (through
 * the scheduler's context), and self waits in the preempted queue, behind
 * every thread of the run queue and the stealable list (aging aside).
 * Returns when self runs again, at once if nothing else can run. */
void sched_preempted(struct capri_sched *s, struct capri_thread *self);
/* capri_yield's work: true if another thread ran. */
bool sched_yield_to_next(struct capri_sched *s, struct capri_thread *self);

/* If t never ran and waits in s's stealable list, takes it out and puts it
 * at the front of s's run queue (join runs it right away). */
bool sched_run_next_if_new(struct capri_sched *s, struct capri_thread *t);

/* Runs after every switch, in the resumed context, with the thread that
 * switched away. Returns the scheduler the resumed context is on. */
struct capri_sched *sched_after_switch(struct capri_thread *prev);

/* Timers of the current scheduler. */
int sched_timer_arm(struct capri_sched *s, struct capri_thread *t, uint64_t deadline);

/* Starts the scheduler kernel threads (first spawn). */
int sched_start_all(void);
/* Sets scheduler 0 up on the calling (main) thread. */
int sched_init_main(struct capri_sched *s, struct capri_thread *main_thread);

/* idle.c: sleeping until work or a deadline, and waking a sleeper. */
void sched_idle_wait(struct capri_sched *s, uint64_t deadline);
void sched_idle_wake(struct capri_sched *s);
/* Wakes some idle scheduler if none is looking for work already. */
void sched_wake_idle_one(void);

/* At the entry of each yield primitive (the blocking API, the interposers
 * through io_sched): takes and clears the site word, or names the call by
 * the primitive's return address (graph.h). A macro, so the address is the
 * primitive's own. */
#define SCHED_YIELD_ENTRY()                                                              \
    do {                                                                                 \
        struct capri_sched *ye_s_ = capri_tls_sched;                                     \
        if (!ye_s_ || !ye_s_->in_handler) /* a handler's call is not the thread's */     \
            graph_entry(ye_s_, ye_s_ ? &ye_s_->graph : NULL, __builtin_return_address(0)); \
    } while (0)

/* fork.c */
void fork_install(void);

#include "tools.h"

#endif
