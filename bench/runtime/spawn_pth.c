/*
 * spawn_pth: pth_spawn + pth_join, one GNU Pth thread at a time (the Pth
 * peer of spawn_capri).
 *
 * Joinable threads with 64 KiB stacks (capri's default without the plugin),
 * WARM untimed pairs first (Pth keeps no stack cache: every spawn allocates
 * its stack with malloc, whose free lists the warm-up fills), then N timed
 * ones.
 *
 * Checks: every join returns arg + 1.
 *
 * Output: "spawn.pth <ns per pair>". Usage: spawn_pth [N]
 */
#include <pth.h>

#include "common.h"

static void *fn(void *arg)
{
    return (char *)arg + 1;
}

static void pairs(pth_attr_t attr, long from, long to)
{
    for (long i = from; i < to; i++) {
        void *r = NULL;
        pth_t t = pth_spawn(attr, fn, (void *)(intptr_t)i);
        if (!t)
            bench_fail("pth_spawn");
        if (!pth_join(t, &r) || r != (void *)(intptr_t)(i + 1))
            bench_fail("pth_join result %p for %ld", r, i);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    long warm = 1000;
    if (!pth_init())
        bench_fail("pth_init");
    pth_attr_t attr = pth_attr_new();
    pth_attr_set(attr, PTH_ATTR_STACK_SIZE, (unsigned int)65536);
    pairs(attr, 0, warm);
    uint64_t t0 = bench_now_ns();
    pairs(attr, warm, warm + n);
    uint64_t t1 = bench_now_ns();
    bench_result("spawn.pth", (double)(t1 - t0) / (double)n);
    pth_attr_destroy(attr);
    pth_kill();
    return 0;
}
