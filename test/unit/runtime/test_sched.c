/*
 * Scheduling: FIFO order within a scheduler, a spawned thread's place in
 * that order, threads that never ran being stolen by an idle scheduler, a
 * started thread never changing kernel threads unless migratable, timer
 * order, sleeping, and deferred cancellation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

static long kernel_tid(void) { return syscall(SYS_gettid); }

/* ---- FIFO within one scheduler (tests run with one scheduler first) ---- */

static int order[64];
static int order_len;
static void record(int v) { order[__atomic_fetch_add(&order_len, 1, __ATOMIC_RELAXED)] = v; }

static void *fifo_body(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int round = 0; round < 3; round++) {
        record(id * 10 + round);
        capri_yield();
    }
    return NULL;
}

static void test_fifo(void)
{
    order_len = 0;
    capri_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(capri_spawn(&t[i], fifo_body, (void *)(intptr_t)(i + 1), NULL), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(capri_join(t[i], NULL), 0);
    /* Round robin in spawn order: 10 20 30 11 21 31 12 22 32. */
    static const int want[9] = {10, 20, 30, 11, 21, 31, 12, 22, 32};
    CHECK_EQ(order_len, 9);
    for (int i = 0; i < 9; i++)
        CHECK_EQ(order[i], want[i]);
}

/* A thread spawned while others are yielding runs before any of them has
 * run twice more. */
static volatile int late_ran;
static int runs_before_late[4];
static void *late_body(void *arg)
{
    (void)arg;
    late_ran = 1;
    return NULL;
}
static void *busy_body(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 20; i++) {
        if (!late_ran)
            runs_before_late[id]++;
        capri_yield();
    }
    return NULL;
}

static void test_spawn_fairness(void)
{
    capri_t t[4], late;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(capri_spawn(&t[i], busy_body, (void *)(intptr_t)i, NULL), 0);
    capri_yield(); /* each busy thread runs once */
    CHECK_EQ(capri_spawn(&late, late_body, NULL, NULL), 0);
    capri_yield();
    CHECK(late_ran);
    for (int i = 0; i < 4; i++)
        CHECK(runs_before_late[i] <= 2);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(capri_join(t[i], NULL), 0);
    CHECK_EQ(capri_join(late, NULL), 0);
}

/* ---- timers ---- */

/* Deadlines from one base time, so that the order does not depend on when
 * each thread got to run (a loaded machine can stop the scheduler's kernel
 * thread between two starts for longer than the 10 ms between deadlines). */
static struct timespec timer_base;

static void *sleep_and_record(void *arg)
{
    int ms = (int)(intptr_t)arg;
    struct timespec at = timer_base;
    at.tv_nsec += (long)ms * 1000000L;
    at.tv_sec += at.tv_nsec / 1000000000L;
    at.tv_nsec %= 1000000000L;
    capri_sleep_until(&at);
    record(ms);
    return NULL;
}

