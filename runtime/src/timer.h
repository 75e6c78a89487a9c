/*
 * Per-scheduler timers: a 4-ary min-heap of threads keyed by (deadline,
 * insertion sequence), so equal deadlines fire in insertion order. Only the
 * owning scheduler touches its heap. A thread has at most one timer (its
 * current wait's deadline).
 */
#ifndef CAPRI_TIMER_H
#define CAPRI_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct capri_thread;

struct timer_heap {
    struct capri_thread **items;
    uint32_t count;
    uint32_t capacity;
    uint64_t next_seq;
};

/* Adds t with t->deadline; 0 or ENOMEM. */
int timer_add(struct timer_heap *h, struct capri_thread *t);
/* Removes t if it is in the heap (t->heap_index >= 0). */
void timer_remove(struct timer_heap *h, struct capri_thread *t);
/* The earliest deadline, or UINT64_MAX. */
static inline uint64_t timer_next_deadline(const struct timer_heap *h);
/* Removes and returns the earliest thread if its deadline <= now. */
struct capri_thread *timer_pop_expired(struct timer_heap *h, uint64_t now);
void timer_heap_free(struct timer_heap *h);

#include "thread.h"
static inline uint64_t timer_next_deadline(const struct timer_heap *h)
{
    return h->count ? h->items[0]->deadline : UINT64_MAX;
}

#endif
