/*
 * Parking on a descriptor (io_wait.h).
 */
#include "io_wait.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "clock.h"
#include "intr.h"
#include "reactor.h"
#include "sys.h"
#include "thread.h"
#include "wait.h"

/* Whether the program itself made the description non-blocking: known for
 * descriptors made or changed through the interposed calls, read once with
 * F_GETFL for the others (before their first park only). */
static bool user_nonblocking(int fd, struct fd_entry *e)
{
    if (likely(load_acquire(&e->user_nonblock_known)))
        return load_relaxed(&e->user_nonblock);
    long fl = sys_call6(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
    if (fl < 0)
        return false;
    bool nb = (fl & O_NONBLOCK) && !load_relaxed(&e->capri_nonblock);
    store_relaxed(&e->user_nonblock, (uint8_t)nb);
    store_release(&e->user_nonblock_known, (uint8_t)1);
    return nb;
}

/* Whether e is registered with a live reactor (its lock held). */
static bool registered_locked(const struct fd_entry *e)
{
    uint32_t index = load_relaxed(&e->reactor);
    if (!load_relaxed(&e->registered) || index >= load_acquire(&capri_rt.nscheds))
        return false;
    const struct reactor *r = &capri_rt.scheds[index].reactor;
    return load_relaxed(&r->gen) == load_relaxed(&e->reactor_gen) && load_relaxed(&r->live);
}

int io_watchable(struct capri_sched *s, int fd, struct fd_entry *e)
{
    spin_lock(&e->lock);
    bool known = registered_locked(e);
    spin_unlock(&e->lock);
    return known ? 0 : reactor_register(s, fd, e);
}

int io_park(struct capri_sched *s, int fd, struct fd_entry *e, enum fd_dir_index dir,
            struct io_snap snap, uint64_t deadline)
{
    if (user_nonblocking(fd, e))
        return EAGAIN;
    struct capri_thread *self = s->current;
    struct fd_dir *d = &e->dir[dir];
    struct wait_node node;
    spin_lock(&e->lock);
    if (!registered_locked(e)) {
        /* Registered once, outside the lock (a system call); anything
         * that happened meanwhile shows in the checks below. */
        spin_unlock(&e->lock);
        int err = reactor_register(s, fd, e);
        if (err)
            return err;
        spin_lock(&e->lock);
    }
    if (e->gen != snap.gen) {
        spin_unlock(&e->lock);
        return EBADF;
    }
    if (d->seq != snap.seq) {
        spin_unlock(&e->lock);
        return 0;
    }
    uint32_t token = wait_prepare(self, &node);
    if (!d->owner) {
        d->owner = &node;
        node.linked = 1;
    } else {
        fd_dir_push_locked(d, &node);
    }
    /* A socket timeout makes the wait one any handler ends (as the kernel
     * never restarts it); otherwise only a handler without SA_RESTART. */
    struct intr_waiter intr;
    intr_park_begin(s, &intr, self, token, deadline != DEADLINE_NONE);
    int why = wait_park(self, token, &e->lock, deadline, true);
    intr_park_end(&intr);
    if (why == WAKE_SIGNALED)
        return load_acquire(&e->gen) != snap.gen ? EBADF : 0;
    /* Timed out, cancelled or interrupted: leave. An owner leaving hands
     * its place to the next in line, which may have an event to see. */
    spin_lock(&e->lock);
    if (d->owner == &node) {
        d->owner = NULL;
        fd_dir_wake_next_locked(d);
    } else {
        fd_dir_unlink_locked(d, &node);
    }
    spin_unlock(&e->lock);
    return why == WAKE_TIMEOUT ? ETIMEDOUT : why == WAKE_INTERRUPTED ? EINTR : ECANCELED;
}

/* SO_RCVTIMEO / SO_SNDTIMEO of a socket, read once (setsockopt keeps them
 * current afterwards). */
uint64_t io_socket_timeout(int fd, struct fd_entry *e, enum fd_dir_index dir)
{
    if (!load_acquire(&e->timeouts_known)) {
        struct timeval tv;
        socklen_t len = sizeof tv;
        uint64_t r = 0, w = 0;
        if (sys_call6(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, (long)&len, 0) == 0)
            r = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
        len = sizeof tv;
        if (sys_call6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, (long)&len, 0) == 0)
            w = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
        store_relaxed(&e->rcvtimeo_ns, r);
        store_relaxed(&e->sndtimeo_ns, w);
        store_release(&e->timeouts_known, (uint8_t)1);
    }
    return load_relaxed(dir == FD_READ ? &e->rcvtimeo_ns : &e->sndtimeo_ns);
}

int io_park_outcome(struct capri_sched *s, int w, int *err)
{
    switch (w) {
    case 0:
        return 0;
    case ETIMEDOUT:
    case EAGAIN:
        *err = EAGAIN;
        return 1;
    case EBADF:
    case EINTR:
        *err = w;
        return 1;
    case ECANCELED:
        thread_test_cancel(s->current); /* returns only when cancellation is disabled */
        return 0;
    default:
        return -1; /* cannot be watched: block as libc would */
    }
}

uint64_t io_deadline(uint64_t timeout_ns)
{
    if (timeout_ns == 0)
        return DEADLINE_NONE;
    return clock_now_ns() + timeout_ns;
}
