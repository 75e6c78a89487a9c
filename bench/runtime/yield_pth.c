/*
 * yield_pth: pth_yield among 100 GNU Pth threads (the Pth peer of
 * yield_capri).
 *
 * 100 threads, each calling pth_yield(NULL) ITERS times and bumping a
 * shared counter; main spawns them all, then joins them. Pth is
 * non-preemptive on one kernel thread: a yield goes through Pth's scheduler
 * (its own context) and its event check before the next thread runs. The
 * figure is elapsed / (100 * ITERS): ns per pth_yield. Like yield_pthread,
 * it also prints the share of yields after which another thread had run.
 *
 * Checks: the counter ends at 100 * ITERS; every join returns the thread's
 * argument.
 *
 * Output: "yield.pth <ns per yield>", "yield.pth_switched_pct <%>".
 * Usage: yield_pth [ITERS]
 */
#include <pth.h>

#include "common.h"

enum { NTHREADS = 100 };

static long iters;
static uint64_t progress, switched;

static void *worker(void *arg)
{
    uint64_t sw = 0;
    for (long i = 0; i < iters; i++) {
        uint64_t before = ++progress;
        pth_yield(NULL);
        sw += progress != before;
    }
    switched += sw;
    return arg;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atol(argv[1]) : 20000;
    if (!pth_init())
        bench_fail("pth_init");
    pth_attr_t attr = pth_attr_new();
    pth_attr_set(attr, PTH_ATTR_STACK_SIZE, (unsigned int)65536);
    pth_t t[NTHREADS];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < NTHREADS; i++)
        if (!(t[i] = pth_spawn(attr, worker, (void *)(intptr_t)(i + 1))))
            bench_fail("pth_spawn");
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        if (!pth_join(t[i], &r) || r != (void *)(intptr_t)(i + 1))
            bench_fail("pth_join %d", i);
    }
    uint64_t t1 = bench_now_ns();
    uint64_t calls = (uint64_t)NTHREADS * (uint64_t)iters;
    if (progress != calls)
        bench_fail("counter %llu, expected %llu", (unsigned long long)progress, (unsigned long long)calls);
    bench_result("yield.pth", (double)(t1 - t0) / (double)calls);
    bench_result("yield.pth_switched_pct", 100.0 * (double)switched / (double)calls);
    pth_attr_destroy(attr);
    pth_kill();
    return 0;
}
