/*
 * The pool of kernel threads that runs file reads without io_uring
 * (io_pool.h).
 *
 * One lock guards the queue, the counts and every operation's completion
 * (io_op.h): a submitter holds it from queuing until it has switched out,
 * so a worker on another kernel thread never makes ready a thread that is
 * still running. Workers sleep on a futex; a manager thread starts them
 * (4, then one more each time a read finds every worker busy, up to 64),
 * so that pthread_create runs on the manager's stack, and the manager's
 * own on a scheduler's (io_pool_serve), never on a capri thread's.
 */
#include "io_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

#include "io_file.h"
#include "pthread_wrap.h"
#include "scheduler.h"
#include "sys.h"

uint32_t io_pool_start_wanted;

static struct {
    unsigned lock;
    struct io_op *head, *tail; /* not yet taken by a worker */
    uint32_t queued;
    uint32_t idle;        /* workers asleep on work_seq */
    uint32_t threads;     /* workers started */
    uint32_t want;        /* workers the manager is asked to have */
    uint32_t work_seq;    /* futex: new work for workers */
    uint32_t manager_seq; /* futex: a new `want` for the manager */
    uint32_t started;     /* the manager exists (or is being made) */
} pool;

#define POOL_STACK (64 * 1024)

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

static void *worker(void *arg)
{
    (void)arg;
    spin_lock(&pool.lock);
    for (;;) {
        while (!pool.head) {
            uint32_t seq = pool.work_seq;
            pool.idle++;
            spin_unlock(&pool.lock);
            sys_futex_wait(&pool.work_seq, seq, NULL);
            spin_lock(&pool.lock);
            pool.idle--;
        }
        struct io_op *op = pool.head;
        pool.head = op->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.queued--;
        op->started = 1;
        spin_unlock(&pool.lock);
        long res = run_op(op);
        spin_lock(&pool.lock);
        io_op_complete_locked(op, (int32_t)res);
    }
}

static void *manager(void *arg)
{
    (void)arg;
    spin_lock(&pool.lock);
    for (;;) {
        while (pool.threads < pool.want) {
            pool.threads++;
            spin_unlock(&pool.lock);
            int err = start_blocked(worker);
            spin_lock(&pool.lock);
            if (err) {
                /* Out of threads: the ones there are will do. */
                pool.threads--;
                pool.want = pool.threads;
                break;
            }
        }
        uint32_t seq = pool.manager_seq;
        spin_unlock(&pool.lock);
        sys_futex_wait(&pool.manager_seq, seq, NULL);
        spin_lock(&pool.lock);
    }
}

/* Asks the manager for one more worker (pool lock held). */
static void grow_locked(void)
{
    if (pool.want >= IO_POOL_MAX)
        return;
    pool.want++;
    pool.manager_seq++;
    sys_futex_wake(&pool.manager_seq, 1);
}

/* Starts the manager. pthread_create takes some 4 KiB of stack, more than
 * an interposed call may use on a capri thread (passes/RuntimeStackMarks.def),
 * so the first read asks and the scheduler's own context starts it
 * (io_pool_serve, from reactor_poll); the read waits in the queue. */
static void pool_request(struct capri_sched *s)
{
    if (likely(load_acquire(&pool.started)))
        return;
    uint32_t expected = 0;
    if (!cas_acq_rel(&pool.started, &expected, 1u))
        return;
    spin_lock(&pool.lock);
    if (pool.want < IO_POOL_MIN)
        pool.want = IO_POOL_MIN;
    spin_unlock(&pool.lock);
    /* A busy scheduler polls only when it has registrations: this makes
     * it poll (every 64 blocks) as an idle one does at once. */
    s->reactor.registrations++;
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
    spin_lock(&pool.lock);
    while (pool.head) {
        struct io_op *op = pool.head;
        pool.head = op->next;
        if (!pool.head)
            pool.tail = NULL;
        pool.queued--;
        op->started = 1;
        io_op_complete_locked(op, (int32_t)run_op(op));
    }
    store_release(&pool.started, 0u);
    spin_unlock(&pool.lock);
}

static void pool_cancel(void *arg, struct io_op *op)
{
    (void)arg;
    spin_lock(&pool.lock);
    if (!op->started && !op->done) {
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
        }
        op->res = -ECANCELED;
        store_release(&op->done, 1u);
    }
    /* Taken: a regular file's read ends on its own (a signal would not
     * shorten a local file's I/O, which sleeps uninterruptibly), and the
     * caller waits for it. */
    spin_unlock(&pool.lock);
    fetch_add_relaxed(&io_counters.cancels, 1u);
}

int io_pool_run(struct io_op *op, bool *cancelled)
{
    struct capri_sched *s = sched_here();
    pool_request(s);
    op->done = 0;
    op->started = 0;
    op->next = NULL;
    spin_lock(&pool.lock);
    if (pool.tail)
        pool.tail->next = op;
    else
        pool.head = op;
    pool.tail = op;
    pool.queued++;
    if (pool.idle > 0) {
        pool.work_seq++;
        sys_futex_wake(&pool.work_seq, 1);
    }
    /* More reads waiting than workers free or on their way: one more. */
    if (pool.queued > pool.idle + (pool.want - pool.threads))
        grow_locked();
    fetch_add_relaxed(&io_counters.pool, 1u);
    *cancelled = io_op_wait(s->current, op, &pool.lock, pool_cancel, NULL);
    return 0;
}

unsigned io_pool_threads(void) { return load_relaxed(&pool.threads); }

void io_pool_after_fork(void)
{
    /* The workers and the manager are the parent's; so are the reads
     * queued, whose threads do not exist here. */
    pool.lock = 0;
    pool.head = pool.tail = NULL;
    pool.queued = pool.idle = pool.threads = pool.want = 0;
    pool.work_seq = pool.manager_seq = 0;
    pool.started = 0;
    io_pool_start_wanted = 0;
}
