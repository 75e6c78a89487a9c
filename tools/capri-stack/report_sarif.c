/*
 * SARIF 2.1.0, for code-scanning services. One rule per finding class; a
 * result's level is "error" when its class was selected with --fail-on (it
 * fails the build) and "warning" otherwise. Bounded recursion is a "note".
 */
#include "report.h"
#include "json.h"

#include <stdlib.h>

struct rule {
    enum finding finding;
    const char *text;
};

static const struct rule rules[FINDING_COUNT] = {
    { FINDING_RECURSION, "Recursion cycle without a declared bound: the stack it needs is "
                         "unbounded. Break the cycle or declare CAPRI_RECURSION_BOUND(n)." },
    { FINDING_UNRESOLVED, "Indirect call (or call from inline asm) with no known target: it is "
                          "charged the external reserve." },
    { FINDING_DYNAMIC_ALLOCA, "Function with dynamic allocas (VLA or alloca of run-time size): "
                              "its frame has no static bound." },
    { FINDING_EXTERNAL, "Call into code without capri metadata and without a measured stack "
                        "mark: it is charged the external reserve." },
    { FINDING_STACK_LIMIT, "Root whose worst-case stack exceeds the limit given with "
                           "--fail-on stack>N (or cannot be bounded)." },
    { FINDING_DEAD_STATE, "Yield site whose frame holds stack objects that are dead there, "
                          "at least --dead-state-threshold bytes: a thread blocked there "
                          "keeps them. Move the code using them into a function of its own "
                          "(or build with -mllvm -capri-shrink-yield-frames)." },
    { FINDING_LIVE_STATE, "Yield site with at least --live-state-threshold bytes of state "
                          "live across it: every thread blocked there holds it." },
};

/* Percent-encode a path into a URI reference; absolute paths become file:// URIs. */
static char *path_uri(const char *path)
{
    size_t len = strlen(path);
    char *uri = xmalloc(len * 3 + 8);
    size_t n = 0;
    if (path[0] == '/') {
        memcpy(uri, "file://", 7);
        n = 7;
    }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c))
            uri[n++] = (char)c;
        else
            n += (size_t)sprintf(uri + n, "%%%02X", c);
    }
    uri[n] = '\0';
    return uri;
}

static void physical_location(struct json *j, const char *file, uint32_t line, const char *msg)
{
    json_object_begin(j, NULL);
    if (msg) {
        json_object_begin(j, "message");
        json_string(j, "text", msg);
        json_object_end(j);
    }
    json_object_begin(j, "physicalLocation");
    json_object_begin(j, "artifactLocation");
    char *uri = path_uri(file);
    json_string(j, "uri", uri);
    free(uri);
    json_object_end(j);
    if (line > 0) {
        json_object_begin(j, "region");
        json_uint(j, "startLine", line);
        json_object_end(j);
    }
    json_object_end(j);
    json_object_end(j);
}

/* Writes a result and leaves its object open, for relatedLocations; the caller closes it. */
static void result(struct json *j, const struct report *r, enum finding f, const char *level,
                   const char *message, const char *file, uint32_t line)
{
    json_object_begin(j, NULL);
    json_string(j, "ruleId", finding_names[f]);
    json_uint(j, "ruleIndex", (uint64_t)f);
    if (!level)
        level = (r->fail_on & (1u << f)) ? "error" : "warning";
    json_string(j, "level", level);
    json_object_begin(j, "message");
    json_string(j, "text", message);
    json_object_end(j);
    json_array_begin(j, "locations");
    if (file && *file)
        physical_location(j, file, line, NULL);
    json_array_end(j);
}

static void cycle_results(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    for (size_t i = 0; i < a->cycle_count; i++) {
        const struct cycle *cy = &a->cycles[i];
        const struct function *first = &m->functions[cy->functions[0]];
        char through[600], others[64];
        if (cy->count > 1)
            snprintf(through, sizeof through, "%s and %s", first->name,
                     plural(others, sizeof others, cy->count - 1, "other function"));
        else
            snprintf(through, sizeof through, "%s", first->name);
        char *msg;
        if (cy->bounded)
            msg = xasprintf("Bounded recursion through %s: charged %llu bytes (sum of bounds "
                            "%llu).", through, (unsigned long long)cy->charge,
                            (unsigned long long)cy->bound_sum);
        else
            msg = xasprintf("Unbounded recursion through %s, %llu bytes per trip.", through,
                            (unsigned long long)cy->frame_sum);
        result(j, r, FINDING_RECURSION, cy->bounded ? "note" : NULL, msg, first->file,
               first->line);
        free(msg);
        json_array_begin(j, "relatedLocations");
        for (size_t k = 1; k < cy->count; k++) {
            const struct function *f = &m->functions[cy->functions[k]];
            if (*f->file)
                physical_location(j, f->file, f->line, f->name);
        }
        json_array_end(j);
        json_object_end(j);
    }
}

