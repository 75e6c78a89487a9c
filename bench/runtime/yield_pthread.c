/*
 * yield_pthread: sched_yield among 100 pthreads pinned to one CPU (the
 * kernel-thread peer of yield_capri; slow, reported for scale).
 *
 * The process pins itself to its first allowed CPU before creating the
 * threads (they inherit it); the 100 threads meet at a barrier with main,
 * then each calls sched_yield ITERS times, bumping a shared counter. The
 * figure is elapsed / (100 * ITERS): ns per sched_yield call. The kernel
 * does not always switch on sched_yield; the share of calls after which
 * another thread had run is printed too (yield.pthread_switched_pct).
 *
 * Checks: the counter ends at 100 * ITERS.
 *
 * Output: "yield.pthread <ns per call>", "yield.pthread_switched_pct <%>".
 * Usage: yield_pthread [ITERS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "common.h"

enum { NTHREADS = 100 };

static long iters;
static pthread_barrier_t start;
static uint64_t progress, switched;

static void *worker(void *arg)
{
    (void)arg;
    uint64_t sw = 0;
    pthread_barrier_wait(&start);
    for (long i = 0; i < iters; i++) {
        uint64_t before = __atomic_add_fetch(&progress, 1, __ATOMIC_RELAXED);
        sched_yield();
        sw += __atomic_load_n(&progress, __ATOMIC_RELAXED) != before;
    }
    __atomic_add_fetch(&switched, sw, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atol(argv[1]) : 2000;
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed))
        bench_fail("sched_getaffinity");
    int cpu = 0;
    while (!CPU_ISSET(cpu, &allowed))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one))
        bench_fail("sched_setaffinity");
    pthread_barrier_init(&start, NULL, NTHREADS + 1);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL))
            bench_fail("pthread_create");
    pthread_barrier_wait(&start);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t t1 = bench_now_ns();
    uint64_t calls = (uint64_t)NTHREADS * (uint64_t)iters;
    if (progress != calls)
        bench_fail("counter %llu, expected %llu", (unsigned long long)progress,
                   (unsigned long long)calls);
    bench_result("yield.pthread", (double)(t1 - t0) / (double)calls);
    bench_result("yield.pthread_switched_pct", 100.0 * (double)switched / (double)calls);
    return 0;
}
