/*
 * capri: threads that cost what events cost.
 *
 * The public API of libcapri: user-level threads scheduled on one kernel
 * thread per CPU, their synchronisation, timers and configuration, and the
 * annotations the capri compiler plugin understands.
 *
 * Conventions (pthreads' error-checking semantics):
 *  - functions return 0 or an errno value; they never set errno and never
 *    abort on misuse;
 *  - mutexes, condition variables, rwlocks, semaphores (value 0) and once
 *    objects are ready to use when zero-initialised (a static
 *    `capri_mutex_t m;` works); a barrier needs capri_barrier_init (its
 *    count) and a channel capri_chan_create;
 *  - absolute deadlines (`abstime`) are CLOCK_REALTIME, as in pthreads;
 *    relative timeouts (`timeout_ns`) are measured on CLOCK_MONOTONIC;
 *  - no explicit initialisation: the first call sets the runtime up, and a
 *    plain main() that calls capri_spawn becomes a capri thread itself.
 *
 * docs/runtime.md is the reference for every call.
 */
#ifndef CAPRI_H
#define CAPRI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * CAPRI_RECURSION_BOUND(n): declare that at most n activations of this
 * function are on a thread's stack at once. The recursion cycle through the
 * function then gets a finite stack bound: n times the frames of every
 * function in the cycle, instead of "unbounded". The cycle must pass through
 * a bounded function on every loop (otherwise it stays unbounded).
 *
 *     CAPRI_RECURSION_BOUND(64) static int walk(struct node *n) { ... }
 *
 * Without the plugin the annotation has no effect.
 */
#define CAPRI_RECURSION_BOUND(n) __attribute__((annotate("capri.recursion_bound=" #n)))

/* ------------------------------------------------------------------ */
/* Threads                                                              */
/* ------------------------------------------------------------------ */

/* A thread handle: 64 bits, never reused while anyone could hold it
 * (a stale handle gets ESRCH). 0 is never a valid handle. */
typedef uint64_t capri_t;

/* Spawn attributes; a zeroed struct (or NULL) means the defaults. */
typedef struct capri_attr {
    const char *name;  /* thread name, copied (up to 15 bytes); NULL: none */
    size_t stack_size; /* first chunk in bytes, rounded up to a chunk class
                          (at most 2 MiB); 0: sized from what the entry
                          function needs before its first stack check when
                          capri metadata knows the function (built with the
                          plugin: usually 4 KiB), else the configured
                          default (CAPRI_CONFIG_STACK_SIZE, 64 KiB). Stacks
                          of code built with the plugin grow past it. */
    int detached;      /* nonzero: nobody joins; resources go at exit */
    int migratable;    /* nonzero: may move between kernel threads after it
                          has run. A promise: no errno or __thread address is
                          used across a blocking call or yield. */
} capri_attr_t;

/* The result capri_join reports for a cancelled thread. */
#define CAPRI_CANCELED ((void *)(intptr_t)-1)

/* Starts fn(arg) in a new thread. EAGAIN: the thread limit is reached;
 * ENOMEM: no stack memory, or none for attr's name; EINVAL: bad attribute. */
int capri_spawn(capri_t *thread, void *(*fn)(void *), void *arg, const capri_attr_t *attr);
/* Waits for a thread to end and reaps it. EDEADLK: joining yourself;
 * EINVAL: detached or already being joined; ESRCH: no such thread. */
int capri_join(capri_t thread, void **result);
int capri_detach(capri_t thread);
/* Lets every other ready thread of this scheduler run once (FIFO). A
 * cancellation point. */
void capri_yield(void);
/* Declares that the loop whose body calls it gets no loop yield point (the
 * plugin deletes the call; libcapri has an empty definition for builds
 * without the plugin). For short loops the plugin cannot prove short, in
 * code that must not be preempted: a preempted thread may wait a whole
 * time slice of every other thread on its scheduler. */
void capri_no_yield_here(void);
/* Ends the calling thread with a result. From main: the process exits
 * with status 0 when the last capri thread has ended. */
