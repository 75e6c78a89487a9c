/*
 * The program tools/gdb/capri.py's tests debug (test/unit/gdb): a few named
 * capri threads in known places when main reaches stop_here():
 *  - "sleeper-a", "sleeper-b": blocked in capri_sleep_ns, three calls deep
 *    (sleeper_main -> level_one -> level_two -> level_three);
 *  - "spinner": running on a scheduler of its own (busy in spin_here);
 *  - "finisher": returned, not joined yet (dead);
 *  - main: running on scheduler 0, in stop_here.
 * Their handles are in the globals sleeper_ids, spinner_id, finisher_id
 * (each thread stores its own capri_self()), so gdb can name them. Run
 * without gdb it cleans up and exits 0. With the argument "trap" it also
 * raises SIGTRAP just before calling stop_here (for stripped copies).
 *
 * Not a test_*.c: test/unit/runtime globs those into plain unit tests; this
 * one is built by test/unit/gdb/CMakeLists.txt.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capri.h"

#define NSLEEPERS 2

capri_t sleeper_ids[NSLEEPERS];
capri_t spinner_id;
capri_t finisher_id;
capri_t main_id;

static atomic_int sleepers_ready;
static atomic_int spinner_running;
static atomic_int spinner_stop;
static atomic_int finisher_done;
static volatile uint64_t sink;

/* Real calls, never tail calls or inlined: the backtrace must show each. */
__attribute__((noinline)) static int level_three(int n)
{
    int err = capri_sleep_ns(3600ull * 1000000000ull); /* an hour: until cancelled */
    sink += (uint64_t)n;
    return err;
}

__attribute__((noinline)) static int level_two(int n)
{
    int r = level_three(n + 1);
    sink += (uint64_t)r;
    return r + 1;
}

__attribute__((noinline)) static int level_one(int n)
{
    int r = level_two(n + 1);
    sink += (uint64_t)r;
    return r + 1;
}

static void *sleeper_main(void *arg)
{
    intptr_t i = (intptr_t)arg;
    sleeper_ids[i] = capri_self();
    atomic_fetch_add(&sleepers_ready, 1);
    int r = level_one((int)i);
    sink += (uint64_t)r;
    return NULL;
}

__attribute__((noinline)) static void spin_here(void)
{
    while (!atomic_load_explicit(&spinner_stop, memory_order_relaxed))
        sink++;
}

static void *spinner_main(void *arg)
{
    (void)arg;
    spinner_id = capri_self();
    atomic_store(&spinner_running, 1);
    spin_here();
    return NULL;
}

static void *finisher_main(void *arg)
{
    (void)arg;
    finisher_id = capri_self();
    atomic_store(&finisher_done, 1);
    return (void *)(intptr_t)42;
}

/* gdb's breakpoint: everything above is in place. */
__attribute__((noinline)) void stop_here(void);
__attribute__((noinline)) void stop_here(void)
{
    __asm__ volatile("" ::: "memory");
}

static int wait_flag(atomic_int *flag, int want, int spin)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(flag) < want) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            return -1;
        if (!spin)
            capri_sleep_ns(1000000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* "trap": stop with SIGTRAP where stop_here is called (a stripped copy
     * has no stop_here for gdb to break at). */
    int trap = argc > 1 && strcmp(argv[1], "trap") == 0;
    /* The spinner must get a scheduler of its own: main keeps scheduler 0
     * busy until another one has taken it. */
    if (capri_config(CAPRI_CONFIG_SCHEDULERS, 4) != 0) {
        fprintf(stderr, "gdb_capri_test: capri_config failed\n");
        return 1;
    }
    /* "dense" (with CAPRI_DENSE=1): first chunks from the dense classes,
     * which the gdb script must find as well (below 4 KiB). */
    size_t stack = argc > 1 && strcmp(argv[1], "dense") == 0 ? 4032 : 0;
    capri_t t;
    capri_attr_t spin_attr = {.name = "spinner", .stack_size = stack};
    if (capri_spawn(&t, spinner_main, NULL, &spin_attr) != 0)
        return 1;
    main_id = capri_self(); /* 0 before the runtime has started */
    if (wait_flag(&spinner_running, 1, 1) != 0) {
        fprintf(stderr, "gdb_capri_test: the spinner did not start\n");
        return 1;
    }
    capri_t sleepers[NSLEEPERS];
    static const char *const names[NSLEEPERS] = {"sleeper-a", "sleeper-b"};
    for (intptr_t i = 0; i < NSLEEPERS; i++) {
        capri_attr_t a = {.name = names[i], .stack_size = stack};
        if (capri_spawn(&sleepers[i], sleeper_main, (void *)i, &a) != 0)
            return 1;
    }
    capri_attr_t fin_attr = {.name = "finisher", .stack_size = stack};
    capri_t finisher;
    if (capri_spawn(&finisher, finisher_main, NULL, &fin_attr) != 0)
        return 1;
    if (wait_flag(&sleepers_ready, NSLEEPERS, 0) != 0 || wait_flag(&finisher_done, 1, 0) != 0) {
        fprintf(stderr, "gdb_capri_test: the sleepers did not start\n");
        return 1;
    }
    /* Time for them to park (and for the finisher to be switched out),
     * generous for a loaded machine. */
    capri_sleep_ns(300 * 1000000);

    int bad = t != spinner_id || finisher != finisher_id;
    for (int i = 0; i < NSLEEPERS; i++)
        bad |= sleepers[i] != sleeper_ids[i];
    printf("main %llu spinner %llu sleeper-a %llu sleeper-b %llu finisher %llu\n",
           (unsigned long long)main_id, (unsigned long long)spinner_id,
           (unsigned long long)sleeper_ids[0], (unsigned long long)sleeper_ids[1],
           (unsigned long long)finisher_id);
    fflush(stdout);

    if (trap)
        raise(SIGTRAP);
    stop_here();

    atomic_store(&spinner_stop, 1);
    for (int i = 0; i < NSLEEPERS; i++) {
        void *r;
        bad |= capri_cancel(sleepers[i]) != 0;
        bad |= capri_join(sleepers[i], &r) != 0 || r != CAPRI_CANCELED;
    }
    void *r;
    bad |= capri_join(t, NULL) != 0;
    bad |= capri_join(finisher, &r) != 0 || r != (void *)(intptr_t)42;
    if (bad) {
        fprintf(stderr, "gdb_capri_test: unexpected results\n");
        return 1;
    }
    printf("gdb_capri_test: ok\n");
    return 0;
}
