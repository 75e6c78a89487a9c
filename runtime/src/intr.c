/*
 * EINTR for parked calls (intr.h).
 */
#include "intr.h"

#include "wait.h"

void intr_note(bool restart)
{
    if (!restart)
        __atomic_fetch_add(&capri_rt.intr_norestart, 1u, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&capri_rt.intr_any, 1u, __ATOMIC_SEQ_CST);
    /* Sleeping schedulers look at their lists when they wake. */
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; i < n; i++)
        if (load_seq(&capri_rt.scheds[i].idle_state) == SCHED_SLEEPING)
            sched_idle_wake(&capri_rt.scheds[i]);
}

void intr_park_begin(struct capri_sched *s, struct intr_waiter *w, struct capri_thread *t,
                     uint32_t token, bool always)
{
    w->thread = t;
    w->token = token;
    w->always = always;
    w->s = s;
    spin_lock(&s->intr_lock);
    w->epoch = load_acquire(always ? &capri_rt.intr_any : &capri_rt.intr_norestart);
    w->prev = NULL;
    w->next = s->intr_head;
    if (w->next)
        w->next->prev = w;
    s->intr_head = w;
    w->linked = 1;
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
    w->linked = 0;
}

void intr_park_end(struct intr_waiter *w)
{
    if (!load_relaxed(&w->linked))
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
    uint32_t any = load_acquire(&capri_rt.intr_any);
    uint32_t norestart = load_acquire(&capri_rt.intr_norestart);
    s->intr_seen = any;
    spin_lock(&s->intr_lock);
    struct intr_waiter *w = s->intr_head;
    while (w) {
        struct intr_waiter *next = w->next;
        if (w->epoch != (w->always ? any : norestart)) {
            unlink_locked(w);
            wait_wake(w->thread, w->token, WAKE_INTERRUPTED);
        }
        w = next;
    }
    spin_unlock(&s->intr_lock);
}
