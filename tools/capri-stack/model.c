/*
 * Merge the records of all inputs into one call graph (see model.h).
 *
 * Linking follows the static linker: a static (INTERNAL) function is visible
 * only inside its own record; among global definitions a strong one beats a
 * weak one, and of two strong ones the first wins with a warning. Indirect
 * calls link to every address-taken function of the same type identity.
 */
#include "model.h"
#include "machine.h"

#include <stdlib.h>

/* Scope used for the names of external (metadata-less) nodes. */
#define SCOPE_EXTERNAL (SCOPE_GLOBAL - 1)

/* An idmap value meaning "this type identity has no candidates". */
#define EMPTY_SET (NONE - 1)

const char *frame_source_name(enum frame_source source)
{
    switch (source) {
    case SOURCE_BACKEND: return "backend";
    case SOURCE_ESTIMATE: return "estimate";
    case SOURCE_RESERVE: return "reserve";
    case SOURCE_NONE: break;
    }
    return "none";
}

uint64_t corrected_backend_size(uint64_t backend, const struct capri_md_function_entry *f,
                                uint16_t elf_machine)
{
    const struct machine *mach = machine_find(elf_machine);
    uint64_t size = backend;
    if (mach) {
        size = sat_add(size, mach->call_push_bytes);
        if ((f->flags & CAPRI_MD_FN_LEAF) && !(f->flags & CAPRI_MD_FN_NO_RED_ZONE))
            size = sat_add(size, mach->red_zone_bytes);
    }
    /* Realignment: the prologue's `and` can discard up to the alignment. */
    if (f->log2_max_align > 4 && f->log2_max_align < 64)
        size = sat_add(size, (uint64_t)1 << f->log2_max_align);
    return size;
}

uint32_t model_lookup(const struct model *m, const char *name)
{
    return strmap_get(&m->symbols, SCOPE_GLOBAL, name);
}

/* ---- Building ---------------------------------------------------------------- */

struct pending_edge {
    uint32_t from, to, site;
};

/* A possible indirect-call target, indexed by one of its type ids. */
struct candidate {
    uint32_t id;
    uint32_t node;
};

struct builder {
    struct model *m;
    struct pending_edge *edges;
    size_t edge_count, edge_cap;
    struct strmap externals; /* name -> external node */
    uint32_t unresolved;     /* the shared unresolved node, or NONE */
    /* Candidates by id: C-type ids of precisely typed targets; IR-type ids
     * of coarsely typed targets; IR-type ids of all targets. */
    struct candidate *by_c, *by_coarse_ir, *by_ir;
    size_t c_count, c_cap, coarse_count, coarse_cap, ir_count, ir_cap;
    struct idmap c_sets, ir_sets; /* type key -> type set node (or EMPTY_SET) */
};

static uint32_t add_node(struct model *m, struct node n)
{
    GROW(m->nodes, m->node_cap, m->node_count + 1);
    m->nodes[m->node_count] = n;
    return (uint32_t)m->node_count++;
}

static void add_edge(struct builder *b, uint32_t from, uint32_t to, uint32_t site)
{
    GROW(b->edges, b->edge_cap, b->edge_count + 1);
    b->edges[b->edge_count++] = (struct pending_edge){ from, to, site };
}

static uint32_t external_node(struct builder *b, const char *name)
{
    uint32_t n = strmap_get(&b->externals, SCOPE_EXTERNAL, name);
    if (n == MAP_MISSING) {
        n = add_node(b->m, (struct node){ .kind = NODE_EXTERNAL,
                                          .name = name,
                                          .function = NONE,
                                          .frame = b->m->options.external_reserve,
                                          .source = SOURCE_RESERVE });
        strmap_put(&b->externals, SCOPE_EXTERNAL, name, n);
    }
    return n;
}

static uint32_t unresolved_node(struct builder *b)
{
    if (b->unresolved == NONE)
        b->unresolved = add_node(b->m, (struct node){ .kind = NODE_UNRESOLVED,
                                                      .name = "<unknown target>",
                                                      .function = NONE,
                                                      .frame = b->m->options.external_reserve,
                                                      .source = SOURCE_RESERVE });
    return b->unresolved;
}

