/*
 * The sleeps: sleep, usleep, nanosleep, clock_nanosleep. On a capri thread
 * each is a timed park (capri_sleep_ns); elsewhere libc's. glibc's sleep
 * and usleep call nanosleep inside libc, past the interposed symbol, so
 * they are interposed themselves.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io_next.h"
#include "intr.h"
#include "io_wait.h"
#include "thread.h"
#include "wait.h"

/* Sleeps the calling capri thread until `deadline` (CLOCK_MONOTONIC ns):
 * 0, or the ns left when a signal handler ended the sleep (the kernel
 * never restarts a sleep). A cancellation point. */
static uint64_t park_until(uint64_t deadline)
{
    struct capri_sched *s = io_sched_inner();
    struct capri_thread *self = s->current;
    thread_test_cancel(self);
    if (deadline <= clock_now_ns()) {
        capri_yield(); /* a zero sleep still lets others run */
        return 0;
    }
    uint32_t token = wait_prepare(self, NULL);
    struct intr_waiter intr;
    intr_park_begin(s, &intr, self, token, true);
    int why = wait_park(self, token, NULL, deadline, true);
    intr_park_end(&intr);
    if (why == WAKE_CANCELED)
        thread_test_cancel(self);
    if (why != WAKE_INTERRUPTED)
        return 0;
    uint64_t now = clock_now_ns();
    return deadline > now ? deadline - now : 1; /* interrupted: never "none left" */
}

static void left_to_timespec(uint64_t left, struct timespec *rem)
{
    if (rem) {
        rem->tv_sec = (time_t)(left / 1000000000u);
        rem->tv_nsec = (long)(left % 1000000000u);
    }
}

/* reactor.c refers to this, so a static link always takes this file (see there). */
const int io_sleep_linked = 1;

static bool valid(const struct timespec *ts)
{
    return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L && ts->tv_sec >= 0;
}

static uint64_t to_ns(const struct timespec *ts)
{
    uint64_t s = (uint64_t)ts->tv_sec;
    if (s > UINT64_MAX / 1000000000u - 1)
        return UINT64_MAX / 2;
    return s * 1000000000u + (uint64_t)ts->tv_nsec;
}

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return to_ns(&now);
}

/* A clock that can be set (settimeofday, an NTP step) may move while a
 * sleep until a time on it waits: the sleep is a chain of monotonic waits
 * of at most this long, and the clock is read after each, so a clock set
 * back is slept out in full and one set forward past the time ends the
 * sleep within this much of the step. */
#define SETTABLE_CLOCK_SLICE_NS 1000000000ull

/* Sleeps until `clock` (CLOCK_REALTIME or CLOCK_TAI) reads `target` ns:
 * 0, or nonzero when a signal handler ended the sleep. */
static uint64_t park_until_settable(clockid_t clock, uint64_t target)
{
    for (;;) {
        uint64_t n = clock_ns(clock);
        uint64_t wait = target > n ? target - n : 0;
        if (wait > SETTABLE_CLOCK_SLICE_NS)
            wait = SETTABLE_CLOCK_SLICE_NS;
        if (park_until(clock_deadline_after(wait)))
            return 1;
        if (clock_ns(clock) >= target)
            return 0;
    }
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!io_sched())
        return IO_NEXT(nanosleep)(req, rem);
    if (!valid(req)) {
        errno = EINVAL;
        return -1;
    }
    uint64_t left = park_until(clock_deadline_after(to_ns(req)));
    if (left) {
        left_to_timespec(left, rem);
        errno = EINTR;
        return -1;
    }
    return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
    if (!io_sched())
        return IO_NEXT(clock_nanosleep)(clock, flags, req, rem);
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME &&
        clock != CLOCK_TAI)
        return IO_NEXT(clock_nanosleep)(clock, flags, req, rem);
    if (!valid(req))
        return EINVAL;
    uint64_t wait = to_ns(req);
    if ((flags & TIMER_ABSTIME) && (clock == CLOCK_REALTIME || clock == CLOCK_TAI))
        return park_until_settable(clock, wait) ? EINTR : 0;
    if (flags & TIMER_ABSTIME) {
        /* The time left on that clock now, waited for on the monotonic
         * one (which moves with it: neither can be set). */
        uint64_t n = clock_ns(clock);
        wait = wait > n ? wait - n : 0;
    }
    uint64_t left = park_until(clock_deadline_after(wait));
    if (left) {
        if (!(flags & TIMER_ABSTIME))
            left_to_timespec(left, rem);
        return EINTR;
    }
    return 0;
}

int usleep(useconds_t usec)
{
    if (!io_sched()) {
        struct timespec ts = { (time_t)(usec / 1000000u), (long)(usec % 1000000u) * 1000 };
        return IO_NEXT(nanosleep)(&ts, NULL);
    }
    if (park_until(clock_deadline_after((uint64_t)usec * 1000u))) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

unsigned int sleep(unsigned int seconds)
{
    if (!io_sched()) {
        struct timespec ts = { (time_t)seconds, 0 }, rem = { 0, 0 };
        if (IO_NEXT(nanosleep)(&ts, &rem) < 0 && errno == EINTR)
            return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
        return 0;
    }
    uint64_t left = park_until(clock_deadline_after((uint64_t)seconds * 1000000000u));
    return (unsigned)((left + 999999999u) / 1000000000u); /* seconds left, rounded up */
}
