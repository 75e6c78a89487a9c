/*
 * The pool of kernel threads that runs file reads without io_uring
 * (io_pool.h).
 *
 * It works as the ring does: a capri thread queues its read and parks; a
 * worker runs it and hands the result back to the scheduler the read came
 * from, through a list and an eventfd in that scheduler's epoll; the
 * scheduler, in reactor_poll, marks the reads done and wakes their
 * threads, under its port's lock (io_op.h's protocol: the waiter holds
 * the same lock until it has switched out). So the workers never take a
 * lock a parked thread holds, and the lock they do share, the queue's, is
 * held for a few instructions and never across a system call: 64 workers
 * spinning on a lock whose holder was preempted would otherwise take the
 * CPUs from it (measured: 1,000 reads/s instead of 80,000 with one lock
 * for everything on 2 CPUs).
 *
 * Workers sleep on a futex; a manager thread starts them (4, then one
 * more each time a read finds every worker busy, up to 64), so that
 * pthread_create runs on the manager's stack, and the manager's own on a
 * scheduler's (io_pool_serve), never on a capri thread's.
 */
#include "io_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "io_file.h"
#include "pthread_wrap.h"
#include "reactor.h"
#include "scheduler.h"
#include "sys.h"

uint32_t io_pool_start_wanted;

/* Where a scheduler's reads come back. */
struct pool_port {
    unsigned lock;          /* completion of its reads (io_op.h) */
    int efd;                /* in the scheduler's epoll, IO_POOL_DATA; 0: none yet */
    struct io_op *finished; /* pushed by workers, taken whole by the scheduler */
};

static struct {
    unsigned lock; /* the queue and the counts: a few instructions at a time */
    struct io_op *head, *tail;
    uint32_t queued;      /* in the queue */
    uint32_t idle;        /* workers asleep on work_seq */
    uint32_t threads;     /* workers started */
    uint32_t want;        /* workers the manager is asked to have */
    uint32_t work_seq;    /* futex: new work for workers */
    uint32_t manager_seq; /* futex: a new `want` for the manager */
    uint32_t started;     /* the manager exists (or is asked for) */
} pool;

/* ports[s->index], made once, sized for the scheduler array. */
static struct pool_port *ports;
static uint32_t ports_len;

#define POOL_STACK (64 * 1024)

/* The queue lock, taken by scheduler threads and by up to 64 workers on
 * perhaps 2 CPUs: spin briefly, then let the holder run. */
static void queue_lock(void)
{
    for (int i = 0; !spin_trylock(&pool.lock); i++) {
        if (i < 64)
            cpu_relax();
        else
            sys_call6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    }
}

static void queue_unlock(void) { spin_unlock(&pool.lock); }

/* Starts a thread with every signal blocked: the program's signals are
 * for its own threads (glibc keeps its internal ones unblocked). */