_Noreturn void capri_exit(void *result);
/* The calling capri thread, or 0 in a thread libcapri does not run. */
capri_t capri_self(void);
/* Sleeps (cancellation points). capri_sleep_until takes CLOCK_REALTIME. */
int capri_sleep_ns(uint64_t ns);
int capri_sleep_until(const struct timespec *abstime);
/* Waits until fd is ready for `events` (CAPRI_FD_READ, CAPRI_FD_WRITE, or
 * both) or until deadline_ns (CLOCK_MONOTONIC ns; -1: none). Returns the
 * events ready, with CAPRI_FD_HUP and CAPRI_FD_ERR added as poll reports
 * them, or a negative error number: -ETIMEDOUT, -EBADF (not open, or closed
 * while waiting), -ECANCELED (the thread was cancelled: the caller decides,
 * nothing is acted on), -EINVAL (unknown events), -EINTR. A capri thread
 * parks on its scheduler's reactor; any other thread waits in ppoll. */
enum { CAPRI_FD_READ = 1, CAPRI_FD_WRITE = 2, CAPRI_FD_HUP = 4, CAPRI_FD_ERR = 8 };
int capri_fd_wait(int fd, int events, int64_t deadline_ns);
/* Names (15 bytes + NUL, truncated). capri_setname: ENOMEM when the thread
 * has no name yet and no memory for one can be had. */
int capri_setname(capri_t thread, const char *name);
int capri_getname(capri_t thread, char *buf, size_t len);

/* Deferred cancellation: takes effect at the next cancellation point
 * (yield, sleeps, join, condition and semaphore waits, timed and untimed
 * channel operations, capri_testcancel; on a capri thread also sleep,
 * usleep, nanosleep and clock_nanosleep, and the interposed read, write,
 * recv, send, accept, connect, sendfile and their relatives when they wait
 * for their descriptor, not when they complete without waiting). The
 * thread runs its cleanup handlers and key destructors and ends with
 * CAPRI_CANCELED. Mutex locks are not cancellation points. */
int capri_cancel(capri_t thread);
void capri_testcancel(void);
#define CAPRI_CANCEL_ENABLE 0
#define CAPRI_CANCEL_DISABLE 1
int capri_setcancelstate(int state, int *oldstate);

struct capri_cleanup {
    void (*fn)(void *);
    void *arg;
    struct capri_cleanup *next;
};
void capri_cleanup_push_(struct capri_cleanup *c, void (*fn)(void *), void *arg);
void capri_cleanup_pop_(struct capri_cleanup *c, int execute);
/* Used in pairs in one block, like pthread_cleanup_push/pop. */
#define capri_cleanup_push(fn, arg)                                                      \
    do {                                                                                 \
        struct capri_cleanup capri_cleanup_frame_;                                       \
        capri_cleanup_push_(&capri_cleanup_frame_, (fn), (arg));
#define capri_cleanup_pop(execute)                                                       \
        capri_cleanup_pop_(&capri_cleanup_frame_, (execute));                            \
    } while (0)

/* Thread-local keys with destructors (run at thread exit, up to 4 rounds). */
typedef unsigned capri_key_t;
int capri_key_create(capri_key_t *key, void (*destructor)(void *));
int capri_key_delete(capri_key_t key);
void *capri_getspecific(capri_key_t key);
int capri_setspecific(capri_key_t key, const void *value);

/* ------------------------------------------------------------------ */
/* Configuration and statistics                                         */
/* ------------------------------------------------------------------ */

enum capri_config_key {
    CAPRI_CONFIG_SCHEDULERS = 1, /* kernel threads running capri threads (>= 1) */
    CAPRI_CONFIG_STACK_SIZE,     /* first chunk, bytes, of a thread spawned without
                                    stack_size whose entry function no capri metadata
                                    knows */
    CAPRI_CONFIG_GUARD,          /* 1: guard page under every page-class chunk; 0: none
                                    (same layout; an overflow writes into the chunk
                                    below). Dense mode is CAPRI_CONFIG_DENSE. */
    CAPRI_CONFIG_MAX_THREADS,    /* live thread limit (spawn returns EAGAIN past it) */
    CAPRI_CONFIG_DENSE,          /* 1: dense mode: first chunks in sub-page classes with
                                    no guard page, a canary at each one's bottom checked
                                    on every switch (docs/runtime.md) */
    CAPRI_CONFIG_SPARE_SCHEDULERS, /* schedulers the monitor may add when one is stuck in
                                      the kernel with threads that could run elsewhere
                                      (0 to 64, default 2; 0: none, the monitor
                                      thread then only preempts) */
    CAPRI_CONFIG_TIME_SLICE_US,    /* how long a thread runs before the monitor asks it to
                                      yield at its next loop yield point or checkpoint,
                                      in microseconds (0 to 10,000,000, default 10,000;
                                      0: no preemption) */
};
/* Before the runtime starts (before any other call): 0. After: EBUSY.
 * EINVAL for an unknown key or a value out of range. The same settings come
 * from the environment: CAPRI_SCHEDULERS, CAPRI_STACK_SIZE, CAPRI_GUARD,
 * CAPRI_MAX_THREADS, CAPRI_DENSE, CAPRI_SPARE_SCHEDULERS, CAPRI_TIME_SLICE_US
 * (capri_config calls win over the environment). */
