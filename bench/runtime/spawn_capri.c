/*
 * spawn_capri: capri_spawn + capri_join, one thread at a time, warm pool.
 *
 * main (a capri thread once it spawns) spawns a thread running a trivial
 * function and joins it at once, N times, after WARM untimed pairs that
 * fill the chunk cache (the warm-pool condition). Default attributes: the
 * configured default stack (64 KiB without the plugin), joinable.
 * SCHEDULERS = 1 sets CAPRI_CONFIG_SCHEDULERS to 1; 0 leaves the default
 * (one scheduler per allowed CPU), where another scheduler may steal the
 * new thread before the join runs it inline.
 *
 * Checks: every join returns arg + 1, and the threads' run counter equals
 * the number of spawns. Each thread notes whether it ran on main's kernel
 * thread (the address of a __thread variable): with one scheduler all must;
 * with the default the share run elsewhere (stolen) is printed as
 * "spawn.capri_default_stolen_pct".
 *
 * Output: "spawn.capri_1sched <ns per pair>" or "spawn.capri_default ...".
 * Usage: spawn_capri SCHEDULERS [N]
 */
#include "capri.h"
#include "common.h"

static uint64_t runs, elsewhere;
static __thread char marker; /* one per kernel thread */
static char *main_marker;

static void *fn(void *arg)
{
    __atomic_add_fetch(&runs, 1, __ATOMIC_RELAXED);
    if (&marker != main_marker) /* ran on another scheduler's kernel thread */
        __atomic_add_fetch(&elsewhere, 1, __ATOMIC_RELAXED);
    return (char *)arg + 1;
}

static void pairs(long from, long to)
{
    for (long i = from; i < to; i++) {
        capri_t t;
        void *r = NULL;
        int rc = capri_spawn(&t, fn, (void *)(intptr_t)i, NULL);
        if (rc)
            bench_fail("capri_spawn = %d", rc);
        rc = capri_join(t, &r);
        if (rc || r != (void *)(intptr_t)(i + 1))
            bench_fail("capri_join = %d, result %p for %ld", rc, r, i);
    }
}

int main(int argc, char **argv)
{
    long scheds = argc > 1 ? atol(argv[1]) : 1;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    long warm = 10000;
    if (scheds > 0) {
        int rc = capri_config(CAPRI_CONFIG_SCHEDULERS, scheds);
        if (rc)
            bench_fail("capri_config(SCHEDULERS, %ld) = %d", scheds, rc);
    }
    main_marker = &marker;
    pairs(0, warm);
    __atomic_store_n(&elsewhere, 0, __ATOMIC_RELAXED);
    uint64_t t0 = bench_now_ns();
    pairs(warm, warm + n);
    uint64_t t1 = bench_now_ns();
    if (__atomic_load_n(&runs, __ATOMIC_RELAXED) != (uint64_t)(warm + n))
        bench_fail("%llu runs, expected %ld", (unsigned long long)runs, warm + n);
    if (scheds == 1 && elsewhere)
        bench_fail("%llu threads ran on another kernel thread with one scheduler",
                   (unsigned long long)elsewhere);
    bench_result(scheds == 1 ? "spawn.capri_1sched" : "spawn.capri_default",
                 (double)(t1 - t0) / (double)n);
    if (scheds != 1)
        bench_result("spawn.capri_default_stolen_pct", 100.0 * (double)elsewhere / (double)n);
    return 0;
}
