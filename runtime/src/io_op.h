/*
 * An operation a capri thread hands to something that runs it elsewhere
 * (the scheduler's io_uring, io_uring.c, or the kernel-thread pool,
 * io_pool.c) and parks until it completes (docs/io-design.md, "Regular
 * files" and "Operations that outlive their caller").
 *
 * The operation lives on the waiting thread's stack, so the one rule is
 * that the thread must not return while anything may still touch it: the
 * kernel (its buffer), or the completer (the struct). Both sides hold a
 * lock that outlives the operation (the ring's, the pool's):
 *
 *   waiter:    lock; submit; token = wait_prepare; op->token = token;
 *              wait_park(token, lock, cancellable)     (unlocked after the switch)
 *   completer: lock; op->res = ...; op->done = 1; wait_wake(op->thread, op->token); unlock
 *
 * A waiter whose park ends early (capri_cancel) asks the runner to cancel,
 * then takes the lock and parks again, not cancellably, until done is set:
 * the operation's own result, or -ECANCELED when the cancel won.
 */
#ifndef CAPRI_IO_OP_H
#define CAPRI_IO_OP_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "clock.h"
#include "thread.h"
#include "wait.h"

struct pool_port;

struct io_op {
    /* The request: preadv2 (or pwritev2) of these arguments. off -1 is the
     * file position. */
    int fd;
    int write;
    int rw_flags; /* RWF_* the program passed */
    int iovcnt;
    const struct iovec *iov;
    off_t off;
    /* The waiter and the outcome (under the runner's lock). */
    struct capri_thread *thread;
    uint32_t token;
    uint32_t done;
    int32_t res; /* bytes, or -errno */
    /* The pool's queue (then its list of finished operations), whether a
     * worker has taken the operation, and where it goes back. */
    struct io_op *next;
    uint32_t started;
    struct pool_port *port;
};

/* The completer's half, `lock` held: after this the operation may be gone. */
static inline void io_op_complete_locked(struct io_op *op, int32_t res)
{
    op->res = res;
    store_release(&op->done, 1u);
    /* Loses only to the waiter's own cancellation, after which the waiter
     * takes the lock (held here) before it looks at done again. */
    wait_wake(op->thread, op->token, WAKE_SIGNALED);
}

/*
 * The waiter's half: `lock` is held, the operation submitted. Parks until
 * it completes and returns with the lock released and op->res set.
 * `cancel` (with `arg`) asks the runner to end the operation early when
 * the thread is cancelled while it waits; it is called without the lock.
 * Returns true when the thread was cancelled meanwhile (the caller acts on
 * it once the result is known).
 */
static inline bool io_op_wait(struct capri_thread *self, struct io_op *op, unsigned *lock,
                              void (*cancel)(void *arg, struct io_op *op), void *arg)
{
    op->thread = self;
    op->token = wait_prepare(self, NULL);
    int why = wait_park(self, op->token, lock, DEADLINE_NONE, true);
    if (why == WAKE_SIGNALED)
        return false;
    cancel(arg, op);
    spin_lock(lock);
    while (!load_acquire(&op->done)) {
        op->token = wait_prepare(self, NULL);
        /* Not cancellable, no deadline: only the completer ends it. */
        wait_park(self, op->token, lock, DEADLINE_NONE, false);
        spin_lock(lock);
    }
    spin_unlock(lock);
    return true;
}

#endif
