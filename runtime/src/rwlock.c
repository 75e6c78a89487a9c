/*
 * capri_rwlock: a writer-preferring reader-writer lock.
 *
 * rw->word = readers << 2 | RW_WAITERS | RW_WRITER; rw->writer is the
 * write owner (for EDEADLK and EPERM). Uncontended, every lock and unlock
 * is one CAS (a read lock succeeds while no writer holds or waits).
 *
 * Writer preference: once a writer waits, new readers queue behind it (so a
 * thread that takes a second read lock while a writer waits deadlocks, as
 * with pthreads' writer-preferring rwlocks), and a released lock goes to
 * the first waiting writer before any waiting reader. Readers are released
 * all at once when no writer holds or waits. Continuous writers can starve
 * readers; that is the documented price of the preference.
 *
 * Slow paths run under one lock, rw->writers.lock, which guards both queues,
 * waiting_writers and every change of RW_WAITERS. Invariants:
 *  - RW_WAITERS is set iff a queue is non-empty (outside the lock holder's
 *    critical section);
 *  - a reader is queued only while a writer holds or waits;
 *  - while RW_WAITERS is set the fast acquire paths fail, so the lock is
 *    handed to waiters directly (the word is set for them before they are
 *    woken) and cannot be barged.
 * A hand-off that loses the token race to a waiter's timeout still stands:
 * the waiter finds node->result set under the lock and returns 0.
 *
 * EPERM: unlocking when the caller is not the writer and no read lock is
 * held (readers are not tracked individually: any reader count > 0 lets an
 * unlock through).
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

#define RW_WRITER ((uintptr_t)1)
#define RW_WAITERS ((uintptr_t)2)
#define RW_READER ((uintptr_t)4)
#define RW_READERS(w) ((w) >> 2)
#define RW_HANDED 1

static inline unsigned *rw_lock_of(capri_rwlock_t *rw) { return &rw->writers.lock; }

int capri_rwlock_init(capri_rwlock_t *rw)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!rw)
        return EINVAL;
    memset(rw, 0, sizeof *rw);
    return 0;
}

int capri_rwlock_destroy(capri_rwlock_t *rw)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!rw)
        return EINVAL;
    return load_acquire(&rw->word) != 0 ? EBUSY : 0;
}

/* Makes RW_WAITERS match the queues (lock held; CAS loop: reader unlocks
 * may change the count meanwhile). */
static void rw_set_waiters_bit(capri_rwlock_t *rw)
{
    bool any = !waitq_empty(&rw->readers) || !waitq_empty(&rw->writers);
    uintptr_t w = load_relaxed(&rw->word);
    for (;;) {
        uintptr_t want = any ? (w | RW_WAITERS) : (w & ~RW_WAITERS);
        if (want == w || cas_acq_rel(&rw->word, &w, want))
            return;
    }
}

static void rw_hand(struct wake_list *wl, struct wait_node *n)
{
    n->result = RW_HANDED;
    wake_claim(wl, n);
}

/* Gives the lock to waiters if it is free for them; lock held. */
static void rw_dispatch(capri_rwlock_t *rw, struct wake_list *wl)
{
    uintptr_t w = load_acquire(&rw->word);
    for (;;) {
        if (w & RW_WRITER)
            break;
        if (!waitq_empty(&rw->writers)) {
            if (RW_READERS(w) > 0)
                break; /* the last reader to leave dispatches */
            struct wait_node *first = rw->writers.head;
            bool more = first->next != NULL || !waitq_empty(&rw->readers);
            if (!cas_acq_rel(&rw->word, &w, RW_WRITER | (more ? RW_WAITERS : 0)))
                continue;
            struct wait_node *n = waitq_pop(&rw->writers);
            rw->waiting_writers--;
            store_relaxed(&rw->writer, (uintptr_t)n->thread);
            rw_hand(wl, n);
            return;
        }
        if (waitq_empty(&rw->readers))
            break;
        /* No writer holds or waits: every queued reader gets in. */
        uintptr_t k = 0;
        for (struct wait_node *n = rw->readers.head; n; n = n->next)
            k++;
        if (!cas_acq_rel(&rw->word, &w, (w & ~RW_WAITERS) + k * RW_READER))
            continue;
        struct wait_node *n;
        while ((n = waitq_pop(&rw->readers)) != NULL)
            rw_hand(wl, n);
        return;
    }
    rw_set_waiters_bit(rw);
}

