/*
 * The text report: roots sorted by worst-case stack, the path that reaches
 * each worst case, then one section per finding class. Every frame figure
 * says where it comes from (backend, estimate, reserve, mark).
 */
#include "report.h"
#include "table.h"

#include <stdlib.h>

#define RIGHT(col) (1u << (col))

static const char *stack_figure(char *buf, size_t len, uint64_t worst, unsigned unbounded)
{
    snprintf(buf, len, unbounded ? ">= %llu" : "%llu", (unsigned long long)worst);
    return buf;
}

static const char *number(char *buf, size_t len, uint64_t v)
{
    snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

/* "C type" ("strict C type" without orphans), or which modules could only be
 * matched by IR type. */
static void indirect_summary(char *buf, size_t len, const struct model *m)
{
    size_t coarse = coarse_module_count(m), total = m->module_count;
    const char *c_type =
        m->options.indirect == INDIRECT_C_TYPE_STRICT ? "strict C type" : "C type";
    if (m->options.indirect == INDIRECT_IR_TYPE)
        snprintf(buf, len, "IR type");
    else if (coarse == 0)
        snprintf(buf, len, "%s", c_type);
    else if (coarse == total)
        snprintf(buf, len, "IR type (%zu of %zu module%s %s only IR types: built without "
                 "KCFI)", coarse, total, total == 1 ? "" : "s", coarse == 1 ? "has" : "have");
    else
        snprintf(buf, len, "%s (%zu of %zu modules %s only IR types: matched by IR type)",
                 c_type, coarse, total, coarse == 1 ? "has" : "have");
}

static void print_summary(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    size_t backend = 0, estimate = 0;
    for (size_t i = 0; i < m->function_count; i++)
        if (m->functions[i].source == SOURCE_BACKEND)
            backend++;
        else
            estimate++;
    char indirect[160];
    indirect_summary(indirect, sizeof indirect, m);
    fprintf(out, "capri-stack: %zu function%s in %zu record%s from %zu object%s; frames: %zu "
            "backend, %zu estimate; external reserve %llu bytes; indirect calls by %s\n",
            m->function_count, m->function_count == 1 ? "" : "s", m->module_count,
            m->module_count == 1 ? "" : "s", r->inputs->count, r->inputs->count == 1 ? "" : "s",
            backend, estimate, (unsigned long long)m->options.external_reserve, indirect);
    if (!m->any_stack_sizes)
        fprintf(out, "note: no .stack_sizes in the inputs, so every frame is the plugin's "
                "estimate (compile with -fstack-size-section for the backend's sizes, and keep "
                "the section: llvm-strip and objcopy --remove-section remove it, GNU strip "
                "keeps it)\n");
    char *coarse = coarse_types_note(m);
    if (coarse)
        fprintf(out, "note: %s\n", coarse);
    free(coarse);
    /* A linked file whose sanitized modules lost .stack_sizes will not run. */
    for (size_t i = 0; i < r->inputs->count; i++) {
        const struct object *o = &r->inputs->objects[i];
        if (o->elf_type == 1 /* ET_REL */ || o->has_stack_sizes)
            continue;
        for (size_t k = 0; k < o->record_count; k++) {
            uint32_t sanitizers = capri_md_sanitizers(&o->records[k]);
            if (!sanitizers)
                continue;
            const char *src = capri_md_string(&o->records[k], o->records[k].module.source_file);
            fprintf(out, "note: %s: module %s is instrumented by %s but the file has no "
                    ".stack_sizes: libcapri refuses to start it (the plugin's estimates do not "
                    "cover the sanitizer's frames)\n",
                    o->name, src[0] ? src : "(unnamed)", capri_md_sanitizer_name(sanitizers));
        }
    }
}

static void print_roots(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    fprintf(out, "\nWorst-case stack by root (%zu):\n", a->root_count);
    if (a->root_count == 0) {
        fprintf(out, "  (no roots)\n");
        return;
    }
    struct table t;
    table_init(&t, 4, 0);
    table_row(&t, "STACK", "ROOT", "DEFINED AT", "");
    for (size_t i = 0; i < a->root_count; i++) {
        const struct root *rt = &a->roots[i];
        const struct function *f = &m->functions[rt->function];
        char stack[32], loc[512], why[64] = "";
        if (rt->unbounded)
            snprintf(why, sizeof why, "unbounded: %s", unbounded_reason(rt->unbounded));
        table_row(&t, stack_figure(stack, sizeof stack, rt->worst, rt->unbounded), f->name,
                  location(loc, sizeof loc, f->file, f->line), why);
    }
    table_print(out, &t, 2);
}

/* At most this many names of a cycle in a path's note; the findings list them all. */
#define CYCLE_NOTE_NAMES 4

static void cycle_note(struct table *t, const struct model *m, const struct cycle *cy)
{
    struct name_list names;
    name_list_init(&names, CYCLE_NOTE_NAMES, " ");
    for (size_t i = 0; i < cy->count; i++)
        name_list_add(&names, m->functions[cy->functions[i]].name);
    name_list_finish(&names, cy->count);
    if (cy->bounded)
        table_note(t, "recursion through%s: bounded (sum of bounds %llu), charged %llu bytes",
                   names.text, (unsigned long long)cy->bound_sum, (unsigned long long)cy->charge);
    else
        table_note(t, "recursion through%s: unbounded, %llu bytes per trip", names.text,
                   (unsigned long long)cy->frame_sum);
}

static void print_path(FILE *out, const struct report *r, const struct root *rt)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    struct path_step *steps;
    size_t n = analysis_path(a, rt->function, &steps);
    fprintf(out, "\nPath of %s (", m->functions[rt->function].name);
    if (rt->unbounded)
        fprintf(out, "unbounded: %s; at least %llu bytes):\n", unbounded_reason(rt->unbounded),
                (unsigned long long)rt->worst);
    else
        fprintf(out, "%llu bytes):\n", (unsigned long long)rt->worst);
    struct table t;
    table_init(&t, 5, RIGHT(0));
    table_row(&t, "FRAME", "SOURCE", "FUNCTION", "DEFINED AT", "CALLED AT");
    unsigned shown = 0; /* the UNBOUNDED_* reasons the path itself reaches */
    for (size_t i = 0; i < n; i++) {
        const struct node *nd = &m->nodes[steps[i].node];
        char frame[32], def[512] = "", call[512] = "";
        if (nd->kind == NODE_FUNCTION) {
            const struct function *f = &m->functions[nd->function];
            location(def, sizeof def, f->file, f->line);
        } else {
            snprintf(def, sizeof def, "(no metadata)");
        }
        if (steps[i].via_site != NONE) {
            const struct call_site *s = &m->sites[steps[i].via_site];
            location(call, sizeof call, s->file, s->line);
            size_t len = strlen(call);
            if (steps[i].indirect || s->resolution == SITE_UNRESOLVED ||
                s->resolution == SITE_ASM)
                snprintf(call + len, sizeof call - len, "%s(%s%s)", len ? " " : "", site_kind(s),
                         steps[i].orphan ? ", orphan" : "");
            else if (s->callee_name && nd->kind == NODE_FUNCTION &&
                     strcmp(s->callee_name, nd->name) != 0)
                snprintf(call + len, sizeof call - len, "%s(as %s)", len ? " " : "",
                         s->callee_name); /* a call by an alias name */
        }
        table_row(&t, number(frame, sizeof frame, nd->frame), frame_source_name(nd->source),
                  node_label(m, steps[i].node), def, call);
        if (nd->kind == NODE_FUNCTION) {
            const struct function *f = &m->functions[nd->function];
            if (f->entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA) {
                table_note(&t, "dynamic allocas: the frame above is only the static part");
                shown |= UNBOUNDED_DYNAMIC;
            }
            uint32_t c = a->results[steps[i].node].cycle;
            if (c != NONE) {
                cycle_note(&t, m, &a->cycles[c]);
                if (!a->cycles[c].bounded)
                    shown |= UNBOUNDED_RECURSION;
            }
        }
    }
    /* The path leads to one reason (recursion first); another one is
     * reached on another path. */
    if (rt->unbounded & UNBOUNDED_RECURSION & ~shown)
        table_note(&t, "unbounded recursion: reached on another path (see Recursion cycles)");
    if (rt->unbounded & UNBOUNDED_DYNAMIC & ~shown)
        table_note(&t, "dynamic allocas: reached on another path (see Unbounded frames)");
    table_print(out, &t, 2);
    free(steps);
}

