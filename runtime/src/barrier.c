/*
 * capri_barrier: a reusable barrier.
 *
 * Everything is under b->q.lock. The thread that completes a generation
 * (the count-th arrival) resets `arrived`, bumps the generation, wakes the
 * others and gets CAPRI_BARRIER_SERIAL_THREAD. Woken threads do not touch
 * the barrier again, so it may be destroyed or re-used as soon as the
 * serial thread returns. Waiting is not a cancellation point (as in
 * pthreads). A zero-initialised barrier has count 0: waiting on it is
 * EINVAL until capri_barrier_init.
 */
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "clock.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"
#include "sync.h"
#include "wait.h"

int capri_barrier_init(capri_barrier_t *b, unsigned count)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!b || count == 0)
        return EINVAL;
    spin_lock(&b->q.lock);
    if (b->arrived != 0) {
        spin_unlock(&b->q.lock);
        return EBUSY;
    }
    b->count = count;
    b->generation = 0;
    spin_unlock(&b->q.lock);
    return 0;
}

int capri_barrier_destroy(capri_barrier_t *b)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!b)
        return EINVAL;
    spin_lock(&b->q.lock);
    int busy = b->arrived != 0 || !waitq_empty(&b->q);
    if (!busy)
        b->count = 0;
    spin_unlock(&b->q.lock);
    return busy ? EBUSY : 0;
}

int capri_barrier_wait(capri_barrier_t *b)
{
    SCHED_YIELD_ENTRY();
    if (unlikely(!b))
        return EINVAL;
    struct capri_thread *self = thread_current();
    if (unlikely(!self)) {
        if (runtime_ensure() != 0 || !(self = thread_current()))
            return ENOMEM;
    }
    spin_lock(&b->q.lock);
    if (b->count == 0) {
        spin_unlock(&b->q.lock);
        return EINVAL;
    }
    if (++b->arrived == b->count) {
        b->arrived = 0;
        b->generation++;
        WAKE_LIST(wl);
        struct wait_node *n;
        while ((n = waitq_pop(&b->q)) != NULL)
            wake_claim(&wl, n);
        spin_unlock(&b->q.lock);
        wake_run(&wl);
        return CAPRI_BARRIER_SERIAL_THREAD;
    }
    uintptr_t gen = b->generation;
    struct wait_node node;
    memset(&node, 0, sizeof node);
    for (;;) {
        uint32_t tok = wait_prepare(self, &node);
        waitq_push(&b->q, &node);
        int why = wait_park(self, tok, &b->q.lock, DEADLINE_NONE, false);
        if (likely(why == WAKE_SIGNALED))
            return 0;
        /* Not timed and not cancellable: should not happen; wait on. */
        spin_lock(&b->q.lock);
        waitq_remove(&b->q, &node);
        if (b->generation != gen) {
            spin_unlock(&b->q.lock);
            return 0;
        }
    }
}
