/*
 * The calls that make descriptors libcapri does not wait on itself but
 * must know about: the open family, creat, eventfd, timerfd_create,
 * signalfd, epoll_create and memfd_create. Each new number resets its
 * entry in the descriptor table (docs/io-design.md, "Keeping it true"): a
 * number reused after a close libcapri did not see (fclose, closedir,
 * close_range) would otherwise keep the old descriptor's kind, flags and
 * registration. The program's O_NONBLOCK is recorded as it asked.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "io_next.h"
#include "io_wait.h"

/* reactor.c refers to this, so a static link always takes this file. */
const int io_open_linked = 1;

/* The mode argument is there only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                           \
    mode_t mode = 0;                                                                      \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                              \
        va_list ap;                                                                       \
        va_start(ap, last);                                                               \
        mode = (mode_t)va_arg(ap, int);                                                   \
        va_end(ap);                                                                       \
    }

int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    return io_made(IO_NEXT(open)(path, flags, mode), FD_UNKNOWN, flags & O_NONBLOCK);
}

int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    return io_made(IO_NEXT(open64)(path, flags, mode), FD_UNKNOWN, flags & O_NONBLOCK);
}

int openat(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    return io_made(IO_NEXT(openat)(dir, path, flags, mode), FD_UNKNOWN, flags & O_NONBLOCK);
}

int openat64(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    return io_made(IO_NEXT(openat64)(dir, path, flags, mode), FD_UNKNOWN, flags & O_NONBLOCK);
}

/* What _FORTIFY_SOURCE builds call when the mode argument is absent. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dir, const char *path, int flags);
int __openat64_2(int dir, const char *path, int flags);

int __open_2(const char *path, int flags)
{
    return io_made(IO_NEXT(__open_2)(path, flags), FD_UNKNOWN, flags & O_NONBLOCK);
}

int __open64_2(const char *path, int flags)
{
    return io_made(IO_NEXT(__open64_2)(path, flags), FD_UNKNOWN, flags & O_NONBLOCK);
}

int __openat_2(int dir, const char *path, int flags)
{
    return io_made(IO_NEXT(__openat_2)(dir, path, flags), FD_UNKNOWN, flags & O_NONBLOCK);
}

int __openat64_2(int dir, const char *path, int flags)
{
    return io_made(IO_NEXT(__openat64_2)(dir, path, flags), FD_UNKNOWN, flags & O_NONBLOCK);
}

int creat(const char *path, mode_t mode) { return io_made(IO_NEXT(creat)(path, mode), FD_FILE, false); }

int creat64(const char *path, mode_t mode)
{
    return io_made(IO_NEXT(creat64)(path, mode), FD_FILE, false);
}

int eventfd(unsigned int initval, int flags)
{
    return io_made(IO_NEXT(eventfd)(initval, flags), FD_NOWAIT, flags & EFD_NONBLOCK);
}

int timerfd_create(int clock, int flags)
{
    return io_made(IO_NEXT(timerfd_create)(clock, flags), FD_NOWAIT, flags & TFD_NONBLOCK);
}

int signalfd(int fd, const sigset_t *mask, int flags)
{
    int r = IO_NEXT(signalfd)(fd, mask, flags);
    /* fd != -1 changes the mask of an existing signalfd: same descriptor. */
    return fd == -1 ? io_made(r, FD_NOWAIT, flags & SFD_NONBLOCK) : r;
}

/* An epoll instance is pollable but has no non-blocking read: the program's
 * own epoll_wait goes to libc (FD_OTHER keeps reads and writes libc's). */
int epoll_create(int size) { return io_made(IO_NEXT(epoll_create)(size), FD_OTHER, false); }

int epoll_create1(int flags) { return io_made(IO_NEXT(epoll_create1)(flags), FD_OTHER, false); }

int memfd_create(const char *name, unsigned int flags)
{
    return io_made(IO_NEXT(memfd_create)(name, flags), FD_FILE, false);
}
