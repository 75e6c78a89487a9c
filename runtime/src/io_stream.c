/*
 * The data calls: read, write, readv, writev, recv, send, recvfrom,
 * sendto, recvmsg, sendmsg and their _FORTIFY_SOURCE forms
 * (docs/io-design.md, "How a call runs on a capri thread").
 *
 * On a capri thread each is a loop: snapshot the direction, try without
 * blocking (MSG_DONTWAIT on sockets, RWF_NOWAIT on pipes and eventfds),
 * park on EAGAIN, try again. Writes loop until every byte is written, as
 * a blocking descriptor's would. read and readv of a regular file go to
 * io_file.c (the page cache, else the ring or the pool). Anywhere else, and
 * on descriptors with no non-blocking try (terminals for now), the call is
 * libc's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <unistd.h>

#include "clock.h"
#include "io_file.h"
#include "io_next.h"
#include "io_wait.h"
#include "sys.h"
#include "thread.h"

/* reactor.c refers to this, so a static link always takes this file (see there). */
const int io_stream_linked = 1;

/* ---- What a descriptor is -------------------------------------------------- */

/* Learns the kind of an unknown descriptor: fstat, and for what may be a
 * pipe, an eventfd or a character device, whether RWF_NOWAIT is taken (a
 * zero-length read answers without consuming anything). */
static enum fd_kind classify(int fd, struct fd_entry *e)
{
    struct stat st;
    enum fd_kind kind = FD_OTHER;
    if (sys_call6(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0) {
        if (S_ISSOCK(st.st_mode)) {
            kind = FD_SOCKET;
        } else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
            kind = FD_FILE;
        } else {
            char c;
            struct iovec v = { &c, 0 };
            long r = sys_call6(SYS_preadv2, fd, (long)&v, 1, -1, -1, RWF_NOWAIT);
            /* Only EOPNOTSUPP says no: every other answer (data, EAGAIN,
             * EINVAL from an eventfd's short read, EBADF from a write-only
             * end) comes after the kernel accepted the flag. */
            kind = r == -EOPNOTSUPP ? FD_OTHER : FD_NOWAIT;
        }
    }
    store_relaxed(&e->kind, (uint8_t)kind);
    return kind;
}

static inline enum fd_kind kind_of(int fd, struct fd_entry *e)
{
    enum fd_kind k = (enum fd_kind)load_relaxed(&e->kind);
    return likely(k != FD_UNKNOWN) ? k : classify(fd, e);
}

enum fd_kind io_fd_kind(int fd, struct fd_entry *e) { return kind_of(fd, e); }

/* A try that failed because the kind was wrong (the number was reused by
 * a call libcapri did not see, or RWF_NOWAIT is refused in this
 * direction): learn the kind again. */
static bool stale_kind(int fd, struct fd_entry *e, enum fd_kind kind, int err, enum fd_kind *out)
{
    if (kind == FD_SOCKET && err == ENOTSOCK) {
        store_relaxed(&e->kind, (uint8_t)FD_UNKNOWN);
        *out = classify(fd, e);
        return true;
    }
    if (kind == FD_NOWAIT && err == EOPNOTSUPP) {
        store_relaxed(&e->kind, (uint8_t)FD_OTHER);
        *out = FD_OTHER;
        return true;
    }
    return false;
}

/* ---- The loop -------------------------------------------------------------- */

struct read_call {
    struct iovec *iov;
    int iovcnt;
    int flags;
    struct msghdr *msg; /* recvmsg / recvfrom: the caller's header */
};

/* One attempt without blocking: the result, or -1 with errno (EAGAIN:
 * park and try again). */
static ssize_t try_read(int fd, enum fd_kind kind, void *p);

/* Whether fd is a stream socket (TCP, a UNIX stream), learnt once: only on
 * those does a short read mean the socket was drained. */
static bool stream_socket(int fd, struct fd_entry *e)
{
    uint8_t known = load_acquire(&e->sock_type_known);
    if (likely(known))
        return known == 1;
    int type = 0;
    socklen_t len = sizeof type;
    bool stream = sys_call6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&len, 0) ==
                      0 &&
                  type == SOCK_STREAM;
    store_release(&e->sock_type_known, (uint8_t)(stream ? 1 : 2));
    return stream;
}

