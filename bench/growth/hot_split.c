/*
 * hot_split [RUNS] [ITERATIONS]: the "hot split", a call exactly at a
 * chunk boundary in a tight loop (issue text: at most 5 ns more than the
 * same call without a boundary), measured side by side in one run.
 *
 * Inside one capri thread (one scheduler), per run and in this order:
 *  - direct:  acc += callee(i), callee a small noinline function;
 *  - checked: the same call behind the plugin's small-region check (the
 *             stack pointer against the limit word %fs:0x70), which passes:
 *             what instrumented code pays without a boundary;
 *  - thunk:   the plugin's outlined form without a boundary: the argument
 *             into a block, the thunk called through a pointer (as
 *             __morestack calls it), the result out of the block: what the
 *             split pays besides the crossing itself;
 *  - split:   the same call through __morestack, as the plugin's slow
 *             branch makes it: the argument into a block, a thunk that
 *             calls callee and stores the result, __morestack(thunk, block,
 *             512). Every call crosses a chunk boundary; the thread's cached
 *             chunk (thread_chunks.c) is big enough, so after the first
 *             crossing no pool operation happens (checked with
 *             capri_pool_stats).
 * Each loop runs ITERATIONS calls (default 10,000,000) timed with
 * CLOCK_MONOTONIC; RUNS runs (default 11) after one untimed warm-up run.
 * Prints "metric value" lines: per-run ns per call, then the medians and
 * the difference split - direct (of the medians, and the median of the
 * per-run differences). The three loops must compute the same sum, and the
 * thunk must run one chunk deep, or the program fails.
 *
 * Under valgrind (`hot_split --callgrind N`, run by run-hot-split.sh with
 * --tool=callgrind), each loop runs N times between CALLGRIND_ZERO_STATS
 * and CALLGRIND_DUMP_STATS_AT("<loop>"), so each dump's total is that
 * loop's instruction count. libcapri turns its tool hooks on when it runs
 * under valgrind (every chunk registered as a stack, which memcheck needs),
 * and they send every crossing down the slow path; callgrind needs none of
 * that, so this mode turns them off (capri_tools_active, hidden in
 * libcapri.a but visible to a static link) and counts the path a native
 * run takes.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include "capri.h"

/* libcapri's exported growth ABI (runtime/src/grow.h). */
void __morestack(void (*thunk)(void *), void *block, uint64_t need);
unsigned __capri_chunk_depth(void);
/* libcapri.a's tool switch (tools.h), for the callgrind mode only. */
extern int capri_tools_active;

#define NEED 512u
#define MAX_RUNS 101

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...);
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hot_split: check failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The callee: small, not inlined, not pure (the empty asm with a memory
 * clobber keeps the compiler from dropping or merging calls). */
__attribute__((noinline)) static uint64_t callee(uint64_t x)
{
    __asm__ volatile("" ::: "memory");
    return x * 2654435761u + 1;
}

/* What the plugin outlines: the block holds the argument and the result. */
struct block {
    uint64_t x, r;
};

static void thunk(void *p)
{
    struct block *b = p;
    b->r = callee(b->x);
}

static inline uintptr_t read_sp(void)
{
    uintptr_t sp;
    __asm__("movq %%rsp, %0" : "=r"(sp));
    return sp;
}

static inline uintptr_t read_limit(void)
{
    uintptr_t v;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
    return v;
}

__attribute__((noinline)) static uint64_t loop_direct(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++)
        acc += callee(i);
    return acc;
}

__attribute__((noinline)) static uint64_t loop_checked(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (__builtin_expect(read_sp() >= read_limit(), 1)) {
            acc += callee(i);
        } else {
            struct block b = {i, 0};
            __morestack(thunk, &b, NEED);
            acc += b.r;
        }
    }
    return acc;
}

/* Read once per loop: an indirect call the compiler cannot resolve. */
static void (*volatile thunk_ptr)(void *) = thunk;

__attribute__((noinline)) static uint64_t loop_thunk(uint64_t n)
{
    uint64_t acc = 0;
    struct block b;
    void (*fn)(void *) = thunk_ptr;
    for (uint64_t i = 0; i < n; i++) {
        b.x = i;
        fn(&b);
        acc += b.r;
    }
    return acc;
}

__attribute__((noinline)) static uint64_t loop_split(uint64_t n)
{
    uint64_t acc = 0;
    struct block b;
    for (uint64_t i = 0; i < n; i++) {
        b.x = i;
        __morestack(thunk, &b, NEED);
        acc += b.r;
    }
    return acc;
}

/* The thunk runs one chunk deep, off the thread's own stack. */
struct where {
    unsigned depth;
    uintptr_t frame;
};

