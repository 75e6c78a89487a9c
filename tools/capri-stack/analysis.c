/*
 * Worst-case stack over the call graph.
 *
 * Tarjan's algorithm, written with an explicit stack because real programs
 * have call chains deeper than the C stack this tool runs on, numbers the
 * strongly connected components in reverse topological order: every
 * component comes after all the components it can reach. One pass in that
 * order then computes each node's worst case from its callees' (a longest
 * path over the DAG of components, memoised per node).
 *
 * A component with more than one node, or a node calling itself, is a
 * recursion cycle (tail calls included: a `tail` marker does not promise the
 * frame is reused). If removing the functions with a declared recursion
 * bound leaves the component acyclic, every loop passes through a bounded
 * function and the cycle costs (sum of bounds + 1) * (sum of its frames);
 * otherwise it is unbounded and contributes one trip around, flagged. A
 * node that reaches something unbounded continues its path towards it
 * (worse(), below), so its figure is a lower bound along that path.
 */
#include "analysis.h"

#include <stdlib.h>

const char *const finding_names[FINDING_COUNT] = {
    [FINDING_RECURSION] = "recursion",
    [FINDING_UNRESOLVED] = "unresolved-indirect",
    [FINDING_DYNAMIC_ALLOCA] = "dynamic-alloca",
    [FINDING_EXTERNAL] = "external",
    [FINDING_STACK_LIMIT] = "stack-limit",
    [FINDING_DEAD_STATE] = "dead-state",
    [FINDING_LIVE_STATE] = "live-state",
};

/* ---- Components ------------------------------------------------------------ */

struct frame_cursor {
    uint32_t node;
    uint32_t edge; /* next outgoing edge to look at */
};

static void tarjan(struct analysis *a)
{
    const struct model *m = a->model;
    size_t n = m->node_count;
    uint32_t *index = xmalloc(n * sizeof *index);
    uint32_t *low = xmalloc(n * sizeof *low);
    uint8_t *on_stack = xcalloc(n, 1);
    uint32_t *stack = xmalloc(n * sizeof *stack);
    struct frame_cursor *calls = xmalloc(n * sizeof *calls);
    size_t sp = 0, depth = 0;
    uint32_t counter = 0;

    a->scc_of = xmalloc(n * sizeof *a->scc_of);
    a->scc_count = 0;
    for (size_t i = 0; i < n; i++)
        index[i] = NONE;

    for (uint32_t s = 0; s < n; s++) {
        if (index[s] != NONE)
            continue;
        index[s] = low[s] = counter++;
        stack[sp++] = s;
        on_stack[s] = 1;
        calls[depth++] = (struct frame_cursor){ s, m->edge_start[s] };
        while (depth > 0) {
            struct frame_cursor *top = &calls[depth - 1];
            uint32_t v = top->node;
            if (top->edge < m->edge_start[v + 1]) {
                uint32_t w = m->edges[top->edge++].to;
                if (index[w] == NONE) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    on_stack[w] = 1;
                    calls[depth++] = (struct frame_cursor){ w, m->edge_start[w] };
                } else if (on_stack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            depth--;
            if (low[v] == index[v]) {
                uint32_t w;
                do {
                    w = stack[--sp];
                    on_stack[w] = 0;
                    a->scc_of[w] = a->scc_count;
                } while (w != v);
                a->scc_count++;
            }
            if (depth > 0) {
                uint32_t u = calls[depth - 1].node;
                if (low[v] < low[u])
                    low[u] = low[v];
            }
        }
    }
    free(index);
    free(low);
    free(on_stack);
    free(stack);
    free(calls);
}

/* ---- Worst case ---------------------------------------------------------------- */

static int is_bounded_node(const struct model *m, uint32_t node)
{
    if (m->nodes[node].kind != NODE_FUNCTION)
        return 0;
    const struct capri_md_function_entry *e = &m->functions[m->nodes[node].function].entry;
    return (e->flags & CAPRI_MD_FN_RECURSION_BOUND) && e->recursion_bound > 0;
}

/*
 * Is the component acyclic once its bounded functions are removed? Kahn's
 * algorithm on what remains; indegree is scratch space, all zero on entry
 * and on return.
 */
static int acyclic_without_bounded(const struct analysis *a, uint32_t c, const uint32_t *members,
                                   size_t count, uint32_t *indegree, uint32_t *queue)
{
    const struct model *m = a->model;
    size_t remaining = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t v = members[i];
        if (is_bounded_node(m, v))
            continue;
        remaining++;
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
            uint32_t w = m->edges[e].to;
            if (a->scc_of[w] == c && !is_bounded_node(m, w))
                indegree[w]++;
        }
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < count; i++)
        if (!is_bounded_node(m, members[i]) && indegree[members[i]] == 0)
            queue[tail++] = members[i];
    while (head < tail) {
        uint32_t v = queue[head++];
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
            uint32_t w = m->edges[e].to;
            if (a->scc_of[w] == c && !is_bounded_node(m, w) && --indegree[w] == 0)
                queue[tail++] = w;
        }
    }
    for (size_t i = 0; i < count; i++)
        indegree[members[i]] = 0;
    return tail == remaining;
}

