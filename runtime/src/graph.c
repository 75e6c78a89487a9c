/*
 * Recording the blocking graph (graph.h). Each scheduler owns two
 * fixed-size open-addressed tables, allocated when it starts: edges keyed
 * by (from, to) and sites keyed by the site word. A park updates one edge
 * and one site (two probes, no locks, no atomic read-modify-writes); a
 * resume updates one site. Fields other kernel threads read (the dump,
 * the monitor) are written with relaxed stores: plain moves on x86-64,
 * and a data race neither the compiler nor ThreadSanitizer may assume
 * away.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "scheduler.h"

/* The word instrumented code writes before each yield site. libcapri's
 * definition is strong, exported and read through the GOT, so every
 * module's weak copy binds to it (docs/yield-design.md, "Who defines the
 * word"). Initial-exec: one %fs-relative access, no __tls_get_addr. */
__attribute__((visibility("default"), tls_model("initial-exec"))) __thread const void *__capri_yield_site;

int graph_recording = 1;
int graph_policy;
uint32_t graph_scarce;

/* Module purges: the ranges of records going away, in a ring indexed by
 * a generation each scheduler compares with the one it swept last (one
 * relaxed load per park). A scheduler more than GRAPH_PURGES behind
 * clears its tables. */
#define GRAPH_PURGES 16u
static struct {
    unsigned lock;
    uint32_t gen;
    uintptr_t lo[GRAPH_PURGES], hi[GRAPH_PURGES];
} purges;

/* ---- tables -------------------------------------------------------------- */

static struct graph_edge *edge_slot(struct graph_tables *tb, uintptr_t from, uintptr_t to)
{
    uint32_t i = graph_hash(from, to);
    for (uint32_t k = 0; k < GRAPH_PROBES; k++) {
        struct graph_edge *e = &tb->edge[(i + k) & (GRAPH_EDGES - 1)];
        if (e->to == to && e->from == from)
            return e;
        if (e->to == 0) {
            store_relaxed(&e->from, from);
            store_relaxed(&e->to, to);
            return e;
        }
    }
    store_relaxed(&tb->dropped, tb->dropped + 1);
    return NULL;
}

struct graph_site *graph_site_slot(struct graph_tables *tb, uintptr_t site)
{
    uint32_t i = graph_hash(site, 0);
    for (uint32_t k = 0; k < GRAPH_PROBES; k++) {
        struct graph_site *s = &tb->site[(i + k) & (GRAPH_SITES - 1)];
        if (s->site == site)
            return s;
        if (s->site == 0) {
            store_relaxed(&s->site, site);
            return s;
        }
    }
    store_relaxed(&tb->dropped, tb->dropped + 1);
    return NULL;
}

/* A moving average over about the last 8 samples; the first sample sets it. */
static inline int64_t ewma(int64_t avg, int64_t x, uint64_t n)
{
    return n == 1 ? x : avg + (x - avg) / 8;
}

static bool in_purged(uintptr_t site, uint32_t from_gen, uint32_t to_gen)
{
    for (uint32_t g = from_gen; g != to_gen; g++) {
        uint32_t k = g % GRAPH_PURGES;
        if (site >= load_relaxed(&purges.lo[k]) && site < load_relaxed(&purges.hi[k]))
            return true;
    }
    return false;
}

/* Drops the entries naming a purged module's sites (rare: a dlclose).
 * Emptying a slot of an open-addressed table would cut the probe chains
 * through it, so a purged entry keeps its slot under a key no site has:
 * 1 would be the return address 0, tagged. */
#define GRAPH_PURGED ((uintptr_t)1)
static __attribute__((noinline)) void sweep(struct graph_tables *tb)
{
    uint32_t to_gen = load_acquire(&purges.gen);
    uint32_t from_gen = tb->purge_seen;
    if (to_gen - from_gen > GRAPH_PURGES) {
        memset(tb->edge, 0, sizeof tb->edge);
        memset(tb->site, 0, sizeof tb->site);
    } else {
        for (uint32_t i = 0; i < GRAPH_EDGES; i++) {
            struct graph_edge *e = &tb->edge[i];
            if (e->to && (in_purged(e->from, from_gen, to_gen) || in_purged(e->to, from_gen, to_gen))) {
                store_relaxed(&e->from, GRAPH_PURGED);
                store_relaxed(&e->to, GRAPH_PURGED);
                store_relaxed(&e->count, (uint64_t)0);
            }
        }
        for (uint32_t i = 0; i < GRAPH_SITES; i++) {
            struct graph_site *s = &tb->site[i];
            if (s->site && in_purged(s->site, from_gen, to_gen)) {
                store_relaxed(&s->site, GRAPH_PURGED);
                store_relaxed(&s->waiting, (int64_t)0);
            }
        }
    }
    tb->purge_seen = to_gen;
}