static void add_functions(struct model *m, const struct inputs *in)
{
    for (size_t o = 0; o < in->count; o++) {
        const struct object *obj = &in->objects[o];
        m->any_stack_sizes |= obj->has_stack_sizes;
        for (size_t r = 0; r < obj->record_count; r++) {
            const struct capri_md_module *rec = &obj->records[r];
            GROW(m->modules, m->module_cap, m->module_count + 1);
            m->modules[m->module_count] =
                (struct module){ obj, rec, (uint32_t)m->function_count };
            for (uint32_t i = 0; i < rec->function_count; i++) {
                GROW(m->functions, m->function_cap, m->function_count + 1);
                struct function *f = &m->functions[m->function_count++];
                memset(f, 0, sizeof *f);
                capri_md_function(rec, i, &f->entry);
                f->name = capri_md_string(rec, f->entry.name);
                f->file = capri_md_string(rec, f->entry.file);
                f->line = f->entry.line;
                f->module = (uint32_t)m->module_count;
                f->address = capri_md_address_slot(rec, i);
                f->address_taken = (f->entry.flags & CAPRI_MD_FN_ADDRESS_TAKEN) != 0;
                if (f->address != 0 && stack_size_find(obj, f->address, &f->backend) == 0) {
                    f->has_backend = 1;
                    f->frame = corrected_backend_size(f->backend, &f->entry, obj->elf_machine);
                    f->source = SOURCE_BACKEND;
                } else {
                    f->frame = f->entry.frame_estimate;
                    f->source = SOURCE_ESTIMATE;
                }
            }
            m->module_count++;
        }
    }
}

static const char *function_where(const struct model *m, const struct function *f)
{
    return m->modules[f->module].object->name;
}

/* The linker's rules, applied to records. */
static void link_symbols(struct model *m)
{
    for (uint32_t i = 0; i < m->function_count; i++) {
        struct function *f = &m->functions[i];
        if (f->name[0] == '\0')
            continue;
        if (f->entry.linkage == CAPRI_MD_LINK_INTERNAL) {
            if (strmap_get(&m->symbols, f->module, f->name) == MAP_MISSING)
                strmap_put(&m->symbols, f->module, f->name, i);
            else
                f->overridden = 1;
            continue;
        }
        uint32_t prev = strmap_get(&m->symbols, SCOPE_GLOBAL, f->name);
        if (prev == MAP_MISSING) {
            strmap_put(&m->symbols, SCOPE_GLOBAL, f->name, i);
            continue;
        }
        struct function *p = &m->functions[prev];
        if (p->entry.linkage == CAPRI_MD_LINK_WEAK && f->entry.linkage == CAPRI_MD_LINK_EXTERNAL) {
            p->overridden = 1;
            strmap_put(&m->symbols, SCOPE_GLOBAL, f->name, i);
        } else {
            if (p->entry.linkage == CAPRI_MD_LINK_EXTERNAL &&
                f->entry.linkage == CAPRI_MD_LINK_EXTERNAL)
                warnf("%s is defined in both %s and %s; using the first", f->name,
                      function_where(m, p), function_where(m, f));
            f->overridden = 1;
        }
    }
    m->main_function = model_lookup(m, "main");
}

static int is_coarse_function(const struct model *m, const struct function *f)
{
    return (f->entry.flags & CAPRI_MD_FN_TYPE_COARSE) ||
           (m->modules[f->module].record->flags & CAPRI_MD_MODULE_TYPES_COARSE);
}

static void add_candidate(struct builder *b, uint32_t node, uint32_t type_id,
                          uint32_t ir_type_id, int coarse)
{
    if (coarse) {
        GROW(b->by_coarse_ir, b->coarse_cap, b->coarse_count + 1);
        b->by_coarse_ir[b->coarse_count++] = (struct candidate){ ir_type_id, node };
    } else {
        GROW(b->by_c, b->c_cap, b->c_count + 1);
        b->by_c[b->c_count++] = (struct candidate){ type_id, node };
    }
    GROW(b->by_ir, b->ir_cap, b->ir_count + 1);
    b->by_ir[b->ir_count++] = (struct candidate){ ir_type_id, node };
}

