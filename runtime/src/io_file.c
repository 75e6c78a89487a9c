/*
 * Regular-file calls (io_file.h): pread, preadv, preadv2 and their 64
 * names, __pread_chk and __pread64_chk, and read and readv of a regular
 * file (io_stream.c sends those here). The writes, pwrite, pwritev,
 * pwritev2 and their 64 names, are interposed so that every positioned
 * call has one home, but still write as libc does: a buffered write
 * lands in the page cache, and the design keeps it blocking (runtime.md,
 * "Blocking calls").
 *
 * On a capri thread a read is a loop: preadv2 with RWF_NOWAIT answers from
 * the page cache; what it does not return (EAGAIN, or the rest of a short
 * read) goes to the scheduler's io_uring, else the pool, while the thread
 * parks; a short answer that is not the end of the file is followed by
 * another try, so the result is a blocking read's (short only at end of
 * file). Anywhere else (plain pthreads, signal handlers, a scheduler's own
 * context) every call is libc's.
 */
#include "io_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capri.h"
#include "io_next.h"
#include "io_pool.h"
#include "io_uring.h"
#include "io_wait.h"
#include "sys.h"

struct io_counters io_counters;


/* Runs op elsewhere while the thread parks: the ring of the scheduler the
 * thread is on now (it may have moved since the call began), else the
 * pool, else (no thread could be started) right here, blocking. */
static void run_elsewhere(struct io_op *op, bool *cancelled)
{
    *cancelled = false;
    struct capri_sched *s = sched_here();
    struct io_ring *r = io_ring_get(s);
    if (r && io_ring_run(r, op, cancelled) == 0)
        return;
    if (io_pool_run(op, cancelled) == 0)
        return;
    op->res = (int32_t)sys_call6(SYS_preadv2, op->fd, (long)op->iov, op->iovcnt, (long)op->off,
                                 op->off == -1 ? -1 : 0, op->rw_flags);
}

/* Whether fd was opened (or set) O_DIRECT: there the RWF_NOWAIT try does
 * not answer from a cache but waits for the device (measured: 65 to
 * 350 us a 4 KiB read), so the read goes straight to the ring or the
 * pool. Read with F_GETFL once per descriptor. */
static bool direct_io(int fd)
{
    struct fd_entry *e = fd_entry(fd, true);
    if (!e)
        return false;
    if (likely(load_acquire(&e->direct_known)))
        return load_relaxed(&e->direct) && load_relaxed(&e->kind) == FD_FILE;
    /* Only a regular file's (a pipe's O_DIRECT is packet mode). */
    if (io_fd_kind(fd, e) != FD_FILE)
        return false;
    long fl = sys_call6(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
    if (fl < 0)
        return false;
    store_relaxed(&e->direct, (uint8_t)((fl & O_DIRECT) != 0));
    store_release(&e->direct_known, (uint8_t)1);
    return (fl & O_DIRECT) != 0;
}

ssize_t io_file_read(struct capri_sched *s, int fd, const struct iovec *iov, int iovcnt,
                     off_t off, int flags)
{
    (void)s;
    bool direct = direct_io(fd);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t done = 0;
    for (;;) {
        struct iovec w[IO_IOV_WINDOW];
        const struct iovec *v = iov;
        int n = iovcnt;
        if (done) {
            n = io_iov_window(iov, iovcnt, done, w);
            v = w;
        }
        off_t at = off < 0 ? -1 : off + (off_t)done;
        ssize_t r = direct ? -1 : IO_NEXT(preadv2)(fd, v, n, at, flags | RWF_NOWAIT);
        if (r > 0) {
            struct capri_sched *here = sched_here();
            store_relaxed(&here->file_cached, load_relaxed(&here->file_cached) + 1);
            done += (size_t)r;
            if (done >= total)
                return (ssize_t)done;
            continue; /* the rest may be cached too, or be the end */
        }
        if (r == 0)
            return (ssize_t)done; /* end of file */
        int err = direct ? EAGAIN : errno;
        if (err == EOPNOTSUPP) {
            /* No RWF_NOWAIT here: a file system without it (procfs, some
             * network ones) goes to the ring or the pool like an uncached
             * read; anything else (a character device that may block for
             * ever, which pread reaches) is read as libc would. */
            struct fd_entry *e = fd_entry(fd, true);
            if (!e || io_fd_kind(fd, e) != FD_FILE) {
                r = IO_NEXT(preadv2)(fd, v, n, at, flags);
                if (r < 0)
                    return done ? (ssize_t)done : -1;
                return (ssize_t)(done + (size_t)r);
            }
        } else if (err != EAGAIN) {
            if (done)
                return (ssize_t)done;
            errno = err;
            return -1;
        }
        /* Not in the page cache: read by the kernel while we park. */
        struct io_op op;
        memset(&op, 0, sizeof op);
        op.fd = fd;
        op.rw_flags = flags;
        op.iovcnt = n;
        op.iov = v;
        op.off = at;
        bool cancelled;
        run_elsewhere(&op, &cancelled);
        if (cancelled) {
            if (op.res == -ECANCELED || op.res == -EINTR) {
                /* The cancel won: nothing was read. Act on it (returns
                 * only if cancellation is disabled now: read again). */
                thread_test_cancel(sched_here()->current);
                continue;
            }
            /* It completed anyway: its result is the call's; the
             * cancellation stays pending for the next cancellation point. */
        }
        if (op.res < 0) {
            if (done)
                return (ssize_t)done;
            errno = -op.res;
            return -1;
        }
        if (op.res == 0)
            return (ssize_t)done;
        done += (size_t)op.res;
        if (done >= total)
            return (ssize_t)done;
    }
}

void io_file_after_fork(void)
{
    io_ring_after_fork();
    io_pool_after_fork();
}

int capri_io_stats(struct capri_io_stats *out)
{
    if (!out)
        return EINVAL;
    memset(out, 0, sizeof *out);
    out->file_ring = load_relaxed(&io_counters.ring);
    out->file_pool = load_relaxed(&io_counters.pool);
    out->file_cancels = load_relaxed(&io_counters.cancels);
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; capri_rt.scheds && i < n; i++)
        out->file_cached += load_relaxed(&capri_rt.scheds[i].file_cached);
    out->pool_threads = io_pool_threads();
    out->uring = io_ring_enabled() ? 1 : 0;
    return 0;
}

