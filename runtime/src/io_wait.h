/*
 * Parking a capri thread until a descriptor is ready (docs/io-design.md,
 * "Parking without losing a wakeup"), and the context checks every
 * interposed call starts with.
 *
 * A call reads the direction's generation and readiness sequence
 * (io_snapshot), tries without blocking, and on EAGAIN parks with what it
 * read: io_park parks only if neither moved since, so an event that came
 * between the try and the park makes it try again instead of sleeping.
 */
#ifndef CAPRI_IO_WAIT_H
#define CAPRI_IO_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fd_table.h"
#include "scheduler.h"

struct io_snap {
    uint32_t gen, seq;
};

static inline struct io_snap io_snapshot(const struct fd_entry *e, enum fd_dir_index dir)
{
    struct io_snap s = { load_acquire(&e->gen), load_acquire(&e->dir[dir].seq) };
    return s;
}

/* The scheduler of the calling capri thread, or NULL when the call must
 * behave as libc's: a kernel thread libcapri does not run (plain pthreads,
 * main before the runtime starts), a signal handler, a scheduler's own
 * context. */
static inline struct capri_sched *io_sched_inner(void)
{
    struct capri_sched *s = sched_here();
    if (!s || s->in_handler || s->current == &s->ctx || !s->reactor.live)
        return NULL;
    return s;
}

static inline __attribute__((always_inline)) struct capri_sched *io_sched(void)
{
    /* Every interposer starts here: the yield primitive's entry, which
     * takes the site word (graph.h). Inlined, so the return address is the
     * interposer's. Helpers that only need the scheduler call
     * io_sched_inner. */
    SCHED_YIELD_ENTRY();
    return io_sched_inner();
}

/* Whether the descriptor table may be changed from here: not inside a
 * signal handler on a scheduler (the table may allocate, and waking takes
 * locks the interrupted code may hold). */
static inline bool io_table_context(void)
{
    struct capri_sched *s = sched_here();
    return !s || !s->in_handler;
}

/* A descriptor an interposed call just made (fd < 0: its error): recorded
 * in the table with its kind and the program's O_NONBLOCK. Returns fd. */
static inline int io_made(int fd, enum fd_kind kind, bool nonblock)
{
    if (fd >= 0 && io_table_context())
        fd_created(fd, kind, true, nonblock);
    return fd;
}

/*
 * Parks the running thread of s until fd (entry e) is ready in direction
 * dir, the deadline (CLOCK_MONOTONIC ns, DEADLINE_NONE) passes, or it is
 * cancelled. Returns 0 (try again), EBADF (closed or reused meanwhile),
 * ETIMEDOUT, ECANCELED, EINTR (a signal handler ended it: intr.h), EAGAIN (the program made the descriptor
 * non-blocking: report EAGAIN), or another errno value when the
 * descriptor cannot be watched (EPERM: a regular file), in which case the
 * caller makes the call as libc would.
 */
int io_park(struct capri_sched *s, int fd, struct fd_entry *e, enum fd_dir_index dir,
            struct io_snap snap, uint64_t deadline);

/* Makes sure fd (entry e) is registered with a live reactor, registering
 * it with s's if not: 0, or an errno value (EPERM: epoll cannot watch it,
 * a regular file). For waits that do not take the direction (poll). */
int io_watchable(struct capri_sched *s, int fd, struct fd_entry *e);

/* The nonblock gate (io_spawn.c): a try that relies on capri's O_NONBLOCK
 * (set it, then accept, connect or sendfile) runs inside; fork, exec and
 * the spawning calls close it to clear capri's flags on every descriptor
 * another program could inherit. */
void nonblock_gate_enter(void);
void nonblock_gate_leave(void);
void nonblock_gate_close_and_clear(void);
void nonblock_gate_reopen(void);
void nonblock_gate_reset_in_child(void);

/* Records the descriptors an SCM_RIGHTS message delivered (recvmsg). */
struct msghdr;
void io_received_fds(const struct msghdr *msg);
/* Descriptors an SCM_RIGHTS message hands to another process (sendmsg):
 * capri's flag goes, and their descriptions are exported (io_spawn.c). */
void io_sending_fds(const struct msghdr *msg);

/* What io_park's result means for the call: 0 try again (a cancellation
 * was acted on if enabled); 1 the call fails with *err (EAGAIN for a
 * timeout or a non-blocking descriptor, EBADF, EINTR); -1 the descriptor cannot
 * be watched, so the call is libc's. */
int io_park_outcome(struct capri_sched *s, int w, int *err);

/* After a call that moved data or ended with an error: the next thread
 * queued on the direction gets its turn (at most one waits on the reactor
 * per direction, docs/io-design.md). */
static inline void io_done(struct fd_entry *e, enum fd_dir_index dir)
{
    if (unlikely(load_relaxed(&e->dir[dir].head) != NULL)) {
        spin_lock(&e->lock);
        if (!e->dir[dir].owner)
            fd_dir_wake_next_locked(&e->dir[dir]);
        spin_unlock(&e->lock);
    }
}

/* A socket's SO_RCVTIMEO (FD_READ) or SO_SNDTIMEO (FD_WRITE) in ns, 0 for
 * none: read from the kernel once, kept current by setsockopt. */
uint64_t io_socket_timeout(int fd, struct fd_entry *e, enum fd_dir_index dir);

/* A relative timeout in ns (0: none) as a deadline. */
uint64_t io_deadline(uint64_t timeout_ns);

/* The part of an iovec array still to move, `done` bytes in: at most
 * IO_IOV_WINDOW entries copied into out (a bounded copy: the caller's array
 * may hold IOV_MAX entries, and this runs on a small stack; the rest is
 * taken by the caller's next round). Returns the count. */
#define IO_IOV_WINDOW 8

static inline int io_iov_window(const struct iovec *iov, int iovcnt, size_t done,
                                struct iovec *out)
{
    int i = 0;
    while (i < iovcnt && done >= iov[i].iov_len) {
        done -= iov[i].iov_len;
        i++;
    }
    int k = 0;
    for (; i < iovcnt && k < IO_IOV_WINDOW; i++, k++) {
        out[k].iov_base = (char *)iov[i].iov_base + done;
        out[k].iov_len = iov[i].iov_len - done;
        done = 0;
    }
    return k;
}

/* Calls fn for every descriptor an SCM_RIGHTS message of msg carries. */
void io_each_passed_fd(const struct msghdr *msg, void (*fn)(int fd, void *arg), void *arg);

#endif
