/*
 * Dumping the blocking graph (docs/yield-design.md, "Dump"): the API call,
 * the dump at exit (CAPRI_BLOCKING_GRAPH=path: JSON to path, DOT to
 * path.dot), and the opt-in signal (CAPRI_BLOCKING_GRAPH_SIGNAL), whose
 * handler only raises a flag the monitor acts on.
 *
 * The schedulers' tables are merged into heap tables here. Other
 * schedulers keep recording meanwhile: counts only grow, and an average
 * may be one sample behind its count; the JSON says "racy": true.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capri.h"
#include "graph.h"
#include "graph_names.h"
#include "log.h"
#include "scheduler.h"

static char *exit_path;      /* CAPRI_BLOCKING_GRAPH, or NULL */
static int dump_signal;      /* CAPRI_BLOCKING_GRAPH_SIGNAL, or 0 */
static uint32_t signal_raised;
static uint64_t start_cycles, start_ns;
static pid_t dump_pid;       /* the process the files belong to */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The cycle counter's rate, over the program's life so far (at least 2 ms
 * of it: a dump right after start waits that long). */
static double cycles_per_ns(void)
{
    uint64_t ns = mono_ns();
    while (ns - start_ns < 2000000u)
        ns = mono_ns();
    return (double)(capri_arch_cycles() - start_cycles) / (double)(ns - start_ns);
}

/* ---- output ------------------------------------------------------------------ */

struct out {
    int fd, err;
    size_t len;
    char buf[8192];
};

