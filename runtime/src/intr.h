/*
 * EINTR for parked calls (docs/io-design.md, "EINTR"). A capri thread
 * parked in read or poll is in no system call, so a signal handler cannot
 * interrupt it; libcapri applies the kernel's rule instead. The handler
 * wrapper notes each handler it runs (intr_note); at its next pick every
 * scheduler ends the waits of its parked threads that the kernel would
 * have interrupted: poll, select, the sleeps and socket waits with a
 * timeout for any handler ("always"), the other interposed calls only for
 * a handler without SA_RESTART ("restartable"). They return EINTR.
 *
 * A parked call links an intr_waiter (on its stack) to its scheduler's
 * list for the length of the wait; a handler that ran before the call
 * parked does not end it, as one that ran before a system call started.
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
    uint32_t epoch;  /* its class's handler count when it parked */
    uint8_t always;  /* any handler ends it (else only one without SA_RESTART) */
    uint8_t linked;
};

/* From the signal wrapper, before the user's handler runs (async-signal-
 * safe: counters and wakes of sleeping schedulers only). */
void intr_note(bool restart);

/* Around a park: links w for the wait `token` of t on s, and unlinks it
 * after (whatever ended the wait). Always linked, even before the program
 * installs a handler: one installed while a call is parked ends it too,
 * as in the kernel. */
void intr_park_begin(struct capri_sched *s, struct intr_waiter *w, struct capri_thread *t,
                     uint32_t token, bool always);
void intr_park_end(struct intr_waiter *w);

/* At every pick: the waits a handler has ended since the last look are
 * woken with WAKE_INTERRUPTED. */
void intr_check_slow(struct capri_sched *s);
static inline void intr_check(struct capri_sched *s)
{
    if (unlikely(load_relaxed(&capri_rt.intr_any) != s->intr_seen))
        intr_check_slow(s);
}

#endif
