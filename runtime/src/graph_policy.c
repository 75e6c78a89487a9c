/*
 * Location-aware scheduling (docs/yield-design.md, "Location-aware
 * scheduling"), in the spirit of Capriccio's resource-aware scheduler.
 *
 * Resources are counted per scheduler (only one thread runs on a
 * scheduler at a time, so a change there is the running thread's); the
 * graph attributes the change of each run to the site the run left. The
 * monitor sums the counts, marks a resource scarce above 3/4 of its limit,
 * and classes every site by what runs leaving it did to the scarce
 * resources: releasing, neutral or consuming. While something is scarce a
 * thread made ready at a releasing site goes to a queue picked before the
 * run queue, one at a consuming site to a queue picked after it (and
 * after new threads: admission control). A priority, never a gate: a
 * scheduler with runnable threads always runs one, and every 16th pick
 * looks at the consuming queue first so it is never starved.
 */
#include <errno.h>
#include <sys/resource.h>

#include "graph.h"
#include "scheduler.h"

/* Limits (0: none) and the changes made where no scheduler runs. */
static int64_t res_limit[GRAPH_RESOURCES];
static int64_t res_foreign[GRAPH_RESOURCES];

void graph_resource_changed(int id, long delta)
{
    struct capri_sched *s = sched_here();
    if (s && !s->in_handler)
        store_relaxed(&s->graph.res[id], s->graph.res[id] + delta);
    else
        __atomic_fetch_add(&res_foreign[id], (int64_t)delta, __ATOMIC_RELAXED);
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
    store_relaxed(&res_limit[id], (int64_t)max);
    return 0;
}

long capri_resource_count(int id)
{
    if (id < 0 || id >= GRAPH_RESOURCES)
        return 0;
    int64_t total = load_relaxed(&res_foreign[id]);
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; i < n; i++)
        total += load_relaxed(&capri_rt.scheds[i].graph.res[id]);
    return (long)total;
}

/* ---- the monitor's part ------------------------------------------------------- */

static uint32_t scarce_now(void)
{
    if (!load_relaxed(&res_limit[GRAPH_RES_FDS])) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            store_relaxed(&res_limit[GRAPH_RES_FDS], (int64_t)rl.rlim_cur);
    }
    uint32_t mask = 0;
    for (int r = 0; r < GRAPH_RESOURCES; r++) {
        int64_t limit = load_relaxed(&res_limit[r]);
        if (limit > 0 && capri_resource_count(r) * 4 > limit * 3)
            mask |= 1u << r;
    }
    return mask;
}

static uint8_t class_of(const struct graph_site *st, uint32_t scarce)
{
    int score = 0;
    for (int r = 0; r < GRAPH_RESOURCES; r++) {
        if (!(scarce & (1u << r)))
            continue;
        int64_t d = load_relaxed(&st->res_avg[r]);
        score += d < 0 ? -1 : d > 0;
    }
    return score < 0 ? GRAPH_RELEASE : score > 0 ? GRAPH_CONSUME : GRAPH_NEUTRAL;
}

void graph_policy_look(void)
{
    uint32_t scarce = scarce_now();
    if (scarce) {
        uint32_t n = load_acquire(&capri_rt.nscheds);
        for (uint32_t i = 0; i < n; i++) {
            struct graph_tables *tb = load_acquire(&capri_rt.scheds[i].graph.t);
            if (!tb)
                continue;
            for (uint32_t k = 0; k < GRAPH_SITES; k++) {
                struct graph_site *st = &tb->site[k];
                if (load_relaxed(&st->site) > 1)
                    store_relaxed(&st->cls, class_of(st, scarce));
            }
        }
    }
    store_release(&graph_scarce, scarce);
}

/* ---- the scheduler's part (owner-only) ----------------------------------------- */

static uint8_t site_class(struct graph_tables *tb, uintptr_t site)
{
    uint32_t i = graph_hash(site, 0);
    for (uint32_t k = 0; k < GRAPH_PROBES; k++) {
        struct graph_site *st = &tb->site[(i + k) & (GRAPH_SITES - 1)];
        if (st->site == site)
            return load_relaxed(&st->cls);
        if (st->site == 0)
            break;
    }
    return GRAPH_NEUTRAL;
}

static inline void push(struct capri_thread **head, struct capri_thread **tail, struct capri_thread *t)
{
    t->next = NULL;
    if (*tail)
        (*tail)->next = t;
    else
        *head = t;
    *tail = t;
}

static inline struct capri_thread *pop(struct capri_thread **head, struct capri_thread **tail)
{
    struct capri_thread *t = *head;
    if (t) {
        *head = t->next;
        if (!*head)
            *tail = NULL;
    }
    return t;
}

bool graph_policy_enqueue(struct capri_sched *s, struct capri_thread *t)
{
    struct graph_sched *g = &s->graph;
    if (!load_relaxed(&graph_scarce) || !g->t || !t->graph_from)
        return false;
    uint8_t cls = site_class(g->t, t->graph_from);
    if (cls == GRAPH_NEUTRAL)
        return false;
    store_relaxed(&t->run_state, THREAD_READY);
    if (cls == GRAPH_RELEASE)
        push(&g->rel_head, &g->rel_tail, t);
    else
        push(&g->con_head, &g->con_tail, t);
    g->queued++;
    return true;
}

struct capri_thread *graph_policy_pick(struct capri_sched *s, bool nothing_else)
{
    struct graph_sched *g = &s->graph;
    struct capri_thread *t = NULL;
    if (g->con_head && ((++g->picks & 15) == 0 || (nothing_else && !g->rel_head)))
        t = pop(&g->con_head, &g->con_tail);
    else if (g->rel_head)
        t = pop(&g->rel_head, &g->rel_tail);
    if (t)
        g->queued--;
    return t;
}