static void flush(struct out *o)
{
    size_t done = 0;
    while (done < o->len && !o->err) {
        ssize_t n = write(o->fd, o->buf + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            o->err = n < 0 ? errno : EIO;
        else
            done += (size_t)n;
    }
    o->len = 0;
}

static void put(struct out *o, const char *s, size_t n)
{
    while (n) {
        if (o->len == sizeof o->buf)
            flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A string inside JSON or DOT quotes. */
static void put_quoted(struct out *o, const char *s)
{
    put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c == '\n') {
            put(o, "\\n", 2); /* the same escape in JSON and DOT */
        } else if (c < 0x20) {
            putf(o, "\\u%04x", c);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

/* ---- merging the schedulers' tables ------------------------------------------- */

struct medge {
    uintptr_t from, to;
    uint64_t count;
    double weighted; /* sum of count * avg over schedulers */
};

struct msite {
    uintptr_t site;
    int64_t waiting;
};

struct merged {
    struct medge *edge;
    struct msite *site;
    size_t edge_cap, site_cap; /* powers of two */
    size_t nedges, nsites;
    uint64_t dropped;
};

static struct msite *msite_get(struct merged *m, uintptr_t site)
{
    size_t i = graph_hash(site, 0) & (m->site_cap - 1);
    while (m->site[i].site && m->site[i].site != site)
        i = (i + 1) & (m->site_cap - 1);
    if (!m->site[i].site) {
        m->site[i].site = site;
        m->nsites++;
    }
    return &m->site[i];
}

static void medge_add(struct merged *m, uintptr_t from, uintptr_t to, uint64_t count, int64_t avg)
{
    size_t i = graph_hash(from, to) & (m->edge_cap - 1);
    while (m->edge[i].to && !(m->edge[i].to == to && m->edge[i].from == from))
        i = (i + 1) & (m->edge_cap - 1);
    struct medge *e = &m->edge[i];
    if (!e->to) {
        e->from = from;
        e->to = to;
        m->nedges++;
    }
    e->count += count;
    e->weighted += (double)count * (double)avg;
    msite_get(m, from);
    msite_get(m, to);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static int merge(struct merged *m)
{
    memset(m, 0, sizeof *m);
    uint32_t n = capri_rt.scheds ? load_acquire(&capri_rt.nscheds) : 0;
    m->edge_cap = pow2_at_least(2 * (size_t)n * GRAPH_EDGES);
    m->site_cap = pow2_at_least(2 * (size_t)n * (GRAPH_SITES + 2 * GRAPH_EDGES));
    m->edge = calloc(m->edge_cap, sizeof *m->edge);
    m->site = calloc(m->site_cap, sizeof *m->site);
    if (!m->edge || !m->site) {
        free(m->edge);
        free(m->site);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct graph_tables *tb = load_acquire(&capri_rt.scheds[i].graph.t);
        if (!tb)
            continue;
        m->dropped += load_relaxed(&tb->dropped);
        for (uint32_t k = 0; k < GRAPH_EDGES; k++) {
            const struct graph_edge *e = &tb->edge[k];
            uintptr_t to = load_relaxed(&e->to), from = load_relaxed(&e->from);
            uint64_t count = load_relaxed(&e->count);
            if (to > 1 && count)
                medge_add(m, from, to, count, load_relaxed(&e->avg));
        }
        for (uint32_t k = 0; k < GRAPH_SITES; k++) {
            const struct graph_site *s = &tb->site[k];
            uintptr_t site = load_relaxed(&s->site);
            if (site > 1)
                msite_get(m, site)->waiting += load_relaxed(&s->waiting);
        }
    }
    return 0;
}

/* ---- the two formats ------------------------------------------------------------ */

static void json_site(struct out *o, const struct msite *s, const struct graph_name *nm, bool first)
{
    static const char *const kinds[] = {"start", "descriptor", "address"};
    putf(o, "%s\n    {\"id\": \"0x%lx\", \"kind\": \"%s\", \"file\": ", first ? "" : ",",
         (unsigned long)s->site, kinds[nm->kind]);
    put_quoted(o, nm->file);
    putf(o, ", \"line\": %u, \"column\": %u, \"function\": ", nm->line, nm->column);
    put_quoted(o, nm->function);
    puts_(o, ", \"primitive\": ");
    put_quoted(o, nm->primitive);
    putf(o, ", \"waiting\": %lld, \"address\": \"0x%lx\", \"object\": ", (long long)s->waiting,
         (unsigned long)nm->address);
    put_quoted(o, nm->object);
    putf(o, ", \"offset\": \"0x%lx\"}", (unsigned long)nm->offset);
}

/* A site's label for DOT: where it is, as well as the dump can tell. */
static void dot_label(struct out *o, const struct msite *s, const struct graph_name *nm)
{
    char buf[512];
    if (nm->kind == GRAPH_KIND_START)
        snprintf(buf, sizeof buf, "(thread start)");
    else if (nm->file[0])
        snprintf(buf, sizeof buf, "%s%s%s\n%s:%u\nwaiting %lld", nm->function,
                 nm->primitive[0] ? " -> " : "", nm->primitive, nm->file, nm->line,
                 (long long)s->waiting);
    else {
        const char *obj = strrchr(nm->object, '/');
        snprintf(buf, sizeof buf, "%s%s%s+0x%lx\nwaiting %lld", nm->function,
                 nm->function[0] ? "\n" : "", obj ? obj + 1 : nm->object,
                 (unsigned long)nm->offset, (long long)s->waiting);
    }
    put_quoted(o, buf);
}

static int dump(int fd, int format)
{
    struct merged m;
    int err = merge(&m);
    if (err)
        return err;
    struct out *o = malloc(sizeof *o);
    if (!o) {
        free(m.edge);
        free(m.site);
        return ENOMEM;
    }
    o->fd = fd;
    o->err = 0;
    o->len = 0;
    double rate = cycles_per_ns();
    /* Sites whose module went away are left out, with their edges. */
    for (size_t i = 0; i < m.site_cap; i++) {
        struct graph_name nm;
        if (m.site[i].site && !graph_name_site(m.site[i].site, &nm))
            m.site[i].waiting = INT64_MIN;
    }
    double total = 0;
    for (size_t i = 0; i < m.edge_cap; i++)
        total += m.edge[i].weighted;
    if (format == CAPRI_GRAPH_JSON) {
        putf(o, "{\"version\": 1, \"racy\": true, \"cycles_per_ns\": %.4f, \"dropped\": %llu,\n  \"sites\": [",
             rate, (unsigned long long)m.dropped);
        bool first = true;
        for (size_t i = 0; i < m.site_cap; i++) {
            struct graph_name nm;
            if (!m.site[i].site || m.site[i].waiting == INT64_MIN || !graph_name_site(m.site[i].site, &nm))
                continue;
            json_site(o, &m.site[i], &nm, first);
            first = false;
        }
        puts_(o, "],\n  \"edges\": [");
        first = true;
        for (size_t i = 0; i < m.edge_cap; i++) {
            const struct medge *e = &m.edge[i];
            if (!e->to || msite_get(&m, e->from)->waiting == INT64_MIN ||
                msite_get(&m, e->to)->waiting == INT64_MIN)
                continue;
            double avg = e->weighted / (double)e->count;
            putf(o, "%s\n    {\"from\": \"0x%lx\", \"to\": \"0x%lx\", \"count\": %llu, \"avg_cycles\": %.0f, \"avg_ns\": %.0f}",
                 first ? "" : ",", (unsigned long)e->from, (unsigned long)e->to,
                 (unsigned long long)e->count, avg, avg / rate);
            first = false;
        }
        puts_(o, "]}\n");
    } else {
        puts_(o, "digraph blocking_graph {\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n");
        for (size_t i = 0; i < m.site_cap; i++) {
            struct graph_name nm;
            if (!m.site[i].site || m.site[i].waiting == INT64_MIN || !graph_name_site(m.site[i].site, &nm))
                continue;
            putf(o, "  \"0x%lx\" [label=", (unsigned long)m.site[i].site);
            dot_label(o, &m.site[i], &nm);
            puts_(o, "];\n");
        }
        for (size_t i = 0; i < m.edge_cap; i++) {
            const struct medge *e = &m.edge[i];
            if (!e->to || msite_get(&m, e->from)->waiting == INT64_MIN ||
                msite_get(&m, e->to)->waiting == INT64_MIN)
                continue;
            double share = total > 0 ? e->weighted / total : 0;
            putf(o, "  \"0x%lx\" -> \"0x%lx\" [label=\"%llu x %.1f us\", penwidth=%.2f];\n",
                 (unsigned long)e->from, (unsigned long)e->to, (unsigned long long)e->count,
                 e->weighted / (double)e->count / rate / 1000.0, 1.0 + 7.0 * share);
        }
        puts_(o, "}\n");
    }
    flush(o);
    err = o->err;
    free(o);
    free(m.edge);
    free(m.site);
    return err;
}

int capri_blocking_graph_dump(int fd, int format)
{
    if (fd < 0 || (format != CAPRI_GRAPH_JSON && format != CAPRI_GRAPH_DOT))
        return EINVAL;
    RUNTIME_ENSURE_OR_RETURN();
    if (!graph_recording)
        return ENOTSUP;
    return dump(fd, format);
}

/* ---- at exit and on the signal --------------------------------------------------- */

static void dump_to_files(void)
{
    /* A forked child that exits without exec runs the exit handlers too:
     * its graph would replace its parent's. */
    if (!exit_path || getpid() != dump_pid)
        return;
    size_t n = strlen(exit_path);
    char *dot = malloc(n + 5);
    int fd = open(exit_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dump(fd, CAPRI_GRAPH_JSON);
        close(fd);
    }
    if (dot) {
        memcpy(dot, exit_path, n);
        memcpy(dot + n, ".dot", 5);
        fd = open(dot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dump(fd, CAPRI_GRAPH_DOT);
            close(fd);
        }
        free(dot);
    }
    if (fd < 0)
        capri_warn("CAPRI_BLOCKING_GRAPH: cannot write the dump");
}

static void on_signal(int sig)
{
    (void)sig;
    store_release(&signal_raised, 1u);
}

static int signal_number(const char *v)
{
    if (strncmp(v, "SIG", 3) == 0)
        v += 3;
    if (strcmp(v, "USR1") == 0)
        return SIGUSR1;
    if (strcmp(v, "USR2") == 0)
        return SIGUSR2;
    if (strcmp(v, "HUP") == 0)
        return SIGHUP;
    if (strncmp(v, "RTMIN+", 6) == 0) {
        int k = atoi(v + 6);
        return k >= 0 && SIGRTMIN + k <= SIGRTMAX ? SIGRTMIN + k : 0;
    }
    int k = atoi(v);
    return k > 0 && k < NSIG && k != SIGKILL && k != SIGSTOP ? k : 0;
}

void graph_dump_init(void)
{
    start_cycles = capri_arch_cycles();
    start_ns = mono_ns();
    dump_pid = getpid();
    const char *p = getenv("CAPRI_BLOCKING_GRAPH");
    if (p && strcmp(p, "0") == 0) {
        graph_recording = 0; /* the design's first spelling of "off" */
        return;
    }
    if (!graph_recording)
        return;
    if (p && *p && (exit_path = strdup(p)) != NULL)
        atexit(dump_to_files);
    const char *s = getenv("CAPRI_BLOCKING_GRAPH_SIGNAL");
    if (s && *s) {
        dump_signal = signal_number(s);
        if (!dump_signal || !exit_path) {
            capri_warn(!dump_signal ? "ignoring CAPRI_BLOCKING_GRAPH_SIGNAL: not a signal"
                                    : "ignoring CAPRI_BLOCKING_GRAPH_SIGNAL: CAPRI_BLOCKING_GRAPH names no file");
            dump_signal = 0;
            return;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(dump_signal, &sa, NULL) != 0) {
            capri_warn("CAPRI_BLOCKING_GRAPH_SIGNAL: the handler could not be installed");
            dump_signal = 0;
        }
    }
}

bool graph_needs_monitor(void) { return dump_signal != 0 || graph_policy; }

void graph_monitor_look(void)
{
    if (dump_signal && load_acquire(&signal_raised)) {
        store_release(&signal_raised, 0u);
        dump_to_files();
    }
    if (graph_policy)
        graph_policy_look();
}