/* How much of what makes a path unbounded a continuation leads to: both
 * reasons, then recursion, then dynamic allocas, then nothing. */
static unsigned unbounded_rank(unsigned unbounded)
{
    return (unbounded & UNBOUNDED_RECURSION ? 2u : 0u) + (unbounded & UNBOUNDED_DYNAMIC ? 1u : 0u);
}

/*
 * Is candidate a worse continuation than the current best? One that leads
 * to an unbounded cycle or frame wins over one that does not (recursion
 * first), so the path of an unbounded root shows why it is unbounded, and
 * its figure (a lower bound) is that path's. Among equals the larger figure
 * wins, so a bounded root's number is the maximum over all its paths.
 */
static int worse(const struct node_result *cand, const struct node_result *best)
{
    if (!best)
        return 1;
    unsigned rc = unbounded_rank(cand->unbounded), rb = unbounded_rank(best->unbounded);
    if (rc != rb)
        return rc > rb;
    return cand->worst > best->worst;
}

static void add_cycle(struct analysis *a, uint32_t c, const uint32_t *members, size_t count,
                      uint32_t *indegree, uint32_t *queue)
{
    const struct model *m = a->model;
    struct cycle cy;
    memset(&cy, 0, sizeof cy);
    cy.functions = xmalloc(count * sizeof *cy.functions);
    for (size_t i = 0; i < count; i++) {
        uint32_t v = members[i];
        cy.frame_sum = sat_add(cy.frame_sum, m->nodes[v].frame);
        if (m->nodes[v].kind == NODE_FUNCTION)
            cy.functions[cy.count++] = m->nodes[v].function;
        if (is_bounded_node(m, v))
            cy.bound_sum = sat_add(cy.bound_sum, m->functions[m->nodes[v].function]
                                                     .entry.recursion_bound);
    }
    cy.bounded = cy.bound_sum > 0 && acyclic_without_bounded(a, c, members, count, indegree, queue);
    cy.charge = cy.bounded ? sat_mul(sat_add(cy.bound_sum, 1), cy.frame_sum) : cy.frame_sum;
    if (!cy.bounded)
        a->unbounded_cycles++;
    GROW(a->cycles, a->cycle_cap, a->cycle_count + 1);
    a->cycles[a->cycle_count++] = cy;
}

