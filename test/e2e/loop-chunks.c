// Counted loops checked once per chunk (docs/plugin.md, "Loop yield
// points"): the rewritten exit compare must end every loop after exactly
// the iterations it had. The same program is built with chunks of 2 to a
// few iterations (-capri-loop-chunk-work=16, so every chunk boundary and
// the last-chunk decision run often) and without loop yield points; the two
// print the same results for trip counts around each chunk size. Then a
// long counted loop must still be preempted: a second thread on the same
// scheduler runs while it is in progress.
//
// RUN: %capri-cc -O2 -mllvm -capri-loop-chunk-work=16 -Rpass=capri-loop-yield %s -o %t %capri-rt-link 2> %t.remarks
// RUN: FileCheck %s --check-prefix=REMARK < %t.remarks
// RUN: %capri-cc -O2 -mllvm -capri-loop-yield-points=0 %s -o %t.off %capri-rt-link
// RUN: %t > %t.out
// RUN: %t.off > %t.off.out
// RUN: diff %t.out %t.off.out
// RUN: FileCheck %s < %t.out
// The default chunk size, and the same results.
// RUN: %capri-cc -O2 %s -o %t.default %capri-rt-link
// RUN: %t.default > %t.default.out
// RUN: diff %t.default.out %t.off.out
// Preemption inside a chunked loop, and none without loop yield points.
// RUN: env CAPRI_TIME_SLICE_US=1000 %t.default preempt | FileCheck %s --check-prefix=PREEMPT
// RUN: env CAPRI_TIME_SLICE_US=1000 not %t.off preempt 2>&1 | FileCheck %s --check-prefix=STARVED
// A constant nest: its outer loops keep their checks.
// RUN: env CAPRI_TIME_SLICE_US=1000 %t.default preempt-nest | FileCheck %s --check-prefix=PREEMPT
//
// REMARK: loop yield point once every {{[0-9]+}} iterations
// CHECK: up_i64
// CHECK: checksum
// PREEMPT: the other thread ran after {{[0-9]+}} of {{[0-9]+}} iterations
// STARVED: starved
#include <capri.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 5000
static long a[MAXN + 8];
static volatile int sink;

// Kept out of line so each loop is compiled against a run-time n.
#define NOINLINE __attribute__((noinline))

NOINLINE static unsigned long up_i64(long n)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (long i = 0; i < n; i++)
        s += a[i] * (i | 1);
    return s;
}

NOINLINE static unsigned long down_i32(int n)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (int i = n; i > 0; i--)
        s = s * 31 + a[i];
    return s;
}

NOINLINE static unsigned long step3(long n)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (long i = 0; i != 3 * n; i += 3)
        s ^= (s << 1) + i;
    return s;
}

NOINLINE static unsigned long step_minus7(long n)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (long i = 7 * n; i != 0; i -= 7)
        s = s * 7 + i;
    return s;
}

NOINLINE static unsigned long offset_range(long lo, long hi)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (long i = lo; i < hi; i++)
        s += a[i] ^ i;
    return s;
}

NOINLINE static unsigned long exit_value(long n)
{
    long i = 0;
    unsigned long s = 0;
    for (; i < n; i++) {
        s += a[i];
        if (i > 0)
            s ^= a[i - 1];
    }
    return s * 1000003 + (unsigned long)i;
}

NOINLINE static unsigned long pointer_walk(const long *p, const long *end)
{
    unsigned long s = 0; // wraps: no signed overflow
    while (p != end)
        s = s * 5 + *p++;
    return s;
}

NOINLINE static unsigned byte_counter(unsigned char n)
{
    unsigned s = 0;
    for (unsigned char c = 0; c != n; c++)
        s = s * 3 + c;
    return s;
}

NOINLINE static unsigned long nested(long n)
{
    unsigned long s = 0; // wraps: no signed overflow
    for (long j = 0; j < n / 10 + 1; j++)
        for (long i = j; i < n; i++)
            s += (a[i] + j) & 0xff;
    return s;
}

