/*
 * idle_pth: resident memory per idle GNU Pth thread (the Pth peer of
 * idle_capri and idle_pthread).
 *
 * N Pth threads (default 10,000) with STACK-byte stacks (default 16 KiB,
 * as idle_pthread's), each blocked at the same depth as idle_pthread's
 * (pth_st_common.h: level3 writes a volatile 1 KiB array in its frame) in
 * a counting semaphore made of a pth_mutex, a pth_cond and a count. VmRSS,
 * VmPTE and smaps_rollup Rss of the process before and after, over N, are
 * one thread's cost (its stack pages, its thread control block). A warm-up
 * thread of the same kind is spawned, blocked, woken and joined first.
 *
 * Checks: N threads blocked before the sample; after N posts each finds
 * its 1 KiB intact and is joined.
 *
 * Output (bytes per thread): "idle.pth_rss", "idle.pth_pte",
 * "idle.pth_total", "idle.pth_rollup", and "idle.pth_spawn_ns".
 * Usage: idle_pth [N] [STACK]
 */
#include <pth.h>

static pth_mutex_t sem_lock = PTH_MUTEX_INIT;
static pth_cond_t sem_nonzero = PTH_COND_INIT;
static long sem_count;

static int sem_wait_pth(void)
{
    if (!pth_mutex_acquire(&sem_lock, 0, NULL))
        return -1;
    while (sem_count == 0)
        if (!pth_cond_await(&sem_nonzero, &sem_lock, NULL))
            return -1;
    sem_count--;
    return pth_mutex_release(&sem_lock) ? 0 : -1;
}

static void sem_post_all(long n)
{
    pth_mutex_acquire(&sem_lock, 0, NULL);
    sem_count += n;
    pth_cond_notify(&sem_nonzero, 1);
    pth_mutex_release(&sem_lock);
}

#define BENCH_BLOCK() sem_wait_pth()
#include "pth_st_common.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long stack = argc > 2 ? atol(argv[2]) : 16384;
    if (!pth_init())
        bench_fail("pth_init");
    pth_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_fail("calloc");
    memset(t, 0, (size_t)n * sizeof *t);
    pth_attr_t attr = pth_attr_new();
    if (!pth_attr_set(attr, PTH_ATTR_STACK_SIZE, (unsigned int)stack))
        bench_fail("pth_attr_set(STACK_SIZE, %ld)", stack);
    void *ok = NULL;
    pth_t w = pth_spawn(attr, entry_blocked, (void *)1);
    if (!w)
        bench_fail("pth_spawn");
    while (blocked < 1)
        pth_yield(NULL);
    sem_post_all(1);
    if (!pth_join(w, &ok) || ok != (void *)1)
        bench_fail("warm-up thread");
    blocked = 0;

    struct bench_mem before = bench_mem_sample();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (!(t[i] = pth_spawn(attr, entry_blocked, (void *)(intptr_t)i)))
            bench_fail("pth_spawn #%ld", i);
    while (blocked < n)
        pth_yield(NULL);
    uint64_t t1 = bench_now_ns();
    struct bench_mem after = bench_mem_sample();
    sem_post_all(n);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if (!pth_join(t[i], &ok) || ok != (void *)1)
            bench_fail("thread %ld: stack data intact = %p", i, ok);
    }
    bench_idle_report("pth", n, before, after, t1 - t0);
    pth_attr_destroy(attr);
    pth_kill();
    return 0;
}