static void worst_paths(struct analysis *a)
{
    const struct model *m = a->model;
    size_t n = m->node_count;
    /* Members of each component, grouped by a counting sort (ascending node order). */
    uint32_t *start = xcalloc((size_t)a->scc_count + 1, sizeof *start);
    uint32_t *members = xmalloc((n ? n : 1) * sizeof *members);
    for (size_t v = 0; v < n; v++)
        start[a->scc_of[v] + 1]++;
    for (uint32_t c = 0; c < a->scc_count; c++)
        start[c + 1] += start[c];
    uint32_t *fill = xmalloc(((size_t)a->scc_count + 1) * sizeof *fill);
    memcpy(fill, start, ((size_t)a->scc_count + 1) * sizeof *fill);
    for (uint32_t v = 0; v < n; v++)
        members[fill[a->scc_of[v]]++] = v;
    free(fill);

    uint32_t *indegree = xcalloc(n ? n : 1, sizeof *indegree);
    uint32_t *queue = xmalloc((n ? n : 1) * sizeof *queue);
    a->results = xcalloc(n ? n : 1, sizeof *a->results);

    for (uint32_t c = 0; c < a->scc_count; c++) {
        const uint32_t *mem = members + start[c];
        size_t count = start[c + 1] - start[c];
        int cyclic = count > 1;
        const struct node_result *best = NULL;
        uint32_t best_edge = NONE;
        unsigned unbounded = 0;
        for (size_t i = 0; i < count; i++) {
            uint32_t v = mem[i];
            for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
                uint32_t w = m->edges[e].to;
                if (a->scc_of[w] == c) {
                    cyclic |= w == v;
                    continue;
                }
                unbounded |= a->results[w].unbounded;
                if (worse(&a->results[w], best)) {
                    best = &a->results[w];
                    best_edge = e;
                }
            }
            if (m->nodes[v].kind == NODE_FUNCTION &&
                (m->functions[m->nodes[v].function].entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA))
                unbounded |= UNBOUNDED_DYNAMIC;
        }
        uint64_t exit_worst = best ? best->worst : 0;
        if (!cyclic) {
            uint32_t v = mem[0];
            a->results[v] = (struct node_result){ sat_add(m->nodes[v].frame, exit_worst),
                                                  best_edge, NONE, unbounded };
            continue;
        }
        add_cycle(a, c, mem, count, indegree, queue);
        const struct cycle *cy = &a->cycles[a->cycle_count - 1];
        if (!cy->bounded)
            unbounded |= UNBOUNDED_RECURSION;
        for (size_t i = 0; i < count; i++)
            a->results[mem[i]] =
                (struct node_result){ sat_add(cy->charge, exit_worst), best_edge,
                                      (uint32_t)(a->cycle_count - 1), unbounded };
    }
    free(start);
    free(members);
    free(indegree);
    free(queue);
}

/* ---- Roots ---------------------------------------------------------------- */

static void add_root(struct analysis *a, uint8_t *seen, uint32_t f)
{
    if (seen[f])
        return;
    seen[f] = 1;
    const struct node_result *r = &a->results[f];
    GROW(a->roots, a->root_cap, a->root_count + 1);
    a->roots[a->root_count++] = (struct root){ f, r->worst, r->unbounded };
}

static const struct model *sort_model; /* qsort has no context argument in C11 */

static int root_order(const void *x, const void *y)
{
    const struct root *p = x, *q = y;
    if ((p->unbounded != 0) != (q->unbounded != 0))
        return p->unbounded ? -1 : 1;
    if (p->worst != q->worst)
        return p->worst > q->worst ? -1 : 1;
    int c = strcmp(sort_model->functions[p->function].name,
                   sort_model->functions[q->function].name);
    if (c)
        return c;
    return p->function < q->function ? -1 : p->function > q->function;
}

/*
 * Without --root: main; every address-taken function that no resolved
 * indirect call in known code reaches (code without metadata may call it,
 * like a callback handed to libc); and, in a library or object without main,
 * every global function nothing calls.
 */
