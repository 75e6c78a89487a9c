/*
 * The calls that make, change and end descriptors, and the two data calls
 * that need O_NONBLOCK (accept, connect): docs/io-design.md, "How a call
 * runs on a capri thread" and "The descriptor table".
 *
 * Creation records the descriptor in the table from any thread (outside
 * signal handlers, which must not allocate), so a capri thread that uses
 * it later knows its kind without asking the kernel. Closing wakes the
 * capri threads parked on it with EBADF.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "io_next.h"
#include "io_wait.h"
#include "io_pool.h"
#include "io_uring.h"
#include "reactor.h"
#include "sys.h"
#include "thread.h"

/* reactor.c refers to this, so a static link always takes this file (see there). */
const int io_fd_linked = 1;

int socket(int domain, int type, int protocol)
{
    int fd = IO_NEXT(socket)(domain, type, protocol);
    io_made(fd, FD_SOCKET, (type & SOCK_NONBLOCK) != 0);
    return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
    int r = IO_NEXT(socketpair)(domain, type, protocol, sv);
    if (r == 0) {
        io_made(sv[0], FD_SOCKET, (type & SOCK_NONBLOCK) != 0);
        io_made(sv[1], FD_SOCKET, (type & SOCK_NONBLOCK) != 0);
    }
    return r;
}

int pipe2(int fds[2], int flags)
{
    int r = IO_NEXT(pipe2)(fds, flags);
    if (r == 0) {
        io_made(fds[0], FD_NOWAIT, (flags & O_NONBLOCK) != 0);
        io_made(fds[1], FD_NOWAIT, (flags & O_NONBLOCK) != 0);
    }
    return r;
}

int pipe(int fds[2])
{
    int r = IO_NEXT(pipe)(fds);
    if (r == 0) {
        io_made(fds[0], FD_NOWAIT, false);
        io_made(fds[1], FD_NOWAIT, false);
    }
    return r;
}

/* ---- O_NONBLOCK where capri needs it -------------------------------------------- */

static long flags_of(int fd) { return sys_call6(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0); }

/* Sets O_NONBLOCK on a descriptor this process created, for accept and
 * connect, which have no per-call flag. */
static bool capri_set_nonblock(int fd, struct fd_entry *e)
{
    if (load_relaxed(&e->capri_nonblock)) {
        if (likely(!load_relaxed(&e->flag_unsure)))
            return true;
        /* Since a fork: a child that exec'd with the description may
         * have cleared the flag, and must keep finding it cleared. */
        long fl = flags_of(fd);
        if (fl >= 0 && (fl & O_NONBLOCK))
            return true;
        store_relaxed(&e->exported, (uint8_t)1);
        store_relaxed(&e->capri_nonblock, (uint8_t)0);
        return false;
    }
    if (load_relaxed(&e->in_stdio) || load_relaxed(&e->exported))
        return false;
    long fl = flags_of(fd);
    if (fl < 0)
        return false;
    if (fl & O_NONBLOCK) { /* the program's own (set behind our back) */
        store_relaxed(&e->user_nonblock, (uint8_t)1);
        store_release(&e->user_nonblock_known, (uint8_t)1);
        return true;
    }
    if (sys_call6(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK, 0, 0, 0) < 0)
        return false;
    store_relaxed(&e->capri_nonblock, (uint8_t)1);
    store_relaxed(&e->user_nonblock, (uint8_t)0);
    store_release(&e->user_nonblock_known, (uint8_t)1);
    return true;
}

static void capri_clear_nonblock(int fd, struct fd_entry *e)
{
    if (!load_relaxed(&e->capri_nonblock))
        return;
    long fl = flags_of(fd);
    if (fl >= 0)
        sys_call6(SYS_fcntl, fd, F_SETFL, fl & ~(long)O_NONBLOCK, 0, 0, 0);
    store_relaxed(&e->capri_nonblock, (uint8_t)0);
}

static bool user_nonblock_known_set(const struct fd_entry *e)
{
    return load_acquire(&e->user_nonblock_known) && load_relaxed(&e->user_nonblock);
}

/* ---- accept ------------------------------------------------------------------------- */

