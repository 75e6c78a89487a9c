/*
 * What bigstack.c (capri threads) and bigstack_pthread.c (pthreads) share:
 * the options, the buffer size, /proc readers, the result lines.
 *
 * Options are KEY=VALUE arguments (every one optional):
 *   n=THREADS          threads (default 1000)
 *   k=PERMITS          threads inside the big call at once at most: a
 *                      semaphore of k permits is taken around the call
 *                      (default 4)
 *   seconds=S          the measured window (default 2; fractions allowed)
 *   touch=BYTES        bytes of the buffer the call touches (default: all)
 *   stride=BYTES       distance between the call's writes (default 4096:
 *                      one 8-byte word per page)
 *   sleep_ns=NS        also sleep this long after each call, outside it
 *                      (default 0: the only blocking outside is the gate)
 *   stack=BYTES        capri: the first chunk (attr.stack_size; default
 *                      4096, 0: the runtime's choice); pthreads: the stack
 *                      (default the buffer plus 64 KiB)
 *   scheds=N           capri: schedulers (default 0: one per CPU)
 *   mem_pct=P          pthreads: refuse to start when the threads' stacks
 *                      would need more than P% of MemAvailable (default 60)
 * The buffer's size is fixed at compile time (BIGSTACK_BUF, default 1 MiB),
 * so the compiler sees a frame of that size (a variable-size array would be
 * a dynamic alloca).
 *
 * Every program prints "metric value" lines (bench/runtime/common.h).
 */
#ifndef BENCH_GROWTH_BIGSTACK_H
#define BENCH_GROWTH_BIGSTACK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../runtime/common.h"

#ifndef BIGSTACK_BUF
#define BIGSTACK_BUF (1u << 20)
#endif
#define BIGSTACK_WORDS (BIGSTACK_BUF / 8u)
#define BIGSTACK_SAMPLE_NS 50000000ull /* one /proc and pool sample every 50 ms */

struct bigstack_opts {
    long n, k;
    double seconds;
    long touch, stride;
    long sleep_ns;
    long stack; /* -1: the program's default */
    long scheds;
    long mem_pct;
};

static inline struct bigstack_opts bigstack_parse(int argc, char **argv)
{
    struct bigstack_opts o = {1000, 4, 2.0, BIGSTACK_BUF, 4096, 0, -1, 0, 60};
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq)
            bench_fail("argument %s: expected KEY=VALUE", argv[i]);
        size_t kl = (size_t)(eq - argv[i]);
        const char *v = eq + 1;
#define KEY(name) (kl == strlen(name) && strncmp(argv[i], name, kl) == 0)
        if (KEY("n"))
            o.n = atol(v);
        else if (KEY("k"))
            o.k = atol(v);
        else if (KEY("seconds"))
            o.seconds = atof(v);
        else if (KEY("touch"))
            o.touch = atol(v);
        else if (KEY("stride"))
            o.stride = atol(v);
        else if (KEY("sleep_ns"))
            o.sleep_ns = atol(v);
        else if (KEY("stack"))
            o.stack = atol(v);
        else if (KEY("scheds"))
            o.scheds = atol(v);
        else if (KEY("mem_pct"))
            o.mem_pct = atol(v);
        else
            bench_fail("unknown option %s", argv[i]);
#undef KEY
    }
    if (o.n < 1 || o.k < 1 || o.k > o.n || o.seconds <= 0 || o.touch < 8 ||
        o.touch > (long)BIGSTACK_BUF || o.stride < 8 || o.stride % 8 || o.sleep_ns < 0)
        bench_fail("bad options: need 1 <= k <= n, seconds > 0, 8 <= touch <= %u, stride a multiple of 8",
                   BIGSTACK_BUF);
    return o;
}

/* The words the call writes (and checks after blocking inside it). */
static inline uint64_t bigstack_value(uint64_t seed, size_t i)
{
    return (seed * 0x9e3779b97f4a7c15ull) ^ i;
}

static inline double bigstack_mib(long long bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* CPU time the process has used (user + system, all its threads), ns: the
 * windows' calls per CPU second do not count time other processes took
 * (the machines these run on are shared). */
static inline uint64_t bigstack_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        bench_fail("getrusage");
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* Peak VmRSS and VmPTE (bytes) over the samples of a window. */
struct bigstack_mem {
    long long rss_max, pte_max;
    long samples;
};

static inline void bigstack_mem_sample(struct bigstack_mem *m)
{
    long long rss = bench_proc_kb("/proc/self/status", "VmRSS");
    long long pte = bench_proc_kb("/proc/self/status", "VmPTE");
    if (rss > m->rss_max)
        m->rss_max = rss;
    if (pte > m->pte_max)
        m->pte_max = pte;
    m->samples++;
}

/* "bigstack.IMPL.METRIC value" */
static inline void bigstack_out(const char *impl, const char *metric, double v)
{
    char name[96];
    snprintf(name, sizeof name, "bigstack.%s.%s", impl, metric);
    bench_result(name, v);
}

#endif