static void default_roots(struct analysis *a, uint8_t *seen)
{
    const struct model *m = a->model;
    if (m->main_function != NONE)
        add_root(a, seen, m->main_function);
    for (uint32_t f = 0; f < m->function_count; f++) {
        const struct function *fn = &m->functions[f];
        if (!function_live(fn))
            continue;
        if (fn->address_taken && !fn->indirect_target)
            add_root(a, seen, f);
        else if (m->main_function == NONE && !fn->called &&
                 ((fn->entry.linkage != CAPRI_MD_LINK_INTERNAL && !fn->overridden) ||
                  fn->alias_global))
            add_root(a, seen, f); /* callable from outside by its name or an alias's */
    }
    if (a->root_count > 0)
        return;
    /* Everything is called by something (say, one big cycle): report one
     * function of every component nothing outside it calls. */
    uint8_t *entered = xcalloc((size_t)a->scc_count + 1, 1);
    for (uint32_t v = 0; v < m->node_count; v++)
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++)
            if (a->scc_of[m->edges[e].to] != a->scc_of[v])
                entered[a->scc_of[m->edges[e].to]] = 1;
    for (uint32_t f = 0; f < m->function_count; f++)
        if (!entered[a->scc_of[f]]) {
            entered[a->scc_of[f]] = 1;
            add_root(a, seen, f);
        }
    free(entered);
}

static int chosen_roots(struct analysis *a, uint8_t *seen, struct error *err)
{
    const struct model *m = a->model;
    for (size_t i = 0; i < a->options.root_count; i++) {
        const char *name = a->options.roots[i];
        uint32_t f = model_lookup(m, name);
        if (f != NONE) {
            add_root(a, seen, f);
            continue;
        }
        int found = 0;
        for (uint32_t g = 0; g < m->function_count; g++)
            if (m->functions[g].entry.linkage == CAPRI_MD_LINK_INTERNAL &&
                strcmp(m->functions[g].name, name) == 0) {
                add_root(a, seen, g);
                found = 1;
            }
        for (size_t k = 0; k < m->alias_count; k++) /* static aliases of that name */
            if (m->aliases[k].linkage == CAPRI_MD_LINK_INTERNAL &&
                strcmp(m->aliases[k].name, name) == 0) {
                add_root(a, seen, m->aliases[k].function);
                found = 1;
            }
        if (!found)
            return errorf(err, "--root %s: no function of that name has capri metadata", name);
    }
    return 0;
}

/* ---- Findings ---------------------------------------------------------------- */

/*
 * With --root the report is about what those roots can reach, so findings
 * elsewhere in the program are left out: mark the reachable nodes.
 */
static uint8_t *reachable_from_roots(const struct analysis *a)
{
    const struct model *m = a->model;
    uint8_t *seen = xcalloc(m->node_count ? m->node_count : 1, 1);
    uint32_t *stack = xmalloc((m->node_count ? m->node_count : 1) * sizeof *stack);
    size_t sp = 0;
    for (size_t r = 0; r < a->root_count; r++)
        if (!seen[a->roots[r].function]) {
            seen[a->roots[r].function] = 1;
            stack[sp++] = a->roots[r].function;
        }
    while (sp > 0) {
        uint32_t v = stack[--sp];
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
            uint32_t w = m->edges[e].to;
            if (!seen[w]) {
                seen[w] = 1;
                stack[sp++] = w;
            }
        }
    }
    free(stack);
    return seen;
}

/* Drop the cycles no root reaches, renumbering the rest. */
static void keep_reachable_cycles(struct analysis *a, const uint8_t *reach)
{
    const struct model *m = a->model;
    uint32_t *renumber = xmalloc((a->cycle_count ? a->cycle_count : 1) * sizeof *renumber);
    size_t kept = 0;
    a->unbounded_cycles = 0;
    for (size_t i = 0; i < a->cycle_count; i++) {
        struct cycle *cy = &a->cycles[i];
        if (cy->count > 0 && reach[cy->functions[0]]) {
            renumber[i] = (uint32_t)kept;
            a->unbounded_cycles += !cy->bounded;
            a->cycles[kept++] = *cy;
        } else {
            renumber[i] = NONE;
            free(cy->functions);
        }
    }
    a->cycle_count = kept;
    for (size_t v = 0; v < m->node_count; v++)
        if (a->results[v].cycle != NONE)
            a->results[v].cycle = renumber[a->results[v].cycle];
    free(renumber);
}

