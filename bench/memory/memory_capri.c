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
 * WAIT: the call the threads block in: "sem" (the default, as above),
 * "chan" (capri_chan_recv on a shared channel that nobody sends on until
 * the sample is taken) or "timedwait" (capri_cond_timedwait with a deadline
 * an hour away, on a shared condition variable). Each has its own copy of
 * the call chain, so the default's entry regions do not change. A call
 * without a measured stack mark would be charged the plugin's external
 * reserve: the thread would block on a second chunk ("grown" below).
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
 * TAG = MODE_SHAPE_STACK_N (STACK "auto" when capri_spawn sized it; SHAPE
 * "live-chan", "touched-timedwait", ... for another WAIT than sem): memory.TAG_rss, _pte, _total (rss + pte), _rollup
 * (smaps_rollup Rss), _spawn_ns (spawn and run to the block, per thread),
 * _chunk (usable bytes of the first chunks' class), _grown (threads that
 * hold a chunk beyond their first while blocked), _mapped_gib, and last
 * _checked (1: every thread woke with its data intact and was joined).
 * Usage: memory_capri N MODE SHAPE [STACK [WAIT]] (STACK: attr.stack_size;
 * 0 or none: capri_spawn sizes the first chunk from the entry's region).
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

/* The other waits: the shared objects, and what releases them. */
static capri_chan_t chan;
static capri_mutex_t mu;
static capri_cond_t cv;
static int released;
static struct timespec far; /* CLOCK_REALTIME, an hour from the start */

static inline __attribute__((always_inline)) long chan_block(void)
{
    long v = 0;
    return capri_chan_recv(chan, &v) != 0 || v != 1;
}

static inline __attribute__((always_inline)) long timed_block(void)
{
    int rc = capri_mutex_lock(&mu);
    while (rc == 0 && !released)
        rc = capri_cond_timedwait(&cv, &mu, &far);
    return (capri_mutex_unlock(&mu) != 0) + (rc != 0);
}

/* The live and touched chains again, blocking in BLOCK(). */
#define WAIT_CHAINS(W, BLOCK)                                                            \
    __attribute__((noinline)) static long live3_##W(long seed)                          \
    {                                                                                    \
        volatile unsigned char buf[1024];                                                \
        for (int i = 0; i < 1024; i++)                                                   \
            buf[i] = (unsigned char)(seed + i);                                          \
        blocked++;                                                                       \
        long bad = BLOCK();                                                              \
        for (int i = 0; i < 1024; i++)                                                   \
            bad += buf[i] != (unsigned char)(seed + i);                                  \
        return bad;                                                                      \
    }                                                                                    \
    __attribute__((noinline)) static long touched3_##W(long seed)                       \
    {                                                                                    \
        long sum = touch(seed), want = 0;                                                \
        for (int i = 0; i < 1024; i++)                                                   \
            want += (unsigned char)(seed + i);                                           \
        blocked++;                                                                       \
        return BLOCK() + (sum != want);                                                  \
    }                                                                                    \
    __attribute__((noinline)) static long live2_##W(long seed)                          \
    {                                                                                    \
        long r = live3_##W(seed + 1);                                                    \
        __asm__ volatile("" ::: "memory");                                               \
        return r;                                                                        \
    }                                                                                    \
    __attribute__((noinline)) static long live1_##W(long seed)                          \
    {                                                                                    \
        long r = live2_##W(seed + 1);                                                    \
        __asm__ volatile("" ::: "memory");                                               \
        return r;                                                                        \
    }                                                                                    \
    __attribute__((noinline)) static long touched2_##W(long seed)                       \
    {                                                                                    \
        long r = touched3_##W(seed + 1);                                                 \
        __asm__ volatile("" ::: "memory");                                               \
        return r;                                                                        \
    }                                                                                    \
    __attribute__((noinline)) static long touched1_##W(long seed)                       \
    {                                                                                    \
        long r = touched2_##W(seed + 1);                                                 \
        __asm__ volatile("" ::: "memory");                                               \
        return r;                                                                        \
    }                                                                                    \
    static void *entry_live_##W(void *arg)                                               \
    {                                                                                    \
        return (void *)(intptr_t)(live1_##W((long)(intptr_t)arg) == 0);                  \
    }                                                                                    \
    static void *entry_touched_##W(void *arg)                                            \
    {                                                                                    \
        return (void *)(intptr_t)(touched1_##W((long)(intptr_t)arg) == 0);               \
    }
WAIT_CHAINS(chan, chan_block)
WAIT_CHAINS(timed, timed_block)

enum { WAIT_SEM, WAIT_CHAN, WAIT_TIMED };

/* Wakes n threads blocked in `wait`. */
static void release(int wait, long n)
{
    int rc;
    if (wait == WAIT_CHAN) {
        long one = 1;
        for (long i = 0; i < n; i++)
            if ((rc = capri_chan_send(chan, &one)))
                bench_fail("capri_chan_send = %d", rc);
    } else if (wait == WAIT_TIMED) {
        capri_mutex_lock(&mu);
        released = 1;
        rc = capri_cond_broadcast(&cv);
        capri_mutex_unlock(&mu);
        if (rc)
            bench_fail("capri_cond_broadcast = %d", rc);
    } else {
        for (long i = 0; i < n; i++)
            if ((rc = capri_sem_post(&sem)))
                bench_fail("capri_sem_post = %d", rc);
    }
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
    const char *usage = "usage: memory_capri N guard|dense live|touched [STACK [sem|chan|timedwait]]";
    if (argc < 4)
        bench_fail("%s", usage);
    long n = atol(argv[1]);
    const char *mode = argv[2], *shape = argv[3], *wait_name = argc > 5 ? argv[5] : "sem";
    long stack = argc > 4 ? atol(argv[4]) : 0;
    int dense = strcmp(mode, "dense") == 0;
    int touched = strcmp(shape, "touched") == 0;
    int wait = strcmp(wait_name, "chan") == 0        ? WAIT_CHAN
               : strcmp(wait_name, "timedwait") == 0 ? WAIT_TIMED
               : strcmp(wait_name, "sem") == 0       ? WAIT_SEM
                                                     : -1;
    void *(*entry)(void *) = touched ? entry_touched : entry_live;
    if (wait == WAIT_CHAN)
        entry = touched ? entry_touched_chan : entry_live_chan;
    else if (wait == WAIT_TIMED)
        entry = touched ? entry_touched_timed : entry_live_timed;
    if (n < 1 || (!dense && strcmp(mode, "guard") != 0) || (!touched && strcmp(shape, "live") != 0) ||
        wait < 0)
        bench_fail("%s", usage);
    char shape_tag[32];
    snprintf(shape_tag, sizeof shape_tag, "%s%s%s", shape, wait == WAIT_SEM ? "" : "-",
             wait == WAIT_SEM ? "" : wait_name);
    shape = shape_tag;
    int rc;
    if ((rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1)))
        bench_fail("capri_config(SCHEDULERS) = %d", rc);
    if ((rc = capri_config(CAPRI_CONFIG_MAX_THREADS, n + 1024)))
        bench_fail("capri_config(MAX_THREADS, %ld) = %d", n + 1024, rc);
    if (dense && (rc = capri_config(CAPRI_CONFIG_DENSE, 1)))
        bench_fail("capri_config(DENSE, 1) = %d", rc);
    if ((rc = capri_chan_create(&chan, sizeof(long), 0)))
        bench_fail("capri_chan_create = %d", rc);
    clock_gettime(CLOCK_REALTIME, &far);
    far.tv_sec += 3600;
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
    release(wait, 1);
    if ((rc = capri_join(w, &ok)) || ok != (void *)1)
        bench_fail("warm-up join = %d", rc);
    blocked = 0;
    released = 0;
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
    release(wait, n);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if ((rc = capri_join(t[i], &ok)) || ok != (void *)1)
            bench_fail("thread %ld: join = %d, stack data intact = %p", i, rc, ok);
    }

    printf("memory.%s_%s_%s_%ld_checked 1\n", mode, shape, stack_tag, n);
    return 0;
}
