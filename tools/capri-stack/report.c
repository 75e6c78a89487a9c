/* Helpers shared by the report formats. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

int report_fails(const struct report *r, enum finding f)
{
    return (r->fail_on & (1u << f)) && finding_count(r->analysis, f) > 0;
}

const char *location(char *buf, size_t len, const char *file, uint32_t line)
{
    if (!file || !*file)
        snprintf(buf, len, "%s", "");
    else if (line)
        snprintf(buf, len, "%s:%u", file, line);
    else
        snprintf(buf, len, "%s", file);
    return buf;
}

const char *node_label(const struct model *m, uint32_t node)
{
    const struct node *n = &m->nodes[node];
    switch (n->kind) {
    case NODE_FUNCTION:
    case NODE_EXTERNAL:
        return n->name && *n->name ? n->name : "<unnamed>";
    case NODE_UNRESOLVED:
        return "<unknown target>";
    case NODE_TYPE_SET:
        return n->orphan ? "<indirect: orphans by IR type>"
               : n->ir_type ? "<indirect: IR type>" : "<indirect: C type>";
    }
    return "?";
}

const char *checkpoint_callee(const struct model *m, const struct checkpoint *cp)
{
    const struct call_site *s = &m->sites[cp->site];
    if (s->callee_name && *s->callee_name)
        return s->callee_name;
    return s->entry.kind == CAPRI_MD_CALL_ASM ? "<inline asm>" : "<indirect>";
}

const char *site_kind(const struct call_site *s)
{
    return s->resolution == SITE_ASM ? "asm" : "indirect";
}

const char *unbounded_reason(unsigned unbounded)
{
    if ((unbounded & UNBOUNDED_RECURSION) && (unbounded & UNBOUNDED_DYNAMIC))
        return "recursion, dynamic-alloca";
    if (unbounded & UNBOUNDED_RECURSION)
        return "recursion";
    if (unbounded & UNBOUNDED_DYNAMIC)
        return "dynamic-alloca";
    return "";
}

int call_location(const struct model *m, const struct call_site *s, const char **file,
                  uint32_t *line)
{
    const struct function *caller = &m->functions[s->caller];
    if (s->line == 0 && caller->file && *caller->file) {
        *file = caller->file;
        *line = caller->line;
        return 1;
    }
    *file = s->file;
    *line = s->line;
    return 0;
}

const char *call_location_text(char *buf, size_t len, const struct model *m,
                               const struct call_site *s)
{
    const char *file;
    uint32_t line;
    int at_function = call_location(m, s, &file, &line);
    location(buf, len, file, line);
    if (at_function) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, " (in function %s)", m->functions[s->caller].name);
    }
    return buf;
}

int module_is_coarse(const struct model *m, size_t module)
{
    return (m->modules[module].record->flags & CAPRI_MD_MODULE_TYPES_COARSE) != 0;
}

size_t coarse_module_count(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->module_count; i++)
        n += (size_t)module_is_coarse(m, i);
    return n;
}

/* At most this many module names in the coarse-types note. */
#define COARSE_NOTE_NAMES 4

char *coarse_types_note(const struct model *m)
{
    size_t coarse = coarse_module_count(m);
    if (coarse == 0 || m->options.indirect == INDIRECT_IR_TYPE)
        return NULL;
    char names[1024];
    size_t len = 0, shown = 0;
    names[0] = '\0';
    for (size_t i = 0; i < m->module_count && shown < COARSE_NOTE_NAMES; i++) {
        if (!module_is_coarse(m, i))
            continue;
        const struct module *mod = &m->modules[i];
        const char *source = capri_md_string(mod->record, mod->record->module.source_file);
        int n = mod->object->record_count > 1 && *source
                    ? snprintf(names + len, sizeof names - len, "%s%s (%s)", shown ? ", " : "",
                               mod->object->name, source)
                    : snprintf(names + len, sizeof names - len, "%s%s", shown ? ", " : "",
                               mod->object->name);
        if (n < 0 || (size_t)n >= sizeof names - len)
            break;
        len += (size_t)n;
        shown++;
    }
    if (coarse > shown && len < sizeof names)
        snprintf(names + len, sizeof names - len, " and %zu more", coarse - shown);
    return xasprintf("%zu of %zu module%s %s built without -fsanitize=kcfi, so %s only IR types: "
                     "%s. Indirect calls in %s and functions %s defines are matched by IR type, "
                     "which is coarser (more candidates). Compile with capri-cc, or add "
                     "-fsanitize=kcfi -fno-sanitize=function, for C types.",
                     coarse, m->module_count, m->module_count == 1 ? "" : "s",
                     coarse == 1 ? "was" : "were", coarse == 1 ? "it has" : "they have", names,
                     coarse == 1 ? "it" : "them", coarse == 1 ? "it" : "they");
}

