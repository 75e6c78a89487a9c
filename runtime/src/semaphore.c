/*
 * capri_sem: counting semaphores.
 *
 * s->value is count << 1 | SEM_WAITERS. The count is at most INT_MAX
 * (SEM_VALUE_MAX in glibc): a post beyond it fails with EOVERFLOW.
 * Uncontended, wait and post are one CAS each.
 *
 * Invariants: the waiter bit is set and cleared under s->q.lock, and is set
 * only while the count is 0 and waiters are queued; while it is set, posts
 * take q.lock and hand their unit straight to the first waiter (FIFO, the
 * count stays 0), so a posted unit cannot be stolen by a newcomer.
 *
 * A post that pops a waiter whose timer or canceller won the token first
 * still hands the unit over: the waiter finds node->result set under
 * q.lock and returns 0 (its cancellation stays pending). s->waiters counts
 * the threads that may still touch the semaphore (see cond.c); destroy
 * returns EBUSY while it is nonzero.
 *
 * wait and timedwait are cancellation points: they act on a pending
 * cancellation on entry and while blocked.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "atomic.h"
#include "clock.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"
#include "sync.h"
#include "wait.h"

#define SEM_WAITERS ((uintptr_t)1)
#define SEM_ONE ((uintptr_t)2)
#define SEM_MAX ((uintptr_t)INT_MAX)
#define SEM_HANDED 1

int capri_sem_init(capri_sem_t *s, unsigned value)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!s || value > SEM_MAX)
        return EINVAL;
    memset(s, 0, sizeof *s);
    s->value = (uintptr_t)value << 1;
    return 0;
}

int capri_sem_destroy(capri_sem_t *s)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!s)
        return EINVAL;
    spin_lock(&s->q.lock);
    int busy = s->waiters != 0 || !waitq_empty(&s->q);
    spin_unlock(&s->q.lock);
    return busy ? EBUSY : 0;
}

static inline bool sem_try_take(capri_sem_t *s)
{
    uintptr_t v = load_relaxed(&s->value);
    while (v >= SEM_ONE) {
        if (cas_acq_rel(&s->value, &v, v - SEM_ONE))
            return true;
    }
    return false;
}

int capri_sem_trywait(capri_sem_t *s)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (unlikely(!s))
        return EINVAL;
    return sem_try_take(s) ? 0 : EAGAIN;
}

static int sem_wait_common(capri_sem_t *s, const struct timespec *abstime, bool timed)
{
    if (unlikely(!s))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    if (unlikely(load_relaxed(&self->cancel_pending)))
        thread_test_cancel(self);
    if (likely(sem_try_take(s)))
        return 0;

    uint64_t deadline = DEADLINE_NONE;
    if (timed) {
        int invalid = 0;
        if (!abstime)
            return EINVAL;
        deadline = clock_deadline_from_realtime(abstime, &invalid);
        if (invalid)
            return EINVAL;
    }
    bool cancellable = true;
    for (;;) {
        struct wait_node node;
        memset(&node, 0, sizeof node);
        spin_lock(&s->q.lock);
        uintptr_t v = load_relaxed(&s->value);
        for (;;) {
            if (v >= SEM_ONE) {
                if (cas_acq_rel(&s->value, &v, v - SEM_ONE)) {
                    spin_unlock(&s->q.lock);
                    return 0;
                }
                continue;
            }
            if (timed && clock_now_ns() >= deadline) {
                spin_unlock(&s->q.lock);
                return ETIMEDOUT;
            }
            if ((v & SEM_WAITERS) || cas_acq_rel(&s->value, &v, v | SEM_WAITERS))
                break;
        }
        uint32_t tok = wait_prepare(self, &node);
        waitq_push(&s->q, &node);
        s->waiters++;
        int why = wait_park(self, tok, &s->q.lock, deadline, cancellable);
        if (likely(why == WAKE_SIGNALED))
            return 0; /* a post handed us its unit */

        spin_lock(&s->q.lock);
        s->waiters--;
        if (node.linked) {
            waitq_remove(&s->q, &node);
            if (waitq_empty(&s->q)) {
                /* The count is 0 while the bit is set; nobody else changes
                 * the word now. */
                uintptr_t w = load_relaxed(&s->value);
                while ((w & SEM_WAITERS) && !cas_acq_rel(&s->value, &w, w & ~SEM_WAITERS)) {
                }
            }
        } else if (node.result == SEM_HANDED) {
            spin_unlock(&s->q.lock);
            return 0; /* a post won the race against the timeout/cancel */
        }
        spin_unlock(&s->q.lock);
        if (why == WAKE_TIMEOUT)
            return ETIMEDOUT;
        /* WAKE_CANCELED: does not return if cancellation is enabled; if it
         * got disabled meanwhile, wait again without cancellation. */
        thread_test_cancel(self);
        cancellable = false;
    }
}

int capri_sem_wait(capri_sem_t *s)
{
    SCHED_YIELD_ENTRY();
    return sem_wait_common(s, NULL, false);
}

int capri_sem_timedwait(capri_sem_t *s, const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    return sem_wait_common(s, abstime, true);
}

int capri_sem_post(capri_sem_t *s)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (unlikely(!s))
        return EINVAL;
    uintptr_t v = load_relaxed(&s->value);
    for (;;) {
        if (likely(!(v & SEM_WAITERS))) {
            if (unlikely((v >> 1) >= SEM_MAX))
                return EOVERFLOW;
            if (cas_acq_rel(&s->value, &v, v + SEM_ONE))
                return 0;
            continue;
        }
        WAKE_LIST(wl);
        spin_lock(&s->q.lock);
        struct wait_node *n = waitq_pop(&s->q);
        if (n) {
            if (waitq_empty(&s->q)) {
                uintptr_t w = load_relaxed(&s->value);
                while ((w & SEM_WAITERS) && !cas_acq_rel(&s->value, &w, w & ~SEM_WAITERS)) {
                }
            }
            n->result = SEM_HANDED;
            if (wake_claim(&wl, n))
                s->waiters--;
            spin_unlock(&s->q.lock);
            wake_run(&wl);
            return 0;
        }
        /* The last waiter left (timeout) and cleared the bit meanwhile. */
        spin_unlock(&s->q.lock);
        v = load_relaxed(&s->value);
    }
}

int capri_sem_getvalue(capri_sem_t *s, int *value)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!s || !value)
        return EINVAL;
    *value = (int)(load_acquire(&s->value) >> 1);
    return 0;
}