static void print_cycles(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (a->cycle_count == 0)
        return;
    fprintf(out, "\nRecursion cycles: %zu unbounded, %zu bounded\n", a->unbounded_cycles,
            a->cycle_count - a->unbounded_cycles);
    for (size_t i = 0; i < a->cycle_count; i++) {
        const struct cycle *cy = &a->cycles[i];
        if (cy->bounded)
            fprintf(out, "  bounded: %zu function%s, %llu bytes per level, sum of bounds %llu, "
                    "charged %llu bytes\n", cy->count, cy->count == 1 ? "" : "s",
                    (unsigned long long)cy->frame_sum, (unsigned long long)cy->bound_sum,
                    (unsigned long long)cy->charge);
        else
            fprintf(out, "  unbounded: %zu function%s, %llu bytes per trip\n", cy->count,
                    cy->count == 1 ? "" : "s", (unsigned long long)cy->frame_sum);
        struct table t;
        table_init(&t, 4, RIGHT(1));
        for (size_t k = 0; k < cy->count; k++) {
            const struct function *f = &m->functions[cy->functions[k]];
            char frame[32], loc[512];
            table_row(&t, f->name, number(frame, sizeof frame, f->frame),
                      frame_source_name(f->source), location(loc, sizeof loc, f->file, f->line));
        }
        table_print(out, &t, 4);
    }
}