/* ---- the interposers ------------------------------------------------------- */

/* A positioned read from a capri thread: the loop above; anything else,
 * and the cases the kernel rejects (negative offsets, empty reads), as
 * libc's. */
#define FILE_READ(s, iovcnt, off, flags)                                                  \
    ((s) && (off) >= 0 && (iovcnt) > 0 && (iovcnt) <= IOV_MAX && !((flags) & RWF_NOWAIT))

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    struct capri_sched *s = io_sched();
    if (FILE_READ(s, 1, off, 0) && n > 0) {
        struct iovec v = { buf, n };
        return io_file_read(s, fd, &v, 1, off, 0);
    }
    return IO_NEXT(pread)(fd, buf, n, off);
}

/* The 64 names: off_t is 64 bits on this ABI, and glibc's are the same
 * functions (as sendfile64 is sendfile's). */
ssize_t pread64(int fd, void *buf, size_t n, off_t off) { return pread(fd, buf, n, off); }

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    struct capri_sched *s = io_sched();
    if (FILE_READ(s, iovcnt, off, 0))
        return io_file_read(s, fd, iov, iovcnt, off, 0);
    return IO_NEXT(preadv)(fd, iov, iovcnt, off);
}

ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return preadv(fd, iov, iovcnt, off);
}

/* preadv2 at offset -1 reads at the file position, which any descriptor
 * has: a regular file takes the loop above; a stream with no flags is
 * readv (parks on the reactor); the rest is libc's. */
static ssize_t preadv2_here(struct capri_sched *s, int fd, const struct iovec *iov, int iovcnt,
                            off_t off, int flags, bool *handled)
{
    *handled = false;
    if (!s || off != -1 || iovcnt <= 0 || iovcnt > IOV_MAX || (flags & RWF_NOWAIT))
        return -1;
    struct fd_entry *e = fd_entry(fd, true);
    if (!e)
        return -1;
    enum fd_kind kind = io_fd_kind(fd, e);
    if (kind == FD_FILE) {
        *handled = true;
        return io_file_read(s, fd, iov, iovcnt, -1, flags);
    }
    if (flags == 0 && (kind == FD_SOCKET || kind == FD_NOWAIT)) {
        *handled = true;
        return readv(fd, iov, iovcnt);
    }
    return -1;
}

ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    struct capri_sched *s = io_sched();
    if (FILE_READ(s, iovcnt, off, flags))
        return io_file_read(s, fd, iov, iovcnt, off, flags);
    bool handled;
    ssize_t r = preadv2_here(s, fd, iov, iovcnt, off, flags, &handled);
    if (handled)
        return r;
    return IO_NEXT(preadv2)(fd, iov, iovcnt, off, flags);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    return preadv2(fd, iov, iovcnt, off, flags);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return IO_NEXT(pwrite)(fd, buf, n, off); }

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return IO_NEXT(pwritev)(fd, iov, iovcnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return pwritev(fd, iov, iovcnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    return IO_NEXT(pwritev2)(fd, iov, iovcnt, off, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    return pwritev2(fd, iov, iovcnt, off, flags);
}

/* ---- _FORTIFY_SOURCE --------------------------------------------------------- */

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
void __chk_fail(void) __attribute__((noreturn));

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return pread(fd, buf, n, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return pread(fd, buf, n, off);
}

/* reactor.c refers to this, so a static link always takes this file. */
const int io_file_linked = 1;
