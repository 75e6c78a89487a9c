/*
 * The blocking graph: the site word reaches the graph (a thread parks at
 * two known sites, standing in for the plugin's stores, and the dump has
 * the edges between them with the right counts and the thread waiting at
 * the right one); a park from a call with no site word is named by its
 * caller's address in its object; the dump in JSON and DOT through the
 * API, at exit through CAPRI_BLOCKING_GRAPH, through the signal; and
 * recording switched off.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "md_builder.h"
#include "rt_test.h"

extern __thread const void *__capri_yield_site;
void __capri_register_module(void *record);
void __capri_unregister_module(void *record);

#define ROUNDS 5

/* Two yield-site descriptors as the plugin would emit them: their
 * addresses are their identity. */
static const uint64_t site_x[4] __attribute__((aligned(8))) = {1, 2, 3, 4};
static const uint64_t site_y[4] __attribute__((aligned(8))) = {5, 6, 7, 8};

static capri_sem_t sem_x, sem_y;
static int pipe_fds[2];

static void *parker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        __capri_yield_site = site_x;
        capri_sem_wait(&sem_x);
        __capri_yield_site = site_y;
        capri_sem_wait(&sem_y);
    }
    return NULL;
}

/* An uninstrumented blocking call: no site word, so the park is named by
 * read's return address, inside this function. */
static __attribute__((noinline)) ssize_t plain_read(int fd, char *c)
{
    ssize_t n = read(fd, c, 1);
    __asm__ volatile("" ::: "memory"); /* keeps the call from being a tail call */
    return n;
}

static void *reader(void *arg)
{
    (void)arg;
    char c;
    CHECK_EQ(plain_read(pipe_fds[0], &c), 1);
    return NULL;
}

static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

static char *dump_api(int format)
{
    char path[] = "/tmp/capri-graph-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(capri_blocking_graph_dump(fd, format), 0);
    close(fd);
    char *text = slurp(path);
    unlink(path);
    CHECK(text != NULL);
    return text ? text : strdup("");
}

static void check_edge_json(const char *json, const void *from, const void *to, unsigned count)
{
    char want[160];
    snprintf(want, sizeof want, "\"from\": \"0x%lx\", \"to\": \"0x%lx\", \"count\": %u,",
             (unsigned long)(uintptr_t)from, (unsigned long)(uintptr_t)to, count);
    CHECK_CONTAINS(json, want);
}

static void check_waiting_json(const char *json, const void *site, int waiting)
{
    char id[64], want[64];
    snprintf(id, sizeof id, "{\"id\": \"0x%lx\"", (unsigned long)(uintptr_t)site);
    const char *p = strstr(json, id);
    CHECK(p != NULL);
    if (!p)
        return;
    snprintf(want, sizeof want, "\"waiting\": %d,", waiting);
    const char *end = strchr(p, '}');
    const char *w = strstr(p, want);
    CHECK(w != NULL && w < end);
    if (!(w != NULL && w < end))
        fprintf(stderr, "site %s: want %s\n", id, want);
}

/* Runs the parker to its fifth park at X and leaves it there. */
static capri_t park_at_x_rounds(void)
{
    capri_sem_init(&sem_x, 0);
    capri_sem_init(&sem_y, 0);
    capri_t t = spawn(parker, NULL);
    for (int i = 0; i < ROUNDS - 1; i++) {
        capri_yield(); /* one scheduler: the parker runs until it parks at X */
        capri_sem_post(&sem_x);
        capri_yield(); /* ... and then at Y */
        capri_sem_post(&sem_y);
    }
    capri_yield(); /* parked at X for the last time */
    return t;
}

static void finish_parker(capri_t t)
{
    capri_sem_post(&sem_x);
    capri_yield();
    capri_sem_post(&sem_y);
    join(t);
}

static void test_known_sites(void)
{
    capri_t t = park_at_x_rounds();
    char *json = dump_api(CAPRI_GRAPH_JSON);
    /* start -> X once, X -> Y and Y -> X four times each so far. */
    check_edge_json(json, (void *)2, site_x, 1);
    check_edge_json(json, site_x, site_y, ROUNDS - 1);
    check_edge_json(json, site_y, site_x, ROUNDS - 1);
    check_waiting_json(json, site_x, 1);
    check_waiting_json(json, site_y, 0);
    CHECK_CONTAINS(json, "\"kind\": \"descriptor\"");
    free(json);

    char *dot = dump_api(CAPRI_GRAPH_DOT);
    CHECK_CONTAINS(dot, "digraph blocking_graph {");
    char want[128];
    snprintf(want, sizeof want, "\"0x%lx\" -> \"0x%lx\" [label=\"%u x ", (unsigned long)(uintptr_t)site_x,
             (unsigned long)(uintptr_t)site_y, ROUNDS - 1);
    CHECK_CONTAINS(dot, want);
    free(dot);

    finish_parker(t);
    json = dump_api(CAPRI_GRAPH_JSON);
    check_edge_json(json, site_x, site_y, ROUNDS);
    check_waiting_json(json, site_x, 0);
    check_waiting_json(json, site_y, 0);
    free(json);
}

