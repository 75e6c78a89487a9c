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
    /* The realtime-to-monotonic offset, kept while it stays within a
     * millisecond of a fresh measurement: reading the two clocks is not
     * atomic, and without this two waits for the same abstime would get
     * deadlines a few nanoseconds apart and fire in the wrong order. */
    static int64_t cached_offset;
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    uint64_t mono = clock_now_ns();
    int64_t offset = ((int64_t)real.tv_sec * 1000000000 + real.tv_nsec) - (int64_t)mono;
    int64_t cached = __atomic_load_n(&cached_offset, __ATOMIC_RELAXED);
    if (offset - cached > 1000000 || cached - offset > 1000000)
        __atomic_store_n(&cached_offset, cached = offset, __ATOMIC_RELAXED);
    /* The deadline on the monotonic clock; one in the past is "now". */
    long double deadline = (long double)abstime->tv_sec * 1e9L + (long double)abstime->tv_nsec -
                           (long double)cached;
    if (deadline <= (long double)mono)
        return mono;
    if (deadline >= (long double)(DEADLINE_NONE - 1))
        return DEADLINE_NONE - 1;
    return (uint64_t)deadline;
}

void clock_to_timespec(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}