static int start_blocked(void *(*fn)(void *))
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, POOL_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = pthread_create_plain(&t, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static long run_op(const struct io_op *op)
{
    return sys_call6(op->write ? SYS_pwritev2 : SYS_preadv2, op->fd, (long)op->iov, op->iovcnt,
                     (long)op->off, (long)op->off == -1 ? -1 : 0, op->rw_flags);
}

/* A worker hands a result to the read's scheduler: the eventfd is written
 * only when the list was empty (the scheduler takes the list whole, so
 * each write is for a list it has not taken yet). */
static void finish(struct io_op *op, long res)
{
    struct pool_port *port = op->port;
    op->res = (int32_t)res;
    struct io_op *old = load_relaxed(&port->finished);
    do {
        op->next = old;
        tsan_release(&port->finished); /* the edge TSan may not see (atomic.h) */
    } while (!__atomic_compare_exchange_n(&port->finished, &old, op, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    if (!old) {
        uint64_t one = 1;
        sys_write(port->efd, &one, sizeof one);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        queue_lock();
        while (!pool.head) {
            uint32_t seq = pool.work_seq;
            pool.idle++;
            queue_unlock();
            sys_futex_wait(&pool.work_seq, seq, NULL);
            queue_lock();
            pool.idle--;
        }
        struct io_op *op = pool.head;
        pool.head = op->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.queued--;
        store_relaxed(&op->started, 1u);
        queue_unlock();
        finish(op, run_op(op));
    }
}

static void *manager(void *arg)
{
    (void)arg;
    for (;;) {
        queue_lock();
        uint32_t seq = pool.manager_seq;
        bool more = pool.threads < pool.want;
        if (more)
            pool.threads++;
        queue_unlock();
        if (!more) {
            sys_futex_wait(&pool.manager_seq, seq, NULL);
            continue;
        }
        if (start_blocked(worker) != 0) {
            /* Out of threads: the ones there are will do. */
            queue_lock();
            pool.threads--;
            pool.want = pool.threads;
            queue_unlock();
        }
    }
}

/* s's port, made on the first read of one of its threads; NULL without
 * an eventfd (the caller then reads itself). */
static struct pool_port *port_of(struct capri_sched *s)
{
    struct pool_port *arr = load_acquire(&ports);
    if (!arr) {
        /* Every scheduler there may ever be, spares included. */
        uint32_t n = capri_rt.sched_capacity;
        long m = sys_call6(SYS_mmap, 0, (long)(n * sizeof *arr), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m < 0)
            return NULL;
        /* The length before the array (every racer stores the same). */
        store_relaxed(&ports_len, n);
        struct pool_port *expected = NULL;
        if (cas_acq_rel(&ports, &expected, (struct pool_port *)m)) {
            arr = (struct pool_port *)m;
        } else {
            sys_call6(SYS_munmap, m, (long)(n * sizeof *arr), 0, 0, 0, 0);
            arr = expected;
        }
    }
    if (s->index >= load_relaxed(&ports_len))
        return NULL;
    struct pool_port *port = &arr[s->index];
    if (likely(load_acquire(&port->efd) > 0))
        return port;
    /* Only threads running on s get here for s. */
    long efd = sys_call6(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
    if (efd < 0)
        return NULL;
    struct reactor_event ev = { EPOLLIN | EPOLLET, IO_POOL_DATA };
    if (sys_call6(SYS_epoll_ctl, s->reactor.epfd, EPOLL_CTL_ADD, efd, (long)&ev, 0, 0) != 0) {
        sys_call6(SYS_close, efd, 0, 0, 0, 0, 0);
        return NULL;
    }
    /* A busy scheduler polls only when it has registrations. */
    s->reactor.registrations++;
    store_release(&port->efd, (int)efd);
    return port;
}

void io_pool_reap(struct capri_sched *s)
{
    struct pool_port *arr = load_acquire(&ports);
    if (!arr || s->index >= load_relaxed(&ports_len))
        return;
    struct pool_port *port = &arr[s->index];
    if (!load_relaxed(&port->finished))
        return;
    struct io_op *list = exchange_acq_rel(&port->finished, (struct io_op *)NULL);
    spin_lock(&port->lock);
    while (list) {
        struct io_op *next = list->next;
        io_op_complete_locked(list, list->res);
        list = next;
    }
    spin_unlock(&port->lock);
}

/* Asks for the manager. pthread_create takes some 4 KiB of stack, more
 * than an interposed call may use on a capri thread
 * (passes/RuntimeStackMarks.def), so the scheduler's own context starts it
 * (io_pool_serve, from reactor_poll) while the first read waits queued. */
static void pool_request(void)
{
    if (likely(load_acquire(&pool.started)))
        return;
    uint32_t expected = 0;
    if (!cas_acq_rel(&pool.started, &expected, 1u))
        return;
    queue_lock();
    if (pool.want < IO_POOL_MIN)
        pool.want = IO_POOL_MIN;
    queue_unlock();
    store_release(&io_pool_start_wanted, 1u);
}

void io_pool_serve(void)
{
    if (exchange_acq_rel(&io_pool_start_wanted, 0u) == 0)
        return;
    if (start_blocked(manager) == 0)
        return;
    /* No thread: the reads queued so far run here, blocking this
     * scheduler, and the next read asks again. */
    for (;;) {
        queue_lock();
        struct io_op *op = pool.head;
        if (op) {
            pool.head = op->next;
            if (!pool.head)
                pool.tail = NULL;
            pool.queued--;
            store_relaxed(&op->started, 1u);
        } else {
            store_release(&pool.started, 0u);
        }
        queue_unlock();
        if (!op)
            return;
        finish(op, run_op(op));
    }
}

static void pool_cancel(void *arg, struct io_op *op)
{
    struct pool_port *port = arg;
    bool dequeued = false;
    queue_lock();
    if (!load_relaxed(&op->started)) {
        /* Still queued: it never runs. */
        struct io_op **p = &pool.head, *prev = NULL;
        while (*p && *p != op) {
            prev = *p;
            p = &(*p)->next;
        }
        if (*p) {
            *p = op->next;
            if (pool.tail == op)
                pool.tail = prev;
            pool.queued--;
            dequeued = true;
        }
    }
    queue_unlock();
    if (dequeued) {
        spin_lock(&port->lock);
        op->res = -ECANCELED;
        store_release(&op->done, 1u);
        spin_unlock(&port->lock);
    }
    /* Taken: a regular file's read ends on its own (a signal would not
     * shorten a local file's I/O, which sleeps uninterruptibly), and the
     * caller waits for it. */
    fetch_add_relaxed(&io_counters.cancels, 1u);
}

int io_pool_run(struct io_op *op, bool *cancelled)
{
    struct capri_sched *s = sched_here();
    struct pool_port *port = port_of(s);
    if (!port)
        return EAGAIN;
    pool_request();
    op->done = 0;
    op->started = 0;
    op->next = NULL;
    op->port = port;
    /* The port's lock from here until the thread has switched out: the
     * scheduler that completes the read is this one, after the switch, or
     * (the thread having moved) one that must not wake it early. */
    spin_lock(&port->lock);
    queue_lock();
    if (pool.tail)
        pool.tail->next = op;
    else
        pool.head = op;
    pool.tail = op;
    pool.queued++;
    bool wake = pool.idle > 0;
    if (wake)
        pool.work_seq++;
    /* More reads waiting than workers free or on their way: one more. */
    bool grow = pool.queued > pool.idle + (pool.want - pool.threads) && pool.want < IO_POOL_MAX;
    if (grow) {
        pool.want++;
        pool.manager_seq++;
    }
    queue_unlock();
    if (wake)
        sys_futex_wake(&pool.work_seq, 1);
    if (grow)
        sys_futex_wake(&pool.manager_seq, 1);
    fetch_add_relaxed(&io_counters.pool, 1u);
    *cancelled = io_op_wait(s->current, op, &port->lock, pool_cancel, port);
    return 0;
}

unsigned io_pool_threads(void)
{
    queue_lock();
    unsigned n = pool.threads;
    queue_unlock();
    return n;
}

void io_pool_after_fork(void)
{
    /* The workers and the manager are the parent's; so are the reads
     * queued, whose threads do not exist here, and the ports' eventfds,
     * registered with epoll instances the child replaces. */
    pool.lock = 0;
    pool.head = pool.tail = NULL;
    pool.queued = pool.idle = pool.threads = pool.want = 0;
    pool.work_seq = pool.manager_seq = 0;
    pool.started = 0;
    io_pool_start_wanted = 0;
    for (uint32_t i = 0; ports && i < ports_len; i++) {
        if (ports[i].efd > 0)
            sys_call6(SYS_close, ports[i].efd, 0, 0, 0, 0, 0);
        ports[i].efd = 0;
        ports[i].lock = 0;
        ports[i].finished = NULL;
    }
}

int io_pool_next_own_fd(unsigned from)
{
    long best = -1;
    struct pool_port *all = load_acquire(&ports);
    uint32_t n = all ? load_acquire(&ports_len) : 0;
    for (uint32_t i = 0; i < n; i++) {
        int efd = load_acquire(&all[i].efd);
        if (efd > 0 && (unsigned)efd >= from && (best < 0 || efd < best))
            best = efd;
    }
    return (int)best;
}