static inline bool rw_rd_fast(capri_rwlock_t *rw)
{
    uintptr_t w = load_relaxed(&rw->word);
    while (!(w & (RW_WRITER | RW_WAITERS))) {
        if (cas_acq_rel(&rw->word, &w, w + RW_READER))
            return true;
    }
    return false;
}

static int rw_deadline(const struct timespec *abstime, bool timed, uint64_t *deadline)
{
    *deadline = DEADLINE_NONE;
    if (!timed)
        return 0;
    int invalid = 0;
    if (!abstime)
        return EINVAL;
    *deadline = clock_deadline_from_realtime(abstime, &invalid);
    return invalid ? EINVAL : 0;
}

/* After a timed-out wait: 0 if the lock was handed over anyway. */
static int rw_wait_end(capri_rwlock_t *rw, struct wait_node *node, bool writer)
{
    WAKE_LIST(wl);
    spin_lock(rw_lock_of(rw));
    int rc = ETIMEDOUT;
    if (node->linked) {
        if (writer) {
            waitq_remove(&rw->writers, node);
            rw->waiting_writers--;
        } else {
            waitq_remove(&rw->readers, node);
        }
        /* A writer leaving may let the queued readers in. */
        rw_dispatch(rw, &wl);
    } else if (node->result == RW_HANDED) {
        rc = 0;
    }
    spin_unlock(rw_lock_of(rw));
    wake_run(&wl);
    return rc;
}

static int rw_rdlock(capri_rwlock_t *rw, const struct timespec *abstime, bool timed)
{
    if (unlikely(!rw))
        return EINVAL;
    if (likely(rw_rd_fast(rw)))
        return 0;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    if ((load_relaxed(&rw->word) & RW_WRITER) && load_relaxed(&rw->writer) == (uintptr_t)self)
        return EDEADLK;
    uint64_t deadline;
    int rc = rw_deadline(abstime, timed, &deadline);
    if (rc)
        return rc;

    struct wait_node node;
    memset(&node, 0, sizeof node);
    spin_lock(rw_lock_of(rw));
    uintptr_t w = load_relaxed(&rw->word);
    for (;;) {
        if (!(w & RW_WRITER) && waitq_empty(&rw->writers)) {
            /* No writer holds or waits (so no reader is queued either). */
            if (cas_acq_rel(&rw->word, &w, w + RW_READER)) {
                spin_unlock(rw_lock_of(rw));
                return 0;
            }
            continue;
        }
        if (timed && clock_now_ns() >= deadline) {
            spin_unlock(rw_lock_of(rw));
            return ETIMEDOUT;
        }
        if ((w & RW_WAITERS) || cas_acq_rel(&rw->word, &w, w | RW_WAITERS))
            break;
    }
    uint32_t tok = wait_prepare(self, &node);
    waitq_push(&rw->readers, &node);
    int why = wait_park(self, tok, rw_lock_of(rw), deadline, false);
    if (likely(why == WAKE_SIGNALED))
        return 0; /* the reader count already includes us */
    return rw_wait_end(rw, &node, false);
}