static int accept_capri(struct capri_sched *s, int fd, struct fd_entry *e, struct sockaddr *addr,
                        socklen_t *alen, int flags, bool *blocking)
{
    /* A listening socket made here is only ever accepted on: it keeps the
     * flag. One inherited (systemd's, a parent's) is shared with another
     * process: wait for readiness, then accept as libc would. */
    bool own = load_relaxed(&e->created) && capri_set_nonblock(fd, e);
    if (user_nonblock_known_set(e)) {
        *blocking = true;
        return -1;
    }
    uint64_t deadline = 0;
    for (;;) {
        struct io_snap snap = io_snapshot(e, FD_READ);
        int r = -1;
        errno = EAGAIN;
        if (own) {
            /* A fork or exec since the last try may have cleared the flag. */
            nonblock_gate_enter();
            bool flagged = capri_set_nonblock(fd, e) && !load_relaxed(&e->user_nonblock);
            if (flagged)
                r = IO_NEXT(accept4)(fd, addr, alen, flags);
            nonblock_gate_leave();
            if (!flagged) {
                if (user_nonblock_known_set(e)) { /* the program's flag now */
                    *blocking = true;
                    return -1;
                }
                own = false; /* handed to stdio: wait, then accept as libc */
            }
        }
        if (!own) {
            /* No flag to try with: ask whether a connection (or the end)
             * is there already, since its edge may have come and gone;
             * the snapshot above catches one that comes after. */
            struct pollfd p = { fd, POLLIN, 0 };
            if (sys_call6(SYS_poll, (long)&p, 1, 0, 0, 0, 0) > 0) {
                *blocking = true; /* ready: accept as libc would */
                return -1;
            }
        }
        if (r >= 0 || errno != EAGAIN) {
            io_done(e, FD_READ);
            if (r >= 0) {
                fd_created(r, FD_SOCKET, true, (flags & SOCK_NONBLOCK) != 0);
                /* The kernel copies the listener's timeouts to the new socket. */
                struct fd_entry *n = fd_entry(r, true);
                if (n && load_acquire(&e->timeouts_known)) {
                    store_relaxed(&n->rcvtimeo_ns, load_relaxed(&e->rcvtimeo_ns));
                    store_relaxed(&n->sndtimeo_ns, load_relaxed(&e->sndtimeo_ns));
                    store_release(&n->timeouts_known, (uint8_t)1);
                }
            }
            return r;
        }
        /* The listener's SO_RCVTIMEO bounds the wait, as the kernel's
         * accept: EAGAIN when it runs out. */
        if (!deadline)
            deadline = io_deadline(io_socket_timeout(fd, e, FD_READ));
        int w = io_park(s, fd, e, FD_READ, snap, deadline);
        int err = 0;
        int o = io_park_outcome(s, w, &err);
        if (o == 0) {
            if (w == 0 && !own) { /* readable: accept as libc would */
                *blocking = true;
                return -1;
            }
            continue;
        }
        if (o > 0) {
            errno = err;
            return -1;
        }
        *blocking = true;
        return -1;
    }
}

int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && (e = fd_entry(fd, true))) {
        bool blocking = false;
        int r = accept_capri(s, fd, e, addr, alen, flags, &blocking);
        if (!blocking)
            return r;
    }
    int r = IO_NEXT(accept4)(fd, addr, alen, flags);
    io_made(r, FD_SOCKET, (flags & SOCK_NONBLOCK) != 0);
    return r;
}

int accept(int fd, struct sockaddr *addr, socklen_t *alen) { return accept4(fd, addr, alen, 0); }

/* ---- connect ------------------------------------------------------------------------ */

