/*
 * poll, ppoll, select, pselect, their _FORTIFY_SOURCE forms, and the
 * native capri_fd_wait (docs/io-design.md, "Other calls", "The native
 * call").
 *
 * On a capri thread: a poll that does not wait; if nothing is ready, the
 * thread watches every listed descriptor direction on the reactors (an
 * event wakes every watcher; watchers take no data, unlike the owner a
 * read parks as) until an event, the deadline or a cancellation, then
 * polls again. Each direction's readiness sequence, read before that poll,
 * makes an event between the poll and the watch count: the thread polls
 * again instead of sleeping.
 *
 * A watching thread holds no lock while it switches out, unlike the other
 * waits (it would need every entry's). That is safe because a waker on
 * another kernel thread never queues the thread itself: sched_make_ready
 * puts it in its scheduler's inbox, which only that scheduler's kernel
 * thread drains, and a thread found there still running is only marked
 * woken (current_woken), which its switch sees.
 *
 * Elsewhere (plain threads, signal handlers), for descriptors epoll cannot
 * watch, and for a signal mask that differs from the kernel thread's, the
 * calls are libc's.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include "capri.h"
#include "clock.h"
#include "io_next.h"
#include "intr.h"
#include "io_wait.h"
#include "sys.h"
#include "thread.h"
#include "wait.h"

/* reactor.c refers to this, so a static link always takes this file. */
const int io_poll_linked = 1;

/* Watches kept on the stack (the common calls name one or two
 * descriptors); more come from the heap. Each is 72 bytes of a thread's
 * stack, and the calls' stack marks count them. */
#define POLL_STACK_WATCHES 4

struct watch {
    struct wait_node node;
    struct fd_entry *e;
    uint32_t gen, seq;
    int fd;
    uint8_t dir;
};

static const short poll_read_events = POLLIN | POLLPRI | POLLRDHUP | POLLRDNORM | POLLRDBAND;
static const short poll_write_events = POLLOUT | POLLWRNORM | POLLWRBAND;

static void unwatch_all(struct watch *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!w[i].node.linked)
            continue;
        spin_lock(&w[i].e->lock);
        fd_dir_unwatch_locked(&w[i].e->dir[w[i].dir], &w[i].node);
        spin_unlock(&w[i].e->lock);
    }
}

/* How many watches fds needs: a read watch unless only writes are asked
 * for (errors and hang-ups are reported whatever was asked, and an epoll
 * error or hang-up event wakes both directions), a write watch if asked. */
static size_t watch_count(const struct pollfd *fds, nfds_t nfds)
{
    size_t n = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        if (fds[i].fd < 0)
            continue;
        n += (fds[i].events & poll_read_events) || !(fds[i].events & poll_write_events);
        n += (fds[i].events & poll_write_events) != 0;
    }
    return n;
}

/* Fills the watches and registers each descriptor with a reactor: 0, or
 * the errno value of a descriptor that cannot be watched. */
static int plan(struct capri_sched *s, const struct pollfd *fds, nfds_t nfds, struct watch *w)
{
    size_t n = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        int fd = fds[i].fd;
        if (fd < 0)
            continue;
        struct fd_entry *e = fd_entry(fd, true);
        if (!e)
            return ENOMEM;
        int err = io_watchable(s, fd, e);
        if (err)
            return err;
        if ((fds[i].events & poll_read_events) || !(fds[i].events & poll_write_events))
            w[n++] = (struct watch){ .e = e, .fd = fd, .dir = FD_READ };
        if (fds[i].events & poll_write_events)
            w[n++] = (struct watch){ .e = e, .fd = fd, .dir = FD_WRITE };
    }
    return 0;
}

/* libc's poll for what is left until deadline. */
static int poll_until(struct pollfd *fds, nfds_t nfds, uint64_t deadline)
{
    if (deadline == DEADLINE_NONE)
        return IO_NEXT(poll)(fds, nfds, -1);
    uint64_t now = clock_now_ns(), left = deadline > now ? deadline - now : 0;
    struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };
    return IO_NEXT(ppoll)(fds, nfds, &ts, NULL);
}

/* Links the watches of the running thread for `token`: false (nothing
 * linked) when a direction saw an event or a close since its snapshot. */
