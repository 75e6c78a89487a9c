/*
 * mutex: uncontended lock + unlock, capri_mutex against pthread_mutex
 * (default attributes) in the same run, on the same capri thread.
 *
 * One scheduler; a spawned capri thread runs blocks of N lock/counter++/
 * unlock pairs, alternating capri, pthread, capri, pthread, ... (ROUNDS
 * blocks each), and prints the median block of each in ns per pair.
 *
 * Checks: every call returns 0 and the counter each lock protects ends at
 * ROUNDS * N.
 *
 * Output: "mutex.capri <ns>", "mutex.pthread <ns>". Usage: mutex [N]
 */
#include <pthread.h>

#include "capri.h"
#include "common.h"

enum { ROUNDS = 3 };

static long n;
static capri_mutex_t cm; /* zero-initialised: ready */
static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ccount, pcount;

static double capri_block(void)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        if (capri_mutex_lock(&cm))
            bench_fail("capri_mutex_lock");
        ccount++;
        if (capri_mutex_unlock(&cm))
            bench_fail("capri_mutex_unlock");
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double pthread_block(void)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        if (pthread_mutex_lock(&pm))
            bench_fail("pthread_mutex_lock");
        pcount++;
        if (pthread_mutex_unlock(&pm))
            bench_fail("pthread_mutex_unlock");
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double median3(double *v)
{
    double a = v[0], b = v[1], c = v[2];
    if (a > b) { double x = a; a = b; b = x; }
    if (b > c) { double x = b; b = c; c = x; }
    if (a > b) { double x = a; a = b; b = x; }
    return b;
}

static double cres[ROUNDS], pres[ROUNDS];

static void *bench(void *arg)
{
    (void)arg;
    capri_block(); /* warm-up */
    pthread_block();
    ccount = pcount = 0;
    for (int r = 0; r < ROUNDS; r++) {
        cres[r] = capri_block();
        pres[r] = pthread_block();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atol(argv[1]) : 5000000;
    int rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    if (rc)
        bench_fail("capri_config = %d", rc);
    capri_t t;
    if ((rc = capri_spawn(&t, bench, NULL, NULL)) || (rc = capri_join(t, NULL)))
        bench_fail("spawn/join = %d", rc);
    if (ccount != (uint64_t)ROUNDS * (uint64_t)n || pcount != (uint64_t)ROUNDS * (uint64_t)n)
        bench_fail("counters %llu %llu, expected %llu", (unsigned long long)ccount,
                   (unsigned long long)pcount, (unsigned long long)ROUNDS * n);
    bench_result("mutex.capri", median3(cres));
    bench_result("mutex.pthread", median3(pres));
    return 0;
}