/* A result about a call, located at the call or, without a line, at its caller. */
static void call_result(struct json *j, const struct report *r, enum finding f,
                        const struct call_site *s, const char *message)
{
    const struct model *m = r->model;
    const char *file;
    uint32_t line;
    char *text;
    if (call_location(m, s, &file, &line))
        text = xasprintf("%s The call has no source line: the location is the definition of "
                         "the calling function (in function %s).", message,
                         m->functions[s->caller].name);
    else
        text = xstrdup(message);
    result(j, r, f, NULL, text, file, line);
    json_object_end(j);
    free(text);
}

static void site_results(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    unsigned long long reserve = (unsigned long long)m->options.external_reserve;
    for (size_t i = 0; i < a->unresolved_count; i++) {
        const struct call_site *s = &m->sites[a->unresolved_sites[i]];
        char *msg = s->resolution == SITE_ASM
                        ? xasprintf("Call from inline asm in %s has no known target; charged "
                                    "%llu bytes.", m->functions[s->caller].name, reserve)
                        : xasprintf("Indirect call in %s (type id 0x%08x) has no candidate "
                                    "target; charged %llu bytes.", m->functions[s->caller].name,
                                    s->entry.type_id, reserve);
        call_result(j, r, FINDING_UNRESOLVED, s, msg);
        free(msg);
    }
    for (size_t i = 0; i < a->external_count; i++) {
        const struct external_call *x = &a->externals[i];
        const struct call_site *s = &m->sites[x->site];
        const char *caller = m->functions[s->caller].name, *callee = node_label(m, x->node);
        char *msg = x->indirect
                        ? xasprintf("Indirect call in %s may reach %s, which has no capri "
                                    "metadata; charged %llu bytes.", caller, callee, reserve)
                        : xasprintf("Call from %s to %s, which has no capri metadata; charged "
                                    "%llu bytes.", caller, callee, reserve);
        call_result(j, r, FINDING_EXTERNAL, s, msg);
        free(msg);
    }
}

static void function_results(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    for (size_t i = 0; i < a->dynamic_count; i++) {
        const struct function *f = &m->functions[a->dynamic_functions[i]];
        char *msg = xasprintf("%s uses dynamic allocas: its frame is unbounded (static part "
                              "%llu bytes, %s).", f->name, (unsigned long long)f->frame,
                              frame_source_name(f->source));
        result(j, r, FINDING_DYNAMIC_ALLOCA, NULL, msg, f->file, f->line);
        json_object_end(j);
        free(msg);
    }
    for (size_t i = 0; i < a->over_limit_count; i++) {
        const struct root *rt = &a->roots[a->over_limit_roots[i]];
        const struct function *f = &m->functions[rt->function];
        char *msg = rt->unbounded
                        ? xasprintf("Worst-case stack of %s is unbounded (%s; at least %llu "
                                    "bytes), over the limit of %llu bytes.", f->name,
                                    unbounded_reason(rt->unbounded),
                                    (unsigned long long)rt->worst,
                                    (unsigned long long)a->options.stack_limit)
                        : xasprintf("Worst-case stack of %s is %llu bytes, over the limit of "
                                    "%llu bytes.", f->name, (unsigned long long)rt->worst,
                                    (unsigned long long)a->options.stack_limit);
        result(j, r, FINDING_STACK_LIMIT, NULL, msg, f->file, f->line);
        json_object_end(j);
        free(msg);
    }
}

