/*
 * The resource policy against FIFO on a workload built to need it, after
 * Capriccio's producer-consumer memory test. Producers wake every
 * PRODUCE_US, take one unit of a user resource (capri_resource_add) and
 * hand an item on; consumers take items, work on each for WORK_US of CPU
 * and give the unit back. Demand is above what the one scheduler can
 * consume, so under FIFO producers run as often as consumers and the
 * resource climbs to its limit; past the limit every unit costs RECLAIM_US
 * of CPU (what swapping or reclaim costs a real program). Under
 * CAPRI_SCHEDULER=resource, once the resource is past 3/4 of its limit
 * consumers (waiting at a site whose runs release it) run before
 * producers (at a site whose runs take it), so it stays under the limit
 * and the same work finishes sooner.
 *
 * Each policy runs in a child process (the policy is chosen when the
 * runtime starts); the parent compares the two.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_test.h"

#define PRODUCERS 128
#define CONSUMERS 4
#define ITEMS 40       /* per producer */
#define PRODUCE_US 200  /* a producer's wait for its next input */
#define WORK_US 20      /* a consumer's CPU per item */
#define RECLAIM_US 50   /* the CPU a unit past the limit costs */
#define LIMIT 1024

static capri_sem_t items;
static long used, max_used, over_limit;
static int producers_left;

static void spin_us(unsigned us)
{
    uint64_t end = now_ns() + us * 1000ull;
    while (now_ns() < end)
        ;
}

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITEMS; i++) {
        capri_sleep_ns(PRODUCE_US * 1000ull);
        if (used >= LIMIT) {
            over_limit++;
            spin_us(RECLAIM_US);
        }
        used++;
        capri_resource_add(0, 1);
        if (used > max_used)
            max_used = used;
        capri_sem_post(&items);
    }
    if (--producers_left == 0)
        for (int c = 0; c < CONSUMERS; c++)
            capri_sem_post(&items); /* one stop item per consumer */
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        capri_sem_wait(&items);
        if (used == 0 && producers_left == 0)
            return NULL;
        spin_us(WORK_US);
        used--;
        capri_resource_add(0, -1);
        capri_yield();
    }
}

static int child(void)
{
    capri_sem_init(&items, 0);
    CHECK_EQ(capri_resource_limit(0, LIMIT), 0);
    producers_left = PRODUCERS;
    uint64_t t0 = now_ns();
    capri_t t[PRODUCERS + CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        t[i] = spawn(consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        t[CONSUMERS + i] = spawn(producer, NULL);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        join(t[i]);
    uint64_t ms = (now_ns() - t0) / 1000000u;
    printf("%ld %ld %llu %ld\n", max_used, over_limit, (unsigned long long)ms, capri_resource_count(0));
    return test_failures != 0;
}

struct result {
    long max_used, over_limit, count_after;
    unsigned long long ms;
};

static int run(const char *policy, struct result *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        setenv("CAPRI_SCHEDULER", policy, 1);
        setenv("CAPRI_SCHEDULERS", "1", 1);
        execl("/proc/self/exe", "/proc/self/exe", "child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    buf[n] = 0;
    return sscanf(buf, "%ld %ld %llu %ld", &r->max_used, &r->over_limit, &r->ms, &r->count_after) == 4 ? 0 : -1;
}

static void test_resource_beats_fifo(void)
{
    struct result fifo, res;
    CHECK_EQ(run("fifo", &fifo), 0);
    CHECK_EQ(run("resource", &res), 0);
    fprintf(stderr, "fifo:     max %ld of %d, %ld units past the limit, %llu ms\n", fifo.max_used, LIMIT,
            fifo.over_limit, fifo.ms);
    fprintf(stderr, "resource: max %ld of %d, %ld units past the limit, %llu ms\n", res.max_used, LIMIT,
            res.over_limit, res.ms);
    CHECK_EQ(fifo.count_after, 0);
    CHECK_EQ(res.count_after, 0);
    CHECK(fifo.max_used >= LIMIT);     /* FIFO lets it run out */
    CHECK(res.max_used < LIMIT);       /* the policy keeps it under */
    CHECK_EQ(res.over_limit, 0);
    /* That the work also ends sooner is a measurement (printed above; a
     * loaded machine makes the two times equal), not a check. */
}

static void test_api(void)
{
    CHECK_EQ(capri_resource_add(4, 1), EINVAL);
    CHECK_EQ(capri_resource_add(-1, 1), EINVAL);
    CHECK_EQ(capri_resource_limit(0, -1), EINVAL);
    long before = capri_resource_count(3);
    CHECK_EQ(capri_resource_add(3, 5), 0);
    CHECK_EQ(capri_resource_count(3), before + 5);
    CHECK_EQ(capri_resource_add(3, -5), 0);
    /* Descriptors libcapri makes are counted (id 4). */
    long fds = capri_resource_count(4);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(capri_resource_count(4), fds + 2);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(capri_resource_count(4), fds);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    RUN(test_api);
    RUN(test_resource_beats_fifo);
    return test_summary("policy");
}
