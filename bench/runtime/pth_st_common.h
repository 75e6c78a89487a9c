/*
 * What the GNU Pth and State Threads peers share besides common.h: the
 * blocked-thread call chain of the idle-memory programs (the same chain as
 * idle_pthread's and blocked_live.h's: level1 -> level2 -> level3, which
 * writes a volatile 1 KiB array in its frame, counts itself in `blocked`,
 * blocks in BENCH_BLOCK() and checks the array after waking) and the
 * summary of a memory sample.
 *
 * A program defines BENCH_BLOCK() (the library's blocking wait, returning
 * nonzero on failure) before including this header. Both libraries run
 * every thread on one kernel thread, so `blocked` is a plain counter.
 */
#ifndef BENCH_RUNTIME_PTH_ST_COMMON_H
#define BENCH_RUNTIME_PTH_ST_COMMON_H

#include <stdint.h>

#include "common.h"

static long blocked;

__attribute__((noinline)) static long level3(long seed)
{
    volatile unsigned char buf[1024];
    for (int i = 0; i < 1024; i++)
        buf[i] = (unsigned char)(seed + i);
    blocked++;
    long bad = BENCH_BLOCK() != 0;
    for (int i = 0; i < 1024; i++)
        bad += buf[i] != (unsigned char)(seed + i);
    return bad;
}

/* The empty asm after each call keeps the call from becoming a tail jump,
 * so every level keeps its frame. */
__attribute__((noinline)) static long level2(long seed)
{
    long r = level3(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static long level1(long seed)
{
    long r = level2(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* The entry of a blocked thread: 1 when its array was intact. */
static void *entry_blocked(void *arg)
{
    return (void *)(intptr_t)(level1((long)(intptr_t)arg) == 0);
}

/* Prints "idle.PEER_rss", _pte, _total, _rollup (bytes per thread) and
 * _spawn_ns (spawn and run to the block, ns per thread). */
static void bench_idle_report(const char *peer, long n, struct bench_mem before, struct bench_mem after,
                              uint64_t spawn_ns)
{
    char name[64];
    double rss = (double)(after.rss - before.rss) / (double)n;
    double pte = (double)(after.pte - before.pte) / (double)n;
    snprintf(name, sizeof name, "idle.%s_rss", peer);
    bench_result(name, rss);
    snprintf(name, sizeof name, "idle.%s_pte", peer);
    bench_result(name, pte);
    snprintf(name, sizeof name, "idle.%s_total", peer);
    bench_result(name, rss + pte);
    snprintf(name, sizeof name, "idle.%s_rollup", peer);
    bench_result(name, (double)(after.rollup_rss - before.rollup_rss) / (double)n);
    snprintf(name, sizeof name, "idle.%s_spawn_ns", peer);
    bench_result(name, (double)spawn_ns / (double)n);
}

#endif
