/*
 * Waiting and waking: the wait token (exactly one waker wins) and the
 * intrusive FIFO wait queue. See wait.h for the protocol primitives follow.
 */
#include "wait.h"

#include <errno.h>

#include "clock.h"
#include "scheduler.h"
#include "sys.h"

struct wait_node *waitq_wake_one(waitq_t *q)
{
    struct wait_node *n;
    while ((n = waitq_pop(q)) != NULL)
        if (wait_wake(n->thread, n->token, WAKE_SIGNALED))
            return n;
    return NULL;
}

bool wait_wake(struct capri_thread *t, uint32_t token, int reason)
{
    /* A foreign waiter may see WOKEN, return and free its stand-in struct
     * right after the CAS: read what we need first, and after the CAS touch
     * nothing but the futex word (a wake on freed memory is harmless: every
     * futex wait in libcapri rechecks its condition). A capri thread cannot
     * run again until it is made ready, so it stays valid. */
    bool foreign = (t->flags & THREAD_FOREIGN) != 0;
    uint32_t expected = token;
    if (!cas_acq_rel(&t->token, &expected, TOKEN_WOKEN_BY(token, reason)))
        return false;
    if (foreign)
        sys_futex_wake(&t->token, 1);
    else
        sched_make_ready(t);
    return true;
}

/* A kernel thread libcapri does not run waits on its token with a futex. */
static int park_foreign(struct capri_thread *self, uint32_t token, unsigned *lock, uint64_t deadline)
{
    if (lock)
        spin_unlock(lock);
    struct timespec ts, *tsp = NULL;
    if (deadline != DEADLINE_NONE) {
        clock_to_timespec(deadline, &ts);
        tsp = &ts;
    }
    for (;;) {
        uint32_t v = load_acquire(&self->token);
        if (TOKEN_STATE(v) == TOKEN_WOKEN)
            return (int)TOKEN_REASON(v);
        long r = sys_futex_wait(&self->token, v, tsp);
        if (r == -ETIMEDOUT) {
            uint32_t expected = token;
            if (cas_acq_rel(&self->token, &expected, TOKEN_WOKEN_BY(token, WAKE_TIMEOUT)))
                return WAKE_TIMEOUT;
        }
    }
}

int wait_park(struct capri_thread *self, uint32_t token, unsigned *lock, uint64_t deadline,
              bool cancellable)
{
    if (unlikely(self->flags & THREAD_FOREIGN))
        return park_foreign(self, token, lock, deadline);

    if (cancellable && !(self->flags & (THREAD_CANCEL_DISABLED | THREAD_CANCELLING))) {
        /* Publish the cancellable token, then look for a pending cancel:
         * capri_cancel does the mirror image (flag, then token), so one of
         * the two sides sees the other (both sequentially consistent). */
        store_seq(&self->cancel_token, token);
        if (load_seq(&self->cancel_pending)) {
            uint32_t expected = token;
            if (cas_acq_rel(&self->token, &expected, TOKEN_WOKEN_BY(token, WAKE_CANCELED))) {
                store_relaxed(&self->cancel_token, 0u);
                if (lock)
                    spin_unlock(lock);
                return WAKE_CANCELED;
            }
            /* Another waker won and made us ready: block to consume that. */
        }
    }
    struct capri_sched *s = self->sched;
    /* The graph first: its cycle count shares the timer's tie-break word
     * (thread.h), which arming the timer overwrites. */
    if (likely(graph_recording))
        graph_park(s, self, __builtin_return_address(0));
    if (deadline != DEADLINE_NONE && sched_timer_arm(s, self, deadline) != 0) {
        /* No memory for the timer: time out at once rather than hang. */
        uint32_t expected = token;
        if (cas_acq_rel(&self->token, &expected, TOKEN_WOKEN_BY(token, WAKE_TIMEOUT))) {
            if (likely(graph_recording))
                graph_resume(self); /* the park the graph counted did not happen */
            store_relaxed(&self->cancel_token, 0u);
            if (lock)
                spin_unlock(lock);
            return WAKE_TIMEOUT;
        }
    }
    if (unlikely(self->cached_chunk != NULL))
        thread_chunk_flush(self); /* a blocked thread holds no spare chunk */
    store_relaxed(&self->run_state, THREAD_BLOCKED);
    sched_block(s, self, lock);
    if (likely(graph_recording))
        graph_resume(self);
    store_relaxed(&self->cancel_token, 0u);
    return (int)TOKEN_REASON(load_acquire(&self->token));
}
