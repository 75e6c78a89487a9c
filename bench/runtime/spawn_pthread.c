/*
 * spawn_pthread: pthread_create + pthread_join, one thread at a time.
 *
 * Default attributes (8 MiB stacks from glibc's stack cache, which keeps
 * the last stacks warm: the counterpart of capri's warm pool), WARM untimed
 * pairs first, then N timed ones.
 *
 * Checks: every join returns arg + 1.
 *
 * Output: "spawn.pthread <ns per pair>". Usage: spawn_pthread [N]
 */
#include <pthread.h>

#include "common.h"

static void *fn(void *arg)
{
    return (char *)arg + 1;
}

static void pairs(long from, long to)
{
    for (long i = from; i < to; i++) {
        pthread_t t;
        void *r = NULL;
        if (pthread_create(&t, NULL, fn, (void *)(intptr_t)i))
            bench_fail("pthread_create");
        if (pthread_join(t, &r) || r != (void *)(intptr_t)(i + 1))
            bench_fail("pthread_join result %p for %ld", r, i);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    long warm = 1000;
    pairs(0, warm);
    uint64_t t0 = bench_now_ns();
    pairs(warm, warm + n);
    uint64_t t1 = bench_now_ns();
    bench_result("spawn.pthread", (double)(t1 - t0) / (double)n);
    return 0;
}
