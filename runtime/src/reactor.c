/*
 * The reactor (reactor.h).
 */
#include "reactor.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#include "clock.h"
#include "fd_table.h"
#include "io_pool.h"
#include "io_uring.h"
#include "log.h"
#include "scheduler.h"
#include "sys.h"

/*
 * The interposers must be linked whenever the reactor is. A static link
 * takes an archive member only for a symbol still undefined, and a
 * sanitizer's runtime, linked first, already defines read, write and the
 * rest (weakly): without these references libcapri.a's files would be left
 * out and the program's calls would reach the sanitizer and libc directly.
 */
extern const int io_stream_linked, io_fd_linked, io_sleep_linked, io_open_linked, io_poll_linked,
    io_spawn_linked, io_file_linked;
__attribute__((used)) static const int *const interposers_linked[] = {
    &io_stream_linked, &io_fd_linked, &io_sleep_linked, &io_open_linked, &io_poll_linked,
    &io_spawn_linked, &io_file_linked,
};

#define EPOLL_WATCH (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET)
#define WAKE_DATA UINT64_MAX

static long sys_epoll_ctl(int epfd, int op, int fd, struct reactor_event *ev)
{
    return sys_call6(SYS_epoll_ctl, epfd, op, fd, (long)ev, 0, 0);
}

static long sys_close(int fd) { return sys_call6(SYS_close, fd, 0, 0, 0, 0, 0); }

bool reactor_init(struct capri_sched *s)
{
    struct reactor *r = &s->reactor;
    r->live = 0;
    r->epfd = r->wakefd = -1;
    r->registrations = 0;
    long ep = sys_call6(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0, 0, 0, 0);
    if (ep < 0)
        return false;
    /* Never read: each write is an edge, and an edge is all a wake needs. */
    long wfd = sys_call6(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
    if (wfd < 0) {
        sys_close((int)ep);
        return false;
    }
    struct reactor_event ev = { EPOLLIN | EPOLLET, WAKE_DATA };
    if (sys_epoll_ctl((int)ep, EPOLL_CTL_ADD, (int)wfd, &ev) < 0) {
        sys_close((int)wfd);
        sys_close((int)ep);
        return false;
    }
    r->epfd = (int)ep;
    r->wakefd = (int)wfd;
    store_release(&r->live, 1u);
    r->gen++;
    r->registrations = 0;
    r->since_poll = 0;
    return true;
}

void reactor_close(struct capri_sched *s)
{
    struct reactor *r = &s->reactor;
    if (!r->live)
        return;
    store_relaxed(&r->live, 0u);
    sys_close(r->epfd);
    sys_close(r->wakefd);
    r->epfd = r->wakefd = -1;
    r->gen++;
    r->registrations = 0;
}

void reactor_reinit_after_fork(struct capri_sched *s)
{
    reactor_close(s);
    if (!reactor_init(s))
        capri_warn("no epoll instance in the forked child: its blocking calls block its kernel thread");
}

int reactor_register(struct capri_sched *s, int fd, struct fd_entry *e)
{
    struct reactor *r = &s->reactor;
    if (!r->live)
        return ENOSYS;
    uint32_t gen = load_relaxed(&e->gen);
    struct reactor_event ev = { EPOLL_WATCH, (uint64_t)(uint32_t)fd | (uint64_t)gen << 32 };
    long rc = sys_epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc == -EEXIST)
        rc = sys_epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0)
        return (int)-rc;
    spin_lock(&e->lock);
    if (e->gen == gen) {
        store_relaxed(&e->reactor, s->index);
        store_relaxed(&e->reactor_gen, r->gen);
        store_relaxed(&e->registered, (uint8_t)1);
    }
    spin_unlock(&e->lock);
    store_relaxed(&r->registrations, r->registrations + 1); /* the monitor reads it */
    return 0;
}

void reactor_forget(uint32_t index, uint32_t gen, int fd)
{
    if (index >= load_acquire(&capri_rt.nscheds))
        return;
    struct reactor *r = &capri_rt.scheds[index].reactor;
    if (r->gen != gen || !r->live)
        return;
    struct reactor_event ev = { 0, 0 };
    sys_epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, &ev);
}

