/*
 * capri-graph: draws a blocking-graph dump (libcapri's JSON, from
 * capri_blocking_graph_dump or CAPRI_BLOCKING_GRAPH=path) as DOT, and as
 * SVG through Graphviz's dot.
 *
 *   capri-graph [--output FILE] [--svg FILE] [--no-symbols] DUMP.json
 *
 * Sites named only by an address (calls from code built without the
 * plugin) are symbolised with addr2line on their object. An edge's width
 * and colour show its share of the time threads ran between sites (count
 * times average), its label the count and the average time.
 *
 * Exit codes: 0 done, 1 dot or addr2line failed, 2 bad usage or input.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonr.h"
#include "symbols.h"

extern char **environ;

struct site {
    const char *id;
    char label[768];
};

static void usage(void)
{
    fprintf(stderr, "usage: capri-graph [--output FILE] [--svg FILE] [--no-symbols] DUMP.json\n");
    exit(2);
}

static char *slurp(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *b = realloc(buf, (cap *= 2) + 1);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* DOT's escapes inside a quoted label: quotes and backslashes. */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* A site's label: where it is, as well as the dump and the symbols tell. */
static void label_site(const struct jv *s, struct site *out, int symbolise)
{
    const char *kind = jv_str(s, "kind");
    const char *fn = jv_str(s, "function"), *file = jv_str(s, "file"), *prim = jv_str(s, "primitive");
    long waiting = (long)jv_num(s, "waiting");
    char where[512] = "";
    struct symbol sym; /* fn may point into it */
    if (strcmp(kind, "start") == 0) {
        snprintf(out->label, sizeof out->label, "(thread start)");
        return;
    }
    if (file[0]) {
        snprintf(where, sizeof where, "%s:%ld", file, (long)jv_num(s, "line"));
    } else {
        const char *obj = jv_str(s, "object");
        unsigned long off = strtoul(jv_str(s, "offset"), NULL, 16);
        /* A return address: the call is the byte before it. */
        unsigned long at = strcmp(kind, "address") == 0 && off ? off - 1 : off;
        if (symbolise && obj[0] && symbols_lookup(obj, at, &sym) == 0) {
            if (sym.function[0])
                fn = sym.function;
            if (sym.file[0])
                snprintf(where, sizeof where, "%s:%u", basename_of(sym.file), sym.line);
        }
        if (!where[0])
            snprintf(where, sizeof where, "%s+0x%lx", obj[0] ? basename_of(obj) : "?", off);
    }
    snprintf(out->label, sizeof out->label, "%s%s%s%s%s\nwaiting %ld", fn, prim[0] ? " -> " : "", prim,
             fn[0] || prim[0] ? "\n" : "", where, waiting);
}

/* Grey for a cold edge to red for the hottest, in HSV. */
static void edge_colour(double share, char *buf, size_t len)
{
    double sat = share < 0.02 ? 0.05 : 0.25 + 0.75 * share;
    snprintf(buf, len, "0.000 %.3f %.3f", sat > 1 ? 1 : sat, 0.45 + 0.45 * share);
}

static int write_dot(const struct jv *doc, FILE *out, int symbolise)
{
    const struct jv *sites = jv_get(doc, "sites"), *edges = jv_get(doc, "edges");
    if (!sites || sites->kind != JV_ARRAY || !edges || edges->kind != JV_ARRAY) {
        fprintf(stderr, "capri-graph: not a blocking-graph dump (no sites or edges)\n");
        return 2;
    }
    double rate = jv_num(doc, "cycles_per_ns");
    if (rate <= 0)
        rate = 1;
    fprintf(out, "digraph blocking_graph {\n  rankdir=TB;\n"
                 "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n"
                 "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (size_t i = 0; i < sites->count; i++) {
        const struct jv *s = &sites->items[i];
        struct site site = {jv_str(s, "id"), ""};
        label_site(s, &site, symbolise);
        fprintf(out, "  \"%s\" [label=\"", site.id);
        put_escaped(out, site.label);
        fputs(jv_num(s, "waiting") > 0 ? "\", penwidth=2];\n" : "\"];\n", out);
    }
    double total = 0;
    for (size_t i = 0; i < edges->count; i++)
        total += jv_num(&edges->items[i], "count") * jv_num(&edges->items[i], "avg_cycles");
    for (size_t i = 0; i < edges->count; i++) {
        const struct jv *e = &edges->items[i];
        double count = jv_num(e, "count"), avg = jv_num(e, "avg_cycles");
        double share = total > 0 ? count * avg / total : 0;
        double us = avg / rate / 1000.0;
        char colour[48];
        edge_colour(share, colour, sizeof colour);
        fprintf(out, "  \"%s\" -> \"%s\" [label=\"%.0f x %.*f us\\n%.0f%% of time\", penwidth=%.2f, color=\"%s\"];\n",
                jv_str(e, "from"), jv_str(e, "to"), count, us < 10 ? 2 : 0, us, 100 * share,
                1.0 + 9.0 * share, colour);
    }
    fputs("}\n", out);
    return 0;
}

static int run_dot(const char *dot_file, const char *svg)
{
    char *argv[] = {"dot", "-Tsvg", "-o", (char *)svg, (char *)dot_file, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "capri-graph: cannot run dot (install Graphviz): %s\n", strerror(err));
        return 1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "capri-graph: dot failed\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *output = NULL, *svg = NULL, *input = NULL;
    int symbolise = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc)
            output = argv[++i];
        else if (strcmp(argv[i], "--svg") == 0 && i + 1 < argc)
            svg = argv[++i];
        else if (strcmp(argv[i], "--no-symbols") == 0)
            symbolise = 0;
        else if (argv[i][0] == '-' && argv[i][1])
            usage();
        else if (!input)
            input = argv[i];
        else
            usage();
    }
    if (!input)
        usage();
    char *text = slurp(input);
    if (!text) {
        fprintf(stderr, "capri-graph: cannot read %s: %s\n", input, strerror(errno));
        return 2;
    }
    char err[160];
    struct jv *doc = jv_parse(text, err, sizeof err);
    free(text);
    if (!doc) {
        fprintf(stderr, "capri-graph: %s: %s\n", input, err);
        return 2;
    }
    /* With --svg and no --output, the DOT goes to a temporary file. */
    char tmp[] = "/tmp/capri-graph-XXXXXX";
    const char *dot_file = output;
    if (svg && !output) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            fprintf(stderr, "capri-graph: no temporary file: %s\n", strerror(errno));
            jv_free(doc);
            return 2;
        }
        close(fd);
        dot_file = tmp;
    }
    FILE *out = dot_file ? fopen(dot_file, "w") : stdout;
    if (!out) {
        fprintf(stderr, "capri-graph: cannot write %s: %s\n", dot_file, strerror(errno));
        jv_free(doc);
        return 2;
    }
    int rc = write_dot(doc, out, symbolise);
    if (out != stdout && fclose(out) != 0 && !rc) {
        fprintf(stderr, "capri-graph: cannot write %s\n", dot_file);
        rc = 2;
    }
    jv_free(doc);
    if (!rc && svg)
        rc = run_dot(dot_file, svg);
    if (dot_file == tmp)
        unlink(tmp);
    return rc;
}
