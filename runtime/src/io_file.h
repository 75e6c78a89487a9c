/*
 * Reads of regular files on capri threads (docs/io-design.md, "Regular
 * files"): the page cache first (preadv2 with RWF_NOWAIT), the rest
 * through the scheduler's io_uring or the thread pool while the thread
 * parks.
 */
#ifndef CAPRI_IO_FILE_H
#define CAPRI_IO_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fd_table.h"

struct capri_sched;

/* What capri_io_stats reports (relaxed counters: the paths they count cost
 * a system call or more each). */
struct io_counters {
    uint64_t ring;    /* reads handed to an io_uring */
    uint64_t pool;    /* reads handed to the pool */
    uint64_t cancels; /* of those, ones whose thread was cancelled in flight */
};
extern struct io_counters io_counters __attribute__((visibility("hidden")));

/*
 * preadv2(fd, iov, iovcnt, off, flags) as a blocking read would return it,
 * parking the calling thread of s (off -1: the file position) while the
 * device is read. The result is the kernel's: all bytes asked for, fewer
 * only at end of file, or the count read before an error.
 */
ssize_t io_file_read(struct capri_sched *s, int fd, const struct iovec *iov, int iovcnt,
                     off_t off, int flags);

/* The kind of fd (entry e), learnt with fstat if unknown (io_stream.c). */
enum fd_kind io_fd_kind(int fd, struct fd_entry *e);

/* A forked child: no ring, no pool threads until first use. */
void io_file_after_fork(void);

#endif