int capri_config(enum capri_config_key key, long value);

#define CAPRI_CHUNK_CLASSES 10 /* 4 KiB << 0 .. 4 KiB << 9 (2 MiB) */
/* Dense mode's first chunks: class k has 512 + 64k bytes (512 to 4032). */
#define CAPRI_DENSE_CLASSES 56
#define CAPRI_DENSE_CLASS_SIZE(k) (512u + 64u * (unsigned)(k))
struct capri_pool_stats {
    uint64_t chunks_in_use[CAPRI_CHUNK_CLASSES];
    uint64_t chunks_free[CAPRI_CHUNK_CLASSES];
    uint64_t bytes_reserved; /* address space of the arena */
    uint64_t bytes_mapped;   /* address space carved into chunks */
    uint64_t bytes_released; /* given back to the kernel with MADV_DONTNEED */
    uint64_t depot_transfers;
    int guard_mode;          /* 2: MADV_GUARD_INSTALL, 1: mprotect, 0: none */
};
int capri_pool_stats(struct capri_pool_stats *out);
/* The dense classes' counts, the same way (apart, so that the struct above
 * keeps its size). */
struct capri_pool_dense_stats {
    uint64_t in_use[CAPRI_DENSE_CLASSES];
    uint64_t free[CAPRI_DENSE_CLASSES];
};
int capri_pool_dense_stats(struct capri_pool_dense_stats *out);

/* Regular-file reads on capri threads (docs/runtime.md, "Blocking
 * calls"): the tries the page cache answered; of the reads it could not
 * answer, how many went to a scheduler's io_uring and how many to the
 * thread pool (CAPRI_IO_URING=0 in the environment sends them all to the
 * pool), how many were cancelled while in flight; and the pool's kernel
 * threads. Counts since the start (a forked child keeps its parent's). */
struct capri_io_stats {
    uint64_t file_ring;
    uint64_t file_pool;
    uint64_t file_cancels;
    uint64_t file_cached;
    uint32_t pool_threads;
    int uring; /* 1: rings are used (not switched off, not refused so far) */
};
int capri_io_stats(struct capri_io_stats *out);

/* ------------------------------------------------------------------ */
/* The blocking graph and location-aware scheduling (docs/runtime.md).  */
/* ------------------------------------------------------------------ */

/* Writes the blocking graph (yield sites, the transitions between them
 * with counts and average times, threads waiting at each) to fd, from any
 * thread. 0, EINVAL, ENOTSUP (recording is off) or the write's errno. */
#define CAPRI_GRAPH_JSON 0
#define CAPRI_GRAPH_DOT 1
int capri_blocking_graph_dump(int fd, int format);

/* Resources the program tracks for CAPRI_SCHEDULER=resource, ids 0-3:
 * add what a thread took (delta > 0) or gave back (delta < 0); a limit
 * (0: none) above 3/4 of which the resource counts as scarce. EINVAL for
 * another id. capri_resource_count sums a resource over the schedulers
 * (ids 4 and 5: descriptors and stack chunk bytes libcapri counts). */
int capri_resource_add(int id, long delta);
int capri_resource_limit(int id, long max);
long capri_resource_count(int id);

/* ------------------------------------------------------------------ */
/* Synchronisation (see the conventions at the top for zero-init).      */
/* ------------------------------------------------------------------ */

/* An intrusive FIFO of waiters under a small lock (internal). */
struct capri_waitq_ {
    void *head;
    void *tail;
    unsigned lock;
    unsigned pad_;
};

typedef struct capri_mutex {
    uintptr_t word; /* owner thread | waiter bit */
    struct capri_waitq_ q;
} capri_mutex_t;
int capri_mutex_init(capri_mutex_t *m);
int capri_mutex_destroy(capri_mutex_t *m); /* EBUSY when locked */
int capri_mutex_lock(capri_mutex_t *m);    /* EDEADLK when the caller holds it */
int capri_mutex_trylock(capri_mutex_t *m); /* EBUSY */
int capri_mutex_timedlock(capri_mutex_t *m, const struct timespec *abstime); /* ETIMEDOUT */
int capri_mutex_unlock(capri_mutex_t *m);  /* EPERM when the caller does not hold it */

