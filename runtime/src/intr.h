/*
 * EINTR for parked calls (docs/io-design.md, "EINTR"). A capri thread
 * parked in read or poll is in no system call, so a signal handler cannot
 * interrupt it; libcapri applies the kernel's rule instead. The kernel
 * interrupts the one system call of the thread a signal is delivered to;
 * here the thread is a scheduler's kernel thread, which runs many capri
 * threads, so a handler run on it ends one call parked on that scheduler:
 * the most recently parked one that the kernel would have interrupted.
 * poll, select, the sleeps and socket waits with a timeout are ended by
 * any handler ("always"); the other interposed calls only by a handler
 * without SA_RESTART ("restartable"). They return EINTR.
 *
 * A parked call links an intr_waiter (on its stack) to its scheduler's
 * list for the length of the wait, with the scheduler's handler count at
 * that moment: a handler that ran before the call parked does not end it,
 * as one that ran before a system call started does not.
 */
#ifndef CAPRI_INTR_H
#define CAPRI_INTR_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler.h"

struct intr_waiter {
    struct intr_waiter *prev, *next;
    struct capri_thread *thread;
    struct capri_sched *s; /* whose list it is on */
    uint32_t token;
    uint32_t epoch;  /* s->intr_any when it parked */
    uint8_t always;  /* any handler may end it (else only one without SA_RESTART) */
    uint8_t linked;
};

/* From the signal wrapper, before the user's handler runs on a scheduler's
 * kernel thread (async-signal-safe: counters, and the scheduler's own
 * wake if it is about to sleep). */
void intr_note(bool restart);

/* Around a park: links w for the wait `token` of t on s, and unlinks it
 * after (whatever ended the wait). */
void intr_park_begin(struct capri_sched *s, struct intr_waiter *w, struct capri_thread *t,
                     uint32_t token, bool always);
void intr_park_end(struct intr_waiter *w);

/* Whether handlers ran on s's kernel thread since it last looked. */
static inline bool intr_pending(const struct capri_sched *s)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the counters move in handlers */
    return load_relaxed(&s->intr_any) != s->intr_seen_any;
}

/* At every pick: one parked call per handler run since the last look is
 * woken with WAKE_INTERRUPTED. */
void intr_check_slow(struct capri_sched *s);
static inline void intr_check(struct capri_sched *s)
{
    if (unlikely(intr_pending(s)))
        intr_check_slow(s);
}

/* A forked child: the parent's parked calls are not ours. */
void intr_reset_after_fork(struct capri_sched *s);

#endif