static void print_unresolved(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (a->unresolved_count == 0)
        return;
    fprintf(out, "\nUnresolved indirect calls: %zu (each charged %llu bytes)\n",
            a->unresolved_count, (unsigned long long)m->options.external_reserve);
    struct table t;
    table_init(&t, 4, 0);
    table_row(&t, "CALLER", "LOCATION", "KIND", "TYPE ID");
    for (size_t i = 0; i < a->unresolved_count; i++) {
        const struct call_site *s = &m->sites[a->unresolved_sites[i]];
        char loc[640], type[64] = "";
        if (s->resolution == SITE_UNRESOLVED)
            snprintf(type, sizeof type, "0x%08x (ir 0x%08x)", s->entry.type_id,
                     s->entry.ir_type_id);
        table_row(&t, m->functions[s->caller].name, call_location_text(loc, sizeof loc, m, s),
                  site_kind(s), type);
    }
    table_print(out, &t, 2);
}

/* Calls into code without metadata, each with what its callee is charged
 * (the column FIGURE: the reserve, or the callee's measured mark). */
static void external_table(FILE *out, const struct model *m, const struct external_call *calls,
                           size_t count, const char *figure)
{
    struct table t;
    table_init(&t, 4, RIGHT(3));
    table_row(&t, "CALLEE", "CALLER", "LOCATION", figure);
    for (size_t i = 0; i < count; i++) {
        const struct external_call *x = &calls[i];
        const struct call_site *s = &m->sites[x->site];
        char loc[640], bytes[32];
        call_location_text(loc, sizeof loc, m, s);
        if (x->indirect) {
            size_t len = strlen(loc);
            snprintf(loc + len, sizeof loc - len, "%s(indirect)", len ? " " : "");
        }
        table_row(&t, node_label(m, x->node), m->functions[s->caller].name, loc,
                  number(bytes, sizeof bytes, m->nodes[x->node].frame));
    }
    table_print(out, &t, 2);
}

static void print_external(FILE *out, const struct report *r)
{
    const struct analysis *a = r->analysis;
    if (a->external_count == 0)
        return;
    fprintf(out, "\nCalls into code without metadata: %zu (each charged %llu bytes)\n",
            a->external_count, (unsigned long long)r->model->options.external_reserve);
    external_table(out, r->model, a->externals, a->external_count, "RESERVE");
}

/* The calls whose callee is charged its measured stack mark: no findings. */
static void print_marked(FILE *out, const struct report *r)
{
    const struct analysis *a = r->analysis;
    if (a->marked_count == 0)
        return;
    fprintf(out, "\nCalls into code without metadata charged measured marks: %zu\n",
            a->marked_count);
    external_table(out, r->model, a->marked, a->marked_count, "MARK");
}

