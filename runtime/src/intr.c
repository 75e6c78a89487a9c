/*
 * EINTR for parked calls (intr.h).
 */
#include "intr.h"

#include "reactor.h"
#include "wait.h"

void intr_note(bool restart)
{
    /* Only a scheduler's kernel thread runs capri threads: a handler on
     * any other thread interrupted nothing of ours. */
    struct capri_sched *s = sched_here();
    if (!s)
        return;
    if (!restart)
        store_relaxed(&s->intr_norestart, s->intr_norestart + 1);
    store_relaxed(&s->intr_any, s->intr_any + 1);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* Interrupted between announcing its sleep and entering it: the sleep
     * must end at once so that the pick after it sees the counters. */
    if (load_seq(&s->idle_state) == SCHED_SLEEPING && load_relaxed(&s->reactor.live))
        reactor_wake(s);
}

void intr_park_begin(struct capri_sched *s, struct intr_waiter *w, struct capri_thread *t,
                     uint32_t token, bool always)
{
    w->thread = t;
    w->token = token;
    w->always = always;
    w->s = s;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    w->epoch = load_relaxed(&s->intr_any);
    spin_lock(&s->intr_lock);
    w->prev = NULL;
    w->next = s->intr_head;
    if (w->next)
        w->next->prev = w;
    s->intr_head = w;
    store_relaxed(&w->linked, (uint8_t)1);
    spin_unlock(&s->intr_lock);
}

static void unlink_locked(struct intr_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->s->intr_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    /* Last: once the owner sees 0 it may return and reuse the node. */
    store_release(&w->linked, (uint8_t)0);
}

void intr_park_end(struct intr_waiter *w)
{
    if (!load_acquire(&w->linked))
        return;
    /* The thread may run on another scheduler by now (migratable): the
     * list is the one it parked on. */
    struct capri_sched *s = w->s;
    spin_lock(&s->intr_lock);
    if (w->linked)
        unlink_locked(w);
    spin_unlock(&s->intr_lock);
}

void intr_check_slow(struct capri_sched *s)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    uint32_t any = load_relaxed(&s->intr_any), norestart = load_relaxed(&s->intr_norestart);
    /* Handler runs since the last look: those without SA_RESTART may end
     * any parked call, the others only the "always" ones. */
    uint32_t may_end_any = norestart - s->intr_seen_norestart;
    uint32_t may_end_always = (any - s->intr_seen_any) - may_end_any;
    s->intr_seen_any = any;
    s->intr_seen_norestart = norestart;
    spin_lock(&s->intr_lock);
    for (struct intr_waiter *w = s->intr_head; w && (may_end_any || may_end_always);) {
        struct intr_waiter *next = w->next;
        bool ends = w->epoch != any; /* parked before some of those handlers ran */
        if (ends && w->always && may_end_always)
            may_end_always--;
        else if (ends && may_end_any)
            may_end_any--;
        else
            ends = false;
        if (ends) {
            /* Read before the unlink: the node may be gone right after. */
            struct capri_thread *t = w->thread;
            uint32_t token = w->token;
            unlink_locked(w);
            wait_wake(t, token, WAKE_INTERRUPTED);
        }
        w = next;
    }
    spin_unlock(&s->intr_lock);
}

void intr_reset_after_fork(struct capri_sched *s)
{
    s->intr_lock = 0;
    s->intr_head = NULL;
    s->intr_seen_any = s->intr_any;
    s->intr_seen_norestart = s->intr_norestart;
}