const char *plural(char *buf, size_t len, size_t count, const char *noun)
{
    snprintf(buf, len, "%zu %s%s", count, noun, count == 1 ? "" : "s");
    return buf;
}

const char *format_bytes(char *buf, size_t len, uint64_t bytes)
{
    if (bytes < 1024)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else if (bytes < 1024 * 1024 && bytes % 1024 == 0)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(bytes / 1024));
    else if (bytes < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)bytes / 1024);
    else
        snprintf(buf, len, "%.1f MiB", (double)bytes / (1024 * 1024));
    return buf;
}

const char *yield_site_callee(const struct model *m, const struct yield_site *y)
{
    if (y->primitive && *y->primitive)
        return y->primitive;
    const struct call_site *s = &m->sites[y->site];
    if (s->entry.kind == CAPRI_MD_CALL_LOCAL)
        return m->functions[m->modules[m->functions[s->caller].module].first_function +
                            s->entry.callee].name;
    if (s->callee_name && *s->callee_name)
        return s->callee_name;
    return s->entry.kind == CAPRI_MD_CALL_ASM ? "<inline asm>" : "<indirect>";
}

const char *yield_site_location(char *buf, size_t len, const struct model *m,
                                const struct yield_site *y)
{
    if (y->entry.line)
        return location(buf, len, y->file, y->entry.line);
    return call_location_text(buf, len, m, &m->sites[y->site]);
}

char *yield_site_message(const struct model *m, const struct yield_site *y)
{
    char loc[512], frame[32], live[32], text[1024];
    size_t n = 0;
    const char *callee = yield_site_callee(m, y);
    n += (size_t)snprintf(text + n, sizeof text - n, "at %s, %s%s: frame %s, live %s",
                          yield_site_location(loc, sizeof loc, m, y), callee,
                          callee[0] == '<' ? "" : "()",
                          format_bytes(frame, sizeof frame, y->frame),
                          format_bytes(live, sizeof live, y->entry.live));
    /* The named dead objects, largest first: "name=bytes;...". */
    const char *p = y->dead_objects;
    size_t names = 0;
    for (const char *q = p; *q; q++)
        names += *q == ';';
    names += *p != '\0';
    size_t k = 0;
    if (n >= sizeof text)
        n = sizeof text - 1;
    while (*p && n + 1 < sizeof text) {
        const char *end = strchr(p, ';');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', item);
        size_t name_len = eq ? (size_t)(eq - p) : item;
        uint64_t bytes = eq ? strtoull(eq + 1, NULL, 10) : 0;
        char size[32];
        const char *sep = k == 0 ? "; " : k + 1 == names ? " and " : ", ";
        n += (size_t)snprintf(text + n, sizeof text - n, "%s`%.*s` (%s)", sep, (int)name_len, p,
                              format_bytes(size, sizeof size, bytes));
        if (n >= sizeof text)
            n = sizeof text - 1;
        k++;
        p = end ? end + 1 : p + item;
    }
    if (names && n + 1 < sizeof text)
        snprintf(text + n, sizeof text - n, " %s dead here", names == 1 ? "is" : "are");
    return xstrdup(text);
}
