/* Time for libcapri: CLOCK_MONOTONIC nanoseconds, and deadline conversion. */
#ifndef CAPRI_CLOCK_H
#define CAPRI_CLOCK_H

#include <stdint.h>
#include <time.h>

/* No deadline. */
#define DEADLINE_NONE UINT64_MAX

/* CLOCK_MONOTONIC in nanoseconds (vDSO, about 24 ns). */
uint64_t clock_now_ns(void);
/* A relative timeout from now, saturating. */
uint64_t clock_deadline_after(uint64_t timeout_ns);
/* A CLOCK_REALTIME absolute time converted once to a monotonic deadline.
 * Returns DEADLINE_NONE for NULL; sets *invalid for tv_nsec out of range. */
uint64_t clock_deadline_from_realtime(const struct timespec *abstime, int *invalid);
void clock_to_timespec(uint64_t ns, struct timespec *ts);

#endif
