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
#include "wait.h"

/* ---- deferred wakes (the same few lines are in every synchronisation file) --
 * A waker wins a popped waiter's token under the queue lock (one CAS) and
 * makes the waiter ready only once the lock is released: making ready may
 * enter the kernel (a sleeping scheduler, a foreign thread's futex), and
 * the kernel thread it wakes could preempt the waker and then spin on the
 * lock the waker still holds. A capri thread whose token is won cannot run
 * until it is made ready, so its node stays valid and the list links
 * through the nodes; a foreign thread may return as soon as its token
 * flips, so only its token's address is kept (futex_wake reads nothing). */
struct wake_list {
    struct wait_node *head, **tail;
    uint32_t *futex[4];
    unsigned nfutex;
};
#define WAKE_LIST(name) struct wake_list name = {NULL, &name.head, {NULL}, 0}

/* n: popped, its result filled in. True if this waker won its token. */
static bool wake_claim(struct wake_list *wl, struct wait_node *n)
{
    struct capri_thread *t = n->thread;
    uint32_t expected = n->token;
    uint32_t woken = TOKEN_WOKEN_BY(expected, WAKE_SIGNALED);
    if (unlikely(t->flags & THREAD_FOREIGN)) {
        if (wl->nfutex == sizeof wl->futex / sizeof wl->futex[0])
            return wait_wake(t, expected, WAKE_SIGNALED); /* rare: under the lock */
        if (!cas_acq_rel(&t->token, &expected, woken))
            return false;
        wl->futex[wl->nfutex++] = &t->token;
        return true;
    }
    if (!cas_acq_rel(&t->token, &expected, woken))
        return false;
    n->next = NULL;
    *wl->tail = n;
    wl->tail = &n->next;
    return true;
}

/* After the lock is released. */
static inline void wake_run(struct wake_list *wl)
{
    for (unsigned i = 0; i < wl->nfutex; i++)
        sys_futex_wake(wl->futex[i], 1);
    for (struct wait_node *n = wl->head, *next; n; n = next) {
        next = n->next;
        sched_make_ready(n->thread);
    }
}

int capri_barrier_init(capri_barrier_t *b, unsigned count)
{
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