static int by_id(const void *a, const void *c)
{
    const struct candidate *x = a, *y = c;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/*
 * Collect every possible indirect-call target: address-taken functions, and
 * functions other records name in REFERENCES (their address is taken where
 * only a declaration is visible). A referenced name nobody defines is code
 * without metadata that can still be called indirectly: an external node.
 */
static void collect_candidates(struct builder *b)
{
    struct model *m = b->m;
    for (size_t mi = 0; mi < m->module_count; mi++) {
        const struct capri_md_module *rec = m->modules[mi].record;
        for (uint32_t i = 0; i < rec->reference_count; i++) {
            struct capri_md_reference_entry r;
            capri_md_reference(rec, i, &r);
            const char *name = capri_md_string(rec, r.name);
            uint32_t def = model_lookup(m, name);
            int coarse = (r.flags & CAPRI_MD_FN_TYPE_COARSE) ||
                         (rec->flags & CAPRI_MD_MODULE_TYPES_COARSE);
            if (def != MAP_MISSING) {
                /* Also under the type the referring module saw, in case the
                 * definition's record describes its type differently
                 * (say, coarsely): the conservative union. */
                m->functions[def].address_taken = 1;
                add_candidate(b, def, r.type_id, r.ir_type_id, coarse);
                continue;
            }
            int fresh = strmap_get(&b->externals, SCOPE_EXTERNAL, name) == MAP_MISSING;
            uint32_t node = external_node(b, name);
            if (fresh)
                add_candidate(b, node, r.type_id, r.ir_type_id, coarse);
        }
    }
    for (uint32_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        /* A losing weak copy is never what the pointer points to. */
        if (f->address_taken && !f->overridden)
            add_candidate(b, i, f->entry.type_id, f->entry.ir_type_id, is_coarse_function(m, f));
    }
    sort_array(b->by_c, b->c_count, sizeof *b->by_c, by_id);
    sort_array(b->by_coarse_ir, b->coarse_count, sizeof *b->by_coarse_ir, by_id);
    sort_array(b->by_ir, b->ir_count, sizeof *b->by_ir, by_id);
}

/* Add edges from set to every candidate with this id; returns how many. */
static uint32_t link_candidates(struct builder *b, uint32_t set, const struct candidate *list,
                                size_t count, uint32_t id)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t n = 0;
    for (size_t i = lo; i < count && list[i].id == id; i++) {
        if (i > lo && list[i].node == list[i - 1].node)
            continue; /* sorted by (id, node): a duplicate */
        n++;
        if (set != NONE)
            add_edge(b, set, list[i].node, NONE);
    }
    return n;
}

static uint32_t count_candidates(struct builder *b, const struct candidate *list, size_t count,
                                 uint32_t id)
{
    return link_candidates(b, NONE, list, count, id);
}

/*
 * The type set node for an indirect call, created on first use, or
 * EMPTY_SET. A C-typed call matches precisely typed targets by C type and
 * coarsely typed targets (no KCFI hash known) by IR type.
 */
static uint32_t type_set(struct builder *b, int ir, uint32_t type_id, uint32_t ir_type_id,
                         uint32_t *candidates)
{
    struct idmap *sets = ir ? &b->ir_sets : &b->c_sets;
    uint64_t key = ir ? ir_type_id : ((uint64_t)type_id << 32 | ir_type_id);
    uint32_t set = idmap_get(sets, key);
    uint32_t n;
    if (ir)
        n = count_candidates(b, b->by_ir, b->ir_count, ir_type_id);
    else
        n = count_candidates(b, b->by_c, b->c_count, type_id) +
            count_candidates(b, b->by_coarse_ir, b->coarse_count, ir_type_id);
    *candidates = n;
    if (set != MAP_MISSING)
        return set;
    if (n == 0) {
        idmap_put(sets, key, EMPTY_SET);
        return EMPTY_SET;
    }
    set = add_node(b->m, (struct node){ .kind = NODE_TYPE_SET,
                                        .function = NONE,
                                        .type_id = ir ? ir_type_id : type_id,
                                        .ir_type = ir,
                                        .source = SOURCE_NONE });
    idmap_put(sets, key, set);
    if (ir) {
        link_candidates(b, set, b->by_ir, b->ir_count, ir_type_id);
    } else {
        link_candidates(b, set, b->by_c, b->c_count, type_id);
        link_candidates(b, set, b->by_coarse_ir, b->coarse_count, ir_type_id);
    }
    return set;
}

static void add_indirect(struct builder *b, struct call_site *s, uint32_t site, int call_coarse,
                         uint32_t caller)
{
    uint32_t n_c = 0, n_ir = 0;
    uint32_t c_set = EMPTY_SET, ir_set = EMPTY_SET;
    /* A call through a cast pointer may reach functions of another C type
     * with the same IR type: match it both ways. */
    int use_ir = call_coarse || (s->entry.flags & CAPRI_MD_CALLF_CAST);
    if (!call_coarse)
        c_set = type_set(b, 0, s->entry.type_id, s->entry.ir_type_id, &n_c);
    if (use_ir)
        ir_set = type_set(b, 1, s->entry.type_id, s->entry.ir_type_id, &n_ir);
    if (c_set != EMPTY_SET)
        add_edge(b, caller, c_set, site);
    if (ir_set != EMPTY_SET)
        add_edge(b, caller, ir_set, site);
    if (c_set == EMPTY_SET && ir_set == EMPTY_SET) {
        s->resolution = SITE_UNRESOLVED;
        add_edge(b, caller, unresolved_node(b), site);
    } else {
        s->resolution = SITE_INDIRECT;
        s->candidates = n_c + n_ir;
    }
}

