/*
 * What libcapri knows about each file descriptor (docs/io-design.md, "The
 * descriptor table"): its kind, who set O_NONBLOCK, its socket timeouts,
 * its reactor registration, and per direction the readiness sequence and
 * the threads parked on it.
 *
 * One entry per descriptor number, in a two-level table: a fixed top array
 * of pointers to pages of FD_PAGE entries, a page allocated on first use and
 * published with a release store. Lookups take no lock; an entry's fields
 * change under its spinlock, except `kind` and the flags, which only the
 * descriptor's creator and closer write (a race there is the program's own
 * race on the descriptor).
 */
#ifndef CAPRI_FD_TABLE_H
#define CAPRI_FD_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "wait.h"

#define FD_PAGE 1024u
/* Descriptors past this many get no entry: their calls block the kernel
 * thread as libc's do (2^20, Linux's default ceiling for nr_open). */
#define FD_TABLE_MAX (1u << 20)

enum fd_kind {
    FD_UNKNOWN = 0, /* not looked at since it was created or last reset */
    FD_SOCKET,      /* MSG_DONTWAIT on recv/send; pollable */
    FD_NOWAIT,      /* pipe, eventfd, timerfd, signalfd: RWF_NOWAIT; pollable */
    FD_FILE,        /* regular file or block device: not pollable */
    FD_OTHER,       /* no non-blocking try known (ttys, FIFOs opened by name, ...):
                     * the call goes to libc unchanged for now */
};

enum fd_dir_index { FD_READ = 0, FD_WRITE = 1 };

struct fd_dir {
    /* Bumped (under the lock) by every readiness event for the direction
     * and by close: a thread parks only if the value it read before its
     * try is still current, so no edge is lost between try and park. */
    uint32_t seq;
    /* The one thread parked on the reactor for this direction, and the
     * ones queued behind it (woken one at a time as each finishes). */
    struct wait_node *owner;
    struct wait_node *head, *tail;
    /* Threads in poll or select watching the direction: every event wakes
     * them all (they take no data; each unlinks its own node). */
    struct wait_node *watchers;
    /* The last read came back short at readiness sequence drained_seq (a
     * stream socket: nothing was left then; io_stream.c). */
    uint32_t drained_seq;
    uint8_t drained;
    /* An event said the peer closed or the socket failed (reactor.c): no
     * further edge will come, so a read never parks without trying. */
    uint8_t ended;
};

struct fd_entry {
    unsigned lock;
    uint32_t gen;           /* moves at every close and reuse of the number */
    uint8_t kind;           /* enum fd_kind */
    uint8_t created;        /* made by an interposed call of this process */
    uint8_t capri_nonblock; /* capri set O_NONBLOCK on the description */
    uint8_t user_nonblock;  /* the program's O_NONBLOCK, as F_GETFL reports it */
    uint8_t user_nonblock_known;
    uint8_t timeouts_known;
    uint8_t registered;     /* in reactor `reactor` of generation reactor_gen */
    uint8_t shared;         /* the description has another number here (dup) */
    uint8_t in_stdio;       /* fdopen gave it to stdio: capri never sets O_NONBLOCK */
    uint8_t exported;       /* a child process may hold the description (fork, exec,
                             * spawn): capri never sets O_NONBLOCK again */
    uint8_t flag_unsure;    /* a forked child may clear capri's flag (dup2 + exec):
                             * check F_GETFL before relying on it */
    uint8_t sock_type_known; /* 1: a stream socket, 2: another kind; 0: not asked */
    uint8_t direct;         /* O_DIRECT (io_file.c: no page-cache try, which would
                             * wait for the device) */
    uint8_t direct_known;   /* read once with F_GETFL, kept by fcntl(F_SETFL) */
    uint32_t reactor;
    uint32_t reactor_gen;
    uint64_t rcvtimeo_ns, sndtimeo_ns; /* 0: none */
    struct fd_dir dir[2];
};

/* The entry of fd, allocating its page when `create`; NULL for a negative
 * or too large fd, or without memory. */
struct fd_entry *fd_entry(int fd, bool create);

/* A descriptor number that now names a new description (made by an
 * interposed call): forget what was known, wake anything still parked on
 * the old one with EBADF, and record the kind. */
void fd_created(int fd, enum fd_kind kind, bool created_here, bool user_nonblock);

/* The number is being closed (or replaced by dup2/dup3): threads parked on
 * it are woken with EBADF, its registration is dropped. */
void fd_closing(int fd);

/* fd_closing for every number from first to last that has an entry
 * (close_range, closefrom). */
void fd_closing_range(unsigned first, unsigned last);

/* The FIFO of threads queued behind a direction's owner (the entry
 * locked): append, and unlink a node that may already be gone. */
void fd_dir_push_locked(struct fd_dir *d, struct wait_node *n);
void fd_dir_unlink_locked(struct fd_dir *d, struct wait_node *n);

/* Wakes the first thread queued on d whose wait has not ended otherwise
 * (it will retry the call and park as the owner if it must); the entry is
 * locked by the caller. */
void fd_dir_wake_next_locked(struct fd_dir *d);

/* A readiness event for d (the entry locked): the sequence moves, and the
 * owner, else the first queued thread, retries. */
void fd_dir_ready_locked(struct fd_dir *d);

/* Links and unlinks a poll or select watcher of d (the entry locked);
 * unlinking a node that is not linked does nothing. */
void fd_dir_watch_locked(struct fd_dir *d, struct wait_node *n);
void fd_dir_unwatch_locked(struct fd_dir *d, struct wait_node *n);

/* Wakes every waiter of the entry's directions (after a close or reuse);
 * the entry is locked by the caller. */
void fd_wake_all_locked(struct fd_entry *e);

/* Calls fn for every entry capri may set O_NONBLOCK on, or has: one that
 * carries its flag, or one an interposed call of this process made. */
void fd_table_each_flaggable(void (*fn)(int fd, struct fd_entry *e));

/* Forgets every entry (a forked child: the parent's waiters are gone and
 * its reactors are not ours). */
void fd_table_reset_after_fork(void);

#endif