static void dispatch(const struct reactor_event *ev)
{
    int fd = (int)(uint32_t)ev->data;
    uint32_t gen = (uint32_t)(ev->data >> 32);
    struct fd_entry *e = fd_entry(fd, false);
    if (!e)
        return;
    uint32_t bits = ev->events;
    bool broken = (bits & (EPOLLERR | EPOLLHUP)) != 0;
    spin_lock(&e->lock);
    if (e->gen == gen) {
        /* The end of the stream or an error is reported once, with the
         * edge; reads that come after it must not count on another
         * (io_stream.c's drained reads). */
        if (broken || (bits & EPOLLRDHUP))
            store_relaxed(&e->dir[FD_READ].ended, (uint8_t)1);
        if (broken || (bits & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)))
            fd_dir_ready_locked(&e->dir[FD_READ]);
        if (broken || (bits & EPOLLOUT))
            fd_dir_ready_locked(&e->dir[FD_WRITE]);
    }
    spin_unlock(&e->lock);
}

int reactor_poll(struct capri_sched *s, uint64_t deadline)
{
    struct reactor *r = &s->reactor;
    r->since_poll = 0;
    struct timespec ts = { 0, 0 }, *tsp = &ts;
    if (deadline == UINT64_MAX) {
        tsp = NULL;
    } else if (deadline != 0) {
        uint64_t now = clock_now_ns();
        uint64_t wait = deadline > now ? deadline - now : 0;
        ts.tv_sec = (time_t)(wait / 1000000000u);
        ts.tv_nsec = (long)(wait % 1000000000u);
    }
    long n = sys_call6(SYS_epoll_pwait2, r->epfd, (long)r->events, REACTOR_EVENTS, (long)tsp, 0,
                       0);
    if (n == -ENOSYS) {
        /* Before Linux 5.11: milliseconds, rounded up. */
        long ms = !tsp ? -1 : (long)(ts.tv_sec * 1000 + (ts.tv_nsec + 999999) / 1000000);
        n = sys_call6(SYS_epoll_pwait, r->epfd, (long)r->events, REACTOR_EVENTS, ms, 0, 0);
    }
    int fds = 0;
    bool ring = n < 0; /* interrupted: io_uring's completion work may have run */
    bool pool = false;
    for (long i = 0; i < n; i++) {
        if (r->events[i].data == WAKE_DATA)
            continue;
        if (r->events[i].data == IO_RING_DATA) {
            ring = true;
            continue;
        }
        if (r->events[i].data == IO_POOL_DATA) {
            pool = true;
            continue;
        }
        dispatch(&r->events[i]);
        fds++;
    }
    if (ring)
        io_ring_reap(s); /* file reads completed (io_uring.c) */
    if (pool)
        io_pool_reap(s); /* file reads the pool finished (io_pool.c) */
    if (unlikely(load_relaxed(&io_pool_start_wanted)))
        io_pool_serve(); /* on this context's stack, not a thread's (io_pool.c) */
    return fds;
}

int reactor_poll_borrowed(struct capri_sched *s, struct reactor_event *events, int capacity)
{
    /* Never waits: another kernel thread may wait on the same epoll
     * instance meanwhile (its owner, back from the kernel), and the kernel
     * hands each edge to one of the two. */
    long n = sys_call6(SYS_epoll_pwait, s->reactor.epfd, (long)events, capacity, 0, 0, 0);
    int fds = 0;
    for (long i = 0; i < n; i++) {
        if (events[i].data == WAKE_DATA) {
            /* Its owner may have gone to sleep since the monitor looked:
             * the edge taken here must reach it (one more write). */
            reactor_wake(s);
            continue;
        }
        /* A file read's completion edge taken here is not seen again by
         * the owner: reap it here (both reapers take locks for that). */
        if (events[i].data == IO_RING_DATA) {
            io_ring_reap(s);
            continue;
        }
        if (events[i].data == IO_POOL_DATA) {
            io_pool_reap(s);
            continue;
        }
        dispatch(&events[i]);
        fds++;
    }
    return fds;
}

int reactor_next_own_fd(unsigned from)
{
    long best = -1;
    uint32_t n = capri_rt.sched_capacity;
    for (uint32_t i = 0; i < n; i++) {
        const struct reactor *r = &capri_rt.scheds[i].reactor;
        if (!load_acquire(&r->live))
            continue;
        int own[2] = { r->epfd, r->wakefd };
        for (int k = 0; k < 2; k++)
            if (own[k] >= 0 && (unsigned)own[k] >= from && (best < 0 || own[k] < best))
                best = own[k];
    }
    return (int)best;
}

void reactor_wake(struct capri_sched *s)
{
    uint64_t one = 1;
    sys_write(s->reactor.wakefd, &one, sizeof one);
}
