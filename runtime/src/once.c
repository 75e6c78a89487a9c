/*
 * capri_once: run a function once.
 *
 * once->state: 0 (not run), ONCE_DONE, or the struct pointer of the thread
 * running fn (always 64-byte aligned, so never ONCE_DONE). The done check
 * is one acquire load. Concurrent callers wait on once->q until the runner
 * finishes. Waiting in capri_once is not a cancellation point.
 *
 * If fn does not return (fn is cancelled at a cancellation point, or calls
 * capri_exit), a cleanup handler puts the state back to 0 and wakes the
 * waiters, one of which runs fn again, as pthread_once does. A recursive
 * call from fn on the same object returns EDEADLK instead of deadlocking.
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

#define ONCE_DONE ((uintptr_t)1)

static void once_finish(capri_once_t *once, uintptr_t state)
{
    WAKE_LIST(wl);
    spin_lock(&once->q.lock);
    store_release(&once->state, state);
    struct wait_node *n;
    while ((n = waitq_pop(&once->q)) != NULL)
        wake_claim(&wl, n);
    spin_unlock(&once->q.lock);
    wake_run(&wl);
}

static void once_abandoned(void *arg) { once_finish(arg, 0); }

int capri_once(capri_once_t *once, void (*fn)(void))
{
    if (unlikely(!once || !fn))
        return EINVAL;
    if (likely(load_acquire(&once->state) == ONCE_DONE))
        return 0;
    struct capri_thread *self = thread_current();
    if (unlikely(!self)) {
        if (runtime_ensure() != 0 || !(self = thread_current()))
            return ENOMEM;
    }
    uintptr_t me = (uintptr_t)self;
    for (;;) {
        uintptr_t s = load_acquire(&once->state);
        if (s == ONCE_DONE)
            return 0;
        if (s == 0) {
            if (!cas_acq_rel(&once->state, &s, me))
                continue;
            capri_cleanup_push(once_abandoned, once);
            fn();
            capri_cleanup_pop(0);
            once_finish(once, ONCE_DONE);
            return 0;
        }
        if (s == me)
            return EDEADLK; /* fn called capri_once on its own object */

        struct wait_node node;
        memset(&node, 0, sizeof node);
        spin_lock(&once->q.lock);
        if (load_relaxed(&once->state) != s) {
            spin_unlock(&once->q.lock);
            continue;
        }
        uint32_t tok = wait_prepare(self, &node);
        waitq_push(&once->q, &node);
        int why = wait_park(self, tok, &once->q.lock, DEADLINE_NONE, false);
        if (why != WAKE_SIGNALED) {
            spin_lock(&once->q.lock);
            waitq_remove(&once->q, &node);
            spin_unlock(&once->q.lock);
        }
    }
}
