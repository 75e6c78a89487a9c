/*
 * Idle schedulers sleep in the kernel until work or their next timer, and
 * wakers wake them. The sleep is the reactor's epoll wait (reactor.c),
 * which also ends for descriptor events, and the wake an eventfd write;
 * a scheduler whose reactor could not be set up sleeps on a futex.
 *
 * Sleeper: read the epoch, set SLEEPING (sequentially consistent), look
 * once more for work (inbox, stealable threads anywhere), then futex-wait
 * on the epoch. Waker: publish the work (sequentially consistent), and if
 * it wins SLEEPING -> AWAKE, bump the epoch and futex-wake. Either the
 * sleeper's second look sees the work, or the waker sees SLEEPING; reading
 * the epoch first makes a wake between the look and the wait harmless.
 */
#include <errno.h>

#include "clock.h"
#include "intr.h"
#include "scheduler.h"
#include "sys.h"

static bool work_visible(struct capri_sched *s)
{
    /* A handler that ran here may have ended a parked call (intr.c). */
    if (load_seq(&s->inbox) || load_seq(&s->steal_count) || intr_pending(s))
        return true;
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; i < n; i++)
        if (load_seq(&capri_rt.scheds[i].steal_count) || load_seq(&capri_rt.scheds[i].runnext))
            return true;
    return false;
}

void sched_idle_wait(struct capri_sched *s, uint64_t deadline)
{
    uint32_t epoch = load_acquire(&s->idle_epoch);
    __atomic_fetch_add(&capri_rt.idle_count, 1u, __ATOMIC_SEQ_CST);
    store_seq(&s->idle_state, (uint32_t)SCHED_SLEEPING);
    if (!work_visible(s) && load_acquire(&s->reactor.live)) {
        /* The reactor's wait: descriptors and timers too. A wake written
         * after the look above is an edge the wait still reports. */
        reactor_poll(s, deadline);
    } else if (!work_visible(s)) {
        struct timespec ts, *tsp = NULL;
        if (deadline != UINT64_MAX) {
            clock_to_timespec(deadline, &ts);
            tsp = &ts;
        }
        sys_futex_wait(&s->idle_epoch, epoch, tsp);
    }
    exchange_acq_rel(&s->idle_state, (uint32_t)SCHED_AWAKE);
    __atomic_fetch_sub(&capri_rt.idle_count, 1u, __ATOMIC_SEQ_CST);
}

void sched_idle_wake(struct capri_sched *s)
{
    uint32_t expected = SCHED_SLEEPING;
    if (__atomic_compare_exchange_n(&s->idle_state, &expected, (uint32_t)SCHED_AWAKE, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&s->idle_epoch, 1u, __ATOMIC_SEQ_CST);
        if (load_acquire(&s->reactor.live))
            reactor_wake(s);
        else
            sys_futex_wake(&s->idle_epoch, 1);
    }
}

void sched_wake_idle_one(void)
{
    /* Go's policy: a scheduler already looking for work will find it; wake
     * a sleeper only when nobody is looking. */
    if (load_seq(&capri_rt.spinning) != 0)
        return;
    struct capri_sched *here = sched_here();
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; i < n; i++) {
        struct capri_sched *s = &capri_rt.scheds[i];
        if (s != here && load_seq(&s->idle_state) == SCHED_SLEEPING) {
            sched_idle_wake(s);
            return;
        }
    }
}
