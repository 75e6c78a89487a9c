/*
 * The blocking graph (docs/yield-design.md, "The blocking graph"): per
 * scheduler, which yield sites threads go between, how long they run from
 * one to the next (cycle counter, moving average) and how many wait at
 * each; and the location-aware policy that reads it.
 *
 * A site is a word: a yield-site descriptor's address (even, stored by
 * instrumented code in __capri_yield_site before the call), or the return
 * address of a yield primitive's caller tagged with bit 0 (uninstrumented
 * code), or GRAPH_START for a thread that has not parked yet.
 *
 * Recording is owner-only: each scheduler writes its own tables and
 * nobody else does, so the hot path has no atomics. Readers on other
 * kernel threads (the dump, the monitor) read racily and say so.
 */
#ifndef CAPRI_GRAPH_H
#define CAPRI_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"
#include "atomic.h"
#include "thread_fifo.h"

struct capri_sched;
struct capri_thread;

#define GRAPH_EDGES 4096u /* per scheduler, a power of two */
#define GRAPH_SITES 1024u /* per scheduler, a power of two */
#define GRAPH_PROBES 16u  /* a key not found within this many slots is dropped */
#define GRAPH_START ((uintptr_t)2) /* the site of a thread that never parked */

/* Tracked resources: capri_resource_add's ids 0-3, then libcapri's own. */
#define GRAPH_USER_RESOURCES 4
enum { GRAPH_RES_FDS = 4, GRAPH_RES_CHUNKS = 5, GRAPH_RESOURCES = 6 };

/* A site's class for the resource policy. */
enum { GRAPH_NEUTRAL = 0, GRAPH_RELEASE = 1, GRAPH_CONSUME = 2 };

struct graph_edge {
    uintptr_t from, to; /* to == 0: a free slot */
    uint64_t count;
    int64_t avg;        /* cycles from leaving `from` to parking at `to` */
};

struct graph_site {
    uintptr_t site;     /* 0: a free slot */
    int64_t waiting;    /* parks here less resumes here (may go below 0 on
                         * one scheduler: a thread may resume elsewhere) */
    uint64_t leaves;    /* runs that left this site and parked again */
    /* What runs leaving this site changed of each resource, summed since
     * the start (the resource policy only reads its sign). */
    int64_t res_sum[GRAPH_RESOURCES];
};

struct graph_tables {
    struct graph_edge edge[GRAPH_EDGES];
    struct graph_site site[GRAPH_SITES];
    uint64_t dropped;   /* edges or sites that found no slot */
    uint32_t purge_seen; /* the last module purge swept here */
};

/* The part of a scheduler the graph keeps (struct capri_sched's `graph`). */
struct graph_sched {
    uint64_t tsc;       /* when the running thread was switched in */
    uintptr_t pending;  /* the site of the running thread's current primitive */
    uint32_t stamped;   /* tsc was read by a park whose switch has not come yet:
                         * the switch uses it (a counter read costs 23 ns in
                         * this VM, as much as the rest of a switch) */
    struct graph_tables *t; /* NULL when recording is off or allocation failed */
    /* The resource policy's queues (owner-only): threads ready at a
     * releasing site run before the run queue, those at a consuming site
     * after it. */
    struct thread_fifo rel, con; /* threads at releasing / consuming sites */
    uint32_t queued;    /* threads in the two queues */
    uint32_t picks;     /* policy picks, for aging the consuming queue */
    uint32_t res_dirty; /* res moved since the last attribution */
    int64_t res[GRAPH_RESOURCES];      /* resource counts changed on this scheduler */
    int64_t res_snap[GRAPH_RESOURCES]; /* res when the running thread was switched in */
    int64_t res_others[GRAPH_RESOURCES]; /* the other schedulers' counts at the
                                          * monitor's last look (it writes them) */
};

/* Settings, fixed when the runtime starts (graph_init). */
extern int graph_recording __attribute__((visibility("hidden")));
extern int graph_policy __attribute__((visibility("hidden"))); /* 1: CAPRI_SCHEDULER=resource */
/* Resources above 3/4 of their limit (bit per id), set by the monitor. */
extern uint32_t graph_scarce __attribute__((visibility("hidden")));

/* The site word instrumented code stores before a call that may park. */
extern __thread const void *__capri_yield_site;

/* The tables' hash of a key (a site, or an edge's two). */
static inline uint32_t graph_hash(uintptr_t a, uintptr_t b)
{
    uint64_t h = ((uint64_t)a * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)b * 0xc2b2ae3d27d4eb4full);
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* At each yield primitive's entry: takes and clears the site word, and
 * keeps it (or the primitive's return address, tagged) for the park. `s`
 * may be NULL (a kernel thread libcapri does not run): the word is still
 * cleared, so it never outlives the call it was stored for. */
static inline __attribute__((always_inline)) void graph_entry(struct capri_sched *s,
                                                              struct graph_sched *g, void *ra)
{
    const void *w = __capri_yield_site;
    if (w)
        __capri_yield_site = 0;
    if (s)
        g->pending = w ? (uintptr_t)w : ((uintptr_t)ra | 1u);
}

/* The hooks (the third, at every switch, is sched.c's graph_switch):
 * graph_park just before a thread parks (ra: the park's caller, the
 * fallback name); graph_resume when it returns from the park. */
void graph_park(struct capri_sched *s, struct capri_thread *t, void *ra);
void graph_resume(struct capri_thread *t);

/* Sets up from the environment (runtime start); graph_dump.c's part. */
void graph_init(void);
void graph_dump_init(void);
/* A scheduler's tables (when it starts): off, or no memory, leaves t NULL. */
void graph_sched_init(struct capri_sched *s);
/* A module's records are going away: its sites leave the graph. */
void graph_purge(const void *lo, const void *hi);
/* The monitor's look (every 10 ms): the signal dump, the policy's look. */
void graph_monitor_look(void);
/* The policy's look (graph_policy.c): ends scarcity, and tells each
 * scheduler the others' counts. */
void graph_policy_look(void);
/* Whether the monitor must run for the graph (signal dump, policy). */
bool graph_needs_monitor(void);

/* Resource counts of the running thread's scheduler. */
void graph_resource_changed(int id, long delta);
/* The resource policy's attribution: what changed since the running
 * thread t was switched in (or last attributed) goes to the site it left
 * (at every switch and park while the policy is on). */
void graph_policy_attribute(struct capri_sched *s, struct capri_thread *t);
/* The site entry of a key in tb, added if new; NULL when the table is full. */
struct graph_site *graph_site_slot(struct graph_tables *tb, uintptr_t site);

/* The policy (sched.c): takes t into one of its queues (true), or leaves
 * it to the run queue; and the pick's look at those queues. */
bool graph_policy_enqueue(struct capri_sched *s, struct capri_thread *t);
struct capri_thread *graph_policy_pick(struct capri_sched *s, bool run_queue_empty);

#endif
