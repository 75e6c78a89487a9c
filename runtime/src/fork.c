/*
 * fork() from a capri thread: POSIX says the child has one thread, the
 * caller. pthread_atfork quiesces the runtime around the fork (the chunk
 * depot lock and every scheduler's stealable-list lock are held, so no
 * queue is half-updated in the child), and the child keeps one scheduler:
 * the forking thread's, holding only the forking thread.
 *
 * In the child, the other capri threads are gone: their chunks are leaked
 * (not walked), threads waiting in shared primitives are never woken, and
 * no scheduler kernel thread is started again (TSan refuses new threads
 * after a multithreaded fork; a later spawn runs on the one scheduler).
 */
#include <pthread.h>

#include "chunk_pool.h"
#include "fd_table.h"
#include "intr.h"
#include "io_file.h"
#include "io_wait.h"
#include "scheduler.h"
#include "sys.h"

static void fork_prepare(void)
{
    /* The child may exec another program: capri's O_NONBLOCK goes first
     * (io_spawn.c). Not from a signal handler: the code it interrupted may
     * be inside the gate on this kernel thread. */
    if (io_table_context())
        nonblock_gate_close_and_clear();
    spin_lock(&capri_rt.start_lock); /* no spare starts meanwhile */
    for (uint32_t i = 0; i < capri_rt.nscheds; i++)
        spin_lock(&capri_rt.scheds[i].steal_lock);
    chunk_pool_atfork_prepare();
}

static void fork_parent(void)
{
    if (io_table_context())
        nonblock_gate_reopen();
    chunk_pool_atfork_parent();
    for (uint32_t i = capri_rt.nscheds; i-- > 0;)
        spin_unlock(&capri_rt.scheds[i].steal_lock);
    spin_unlock(&capri_rt.start_lock);
}

static void fork_child(void)
{
    nonblock_gate_reset_in_child();
    struct capri_sched *keep = sched_here();
    capri_rt.start_lock = 0;
    for (uint32_t i = 0; i < capri_rt.nscheds; i++)
        capri_rt.scheds[i].steal_lock = 0;
    chunk_pool_atfork_child(keep ? &keep->chunks : NULL);
    /* The parents' epoll instances and eventfds are shared with us: the
     * child's schedulers (at most the one kept) get their own, and no
     * descriptor entry keeps a waiter or a registration. */
    for (uint32_t i = 0; i < capri_rt.nscheds; i++)
        if (&capri_rt.scheds[i] != keep)
            reactor_close(&capri_rt.scheds[i]);
    fd_table_reset_after_fork();
    /* The parent's rings are not mapped here and its pool threads do not
     * exist: a file read starts both afresh. */
    io_file_after_fork();
    if (keep) {
        reactor_reinit_after_fork(keep);
        intr_reset_after_fork(keep); /* the parent's parked calls stay parked */
    }
    if (!keep)
        return; /* forked from a foreign thread: no capri thread survives */
    /* The surviving scheduler becomes the only one: the others' queues
     * and threads are dropped. */
    struct capri_thread *self = keep->current;
    keep->rq = (struct thread_fifo){ NULL, NULL };
    keep->st_head = keep->st_tail = NULL;
    keep->pq = (struct thread_fifo){ NULL, NULL };
    keep->pq_age = 0;
    keep->runnext = NULL;
    keep->steal_count = 0;
    keep->inbox = NULL;
    keep->idle_state = SCHED_AWAKE;
    keep->timers.count = 0;
    keep->tid = sys_gettid();
    keep->kthread = pthread_self();
    if (self && self->heap_index >= 0)
        self->heap_index = -1;
    /* The survivor becomes the whole scheduler array (threads and TLS point
     * at it, so it stays where it is). */
    keep->index = 0;
    capri_rt.scheds = keep;
    capri_rt.nscheds = 1;
    capri_rt.sched_capacity = 1; /* no monitor in the child: no spares */
    monitor_forget_after_fork();
    capri_rt.started_scheds = 1;
    capri_rt.idle_count = 0;
    capri_rt.spinning = 0;
    capri_rt.live_threads = (self && !(self->flags & THREAD_MAIN)) ? 1u : 0u;
    if (self && !(self->flags & THREAD_MAIN)) {
        /* main does not exist in the child: the child ends, as a process
         * whose last thread ended, when the forking thread (and whatever
         * it spawns) has ended. A joiner of the forking thread does not
         * exist either. */
        capri_rt.main_exited = 1;
        if ((self->join & JOIN_BITS) == 0)
            self->join = 0;
    }
}

void fork_install(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }
