/*
 * Merge the records of all inputs into one call graph (see model.h).
 *
 * Linking follows the static linker: a static (INTERNAL) function is visible
 * only inside its own record; among global definitions a strong one beats a
 * weak one, and of two strong ones the first wins with a warning. A name is
 * defined by a function or by an alias of one (ALIASES, since 1.1), under
 * the same rules. Indirect calls link to every address-taken function of the
 * same type identity.
 *
 * Orphans (--indirect c-type, the default): an address-taken function none
 * of whose C type ids is the C type id of any C-typed indirect call in the
 * program (in live code) can only be reached through a pointer of another
 * C type, i.e. through a cast, or from code without metadata. So a C-typed
 * indirect call also reaches the orphans whose IR type id equals its own,
 * through an orphan set. The orphans stay roots (code without metadata may
 * still call them): the rule only adds edges. REFERENCES count on the
 * candidate side (a reference is an address taken under the referring
 * module's C type, so it adds ids the function may be matched by), never on
 * the call side: taking an address is not calling it.
 */
#include "model.h"

#include <stdlib.h>

/* Scope used for the names of external (metadata-less) nodes. */
#define SCOPE_EXTERNAL (SCOPE_GLOBAL - 1)

/* An idmap value meaning "this type identity has no candidates". */
#define EMPTY_SET (NONE - 1)

const char *indirect_mode_name(enum indirect_mode mode)
{
    switch (mode) {
    case INDIRECT_C_TYPE: return "c-type";
    case INDIRECT_C_TYPE_STRICT: return "c-type-strict";
    case INDIRECT_IR_TYPE: return "ir-type";
    }
    return "?";
}

int function_live(const struct function *f)
{
    return !f->overridden || f->alias_winner;
}

const char *frame_source_name(enum frame_source source)
{
    switch (source) {
    case SOURCE_BACKEND: return "backend";
    case SOURCE_ESTIMATE: return "estimate";
    case SOURCE_RESERVE: return "reserve";
    case SOURCE_MARK: return "mark";
    case SOURCE_NONE: break;
    }
    return "none";
}

const char *checkpoint_reason_name(uint8_t reason)
{
    switch (reason) {
    case CAPRI_MD_CP_CYCLE: return "cycle";
    case CAPRI_MD_CP_MAXPATH: return "maxpath";
    case CAPRI_MD_CP_CROSS_FILE: return "cross-file";
    case CAPRI_MD_CP_EXTERNAL: return "external";
    case CAPRI_MD_CP_INDIRECT: return "indirect";
    case CAPRI_MD_CP_DYNAMIC_ALLOCA: return "dynamic-alloca";
    case CAPRI_MD_CP_FORCED: return "forced";
    }
    return "?";
}

uint64_t corrected_backend_size(uint64_t backend, const struct capri_md_function_entry *f,
                                uint16_t elf_machine)
{
    /* One implementation of the corrections, shared with libcapri. */
    return capri_md_backend_frame(backend, f, elf_machine);
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
    uint32_t ir; /* its IR type id (for orphans) */
    uint32_t node;
};