static void print_dynamic(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (a->dynamic_count == 0)
        return;
    fprintf(out, "\nUnbounded frames (dynamic allocas): %zu\n", a->dynamic_count);
    struct table t;
    table_init(&t, 4, RIGHT(1));
    table_row(&t, "FUNCTION", "STATIC PART", "SOURCE", "DEFINED AT");
    for (size_t i = 0; i < a->dynamic_count; i++) {
        const struct function *f = &m->functions[a->dynamic_functions[i]];
        char frame[32], loc[512];
        table_row(&t, f->name, number(frame, sizeof frame, f->frame),
                  frame_source_name(f->source), location(loc, sizeof loc, f->file, f->line));
    }
    table_print(out, &t, 2);
}

/* The plugin's checkpoints, per function with any: its entry region on
 * its first row, then each checkpoint's callee, reason, region and check. */
static void print_checkpoints(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    if (m->checkpoint_count == 0)
        return;
    size_t functions = 0;
    for (size_t i = 0; i < m->function_count; i++)
        functions += m->functions[i].checkpoint_count != 0;
    fprintf(out, "\nCheckpoints: %zu in %zu function%s\n", m->checkpoint_count, functions,
            functions == 1 ? "" : "s");
    struct table t;
    table_init(&t, 7, RIGHT(1) | RIGHT(4));
    table_row(&t, "FUNCTION", "ENTRY REGION", "CALLEE", "REASON", "REGION", "CHECK", "AT");
    for (size_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        for (uint32_t k = 0; k < f->checkpoint_count; k++) {
            const struct checkpoint *cp = &m->checkpoints[f->first_checkpoint + k];
            const struct call_site *s = &m->sites[cp->site];
            char entry[32] = "", region[32], check[32], loc[512];
            if (k == 0)
                number(entry, sizeof entry, f->entry.entry_region);
            number(region, sizeof region, cp->entry.region);
            if (cp->entry.bound == CAPRI_MD_NO_BOUND)
                snprintf(check, sizeof check, "small");
            else
                snprintf(check, sizeof check, "slot %u", cp->entry.bound);
            table_row(&t, k == 0 ? f->name : "", entry, checkpoint_callee(m, cp),
                      checkpoint_reason_name(cp->entry.reason), region, check,
                      location(loc, sizeof loc, s->file, cp->entry.line ? cp->entry.line : s->line));
        }
    }
    table_print(out, &t, 2);
}

/* At most this many yield sites in the text report's live-state section. */
#define YIELD_SITES_SHOWN 25

static const struct model *yield_order_model;

/* Most dead state first, then most live state, then record order. */
static int yield_order(const void *pa, const void *pb)
{
    const struct yield_site *a = &yield_order_model->yield_sites[*(const uint32_t *)pa];
    const struct yield_site *b = &yield_order_model->yield_sites[*(const uint32_t *)pb];
    if (a->entry.dead != b->entry.dead)
        return a->entry.dead > b->entry.dead ? -1 : 1;
    if (a->entry.live != b->entry.live)
        return a->entry.live > b->entry.live ? -1 : 1;
    return *(const uint32_t *)pa < *(const uint32_t *)pb ? -1 : 1;
}

/* What blocked threads hold: the yield sites with their frame, live and
 * dead state, most dead state first. */
