/*
 * spawn_st: st_thread_create + st_thread_join, one State Threads thread at
 * a time (the ST peer of spawn_capri).
 *
 * Joinable threads with 64 KiB stacks (capri's default without the
 * plugin); ST keeps freed stacks on a free list, so WARM untimed pairs
 * first make the timed N reuse one: the counterpart of capri's warm pool.
 *
 * Checks: every join returns arg + 1.
 *
 * Output: "spawn.st <ns per pair>". Usage: spawn_st [N]
 */
#include <st.h>

#include "common.h"

static void *fn(void *arg)
{
    return (char *)arg + 1;
}

static void pairs(long from, long to)
{
    for (long i = from; i < to; i++) {
        void *r = NULL;
        st_thread_t t = st_thread_create(fn, (void *)(intptr_t)i, 1, 65536);
        if (!t)
            bench_fail("st_thread_create");
        if (st_thread_join(t, &r) || r != (void *)(intptr_t)(i + 1))
            bench_fail("st_thread_join result %p for %ld", r, i);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long warm = 10000;
    if (st_init())
        bench_fail("st_init");
    pairs(0, warm);
    uint64_t t0 = bench_now_ns();
    pairs(warm, warm + n);
    uint64_t t1 = bench_now_ns();
    bench_result("spawn.st", (double)(t1 - t0) / (double)n);
    return 0;
}
