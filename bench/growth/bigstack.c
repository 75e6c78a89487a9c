/*
 * bigstack [KEY=VALUE...]: Capriccio's "bigstack" test on capri threads.
 * Built with capri-cc -O2 (the plugin's checkpoints, libcapri linked).
 *
 * n threads on small first chunks (attr.stack_size = stack, default 4096),
 * each looping: take one of k permits of a capri semaphore (the gate), call
 * big(), give the permit back (then, with sleep_ns, sleep). big() is a
 * noinline function whose frame holds a BIGSTACK_BUF-byte (1 MiB) volatile
 * array: it writes `touch` bytes of it (every `stride` bytes; default one
 * word per page of the whole buffer) with values of its own, yields
 * (capri_yield) so that up to k threads are inside at once, then checks
 * every value it wrote. The call does not fit the first chunk: the
 * plugin's checkpoint sends it through __morestack onto a chunk from the
 * pool, which goes back when the call returns. Threads waiting for the gate
 * are blocked outside the call. Options: bigstack.h.
 *
 * Measured: calls per second over the window (`seconds`, after every
 * thread has made at least one call, so every thread has touched a 1 MiB
 * frame once); VmRSS and VmPTE of the process (/proc/self/status), peak of
 * samples every 50 ms during the window, minus the values sampled before
 * the threads were spawned; capri_pool_stats, sampled with them: chunks in
 * use per class. Then every thread is stopped outside the call, blocked in
 * capri_sem_wait, and the pool is sampled again: no blocked thread may
 * hold a chunk of the big call's class (the thread chunk cache is flushed
 * when a thread blocks, and classes above THREAD_CACHED_CLASS_MAX are never
 * cached). A chunk that the blocking call itself was grown onto (the
 * plugin's check before capri_sem_wait failed on the first chunk) is the
 * thread's stack while it blocks, and is counted in grown_blocked.
 *
 * Checks (failing ones exit 1): every value big() wrote is intact after
 * the yield (two threads never share a chunk), big() runs on a grown chunk
 * (__capri_chunk_depth() >= 1), at most k threads are inside at once, every
 * thread made calls, every thread is joined.
 *
 * Output ("bigstack.capri.METRIC value"):
 *   calls_per_s         calls completed per second in the window
 *   calls_per_cpu_s     the same per second of CPU time the process used
 *                       (user + system, every thread; getrusage)
 *   cross_pct           entries into big() that follow one on another kernel
 *                       thread, percent (the threads do not migrate: with
 *                       k = 1 nearly every such entry is a wake-up of a
 *                       thread on another scheduler); the gate is FIFO, so
 *                       the order the threads first queued in stays
 *   rss_mib, pte_mib    peak VmRSS / VmPTE in the window minus before spawning
 *   rss_per_thread_kib  rss_mib over n
 *   rss_blocked_mib     VmRSS minus before, all threads blocked after the run
 *   inside_max          most threads inside big() at once (sampled by big())
 *   inside_mean         threads inside big(), mean of the 50 ms samples
 *   first_kib           the first chunk's class (usable KiB)
 *   big_kib             the class big() ran on (the largest class used)
 *   big_peak            chunks of that class in use, peak of the samples
 *   big_free_blocked    chunks of that class free in the pool, all blocked
 *                       (how many were ever carved: the chunks that cycled)
 *   big_blocked         chunks of that class in use, all threads blocked
 *   grown_blocked       chunks in use of every class but the first's, all
 *                       blocked, minus before spawning (the 64 KiB class
 *                       includes one signal reserve per scheduler, taken at
 *                       its first growth: reported as reserve_blocked)
 *   calls_min, calls_max  calls per thread over the whole run
 *   spawn_ms, warm_ms   spawning all threads; until each made a call
 */
#include <sched.h>
#include <stdatomic.h>

#include "capri.h"
#include "bigstack.h"

/* libcapri's growth ABI (runtime/src/grow.h): chunks below the current. */
unsigned __capri_chunk_depth(void);

