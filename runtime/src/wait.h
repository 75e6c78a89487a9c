/*
 * Waiting and waking: the token protocol (thread.h) and the intrusive FIFO
 * wait queue every blocking primitive is built from.
 *
 * How a primitive waits (mutex, condition, semaphore, channel, join):
 *
 *     struct wait_node node;
 *     spin_lock(&q->lock);
 *     ... check the condition; if it holds, unlock and return ...
 *     uint32_t tok = wait_prepare(self, &node);   // token = WAITING
 *     waitq_push(q, &node);
 *     int why = wait_park(self, tok, &q->lock, deadline, cancellable);
 *     // q->lock is NOT held here. why: WAKE_SIGNALED (a waker popped us),
 *     // WAKE_TIMEOUT or WAKE_CANCELED (we may still be queued):
 *     if (why != WAKE_SIGNALED) { lock q; waitq_remove(q, &node); unlock q; }
 *
 * How a primitive wakes: under q->lock, pop nodes until wait_wake wins one
 * (a waiter whose timer or canceller won first is unlinked and skipped).
 */
#ifndef CAPRI_WAIT_H
#define CAPRI_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "capri.h"
#include "atomic.h"
#include "thread.h"

struct wait_node {
    struct wait_node *prev, *next;
    struct capri_thread *thread;
    uint32_t token;  /* the token value to CAS from (seq | WAITING) */
    uint32_t linked; /* in the queue (changed under the queue lock) */
    uintptr_t data;  /* for the primitive (channel element pointer, rwlock kind) */
    int result;      /* for the primitive (hand-off outcome) */
};

typedef struct capri_waitq_ waitq_t;

/* Queue operations (inline: they are on every wait's path); the caller
 * holds q->lock. waitq_remove is a no-op for a node that is not linked. */
static inline void waitq_push(waitq_t *q, struct wait_node *n)
{
    struct wait_node *tail = q->tail;
    n->next = NULL;
    n->prev = tail;
    if (tail)
        tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->linked = 1;
}

static inline void waitq_remove(waitq_t *q, struct wait_node *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->prev = n->next = NULL;
    n->linked = 0;
}

static inline struct wait_node *waitq_pop(waitq_t *q)
{
    struct wait_node *n = q->head;
    if (n)
        waitq_remove(q, n);
    return n;
}

static inline bool waitq_empty(const waitq_t *q) { return q->head == 0; }

/* Bumps the thread's wait sequence, sets its token to WAITING and fills
 * node->thread and node->token (node may be NULL). Returns the token. */
static inline uint32_t wait_prepare(struct capri_thread *self, struct wait_node *node)
{
    /* Only the thread itself moves its sequence on; wakers only turn
     * WAITING into WOKEN, so a plain read of the sequence is exact. A
     * release store suffices: every waker reaches the thread through
     * something published after this (a queue under its lock, the join
     * word, the timer heap of this very scheduler); only the cancellation
     * handshake needs a full barrier, and wait_park has it. */
    uint32_t token = ((TOKEN_SEQ(load_relaxed(&self->token)) + 1) << 4) | TOKEN_WAITING;
    store_release(&self->token, token);
    if (node) {
        node->thread = self;
        node->token = token;
        node->linked = 0;
        node->result = 0;
        node->prev = node->next = NULL;
    }
    return token;
}

/* Blocks until a waker wins the token, the deadline (monotonic ns,
 * DEADLINE_NONE: none) passes or (if cancellable) the thread is cancelled.
 * `lock` (may be NULL) is released once the thread is safely switched away
 * (or before a foreign thread sleeps). Returns the wake reason. */
int wait_park(struct capri_thread *self, uint32_t token, unsigned *lock, uint64_t deadline,
              bool cancellable);

/* Tries to end the wait `token` of thread t with `reason`; the winner
 * makes t ready (or wakes its futex) and returns true. */
bool wait_wake(struct capri_thread *t, uint32_t token, int reason);

/* Pops waiters until one is woken with WAKE_SIGNALED; returns its node
 * (already unlinked) or NULL. Caller holds q->lock. The woken thread may
 * run at once on another kernel thread and leave: anything it must find
 * in its node (result, data) has to be written before it is woken, so the
 * primitives claim a waiter's token, fill the node, and only then make it
 * ready (see mutex.c). */
struct wait_node *waitq_wake_one(waitq_t *q);

#endif
