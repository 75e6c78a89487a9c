/*
 * capri_cond: condition variables.
 *
 * A waiter queues itself on c->q (under c->q.lock) before it releases the
 * mutex, so a signal sent after the mutex is released always finds it: no
 * lost wake-ups. It then parks without a lock: a signal that pops it before
 * it has switched away just makes the park return at once. signal pops one
 * waiter (O(1)), broadcast pops them all.
 *
 * A woken waiter re-acquires the mutex (FIFO hand-off, see mutex.c) before
 * it returns, also after a timeout (ETIMEDOUT with the mutex held) and on
 * cancellation: the cleanup handlers then run with the mutex held, as in
 * pthreads.
 *
 * A signal that pops a waiter whose timer or canceller won the token first
 * still counts as delivered: node->result is set, the waiter finds it under
 * c->q.lock and returns 0 (its cancellation stays pending until the next
 * cancellation point), so a signal is never lost to a concurrent timeout or
 * cancel.
 *
 * c->waiters counts the threads that may still touch the condition: queued
 * waiters and popped ones whose wake lost the token race and that will take
 * c->q.lock once more. destroy returns EBUSY while it is nonzero.
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

#define COND_SIGNALED 1

int capri_cond_init(capri_cond_t *c)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!c)
        return EINVAL;
    memset(c, 0, sizeof *c);
    return 0;
}

int capri_cond_destroy(capri_cond_t *c)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!c)
        return EINVAL;
    spin_lock(&c->q.lock);
    int busy = c->waiters != 0 || !waitq_empty(&c->q);
    spin_unlock(&c->q.lock);
    return busy ? EBUSY : 0;
}

/* Delivers the signal to a popped waiter; q.lock held. */
static void cond_deliver(capri_cond_t *c, struct wake_list *wl, struct wait_node *n)
{
    n->result = COND_SIGNALED;
    if (wake_claim(wl, n))
        c->waiters--; /* the woken waiter no longer touches c */
}

int capri_cond_signal(capri_cond_t *c)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (unlikely(!c))
        return EINVAL;
    WAKE_LIST(wl);
    spin_lock(&c->q.lock);
    struct wait_node *n = waitq_pop(&c->q);
    if (n)
        cond_deliver(c, &wl, n);
    spin_unlock(&c->q.lock);
    wake_run(&wl);
    return 0;
}

int capri_cond_broadcast(capri_cond_t *c)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (unlikely(!c))
        return EINVAL;
    WAKE_LIST(wl);
    spin_lock(&c->q.lock);
    struct wait_node *n;
    while ((n = waitq_pop(&c->q)) != NULL)
        cond_deliver(c, &wl, n);
    spin_unlock(&c->q.lock);
    wake_run(&wl);
    return 0;
}

static int cond_wait_common(capri_cond_t *c, capri_mutex_t *m, const struct timespec *abstime,
                            bool timed)
{
    if (unlikely(!c || !m))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    if ((load_relaxed(&m->word) & ~(uintptr_t)1) != (uintptr_t)self)
        return EPERM;
    uint64_t deadline = DEADLINE_NONE;
    if (timed) {
        int invalid = 0;
        if (!abstime)
            return EINVAL;
        deadline = clock_deadline_from_realtime(abstime, &invalid);
        if (invalid)
            return EINVAL;
    }
    /* A cancellation point: act on a pending cancel with the mutex held. */
    if (unlikely(load_relaxed(&self->cancel_pending)))
        thread_test_cancel(self);

    if (timed && clock_now_ns() >= deadline)
        return ETIMEDOUT; /* the mutex was never released */

    struct wait_node node;
    memset(&node, 0, sizeof node);
    spin_lock(&c->q.lock);
    uint32_t tok = wait_prepare(self, &node);
    waitq_push(&c->q, &node);
    c->waiters++;
    spin_unlock(&c->q.lock);
    /* Queued before the mutex is released: no lost wake-up. A signal that
     * comes before we are parked wins our token early and wait_park then
     * returns at once (the core allows a wake before the switch away).
     * Unlocking outside c->q.lock keeps the mutex's hand-off wake, which
     * may enter the kernel, out of that lock. */
    capri_mutex_unlock(m);
    int why = wait_park(self, tok, NULL, deadline, true);

    int signaled = 1;
    if (why != WAKE_SIGNALED) {
        spin_lock(&c->q.lock);
        if (node.linked)
            waitq_remove(&c->q, &node);
        signaled = node.result == COND_SIGNALED;
        c->waiters--;
        spin_unlock(&c->q.lock);
    }
    capri_mutex_lock(m); /* not a cancellation point; cannot fail */
    if (signaled)
        return 0;
    if (why == WAKE_TIMEOUT)
        return ETIMEDOUT;
    /* WAKE_CANCELED: act on it with the mutex held (the cleanup handlers run
     * with it held). If cancellation got disabled meanwhile this returns:
     * report a spurious wake-up. */
    thread_test_cancel(self);
    return 0;
}

int capri_cond_wait(capri_cond_t *c, capri_mutex_t *m)
{
    SCHED_YIELD_ENTRY();
    return cond_wait_common(c, m, NULL, false);
}

int capri_cond_timedwait(capri_cond_t *c, capri_mutex_t *m, const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    return cond_wait_common(c, m, abstime, true);
}
