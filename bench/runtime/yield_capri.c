/*
 * yield_capri: capri_yield among 100 runnable threads on one scheduler.
 *
 * CAPRI_CONFIG_SCHEDULERS = 1 (capri_config before the first call). main
 * spawns 100 threads and joins them; each thread runs ITERS iterations of
 * "bump a shared counter, capri_yield". Every yield switches straight to the
 * next ready thread (FIFO), so the figure is ns per switch through the run
 * queue: elapsed / (100 * ITERS), the 100 spawns and joins included (they
 * are under 0.01% of it).
 *
 * Checks: the shared counter ends at 100 * ITERS (all on one kernel thread,
 * plain increments: a second scheduler racing would lose some), and after a
 * yield the counter has moved by exactly 99 (the other 99 threads each ran
 * once: FIFO round robin); rounds where it did not are counted and may only
 * happen while threads start and finish.
 *
 * Output: "yield.capri <ns per switch>". Usage: yield_capri [ITERS] [NTHREADS]
 * (NTHREADS, default 100, is there for diagnosis; run.sh uses 100.)
 */
#include "capri.h"
#include "common.h"

enum { MAX_THREADS = 10000 };

static int nthreads = 100;
static long iters;
static uint64_t progress;   /* one scheduler: touched by one kernel thread */
static uint64_t anomalies;  /* yields after which not exactly 99 others ran */

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        uint64_t before = ++progress;
        capri_yield();
        if (progress - before != (uint64_t)nthreads - 1)
            anomalies++;
    }
    return (void *)(intptr_t)1;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atol(argv[1]) : 100000;
    nthreads = argc > 2 ? atoi(argv[2]) : 100;
    if (nthreads < 2 || nthreads > MAX_THREADS)
        bench_fail("NTHREADS must be 2..%d", MAX_THREADS);
    int rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    if (rc)
        bench_fail("capri_config(SCHEDULERS, 1) = %d", rc);
    static capri_t t[MAX_THREADS];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < nthreads; i++)
        if ((rc = capri_spawn(&t[i], worker, NULL, NULL)))
            bench_fail("capri_spawn = %d", rc);
    for (int i = 0; i < nthreads; i++) {
        void *r = NULL;
        if ((rc = capri_join(t[i], &r)) || r != (void *)(intptr_t)1)
            bench_fail("capri_join = %d, result %p", rc, r);
    }
    uint64_t t1 = bench_now_ns();
    uint64_t switches = (uint64_t)nthreads * (uint64_t)iters;
    if (progress != switches)
        bench_fail("counter %llu, expected %llu", (unsigned long long)progress,
                   (unsigned long long)switches);
    if (anomalies > 4 * (uint64_t)nthreads)
        bench_fail("%llu yields were not followed by a full round of the other %d threads",
                   (unsigned long long)anomalies, nthreads - 1);
    bench_result("yield.capri", (double)(t1 - t0) / (double)switches);
    return 0;
}
