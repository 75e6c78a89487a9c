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
#include "sync.h"
#include "wait.h"

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
    SCHED_YIELD_ENTRY();
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