struct builder {
    struct model *m;
    struct pending_edge *edges;
    size_t edge_count, edge_cap;
    struct strmap externals; /* name -> external node */
    uint32_t unresolved;     /* the shared unresolved node, or NONE */
    /* Candidates by id: C-type ids of precisely typed targets; IR-type ids
     * of coarsely typed targets; IR-type ids of all targets; IR-type ids of
     * orphans. */
    struct candidate *by_c, *by_coarse_ir, *by_ir, *by_orphan_ir;
    size_t c_count, c_cap, coarse_count, coarse_cap, ir_count, ir_cap, orphan_count, orphan_cap;
    struct idmap c_sets, ir_sets; /* type key -> type set node (or EMPTY_SET) */
    struct idmap orphan_sets;     /* IR type id -> orphan set node (or EMPTY_SET) */
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

/* The node of a callee without metadata. Its frame is what the calls by
 * name say (charge_external); SOURCE_NONE until one does. */
static uint32_t external_node(struct builder *b, const char *name)
{
    uint32_t n = strmap_get(&b->externals, SCOPE_EXTERNAL, name);
    if (n == MAP_MISSING) {
        n = add_node(b->m, (struct node){ .kind = NODE_EXTERNAL,
                                          .name = name,
                                          .function = NONE,
                                          .source = SOURCE_NONE });
        strmap_put(&b->externals, SCOPE_EXTERNAL, name, n);
    }
    return n;
}

/*
 * What a call by name says about its callee without metadata: the measured
 * stack mark the plugin charged (CAPRI_MD_CALLF2_MARK on the call), or,
 * without the flag (a record written before it, or a function the plugin's
 * tables do not list), the reserve. A flagged call without a region (an
 * entry too short to hold one) says the reserve too. Calls that disagree
 * (objects built by different plugins) charge the larger figure, and the
 * reserve when it ties with a mark: one call without a mark keeps the
 * callee a finding unless a larger mark was measured.
 */
static void charge_external(struct builder *b, uint32_t node, const struct capri_md_call_entry *c)
{
    struct node *n = &b->m->nodes[node];
    uint64_t frame = b->m->options.external_reserve;
    enum frame_source source = SOURCE_RESERVE;
    if ((c->flags2 & CAPRI_MD_CALLF2_MARK) && c->external_region != 0) {
        frame = c->external_region;
        source = SOURCE_MARK;
    }
    if (n->source == SOURCE_NONE || frame > n->frame ||
        (frame == n->frame && source == SOURCE_RESERVE)) {
        n->frame = frame;
        n->source = source;
    }
}

/* Callees without metadata that no call names (only REFERENCES do, for
 * indirect calls) get the reserve. */
static void finish_externals(struct model *m)
{
    for (size_t i = m->function_count; i < m->node_count; i++)
        if (m->nodes[i].kind == NODE_EXTERNAL && m->nodes[i].source == SOURCE_NONE) {
            m->nodes[i].frame = m->options.external_reserve;
            m->nodes[i].source = SOURCE_RESERVE;
        }
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
                f->first_alias = NONE;
                if (f->address != 0 && stack_size_find(obj, f->address, &f->backend) == 0) {
                    f->has_backend = 1;
                    f->frame = corrected_backend_size(f->backend, &f->entry, obj->elf_machine);
                    f->source = SOURCE_BACKEND;
                } else {
                    f->frame = f->entry.frame_estimate;
                    f->source = SOURCE_ESTIMATE;
                }
            }
            /* Backwards, so that each function's list is in record order. */
            GROW(m->aliases, m->alias_cap, m->alias_count + rec->alias_count);
            for (uint32_t i = rec->alias_count; i-- > 0;) {
                struct capri_md_alias_entry a;
                capri_md_alias(rec, i, &a);
                /* The parser checked a.function < rec->function_count. */
                uint32_t fi = m->modules[m->module_count].first_function + a.function;
                uint32_t k = (uint32_t)m->alias_count + i;
                m->aliases[k] = (struct alias){ capri_md_string(rec, a.name), fi, a.linkage, 0,
                                                m->functions[fi].first_alias };
                m->functions[fi].first_alias = k;
            }
            m->alias_count += rec->alias_count;
            m->module_count++;
        }
    }
}

static const char *function_where(const struct model *m, const struct function *f)
{
    return m->modules[f->module].object->name;
}

/* A definition of a name: a function's own, or an alias's. */
struct definition {
    const char *name;
    uint32_t function;
    uint8_t linkage;
    uint32_t alias; /* index into aliases, or NONE for the function's own name */
};

static void lose(struct model *m, const struct definition *d)
{
    if (d->alias == NONE)
        m->functions[d->function].overridden = 1;
    else
        m->aliases[d->alias].overridden = 1;
}

/*
 * Enter one definition. `winners` maps (scope, name) to the index of the
 * definition that currently holds the name; the linker's rules decide.
 */
static void define(struct model *m, struct strmap *winners, struct definition *defs,
                   size_t *count, struct definition d)
{
    const struct function *f = &m->functions[d.function];
    uint32_t scope = d.linkage == CAPRI_MD_LINK_INTERNAL ? f->module : SCOPE_GLOBAL;
    defs[*count] = d;
    uint32_t index = (uint32_t)(*count)++;
    uint32_t prev = strmap_get(winners, scope, d.name);
    if (prev == MAP_MISSING) {
        strmap_put(winners, scope, d.name, index);
        return;
    }
    const struct definition *p = &defs[prev];
    if (scope != SCOPE_GLOBAL) {
        lose(m, &d); /* the same static name twice in one record: the first stays */
        return;
    }
    if (p->linkage == CAPRI_MD_LINK_WEAK && d.linkage == CAPRI_MD_LINK_EXTERNAL) {
        lose(m, p);
        strmap_put(winners, scope, d.name, index);
        return;
    }
    if (p->linkage == CAPRI_MD_LINK_EXTERNAL && d.linkage == CAPRI_MD_LINK_EXTERNAL)
        warnf("%s is defined in both %s and %s; using the first", d.name,
              function_where(m, &m->functions[p->function]), function_where(m, f));
    lose(m, &d);
}