void graph_purge(const void *lo, const void *hi)
{
    spin_lock(&purges.lock);
    uint32_t k = purges.gen % GRAPH_PURGES;
    store_relaxed(&purges.lo[k], (uintptr_t)lo);
    store_relaxed(&purges.hi[k], (uintptr_t)hi);
    store_release(&purges.gen, purges.gen + 1);
    spin_unlock(&purges.lock);
}

/* ---- the hooks ------------------------------------------------------------- */

void graph_park(struct capri_sched *s, struct capri_thread *t, void *ra)
{
    struct graph_sched *g = &s->graph;
    uintptr_t site = g->pending;
    g->pending = 0;
    if (!site)
        site = (uintptr_t)ra | 1u; /* a park no primitive's entry named */
    uint64_t now = capri_arch_cycles();
    uint64_t cycles = t->graph_cycles + (now - g->tsc);
    g->tsc = now;
    g->stamped = 1;
    t->graph_cycles = 0;
    if (g->res_dirty)
        graph_policy_attribute(s, t); /* to the site it leaves now */
    uintptr_t from = t->graph_from ? t->graph_from : GRAPH_START;
    t->graph_from = site;
    struct graph_tables *tb = g->t;
    if (unlikely(!tb))
        return;
    if (unlikely(tb->purge_seen != load_relaxed(&purges.gen)))
        sweep(tb);
    struct graph_edge *e = edge_slot(tb, from, site);
    if (likely(e != NULL)) {
        uint64_t n = e->count + 1;
        store_relaxed(&e->count, n);
        store_relaxed(&e->avg, ewma(e->avg, (int64_t)cycles, n));
    }
    struct graph_site *st = graph_site_slot(tb, site);
    if (likely(st != NULL))
        store_relaxed(&st->waiting, st->waiting + 1);
    if (graph_policy) {
        struct graph_site *fs = graph_site_slot(tb, from);
        if (fs)
            store_relaxed(&fs->leaves, fs->leaves + 1);
    }
}

void graph_resume(struct capri_thread *t)
{
    /* The scheduler it resumed on, which may not be the one it parked on;
     * when the park did not switch (woken on the way), its stamp is stale. */
    struct graph_sched *g = &t->sched->graph;
    g->stamped = 0;
    t->graph_cycles = 0; /* its word was the timer's while it was parked */
    struct graph_tables *tb = g->t;
    if (unlikely(!tb))
        return;
    struct graph_site *st = graph_site_slot(tb, t->graph_from);
    if (likely(st != NULL))
        store_relaxed(&st->waiting, st->waiting - 1);
}

/* ---- set-up ---------------------------------------------------------------- */

static bool env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

void graph_init(void)
{
    if (env_is("CAPRI_BLOCKING_GRAPH_RECORD", "0"))
        graph_recording = 0;
    const char *p = getenv("CAPRI_SCHEDULER");
    if (p && *p) {
        if (strcmp(p, "resource") == 0)
            graph_policy = 1;
        else if (strcmp(p, "fifo") != 0)
            capri_warn("ignoring CAPRI_SCHEDULER (fifo or resource); fifo stands");
    }
    if (graph_policy && !graph_recording) {
        capri_warn("CAPRI_SCHEDULER=resource reads the blocking graph: recording stays on");
        graph_recording = 1;
    }
    graph_dump_init();
}

void graph_sched_init(struct capri_sched *s)
{
    struct graph_sched *g = &s->graph;
    g->tsc = capri_arch_cycles();
    if (!graph_recording || g->t)
        return;
    /* Untouched pages cost nothing: a scheduler pays for the slots its
     * sites hash to. */
    void *m = mmap(NULL, sizeof *g->t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        capri_warn("no memory for a scheduler's blocking graph: not recorded there");
        return;
    }
    struct graph_tables *tb = m;
    tb->purge_seen = load_acquire(&purges.gen);
    store_release(&g->t, tb);
}
