/*
 * memory_capri: resident memory per blocked capri thread, built with
 * capri-cc (the plugin's checkpoints are in, and capri_spawn sizes each
 * first chunk from the entry function's region unless STACK is given).
 *
 * N threads on one scheduler, each blocked at a known call depth (entry ->
 * level1 -> level2 -> level3 -> capri_sem_wait on a shared semaphore)
 * after touching 1 KiB of its stack. SHAPE says where the 1 KiB is:
 *   live:    level3 writes a volatile 1 KiB array in its own frame and
 *            blocks with it (checked after waking): bench-runtime's idle
 *            threads, built with the plugin;
 *   touched: level3 first calls touch(), which writes a 1 KiB array and
 *            returns its checksum, then blocks: the memory was touched
 *            and stays resident, the frame is gone (a handler that parsed
 *            a request in a buffer, then waits).
 * The plugin places a checkpoint at the live shape's capri_sem_wait call
 * (level3's path exceeds MaxPath with the call's 1024-byte mark), and none
 * in the touched shape. main samples /proc/self/status (VmRSS, VmPTE)
 * and /proc/self/smaps_rollup (Rss) once the runtime is up (a warm-up
 * thread of the same kind spawned and joined, the handle array touched)
 * and again once all N are blocked: the difference over N is what one
 * blocked thread costs (its chunk's resident memory, its slot-table entry,
 * its share of the page tables). Page tables are reported beside the
 * resident figure, since VmRSS does not count them.
 *
 * MODE: "guard" (the default runtime: a guard page under every chunk) or
 * "dense" (CAPRI_CONFIG_DENSE: sub-page first chunks with no guard, a canary
 * at each one's bottom checked on every switch).
 *
 * Checks: N threads reached the blocking call before the sample; the pool
 * statistics show no chunk beyond the first in use per thread (a thread
 * that grew onto a second chunk to block would cost that chunk too); after
 * N posts every thread wakes, finds its 1 KiB intact and is joined.
 *
 * Output lines "metric value" (bytes per thread unless named otherwise),
 * TAG = MODE_SHAPE_STACK_N (STACK "auto" when capri_spawn sized it): memory.TAG_rss, _pte, _total (rss + pte), _rollup
 * (smaps_rollup Rss), _spawn_ns (spawn and run to the block, per thread),
 * _chunk (usable bytes of the first chunks' class), _grown (threads that
 * hold a chunk beyond their first while blocked), _mapped_gib, and last
 * _checked (1: every thread woke with its data intact and was joined).
 * Usage: memory_capri N MODE SHAPE [STACK] (STACK: attr.stack_size; 0 or
 * none: capri_spawn sizes the first chunk from the entry's region).
 */
#include <errno.h>

#include "capri.h"
#include "../runtime/common.h"

/* live: the 1 KiB array is in the blocked frame (entry_live). */
#include "../runtime/blocked_live.h"

/* touched: the array is written one call deeper, and gone when the thread
 * blocks. */
__attribute__((noinline)) static long touch(long seed)
{
    volatile unsigned char buf[1024];
    long sum = 0;
    for (int i = 0; i < 1024; i++)
        buf[i] = (unsigned char)(seed + i);
    for (int i = 0; i < 1024; i++)
        sum += buf[i];
    return sum;
}

__attribute__((noinline)) static long touched3(long seed)
{
    long sum = touch(seed), want = 0;
    for (int i = 0; i < 1024; i++)
        want += (unsigned char)(seed + i);
    blocked++;
    return (capri_sem_wait(&sem) != 0) + (sum != want);
}