static void where_thunk(void *p)
{
    struct where *w = p;
    w->depth = __capri_chunk_depth();
    w->frame = (uintptr_t)__builtin_frame_address(0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int runs = 11;
static uint64_t iterations = 10000000;
static int callgrind_mode;

static void check_split_setup(void)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    struct where w = {0, 0};
    __morestack(where_thunk, &w, NEED);
    if (w.depth != 1)
        fail("the thunk ran %u chunks deep, not 1", w.depth);
    if (__capri_chunk_depth() != 0)
        fail("depth %u after __morestack", __capri_chunk_depth());
    /* Not just below the caller's frame: on another chunk. */
    if (w.frame < here && here - w.frame < 4096)
        fail("the thunk ran on the caller's stack");
}

static void check_sum(const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        fail("%s computed %llu, direct %llu", what, (unsigned long long)got, (unsigned long long)want);
}

static void *body_callgrind(void *arg)
{
    (void)arg;
    uint64_t n = iterations;
    check_split_setup();
    uint64_t want = loop_direct(n);
    CALLGRIND_ZERO_STATS;
    uint64_t a = loop_direct(n);
    CALLGRIND_DUMP_STATS_AT("direct");
    uint64_t c = loop_checked(n);
    CALLGRIND_DUMP_STATS_AT("checked");
    uint64_t o = loop_thunk(n);
    CALLGRIND_DUMP_STATS_AT("thunk");
    uint64_t b = loop_split(n);
    CALLGRIND_DUMP_STATS_AT("split");
    check_sum("direct", a, want);
    check_sum("checked", c, want);
    check_sum("thunk", o, want);
    check_sum("split", b, want);
    printf("callgrind.iterations %llu\n", (unsigned long long)n);
    return NULL;
}

static void *body(void *arg)
{
    (void)arg;
    uint64_t n = iterations;
    double direct[MAX_RUNS], checked[MAX_RUNS], thunked[MAX_RUNS], split[MAX_RUNS], diff[MAX_RUNS];
    check_split_setup();
    uint64_t want = loop_direct(n);
    check_sum("checked", loop_checked(n), want); /* warm-up */
    check_sum("thunk", loop_thunk(n), want);
    check_sum("split", loop_split(n), want);
    for (int r = 0; r < runs; r++) {
        struct capri_pool_stats before, after;
        uint64_t t0 = now_ns();
        uint64_t a = loop_direct(n);
        uint64_t t1 = now_ns();
        uint64_t c = loop_checked(n);
        uint64_t t2 = now_ns();
        uint64_t o = loop_thunk(n);
        uint64_t t3 = now_ns();
        capri_pool_stats(&before);
        uint64_t t4 = now_ns();
        uint64_t b = loop_split(n);
        uint64_t t5 = now_ns();
        capri_pool_stats(&after);
        check_sum("direct", a, want);
        check_sum("checked", c, want);
        check_sum("thunk", o, want);
        check_sum("split", b, want);
        if (memcmp(before.chunks_in_use, after.chunks_in_use, sizeof before.chunks_in_use) != 0 ||
            before.depot_transfers != after.depot_transfers)
            fail("the split loop took chunks from the pool (the cached chunk was not reused)");
        direct[r] = (double)(t1 - t0) / (double)n;
        checked[r] = (double)(t2 - t1) / (double)n;
        thunked[r] = (double)(t3 - t2) / (double)n;
        split[r] = (double)(t5 - t4) / (double)n;
        diff[r] = split[r] - direct[r];
        printf("run%d.direct_ns %.2f\nrun%d.checked_ns %.2f\nrun%d.thunk_ns %.2f\nrun%d.split_ns %.2f\n", r,
               direct[r], r, checked[r], r, thunked[r], r, split[r]);
    }
    double md = median(direct, runs), mc = median(checked, runs), mt = median(thunked, runs),
           ms = median(split, runs);
    printf("iterations %llu\nruns %d\n", (unsigned long long)n, runs);
    printf("median.direct_ns %.2f\nmedian.checked_ns %.2f\nmedian.thunk_ns %.2f\nmedian.split_ns %.2f\n", md, mc,
           mt, ms);
    printf("median.split_minus_direct_ns %.2f\nmedian_of_runs.split_minus_direct_ns %.2f\n", ms - md,
           median(diff, runs));
    printf("median.split_minus_checked_ns %.2f\n", ms - mc);
    return NULL;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "--callgrind") == 0) {
        callgrind_mode = 1;
        iterations = 100000;
        a++;
        if (a < argc)
            iterations = strtoull(argv[a++], NULL, 10);
    } else {
        if (a < argc)
            runs = atoi(argv[a++]);
        if (a < argc)
            iterations = strtoull(argv[a++], NULL, 10);
    }
    if (runs < 1 || runs > MAX_RUNS || iterations < 1)
        fail("usage: hot_split [RUNS (1-%d)] [ITERATIONS] | hot_split --callgrind [ITERATIONS]", MAX_RUNS);
    if (capri_config(CAPRI_CONFIG_SCHEDULERS, 1) != 0)
        fail("capri_config");
    capri_self(); /* the runtime starts (and decides about its tool hooks) */
    if (callgrind_mode)
        capri_tools_active = 0;
    capri_t t;
    if (capri_spawn(&t, callgrind_mode ? body_callgrind : body, NULL, NULL) != 0 || capri_join(t, NULL) != 0)
        fail("spawn/join");
    return 0;
}
