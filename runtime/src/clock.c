/* Time for libcapri: CLOCK_MONOTONIC nanoseconds, and deadline conversion. */
#include "clock.h"

uint64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_deadline_after(uint64_t timeout_ns)
{
    uint64_t now = clock_now_ns();
    return timeout_ns >= DEADLINE_NONE - now ? DEADLINE_NONE - 1 : now + timeout_ns;
}

uint64_t clock_deadline_from_realtime(const struct timespec *abstime, int *invalid)
{
    *invalid = 0;
    if (!abstime)
        return DEADLINE_NONE;
    if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000) {
        *invalid = 1;
        return 0;
    }
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    uint64_t mono = clock_now_ns();
    /* Remaining time on the realtime clock, added to now on the monotonic
     * one: a deadline in the past is "now" (the wait times out at once). */
    long double rem = (long double)(abstime->tv_sec - real.tv_sec) * 1e9L +
                      (long double)(abstime->tv_nsec - real.tv_nsec);
    if (rem <= 0)
        return mono;
    if (rem >= (long double)(DEADLINE_NONE - 1 - mono))
        return DEADLINE_NONE - 1;
    return mono + (uint64_t)rem;
}

void clock_to_timespec(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}