static int connect_capri(struct capri_sched *s, int fd, struct fd_entry *e,
                         const struct sockaddr *addr, socklen_t alen, bool *blocking)
{
    if (!load_relaxed(&e->created) || user_nonblock_known_set(e) || !capri_set_nonblock(fd, e) ||
        load_relaxed(&e->user_nonblock)) {
        *blocking = true;
        return -1;
    }
    uint64_t backoff = 1000000; /* a UNIX socket's full backlog: 1 ms, doubling */
    int r, err;
    for (;;) {
        nonblock_gate_enter();
        if (!capri_set_nonblock(fd, e) || load_relaxed(&e->user_nonblock)) {
            /* Handed to stdio or made non-blocking meanwhile: libc's. */
            nonblock_gate_leave();
            *blocking = true;
            return -1;
        }
        r = IO_NEXT(connect)(fd, addr, alen);
        err = r == 0 ? 0 : errno;
        /* The connection proceeds without the flag; only the try needed it. */
        if (r == 0 || err != EAGAIN)
            capri_clear_nonblock(fd, e);
        nonblock_gate_leave();
        if (r == 0 || err != EAGAIN)
            break;
        capri_sleep_ns(backoff);
        if (backoff < 64000000)
            backoff *= 2;
    }
    if (err != EINPROGRESS) {
        errno = err;
        return r;
    }
    uint64_t deadline = 0;
    for (;;) {
        struct io_snap snap = io_snapshot(e, FD_WRITE);
        int soerr = 0;
        socklen_t len = sizeof soerr;
        struct pollfd p = { fd, POLLOUT, 0 };
        if (sys_call6(SYS_poll, (long)&p, 1, 0, 0, 0, 0) > 0) {
            if (sys_call6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&soerr, (long)&len, 0) < 0)
                soerr = errno;
            io_done(e, FD_WRITE);
            if (soerr) {
                errno = soerr;
                return -1;
            }
            return 0;
        }
        if (!deadline)
            deadline = io_deadline(io_socket_timeout(fd, e, FD_WRITE));
        int w = io_park(s, fd, e, FD_WRITE, snap, deadline);
        int fail = 0;
        int o = io_park_outcome(s, w, &fail);
        if (o == 0)
            continue;
        /* A timeout leaves the connection in progress, as the kernel's. */
        errno = o < 0 ? w : fail == EAGAIN ? EINPROGRESS : fail;
        return -1;
    }
}