NOINLINE static void fill(long n, long v)
{
    for (long i = 0; i < n; i++)
        a[i] = (a[i] * 17 + v + i) & 0xffff; // vectorised, with a remainder
}

// Preemption: a counted loop long enough to outlast several slices.
static atomic_int other_ran;
static atomic_long seen_at = -1;

NOINLINE static uint64_t long_loop(long n)
{
    uint64_t s = 1;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005u + (uint64_t)i;
        if (atomic_load_explicit(&other_ran, memory_order_relaxed) &&
            atomic_load_explicit(&seen_at, memory_order_relaxed) < 0)
            atomic_store_explicit(&seen_at, i, memory_order_relaxed);
    }
    return s;
}

// A call-free nest of constant trip counts: the innermost loop's run fits
// a chunk and has no check, the loops around it must keep theirs.
NOINLINE static uint64_t const_nest(void)
{
    uint64_t s = 1;
    for (int i = 0; i < 1000; i++)
        for (int j = 0; j < 1000; j++)
            for (int k = 0; k < 400; k++) {
                s = s * 6364136223846793005u + (uint64_t)k;
                if (atomic_load_explicit(&other_ran, memory_order_relaxed) &&
                    atomic_load_explicit(&seen_at, memory_order_relaxed) < 0)
                    atomic_store_explicit(&seen_at, i, memory_order_relaxed);
            }
    return s;
}

static void *spinner(void *arg)
{
    long n = *(long *)arg;
    sink = (int)(n ? long_loop(n) : const_nest());
    return NULL;
}

static void *other(void *arg)
{
    (void)arg;
    atomic_store(&other_ran, 1);
    return NULL;
}

static int preempt(bool nest)
{
    // About a second either way, far more than a slice; the nest's outer
    // loop counts 1000.
    long n = nest ? 0 : 400L * 1000 * 1000;
    long total = nest ? 1000 : n;
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    capri_t t1, t2;
    if (capri_spawn(&t1, spinner, &n, NULL) || capri_spawn(&t2, other, NULL, NULL)) {
        fprintf(stderr, "spawn failed\n");
        return 1;
    }
    capri_join(t1, NULL);
    capri_join(t2, NULL);
    long at = atomic_load(&seen_at);
    if (at < 0 || at >= total / 2) {
        fprintf(stderr, "starved: the other thread ran after %ld of %ld iterations\n", at, total);
        return 1;
    }
    printf("the other thread ran after %ld of %ld iterations\n", at, total);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "preempt") == 0)
        return preempt(false);
    if (argc > 1 && strcmp(argv[1], "preempt-nest") == 0)
        return preempt(true);
    for (long i = 0; i < MAXN + 8; i++)
        a[i] = (i * 2654435761u) & 0xffff;
    static const long ns[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65,
                              100, 127, 128, 129, 255, 256, 1000, 1023, 1024, 1025, 4095, 4097, MAXN};
    uint64_t checksum = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        long n = ns[k];
        unsigned long r[10];
        r[0] = up_i64(n);
        r[1] = down_i32((int)n);
        r[2] = step3(n);
        r[3] = step_minus7(n);
        r[4] = offset_range(n / 3, n);
        r[5] = exit_value(n);
        r[6] = byte_counter((unsigned char)n);
        r[7] = nested(n < 600 ? n : 600);
        fill(n, k);
        r[8] = up_i64(n);
        r[9] = pointer_walk(a + n / 4, a + n);
        printf("n=%ld up_i64=%lu down_i32=%lu step3=%lu step_minus7=%lu offset=%lu exit=%lu "
               "byte=%lu nested=%lu fill=%lu pointers=%lu\n",
               n, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]);
        for (int j = 0; j < 10; j++)
            checksum = checksum * 1099511628211u + (uint64_t)r[j];
    }
    printf("checksum %" PRIu64 "\n", checksum);
    return 0;
}