static bool watch_all(struct capri_thread *self, uint32_t token, struct watch *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct fd_entry *e = w[i].e;
        spin_lock(&e->lock);
        bool moved = e->gen != w[i].gen || e->dir[w[i].dir].seq != w[i].seq;
        if (!moved) {
            w[i].node.thread = self;
            w[i].node.token = token;
            fd_dir_watch_locked(&e->dir[w[i].dir], &w[i].node);
        }
        spin_unlock(&e->lock);
        if (moved) {
            unwatch_all(w, i);
            return false;
        }
    }
    return true;
}

/* A wait the running thread prepared but will not park for: end it. If a
 * waker won the token first, it has made the thread ready, and that must
 * be consumed by blocking (it returns at once) before any later wait. */
static void wait_abandon(struct capri_thread *self, uint32_t token)
{
    uint32_t expected = token;
    if (!cas_acq_rel(&self->token, &expected, TOKEN_WOKEN_BY(token, WAKE_SIGNALED)))
        wait_park(self, token, NULL, DEADLINE_NONE, false);
}

enum { POLL_CLOSED = -2 };

/*
 * poll on capri thread of s until `deadline` (CLOCK_MONOTONIC ns,
 * DEADLINE_NONE: none). With stop_on_close, returns POLL_CLOSED when a
 * descriptor is closed or its number reused while the thread waits
 * (capri_fd_wait), instead of polling the new one. Cancellation is acted
 * on when `cancel_here`; otherwise a cancel returns -1 with ECANCELED.
 */
static int poll_capri(struct capri_sched *s, struct pollfd *fds, nfds_t nfds, uint64_t deadline,
                      bool stop_on_close, bool cancel_here)
{
    int result = IO_NEXT(poll)(fds, nfds, 0);
    if (result != 0 || (deadline != DEADLINE_NONE && clock_now_ns() >= deadline))
        return result;
    /* nfds is at most RLIMIT_NOFILE here (poll said EINVAL otherwise). */
    size_t n = watch_count(fds, nfds);
    struct watch stack_watches[POLL_STACK_WATCHES];
    struct watch *w = stack_watches;
    if (n > POLL_STACK_WATCHES && !(w = malloc(n * sizeof *w)))
        return poll_until(fds, nfds, deadline); /* no memory to park: block */
    int err = plan(s, fds, nfds, w);
    if (err) {
        result = poll_until(fds, nfds, deadline);
        goto out;
    }
    struct capri_thread *self = s->current;
    for (size_t i = 0; i < n; i++)
        w[i].gen = load_acquire(&w[i].e->gen);
    for (;;) {
        bool closed = false;
        for (size_t i = 0; i < n; i++) {
            closed |= load_acquire(&w[i].e->gen) != w[i].gen;
            w[i].seq = load_acquire(&w[i].e->dir[w[i].dir].seq);
            w[i].node.linked = 0;
        }
        if (closed && stop_on_close) {
            result = POLL_CLOSED;
            break;
        }
        if (closed) { /* the number names another description: watch that */
            for (size_t i = 0; i < n && !err; i++)
                if (load_acquire(&w[i].e->gen) != w[i].gen) {
                    err = io_watchable(s, w[i].fd, w[i].e); /* in no epoll set yet */
                    w[i].gen = load_acquire(&w[i].e->gen);
                }
            if (err) {
                result = poll_until(fds, nfds, deadline);
                break;
            }
        }
        result = IO_NEXT(poll)(fds, nfds, 0);
        if (result != 0 || (deadline != DEADLINE_NONE && clock_now_ns() >= deadline))
            break;
        uint32_t token = wait_prepare(self, NULL);
        if (!watch_all(self, token, w, n)) {
            wait_abandon(self, token);
            continue;
        }
        struct intr_waiter intr;
        intr_park_begin(s, &intr, self, token, true); /* never restarted */
        int why = wait_park(self, token, NULL, deadline, true);
        intr_park_end(&intr);
        unwatch_all(w, n);
        if (why == WAKE_INTERRUPTED) {
            errno = EINTR;
            result = -1;
            break;
        }
        if (why == WAKE_CANCELED) {
            if (!cancel_here) {
                errno = ECANCELED;
                result = -1;
                break;
            }
            thread_test_cancel(self); /* returns only when cancellation is disabled */
        }
    }
out:
    if (w != stack_watches)
        free(w);
    return result;
}

static uint64_t deadline_after_ms(int timeout)
{
    return timeout < 0 ? DEADLINE_NONE : clock_deadline_after((uint64_t)timeout * 1000000u);
}

