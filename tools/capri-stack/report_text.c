/*
 * The text report: roots sorted by worst-case stack, the path that reaches
 * each worst case, then one section per finding class. Every frame figure
 * says where it comes from (backend, estimate, reserve).
 */
#include "report.h"

#include <stdlib.h>

#define NAME_WIDTH_MAX 40

static int name_width(const struct model *m, const struct path_step *steps, size_t n, int w)
{
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(node_label(m, steps[i].node));
        if (len > w)
            w = len;
    }
    return w > NAME_WIDTH_MAX ? NAME_WIDTH_MAX : w;
}

static void print_stack(FILE *out, uint64_t worst, unsigned unbounded, int width)
{
    char buf[48];
    if (unbounded)
        snprintf(buf, sizeof buf, ">= %llu", (unsigned long long)worst);
    else
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)worst);
    fprintf(out, "%-*s", width, buf);
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
    fprintf(out, "capri-stack: %zu function%s in %zu record%s from %zu object%s; frames: %zu "
            "backend, %zu estimate; external reserve %llu bytes; indirect calls by %s\n",
            m->function_count, m->function_count == 1 ? "" : "s", m->module_count,
            m->module_count == 1 ? "" : "s", r->inputs->count, r->inputs->count == 1 ? "" : "s",
            backend, estimate,
            (unsigned long long)m->options.external_reserve,
            m->options.indirect == INDIRECT_IR_TYPE ? "IR type" : "C type");
    if (!m->any_stack_sizes)
        fprintf(out, "note: no .stack_sizes in the inputs, so every frame is the plugin's "
                "estimate (compile with -fstack-size-section for the backend's sizes)\n");
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
    int w = 4;
    for (size_t i = 0; i < a->root_count; i++) {
        int len = (int)strlen(m->functions[a->roots[i].function].name);
        if (len > w)
            w = len;
    }
    if (w > NAME_WIDTH_MAX)
        w = NAME_WIDTH_MAX;
    fprintf(out, "  %-12s  %-*s  %s\n", "STACK", w, "ROOT", "DEFINED AT");
    for (size_t i = 0; i < a->root_count; i++) {
        const struct root *rt = &a->roots[i];
        const struct function *f = &m->functions[rt->function];
        char loc[512];
        fputs("  ", out);
        print_stack(out, rt->worst, rt->unbounded, 12);
        fprintf(out, "  %-*s  %s", w, f->name, location(loc, sizeof loc, f->file, f->line));
        if (rt->unbounded)
            fprintf(out, "  unbounded: %s", unbounded_reason(rt->unbounded));
        fputc('\n', out);
    }
}

static void print_cycle_note(FILE *out, const struct model *m, const struct cycle *cy)
{
    fprintf(out, "%25s recursion through", "");
    for (size_t i = 0; i < cy->count && i < 8; i++)
        fprintf(out, " %s", m->functions[cy->functions[i]].name);
    if (cy->count > 8)
        fprintf(out, " ... (%zu functions)", cy->count);
    if (cy->bounded)
        fprintf(out, ": bounded (sum of bounds %llu), charged %llu bytes\n",
                (unsigned long long)cy->bound_sum, (unsigned long long)cy->charge);
    else
        fprintf(out, ": unbounded, %llu bytes per trip\n", (unsigned long long)cy->frame_sum);
}