int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && (e = fd_entry(fd, true))) {
        bool blocking = false;
        int r = connect_capri(s, fd, e, addr, alen, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(connect)(fd, addr, alen);
}

/* ---- sendfile ----------------------------------------------------------------------- */

/*
 * sendfile has no per-call non-blocking flag: on a socket this process
 * created, capri sets O_NONBLOCK (kept until fdopen hands the socket to
 * stdio, below) and parks while the socket is full. Every byte asked for
 * is sent, as on a blocking socket, or the count sent before an error.
 */
static ssize_t sendfile_capri(struct capri_sched *s, int out, struct fd_entry *e, int in,
                              off_t *offset, size_t count, bool *blocking)
{
    if (load_relaxed(&e->kind) != FD_SOCKET || !load_relaxed(&e->created) ||
        user_nonblock_known_set(e) || !capri_set_nonblock(out, e) ||
        load_relaxed(&e->user_nonblock)) {
        *blocking = true;
        return -1;
    }
    size_t done = 0;
    uint64_t deadline = 0;
    while (done < count) {
        struct io_snap snap = io_snapshot(e, FD_WRITE);
        nonblock_gate_enter(); /* a fork or exec may have cleared the flag */
        if (!capri_set_nonblock(out, e) || load_relaxed(&e->user_nonblock)) {
            nonblock_gate_leave(); /* handed to stdio or made non-blocking meanwhile */
            if (done)
                return (ssize_t)done;
            *blocking = true;
            return -1;
        }
        ssize_t r = IO_NEXT(sendfile)(out, in, offset, count - done);
        nonblock_gate_leave();
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0)
            break; /* end of the input file */
        if (errno != EAGAIN) {
            io_done(e, FD_WRITE);
            return done ? (ssize_t)done : -1;
        }
        if (!deadline)
            deadline = io_deadline(io_socket_timeout(out, e, FD_WRITE));
        int w = io_park(s, out, e, FD_WRITE, snap, deadline);
        int err = 0;
        int o = io_park_outcome(s, w, &err);
        if (o == 0)
            continue;
        if (done)
            return (ssize_t)done;
        errno = o < 0 ? w : err;
        return -1;
    }
    io_done(e, FD_WRITE);
    return (ssize_t)done;
}

ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && count > 0 && (e = fd_entry(out, true))) {
        bool blocking = false;
        ssize_t r = sendfile_capri(s, out, e, in, offset, count, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(sendfile)(out, in, offset, count);
}

ssize_t sendfile64(int out, int in, off_t *offset, size_t count);
ssize_t sendfile64(int out, int in, off_t *offset, size_t count)
{
    return sendfile(out, in, offset, count);
}

/* stdio reads and writes the descriptor with libc's internal calls, which
 * libcapri does not see: it must find the flags the program set. */
FILE *fdopen(int fd, const char *mode)
{
    struct fd_entry *e = fd_entry(fd, false);
    if (e && io_table_context()) {
        store_relaxed(&e->in_stdio, (uint8_t)1);
        capri_clear_nonblock(fd, e);
    }
    return IO_NEXT(fdopen)(fd, mode);
}

/* ---- close, dup ----------------------------------------------------------------------- */

int close(int fd)
{
    if (io_table_context())
        fd_closing(fd);
    return IO_NEXT(close)(fd);
}

/* close_range and closefrom close numbers wholesale, inside libc: their
 * waiters must be woken and their entries forgotten as for close
 * (CLOSE_RANGE_CLOEXEC only marks them). libcapri's own descriptors (each
 * scheduler's epoll and wake eventfd, the rings and their eventfds, the
 * pool's eventfds) stay open: the range is closed around them. */
/* The smallest descriptor at or above `from` that libcapri holds, or -1. */
static int next_own_fd(unsigned from)
{
    int own[3] = { reactor_next_own_fd(from), io_ring_next_own_fd(from), io_pool_next_own_fd(from) };
    int best = -1;
    for (int i = 0; i < 3; i++)
        if (own[i] >= 0 && (best < 0 || own[i] < best))
            best = own[i];
    return best;
}

static int close_range_around_own(unsigned first, unsigned last, int flags)
{
    if (first <= last && io_table_context() && !(flags & CLOSE_RANGE_CLOEXEC))
        fd_closing_range(first, last);
    int result = 0;
    unsigned lo = first;
    while (lo <= last) {
        int own = next_own_fd(lo);
        unsigned hi = own < 0 || (unsigned)own > last ? last : (unsigned)own - 1;
        if (own < 0 || (unsigned)own != lo) {
            int r = IO_NEXT(close_range)(lo, hi, flags);
            if (r != 0 && result == 0)
                result = r;
            if (r != 0 && errno == ENOSYS)
                return r;
        }
        if (own < 0 || (unsigned)own >= last)
            break;
        lo = (unsigned)own + 1;
    }
    return result;
}

int close_range(unsigned first, unsigned last, int flags)
{
    if (first > last)
        return IO_NEXT(close_range)(first, last, flags); /* its EINVAL */
    return close_range_around_own(first, last, flags);
}

void closefrom(int lowfd)
{
    if (lowfd < 0)
        lowfd = 0;
    int saved = errno;
    if (close_range_around_own((unsigned)lowfd, ~0u, 0) != 0 && errno == ENOSYS) {
        /* Before Linux 5.9: one close per number, up to the limit. */
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = lowfd; fd < max; fd++)
            if (next_own_fd((unsigned)fd) != fd)
                sys_call6(SYS_close, fd, 0, 0, 0, 0, 0);
    }
    errno = saved;
}

void io_each_passed_fd(const struct msghdr *msg, void (*fn)(int fd, void *arg), void *arg)
{
    if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
        return;
    for (const struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)(uintptr_t)msg); c;
         c = CMSG_NXTHDR((struct msghdr *)(uintptr_t)msg, (struct cmsghdr *)(uintptr_t)c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof fd, sizeof fd);
            fn(fd, arg);
        }
    }
}

/* Whatever a received number named before is gone: forget it (kind,
 * flags and the program's O_NONBLOCK are learnt again). */
static void forget_passed(int fd, void *arg)
{
    (void)arg;
    fd_closing(fd);
}

/* Descriptors that arrive in SCM_RIGHTS messages are new numbers libcapri
 * made no call for: each starts afresh, as after open. */
void io_received_fds(const struct msghdr *msg)
{
    if (io_table_context())
        io_each_passed_fd(msg, forget_passed, NULL);
}

