/*
 * The kernel threads that run file reads where there is no io_uring
 * (docs/io-design.md, "Regular files"): 4 at first use, growing to 64
 * while reads wait for a free one. Only regular files come here: a
 * pollable descriptor could hold a pool thread for ever.
 */
#ifndef CAPRI_IO_POOL_H
#define CAPRI_IO_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "io_op.h"

struct capri_sched;

#define IO_POOL_MIN 4
#define IO_POOL_MAX 64

/* Runs op on a pool thread and parks the calling capri thread until it
 * completes. 0 with op->res set (*cancelled: the thread was cancelled
 * meanwhile; an operation no pool thread had started ends with
 * -ECANCELED). */
int io_pool_run(struct io_op *op, bool *cancelled);

/* The epoll data of a scheduler's eventfd for finished pool reads. */
#define IO_POOL_DATA (UINT64_MAX - 2)

/* Marks s's finished pool reads done and wakes their threads
 * (reactor_poll, scheduler context). */
void io_pool_reap(struct capri_sched *s);

/* Set when the pool's manager thread is to be started: reactor_poll (a
 * scheduler's context, on its own large stack) calls io_pool_serve. */
extern uint32_t io_pool_start_wanted __attribute__((visibility("hidden")));
void io_pool_serve(void);

/* Pool threads in the process (for capri_io_stats). */
unsigned io_pool_threads(void);

/* A forked child has no pool threads: the pool starts afresh on first use. */
void io_pool_after_fork(void);

/* The smallest descriptor at or above `from` the pool holds (the ports'
 * eventfds), or -1: close_range and closefrom leave them open. */
int io_pool_next_own_fd(unsigned from);

#endif