/* The bytes a read asks for (0 with MSG_PEEK, which drains nothing). */
static size_t read_want(const struct read_call *c)
{
    if (c->flags & MSG_PEEK)
        return 0;
    size_t n = 0;
    for (int i = 0; i < c->iovcnt; i++)
        n += c->iov[i].iov_len;
    return n;
}

/*
 * Runs a read-like call on a capri thread: returns the first attempt that
 * does not say EAGAIN. *blocking is set when the descriptor cannot be
 * waited for here (the caller then makes libc's call).
 *
 * A stream socket whose last read came back short was drained then; if no
 * event has come since (its readiness sequence has not moved), the next
 * read parks without trying, as an event loop waits for readiness after a
 * short read: a keep-alive connection's next request costs no failed
 * recv. Data that came meanwhile has an edge in epoll that wakes the park.
 * Not once an event said the peer closed or the socket failed: that edge
 * may have come before the short read (which still returned data queued
 * ahead of the end), and no other follows.
 */
static ssize_t run_read(struct capri_sched *s, int fd, struct fd_entry *e, struct read_call *call,
                        bool *blocking)
{
    enum fd_kind kind = kind_of(fd, e);
    if (kind == FD_FILE || kind == FD_OTHER) {
        *blocking = true;
        return -1;
    }
    struct fd_dir *d = &e->dir[FD_READ];
    size_t want = kind == FD_SOCKET && stream_socket(fd, e) ? read_want(call) : 0;
    uint64_t deadline = 0;
    bool first = true;
    for (;;) {
        struct io_snap snap = io_snapshot(e, FD_READ);
        ssize_t r;
        if (first && want && load_relaxed(&d->drained) && load_relaxed(&d->drained_seq) == snap.seq &&
            !load_acquire(&d->ended) && load_acquire(&e->user_nonblock_known) &&
            !load_relaxed(&e->user_nonblock)) {
            r = -1; /* drained, nothing since: wait for the event */
            errno = EAGAIN;
        } else {
            r = try_read(fd, kind, call);
        }
        first = false;
        if (unlikely(r < 0) && stale_kind(fd, e, kind, errno, &kind)) {
            if (kind == FD_FILE || kind == FD_OTHER) {
                *blocking = true;
                return -1;
            }
            continue;
        }
        if (r >= 0 || errno != EAGAIN) {
            if (want) {
                store_relaxed(&d->drained_seq, snap.seq);
                store_relaxed(&d->drained, (uint8_t)(r > 0 && (size_t)r < want));
            }
            io_done(e, FD_READ);
            return r;
        }
        if (!deadline)
            deadline = kind == FD_SOCKET ? io_deadline(io_socket_timeout(fd, e, FD_READ)) : DEADLINE_NONE;
        int err = 0;
        int o = io_park_outcome(s, io_park(s, fd, e, FD_READ, snap, deadline), &err);
        if (o < 0) {
            *blocking = true;
            return -1;
        }
        if (o > 0) {
            errno = err;
            return -1;
        }
    }
}

/* ---- read, recv, recvfrom, recvmsg, readv ---------------------------------- */

static ssize_t try_read(int fd, enum fd_kind kind, void *p)
{
    struct read_call *c = p;
    if (kind == FD_SOCKET) {
        if (c->msg)
            return IO_NEXT(recvmsg)(fd, c->msg, c->flags | MSG_DONTWAIT);
        if (c->iovcnt == 1)
            return IO_NEXT(recv)(fd, c->iov[0].iov_base, c->iov[0].iov_len, c->flags | MSG_DONTWAIT);
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = c->iov;
        m.msg_iovlen = (size_t)c->iovcnt;
        return IO_NEXT(recvmsg)(fd, &m, c->flags | MSG_DONTWAIT);
    }
    return IO_NEXT(preadv2)(fd, c->iov, c->iovcnt, -1, RWF_NOWAIT);
}

/* MSG_WAITALL: a blocking receive returns only with every byte asked for
 * (or at end of stream, an error, a timeout). */
