/*
 * Each scheduler's io_uring instance, for the file reads the page cache
 * cannot answer (docs/io-design.md, "Regular files"). Set up on first use
 * with raw system calls; its completions signal an eventfd in the
 * scheduler's epoll, so reactor_poll wakes for them and reaps them in the
 * scheduler's context.
 */
#ifndef CAPRI_IO_URING_H
#define CAPRI_IO_URING_H

#include <stdbool.h>
#include <stdint.h>

#include "io_op.h"

struct capri_sched;
struct io_ring;

/* The epoll data of a ring's eventfd (descriptor registrations carry
 * fd | gen << 32 with fd < 2^20, so this cannot be one). */
#define IO_RING_DATA (UINT64_MAX - 1)

/* s's ring, set up on its first call; NULL when io_uring is not available
 * (the kernel refuses it, CAPRI_IO_URING=0, or no memory): the caller uses
 * the pool. Called on a capri thread of s. */
struct io_ring *io_ring_get(struct capri_sched *s);

/* Runs op on ring r and parks the calling thread until it completes (a
 * cancellation while it runs is turned into IORING_OP_ASYNC_CANCEL and a
 * wait for the original completion). 0 with op->res set, *cancelled when
 * the thread was cancelled meanwhile; or an errno value when the
 * operation could not be submitted (the caller uses the pool). */
int io_ring_run(struct io_ring *r, struct io_op *op, bool *cancelled);

/* Reaps s's completions and wakes their threads (reactor_poll, scheduler
 * context). */
void io_ring_reap(struct capri_sched *s);

/* A forked child: the parent's rings are not its own (their memory is
 * not mapped here, MADV_DONTFORK); each scheduler makes a fresh one on
 * first use. */
void io_ring_after_fork(void);

/* Whether rings are used at all (false after CAPRI_IO_URING=0 or a kernel
 * that refuses io_uring_setup). */
bool io_ring_enabled(void);

/* The smallest descriptor at or above `from` a ring holds (the ring and its
 * eventfd), or -1: close_range and closefrom leave them open. */
int io_ring_next_own_fd(unsigned from);

#endif