#define RESERVE_CLS 4 /* grow.c: the scheduler's signal reserve, 64 KiB */

static struct bigstack_opts o;
static capri_sem_t gate, park;
static atomic_long calls, first_done, parked, wrong, ungrown, inside, inside_max, crossed;
static atomic_uintptr_t last_kt; /* the kernel thread of the last entry into big() */
static __thread char kt_marker;  /* its address names the kernel thread */
static atomic_int stop;
static uint32_t *thread_calls;

__attribute__((noinline)) static uint64_t big(uint64_t seed)
{
    volatile uint64_t buf[BIGSTACK_WORDS];
    size_t words = (size_t)o.touch / 8, step = (size_t)o.stride / 8;
    for (size_t i = 0; i < words; i += step)
        buf[i] = bigstack_value(seed, i);
    if (__capri_chunk_depth() == 0)
        atomic_fetch_add_explicit(&ungrown, 1, memory_order_relaxed);
    long in = atomic_fetch_add_explicit(&inside, 1, memory_order_relaxed) + 1;
    long m = atomic_load_explicit(&inside_max, memory_order_relaxed);
    while (in > m && !atomic_compare_exchange_weak_explicit(&inside_max, &m, in, memory_order_relaxed,
                                                            memory_order_relaxed))
        ;
    capri_yield(); /* the others may come in: up to k frames live at once */
    atomic_fetch_sub_explicit(&inside, 1, memory_order_relaxed);
    uint64_t bad = 0;
    for (size_t i = 0; i < words; i += step)
        bad += buf[i] != bigstack_value(seed, i);
    return bad;
}

