/*
 * The call graph in Graphviz DOT. Nodes are labelled with their name and
 * the frame charged for them; the worst path of the worst root is drawn in
 * red (penwidth 3). Functions in recursion cycles are filled orange, frames
 * with dynamic allocas are dashed, code without metadata is grey.
 */
#include "report.h"

#include <stdlib.h>

static void dot_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void node_line(FILE *out, const struct model *m, const struct analysis *a, uint32_t v)
{
    const struct node *n = &m->nodes[v];
    char label[512];
    if (n->kind == NODE_TYPE_SET)
        snprintf(label, sizeof label, "indirect\n%s 0x%08x",
                 n->orphan ? "orphans ir" : n->ir_type ? "ir" : "type", n->type_id);
    else
        snprintf(label, sizeof label, "%s\n%llu B (%s)", node_label(m, v),
                 (unsigned long long)n->frame, frame_source_name(n->source));
    fprintf(out, "  n%u [label=", v);
    dot_string(out, label);
    switch (n->kind) {
    case NODE_TYPE_SET:
        fputs(", shape=diamond", out);
        break;
    case NODE_EXTERNAL:
    case NODE_UNRESOLVED:
        fputs(", style=filled, fillcolor=lightgrey", out);
        break;
    case NODE_FUNCTION: {
        const struct function *f = &m->functions[n->function];
        uint32_t c = a->results[v].cycle;
        int dynamic = (f->entry.flags & CAPRI_MD_FN_DYNAMIC_ALLOCA) != 0;
        if (c != NONE || dynamic) {
            fprintf(out, ", style=\"%s%s\"", c != NONE ? "filled" : "",
                    dynamic ? (c != NONE ? ",dashed" : "dashed") : "");
            if (c != NONE)
                fprintf(out, ", fillcolor=%s", a->cycles[c].bounded ? "khaki" : "orange");
        }
        break;
    }
    }
    fputs("];\n", out);
}

void report_dot(FILE *out, const struct report *r)
{
    const struct model *m = r->model;
    const struct analysis *a = r->analysis;
    uint8_t *hot = xcalloc(m->edge_count ? m->edge_count : 1, 1);
    /* The worst path of the worst root, following the analysis's choices. */
    if (a->root_count > 0) {
        uint32_t v = a->roots[0].function;
        for (size_t guard = 0; guard <= a->scc_count; guard++) {
            uint32_t e = a->results[v].next_edge;
            if (e == NONE)
                break;
            hot[e] = 1;
            v = m->edges[e].to;
        }
    }
    fputs("digraph capri_stack {\n  node [shape=box, fontname=\"monospace\"];\n", out);
    for (uint32_t v = 0; v < m->node_count; v++)
        node_line(out, m, a, v);
    for (uint32_t v = 0; v < m->node_count; v++)
        for (uint32_t e = m->edge_start[v]; e < m->edge_start[v + 1]; e++) {
            fprintf(out, "  n%u -> n%u", v, m->edges[e].to);
            if (hot[e])
                fputs(" [color=red, penwidth=3]", out);
            fputs(";\n", out);
        }
    fputs("}\n", out);
    free(hot);
}