static void test_address_sites(void)
{
    CHECK_EQ(pipe(pipe_fds), 0);
    capri_t t = spawn(reader, NULL);
    capri_yield(); /* the reader parks in read */
    char *json = dump_api(CAPRI_GRAPH_JSON);
    /* The site of the read: an address inside plain_read, in this program. */
    bool found = false;
    for (const char *p = json; (p = strstr(p, "\"kind\": \"address\"")) != NULL; p++) {
        const char *a = strstr(p, "\"address\": \"0x");
        unsigned long addr = a ? strtoul(a + 12, NULL, 16) : 0;
        uintptr_t lo = (uintptr_t)plain_read;
        if (addr > lo && addr < lo + 256) {
            found = true;
            const char *end = strchr(p, '}');
            const char *w = strstr(p, "\"waiting\": 1,");
            CHECK(w && w < end);
            const char *obj = strstr(p, "\"object\": \"");
            CHECK(obj && obj < end && strstr(obj, "rt_graph") && strstr(obj, "rt_graph") < end);
            break;
        }
    }
#if defined(CAPRI_TEST_SANITIZED) && defined(CAPRI_TEST_SHARED)
    /* The program's read goes to the sanitizer's interceptor first, which
     * calls libcapri's: the return address read sees is the interceptor's
     * (docs/runtime.md says so). */
    if (!found && strstr(json, "\"function\": \"__interceptor_read\", \"primitive\": \"\", \"waiting\": 1,"))
        found = true;
#endif
    CHECK(found);
    if (!found)
        fprintf(stderr, "no address site in plain_read (%p):\n%s\n", (void *)plain_read, json);
    free(json);
    CHECK_EQ(write(pipe_fds[1], "x", 1), 1);
    join(t);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- a descriptor in a module's record ------------------------------------ */

static uint8_t *record;
static const void *record_site;

/* A module as the plugin would register it: serve_conn calls read at
 * knot.c:120:9, a direct yield site. */
static void register_record(void)
{
    struct mdb b;
    mdb_init(&b);
    b.major = 1;
    b.minor = 3;
    b.source = "knot.c";
    uint32_t f = mdb_fn(&b, "serve_conn", 96);
    uint32_t c = mdb_named(&b, f, "read");
    struct mdb_yield_site *y = mdb_yield_site(&b, c, CAPRI_MD_YIELD_DIRECT, "read");
    y->line = 120;
    y->column = 9;
    size_t size;
    record = mdb_build(&b, &size);
    mdb_free(&b);
    struct capri_md_module m;
    size_t off = 0;
    char err[128];
    if (capri_md_next(record, size, &off, &m, err, sizeof err) != CAPRI_MD_OK || m.yield_site_count != 1) {
        fprintf(stderr, "test record: %s\n", err);
        exit(1);
    }
    record_site = m.yield_sites;
    __capri_register_module(record);
}

static void *park_at_record_site(void *arg)
{
    (void)arg;
    __capri_yield_site = record_site;
    capri_sem_wait(&sem_x);
    return NULL;
}

static void test_descriptor_sites(void)
{
    capri_sem_init(&sem_x, 0);
    capri_t t = spawn(park_at_record_site, NULL);
    capri_yield();
    char *json = dump_api(CAPRI_GRAPH_JSON);
    char want[256];
    snprintf(want, sizeof want,
             "{\"id\": \"0x%lx\", \"kind\": \"descriptor\", \"file\": \"knot.c\", \"line\": 120, "
             "\"column\": 9, \"function\": \"serve_conn\", \"primitive\": \"read\", \"waiting\": 1,",
             (unsigned long)(uintptr_t)record_site);
    CHECK_CONTAINS(json, want);
    free(json);
    char *dot = dump_api(CAPRI_GRAPH_DOT);
    CHECK_CONTAINS(dot, "[label=\"serve_conn -> read\\nknot.c:120\\nwaiting 1\"]");
    free(dot);
    capri_sem_post(&sem_x);
    join(t);
    /* The module goes away (dlclose): its sites leave the graph. */
    __capri_unregister_module(record);
    char id[64];
    snprintf(id, sizeof id, "\"0x%lx\"", (unsigned long)(uintptr_t)record_site);
    json = dump_api(CAPRI_GRAPH_JSON);
    CHECK(strstr(json, id) == NULL);
    free(json);
    capri_yield();
    t = spawn(parker, NULL); /* a park on this scheduler sweeps its tables */
    capri_sem_init(&sem_x, 0);
    capri_sem_init(&sem_y, 0);
    capri_yield();
    capri_sem_post(&sem_x);
    capri_yield();
    for (int i = 0; i < ROUNDS - 1; i++) {
        capri_sem_post(&sem_y);
        capri_yield();
        capri_sem_post(&sem_x);
        capri_yield();
    }
    capri_sem_post(&sem_y);
    join(t);
    json = dump_api(CAPRI_GRAPH_JSON);
    CHECK(strstr(json, id) == NULL);
    free(json);
}

/* ---- in a child: at exit, on the signal, switched off -------------------- */

static int child(const char *mode, const char *path)
{
    if (strcmp(mode, "off") == 0) {
        int fd = open("/dev/null", O_WRONLY);
        int err = capri_blocking_graph_dump(fd, CAPRI_GRAPH_JSON);
        return err == ENOTSUP ? 0 : 1;
    }
    /* This process's addresses of the two sites, for the parent. */
    char addr_path[96];
    snprintf(addr_path, sizeof addr_path, "%s.addr", path);
    FILE *f = fopen(addr_path, "w");
    if (!f)
        return 2;
    fprintf(f, "%lx %lx\n", (unsigned long)(uintptr_t)site_x, (unsigned long)(uintptr_t)site_y);
    fclose(f);
    capri_t t = park_at_x_rounds();
    if (strcmp(mode, "signal") == 0) {
        kill(getpid(), SIGUSR2);
        /* The monitor writes the dump within its next look. */
        for (int i = 0; i < 300; i++) {
            char *text = slurp(path);
            bool done = text && strstr(text, "]}\n");
            free(text);
            if (done)
                _exit(0); /* no exit handlers: the file is the signal's */
            capri_sleep_ns(10000000);
        }
        _exit(3);
    }
    finish_parker(t);
    return 0; /* the exit handler writes path and path.dot */
}

static int run_child(const char *self, const char *mode, const char *path, const char *env2)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (strcmp(mode, "off") == 0)
            setenv("CAPRI_BLOCKING_GRAPH_RECORD", "0", 1);
        else
            setenv("CAPRI_BLOCKING_GRAPH", path, 1);
        if (env2)
            setenv("CAPRI_BLOCKING_GRAPH_SIGNAL", env2, 1);
        execl(self, self, mode, path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The child's site addresses (it wrote them beside the dump). */
static void child_sites(const char *path, const void **x, const void **y)
{
    char addr_path[96];
    snprintf(addr_path, sizeof addr_path, "%s.addr", path);
    char *text = slurp(addr_path);
    unsigned long a = 0, b = 0;
    CHECK(text && sscanf(text, "%lx %lx", &a, &b) == 2);
    free(text);
    unlink(addr_path);
    *x = (const void *)(uintptr_t)a;
    *y = (const void *)(uintptr_t)b;
}

static void test_at_exit(void)
{
    char path[] = "/tmp/capri-graph-exit-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_EQ(run_child("/proc/self/exe", "exit", path, NULL), 0);
    const void *x, *y;
    child_sites(path, &x, &y);
    char *json = slurp(path);
    CHECK(json != NULL);
    if (json) {
        check_edge_json(json, x, y, ROUNDS);
        check_edge_json(json, y, x, ROUNDS - 1);
        check_waiting_json(json, x, 0);
    }
    char dot_path[64];
    snprintf(dot_path, sizeof dot_path, "%s.dot", path);
    char *dot = slurp(dot_path);
    CHECK(dot && strstr(dot, "digraph blocking_graph {"));
    free(json);
    free(dot);
    unlink(path);
    unlink(dot_path);
}

static void test_signal(void)
{
    char path[] = "/tmp/capri-graph-sig-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    CHECK_EQ(run_child("/proc/self/exe", "signal", path, "SIGUSR2"), 0);
    const void *x, *y;
    child_sites(path, &x, &y);
    char *json = slurp(path);
    CHECK(json != NULL);
    if (json) {
        /* Taken while the parker waited at X. */
        check_edge_json(json, x, y, ROUNDS - 1);
        check_waiting_json(json, x, 1);
    }
    free(json);
    char dot_path[64];
    snprintf(dot_path, sizeof dot_path, "%s.dot", path);
    unlink(path);
    unlink(dot_path);
}

static void test_off(void) { CHECK_EQ(run_child("/proc/self/exe", "off", "", NULL), 0); }

int main(int argc, char **argv)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    if (argc == 3)
        return child(argv[1], argv[2]);
    register_record(); /* as a module's constructor would, before main */
    RUN(test_known_sites);
    RUN(test_address_sites);
    RUN(test_descriptor_sites);
    RUN(test_at_exit);
    RUN(test_signal);
    RUN(test_off);
    return test_summary("graph");
}
