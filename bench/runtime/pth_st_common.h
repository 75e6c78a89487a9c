/*
 * What the GNU Pth and State Threads peers share besides common.h: the
 * blocked-thread call chain of the idle-memory programs (blocked_chain.h;
 * both libraries run every thread on one kernel thread, so `blocked` is a
 * plain counter) and the summary of a memory sample.
 *
 * A program defines BENCH_BLOCK() (the library's blocking wait, returning
 * nonzero on failure) before including this header.
 */
#ifndef BENCH_RUNTIME_PTH_ST_COMMON_H
#define BENCH_RUNTIME_PTH_ST_COMMON_H

#include <stdint.h>

#include "blocked_chain.h"
#include "common.h"

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