/* `to` now names the description `from` names. */
static void copy_entry(int from, int to)
{
    if (!io_table_context())
        return;
    struct fd_entry *a = fd_entry(from, true), *b;
    if (!a)
        return;
    fd_created(to, (enum fd_kind)load_relaxed(&a->kind), load_relaxed(&a->created),
               load_relaxed(&a->user_nonblock));
    if ((b = fd_entry(to, false)) == NULL)
        return;
    store_relaxed(&b->user_nonblock_known, load_relaxed(&a->user_nonblock_known));
    store_relaxed(&b->capri_nonblock, load_relaxed(&a->capri_nonblock));
    store_relaxed(&b->shared, (uint8_t)1);
    store_relaxed(&a->shared, (uint8_t)1);
}

int dup(int fd)
{
    int r = IO_NEXT(dup)(fd);
    if (r >= 0)
        copy_entry(fd, r);
    return r;
}

int dup2(int from, int to)
{
    int r = IO_NEXT(dup2)(from, to);
    if (r >= 0 && from != to) {
        if (io_table_context())
            fd_closing(to);
        copy_entry(from, to);
    }
    return r;
}

int dup3(int from, int to, int flags)
{
    int r = IO_NEXT(dup3)(from, to, flags);
    if (r >= 0) {
        if (io_table_context())
            fd_closing(to);
        copy_entry(from, to);
    }
    return r;
}

/* ---- fcntl, ioctl(FIONBIO), setsockopt ---------------------------------------------- */

static int fcntl_common(int fd, int cmd, void *arg)
{
    struct fd_entry *e = fd_entry(fd, false);
    switch (cmd) {
    case F_GETFL: {
        int r = IO_NEXT(fcntl)(fd, cmd);
        if (r >= 0 && e && load_relaxed(&e->capri_nonblock) && !load_relaxed(&e->user_nonblock))
            r &= ~O_NONBLOCK;
        return r;
    }
    case F_SETFL: {
        long fl = (long)(intptr_t)arg;
        bool want = (fl & O_NONBLOCK) != 0;
        if (e && load_relaxed(&e->capri_nonblock))
            fl |= O_NONBLOCK;
        int r = IO_NEXT(fcntl)(fd, cmd, fl);
        if (r == 0 && io_table_context() && (e || (e = fd_entry(fd, true)))) {
            store_relaxed(&e->user_nonblock, (uint8_t)want);
            store_release(&e->user_nonblock_known, (uint8_t)1);
            store_relaxed(&e->direct, (uint8_t)((fl & O_DIRECT) != 0));
            store_release(&e->direct_known, (uint8_t)1);
        }
        return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int r = IO_NEXT(fcntl)(fd, cmd, arg);
        if (r >= 0)
            copy_entry(fd, r);
        return r;
    }
    default:
        return IO_NEXT(fcntl)(fd, cmd, arg);
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* int or pointer: both a register here */
    va_end(ap);
    return fcntl_common(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(fd, cmd, arg);
}

/* ioctl(FIONBIO) sets O_NONBLOCK as fcntl does (libuv uses it): the same
 * record of the program's wish, and capri's own flag kept where it holds
 * one. Every other request goes to libc unchanged. */
int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (request != FIONBIO || !arg)
        return IO_NEXT(ioctl)(fd, request, arg);
    bool want = *(const int *)arg != 0;
    struct fd_entry *e = fd_entry(fd, false);
    if (!want && e && load_relaxed(&e->capri_nonblock)) {
        /* The flag is capri's too: it stays on the description. */
        store_relaxed(&e->user_nonblock, (uint8_t)0);
        store_release(&e->user_nonblock_known, (uint8_t)1);
        return 0;
    }
    int r = IO_NEXT(ioctl)(fd, request, arg);
    if (r == 0 && io_table_context() && (e || (e = fd_entry(fd, true)))) {
        store_relaxed(&e->user_nonblock, (uint8_t)want);
        store_release(&e->user_nonblock_known, (uint8_t)1);
    }
    return r;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    int r = IO_NEXT(setsockopt)(fd, level, name, value, len);
    if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
        struct fd_entry *e = fd_entry(fd, false);
        if (e)
            store_release(&e->timeouts_known, (uint8_t)0); /* read again at the next wait */
    }
    return r;
}