typedef struct capri_cond {
    struct capri_waitq_ q;
    unsigned waiters; /* threads that may still touch it (queued or being woken) */
    unsigned pad_;
} capri_cond_t;
int capri_cond_init(capri_cond_t *c);
int capri_cond_destroy(capri_cond_t *c); /* EBUSY with waiters */
int capri_cond_wait(capri_cond_t *c, capri_mutex_t *m);
int capri_cond_timedwait(capri_cond_t *c, capri_mutex_t *m, const struct timespec *abstime);
int capri_cond_signal(capri_cond_t *c);
int capri_cond_broadcast(capri_cond_t *c);

/* Writer-preferring: a thread that takes a second read lock while a writer
 * waits deadlocks, as with pthreads' writer-preferring rwlocks. */
typedef struct capri_rwlock {
    uintptr_t word; /* readers << 2 | waiter bit | writer bit */
    uintptr_t writer; /* the write owner */
    unsigned waiting_writers;
    unsigned pad_;
    struct capri_waitq_ readers;
    struct capri_waitq_ writers;
} capri_rwlock_t;
int capri_rwlock_init(capri_rwlock_t *rw);
int capri_rwlock_destroy(capri_rwlock_t *rw);
int capri_rwlock_rdlock(capri_rwlock_t *rw);
int capri_rwlock_tryrdlock(capri_rwlock_t *rw);
int capri_rwlock_timedrdlock(capri_rwlock_t *rw, const struct timespec *abstime);
int capri_rwlock_wrlock(capri_rwlock_t *rw);
int capri_rwlock_trywrlock(capri_rwlock_t *rw);
int capri_rwlock_timedwrlock(capri_rwlock_t *rw, const struct timespec *abstime);
int capri_rwlock_unlock(capri_rwlock_t *rw);

typedef struct capri_sem {
    uintptr_t value; /* count << 1 | waiter bit; the count is at most INT_MAX */
    struct capri_waitq_ q;
    unsigned waiters; /* threads that may still touch it (queued or being woken) */
    unsigned pad_;
} capri_sem_t;
int capri_sem_init(capri_sem_t *s, unsigned value);
int capri_sem_destroy(capri_sem_t *s);
int capri_sem_wait(capri_sem_t *s);
int capri_sem_trywait(capri_sem_t *s); /* EAGAIN */
int capri_sem_timedwait(capri_sem_t *s, const struct timespec *abstime);
int capri_sem_post(capri_sem_t *s);    /* EOVERFLOW */
int capri_sem_getvalue(capri_sem_t *s, int *value);

typedef struct capri_once {
    uintptr_t state;
    struct capri_waitq_ q;
} capri_once_t;
#define CAPRI_ONCE_INIT {0, {0, 0, 0, 0}}
/* Concurrent callers wait until fn has returned (not a cancellation point).
 * If fn does not return (cancelled, capri_exit), a waiting caller runs it
 * again. EDEADLK: fn calls capri_once on its own object. */
int capri_once(capri_once_t *once, void (*fn)(void));

typedef struct capri_barrier {
    unsigned count;
    unsigned arrived;
    uintptr_t generation;
    struct capri_waitq_ q;
} capri_barrier_t;
#define CAPRI_BARRIER_SERIAL_THREAD (-1)
int capri_barrier_init(capri_barrier_t *b, unsigned count); /* EINVAL for 0 */
int capri_barrier_destroy(capri_barrier_t *b);
int capri_barrier_wait(capri_barrier_t *b); /* one caller gets CAPRI_BARRIER_SERIAL_THREAD */

/* A bounded channel of fixed-size elements; capacity 0 is a rendezvous.
 * send/recv on a closed channel: EPIPE (recv drains buffered elements
 * first). timeout_ns: ETIMEDOUT. */
typedef struct capri_chan *capri_chan_t;
int capri_chan_create(capri_chan_t *ch, size_t elem_size, size_t capacity);
int capri_chan_destroy(capri_chan_t ch); /* EBUSY with waiters */
int capri_chan_send(capri_chan_t ch, const void *elem);
int capri_chan_recv(capri_chan_t ch, void *elem);
int capri_chan_send_timed(capri_chan_t ch, const void *elem, uint64_t timeout_ns);
int capri_chan_recv_timed(capri_chan_t ch, void *elem, uint64_t timeout_ns);
int capri_chan_close(capri_chan_t ch); /* EPIPE when already closed */

#ifdef __cplusplus
}
#endif

#endif
