/*
 * The JSON report. Its schema is documented in docs/capri-stack.md and
 * versioned by "schema_version": fields are only ever added within a
 * version; renaming or removing one bumps it.
 */
#include "report.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#define JSON_SCHEMA_VERSION 1

static void hex32(struct json *j, const char *key, uint32_t v)
{
    char buf[16];
    snprintf(buf, sizeof buf, "0x%08x", v);
    json_string(j, key, buf);
}

static void where(struct json *j, const char *file, uint32_t line)
{
    json_string(j, "file", file);
    json_uint(j, "line", line);
}

/*
 * A finding's location: the call's, or the calling function's definition
 * when the call has no line ("at_function": true).
 */
static void call_where(struct json *j, const struct model *m, const struct call_site *s)
{
    const char *file;
    uint32_t line;
    int at_function = call_location(m, s, &file, &line);
    where(j, file, line);
    json_bool(j, "at_function", at_function);
}

static void inputs(struct json *j, const struct report *r)
{
    json_array_begin(j, "inputs");
    for (size_t i = 0; i < r->inputs->count; i++) {
        const struct object *o = &r->inputs->objects[i];
        size_t functions = 0;
        for (size_t k = 0; k < o->record_count; k++)
            functions += o->records[k].function_count;
        json_object_begin(j, NULL);
        json_string(j, "object", o->name);
        json_uint(j, "records", o->record_count);
        json_uint(j, "functions", functions);
        json_bool(j, "stack_sizes", o->has_stack_sizes);
        int lto = 0, coarse = 0;
        for (size_t k = 0; k < o->record_count; k++) {
            lto |= (o->records[k].flags & CAPRI_MD_MODULE_LTO) != 0;
            coarse |= (o->records[k].flags & CAPRI_MD_MODULE_TYPES_COARSE) != 0;
        }
        json_bool(j, "lto", lto);
        json_bool(j, "types_coarse", coarse);
        /* Which sanitizers instrumented its modules: libcapri refuses to
         * start them without .stack_sizes. */
        uint32_t sanitizers = 0;
        for (size_t k = 0; k < o->record_count; k++)
            sanitizers |= capri_md_sanitizers(&o->records[k]);
        json_array_begin(j, "sanitizers");
        while (sanitizers) {
            uint32_t bit = sanitizers & -sanitizers;
            json_string(j, NULL, capri_md_sanitizer_name(bit));
            sanitizers &= ~bit;
        }
        json_array_end(j);
        json_array_begin(j, "versions");
        for (size_t k = 0; k < o->record_count; k++) {
            char v[32];
            snprintf(v, sizeof v, "%u.%u", o->records[k].version_major,
                     o->records[k].version_minor);
            json_string(j, NULL, v);
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void settings(struct json *j, const struct report *r)
{
    const struct analysis *a = r->analysis;
    json_object_begin(j, "settings");
    json_uint(j, "external_reserve", r->model->options.external_reserve);
    json_string(j, "indirect", indirect_mode_name(r->model->options.indirect));
    json_array_begin(j, "fail_on");
    for (int f = 0; f < FINDING_COUNT; f++)
        if (r->fail_on & (1u << f))
            json_string(j, NULL, finding_names[f]);
    json_array_end(j);
    if (a->options.has_stack_limit)
        json_uint(j, "stack_limit", a->options.stack_limit);
    else
        json_null(j, "stack_limit");
    json_uint(j, "dead_state_threshold", a->options.dead_state_threshold);
    json_uint(j, "live_state_threshold", a->options.live_state_threshold);
    json_array_begin(j, "roots");
    for (size_t i = 0; i < a->options.root_count; i++)
        json_string(j, NULL, a->options.roots[i]);
    json_array_end(j);
    json_object_end(j);
}

static void functions(struct json *j, const struct model *m)
{
    json_array_begin(j, "functions");
    for (size_t i = 0; i < m->function_count; i++) {
        const struct function *f = &m->functions[i];
        json_object_begin(j, NULL);
        json_string(j, "function", f->name);
        where(j, f->file, f->line);
        json_string(j, "object", m->modules[f->module].object->name);
        json_string(j, "linkage", f->entry.linkage == CAPRI_MD_LINK_INTERNAL ? "internal"
                                  : f->entry.linkage == CAPRI_MD_LINK_WEAK   ? "weak"
                                                                             : "external");
        json_uint(j, "frame", f->frame);
        json_string(j, "source", frame_source_name(f->source));
        json_uint(j, "estimate", f->entry.frame_estimate);
        json_uint(j, "estimate_allocas", f->entry.estimate_allocas);
        json_uint(j, "estimate_spills", f->entry.estimate_spills);
        if (f->has_backend)
            json_uint(j, "backend", f->backend);
        else
            json_null(j, "backend");
        json_bool(j, "dynamic_alloca", (f->entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA) != 0);
        json_bool(j, "leaf", (f->entry.flags & CAPRI_MD_FN_LEAF) != 0);
        json_bool(j, "address_taken", f->address_taken);
        json_bool(j, "orphan", f->orphan);
        json_array_begin(j, "aliases");
        for (uint32_t k = f->first_alias; k != NONE; k = m->aliases[k].next)
            json_string(j, NULL, m->aliases[k].name);
        json_array_end(j);
        json_uint(j, "calls", f->entry.call_count);
        json_uint(j, "entry_region", f->entry.entry_region);
        json_array_begin(j, "checkpoints");
        for (uint32_t k = 0; k < f->checkpoint_count; k++) {
            const struct checkpoint *cp = &m->checkpoints[f->first_checkpoint + k];
            const struct call_site *s = &m->sites[cp->site];
            json_object_begin(j, NULL);
            json_string(j, "callee", checkpoint_callee(m, cp));
            json_string(j, "reason", checkpoint_reason_name(cp->entry.reason));
            json_uint(j, "region", cp->entry.region);
            json_uint(j, "stack_args", cp->entry.stack_args);
            json_bool(j, "small", cp->entry.bound == CAPRI_MD_NO_BOUND);
            if (cp->entry.bound == CAPRI_MD_NO_BOUND)
                json_null(j, "slot");
            else
                json_uint(j, "slot", cp->entry.bound);
            where(j, s->file, cp->entry.line ? cp->entry.line : s->line);
            json_object_end(j);
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void recursion_of(struct json *j, const struct model *m, const struct cycle *cy)
{
    json_array_begin(j, "functions");
    for (size_t k = 0; k < cy->count; k++) {
        const struct function *f = &m->functions[cy->functions[k]];
        json_object_begin(j, NULL);
        json_string(j, "function", f->name);
        where(j, f->file, f->line);
        json_uint(j, "frame", f->frame);
        json_string(j, "source", frame_source_name(f->source));
        json_uint(j, "recursion_bound", f->entry.recursion_bound);
        json_object_end(j);
    }
    json_array_end(j);
    json_bool(j, "bounded", cy->bounded);
    json_uint(j, "frame_sum", cy->frame_sum);
    json_uint(j, "bound_sum", cy->bound_sum);
    if (cy->bounded)
        json_uint(j, "charge", cy->charge);
    else
        json_null(j, "charge");
}

static void path(struct json *j, const struct report *r, const struct root *rt)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    struct path_step *steps;
    size_t n = analysis_path(a, rt->function, &steps);
    json_array_begin(j, "path");
    for (size_t i = 0; i < n; i++) {
        const struct node *nd = &m->nodes[steps[i].node];
        json_object_begin(j, NULL);
        json_string(j, "function", node_label(m, steps[i].node));
        json_string(j, "kind", nd->kind == NODE_FUNCTION   ? "function"
                               : nd->kind == NODE_EXTERNAL ? "external"
                                                           : "unresolved");
        json_uint(j, "frame", nd->frame);
        json_string(j, "source", frame_source_name(nd->source));
        if (nd->kind == NODE_FUNCTION) {
            const struct function *f = &m->functions[nd->function];
            where(j, f->file, f->line);
        } else {
            json_string(j, "file", "");
            json_uint(j, "line", 0);
        }
        if (steps[i].via_site != NONE) {
            const struct call_site *s = &m->sites[steps[i].via_site];
            json_object_begin(j, "call");
            where(j, s->file, s->line);
            json_bool(j, "indirect", steps[i].indirect || s->resolution == SITE_UNRESOLVED);
            json_bool(j, "asm", s->resolution == SITE_ASM);
            json_bool(j, "orphan", steps[i].orphan);
            /* The name called: differs from "function" for a call by an alias name. */
            if (s->callee_name)
                json_string(j, "callee", s->callee_name);
            else
                json_null(j, "callee");
            json_object_end(j);
        } else {
            json_null(j, "call");
        }
        uint32_t c = a->results[steps[i].node].cycle;
        if (nd->kind == NODE_FUNCTION && c != NONE) {
            json_object_begin(j, "recursion");
            recursion_of(j, m, &a->cycles[c]);
            json_object_end(j);
        } else {
            json_null(j, "recursion");
        }
        json_object_end(j);
    }
    json_array_end(j);
    free(steps);
}

static void unbounded_list(struct json *j, unsigned unbounded)
{
    json_array_begin(j, "unbounded");
    if (unbounded & UNBOUNDED_RECURSION)
        json_string(j, NULL, "recursion");
    if (unbounded & UNBOUNDED_DYNAMIC)
        json_string(j, NULL, "dynamic-alloca");
    json_array_end(j);
}

static void roots(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    json_array_begin(j, "roots");
    for (size_t i = 0; i < a->root_count; i++) {
        const struct root *rt = &a->roots[i];
        const struct function *f = &m->functions[rt->function];
        json_object_begin(j, NULL);
        json_string(j, "function", f->name);
        where(j, f->file, f->line);
        json_uint(j, "stack", rt->worst);
        json_bool(j, "bounded", rt->unbounded == 0);
        unbounded_list(j, rt->unbounded);
        path(j, r, rt);
        json_object_end(j);
    }
    json_array_end(j);
}

/* Calls into code without metadata, each with what its callee is charged
 * under `figure`: "reserve" (the findings) or "mark". */
static void external_calls(struct json *j, const struct model *m, const char *key,
                           const struct external_call *calls, size_t count, const char *figure)
{
    json_array_begin(j, key);
    for (size_t i = 0; i < count; i++) {
        const struct external_call *x = &calls[i];
        const struct call_site *s = &m->sites[x->site];
        json_object_begin(j, NULL);
        json_string(j, "callee", node_label(m, x->node));
        json_string(j, "caller", m->functions[s->caller].name);
        call_where(j, m, s);
        json_bool(j, "codegen", (s->entry.flags & CAPRI_MD_CALLF_CODEGEN) != 0);
        json_bool(j, "indirect", x->indirect);
        json_uint(j, figure, m->nodes[x->node].frame);
        json_object_end(j);
    }
    json_array_end(j);
}

static void yield_site_fields(struct json *j, const struct model *m, const struct yield_site *y)
{
    const struct call_site *s = &m->sites[y->site];
    json_string(j, "function", m->functions[y->function].name);
    json_string(j, "callee", yield_site_callee(m, y));
    json_string(j, "kind", yield_kind_name(y->kind));
    if (y->entry.line)
        where(j, y->file, y->entry.line);
    else
        call_where(j, m, s);
    json_uint(j, "column", y->entry.column);
    json_string(j, "primitive", y->primitive);
    json_uint(j, "frame", y->frame);
    json_string(j, "frame_source", frame_source_name(y->frame_source));
    json_uint(j, "live", y->entry.live);
    json_uint(j, "dead", y->entry.dead);
    json_array_begin(j, "dead_objects");
    for (const char *p = y->dead_objects; *p;) {
        const char *end = strchr(p, ';');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', item);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - p) : item), p);
        json_object_begin(j, NULL);
        json_string(j, "name", name);
        json_uint(j, "size", eq ? strtoull(eq + 1, NULL, 10) : 0);
        json_object_end(j);
        p = end ? end + 1 : p + item;
    }
    json_array_end(j);
    json_bool(j, "stored", (y->entry.flags & CAPRI_MD_YSF_STORED) != 0);
    json_bool(j, "no_lifetimes", (y->entry.flags & CAPRI_MD_YSF_NO_LIFETIMES) != 0);
}

static void state_findings(struct json *j, const struct model *m, const char *key,
                           const uint32_t *sites, size_t count)
{
    json_array_begin(j, key);
    for (size_t i = 0; i < count; i++) {
        const struct yield_site *y = &m->yield_sites[sites[i]];
        json_object_begin(j, NULL);
        yield_site_fields(j, m, y);
        char *msg = yield_site_message(m, y);
        json_string(j, "message", msg);
        free(msg);
        json_object_end(j);
    }
    json_array_end(j);
}

static void yield_sites(struct json *j, const struct model *m)
{
    json_array_begin(j, "yield_sites");
    for (size_t k = 0; k < m->yield_site_count; k++) {
        const struct yield_site *y = &m->yield_sites[k];
        if (y->dropped)
            continue;
        json_object_begin(j, NULL);
        yield_site_fields(j, m, y);
        json_object_end(j);
    }
    json_array_end(j);
}

static void findings(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    json_object_begin(j, "findings");

    json_array_begin(j, "recursion");
    for (size_t i = 0; i < a->cycle_count; i++) {
        json_object_begin(j, NULL);
        recursion_of(j, m, &a->cycles[i]);
        json_object_end(j);
    }
    json_array_end(j);

    json_array_begin(j, "unresolved_indirect");
    for (size_t i = 0; i < a->unresolved_count; i++) {
        const struct call_site *s = &m->sites[a->unresolved_sites[i]];
        json_object_begin(j, NULL);
        json_string(j, "caller", m->functions[s->caller].name);
        call_where(j, m, s);
        json_string(j, "kind", site_kind(s));
        hex32(j, "type_id", s->entry.type_id);
        hex32(j, "ir_type_id", s->entry.ir_type_id);
        json_uint(j, "reserve", m->options.external_reserve);
        json_object_end(j);
    }
    json_array_end(j);

    external_calls(j, m, "external", a->externals, a->external_count, "reserve");

    json_array_begin(j, "dynamic_alloca");
    for (size_t i = 0; i < a->dynamic_count; i++) {
        const struct function *f = &m->functions[a->dynamic_functions[i]];
        json_object_begin(j, NULL);
        json_string(j, "function", f->name);
        where(j, f->file, f->line);
        json_uint(j, "static_frame", f->frame);
        json_string(j, "source", frame_source_name(f->source));
        json_object_end(j);
    }
    json_array_end(j);

    json_array_begin(j, "stack_limit");
    for (size_t i = 0; i < a->over_limit_count; i++) {
        const struct root *rt = &a->roots[a->over_limit_roots[i]];
        json_object_begin(j, NULL);
        json_string(j, "root", m->functions[rt->function].name);
        json_uint(j, "stack", rt->worst);
        json_bool(j, "bounded", rt->unbounded == 0);
        json_uint(j, "limit", a->options.stack_limit);
        json_object_end(j);
    }
    json_array_end(j);

    state_findings(j, m, "dead_state", a->dead_state_sites, a->dead_state_count);
    state_findings(j, m, "live_state", a->live_state_sites, a->live_state_count);

    json_object_end(j);
}

void report_json(FILE *out, const struct report *r)
{
    struct json j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_uint(&j, "schema_version", JSON_SCHEMA_VERSION);
    json_string(&j, "kind", "report");
    json_object_begin(&j, "tool");
    json_string(&j, "name", "capri-stack");
    json_string(&j, "version", CAPRI_STACK_VERSION);
    json_object_end(&j);
    inputs(&j, r);
    settings(&j, r);
    roots(&j, r);
    findings(&j, r);
    /* Calls charged a measured mark: no findings, listed for what they cost. */
    external_calls(&j, r->model, "marked_calls", r->analysis->marked, r->analysis->marked_count,
                   "mark");
    functions(&j, r->model);
    yield_sites(&j, r->model);
    json_array_begin(&j, "failed");
    for (int f = 0; f < FINDING_COUNT; f++)
        if (report_fails(r, (enum finding)f))
            json_string(&j, NULL, finding_names[f]);
    json_array_end(&j);
    json_uint(&j, "exit_code", (uint64_t)r->exit_code);
    json_object_end(&j);
    json_finish(&j);
}
