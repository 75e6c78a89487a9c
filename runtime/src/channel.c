/*
 * capri_chan: bounded channels of fixed-size elements.
 *
 * One heap object: a spinlock, a ring buffer of `cap` elements, and two
 * wait queues (senders, receivers) under that same lock. Capacity 0 is a
 * rendezvous: a sender hands its element to a waiting receiver or waits for
 * one.
 *
 * Element movement (all under ch->lock):
 *  - a sender that finds a waiting receiver copies straight into the
 *    receiver's buffer (node->data) and wakes it: no trip through the ring;
 *  - otherwise, with room in the ring, it appends; else it queues with
 *    node->data pointing at its element and parks;
 *  - a receiver takes the oldest ring element, and if a sender waits, moves
 *    that sender's element into the freed slot (FIFO order is kept: the
 *    waiting senders' elements are younger than everything in the ring);
 *  - with an empty ring (always, at capacity 0) it copies straight from the
 *    first waiting sender, else queues with node->data = its buffer.
 * Waiting receivers imply an empty ring and waiting senders a full one.
 *
 * close wakes every waiter: senders get EPIPE, receivers get EPIPE (they
 * only wait on an empty ring); later receivers drain the ring first.
 *
 * node->result: CH_DONE (the element moved) or CH_CLOSED. A waker sets it
 * before it wins the waiter's token; if the waiter's timer or canceller won
 * first, the outcome still stands: the waiter finds its node unlinked under
 * the lock and reports it (0 or EPIPE); a cancellation then stays pending.
 * ch->waiters counts the threads that may still touch the channel (queued,
 * or popped but not woken by their waker); destroy is EBUSY while nonzero.
 *
 * send and recv are cancellation points: on entry (one load) and while
 * blocked. The fast paths take the lock once; a hand-off to a waiter adds
 * one CAS (its wake token).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "clock.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"
#include "sync.h"
#include "wait.h"

enum { CH_WAITING = 0, CH_DONE = 1, CH_CLOSED = 2 };

struct capri_chan {
    unsigned lock;
    uint32_t closed;
    uint32_t waiters;
    uint32_t pad_;
    size_t elem_size;
    size_t cap;
    size_t head;  /* oldest element */
    size_t count; /* elements in the ring */
    waitq_t sendq, recvq; /* their own lock words are unused: ch->lock guards both */
    _Alignas(16) unsigned char buf[];
};

static inline unsigned char *ch_slot(struct capri_chan *ch, size_t i)
{
    return ch->buf + i * ch->elem_size;
}

/* Copies one element; the common small sizes without a call. */
static inline void ch_copy(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 8:
        memcpy(dst, src, 8);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    case 0:
        break; /* zero-sized elements: the pointers may be NULL */
    default:
        memcpy(dst, src, size);
    }
}

/* The first waiter of q, unlinked, or NULL (no call when q is empty). */
static inline struct wait_node *ch_pop(waitq_t *q)
{
    return waitq_empty(q) ? NULL : waitq_pop(q);
}

int capri_chan_create(capri_chan_t *out, size_t elem_size, size_t capacity)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!out)
        return EINVAL;
    if (elem_size && capacity > (SIZE_MAX - sizeof(struct capri_chan)) / elem_size)
        return EINVAL;
    struct capri_chan *ch = malloc(sizeof *ch + elem_size * capacity);
    if (!ch)
        return ENOMEM;
    memset(ch, 0, sizeof *ch);
    ch->elem_size = elem_size;
    ch->cap = capacity;
    *out = ch;
    return 0;
}

int capri_chan_destroy(capri_chan_t ch)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!ch)
        return EINVAL;
    spin_lock(&ch->lock);
    bool busy = ch->waiters != 0 || !waitq_empty(&ch->sendq) || !waitq_empty(&ch->recvq);
    spin_unlock(&ch->lock);
    if (busy)
        return EBUSY;
    free(ch);
    return 0;
}

/* Ends a popped waiter's wait with `result`; lock held. */
static inline void ch_finish(struct capri_chan *ch, struct wake_list *wl, struct wait_node *n,
                             int result)
{
    n->result = result;
    if (likely(wake_claim(wl, n)))
        ch->waiters--; /* else the waiter accounts for itself under the lock */
}

int capri_chan_close(capri_chan_t ch)
{
    RUNTIME_ENSURE_OR_RETURN();
    if (!ch)
        return EINVAL;
    spin_lock(&ch->lock);
    if (ch->closed) {
        spin_unlock(&ch->lock);
        return EPIPE;
    }
    ch->closed = 1;
    WAKE_LIST(wl);
    struct wait_node *n;
    while ((n = waitq_pop(&ch->sendq)) != NULL)
        ch_finish(ch, &wl, n, CH_CLOSED);
    while ((n = waitq_pop(&ch->recvq)) != NULL)
        ch_finish(ch, &wl, n, CH_CLOSED);
    spin_unlock(&ch->lock);
    wake_run(&wl);
    return 0;
}

/* Blocks the caller on q with node->data = buf; called with ch->lock held,
 * returns without it. 0, EPIPE, ETIMEDOUT, or -1: retry (a cancellation
 * that was not acted on). */
