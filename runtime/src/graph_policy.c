/*
 * Location-aware scheduling (docs/yield-design.md, "Location-aware
 * scheduling"), in the spirit of Capriccio's resource-aware scheduler.
 *
 * Resources are counted per scheduler (only one thread runs on a
 * scheduler at a time, so a change there is the running thread's); each
 * change goes to the site the running thread last parked at, so a site
 * knows whether the runs leaving it take a resource or give it back. A
 * resource is scarce above 3/4 of its limit: the scheduler whose thread
 * crosses that raises it at once, the monitor's look (10 ms) ends it.
 * While something is scarce a thread made ready at a releasing site goes
 * to a queue picked before the run queue, one at a consuming site to a
 * queue picked after it (and after new threads: admission control). A
 * priority, never a gate: a scheduler with runnable threads always runs
 * one, and every 16th pick looks at the consuming queue first so it is
 * never starved.
 */
#include <errno.h>
#include <sys/resource.h>

#include "graph.h"
#include "scheduler.h"

/* Limits (0: none), the counts above which a resource is scarce (3/4 of
 * the limit), and the changes made where no scheduler runs. */
static int64_t res_limit[GRAPH_RESOURCES];
static int64_t res_trigger[GRAPH_RESOURCES];
static int64_t res_foreign[GRAPH_RESOURCES];

/* Scarcity starts where the count crosses its trigger, on the scheduler
 * whose thread took the resource: its own count plus the others' as the
 * monitor last saw them (no other scheduler's line is read here). It ends
 * at a monitor look. */
void graph_resource_changed(int id, long delta)
{
    struct capri_sched *s = sched_here();
    if (!s || s->in_handler) {
        __atomic_fetch_add(&res_foreign[id], (int64_t)delta, __ATOMIC_RELAXED);
        return;
    }
    struct graph_sched *g = &s->graph;
    int64_t own = g->res[id] + delta;
    store_relaxed(&g->res[id], own);
    g->res_dirty = 1;
    int64_t trigger = load_relaxed(&res_trigger[id]);
    if (delta > 0 && trigger && own + load_relaxed(&g->res_others[id]) > trigger &&
        !(load_relaxed(&graph_scarce) & (1u << id)))
        __atomic_fetch_or(&graph_scarce, 1u << id, __ATOMIC_RELEASE);
}

static void set_limit(int id, int64_t max)
{
    store_relaxed(&res_limit[id], max);
    store_relaxed(&res_trigger[id], max - max / 4);
}

int capri_resource_add(int id, long delta)
{
    if (id < 0 || id >= GRAPH_USER_RESOURCES)
        return EINVAL;
    graph_resource_changed(id, delta);
    return 0;
}

int capri_resource_limit(int id, long max)
{
    if (id < 0 || id >= GRAPH_USER_RESOURCES || max < 0)
        return EINVAL;
    set_limit(id, (int64_t)max);
    return 0;
}

long capri_resource_count(int id)
{
    if (id < 0 || id >= GRAPH_RESOURCES)
        return 0;
    int64_t total = load_relaxed(&res_foreign[id]);
    uint32_t n = capri_rt.scheds ? load_acquire(&capri_rt.nscheds) : 0;
    for (uint32_t i = 0; i < n; i++)
        total += load_relaxed(&capri_rt.scheds[i].graph.res[id]);
    return (long)total;
}

void graph_policy_attribute(struct capri_sched *s, struct capri_thread *t)
{
    struct graph_sched *g = &s->graph;
    if (likely(!g->res_dirty))
        return; /* most runs change no resource: one load per switch */
    g->res_dirty = 0;
    /* An ended thread's graph_from is its result now (thread.h). */
    struct graph_site *st = NULL;
    if (g->t && load_relaxed(&t->run_state) != THREAD_DEAD)
        st = graph_site_slot(g->t, t->graph_from ? t->graph_from : GRAPH_START);
    for (int r = 0; r < GRAPH_RESOURCES; r++) {
        if (st)
            store_relaxed(&st->res_sum[r], st->res_sum[r] + (g->res[r] - g->res_snap[r]));
        g->res_snap[r] = g->res[r];
    }
}

/* ---- the monitor's part ------------------------------------------------------- */

void graph_policy_look(void)
{
    if (!load_relaxed(&res_limit[GRAPH_RES_FDS])) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            set_limit(GRAPH_RES_FDS, (int64_t)rl.rlim_cur);
    }
    uint32_t n = load_acquire(&capri_rt.nscheds);
    uint32_t scarce = 0;
    int64_t total[GRAPH_RESOURCES];
    for (int r = 0; r < GRAPH_RESOURCES; r++) {
        total[r] = load_relaxed(&res_foreign[r]);
        for (uint32_t i = 0; i < n; i++)
            total[r] += load_relaxed(&capri_rt.scheds[i].graph.res[r]);
        int64_t trigger = load_relaxed(&res_trigger[r]);
        if (!trigger)
            continue;
        if (total[r] > trigger)
            scarce |= 1u << r;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct graph_sched *g = &capri_rt.scheds[i].graph;
        for (int r = 0; r < GRAPH_RESOURCES; r++)
            store_relaxed(&g->res_others[r], total[r] - load_relaxed(&g->res[r]));
    }
    store_release(&graph_scarce, scarce);
}

/* ---- the scheduler's part (owner-only) ----------------------------------------- */

/* A site's class under the resources scarce now, from what the runs
 * leaving it did on this scheduler: one vote per scarce resource. The
 * entry is this scheduler's own, so the class is always current. */
static int site_class(struct graph_tables *tb, uintptr_t site, uint32_t scarce)
{
    uint32_t i = graph_hash(site, 0);
    for (uint32_t k = 0; k < GRAPH_PROBES; k++) {
        struct graph_site *st = &tb->site[(i + k) & (GRAPH_SITES - 1)];
        if (st->site == site) {
            int score = 0;
            for (int r = 0; r < GRAPH_RESOURCES; r++)
                if (scarce & (1u << r))
                    score += st->res_sum[r] < 0 ? -1 : st->res_sum[r] > 0;
            return score < 0 ? GRAPH_RELEASE : score > 0 ? GRAPH_CONSUME : GRAPH_NEUTRAL;
        }
        if (st->site == 0)
            break;
    }
    return GRAPH_NEUTRAL;
}

bool graph_policy_enqueue(struct capri_sched *s, struct capri_thread *t)
{
    struct graph_sched *g = &s->graph;
    uint32_t scarce = load_relaxed(&graph_scarce);
    if (!scarce || !g->t || !t->graph_from)
        return false;
    int cls = site_class(g->t, t->graph_from, scarce);
    if (cls == GRAPH_NEUTRAL)
        return false;
    store_relaxed(&t->run_state, THREAD_READY);
    if (cls == GRAPH_RELEASE)
        thread_fifo_push(&g->rel, t);
    else
        thread_fifo_push(&g->con, t);
    g->queued++;
    return true;
}

struct capri_thread *graph_policy_pick(struct capri_sched *s, bool nothing_else)
{
    struct graph_sched *g = &s->graph;
    struct capri_thread *t = NULL;
    if (g->con.head && ((++g->picks & 15) == 0 || (nothing_else && !g->rel.head)))
        t = thread_fifo_pop(&g->con);
    else if (g->rel.head)
        t = thread_fifo_pop(&g->rel);
    if (t)
        g->queued--;
    return t;
}
