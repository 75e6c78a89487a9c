/*
 * idle_st: resident memory per idle State Threads thread (the ST peer of
 * idle_capri and idle_pthread).
 *
 * N ST threads (default 10,000) with STACK-byte stacks (default 16 KiB, as
 * idle_pthread's), each blocked at the same depth as idle_pthread's
 * (pth_st_common.h: level3 writes a volatile 1 KiB array in its frame) in
 * a counting semaphore made of an st_cond and a count (ST threads are
 * never preempted: no lock). VmRSS, VmPTE and smaps_rollup Rss of the
 * process before and after, over N, are one thread's cost (its stack
 * pages, its thread control block, which ST keeps at the top of the stack
 * mapping). A warm-up thread of the same kind is spawned, blocked, woken
 * and joined first.
 *
 * ST maps every stack separately, so N is bounded by the kernel's
 * vm.max_map_count (65,530 by default): run.sh stays below it.
 *
 * Checks: N threads blocked before the sample; after N posts each finds
 * its 1 KiB intact and is joined.
 *
 * Output (bytes per thread): "idle.st_rss", "idle.st_pte",
 * "idle.st_total", "idle.st_rollup", and "idle.st_spawn_ns".
 * Usage: idle_st [N] [STACK]
 */
#include <st.h>

static st_cond_t sem_nonzero;
static long sem_count;

static int sem_wait_st(void)
{
    while (sem_count == 0)
        if (st_cond_wait(sem_nonzero))
            return -1;
    sem_count--;
    return 0;
}

static void sem_post_all(long n)
{
    sem_count += n;
    st_cond_broadcast(sem_nonzero);
}

#define BENCH_BLOCK() sem_wait_st()
#include "pth_st_common.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long stack = argc > 2 ? atol(argv[2]) : 16384;
    if (st_init())
        bench_fail("st_init");
    if (!(sem_nonzero = st_cond_new()))
        bench_fail("st_cond_new");
    st_thread_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_fail("calloc");
    memset(t, 0, (size_t)n * sizeof *t);
    void *ok = NULL;
    st_thread_t w = st_thread_create(entry_blocked, (void *)1, 1, (int)stack);
    if (!w)
        bench_fail("st_thread_create");
    while (blocked < 1)
        st_usleep(0);
    sem_post_all(1);
    if (st_thread_join(w, &ok) || ok != (void *)1)
        bench_fail("warm-up thread");
    blocked = 0;

    struct bench_mem before = bench_mem_sample();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (!(t[i] = st_thread_create(entry_blocked, (void *)(intptr_t)i, 1, (int)stack)))
            bench_fail("st_thread_create #%ld", i);
    while (blocked < n)
        st_usleep(0);
    uint64_t t1 = bench_now_ns();
    struct bench_mem after = bench_mem_sample();
    sem_post_all(n);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if (st_thread_join(t[i], &ok) || ok != (void *)1)
            bench_fail("thread %ld: stack data intact = %p", i, ok);
    }
    bench_idle_report("st", n, before, after, t1 - t0);
    return 0;
}