static void print_path(FILE *out, const struct report *r, const struct root *rt)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    struct path_step *steps;
    size_t n = analysis_path(a, rt->function, &steps);
    int w = name_width(m, steps, n, 8);
    fprintf(out, "\nPath of %s (", m->functions[rt->function].name);
    if (rt->unbounded)
        fprintf(out, "unbounded: %s; at least %llu bytes):\n", unbounded_reason(rt->unbounded),
                (unsigned long long)rt->worst);
    else
        fprintf(out, "%llu bytes):\n", (unsigned long long)rt->worst);
    fprintf(out, "  %10s  %-8s  %-*s  %-24s  %s\n", "FRAME", "SOURCE", w, "FUNCTION",
            "DEFINED AT", "CALLED AT");
    for (size_t i = 0; i < n; i++) {
        const struct node *nd = &m->nodes[steps[i].node];
        char def[512], call[512];
        def[0] = call[0] = '\0';
        if (nd->kind == NODE_FUNCTION) {
            const struct function *f = &m->functions[nd->function];
            location(def, sizeof def, f->file, f->line);
        } else {
            snprintf(def, sizeof def, "(no metadata)");
        }
        if (steps[i].via_site != NONE) {
            const struct call_site *s = &m->sites[steps[i].via_site];
            location(call, sizeof call, s->file, s->line);
            if (steps[i].indirect || s->resolution == SITE_UNRESOLVED ||
                s->resolution == SITE_ASM) {
                size_t len = strlen(call);
                snprintf(call + len, sizeof call - len, "%s(%s)", len ? " " : "", site_kind(s));
            }
        }
        fprintf(out, "  %10llu  %-8s  %-*s  %-24s  %s\n", (unsigned long long)nd->frame,
                frame_source_name(nd->source), w, node_label(m, steps[i].node), def, call);
        if (nd->kind == NODE_FUNCTION) {
            const struct function *f = &m->functions[nd->function];
            if (f->entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA)
                fprintf(out, "%25s dynamic allocas: the frame above is only the static part\n",
                        "");
            uint32_t c = a->results[steps[i].node].cycle;
            if (c != NONE)
                print_cycle_note(out, m, &a->cycles[c]);
        }
    }
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
        for (size_t k = 0; k < cy->count; k++) {
            const struct function *f = &m->functions[cy->functions[k]];
            char loc[512];
            fprintf(out, "    %-24s %10llu  %-8s  %s\n", f->name, (unsigned long long)f->frame,
                    frame_source_name(f->source), location(loc, sizeof loc, f->file, f->line));
        }
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
    fprintf(out, "  %-24s  %-24s  %-8s  %s\n", "CALLER", "LOCATION", "KIND", "TYPE ID");
    for (size_t i = 0; i < a->unresolved_count; i++) {
        const struct call_site *s = &m->sites[a->unresolved_sites[i]];
        char loc[512];
        fprintf(out, "  %-24s  %-24s  %-8s", m->functions[s->caller].name,
                location(loc, sizeof loc, s->file, s->line), site_kind(s));
        if (s->resolution == SITE_UNRESOLVED)
            fprintf(out, "  0x%08x (ir 0x%08x)", s->entry.type_id, s->entry.ir_type_id);
        fputc('\n', out);
    }
}

static void print_external(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (a->external_count == 0)
        return;
    fprintf(out, "\nCalls into code without metadata: %zu (each charged %llu bytes)\n",
            a->external_count, (unsigned long long)m->options.external_reserve);
    fprintf(out, "  %-24s  %-24s  %-24s  %s\n", "CALLEE", "CALLER", "LOCATION", "RESERVE");
    for (size_t i = 0; i < a->external_count; i++) {
        const struct call_site *s = &m->sites[a->external_sites[i]];
        char loc[512];
        fprintf(out, "  %-24s  %-24s  %-24s  %llu\n", s->callee_name, m->functions[s->caller].name,
                location(loc, sizeof loc, s->file, s->line),
                (unsigned long long)m->options.external_reserve);
    }
}

static void print_dynamic(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    if (a->dynamic_count == 0)
        return;
    fprintf(out, "\nUnbounded frames (dynamic allocas): %zu\n", a->dynamic_count);
    fprintf(out, "  %-24s  %12s  %-8s  %s\n", "FUNCTION", "STATIC PART", "SOURCE", "DEFINED AT");
    for (size_t i = 0; i < a->dynamic_count; i++) {
        const struct function *f = &m->functions[a->dynamic_functions[i]];
        char loc[512];
        fprintf(out, "  %-24s  %12llu  %-8s  %s\n", f->name, (unsigned long long)f->frame,
                frame_source_name(f->source), location(loc, sizeof loc, f->file, f->line));
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
    for (size_t i = 0; i < a->over_limit_count; i++) {
        const struct root *rt = &a->roots[a->over_limit_roots[i]];
        fputs("  ", out);
        print_stack(out, rt->worst, rt->unbounded, 12);
        fprintf(out, "  %s\n", m->functions[rt->function].name);
    }
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
    print_dynamic(out, r);
    print_over_limit(out, r);
    print_result(out, r);
}
