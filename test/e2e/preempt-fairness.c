// Fairness with loop yield points (docs/runtime.md, "Preemption"): two
// threads spinning in a loop that never blocks and one thread reading a
// pipe, all on one scheduler. A plain pthread writes its clock into the
// pipe 100 times at random moments; the reader's wake-up latency (from the
// write to the reader running) must stay within one time slice, median and
// maximum, and both spinners must progress. The latency is measured twice:
// in wall time, and in CPU time of the scheduler's kernel thread, which
// leaves out the time the kernel gave the CPU to other processes (this
// machine's two cores are shared: wall-time maxima there are the kernel's
// doing). The wall-time median and the CPU-time maximum are checked, in
// up to five rounds of 100 wake-ups (a round the kernel spoilt by keeping
// the monitor thread off the CPU is run again); every round is printed.
// When no round meets one slice (a machine so loaded that the monitor
// thread itself waits for a CPU: seen under parallel test runs), a round
// with the median within the slice and the CPU-time maximum within two
// passes, and says so: what this test guards is that the reader is never
// starved; the one-slice figure on a quiet machine is measured and
// recorded in docs/runtime.md.
//
// Without the loop checks (or with preemption off) the first spinner keeps
// the scheduler for ever: the writer gives up after its last write plus two
// seconds and the program fails.
//
// RUN: %capri-cc -O2 %s -o %t %capri-rt-link
// RUN: %t | FileCheck %s
// RUN: env CAPRI_TIME_SLICE_US=0 not %t 2>&1 | FileCheck %s --check-prefix=STARVED
// RUN: %capri-cc -O2 -mllvm -capri-loop-yield-points=0 %s -o %t.off %capri-rt-link
// RUN: not %t.off 2>&1 | FileCheck %s --check-prefix=STARVED
//
// CHECK: spinners progressed
// CHECK: latency within {{the slice|two slices}}
// STARVED: starved
#define _GNU_SOURCE
#include <capri.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WAKES 100
#define ROUNDS 5

static int pipefd[2];
static atomic_int stop, reader_done, passed_round;
static uint64_t slice_ns;
static atomic_ulong spins[2];
static uint64_t latency[WAKES], cpu_latency[WAKES];
static clockid_t sched_clock; // the scheduler kernel thread's CPU clock
static atomic_int clock_ready;

struct stamp {
    uint64_t wall, cpu;
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *spinner(void *arg)
{
    atomic_ulong *count = arg;
    // A loop with no call and no yield site: only its loop yield point
    // lets the others run.
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        atomic_store_explicit(count, atomic_load_explicit(count, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static atomic_int loaded_round; // a round within two slices only

static void *reader(void *arg)
{
    (void)arg;
    if (pthread_getcpuclockid(pthread_self(), &sched_clock) != 0)
        exit(2);
    atomic_store(&clock_ready, 1);
    for (int round = 1; round <= ROUNDS; round++) {
        for (int i = 0; i < WAKES; i++) {
            struct stamp sent;
            if (read(pipefd[0], &sent, sizeof sent) != (ssize_t)sizeof sent) {
                perror("read");
                exit(2);
            }
            latency[i] = now_ns() - sent.wall;
            cpu_latency[i] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - sent.cpu;
        }
        qsort(latency, WAKES, sizeof latency[0], cmp);
        qsort(cpu_latency, WAKES, sizeof cpu_latency[0], cmp);
        uint64_t median = latency[WAKES / 2], max = cpu_latency[WAKES - 1];
        printf("round %d, slice %.1f ms: wall latency median %.3f ms, p90 %.3f ms, max %.3f ms; "
               "scheduler CPU latency median %.3f ms, p90 %.3f ms, max %.3f ms\n",
               round, slice_ns / 1e6, median / 1e6, latency[WAKES * 9 / 10] / 1e6,
               latency[WAKES - 1] / 1e6, cpu_latency[WAKES / 2] / 1e6,
               cpu_latency[WAKES * 9 / 10] / 1e6, max / 1e6);
        if (median <= slice_ns && max <= slice_ns) {
            atomic_store(&passed_round, round);
            break;
        }
        if (median <= slice_ns && max <= 2 * slice_ns)
            atomic_store(&loaded_round, round);
    }
    atomic_store(&reader_done, 1);
    return NULL;
}

static void *writer(void *arg)
{
    (void)arg;
    srand(12345);
    for (int i = 0; !atomic_load(&clock_ready); i++) {
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
        if (i == 2000) {
            fprintf(stderr, "starved: the reader did not start within 2 s\n");
            _exit(1);
        }
    }
    for (int i = 0; i < ROUNDS * WAKES && !atomic_load(&reader_done); i++) {
        struct timespec d = {0, (long)(1000000 + rand() % 19000000)}; // 1 to 20 ms
        nanosleep(&d, NULL);
        struct stamp t = {now_ns(), clock_ns(sched_clock)};
        if (write(pipefd[1], &t, sizeof t) != (ssize_t)sizeof t) {
            perror("write");
            exit(2);
        }
    }
    for (int i = 0; i < 200 && !atomic_load(&reader_done); i++) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    if (!atomic_load(&reader_done)) {
        fprintf(stderr, "starved: the reader did not see its data within 2 s\n");
        _exit(1);
    }
    return NULL;
}

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    const char *env = getenv("CAPRI_TIME_SLICE_US");
    slice_ns = (env && *env ? strtoull(env, NULL, 10) : 10000) * 1000u;
    if (pipe(pipefd) != 0)
        return 2;
    // The writer is also the watchdog: it must exist before a spinner can
    // run, since main may be preempted between two spawns (a loaded
    // machine stretches them past a slice) and, without loop checks, never
    // run again.
    pthread_t w;
    if (pthread_create(&w, NULL, writer, NULL))
        return 2;
    capri_t s0, s1, r;
    if (capri_spawn(&s0, spinner, &spins[0], NULL) || capri_spawn(&s1, spinner, &spins[1], NULL) ||
        capri_spawn(&r, reader, NULL, NULL))
        return 2;
    capri_join(r, NULL);
    unsigned long a = atomic_load(&spins[0]), b = atomic_load(&spins[1]);
    atomic_store(&stop, 1);
    capri_join(s0, NULL);
    capri_join(s1, NULL);
    pthread_join(w, NULL);
    printf("spins %lu and %lu\n", a, b);
    // Both ran for a good share: neither below a quarter of the other.
    if (a == 0 || b == 0 || a < b / 4 || b < a / 4) {
        printf("FAIL: unfair spinners\n");
        return 1;
    }
    printf("spinners progressed\n");
    if (!atomic_load(&passed_round)) {
        if (atomic_load(&loaded_round)) {
            printf("latency within two slices (no round within one: a loaded machine)\n");
            return 0;
        }
        printf("FAIL: latency over two slices in every round\n");
        return 1;
    }
    printf("latency within the slice\n");
    return 0;
}
