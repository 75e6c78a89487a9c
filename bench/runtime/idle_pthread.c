/*
 * idle_pthread: resident memory per idle pthread (the peer of idle_capri).
 *
 * N pthreads (default 10,000) with STACK-byte stacks (default 16 KiB, the
 * x86-64 minimum), each blocked at the same depth as in idle_capri (level3
 * writes a volatile 1 KiB array in its frame and blocks in sem_wait on a
 * shared POSIX semaphore). VmRSS and VmPTE of the process before and after
 * over N are the user-space cost; the kernel's share is also estimated from
 * /proc/meminfo (KernelStack and SUnreclaim, system-wide, so only
 * indicative).
 *
 * Checks: N threads blocked before the sample; after N posts each finds
 * its 1 KiB intact and is joined.
 *
 * Output (bytes per thread): "idle.pthread_rss", "idle.pthread_pte",
 * "idle.pthread_total", "idle.pthread_rollup", "idle.pthread_kstack",
 * "idle.pthread_slab". Usage: idle_pthread [N] [STACK]
 */
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include "common.h"

static sem_t sem;

/* sem_wait, again after a signal (EINTR). */
static int wait_on_sem(void)
{
    while (sem_wait(&sem) != 0)
        ;
    return 0;
}

/* Threads on many kernel threads: the count is atomic. */
#define BENCH_COUNT_BLOCKED() __atomic_add_fetch(&blocked, 1, __ATOMIC_RELEASE)
#define BENCH_BLOCK() wait_on_sem()
#include "blocked_chain.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long stack = argc > 2 ? atol(argv[2]) : 16384;
    sem_init(&sem, 0, 0);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_fail("calloc");
    memset(t, 0, (size_t)n * sizeof *t);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, (size_t)stack))
        bench_fail("pthread_attr_setstacksize(%ld)", stack);
    /* Warm-up: one thread of the same size, created and joined. */
    pthread_t w;
    void *ok = NULL;
    if (pthread_create(&w, &attr, entry_blocked, (void *)1))
        bench_fail("pthread_create");
    while (__atomic_load_n(&blocked, __ATOMIC_ACQUIRE) < 1)
        usleep(1000);
    sem_post(&sem);
    pthread_join(w, &ok);
    if (ok != (void *)1)
        bench_fail("warm-up thread");
    blocked = 0;
    usleep(100000); /* let the warm-up thread's stack settle in the cache */

    struct bench_mem before = bench_mem_sample();
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], &attr, entry_blocked, (void *)(intptr_t)i))
            bench_fail("pthread_create #%ld", i);
    while (__atomic_load_n(&blocked, __ATOMIC_ACQUIRE) < n)
        usleep(1000);
    usleep(10000); /* the last ones reach sem_wait */
    struct bench_mem after = bench_mem_sample();
    for (long i = 0; i < n; i++)
        sem_post(&sem);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if (pthread_join(t[i], &ok) || ok != (void *)1)
            bench_fail("thread %ld: stack data intact = %p", i, ok);
    }
    double rss = (double)(after.rss - before.rss) / (double)n;
    double pte = (double)(after.pte - before.pte) / (double)n;
    bench_result("idle.pthread_rss", rss);
    bench_result("idle.pthread_pte", pte);
    bench_result("idle.pthread_total", rss + pte);
    bench_result("idle.pthread_rollup", (double)(after.rollup_rss - before.rollup_rss) / (double)n);
    bench_result("idle.pthread_kstack", (double)(after.kstack - before.kstack) / (double)n);
    bench_result("idle.pthread_slab", (double)(after.sunreclaim - before.sunreclaim) / (double)n);
    return 0;
}
