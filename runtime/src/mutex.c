/*
 * capri_mutex: an error-checking mutex with FIFO hand-off.
 *
 * m->word is the owner's struct capri_thread pointer (a capri thread or the
 * stand-in of a foreign kernel thread; always 64-byte aligned) or 0, plus
 * MUTEX_WAITERS (bit 0) while m->q holds waiters. Uncontended, lock is one
 * CAS 0 -> self and unlock one CAS self -> 0.
 *
 * Invariants (changes of the waiter bit and hand-offs happen under q.lock):
 *  - a waiter is queued only while the word has an owner and the bit set;
 *  - while the bit is set, only q.lock holders change the word (the fast
 *    paths' CASes expect 0 or a bare owner, so they fail);
 *  - an unlock that finds the bit set hands the mutex to the first waiter:
 *    the word becomes that waiter's pointer directly (no barging), with the
 *    bit still set if more waiters remain.
 *
 * A waker pops a node, fills node->result and the word, and only then wins
 * the waiter's token (wake_claim). If the waiter's timer won the token first,
 * the hand-off still stands: the waiter takes q.lock, finds its node
 * unlinked with result MUTEX_HANDED and returns 0 owning the mutex (a timed
 * lock that lost the race to a hand-off succeeds, as pthreads allows).
 *
 * Mutex locks are not cancellation points (waits are not cancellable).
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

#define MUTEX_WAITERS ((uintptr_t)1)
#define MUTEX_HANDED 1

int capri_mutex_init(capri_mutex_t *m)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!m)
        return EINVAL;
    memset(m, 0, sizeof *m);
    return 0;
}

int capri_mutex_destroy(capri_mutex_t *m)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!m)
        return EINVAL;
    if (load_acquire(&m->word) != 0)
        return EBUSY;
    /* A zero word means no owner and no queued waiter (see the invariants). */
    return 0;
}

/* Called with q.lock held and the waiter bit set; clears the bit if the
 * queue became empty. The word is stable here (see the invariants). */
static void mutex_fix_waiter_bit(capri_mutex_t *m)
{
    if (waitq_empty(&m->q)) {
        uintptr_t w = load_relaxed(&m->word);
        while ((w & MUTEX_WAITERS) && !cas_acq_rel(&m->word, &w, w & ~MUTEX_WAITERS)) {
        }
    }
}

static int mutex_lock_slow(capri_mutex_t *m, struct capri_thread *self, uintptr_t seen,
                           const struct timespec *abstime, bool timed)
{
    uintptr_t me = (uintptr_t)self;
    if ((seen & ~MUTEX_WAITERS) == me)
        return EDEADLK;
    uint64_t deadline = DEADLINE_NONE;
    if (timed) {
        int invalid = 0;
        if (!abstime)
            return EINVAL;
        deadline = clock_deadline_from_realtime(abstime, &invalid);
        if (invalid)
            return EINVAL;
    }

    struct wait_node node;
    memset(&node, 0, sizeof node);
    spin_lock(&m->q.lock);
    for (;;) {
        uintptr_t w = load_relaxed(&m->word);
        if (w == 0) {
            if (cas_acq_rel(&m->word, &w, me)) {
                spin_unlock(&m->q.lock);
                return 0;
            }
            continue;
        }
        if (timed && clock_now_ns() >= deadline) {
            spin_unlock(&m->q.lock);
            return ETIMEDOUT;
        }
        if ((w & MUTEX_WAITERS) || cas_acq_rel(&m->word, &w, w | MUTEX_WAITERS))
            break;
    }
    uint32_t tok = wait_prepare(self, &node);
    waitq_push(&m->q, &node);
    int why = wait_park(self, tok, &m->q.lock, deadline, false);
    if (likely(why == WAKE_SIGNALED))
        return 0; /* handed over: the word is already ours */

    spin_lock(&m->q.lock);
    int rc = ETIMEDOUT;
    if (node.linked) {
        waitq_remove(&m->q, &node);
        mutex_fix_waiter_bit(m);
    } else if (node.result == MUTEX_HANDED) {
        rc = 0; /* an unlock handed it to us just before the timeout won */
    }
    spin_unlock(&m->q.lock);
    return rc;
}

/* Both lock calls: one CAS uncontended, the queue otherwise. */
static inline int mutex_lock(capri_mutex_t *m, const struct timespec *abstime, bool timed)
{
    if (unlikely(!m))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    uintptr_t w = 0;
    if (likely(cas_acq_rel(&m->word, &w, (uintptr_t)self)))
        return 0;
    return mutex_lock_slow(m, self, w, abstime, timed);
}

int capri_mutex_lock(capri_mutex_t *m)
{
    SCHED_YIELD_ENTRY();
    return mutex_lock(m, NULL, false);
}

int capri_mutex_timedlock(capri_mutex_t *m, const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    return mutex_lock(m, abstime, true);
}

int capri_mutex_trylock(capri_mutex_t *m)
{
    if (unlikely(!m))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    uintptr_t w = 0;
    return cas_acq_rel(&m->word, &w, (uintptr_t)self) ? 0 : EBUSY;
}

static int mutex_unlock_slow(capri_mutex_t *m, uintptr_t me)
{
    WAKE_LIST(wl);
    spin_lock(&m->q.lock);
    uintptr_t w = load_relaxed(&m->word);
    if ((w & ~MUTEX_WAITERS) != me) {
        spin_unlock(&m->q.lock);
        return EPERM;
    }
    struct wait_node *n = waitq_pop(&m->q);
    if (n) {
        n->result = MUTEX_HANDED;
        store_release(&m->word,
                      (uintptr_t)n->thread | (waitq_empty(&m->q) ? 0 : MUTEX_WAITERS));
        /* If its timer won the token, the waiter finds the hand-off under
         * q.lock and keeps the mutex. */
        wake_claim(&wl, n);
    } else {
        store_release(&m->word, (uintptr_t)0);
    }
    spin_unlock(&m->q.lock);
    wake_run(&wl);
    return 0;
}

int capri_mutex_unlock(capri_mutex_t *m)
{
    if (unlikely(!m))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return EPERM;
    uintptr_t me = (uintptr_t)self;
    uintptr_t w = me;
    tsan_release(&m->word); /* the edge TSan may not see (atomic.h) */
    if (likely(__atomic_compare_exchange_n(&m->word, &w, (uintptr_t)0, false, __ATOMIC_RELEASE,
                                           __ATOMIC_RELAXED)))
        return 0;
    if ((w & ~MUTEX_WAITERS) != me)
        return EPERM;
    return mutex_unlock_slow(m, me);
}