static bool timespec_valid(const struct timespec *ts)
{
    return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

static uint64_t deadline_after_timespec(const struct timespec *ts)
{
    if (!ts)
        return DEADLINE_NONE;
    /* Past about 292 years the sum overflows: treat as no deadline. */
    if ((uint64_t)ts->tv_sec >= UINT64_MAX / 1000000000u / 2)
        return DEADLINE_NONE;
    return clock_deadline_after((uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec);
}

/* Whether `mask` is the calling kernel thread's signal mask already. A
 * capri thread cannot have a mask of its own while parked (masks are per
 * kernel thread, shared by every thread of a scheduler), so a ppoll or
 * pselect that asks for another one is libc's, which applies it
 * atomically with the wait, as the program relies on. The kernel's masks
 * are the first 64 bits of a sigset_t; read raw, they cost 8 bytes of a
 * thread's small stack, not glibc's 128-byte set. */
static bool mask_is_current(const sigset_t *mask)
{
    if (!mask)
        return true;
    uint64_t current, wanted;
    if (sys_call6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&current, sizeof current, 0, 0) != 0)
        return false;
    memcpy(&wanted, mask, sizeof wanted);
    /* glibc keeps its own two signals (32 and 33) out of every mask it
     * installs: ignore them both ways. */
    const uint64_t glibc_own = 3ull << 31;
    return ((current ^ wanted) & ~glibc_own) == 0;
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    struct capri_sched *s;
    if (timeout != 0 && (s = io_sched()) != NULL)
        return poll_capri(s, fds, nfds, deadline_after_ms(timeout), false, true);
    return IO_NEXT(poll)(fds, nfds, timeout);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
void __chk_fail(void) __attribute__((noreturn));

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < nfds)
        __chk_fail();
    return poll(fds, nfds, timeout);
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *ts, const sigset_t *mask)
{
    struct capri_sched *s;
    if (!(ts && ts->tv_sec == 0 && ts->tv_nsec == 0) && (s = io_sched()) != NULL &&
        mask_is_current(mask)) {
        if (ts && !timespec_valid(ts)) {
            errno = EINVAL;
            return -1;
        }
        return poll_capri(s, fds, nfds, deadline_after_timespec(ts), false, true);
    }
    return IO_NEXT(ppoll)(fds, nfds, ts, mask);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *ts, const sigset_t *mask,
                size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *ts, const sigset_t *mask,
                size_t fdslen)
{
    if (fdslen / sizeof *fds < nfds)
        __chk_fail();
    return ppoll(fds, nfds, ts, mask);
}

/* ---- select and pselect: the same through a pollfd array ------------------ */

/* fd_set bits addressed directly: glibc's select takes nfds past
 * FD_SETSIZE (the program then allocates larger sets), which FD_ISSET
 * under _FORTIFY_SOURCE would refuse. */
#define SET_WORD_BITS (8 * sizeof(unsigned long))

static bool set_has(const fd_set *set, int fd)
{
    return set && (((const unsigned long *)(const void *)set)[fd / SET_WORD_BITS] >>
                   (fd % SET_WORD_BITS)) & 1u;
}

static void set_clear(fd_set *set, int fd)
{
    if (set)
        ((unsigned long *)(void *)set)[fd / SET_WORD_BITS] &= ~(1ul << (fd % SET_WORD_BITS));
}

static void set_zero(fd_set *set, int nfds)
{
    if (set)
        memset(set, 0, (size_t)(nfds + SET_WORD_BITS - 1) / SET_WORD_BITS * sizeof(unsigned long));
}

#define SELECT_STACK_FDS 8

/* select on a capri thread until deadline: the sets become a pollfd array
 * and back, with select's meaning of each revents bit (as the kernel's
 * select: readable on POLLIN, POLLHUP or POLLERR, writable on POLLOUT or
 * POLLERR, exceptional on POLLPRI; a closed descriptor is EBADF). */