static int ch_block(struct capri_chan *ch, struct capri_thread *self, waitq_t *q, uintptr_t buf,
                    uint64_t deadline, bool *cancellable)
{
    struct wait_node node; /* wait_prepare and waitq_push fill the rest */
    node.data = buf;
    node.result = CH_WAITING;
    uint32_t tok = wait_prepare(self, &node);
    waitq_push(q, &node);
    ch->waiters++;
    int why = wait_park(self, tok, &ch->lock, deadline, *cancellable);
    if (likely(why == WAKE_SIGNALED))
        return node.result == CH_DONE ? 0 : EPIPE;

    spin_lock(&ch->lock);
    ch->waiters--;
    if (!node.linked) {
        /* A waker took or filled our element (or closed) just before. */
        spin_unlock(&ch->lock);
        return node.result == CH_DONE ? 0 : EPIPE;
    }
    waitq_remove(q, &node);
    spin_unlock(&ch->lock);
    if (why == WAKE_TIMEOUT)
        return ETIMEDOUT;
    thread_test_cancel(self); /* returns only if cancellation got disabled */
    *cancellable = false;
    return -1;
}

static inline struct capri_thread *ch_enter(void)
{
    struct capri_thread *self = sync_self();
    if (likely(self) && unlikely(load_relaxed(&self->cancel_pending)))
        thread_test_cancel(self);
    return self;
}

static int ch_send(struct capri_chan *ch, const void *elem, uint64_t timeout_ns, bool timed)
{
    if (unlikely(!ch || (!elem && ch->elem_size)))
        return EINVAL;
    struct capri_thread *self = ch_enter();
    if (unlikely(!self))
        return ENOMEM;
    bool cancellable = true;
    uint64_t deadline = DEADLINE_NONE;
    for (;;) {
        spin_lock(&ch->lock);
        if (unlikely(ch->closed)) {
            spin_unlock(&ch->lock);
            return EPIPE;
        }
        struct wait_node *n = ch_pop(&ch->recvq);
        if (n) {
            ch_copy((void *)n->data, elem, ch->elem_size);
            WAKE_LIST(wl);
            ch_finish(ch, &wl, n, CH_DONE);
            spin_unlock(&ch->lock);
            wake_run(&wl);
            return 0;
        }
        if (ch->count < ch->cap) {
            size_t tail = ch->head + ch->count;
            if (tail >= ch->cap)
                tail -= ch->cap;
            ch_copy(ch_slot(ch, tail), elem, ch->elem_size);
            ch->count++;
            spin_unlock(&ch->lock);
            return 0;
        }
        if (timed) {
            if (timeout_ns == 0) {
                spin_unlock(&ch->lock);
                return ETIMEDOUT;
            }
            if (deadline == DEADLINE_NONE)
                deadline = clock_deadline_after(timeout_ns);
        }
        int rc = ch_block(ch, self, &ch->sendq, (uintptr_t)elem, deadline, &cancellable);
        if (rc >= 0)
            return rc;
    }
}

static int ch_recv(struct capri_chan *ch, void *elem, uint64_t timeout_ns, bool timed)
{
    if (unlikely(!ch || (!elem && ch->elem_size)))
        return EINVAL;
    struct capri_thread *self = ch_enter();
    if (unlikely(!self))
        return ENOMEM;
    bool cancellable = true;
    uint64_t deadline = DEADLINE_NONE;
    for (;;) {
        spin_lock(&ch->lock);
        if (ch->count) {
            size_t head = ch->head;
            ch_copy(elem, ch_slot(ch, head), ch->elem_size);
            WAKE_LIST(wl);
            struct wait_node *n = ch_pop(&ch->sendq);
            if (n) {
                /* The ring was full: the freed slot (the old head) is the
                 * new tail; the first waiting sender's element goes there. */
                ch_copy(ch_slot(ch, head), (const void *)n->data, ch->elem_size);
                ch_finish(ch, &wl, n, CH_DONE);
            } else {
                ch->count--;
            }
            ch->head = head + 1 == ch->cap ? 0 : head + 1;
            spin_unlock(&ch->lock);
            wake_run(&wl);
            return 0;
        }
        struct wait_node *n = ch_pop(&ch->sendq);
        if (n) {
            ch_copy(elem, (const void *)n->data, ch->elem_size);
            WAKE_LIST(wl);
            ch_finish(ch, &wl, n, CH_DONE);
            spin_unlock(&ch->lock);
            wake_run(&wl);
            return 0;
        }
        if (ch->closed) {
            spin_unlock(&ch->lock);
            return EPIPE;
        }
        if (timed) {
            if (timeout_ns == 0) {
                spin_unlock(&ch->lock);
                return ETIMEDOUT;
            }
            if (deadline == DEADLINE_NONE)
                deadline = clock_deadline_after(timeout_ns);
        }
        int rc = ch_block(ch, self, &ch->recvq, (uintptr_t)elem, deadline, &cancellable);
        if (rc >= 0)
            return rc;
    }
}

int capri_chan_send(capri_chan_t ch, const void *elem)
{
    SCHED_YIELD_ENTRY();
    return ch_send(ch, elem, 0, false);
}

int capri_chan_recv(capri_chan_t ch, void *elem)
{
    SCHED_YIELD_ENTRY();
    return ch_recv(ch, elem, 0, false);
}

int capri_chan_send_timed(capri_chan_t ch, const void *elem, uint64_t timeout_ns)
{
    SCHED_YIELD_ENTRY();
    return ch_send(ch, elem, timeout_ns, true);
}

int capri_chan_recv_timed(capri_chan_t ch, void *elem, uint64_t timeout_ns)
{
    SCHED_YIELD_ENTRY();
    return ch_recv(ch, elem, timeout_ns, true);
}
