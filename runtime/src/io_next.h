/*
 * The next definitions of the I/O calls libcapri interposes: a sanitizer's
 * interceptor or libc's (interpose.c says which). Resolved by a
 * constructor; a call that comes earlier (another constructor) resolves
 * them first.
 */
#ifndef CAPRI_IO_NEXT_H
#define CAPRI_IO_NEXT_H

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "atomic.h"

/* X(name, return type, parameter list) */
#define IO_NEXT_LIST(X)                                                                  \
    X(read, ssize_t, (int, void *, size_t))                                              \
    X(write, ssize_t, (int, const void *, size_t))                                       \
    X(readv, ssize_t, (int, const struct iovec *, int))                                  \
    X(writev, ssize_t, (int, const struct iovec *, int))                                 \
    X(preadv2, ssize_t, (int, const struct iovec *, int, off_t, int))                    \
    X(pwritev2, ssize_t, (int, const struct iovec *, int, off_t, int))                   \
    X(pread, ssize_t, (int, void *, size_t, off_t))                                      \
    X(pwrite, ssize_t, (int, const void *, size_t, off_t))                               \
    X(preadv, ssize_t, (int, const struct iovec *, int, off_t))                          \
    X(pwritev, ssize_t, (int, const struct iovec *, int, off_t))                         \
    X(recv, ssize_t, (int, void *, size_t, int))                                         \
    X(send, ssize_t, (int, const void *, size_t, int))                                   \
    X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *))     \
    X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
    X(recvmsg, ssize_t, (int, struct msghdr *, int))                                     \
    X(sendmsg, ssize_t, (int, const struct msghdr *, int))                               \
    X(accept, int, (int, struct sockaddr *, socklen_t *))                                \
    X(accept4, int, (int, struct sockaddr *, socklen_t *, int))                          \
    X(connect, int, (int, const struct sockaddr *, socklen_t))                           \
    X(socket, int, (int, int, int))                                                      \
    X(socketpair, int, (int, int, int, int *))                                           \
    X(pipe, int, (int *))                                                                \
    X(pipe2, int, (int *, int))                                                          \
    X(close, int, (int))                                                                 \
    X(close_range, int, (unsigned int, unsigned int, int))                               \
    X(dup, int, (int))                                                                   \
    X(dup2, int, (int, int))                                                             \
    X(dup3, int, (int, int, int))                                                        \
    X(fcntl, int, (int, int, ...))                                                       \
    X(setsockopt, int, (int, int, int, const void *, socklen_t))                         \
    X(nanosleep, int, (const struct timespec *, struct timespec *))                      \
    X(clock_nanosleep, int, (clockid_t, int, const struct timespec *, struct timespec *)) \
    X(poll, int, (struct pollfd *, nfds_t, int))                                         \
    X(ppoll, int, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *))   \
    X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *))                \
    X(pselect, int, (int, fd_set *, fd_set *, fd_set *, const struct timespec *,         \
                     const sigset_t *))                                                  \
    X(sendfile, ssize_t, (int, int, off_t *, size_t))                                    \
    X(fdopen, FILE *, (int, const char *))                                               \
    X(ioctl, int, (int, unsigned long, ...))                                             \
    X(open, int, (const char *, int, ...))                                               \
    X(open64, int, (const char *, int, ...))                                             \
    X(openat, int, (int, const char *, int, ...))                                        \
    X(openat64, int, (int, const char *, int, ...))                                      \
    X(__open_2, int, (const char *, int))                                                \
    X(__open64_2, int, (const char *, int))                                              \
    X(__openat_2, int, (int, const char *, int))                                         \
    X(__openat64_2, int, (int, const char *, int))                                       \
    X(creat, int, (const char *, mode_t))                                                \
    X(creat64, int, (const char *, mode_t))                                              \
    X(eventfd, int, (unsigned int, int))                                                 \
    X(timerfd_create, int, (int, int))                                                   \
    X(signalfd, int, (int, const sigset_t *, int))                                       \
    X(epoll_create, int, (int))                                                          \
    X(epoll_create1, int, (int))                                                         \
    X(memfd_create, int, (const char *, unsigned int))                                   \
    X(execve, int, (const char *, char *const[], char *const[]))                         \
    X(execv, int, (const char *, char *const[]))                                         \
    X(execvp, int, (const char *, char *const[]))                                        \
    X(execvpe, int, (const char *, char *const[], char *const[]))                        \
    X(fexecve, int, (int, char *const[], char *const[]))                                 \
    X(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *,      \
                         const posix_spawnattr_t *, char *const[], char *const[]))       \
    X(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *,     \
                          const posix_spawnattr_t *, char *const[], char *const[]))      \
    X(popen, FILE *, (const char *, const char *))                                       \
    X(system, int, (const char *))

struct io_next {
#define IO_NEXT_FIELD(name, ret, params) ret(*name) params;
    IO_NEXT_LIST(IO_NEXT_FIELD)
#undef IO_NEXT_FIELD
};

extern struct io_next io_next_fn __attribute__((visibility("hidden")));
void io_next_resolve(void);

/* io_next_fn.name, resolved first if this call came before the constructor. */
#define IO_NEXT(name)                                                                    \
    (likely(load_relaxed(&io_next_fn.name) != NULL) ? io_next_fn.name                  \
                                                    : (io_next_resolve(), io_next_fn.name))

#endif
