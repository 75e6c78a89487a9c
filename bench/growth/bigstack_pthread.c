/*
 * bigstack_pthread [KEY=VALUE...]: the bigstack test (bigstack.c) on plain
 * pthreads, for comparison. Built with clang-19 -O2, no plugin, no
 * libcapri.
 *
 * n pthreads, each with a stack of `stack` bytes (default the 1 MiB buffer
 * plus 64 KiB), looping as in bigstack.c: take one of k permits of a POSIX
 * semaphore, call big() (the same frame: a BIGSTACK_BUF-byte volatile
 * array, `touch` bytes written every `stride` bytes, sched_yield() inside,
 * every value checked), give the permit back (then, with sleep_ns,
 * nanosleep). Each thread's big() frame lives on its own stack, so every
 * thread that has made one call keeps its touched pages resident: resident
 * memory grows with n, whatever k is.
 *
 * Before creating anything the program compares what the stacks would
 * need resident (n x (touch + 64 KiB)) with mem_pct% of MemAvailable
 * (/proc/meminfo, default 60%) and does not start when it is more:
 * "bigstack.pthread.skipped 1" with the figures, exit 0 (filling the
 * machine's memory would bring the OOM killer to whatever else runs).
 * When pthread_create fails (EAGAIN: pid_max, threads-max, RLIMIT_NPROC,
 * vm.max_map_count; ENOMEM), the threads made so far are stopped and
 * joined and the program prints "bigstack.pthread.create_failed_at I" and
 * the error, exit 0.
 *
 * Measured and checked as in bigstack.c: calls_per_s, calls_per_cpu_s, rss_mib, pte_mib,
 * rss_per_thread_kib, rss_blocked_mib (all threads blocked outside the
 * call after the window), inside_max, inside_mean, calls_min, calls_max,
 * spawn_ms, warm_ms ("bigstack.pthread.METRIC value").
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "bigstack.h"

static struct bigstack_opts o;
static sem_t gate, park;
static atomic_long calls, first_done, parked, wrong, inside, inside_max;
static atomic_int stop;
static uint32_t *thread_calls;

__attribute__((noinline)) static uint64_t big(uint64_t seed)
{
    volatile uint64_t buf[BIGSTACK_WORDS];
    size_t words = (size_t)o.touch / 8, step = (size_t)o.stride / 8;
    for (size_t i = 0; i < words; i += step)
        buf[i] = bigstack_value(seed, i);
    long in = atomic_fetch_add_explicit(&inside, 1, memory_order_relaxed) + 1;
    long m = atomic_load_explicit(&inside_max, memory_order_relaxed);
    while (in > m && !atomic_compare_exchange_weak_explicit(&inside_max, &m, in, memory_order_relaxed,
                                                            memory_order_relaxed))
        ;
    sched_yield();
    atomic_fetch_sub_explicit(&inside, 1, memory_order_relaxed);
    uint64_t bad = 0;
    for (size_t i = 0; i < words; i += step)
        bad += buf[i] != bigstack_value(seed, i);
    return bad;
}

static void sem_take(sem_t *s)
{
    while (sem_wait(s) != 0)
        if (errno != EINTR)
            bench_fail("sem_wait: errno %d", errno);
}

static void nap_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void *worker(void *arg)
{
    long idx = (long)(intptr_t)arg;
    uint32_t mine = 0;
    for (;;) {
        sem_take(&gate);
        if (atomic_load_explicit(&stop, memory_order_relaxed)) {
            sem_post(&gate);
            break;
        }
        uint64_t bad = big(((uint64_t)idx << 32) + mine);
        sem_post(&gate);
        if (bad)
            atomic_fetch_add_explicit(&wrong, (long)bad, memory_order_relaxed);
        if (mine++ == 0)
            atomic_fetch_add_explicit(&first_done, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
        if (o.sleep_ns)
            nap_ns((uint64_t)o.sleep_ns);
    }
    thread_calls[idx] = mine;
    atomic_fetch_add_explicit(&parked, 1, memory_order_release);
    sem_take(&park);
    return NULL;
}

static void wait_for(atomic_long *counter, long want, const char *what)
{
    uint64_t t0 = bench_now_ns();
    while (atomic_load_explicit(counter, memory_order_acquire) < want) {
        if (bench_now_ns() - t0 > 300000000000ull)
            bench_fail("%s: %ld of %ld after 300 s", what, atomic_load(counter), want);
        nap_ns(10000000);
    }
}

int main(int argc, char **argv)
{
    o = bigstack_parse(argc, argv);
    if (o.stack < 0)
        o.stack = (long)BIGSTACK_BUF + 65536;
    const char *I = "pthread";

    long long avail = bench_proc_kb("/proc/meminfo", "MemAvailable");
    double need = (double)o.n * (double)(o.touch + 65536);
    double budget = (double)avail * (double)o.mem_pct / 100.0;
    if (avail > 0 && need > budget) {
        fprintf(stderr,
                "bigstack_pthread: not started: %ld threads would keep about %.1f GiB of stack resident; "
                "budget %ld%% of MemAvailable = %.1f GiB\n",
                o.n, need / (1 << 30), o.mem_pct, budget / (1 << 30));
        bigstack_out(I, "skipped", 1);
        bigstack_out(I, "need_gib", need / (1 << 30));
        bigstack_out(I, "budget_gib", budget / (1 << 30));
        return 0;
    }

    pthread_t *t = calloc((size_t)o.n, sizeof *t);
    thread_calls = calloc((size_t)o.n, sizeof *thread_calls);
    if (!t || !thread_calls)
        bench_fail("calloc");
    memset(t, 0, (size_t)o.n * sizeof *t);
    memset(thread_calls, 0, (size_t)o.n * sizeof *thread_calls);
    if (sem_init(&gate, 0, (unsigned)o.k) || sem_init(&park, 0, 0))
        bench_fail("sem_init");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_attr_setstacksize(&attr, (size_t)o.stack);
    if (rc)
        bench_fail("pthread_attr_setstacksize(%ld) = %d", o.stack, rc);
    long long rss0 = bench_proc_kb("/proc/self/status", "VmRSS");
    long long pte0 = bench_proc_kb("/proc/self/status", "VmPTE");

    uint64_t t0 = bench_now_ns();
    long made = 0;
    for (; made < o.n; made++)
        if ((rc = pthread_create(&t[made], &attr, worker, (void *)(intptr_t)made)))
            break;
    uint64_t t1 = bench_now_ns();
    if (made < o.n) {
        fprintf(stderr, "bigstack_pthread: pthread_create #%ld failed: %s\n", made, strerror(rc));
        atomic_store(&stop, 1);
        for (long i = 0; i < made; i++)
            sem_post(&park);
        for (long i = 0; i < made; i++)
            pthread_join(t[i], NULL);
        bigstack_out(I, "create_failed_at", (double)made);
        bigstack_out(I, "create_errno", (double)rc);
        return 0;
    }
    wait_for(&first_done, o.n, "threads that made a call");
    uint64_t t2 = bench_now_ns();

    struct bigstack_mem mem = {rss0, pte0, 0};
    double inside_sum = 0;
    long c0 = atomic_load(&calls);
    uint64_t cpu0 = bigstack_cpu_ns();
    uint64_t w0 = bench_now_ns(), wend = w0 + (uint64_t)(o.seconds * 1e9), now;
    while ((now = bench_now_ns()) < wend) {
        bigstack_mem_sample(&mem);
        inside_sum += (double)atomic_load_explicit(&inside, memory_order_relaxed);
        uint64_t left = wend - now;
        nap_ns(left < BIGSTACK_SAMPLE_NS ? left : BIGSTACK_SAMPLE_NS);
    }
    long c1 = atomic_load(&calls);
    uint64_t w1 = bench_now_ns();
    uint64_t cpu1 = bigstack_cpu_ns();

    atomic_store(&stop, 1);
    wait_for(&parked, o.n, "threads stopped");
    long long rss_blocked = bench_proc_kb("/proc/self/status", "VmRSS");
    for (long i = 0; i < o.n; i++)
        sem_post(&park);
    for (long i = 0; i < o.n; i++)
        if ((rc = pthread_join(t[i], NULL)))
            bench_fail("pthread_join #%ld = %d", i, rc);

    if (atomic_load(&wrong))
        bench_fail("%ld values in big()'s buffer changed while it yielded", atomic_load(&wrong));
    if (atomic_load(&inside_max) > o.k)
        bench_fail("%ld threads inside big() at once, gate of %ld", atomic_load(&inside_max), o.k);
    uint32_t cmin = UINT32_MAX, cmax = 0;
    for (long i = 0; i < o.n; i++) {
        cmin = thread_calls[i] < cmin ? thread_calls[i] : cmin;
        cmax = thread_calls[i] > cmax ? thread_calls[i] : cmax;
    }
    if (cmin == 0)
        bench_fail("a thread made no call");

    double secs = (double)(w1 - w0) / 1e9;
    bigstack_out(I, "calls_per_s", (double)(c1 - c0) / secs);
    bigstack_out(I, "calls_per_cpu_s", (double)(c1 - c0) / ((double)(cpu1 - cpu0) / 1e9));
    bigstack_out(I, "rss_mib", bigstack_mib(mem.rss_max - rss0));
    bigstack_out(I, "pte_mib", bigstack_mib(mem.pte_max - pte0));
    bigstack_out(I, "rss_per_thread_kib", (double)(mem.rss_max - rss0) / 1024.0 / (double)o.n);
    bigstack_out(I, "rss_blocked_mib", bigstack_mib(rss_blocked - rss0));
    bigstack_out(I, "inside_max", (double)atomic_load(&inside_max));
    bigstack_out(I, "inside_mean", mem.samples ? inside_sum / (double)mem.samples : 0);
    bigstack_out(I, "calls_min", cmin);
    bigstack_out(I, "calls_max", cmax);
    bigstack_out(I, "spawn_ms", (double)(t1 - t0) / 1e6);
    bigstack_out(I, "warm_ms", (double)(t2 - t1) / 1e6);
    bigstack_out(I, "samples", (double)mem.samples);
    return 0;
}