/*
 * The linker's rules, applied to records: in input order, each record's
 * functions and then its aliases define names (a record cannot define one
 * name twice, so the order inside a record does not matter).
 */
static void link_symbols(struct model *m)
{
    struct definition *defs =
        xmalloc((m->function_count + m->alias_count + 1) * sizeof *defs);
    size_t count = 0;
    struct strmap winners;
    memset(&winners, 0, sizeof winners);
    size_t next_alias = 0;
    for (uint32_t mi = 0; mi < m->module_count; mi++) {
        uint32_t first = m->modules[mi].first_function;
        uint32_t end = first + m->modules[mi].record->function_count;
        for (uint32_t i = first; i < end; i++)
            if (m->functions[i].name[0] != '\0')
                define(m, &winners, defs, &count,
                       (struct definition){ m->functions[i].name, i,
                                            m->functions[i].entry.linkage, NONE });
        for (uint32_t k = 0; k < m->modules[mi].record->alias_count; k++, next_alias++) {
            const struct alias *a = &m->aliases[next_alias];
            define(m, &winners, defs, &count,
                   (struct definition){ a->name, a->function, a->linkage,
                                        (uint32_t)next_alias });
        }
    }
    /* The winners are the symbol table. */
    for (size_t i = 0; i < winners.cap; i++) {
        const struct strmap_entry *e = &winners.slots[i];
        if (!e->name)
            continue;
        const struct definition *d = &defs[e->value];
        strmap_put(&m->symbols, e->scope, e->name, d->function);
        if (d->alias != NONE) {
            m->functions[d->function].alias_winner = 1;
            if (e->scope == SCOPE_GLOBAL)
                m->functions[d->function].alias_global = 1;
        }
    }
    strmap_free(&winners);
    free(defs);
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
        b->by_coarse_ir[b->coarse_count++] = (struct candidate){ ir_type_id, ir_type_id, node };
    } else {
        GROW(b->by_c, b->c_cap, b->c_count + 1);
        b->by_c[b->c_count++] = (struct candidate){ type_id, ir_type_id, node };
    }
    GROW(b->by_ir, b->ir_cap, b->ir_count + 1);
    b->by_ir[b->ir_count++] = (struct candidate){ ir_type_id, ir_type_id, node };
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
            /* Every reference, under its own type ids (duplicates merge later). */
            add_candidate(b, external_node(b, name), r.type_id, r.ir_type_id, coarse);
        }
    }
    for (uint32_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        /* A losing weak copy is never what the pointer points to, unless an
         * alias that won its name still names the code. */
        if (f->address_taken && function_live(f))
            add_candidate(b, i, f->entry.type_id, f->entry.ir_type_id, is_coarse_function(m, f));
    }
    sort_array(b->by_c, b->c_count, sizeof *b->by_c, by_id);
    sort_array(b->by_coarse_ir, b->coarse_count, sizeof *b->by_coarse_ir, by_id);
    sort_array(b->by_ir, b->ir_count, sizeof *b->by_ir, by_id);
}

static int call_is_coarse(const struct model *m, const struct capri_md_module *rec,
                          const struct capri_md_call_entry *c)
{
    return (c->flags & CAPRI_MD_CALLF_TYPE_COARSE) ||
           (rec->flags & CAPRI_MD_MODULE_TYPES_COARSE) || m->options.indirect == INDIRECT_IR_TYPE;
}

/* Per-node state while finding orphans. */
#define ORPHAN_PRECISE 1u /* has a C type id */
#define ORPHAN_MATCHED 2u /* one of its C type ids is a C-typed call's */
#define ORPHAN_COARSE 4u  /* has only an IR type somewhere: matched by IR already */

/*
 * The orphan rule (see the top of this file), for --indirect c-type: find
 * the candidates none of whose C type ids any C-typed indirect call in live
 * code has, and index them by IR type id.
 */