static int select_capri(struct capri_sched *s, int nfds, fd_set *r, fd_set *w, fd_set *x,
                        uint64_t deadline)
{
    size_t count = 0;
    for (int fd = 0; fd < nfds; fd++)
        count += set_has(r, fd) || set_has(w, fd) || set_has(x, fd);
    struct pollfd stack_fds[SELECT_STACK_FDS];
    struct pollfd *p = stack_fds;
    if (count > SELECT_STACK_FDS && !(p = malloc(count * sizeof *p))) {
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((set_has(r, fd) ? POLLIN : 0) | (set_has(w, fd) ? POLLOUT : 0) |
                           (set_has(x, fd) ? POLLPRI : 0));
        if (ev)
            p[k++] = (struct pollfd){ fd, ev, 0 };
    }
    int res = poll_capri(s, p, (nfds_t)k, deadline, false, true);
    if (res > 0) {
        res = 0;
        for (size_t i = 0; i < k && res >= 0; i++)
            if (p[i].revents & POLLNVAL) {
                errno = EBADF;
                res = -1;
            }
        for (size_t i = 0; i < k && res >= 0; i++) {
            int fd = p[i].fd;
            short re = p[i].revents;
            bool readable = set_has(r, fd) && (re & (POLLIN | POLLHUP | POLLERR));
            bool writable = set_has(w, fd) && (re & (POLLOUT | POLLERR));
            bool exceptional = set_has(x, fd) && (re & POLLPRI);
            if (!readable)
                set_clear(r, fd);
            if (!writable)
                set_clear(w, fd);
            if (!exceptional)
                set_clear(x, fd);
            res += readable + writable + exceptional;
        }
    } else if (res == 0) {
        set_zero(r, nfds);
        set_zero(w, nfds);
        set_zero(x, nfds);
    }
    if (p != stack_fds)
        free(p);
    return res;
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
    struct capri_sched *s;
    if (nfds >= 0 && !(tv && tv->tv_sec == 0 && tv->tv_usec == 0) && (s = io_sched()) != NULL) {
        if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)) {
            errno = EINVAL;
            return -1;
        }
        struct timespec ts;
        if (tv)
            ts = (struct timespec){ tv->tv_sec, tv->tv_usec * 1000 };
        uint64_t deadline = deadline_after_timespec(tv ? &ts : NULL);
        int res = select_capri(s, nfds, r, w, x, deadline);
        if (tv && deadline != DEADLINE_NONE) { /* Linux writes back the time left */
            uint64_t now = clock_now_ns(), left = deadline > now ? deadline - now : 0;
            tv->tv_sec = (time_t)(left / 1000000000u);
            tv->tv_usec = (suseconds_t)(left % 1000000000u / 1000u);
        }
        return res;
    }
    return IO_NEXT(select)(nfds, r, w, x, tv);
}

int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
            const sigset_t *mask)
{
    struct capri_sched *s;
    if (nfds >= 0 && !(ts && ts->tv_sec == 0 && ts->tv_nsec == 0) &&
        (s = io_sched()) != NULL && mask_is_current(mask)) {
        if (ts && !timespec_valid(ts)) {
            errno = EINVAL;
            return -1;
        }
        return select_capri(s, nfds, r, w, x, deadline_after_timespec(ts));
    }
    return IO_NEXT(pselect)(nfds, r, w, x, ts, mask);
}

/* ---- capri_fd_wait ------------------------------------------------------- */

static int fd_events_of(short revents)
{
    return ((revents & (POLLIN | POLLPRI | POLLRDNORM)) ? CAPRI_FD_READ : 0) |
           ((revents & POLLOUT) ? CAPRI_FD_WRITE : 0) |
           ((revents & (POLLHUP | POLLRDHUP)) ? CAPRI_FD_HUP : 0) |
           ((revents & POLLERR) ? CAPRI_FD_ERR : 0);
}

int capri_fd_wait(int fd, int events, int64_t deadline_ns)
{
    if (fd < 0)
        return -EBADF;
    if (events & ~(CAPRI_FD_READ | CAPRI_FD_WRITE))
        return -EINVAL;
    struct pollfd p = { fd, (short)(((events & CAPRI_FD_READ) ? POLLIN | POLLRDHUP : 0) |
                                    ((events & CAPRI_FD_WRITE) ? POLLOUT : 0)), 0 };
    uint64_t deadline = deadline_ns < 0 ? DEADLINE_NONE : (uint64_t)deadline_ns;
    struct capri_sched *s = io_sched();
    int r = s ? poll_capri(s, &p, 1, deadline, true, false) : poll_until(&p, 1, deadline);
    if (r == POLL_CLOSED)
        return -EBADF;
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    if (p.revents & POLLNVAL)
        return -EBADF;
    return fd_events_of(p.revents);
}