__attribute__((noinline)) static long touched2(long seed)
{
    long r = touched3(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static long touched1(long seed)
{
    long r = touched2(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

static void *entry_touched(void *arg)
{
    return (void *)(intptr_t)(touched1((long)(intptr_t)arg) == 0);
}

/* Chunks in use, page and dense classes together. */
static uint64_t in_use_total(const struct capri_pool_stats *ps, const struct capri_pool_dense_stats *ds)
{
    uint64_t n = 0;
    for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++)
        n += ps->chunks_in_use[c];
    for (int c = 0; c < CAPRI_DENSE_CLASSES; c++)
        n += ds->in_use[c];
    return n;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: memory_capri N guard|dense live|touched [STACK]";
    if (argc < 4)
        bench_fail("%s", usage);
    long n = atol(argv[1]);
    const char *mode = argv[2], *shape = argv[3];
    long stack = argc > 4 ? atol(argv[4]) : 0;
    int dense = strcmp(mode, "dense") == 0;
    int touched = strcmp(shape, "touched") == 0;
    void *(*entry)(void *) = touched ? entry_touched : entry_live;
    if (n < 1 || (!dense && strcmp(mode, "guard") != 0) || (!touched && strcmp(shape, "live") != 0))
        bench_fail("%s", usage);
    int rc;
    if ((rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1)))
        bench_fail("capri_config(SCHEDULERS) = %d", rc);
    if ((rc = capri_config(CAPRI_CONFIG_MAX_THREADS, n + 1024)))
        bench_fail("capri_config(MAX_THREADS, %ld) = %d", n + 1024, rc);
    if (dense && (rc = capri_config(CAPRI_CONFIG_DENSE, 1)))
        bench_fail("capri_config(DENSE, 1) = %d", rc);
    capri_t *t = malloc((size_t)n * sizeof *t);
    if (!t)
        bench_fail("malloc");
    memset(t, 0, (size_t)n * sizeof *t);
    capri_attr_t attr = {0};
    attr.stack_size = (size_t)stack;

    /* Warm-up: the runtime, the scheduler, the first slab of the class. */
    capri_t w;
    void *ok = NULL;
    if ((rc = capri_spawn(&w, entry, (void *)1, &attr)))
        bench_fail("warm-up spawn = %d", rc);
    while (blocked < 1)
        capri_yield();
    capri_sem_post(&sem);
    if ((rc = capri_join(w, &ok)) || ok != (void *)1)
        bench_fail("warm-up join = %d", rc);
    blocked = 0;
    /* What stays in use without the threads: main's struct chunk, the
     * scheduler's signal reserve once anything grew. */
    struct capri_pool_stats ps0, ps;
    struct capri_pool_dense_stats ds0, ds;
    if ((rc = capri_pool_stats(&ps0)) || (rc = capri_pool_dense_stats(&ds0)))
        bench_fail("capri_pool_stats = %d", rc);
    uint64_t base_in_use = in_use_total(&ps0, &ds0);

    struct bench_mem before = bench_mem_sample();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if ((rc = capri_spawn(&t[i], entry, (void *)(intptr_t)i, &attr)))
            bench_fail("capri_spawn #%ld = %d", i, rc);
    while (blocked < n)
        capri_yield();
    uint64_t t1 = bench_now_ns();
    struct bench_mem after = bench_mem_sample();
    if (blocked != n)
        bench_fail("%ld threads blocked, expected %ld", blocked, n);
    if ((rc = capri_pool_stats(&ps)) || (rc = capri_pool_dense_stats(&ds)))
        bench_fail("capri_pool_stats = %d", rc);
    size_t chunk = 0;
    uint64_t most = 0;
    for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++)
        if (ps.chunks_in_use[c] > most) {
            most = ps.chunks_in_use[c];
            chunk = (size_t)4096 << c;
        }
    /* Dense first chunks, if any, are the first chunks (grown chunks are
     * in page classes). */
    uint64_t most_dense = 0;
    for (int c = 0; c < CAPRI_DENSE_CLASSES; c++)
        if (ds.in_use[c] > most_dense) {
            most_dense = ds.in_use[c];
            chunk = CAPRI_DENSE_CLASS_SIZE(c);
        }
    if (most_dense)
        most = most_dense;
    uint64_t held = in_use_total(&ps, &ds) - base_in_use;
    if (most < (uint64_t)n)
        bench_fail("pool statistics: %llu chunks of the commonest class in use for %ld threads",
                   (unsigned long long)most, n);

    char name[128], stack_tag[24];
    if (stack)
        snprintf(stack_tag, sizeof stack_tag, "%ld", stack);
    else
        snprintf(stack_tag, sizeof stack_tag, "auto");
    double rss = (double)(after.rss - before.rss) / (double)n;
    double pte = (double)(after.pte - before.pte) / (double)n;
#define OUT(suffix, v)                                                                   \
    do {                                                                                 \
        snprintf(name, sizeof name, "memory.%s_%s_%s_%ld_%s", mode, shape, stack_tag, n, suffix); \
        bench_result(name, v);                                                           \
    } while (0)
    OUT("rss", rss);
    OUT("pte", pte);
    OUT("total", rss + pte);
    OUT("rollup", (double)(after.rollup_rss - before.rollup_rss) / (double)n);
    OUT("spawn_ns", (double)(t1 - t0) / (double)n);
    OUT("chunk", (double)chunk);
    OUT("grown", (double)(held > (uint64_t)n ? held - (uint64_t)n : 0));
    OUT("mapped_gib", (double)ps.bytes_mapped / (double)(1u << 30));
    OUT("guard_mode", ps.guard_mode);
    /* Printed before the threads wake, so that a run stopped later (the
     * OOM killer, at the largest counts) still shows what it measured; a
     * check that fails now ends the program with status 1. */
    for (long i = 0; i < n; i++)
        if ((rc = capri_sem_post(&sem)))
            bench_fail("capri_sem_post = %d", rc);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if ((rc = capri_join(t[i], &ok)) || ok != (void *)1)
            bench_fail("thread %ld: join = %d, stack data intact = %p", i, rc, ok);
    }

    printf("memory.%s_%s_%s_%ld_checked 1\n", mode, shape, stack_tag, n);
    return 0;
}