static void collect_orphans(struct builder *b)
{
    struct model *m = b->m;
    if (m->options.indirect != INDIRECT_C_TYPE)
        return;
    struct idmap call_ids;
    memset(&call_ids, 0, sizeof call_ids);
    for (uint32_t fi = 0; fi < m->function_count; fi++) {
        const struct function *f = &m->functions[fi];
        if (!function_live(f))
            continue; /* a losing weak copy's calls never run */
        const struct capri_md_module *rec = m->modules[f->module].record;
        for (uint32_t k = 0; k < f->entry.call_count; k++) {
            struct capri_md_call_entry c;
            capri_md_call(rec, f->entry.first_call + k, &c);
            if (c.kind == CAPRI_MD_CALL_INDIRECT && !call_is_coarse(m, rec, &c))
                idmap_put(&call_ids, c.type_id, 1);
        }
    }
    uint8_t *state = xcalloc(m->node_count ? m->node_count : 1, 1);
    for (size_t i = 0; i < b->c_count; i++) {
        state[b->by_c[i].node] |= ORPHAN_PRECISE;
        if (idmap_get(&call_ids, b->by_c[i].id) != MAP_MISSING)
            state[b->by_c[i].node] |= ORPHAN_MATCHED;
    }
    for (size_t i = 0; i < b->coarse_count; i++)
        state[b->by_coarse_ir[i].node] |= ORPHAN_COARSE;
    for (size_t i = 0; i < b->c_count; i++) {
        uint32_t node = b->by_c[i].node;
        if (state[node] != ORPHAN_PRECISE)
            continue;
        GROW(b->by_orphan_ir, b->orphan_cap, b->orphan_count + 1);
        b->by_orphan_ir[b->orphan_count++] =
            (struct candidate){ b->by_c[i].ir, b->by_c[i].ir, node };
    }
    for (uint32_t n = 0; n < m->node_count; n++)
        if (state[n] == ORPHAN_PRECISE) {
            m->orphan_count++;
            if (n < m->function_count)
                m->functions[n].orphan = 1;
        }
    sort_array(b->by_orphan_ir, b->orphan_count, sizeof *b->by_orphan_ir, by_id);
    free(state);
    idmap_free(&call_ids);
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

/* The orphan set of an IR type, created on first use, or EMPTY_SET. */
static uint32_t orphan_set(struct builder *b, uint32_t ir_type_id, uint32_t *candidates)
{
    *candidates = count_candidates(b, b->by_orphan_ir, b->orphan_count, ir_type_id);
    uint32_t set = idmap_get(&b->orphan_sets, ir_type_id);
    if (set != MAP_MISSING)
        return set;
    if (*candidates == 0) {
        idmap_put(&b->orphan_sets, ir_type_id, EMPTY_SET);
        return EMPTY_SET;
    }
    set = add_node(b->m, (struct node){ .kind = NODE_TYPE_SET,
                                        .function = NONE,
                                        .type_id = ir_type_id,
                                        .ir_type = 1,
                                        .orphan = 1,
                                        .source = SOURCE_NONE });
    idmap_put(&b->orphan_sets, ir_type_id, set);
    link_candidates(b, set, b->by_orphan_ir, b->orphan_count, ir_type_id);
    return set;
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
    uint32_t n_c = 0, n_ir = 0, n_orphan = 0;
    uint32_t c_set = EMPTY_SET, ir_set = EMPTY_SET, o_set = EMPTY_SET;
    /* A call through a cast pointer may reach functions of another C type
     * with the same IR type: match it both ways. */
    int use_ir = call_coarse || (s->entry.flags & CAPRI_MD_CALLF_CAST);
    if (!call_coarse)
        c_set = type_set(b, 0, s->entry.type_id, s->entry.ir_type_id, &n_c);
    if (use_ir)
        ir_set = type_set(b, 1, s->entry.type_id, s->entry.ir_type_id, &n_ir);
    else if (b->orphan_count > 0)
        o_set = orphan_set(b, s->entry.ir_type_id, &n_orphan); /* by IR type already: all */
    if (c_set != EMPTY_SET)
        add_edge(b, caller, c_set, site);
    if (ir_set != EMPTY_SET)
        add_edge(b, caller, ir_set, site);
    if (o_set != EMPTY_SET)
        add_edge(b, caller, o_set, site);
    if (c_set == EMPTY_SET && ir_set == EMPTY_SET && o_set == EMPTY_SET) {
        s->resolution = SITE_UNRESOLVED;
        add_edge(b, caller, unresolved_node(b), site);
    } else {
        s->resolution = SITE_INDIRECT;
        s->candidates = n_c + n_ir + n_orphan;
    }
}

static void add_calls(struct builder *b)
{
    struct model *m = b->m;
    for (uint32_t fi = 0; fi < m->function_count; fi++) {
        m->functions[fi].first_site = (uint32_t)m->site_count;
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
            int call_coarse = call_is_coarse(m, rec, &s->entry);
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
                    charge_external(b, target, &s->entry);
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

/*
 * Counting sort of the pending edges into the CSR arrays, and who is called:
 * only edges from live code count (a losing weak copy's calls never run),
 * and a type set counts when a live function calls through it.
 */
static void finish_edges(struct builder *b)
{
    struct model *m = b->m;
    uint8_t *live = xcalloc(m->node_count ? m->node_count : 1, 1);
    for (uint32_t f = 0; f < m->function_count; f++)
        live[f] = (uint8_t)function_live(&m->functions[f]);
    for (size_t i = 0; i < b->edge_count; i++) {
        const struct pending_edge *e = &b->edges[i];
        if (e->from < m->function_count && live[e->from] &&
            m->nodes[e->to].kind == NODE_TYPE_SET)
            live[e->to] = 1;
    }
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
        if (e->to < m->function_count && live[e->from]) {
            m->functions[e->to].called = 1;
            /* An orphan edge is a guess (a cast, or code without metadata
             * calls it): it keeps its root. */
            if (m->nodes[e->from].kind == NODE_TYPE_SET && !m->nodes[e->from].orphan)
                m->functions[e->to].indirect_target = 1;
        }
    }
    free(fill);
    free(live);
}

/*
 * Every record's CHECKPOINTS, grouped by caller (a counting sort, so each
 * function's stay in record order). The parser checked each entry's
 * function and that its call is one of that function's.
 */
static void add_checkpoints(struct model *m)
{
    size_t total = 0;
    for (size_t mi = 0; mi < m->module_count; mi++)
        total += m->modules[mi].record->checkpoint_count;
    m->checkpoints = xmalloc((total ? total : 1) * sizeof *m->checkpoints);
    m->checkpoint_count = total;
    for (size_t mi = 0; mi < m->module_count; mi++) {
        const struct capri_md_module *rec = m->modules[mi].record;
        for (uint32_t i = 0; i < rec->checkpoint_count; i++) {
            struct capri_md_checkpoint_entry c;
            capri_md_checkpoint(rec, i, &c);
            m->functions[m->modules[mi].first_function + c.function].checkpoint_count++;
        }
    }
    uint32_t next = 0;
    for (size_t fi = 0; fi < m->function_count; fi++) {
        m->functions[fi].first_checkpoint = next;
        next += m->functions[fi].checkpoint_count;
        m->functions[fi].checkpoint_count = 0;
    }
    for (size_t mi = 0; mi < m->module_count; mi++) {
        const struct capri_md_module *rec = m->modules[mi].record;
        for (uint32_t i = 0; i < rec->checkpoint_count; i++) {
            struct checkpoint cp;
            capri_md_checkpoint(rec, i, &cp.entry);
            cp.function = m->modules[mi].first_function + cp.entry.function;
            struct function *f = &m->functions[cp.function];
            cp.site = f->first_site + (cp.entry.call - f->entry.first_call);
            m->checkpoints[f->first_checkpoint + f->checkpoint_count++] = cp;
        }
    }
}

const char *yield_kind_name(uint8_t kind)
{
    switch (kind) {
    case CAPRI_MD_YIELD_DIRECT: return "direct";
    case CAPRI_MD_YIELD_TRANSITIVE: return "transitive";
    case CAPRI_MD_YIELD_UNKNOWN: return "unknown";
    }
    return "?";
}

/*
 * Every record's YIELD_SITES, and which functions park across records: a
 * function parks when one of its sites is direct or calls a function that
 * parks; it may park when a site calls code it cannot see into (no
 * metadata, an indirect or asm call). A fixpoint over the sites (the
 * states only grow). An unknown site whose callee has metadata and never
 * parks is dropped from the reports; one whose callee parks is transitive.
 */
static int knows_parking(const struct model *m, uint32_t function)
{
    return (m->modules[m->functions[function].module].record->flags &
            CAPRI_MD_MODULE_YIELD_SITES) != 0;
}

static void add_yield_sites(struct model *m)
{
    size_t total = 0;
    for (size_t mi = 0; mi < m->module_count; mi++)
        total += m->modules[mi].record->yield_site_count;
    m->yield_sites = xcalloc(total ? total : 1, sizeof *m->yield_sites);
    m->yield_site_count = total;
    m->parks = xcalloc(m->function_count ? m->function_count : 1, 1);
    size_t next = 0;
    for (size_t mi = 0; mi < m->module_count; mi++) {
        const struct capri_md_module *rec = m->modules[mi].record;
        for (uint32_t i = 0; i < rec->yield_site_count; i++) {
            struct yield_site *y = &m->yield_sites[next++];
            capri_md_yield_site(rec, i, &y->entry);
            y->function = m->modules[mi].first_function + y->entry.function;
            const struct function *f = &m->functions[y->function];
            y->site = f->first_site + (y->entry.call - f->entry.first_call);
            y->kind = y->entry.kind;
            y->file = capri_md_string(rec, y->entry.file);
            y->primitive = capri_md_string(rec, y->entry.primitive);
            y->dead_objects = capri_md_string(rec, y->entry.dead_objects);
            if (f->source == SOURCE_BACKEND) {
                y->frame = f->frame;
                y->frame_source = SOURCE_BACKEND;
            } else {
                y->frame = y->entry.frame;
                y->frame_source = SOURCE_ESTIMATE;
            }
        }
    }
    /* The function each site's call reaches with metadata, or NONE. */
    uint32_t *callee = xmalloc((total ? total : 1) * sizeof *callee);
    for (size_t k = 0; k < total; k++) {
        const struct yield_site *y = &m->yield_sites[k];
        callee[k] = NONE;
        if (m->sites[y->site].resolution != SITE_DIRECT)
            continue;
        for (uint32_t e = m->edge_start[y->function]; e < m->edge_start[y->function + 1]; e++)
            if (m->edges[e].site == y->site && m->nodes[m->edges[e].to].kind == NODE_FUNCTION) {
                callee[k] = m->nodes[m->edges[e].to].function;
                break;
            }
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t k = 0; k < total; k++) {
            const struct yield_site *y = &m->yield_sites[k];
            uint8_t v;
            if (y->entry.kind == CAPRI_MD_YIELD_DIRECT)
                v = 2;
            else if (callee[k] != NONE && knows_parking(m, callee[k]))
                v = m->parks[callee[k]];
            else
                v = y->entry.kind == CAPRI_MD_YIELD_TRANSITIVE ? 2 : 1;
            if (v > m->parks[y->function]) {
                m->parks[y->function] = v;
                changed = 1;
            }
        }
    }
    for (size_t k = 0; k < total; k++) {
        struct yield_site *y = &m->yield_sites[k];
        if (y->entry.kind != CAPRI_MD_YIELD_UNKNOWN || callee[k] == NONE ||
            !knows_parking(m, callee[k]))
            continue;
        if (m->parks[callee[k]] == 0)
            y->dropped = 1;
        else if (m->parks[callee[k]] == 2)
            y->kind = CAPRI_MD_YIELD_TRANSITIVE;
    }
    free(callee);
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
    collect_orphans(&b);
    add_calls(&b);
    finish_externals(m);
    add_checkpoints(m);
    finish_edges(&b);
    add_yield_sites(m);
    free(b.edges);
    free(b.by_c);
    free(b.by_coarse_ir);
    free(b.by_ir);
    free(b.by_orphan_ir);
    strmap_free(&b.externals);
    idmap_free(&b.c_sets);
    idmap_free(&b.ir_sets);
    idmap_free(&b.orphan_sets);
}

void model_free(struct model *m)
{
    free(m->modules);
    free(m->functions);
    free(m->aliases);
    free(m->sites);
    free(m->checkpoints);
    free(m->yield_sites);
    free(m->parks);
    free(m->nodes);
    free(m->edges);
    free(m->edge_start);
    strmap_free(&m->symbols);
    memset(m, 0, sizeof *m);
}