static void add_external(struct analysis *a, uint32_t site, uint32_t node, int indirect)
{
    GROW(a->externals, a->external_cap, a->external_count + 1);
    a->externals[a->external_count++] = (struct external_call){ site, node, indirect };
}

/*
 * Move the calls whose callee is charged a measured mark out of the
 * findings, keeping both lists in call site order: their stack was
 * measured, not assumed.
 */
static void split_marked(struct analysis *a)
{
    const struct model *m = a->model;
    a->marked = xmalloc((a->external_count ? a->external_count : 1) * sizeof *a->marked);
    size_t kept = 0;
    for (size_t i = 0; i < a->external_count; i++) {
        const struct external_call *x = &a->externals[i];
        if (m->nodes[x->node].source == SOURCE_MARK)
            a->marked[a->marked_count++] = *x;
        else
            a->externals[kept++] = *x;
    }
    a->external_count = kept;
}

static void collect_findings(struct analysis *a)
{
    const struct model *m = a->model;
    uint8_t *reach = NULL;
    if (a->options.root_count > 0) {
        reach = reachable_from_roots(a);
        keep_reachable_cycles(a, reach);
    }
    for (uint32_t s = 0; s < m->site_count; s++) {
        if (reach && !reach[m->sites[s].caller])
            continue;
        if (m->sites[s].resolution == SITE_UNRESOLVED || m->sites[s].resolution == SITE_ASM) {
            GROW(a->unresolved_sites, a->unresolved_cap, a->unresolved_count + 1);
            a->unresolved_sites[a->unresolved_count++] = s;
        }
    }
    /*
     * Calls into code without metadata, in call site order (a function's
     * edges are in the order of its sites): direct edges to an external
     * node, and the external candidates of indirect calls, found through
     * the call's type sets (one by C type and maybe one by IR type: a
     * candidate in both is listed once).
     */
    for (uint32_t v = 0; v < m->function_count; v++) {
        if (reach && !reach[v])
            continue;
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
            uint32_t s = m->edges[e].site, to = m->edges[e].to;
            if (s == NONE)
                continue;
            if (m->nodes[to].kind == NODE_EXTERNAL && m->sites[s].resolution == SITE_EXTERNAL) {
                add_external(a, s, to, 0);
                continue;
            }
            if (m->nodes[to].kind != NODE_TYPE_SET)
                continue;
            int second_set = e > m->edge_start[v] && m->edges[e - 1].site == s;
            size_t site_first = a->external_count;
            if (second_set)
                while (site_first > 0 && a->externals[site_first - 1].site == s)
                    site_first--;
            size_t site_end = a->external_count;
            for (uint32_t k = m->edge_start[to]; k < m->edge_start[to + 1]; k++) {
                uint32_t w = m->edges[k].to;
                if (m->nodes[w].kind != NODE_EXTERNAL)
                    continue;
                int seen = 0;
                for (size_t i = site_first; i < site_end && !seen; i++)
                    seen = a->externals[i].node == w;
                if (!seen)
                    add_external(a, s, w, 1);
            }
        }
    }
    split_marked(a);
    for (uint32_t f = 0; f < m->function_count; f++)
        if ((m->functions[f].entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA) && (!reach || reach[f])) {
            GROW(a->dynamic_functions, a->dynamic_cap, a->dynamic_count + 1);
            a->dynamic_functions[a->dynamic_count++] = f;
        }
    if (a->options.has_stack_limit)
        for (uint32_t r = 0; r < a->root_count; r++)
            if (a->roots[r].unbounded || a->roots[r].worst > a->options.stack_limit) {
                GROW(a->over_limit_roots, a->over_limit_cap, a->over_limit_count + 1);
                a->over_limit_roots[a->over_limit_count++] = r;
            }
    for (uint32_t k = 0; k < m->yield_site_count; k++) {
        const struct yield_site *y = &m->yield_sites[k];
        if (y->dropped || (reach && !reach[y->function]))
            continue;
        if (y->entry.dead > 0 && y->entry.dead >= a->options.dead_state_threshold) {
            GROW(a->dead_state_sites, a->dead_state_cap, a->dead_state_count + 1);
            a->dead_state_sites[a->dead_state_count++] = k;
        }
        if (y->entry.live > 0 && y->entry.live >= a->options.live_state_threshold) {
            GROW(a->live_state_sites, a->live_state_cap, a->live_state_count + 1);
            a->live_state_sites[a->live_state_count++] = k;
        }
    }
    free(reach);
}

