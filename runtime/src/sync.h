/*
 * What every synchronisation primitive shares: finding the calling thread,
 * and waking waiters only after the queue lock is released.
 */
#ifndef CAPRI_SYNC_H
#define CAPRI_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"
#include "wait.h"

/* The calling thread: a capri thread (one %fs load) or a foreign thread's
 * stand-in, setting the runtime up on first use. NULL: no memory. */
static inline struct capri_thread *sync_self(void)
{
    struct capri_sched *s = sched_here();
    if (likely(s))
        return s->current;
    struct capri_thread *self = thread_current();
    if (unlikely(!self) && runtime_ensure() == 0)
        self = thread_current();
    return self;
}

/*
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
static inline bool wake_claim(struct wake_list *wl, struct wait_node *n)
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

#endif