static void yield_results(struct json *j, const struct report *r, enum finding f,
                          const uint32_t *sites, size_t count)
{
    const struct model *m = r->model;
    for (size_t i = 0; i < count; i++) {
        const struct yield_site *y = &m->yield_sites[sites[i]];
        char *msg = yield_site_message(m, y);
        const char *file = y->file;
        uint32_t line = y->entry.line;
        if (!line)
            call_location(m, &m->sites[y->site], &file, &line);
        result(j, r, f, NULL, msg, file, line);
        json_object_end(j);
        free(msg);
    }
}

static void notification(struct json *j, const char *id, const char *text)
{
    json_object_begin(j, NULL);
    json_object_begin(j, "descriptor");
    json_string(j, "id", id);
    json_object_end(j);
    json_string(j, "level", "note");
    json_object_begin(j, "message");
    json_string(j, "text", text);
    json_object_end(j);
    json_object_end(j);
}

/*
 * What limits the whole report rather than one result: modules without
 * C-level types (indirect calls matched coarsely) and missing .stack_sizes.
 * Both as an invocation's notifications, which viewers show, and as run
 * properties, which scripts read.
 */
static void run_notes(struct json *j, const struct report *r)
{
    const struct model *m = r->model;
    size_t coarse = coarse_module_count(m);
    char *coarse_note = coarse_types_note(m);
    json_array_begin(j, "invocations");
    json_object_begin(j, NULL);
    json_bool(j, "executionSuccessful", 1);
    json_array_begin(j, "toolExecutionNotifications");
    if (coarse_note)
        notification(j, "coarse-types", coarse_note);
    if (!m->any_stack_sizes)
        notification(j, "no-stack-sizes", "No .stack_sizes in the inputs, so every frame is "
                     "the plugin's estimate (compile with -fstack-size-section for the "
                     "backend's sizes, and keep the section: llvm-strip and objcopy "
                     "--remove-section remove it, GNU strip keeps it).");
    json_array_end(j);
    json_object_end(j);
    json_array_end(j);
    free(coarse_note);

    json_object_begin(j, "properties");
    json_string(j, "indirect", indirect_mode_name(m->options.indirect));
    json_uint(j, "orphans", m->orphan_count);
    json_uint(j, "modules", m->module_count);
    json_uint(j, "modulesTypesCoarse", coarse);
    json_array_begin(j, "coarseModules");
    for (size_t i = 0; i < m->module_count; i++)
        if (module_is_coarse(m, i)) {
            const struct module *mod = &m->modules[i];
            json_object_begin(j, NULL);
            json_string(j, "object", mod->object->name);
            json_string(j, "source",
                        capri_md_string(mod->record, mod->record->module.source_file));
            json_object_end(j);
        }
    json_array_end(j);
    json_bool(j, "stackSizes", m->any_stack_sizes);
    json_uint(j, "externalReserve", m->options.external_reserve);
    json_object_end(j);
}

void report_sarif(FILE *out, const struct report *r)
{
    struct json j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_string(&j, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    json_string(&j, "version", "2.1.0");
    json_array_begin(&j, "runs");
    json_object_begin(&j, NULL);
    json_object_begin(&j, "tool");
    json_object_begin(&j, "driver");
    json_string(&j, "name", "capri-stack");
    json_string(&j, "version", CAPRI_STACK_VERSION);
    json_array_begin(&j, "rules");
    for (int f = 0; f < FINDING_COUNT; f++) {
        json_object_begin(&j, NULL);
        json_string(&j, "id", finding_names[f]);
        json_object_begin(&j, "shortDescription");
        json_string(&j, "text", rules[f].text);
        json_object_end(&j);
        json_object_begin(&j, "defaultConfiguration");
        json_string(&j, "level", (r->fail_on & (1u << f)) ? "error" : "warning");
        json_object_end(&j);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j); /* driver */
    json_object_end(&j); /* tool */
    run_notes(&j, r);
    json_array_begin(&j, "results");
    cycle_results(&j, r);
    site_results(&j, r);
    function_results(&j, r);
    yield_results(&j, r, FINDING_DEAD_STATE, r->analysis->dead_state_sites,
                  r->analysis->dead_state_count);
    yield_results(&j, r, FINDING_LIVE_STATE, r->analysis->live_state_sites,
                  r->analysis->live_state_count);
    json_array_end(&j);
    json_object_end(&j); /* run */
    json_array_end(&j);
    json_object_end(&j);
    json_finish(&j);
}