static void test_timer_order(void)
{
    order_len = 0;
    static const int ms[8] = {40, 10, 70, 30, 0, 50, 20, 60};
    clock_gettime(CLOCK_REALTIME, &timer_base);
    capri_t t[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(capri_spawn(&t[i], sleep_and_record, (void *)(intptr_t)ms[i], NULL), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(capri_join(t[i], NULL), 0);
    CHECK_EQ(order_len, 8);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(order[i], i * 10);
}

static struct timespec same_deadline;
static void *sleep_until_record(void *arg)
{
    capri_sleep_until(&same_deadline);
    record((int)(intptr_t)arg);
    return NULL;
}

static void test_equal_deadlines(void)
{
    /* Equal deadlines fire in the order the timers were set. */
    order_len = 0;
    clock_gettime(CLOCK_REALTIME, &same_deadline);
    same_deadline.tv_nsec += 20000000;
    if (same_deadline.tv_nsec >= 1000000000) {
        same_deadline.tv_sec++;
        same_deadline.tv_nsec -= 1000000000;
    }
    capri_t t[6];
    for (int i = 0; i < 6; i++)
        CHECK_EQ(capri_spawn(&t[i], sleep_until_record, (void *)(intptr_t)i, NULL), 0);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(capri_join(t[i], NULL), 0);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(order[i], i);
    struct timespec bad = {0, 2000000000L};
    CHECK_EQ(capri_sleep_until(&bad), EINVAL);
    CHECK_EQ(capri_sleep_until(NULL), EINVAL);
}

static void test_sleep_duration(void)
{
    uint64_t t0 = now_ns();
    CHECK_EQ(capri_sleep_ns(30000000), 0);
    uint64_t took = now_ns() - t0;
    CHECK(took >= 30000000);
    CHECK(took < 500000000);
    t0 = now_ns();
    CHECK_EQ(capri_sleep_ns(0), 0);
    CHECK(now_ns() - t0 < 100000000);
}

/* ---- cancellation ---- */

static volatile int cleanup_ran;
static void note_cleanup(void *arg) { cleanup_ran = (int)(intptr_t)arg; }

static void *sleep_long(void *arg)
{
    (void)arg;
    capri_cleanup_push(note_cleanup, (void *)5);
    capri_sleep_ns(10ull * 1000000000u);
    capri_cleanup_pop(0);
    return NULL;
}

static void *cancel_disabled_body(void *arg)
{
    (void)arg;
    int old;
    capri_setcancelstate(CAPRI_CANCEL_DISABLE, &old);
    capri_sleep_ns(20000000); /* not cancelled here */
    capri_setcancelstate(CAPRI_CANCEL_ENABLE, &old);
    capri_testcancel();
    return (void *)1; /* never reached */
}

static void *spin_then_yield(void *arg)
{
    volatile int *go = arg;
    while (!*go)
        capri_yield();
    return (void *)2;
}

static void test_cancel(void)
{
    capri_t t;
    void *r = NULL;
    cleanup_ran = 0;
    CHECK_EQ(capri_spawn(&t, sleep_long, NULL, NULL), 0);
    capri_sleep_ns(5000000);
    uint64_t t0 = now_ns();
    CHECK_EQ(capri_cancel(t), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == CAPRI_CANCELED);
    CHECK_EQ(cleanup_ran, 5);
    CHECK(now_ns() - t0 < 1000000000u);

    CHECK_EQ(capri_spawn(&t, cancel_disabled_body, NULL, NULL), 0);
    capri_sleep_ns(2000000);
    CHECK_EQ(capri_cancel(t), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == CAPRI_CANCELED);

    /* Cancelled at a yield. */
    volatile int go = 0;
    CHECK_EQ(capri_spawn(&t, spin_then_yield, (void *)&go, NULL), 0);
    capri_sleep_ns(2000000);
    CHECK_EQ(capri_cancel(t), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == CAPRI_CANCELED);

    /* Cancelled before it ever ran. */
    CHECK_EQ(capri_spawn(&t, sleep_long, NULL, NULL), 0);
    CHECK_EQ(capri_cancel(t), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == CAPRI_CANCELED);
    CHECK_EQ(capri_setcancelstate(7, NULL), EINVAL);
}

/* A joiner cancelled while it waits leaves the target joinable. */
static capri_t join_target;
static void *join_and_wait(void *arg)
{
    (void)arg;
    capri_join(join_target, NULL);
    return (void *)3;
}

static void test_cancel_joiner(void)
{
    capri_t j;
    void *r;
    CHECK_EQ(capri_spawn(&join_target, sleep_long, NULL, NULL), 0);
    CHECK_EQ(capri_spawn(&j, join_and_wait, NULL, NULL), 0);
    capri_sleep_ns(5000000);
    CHECK_EQ(capri_cancel(j), 0);
    CHECK_EQ(capri_join(j, &r), 0);
    CHECK(r == CAPRI_CANCELED);
    CHECK_EQ(capri_cancel(join_target), 0);
    CHECK_EQ(capri_join(join_target, &r), 0);
    CHECK(r == CAPRI_CANCELED);
}

/* ---- several schedulers: stealing and (no) migration ---- */

static long main_tid;
static void *where_do_i_run(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)kernel_tid();
}

static void test_steal_never_ran(void)
{
    /* The main thread spawns and then busy-waits in the kernel's eyes
     * (no yield): the new threads can only run if another scheduler
     * steals them. */
    main_tid = kernel_tid();
    enum { N = 64 };
    capri_t t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(capri_spawn(&t[i], where_do_i_run, NULL, NULL), 0);
    uint64_t until = now_ns() + 50000000;
    while (now_ns() < until)
        ;
    int elsewhere = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        CHECK_EQ(capri_join(t[i], &r), 0);
        if ((long)(intptr_t)r != main_tid)
            elsewhere++;
    }
    CHECK(elsewhere > 0);
}

static volatile int moved_count;
static void *stay_put(void *arg)
{
    int migratable = (int)(intptr_t)arg;
    long first = kernel_tid();
    int moves = 0;
    for (int i = 0; i < 2000; i++) {
        if (i % 7 == 0)
            capri_sleep_ns(10000);
        else
            capri_yield();
        if (kernel_tid() != first) {
            moves++;
            first = kernel_tid();
        }
    }
    if (migratable)
        __atomic_fetch_add(&moved_count, moves, __ATOMIC_RELAXED);
    return (void *)(intptr_t)moves;
}

static void test_started_threads_stay(void)
{
    enum { N = 16 };
    capri_t t[N];
    for (int i = 0; i < N; i++) {
        capri_attr_t attr = {.migratable = i >= N / 2};
        CHECK_EQ(capri_spawn(&t[i], stay_put, (void *)(intptr_t)(i >= N / 2), &attr), 0);
    }
    for (int i = 0; i < N; i++) {
        void *moves;
        CHECK_EQ(capri_join(t[i], &moves), 0);
        if (i < N / 2)
            CHECK_EQ((intptr_t)moves, 0);
    }
    fprintf(stderr, "  migratable threads changed kernel threads %d times\n", moved_count);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "many") == 0) {
        /* Re-executed with two schedulers for the cross-scheduler tests. */
        capri_config(CAPRI_CONFIG_SCHEDULERS, 2);
        RUN(test_steal_never_ran);
        RUN(test_started_threads_stay);
        RUN(test_cancel);
        RUN(test_cancel_joiner);
        RUN(test_timer_order);
        return test_summary("test_sched (2 schedulers)");
    }
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    RUN(test_fifo);
    RUN(test_spawn_fairness);
    RUN(test_timer_order);
    RUN(test_equal_deadlines);
    RUN(test_sleep_duration);
    RUN(test_cancel);
    RUN(test_cancel_joiner);
    int rc = test_summary("test_sched (1 scheduler)");
    fflush(NULL);
    if (rc == 0)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