size_t finding_count(const struct analysis *a, enum finding f)
{
    switch (f) {
    case FINDING_RECURSION: return a->unbounded_cycles;
    case FINDING_UNRESOLVED: return a->unresolved_count;
    case FINDING_DYNAMIC_ALLOCA: return a->dynamic_count;
    case FINDING_EXTERNAL: return a->external_count;
    case FINDING_STACK_LIMIT: return a->over_limit_count;
    case FINDING_DEAD_STATE: return a->dead_state_count;
    case FINDING_LIVE_STATE: return a->live_state_count;
    case FINDING_COUNT: break;
    }
    return 0;
}

int analysis_run(struct analysis *a, const struct model *m, const struct analysis_options *opts,
                 struct error *err)
{
    memset(a, 0, sizeof *a);
    a->model = m;
    a->options = *opts;
    tarjan(a);
    worst_paths(a);
    uint8_t *seen = xcalloc(m->function_count ? m->function_count : 1, 1);
    int rc = 0;
    if (opts->root_count > 0)
        rc = chosen_roots(a, seen, err);
    else
        default_roots(a, seen);
    free(seen);
    if (rc)
        return -1;
    sort_model = m;
    sort_array(a->roots, a->root_count, sizeof *a->roots, root_order);
    collect_findings(a);
    return 0;
}

void analysis_free(struct analysis *a)
{
    for (size_t i = 0; i < a->cycle_count; i++)
        free(a->cycles[i].functions);
    free(a->cycles);
    free(a->scc_of);
    free(a->results);
    free(a->roots);
    free(a->unresolved_sites);
    free(a->externals);
    free(a->marked);
    free(a->dynamic_functions);
    free(a->dead_state_sites);
    free(a->live_state_sites);
    free(a->over_limit_roots);
    memset(a, 0, sizeof *a);
}

size_t analysis_path(const struct analysis *a, uint32_t root_function, struct path_step **steps)
{
    const struct model *m = a->model;
    size_t count = 0, cap = 0;
    *steps = NULL;
    uint32_t node = root_function;
    uint32_t via = NONE;
    int indirect = 0, orphan = 0;
    /* Each step enters a later component, so the walk ends; the bound is a guard. */
    for (size_t guard = 0; guard <= a->scc_count; guard++) {
        if (m->nodes[node].kind == NODE_TYPE_SET) {
            indirect = 1;
            orphan = m->nodes[node].orphan;
        } else {
            GROW(*steps, cap, count + 1);
            (*steps)[count++] = (struct path_step){ node, via, indirect, orphan };
            indirect = 0;
            orphan = 0;
        }
        uint32_t e = a->results[node].next_edge;
        if (e == NONE)
            break;
        if (m->edges[e].site != NONE)
            via = m->edges[e].site;
        node = m->edges[e].to;
    }
    return count;
}
