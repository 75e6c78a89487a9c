/*
 * Per-scheduler timers: a 4-ary min-heap of threads keyed by (deadline,
 * insertion sequence). 4-ary because a heap of pointers is bounded by
 * cache misses on the way down: four children share a line.
 */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

#include "thread.h"

static inline int earlier(const struct capri_thread *a, const struct capri_thread *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->timer_seq < b->timer_seq);
}

static inline void place(struct timer_heap *h, uint32_t i, struct capri_thread *t)
{
    h->items[i] = t;
    t->heap_index = (int32_t)i;
}

static void sift_up(struct timer_heap *h, uint32_t i, struct capri_thread *t)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!earlier(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, uint32_t i, struct capri_thread *t)
{
    for (;;) {
        uint32_t first = 4 * i + 1;
        if (first >= h->count)
            break;
        uint32_t best = first;
        uint32_t end = first + 4 < h->count ? first + 4 : h->count;
        for (uint32_t c = first + 1; c < end; c++)
            if (earlier(h->items[c], h->items[best]))
                best = c;
        if (!earlier(h->items[best], t))
            break;
        place(h, i, h->items[best]);
        i = best;
    }
    place(h, i, t);
}

int timer_add(struct timer_heap *h, struct capri_thread *t)
{
    if (h->count == h->capacity) {
        uint32_t cap = h->capacity ? h->capacity * 2 : 64;
        struct capri_thread **items = realloc(h->items, (size_t)cap * sizeof *items);
        if (!items)
            return ENOMEM;
        h->items = items;
        h->capacity = cap;
    }
    t->timer_seq = h->next_seq++;
    sift_up(h, h->count++, t);
    return 0;
}

void timer_remove(struct timer_heap *h, struct capri_thread *t)
{
    int32_t i = t->heap_index;
    if (i < 0)
        return;
    t->heap_index = -1;
    struct capri_thread *last = h->items[--h->count];
    if ((uint32_t)i == h->count)
        return;
    /* The last item fills the hole and moves whichever way it must. */
    if (i > 0 && earlier(last, h->items[(i - 1) / 4]))
        sift_up(h, (uint32_t)i, last);
    else
        sift_down(h, (uint32_t)i, last);
}

struct capri_thread *timer_pop_expired(struct timer_heap *h, uint64_t now)
{
    if (h->count == 0 || h->items[0]->deadline > now)
        return NULL;
    struct capri_thread *t = h->items[0];
    timer_remove(h, t);
    return t;
}

void timer_heap_free(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->capacity = 0;
}
