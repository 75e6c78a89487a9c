/*
 * idle_capri: resident memory per idle capri thread, a million of them.
 *
 * N threads (default 1,000,000) with attr.stack_size = STACK (0: the
 * default), on one scheduler, each blocked at a known depth:
 * entry_live -> live1 -> live2 -> live3 (blocked_live.h), where live3
 * writes a volatile 1 KiB array in its frame and blocks in capri_sem_wait
 * on a shared semaphore (then checks the array after waking). main samples /proc/self/status (VmRSS, VmPTE)
 * and /proc/self/smaps_rollup (Rss) once the runtime is up (one warm-up
 * thread of the same size spawned and joined, handle array touched) and
 * again when all N are blocked; the difference over N is the cost of one
 * idle thread: its chunk's resident pages, the slot-table entry, the
 * page-table share. GUARD (optional) sets CAPRI_CONFIG_GUARD (1: guard
 * page under every chunk, 0: dense); default: the runtime's default.
 *
 * Why run.sh also tries a -Wl,-z,now build at 4 KiB: with lazy binding the
 * first call a thread makes through an unresolved PLT entry runs
 * _dl_runtime_resolve_xsavec on the thread's stack, which saves the whole
 * XSAVE area (about 2.5 KiB with AVX-512); blocking in capri_sleep_ns
 * instead of the semaphore (clock_gettime resolved on the thread's stack)
 * overflows a 4 KiB chunk that way (seen at 74f4f28: "capri: stack
 * overflow ... in ld-linux-x86-64.so.2", _dl_runtime_resolve_xsavec+15).
 *
 * Checks: N threads reached the blocking call before the sample; after N
 * posts every thread wakes, finds its 1 KiB intact and is joined.
 *
 * Output (bytes per thread), with TAG = STACK in bytes or "default":
 * "idle.capri_TAG_rss", "idle.capri_TAG_pte", "idle.capri_TAG_total"
 * (rss + pte), "idle.capri_TAG_rollup" (smaps_rollup Rss), and
 * "idle.capri_TAG_spawn_ns" (spawning and running every thread to its
 * block, ns per thread), and from capri_pool_stats the usable size of the
 * chunk class the threads got ("idle.capri_TAG_chunk_kib"), the address
 * space carved into chunks ("..._mapped_gib") and the guard mode
 * ("..._guard_mode": 2 MADV_GUARD_INSTALL, 1 mprotect, 0 none).
 * Usage: idle_capri [N] [STACK] [GUARD] [TAG] (GUARD -1: the default; TAG
 * replaces the tag in the metric names).
 */
#include "capri.h"
#include "common.h"

#include "blocked_live.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long stack = argc > 2 ? atol(argv[2]) : 0;
    long guard = argc > 3 ? atol(argv[3]) : -1;
    const char *tag_arg = argc > 4 ? argv[4] : NULL;
    int rc;
    if ((rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1)))
        bench_fail("capri_config(SCHEDULERS) = %d", rc);
    if ((rc = capri_config(CAPRI_CONFIG_MAX_THREADS, n + 1024)))
        bench_fail("capri_config(MAX_THREADS, %ld) = %d", n + 1024, rc);
    if (guard >= 0 && (rc = capri_config(CAPRI_CONFIG_GUARD, guard)))
        bench_fail("capri_config(GUARD, %ld) = %d", guard, rc);
    capri_t *t = malloc((size_t)n * sizeof *t);
    if (!t)
        bench_fail("malloc");
    memset(t, 0, (size_t)n * sizeof *t);
    capri_attr_t attr = {0};
    attr.stack_size = (size_t)stack;

    /* Warm-up: the runtime, the scheduler, the first slab of the class. */
    capri_t w;
    void *ok = NULL;
    if ((rc = capri_spawn(&w, entry_live, (void *)1, &attr)))
        bench_fail("warm-up spawn = %d", rc);
    while (blocked < 1)
        capri_yield();
    capri_sem_post(&sem);
    if ((rc = capri_join(w, &ok)) || ok != (void *)1)
        bench_fail("warm-up join = %d", rc);
    blocked = 0;

    struct bench_mem before = bench_mem_sample();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if ((rc = capri_spawn(&t[i], entry_live, (void *)(intptr_t)i, &attr)))
            bench_fail("capri_spawn #%ld = %d", i, rc);
    while (blocked < n)
        capri_yield();
    uint64_t t1 = bench_now_ns();
    struct bench_mem after = bench_mem_sample();
    if (blocked != n)
        bench_fail("%ld threads blocked, expected %ld", blocked, n);
    struct capri_pool_stats ps;
    double chunk_kib = -1, mapped_gib = -1;
    int guard_mode = -1;
    if (capri_pool_stats(&ps) == 0) {
        uint64_t most = 0;
        for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++)
            if (ps.chunks_in_use[c] > most) {
                most = ps.chunks_in_use[c];
                chunk_kib = (double)(4u << c);
            }
        if (most < (uint64_t)n)
            bench_fail("pool statistics: %llu chunks of the commonest class in use for %ld threads",
                       (unsigned long long)most, n);
        mapped_gib = (double)ps.bytes_mapped / (double)(1u << 30);
        guard_mode = ps.guard_mode;
    }

    for (long i = 0; i < n; i++)
        if ((rc = capri_sem_post(&sem)))
            bench_fail("capri_sem_post = %d", rc);
    for (long i = 0; i < n; i++) {
        ok = NULL;
        if ((rc = capri_join(t[i], &ok)) || ok != (void *)1)
            bench_fail("thread %ld: join = %d, stack data intact = %p", i, rc, ok);
    }

    char tag[32], name[64];
    if (tag_arg)
        snprintf(tag, sizeof tag, "%s", tag_arg);
    else if (stack)
        snprintf(tag, sizeof tag, "%ld", stack);
    else
        snprintf(tag, sizeof tag, "default");
    if (guard == 0 && !tag_arg)
        strcat(tag, "_dense");
    double rss = (double)(after.rss - before.rss) / (double)n;
    double pte = (double)(after.pte - before.pte) / (double)n;
#define OUT(suffix, v)                                                                   \
    do {                                                                                 \
        snprintf(name, sizeof name, "idle.capri_%s_%s", tag, suffix);                   \
        bench_result(name, v);                                                           \
    } while (0)
    OUT("rss", rss);
    OUT("pte", pte);
    OUT("total", rss + pte);
    OUT("rollup", (double)(after.rollup_rss - before.rollup_rss) / (double)n);
    OUT("spawn_ns", (double)(t1 - t0) / (double)n);
    OUT("chunk_kib", chunk_kib);
    OUT("mapped_gib", mapped_gib);
    OUT("guard_mode", guard_mode);
    return 0;
}
