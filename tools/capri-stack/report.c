/* Helpers shared by the report formats. */
#include "report.h"

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
        return n->ir_type ? "<indirect: IR type>" : "<indirect: C type>";
    }
    return "?";
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