static int rw_wrlock(capri_rwlock_t *rw, const struct timespec *abstime, bool timed)
{
    if (unlikely(!rw))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    uintptr_t w = 0;
    if (likely(cas_acq_rel(&rw->word, &w, RW_WRITER))) {
        store_relaxed(&rw->writer, (uintptr_t)self);
        return 0;
    }
    if ((w & RW_WRITER) && load_relaxed(&rw->writer) == (uintptr_t)self)
        return EDEADLK;
    uint64_t deadline;
    int rc = rw_deadline(abstime, timed, &deadline);
    if (rc)
        return rc;

    struct wait_node node;
    memset(&node, 0, sizeof node);
    spin_lock(rw_lock_of(rw));
    w = load_relaxed(&rw->word);
    for (;;) {
        if (w == 0) {
            if (cas_acq_rel(&rw->word, &w, RW_WRITER)) {
                store_relaxed(&rw->writer, (uintptr_t)self);
                spin_unlock(rw_lock_of(rw));
                return 0;
            }
            continue;
        }
        if (timed && clock_now_ns() >= deadline) {
            spin_unlock(rw_lock_of(rw));
            return ETIMEDOUT;
        }
        if ((w & RW_WAITERS) || cas_acq_rel(&rw->word, &w, w | RW_WAITERS))
            break;
    }
    uint32_t tok = wait_prepare(self, &node);
    waitq_push(&rw->writers, &node);
    rw->waiting_writers++;
    int why = wait_park(self, tok, rw_lock_of(rw), deadline, false);
    if (likely(why == WAKE_SIGNALED))
        return 0; /* the word and rw->writer were set for us */
    return rw_wait_end(rw, &node, true);
}

int capri_rwlock_rdlock(capri_rwlock_t *rw)
{
    SCHED_YIELD_ENTRY();
    return rw_rdlock(rw, NULL, false);
}

int capri_rwlock_timedrdlock(capri_rwlock_t *rw, const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    return rw_rdlock(rw, abstime, true);
}

int capri_rwlock_tryrdlock(capri_rwlock_t *rw)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (unlikely(!rw))
        return EINVAL;
    return rw_rd_fast(rw) ? 0 : EBUSY;
}

int capri_rwlock_wrlock(capri_rwlock_t *rw)
{
    SCHED_YIELD_ENTRY();
    return rw_wrlock(rw, NULL, false);
}

int capri_rwlock_timedwrlock(capri_rwlock_t *rw, const struct timespec *abstime)
{
    SCHED_YIELD_ENTRY();
    return rw_wrlock(rw, abstime, true);
}

int capri_rwlock_trywrlock(capri_rwlock_t *rw)
{
    if (unlikely(!rw))
        return EINVAL;
    struct capri_thread *self = sync_self();
    if (unlikely(!self))
        return ENOMEM;
    uintptr_t w = 0;
    if (!cas_acq_rel(&rw->word, &w, RW_WRITER))
        return EBUSY;
    store_relaxed(&rw->writer, (uintptr_t)self);
    return 0;
}

int capri_rwlock_unlock(capri_rwlock_t *rw)
{
    if (unlikely(!rw))
        return EINVAL;
    uintptr_t w = load_relaxed(&rw->word);
    if (w & RW_WRITER) {
        struct capri_thread *self = sync_self();
        if (!self || load_relaxed(&rw->writer) != (uintptr_t)self)
            return EPERM;
        store_relaxed(&rw->writer, (uintptr_t)0);
        w = RW_WRITER;
        tsan_release(&rw->word); /* the edge TSan may not see (atomic.h) */
        if (likely(__atomic_compare_exchange_n(&rw->word, &w, (uintptr_t)0, false,
                                               __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
            return 0;
        WAKE_LIST(wl);
        spin_lock(rw_lock_of(rw));
        w = load_relaxed(&rw->word);
        while (!cas_acq_rel(&rw->word, &w, w & ~RW_WRITER)) {
        }
        rw_dispatch(rw, &wl);
        spin_unlock(rw_lock_of(rw));
        wake_run(&wl);
        return 0;
    }
    for (;;) {
        if (RW_READERS(w) == 0 || (w & RW_WRITER))
            return EPERM;
        if (cas_acq_rel(&rw->word, &w, w - RW_READER))
            break;
    }
    if (RW_READERS(w) == 1 && (w & RW_WAITERS)) {
        /* The last reader out hands the lock to the first waiting writer. */
        WAKE_LIST(wl);
        spin_lock(rw_lock_of(rw));
        rw_dispatch(rw, &wl);
        spin_unlock(rw_lock_of(rw));
        wake_run(&wl);
    }
    return 0;
}