static ssize_t read_all(struct capri_sched *s, int fd, struct fd_entry *e, struct read_call *c,
                        size_t want, bool *blocking)
{
    size_t got = 0;
    char *base = c->iov[0].iov_base;
    while (got < want) {
        struct iovec v = { base + got, want - got };
        struct read_call part = { &v, 1, c->flags & ~MSG_WAITALL, NULL };
        ssize_t r = run_read(s, fd, e, &part, blocking);
        if (*blocking)
            return got ? (ssize_t)got : -1;
        if (r < 0)
            return got ? (ssize_t)got : -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t read(int fd, void *buf, size_t n)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && (e = fd_entry(fd, true))) {
        struct iovec v = { buf, n };
        if (kind_of(fd, e) == FD_FILE && n > 0)
            return io_file_read(s, fd, &v, 1, -1, 0); /* the page cache, else parks */
        struct read_call c = { &v, 1, 0, NULL };
        bool blocking = false;
        ssize_t r = run_read(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(read)(fd, buf, n);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && iovcnt > 0 && (e = fd_entry(fd, true))) {
        if (kind_of(fd, e) == FD_FILE && iovcnt <= IOV_MAX)
            return io_file_read(s, fd, iov, iovcnt, -1, 0);
        struct read_call c = { (struct iovec *)(uintptr_t)iov, iovcnt, 0, NULL };
        bool blocking = false;
        ssize_t r = run_read(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(readv)(fd, iov, iovcnt);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && !(flags & MSG_DONTWAIT) && (e = fd_entry(fd, true))) {
        struct iovec v = { buf, n };
        struct read_call c = { &v, 1, flags, NULL };
        bool blocking = false;
        ssize_t r = (flags & MSG_WAITALL) ? read_all(s, fd, e, &c, n, &blocking)
                                          : run_read(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(recv)(fd, buf, n, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && !(flags & MSG_DONTWAIT) && !(flags & MSG_WAITALL) && (e = fd_entry(fd, true))) {
        struct iovec v = { buf, n };
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_name = addr;
        m.msg_namelen = alen ? *alen : 0;
        m.msg_iov = &v;
        m.msg_iovlen = 1;
        struct read_call c = { &v, 1, flags, &m };
        bool blocking = false;
        ssize_t r = run_read(s, fd, e, &c, &blocking);
        if (!blocking) {
            if (r >= 0 && alen)
                *alen = m.msg_namelen;
            return r;
        }
    }
    return IO_NEXT(recvfrom)(fd, buf, n, flags, addr, alen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    ssize_t r;
    bool blocking = true;
    if (s && !(flags & MSG_DONTWAIT) && !(flags & MSG_WAITALL) && (e = fd_entry(fd, true))) {
        struct read_call c = { msg->msg_iov, (int)msg->msg_iovlen, flags, msg };
        blocking = false;
        r = run_read(s, fd, e, &c, &blocking);
    }
    if (blocking)
        r = IO_NEXT(recvmsg)(fd, msg, flags);
    if (r >= 0 && msg->msg_controllen)
        io_received_fds(msg);
    return r;
}

/* ---- write, send, sendto, sendmsg, writev ---------------------------------- */


struct write_call {
    const struct iovec *iov; /* the caller's */
    int iovcnt;
    int flags;
    const struct msghdr *msg; /* sendto / sendmsg: name, control */
};

static ssize_t try_write(int fd, enum fd_kind kind, const struct write_call *c,
                         const struct iovec *iov, int iovcnt, bool first)
{
    if (kind == FD_SOCKET) {
        struct msghdr m;
        if (c->msg)
            m = *c->msg;
        else
            memset(&m, 0, sizeof m);
        /* Ancillary data goes with the first byte only. */
        if (!first) {
            m.msg_control = NULL;
            m.msg_controllen = 0;
        }
        m.msg_iov = (struct iovec *)(uintptr_t)iov;
        m.msg_iovlen = (size_t)iovcnt;
        return IO_NEXT(sendmsg)(fd, &m, c->flags | MSG_DONTWAIT);
    }
    return IO_NEXT(pwritev2)(fd, iov, iovcnt, -1, RWF_NOWAIT);
}

/*
 * A blocking write on a capri thread: every byte, parking while the
 * descriptor is full. Returns the bytes written (all, or what was written
 * before an error or timeout), or -1 with errno when nothing was.
 */
static ssize_t run_write(struct capri_sched *s, int fd, struct fd_entry *e,
                         const struct write_call *c, bool *blocking)
{
    enum fd_kind kind = kind_of(fd, e);
    if (kind == FD_FILE || kind == FD_OTHER) {
        *blocking = true;
        return -1;
    }
    size_t total = 0;
    for (int i = 0; i < c->iovcnt; i++)
        total += c->iov[i].iov_len;
    size_t done = 0;
    uint64_t deadline = 0;
    for (;;) {
        struct io_snap snap = io_snapshot(e, FD_WRITE);
        ssize_t r;
        if (done == 0) {
            r = try_write(fd, kind, c, c->iov, c->iovcnt, true);
        } else {
            struct iovec w[IO_IOV_WINDOW];
            int k = io_iov_window(c->iov, c->iovcnt, done, w);
            r = try_write(fd, kind, c, w, k, false);
        }
        if (r >= 0) {
            done += (size_t)r;
            if (done >= total) {
                io_done(e, FD_WRITE);
                return (ssize_t)done;
            }
            continue;
        }
        if (stale_kind(fd, e, kind, errno, &kind)) {
            if (kind == FD_FILE || kind == FD_OTHER) {
                if (done)
                    return (ssize_t)done;
                *blocking = true;
                return -1;
            }
            continue;
        }
        if (errno != EAGAIN) {
            io_done(e, FD_WRITE);
            return done ? (ssize_t)done : -1;
        }
        if (!deadline)
            deadline = kind == FD_SOCKET ? io_deadline(io_socket_timeout(fd, e, FD_WRITE)) : DEADLINE_NONE;
        int err = 0;
        int o = io_park_outcome(s, io_park(s, fd, e, FD_WRITE, snap, deadline), &err);
        if (o < 0) {
            if (done) /* the rest as libc would write it */
                return (ssize_t)done;
            *blocking = true;
            return -1;
        }
        if (o > 0) {
            if (done)
                return (ssize_t)done;
            errno = err;
            return -1;
        }
    }
}

ssize_t write(int fd, const void *buf, size_t n)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && n > 0 && (e = fd_entry(fd, true))) {
        struct iovec v = { (void *)(uintptr_t)buf, n };
        struct write_call c = { &v, 1, 0, NULL };
        bool blocking = false;
        ssize_t r = run_write(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(write)(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && iovcnt > 0 && iovcnt <= IOV_MAX && (e = fd_entry(fd, true))) {
        struct write_call c = { iov, iovcnt, 0, NULL };
        bool blocking = false;
        ssize_t r = run_write(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(writev)(fd, iov, iovcnt);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && n > 0 && !(flags & MSG_DONTWAIT) && (e = fd_entry(fd, true))) {
        struct iovec v = { (void *)(uintptr_t)buf, n };
        struct write_call c = { &v, 1, flags, NULL };
        bool blocking = false;
        ssize_t r = run_write(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(send)(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && n > 0 && !(flags & MSG_DONTWAIT) && (e = fd_entry(fd, true))) {
        struct iovec v = { (void *)(uintptr_t)buf, n };
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_name = (void *)(uintptr_t)addr;
        m.msg_namelen = alen;
        struct write_call c = { &v, 1, flags, &m };
        bool blocking = false;
        ssize_t r = run_write(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(sendto)(fd, buf, n, flags, addr, alen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (msg && msg->msg_controllen)
        io_sending_fds(msg); /* before the receiver can see them */
    struct capri_sched *s = io_sched();
    struct fd_entry *e;
    if (s && !(flags & MSG_DONTWAIT) && msg->msg_iovlen > 0 && msg->msg_iovlen <= IOV_MAX &&
        (e = fd_entry(fd, true))) {
        struct write_call c = { msg->msg_iov, (int)msg->msg_iovlen, flags, msg };
        bool blocking = false;
        ssize_t r = run_write(s, fd, e, &c, &blocking);
        if (!blocking)
            return r;
    }
    return IO_NEXT(sendmsg)(fd, msg, flags);
}

/* ---- _FORTIFY_SOURCE --------------------------------------------------------- */

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *alen);

/* glibc's own check: the length asked for must fit the object. */
void __chk_fail(void) __attribute__((noreturn));

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen)
        __chk_fail();
    return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *alen)
{
    if (n > buflen)
        __chk_fail();
    return recvfrom(fd, buf, n, flags, addr, alen);
}
