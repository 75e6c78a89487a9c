/*
 * Shared helpers of the bench/runtime programs: a monotonic clock, a
 * failure exit (a benchmark whose check fails prints why and exits 1, so
 * run.sh stops instead of reporting a number), the result line format and
 * the /proc readers of the idle-memory benchmarks.
 *
 * Every program prints lines "metric value" on stdout; run.sh collects them
 * over the interleaved runs and takes medians per metric.
 */
#ifndef BENCH_RUNTIME_COMMON_H
#define BENCH_RUNTIME_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench check failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline void bench_result(const char *metric, double value)
{
    printf("%s %.2f\n", metric, value);
    fflush(stdout);
}

/* The "key:   N kB" field of a /proc file, in bytes; -1 when missing. */
static inline long long bench_proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = atoll(line + klen + 1) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

/* What the idle-memory benchmarks sample before and after. */
struct bench_mem {
    long long rss;        /* /proc/self/status VmRSS */
    long long pte;        /* /proc/self/status VmPTE (page tables) */
    long long rollup_rss; /* /proc/self/smaps_rollup Rss */
    long long kstack;     /* /proc/meminfo KernelStack (system-wide) */
    long long sunreclaim; /* /proc/meminfo SUnreclaim (system-wide slab) */
};

static inline struct bench_mem bench_mem_sample(void)
{
    struct bench_mem m;
    m.rss = bench_proc_kb("/proc/self/status", "VmRSS");
    m.pte = bench_proc_kb("/proc/self/status", "VmPTE");
    m.rollup_rss = bench_proc_kb("/proc/self/smaps_rollup", "Rss");
    m.kstack = bench_proc_kb("/proc/meminfo", "KernelStack");
    m.sunreclaim = bench_proc_kb("/proc/meminfo", "SUnreclaim");
    return m;
}

#endif