static void add_calls(struct builder *b)
{
    struct model *m = b->m;
    for (uint32_t fi = 0; fi < m->function_count; fi++) {
        const struct function *f = &m->functions[fi];
        const struct module *mod = &m->modules[f->module];
        const struct capri_md_module *rec = mod->record;
        for (uint32_t k = 0; k < f->entry.call_count; k++) {
            GROW(m->sites, m->site_cap, m->site_count + 1);
            uint32_t si = (uint32_t)m->site_count++;
            struct call_site *s = &m->sites[si];
            memset(s, 0, sizeof *s);
            s->caller = fi;
            capri_md_call(rec, f->entry.first_call + k, &s->entry);
            s->file = capri_md_string(rec, s->entry.file);
            s->line = s->entry.line;
            int call_coarse = (s->entry.flags & CAPRI_MD_CALLF_TYPE_COARSE) ||
                              (rec->flags & CAPRI_MD_MODULE_TYPES_COARSE) ||
                              m->options.indirect == INDIRECT_IR_TYPE;
            uint32_t target;
            switch (s->entry.kind) {
            case CAPRI_MD_CALL_LOCAL:
                s->resolution = SITE_DIRECT;
                target = mod->first_function + s->entry.callee;
                s->callee_name = m->functions[target].name;
                add_edge(b, fi, target, si);
                break;
            case CAPRI_MD_CALL_NAMED:
                s->callee_name = capri_md_string(rec, s->entry.callee);
                target = strmap_get(&m->symbols, f->module, s->callee_name);
                if (target == MAP_MISSING)
                    target = model_lookup(m, s->callee_name);
                if (target != MAP_MISSING) {
                    s->resolution = SITE_DIRECT;
                } else {
                    s->resolution = SITE_EXTERNAL;
                    target = external_node(b, s->callee_name);
                }
                add_edge(b, fi, target, si);
                break;
            case CAPRI_MD_CALL_INDIRECT:
                add_indirect(b, s, si, call_coarse, fi);
                break;
            default: /* ASM; the parser rejects unknown kinds */
                s->resolution = SITE_ASM;
                add_edge(b, fi, unresolved_node(b), si);
                break;
            }
        }
    }
}

/* Counting sort of the pending edges into the CSR arrays. */
static void finish_edges(struct builder *b)
{
    struct model *m = b->m;
    m->edge_start = xcalloc(m->node_count + 1, sizeof *m->edge_start);
    for (size_t i = 0; i < b->edge_count; i++)
        m->edge_start[b->edges[i].from + 1]++;
    for (size_t n = 0; n < m->node_count; n++)
        m->edge_start[n + 1] += m->edge_start[n];
    uint32_t *fill = xmalloc((m->node_count + 1) * sizeof *fill);
    memcpy(fill, m->edge_start, (m->node_count + 1) * sizeof *fill);
    m->edges = xmalloc((b->edge_count ? b->edge_count : 1) * sizeof *m->edges);
    m->edge_count = b->edge_count;
    for (size_t i = 0; i < b->edge_count; i++) {
        const struct pending_edge *e = &b->edges[i];
        m->edges[fill[e->from]++] = (struct edge){ e->to, e->site };
        if (e->to < m->function_count) {
            m->functions[e->to].called = 1;
            if (m->nodes[e->from].kind == NODE_TYPE_SET)
                m->functions[e->to].indirect_target = 1;
        }
    }
    free(fill);
}

void model_build(struct model *m, const struct inputs *in, const struct model_options *opts)
{
    memset(m, 0, sizeof *m);
    m->options = *opts;
    add_functions(m, in);
    link_symbols(m);
    for (uint32_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        add_node(m, (struct node){ .kind = NODE_FUNCTION,
                                   .name = f->name,
                                   .function = i,
                                   .frame = f->frame,
                                   .source = f->source });
    }
    struct builder b;
    memset(&b, 0, sizeof b);
    b.m = m;
    b.unresolved = NONE;
    collect_candidates(&b);
    add_calls(&b);
    finish_edges(&b);
    free(b.edges);
    free(b.by_c);
    free(b.by_coarse_ir);
    free(b.by_ir);
    strmap_free(&b.externals);
    idmap_free(&b.c_sets);
    idmap_free(&b.ir_sets);
}

void model_free(struct model *m)
{
    free(m->modules);
    free(m->functions);
    free(m->sites);
    free(m->nodes);
    free(m->edges);
    free(m->edge_start);
    strmap_free(&m->symbols);
    memset(m, 0, sizeof *m);
}
