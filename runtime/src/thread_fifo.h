/*
 * An intrusive FIFO of threads linked through their `next` field, owned by
 * one scheduler (no atomics): the run queue, the preempted queue and the
 * resource policy's queues. The operations are in thread.h, after the
 * thread struct they link.
 */
#ifndef CAPRI_THREAD_FIFO_H
#define CAPRI_THREAD_FIFO_H

struct capri_thread;

struct thread_fifo {
    struct capri_thread *head, *tail;
};

#endif