static void print_live_state(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    uint32_t *order = xmalloc((m->yield_site_count ? m->yield_site_count : 1) * sizeof *order);
    size_t count = 0, functions = 0;
    uint32_t last = NONE;
    for (uint32_t k = 0; k < m->yield_site_count; k++)
        if (!m->yield_sites[k].dropped) {
            order[count++] = k;
            functions += m->yield_sites[k].function != last;
            last = m->yield_sites[k].function;
        }
    if (count == 0) {
        free(order);
        return;
    }
    yield_order_model = m;
    qsort(order, count, sizeof *order, yield_order);
    fprintf(out, "\nLive state at yield sites: %zu site%s in %zu function%s (dead-state at %llu "
            "bytes, live-state at %llu)\n", count, count == 1 ? "" : "s", functions,
            functions == 1 ? "" : "s",
            (unsigned long long)r->analysis->options.dead_state_threshold,
            (unsigned long long)r->analysis->options.live_state_threshold);
    struct table t;
    table_init(&t, 8, RIGHT(3) | RIGHT(4) | RIGHT(5));
    table_row(&t, "AT", "CALLEE", "KIND", "FRAME", "LIVE", "DEAD", "FUNCTION", "DEAD OBJECTS");
    for (size_t i = 0; i < count && i < YIELD_SITES_SHOWN; i++) {
        const struct yield_site *y = &m->yield_sites[order[i]];
        char loc[512], frame[48], live[32], dead[32];
        snprintf(frame, sizeof frame, "%llu%s", (unsigned long long)y->frame,
                 y->frame_source == SOURCE_BACKEND ? "" : " est");
        table_row(&t, yield_site_location(loc, sizeof loc, m, y), yield_site_callee(m, y),
                  yield_kind_name(y->kind), frame, number(live, sizeof live, y->entry.live),
                  number(dead, sizeof dead, y->entry.dead), m->functions[y->function].name,
                  y->dead_objects);
    }
    table_print(out, &t, 2);
    if (count > YIELD_SITES_SHOWN)
        fprintf(out, "  ... and %zu more (the JSON report lists every site)\n",
                count - YIELD_SITES_SHOWN);
    free(order);
}

static void print_state_findings(FILE *out, const struct report *r, const char *title,
                                 uint64_t threshold, const uint32_t *sites, size_t count)
{
    if (count == 0)
        return;
    fprintf(out, "\n%s (at least %llu bytes): %zu\n", title, (unsigned long long)threshold,
            count);
    for (size_t i = 0; i < count; i++) {
        char *msg = yield_site_message(r->model, &r->model->yield_sites[sites[i]]);
        fprintf(out, "  %s\n", msg);
        free(msg);
    }
}

static void print_over_limit(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (!a->options.has_stack_limit)
        return;
    fprintf(out, "\nRoots over the stack limit of %llu bytes: %zu\n",
            (unsigned long long)a->options.stack_limit, a->over_limit_count);
    struct table t;
    table_init(&t, 2, 0);
    for (size_t i = 0; i < a->over_limit_count; i++) {
        const struct root *rt = &a->roots[a->over_limit_roots[i]];
        char stack[32];
        table_row(&t, stack_figure(stack, sizeof stack, rt->worst, rt->unbounded),
                  m->functions[rt->function].name);
    }
    table_print(out, &t, 2);
}

static void print_result(FILE *out, const struct report *r)
{
    if (r->fail_on == 0) {
        fprintf(out, "\nResult: no --fail-on classes selected\n");
        return;
    }
    int any = 0;
    for (int f = 0; f < FINDING_COUNT; f++)
        if (report_fails(r, (enum finding)f)) {
            fprintf(out, "%s%s (%zu)", any ? ", " : "\nResult: FAIL: ", finding_names[f],
                    finding_count(r->analysis, (enum finding)f));
            any = 1;
        }
    if (any)
        fputc('\n', out);
    else
        fprintf(out, "\nResult: clean: no finding selected with --fail-on\n");
}

void report_text(FILE *out, const struct report *r)
{
    print_summary(out, r);
    print_roots(out, r);
    for (size_t i = 0; i < r->analysis->root_count; i++)
        print_path(out, r, &r->analysis->roots[i]);
    print_cycles(out, r);
    print_unresolved(out, r);
    print_external(out, r);
    print_marked(out, r);
    print_dynamic(out, r);
    print_checkpoints(out, r);
    print_live_state(out, r);
    print_state_findings(out, r, "Dead state at yield sites",
                         r->analysis->options.dead_state_threshold,
                         r->analysis->dead_state_sites, r->analysis->dead_state_count);
    print_state_findings(out, r, "Live state at yield sites over the threshold",
                         r->analysis->options.live_state_threshold,
                         r->analysis->live_state_sites, r->analysis->live_state_count);
    print_over_limit(out, r);
    print_result(out, r);
}
