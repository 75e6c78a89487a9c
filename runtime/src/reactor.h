/*
 * The reactor: one per scheduler (docs/io-design.md, "The reactor"). An
 * epoll instance holds the descriptors capri threads of this scheduler
 * first parked on (edge-triggered, both directions, registered once) and an
 * eventfd other kernel threads write to wake the scheduler; one
 * epoll_pwait2 waits for readiness, wakes and the next timer, and replaces
 * the futex sleep of idle.c.
 *
 * Everything here is raw system calls: libcapri interposes read, write and
 * close, and its own descriptors must not go through those paths (nor
 * through a sanitizer's interceptors, which would track them).
 */
#ifndef CAPRI_REACTOR_H
#define CAPRI_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#define REACTOR_EVENTS 256

/* The epoll_event layout of x86-64 (packed: 12 bytes). */
struct reactor_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));

struct reactor {
    /* 1 once set up: the scheduler array starts zeroed, and a scheduler
     * whose reactor could not be made sleeps on its futex. */
    uint32_t live;
    int epfd;
    int wakefd;
    uint32_t gen;           /* registrations of an older generation are not ours */
    uint32_t registrations; /* descriptors ever registered (poll when busy only if any) */
    uint32_t since_poll;    /* blocks since the last poll */
    struct reactor_event events[REACTOR_EVENTS];
};

struct capri_sched;
struct fd_entry;

/* Sets up s's reactor (a scheduler's start); false when the kernel refused
 * (descriptors exhausted): the scheduler then sleeps on its futex and I/O
 * calls block their kernel thread. */
bool reactor_init(struct capri_sched *s);
/* A forked child: the parent's epoll and eventfd are shared with it, so the
 * child's scheduler gets its own (the old descriptors are closed). */
void reactor_reinit_after_fork(struct capri_sched *s);
/* Closes s's reactor (a forked child's schedulers that did not survive). */
void reactor_close(struct capri_sched *s);

/* Registers fd (entry e) with s's reactor, once. 0, or an errno value:
 * EPERM for a descriptor epoll cannot watch (a regular file). */
int reactor_register(struct capri_sched *s, int fd, struct fd_entry *e);
/* Drops fd's registration from scheduler `index`'s reactor of generation
 * gen (before the number is closed or reused). */
void reactor_forget(uint32_t index, uint32_t gen, int fd);

/* Waits up to `deadline` (CLOCK_MONOTONIC ns; 0: do not wait; UINT64_MAX:
 * no deadline) and wakes the threads the events are for. Scheduler context
 * only. Returns the number of descriptor events. */
int reactor_poll(struct capri_sched *s, uint64_t deadline);
/* Polls s's descriptors from another kernel thread (the monitor, for a
 * scheduler stuck in the kernel) into `events`, without waiting, and wakes
 * the threads the events are for. Returns the number of descriptor events. */
int reactor_poll_borrowed(struct capri_sched *s, struct reactor_event *events, int capacity);
/* The smallest descriptor number at or above `from` that a reactor holds,
 * or -1 (close_range and closefrom leave them open). */
int reactor_next_own_fd(unsigned from);
/* Wakes s from reactor_poll (any kernel thread). */
void reactor_wake(struct capri_sched *s);

/* Whether a busy scheduler should poll now (called at every block). */
static inline bool reactor_poll_due(struct reactor *r)
{
    return r->registrations != 0 && ++r->since_poll >= 64;
}

#endif