static void *worker(void *arg)
{
    long idx = (long)(intptr_t)arg;
    uint32_t mine = 0;
    for (;;) {
        int rc = capri_sem_wait(&gate);
        if (rc)
            bench_fail("capri_sem_wait = %d", rc);
        if (atomic_load_explicit(&stop, memory_order_relaxed)) {
            capri_sem_post(&gate);
            break;
        }
        uintptr_t kt = (uintptr_t)&kt_marker;
        if (atomic_exchange_explicit(&last_kt, kt, memory_order_relaxed) != kt)
            atomic_fetch_add_explicit(&crossed, 1, memory_order_relaxed);
        uint64_t bad = big(((uint64_t)idx << 32) + mine);
        capri_sem_post(&gate);
        if (bad)
            atomic_fetch_add_explicit(&wrong, (long)bad, memory_order_relaxed);
        if (mine++ == 0)
            atomic_fetch_add_explicit(&first_done, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
        if (o.sleep_ns)
            capri_sleep_ns((uint64_t)o.sleep_ns);
    }
    thread_calls[idx] = mine;
    atomic_fetch_add_explicit(&parked, 1, memory_order_release);
    capri_sem_wait(&park); /* blocked outside the call until main has looked */
    return NULL;
}

static void *warm(void *arg) { return arg; }

static struct capri_pool_stats pool(void)
{
    struct capri_pool_stats s;
    int rc = capri_pool_stats(&s);
    if (rc)
        bench_fail("capri_pool_stats = %d", rc);
    return s;
}

/* Polls (sleeping 10 ms) until *counter reaches want; fails after 300 s. */
static void wait_for(atomic_long *counter, long want, const char *what)
{
    uint64_t t0 = bench_now_ns();
    while (atomic_load_explicit(counter, memory_order_acquire) < want) {
        if (bench_now_ns() - t0 > 300000000000ull)
            bench_fail("%s: %ld of %ld after 300 s", what, atomic_load(counter), want);
        capri_sleep_ns(10000000);
    }
}

int main(int argc, char **argv)
{
    o = bigstack_parse(argc, argv);
    if (o.stack < 0)
        o.stack = 4096;
    int rc;
    if (o.scheds > 0 && (rc = capri_config(CAPRI_CONFIG_SCHEDULERS, o.scheds)))
        bench_fail("capri_config(SCHEDULERS) = %d", rc);
    if ((rc = capri_config(CAPRI_CONFIG_MAX_THREADS, o.n + 1024)))
        bench_fail("capri_config(MAX_THREADS) = %d", rc);
    capri_t *t = calloc((size_t)o.n, sizeof *t);
    thread_calls = calloc((size_t)o.n, sizeof *thread_calls);
    if (!t || !thread_calls)
        bench_fail("calloc");
    capri_attr_t attr = {0};
    attr.stack_size = (size_t)o.stack;

    /* The runtime and its schedulers up, the arrays touched. */
    capri_t w;
    if ((rc = capri_spawn(&w, warm, NULL, &attr)) || (rc = capri_join(w, NULL)))
        bench_fail("warm-up thread: %d", rc);
    memset(t, 0, (size_t)o.n * sizeof *t);
    memset(thread_calls, 0, (size_t)o.n * sizeof *thread_calls);
    if ((rc = capri_sem_init(&gate, (unsigned)o.k)) || (rc = capri_sem_init(&park, 0)))
        bench_fail("capri_sem_init = %d", rc);
    struct capri_pool_stats ps0 = pool();
    long long rss0 = bench_proc_kb("/proc/self/status", "VmRSS");
    long long pte0 = bench_proc_kb("/proc/self/status", "VmPTE");

    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < o.n; i++)
        if ((rc = capri_spawn(&t[i], worker, (void *)(intptr_t)i, &attr)))
            bench_fail("capri_spawn #%ld = %d", i, rc);
    uint64_t t1 = bench_now_ns();
    wait_for(&first_done, o.n, "threads that made a call");
    uint64_t t2 = bench_now_ns();

    /* The window. */
    struct bigstack_mem mem = {rss0, pte0, 0};
    uint64_t peak[CAPRI_CHUNK_CLASSES] = {0};
    double inside_sum = 0;
    long c0 = atomic_load(&calls), x0 = atomic_load(&crossed);
    uint64_t cpu0 = bigstack_cpu_ns();
    uint64_t w0 = bench_now_ns(), wend = w0 + (uint64_t)(o.seconds * 1e9), now;
    while ((now = bench_now_ns()) < wend) {
        bigstack_mem_sample(&mem);
        struct capri_pool_stats ps = pool();
        for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++) {
            uint64_t v = ps.chunks_in_use[c] - ps0.chunks_in_use[c];
            /* (Counters summed while schedulers move chunks: a torn sum can
             * wrap below zero for a moment; skip those.) */
            if (v < (1ull << 62) && v > peak[c])
                peak[c] = v;
        }
        inside_sum += (double)atomic_load_explicit(&inside, memory_order_relaxed);
        uint64_t left = wend - now;
        capri_sleep_ns(left < BIGSTACK_SAMPLE_NS ? left : BIGSTACK_SAMPLE_NS);
    }
    long c1 = atomic_load(&calls), x1 = atomic_load(&crossed);
    uint64_t w1 = bench_now_ns();
    uint64_t cpu1 = bigstack_cpu_ns();

    /* Everyone out of the call and blocked: what do they hold? */
    atomic_store(&stop, 1);
    wait_for(&parked, o.n, "threads stopped");
    capri_sleep_ns(10000000); /* the last ones from their post to their block */
    struct capri_pool_stats psb = pool();
    long long rss_blocked = bench_proc_kb("/proc/self/status", "VmRSS");
    for (long i = 0; i < o.n; i++)
        if ((rc = capri_sem_post(&park)))
            bench_fail("capri_sem_post = %d", rc);
    for (long i = 0; i < o.n; i++)
        if ((rc = capri_join(t[i], NULL)))
            bench_fail("capri_join #%ld = %d", i, rc);

    if (atomic_load(&wrong))
        bench_fail("%ld values in big()'s buffer changed while it yielded", atomic_load(&wrong));
    if (atomic_load(&ungrown))
        bench_fail("%ld calls of big() ran on the first chunk (no growth)", atomic_load(&ungrown));
    if (atomic_load(&inside_max) > o.k)
        bench_fail("%ld threads inside big() at once, gate of %ld", atomic_load(&inside_max), o.k);
    uint32_t cmin = UINT32_MAX, cmax = 0;
    for (long i = 0; i < o.n; i++) {
        cmin = thread_calls[i] < cmin ? thread_calls[i] : cmin;
        cmax = thread_calls[i] > cmax ? thread_calls[i] : cmax;
    }
    if (cmin == 0)
        bench_fail("a thread made no call");

    /* The first chunks' class: the one n more chunks are in use of. */
    unsigned first = 0;
    for (unsigned c = 1; c < CAPRI_CHUNK_CLASSES; c++)
        if (psb.chunks_in_use[c] - ps0.chunks_in_use[c] > psb.chunks_in_use[first] - ps0.chunks_in_use[first])
            first = c;
    if (psb.chunks_in_use[first] - ps0.chunks_in_use[first] < (uint64_t)o.n)
        bench_fail("pool statistics: fewer chunks of any class in use than threads");
    int bigc = -1;
    for (int c = CAPRI_CHUNK_CLASSES - 1; c >= 0 && bigc < 0; c--)
        if (c != (int)first && peak[c] > 0)
            bigc = c;
    if (bigc < 0)
        bench_fail("no chunk beyond the first chunks was in use during the window");
    uint64_t grown_blocked = 0;
    for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++)
        if (c != (int)first)
            grown_blocked += psb.chunks_in_use[c] - ps0.chunks_in_use[c];

    const char *I = "capri";
    double secs = (double)(w1 - w0) / 1e9;
    bigstack_out(I, "calls_per_s", (double)(c1 - c0) / secs);
    bigstack_out(I, "calls_per_cpu_s", (double)(c1 - c0) / ((double)(cpu1 - cpu0) / 1e9));
    bigstack_out(I, "cross_pct", 100.0 * (double)(x1 - x0) / (double)(c1 > c0 ? c1 - c0 : 1));
    bigstack_out(I, "rss_mib", bigstack_mib(mem.rss_max - rss0));
    bigstack_out(I, "pte_mib", bigstack_mib(mem.pte_max - pte0));
    bigstack_out(I, "rss_per_thread_kib", (double)(mem.rss_max - rss0) / 1024.0 / (double)o.n);
    bigstack_out(I, "rss_blocked_mib", bigstack_mib(rss_blocked - rss0));
    bigstack_out(I, "inside_max", (double)atomic_load(&inside_max));
    bigstack_out(I, "inside_mean", mem.samples ? inside_sum / (double)mem.samples : 0);
    bigstack_out(I, "first_kib", (double)(4u << first));
    bigstack_out(I, "big_kib", (double)(4u << bigc));
    bigstack_out(I, "big_peak", (double)peak[bigc]);
    bigstack_out(I, "big_free_blocked", (double)psb.chunks_free[bigc]);
    bigstack_out(I, "big_blocked", (double)(psb.chunks_in_use[bigc] - ps0.chunks_in_use[bigc]));
    bigstack_out(I, "reserve_blocked",
                 (double)(psb.chunks_in_use[RESERVE_CLS] - ps0.chunks_in_use[RESERVE_CLS]));
    bigstack_out(I, "grown_blocked", (double)(int64_t)grown_blocked);
    bigstack_out(I, "first_blocked", (double)(psb.chunks_in_use[first] - ps0.chunks_in_use[first]));
    bigstack_out(I, "calls_min", cmin);
    bigstack_out(I, "calls_max", cmax);
    bigstack_out(I, "spawn_ms", (double)(t1 - t0) / 1e6);
    bigstack_out(I, "warm_ms", (double)(t2 - t1) / 1e6);
    bigstack_out(I, "samples", (double)mem.samples);
    return 0;
}
