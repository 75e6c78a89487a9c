/*
 * capri_mutex: every call and error path, FIFO hand-off without barging,
 * timed locks (timeout, EINVAL, a timeout racing a hand-off), foreign
 * kernel threads on both sides of a hand-off, and a contended counter.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "rt_test.h"
#include "test.h"
#include "wait.h"

/* Waiters queued on q (read under its lock). */
/* Waits (yielding, then sleeping) until q holds n waiters; false after 10 s. */
/* ---- basic calls and errors ---------------------------------------------- */

static capri_mutex_t static_m; /* zero-initialised: ready */

static void *try_other(void *arg)
{
    capri_mutex_t *m = arg;
    intptr_t r = capri_mutex_trylock(m) * 1000 + capri_mutex_unlock(m);
    return (void *)r;
}

static void test_basic(void)
{
    capri_mutex_t m;
    CHECK_EQ(capri_mutex_init(&m), 0);
    CHECK_EQ(capri_mutex_lock(&m), 0);
    CHECK_EQ(capri_mutex_lock(&m), EDEADLK);
    CHECK_EQ(capri_mutex_trylock(&m), EBUSY);
    CHECK_EQ(capri_mutex_destroy(&m), EBUSY);
    struct timespec soon = abs_in_ms(10);
    CHECK_EQ(capri_mutex_timedlock(&m, &soon), EDEADLK);
    /* Another thread: trylock EBUSY, unlock EPERM. */
    CHECK_EQ((intptr_t)join(spawn(try_other, &m)), EBUSY * 1000 + EPERM);
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    CHECK_EQ(capri_mutex_unlock(&m), EPERM);
    CHECK_EQ(capri_mutex_trylock(&m), 0);
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    /* A free mutex: timedlock succeeds even with a deadline in the past and
     * even with a bad tv_nsec (EINVAL only when it would block). */
    struct timespec past = {0, 0};
    CHECK_EQ(capri_mutex_timedlock(&m, &past), 0);
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    CHECK_EQ(capri_mutex_destroy(&m), 0);

    CHECK_EQ(capri_mutex_lock(&static_m), 0);
    CHECK_EQ(static_m.word, (uintptr_t)static_m.word & ~(uintptr_t)1);
    CHECK(static_m.word != 0);
    CHECK_EQ(capri_mutex_unlock(&static_m), 0);
    CHECK_EQ(static_m.word, 0);
    CHECK_EQ(capri_mutex_init(NULL), EINVAL);
    CHECK_EQ(capri_mutex_lock(NULL), EINVAL);
}

/* ---- timed lock ----------------------------------------------------------- */

struct timed_arg {
    capri_mutex_t *m;
    long ms;
    int rc;
    uint64_t elapsed;
};

static void *timed_locker(void *arg)
{
    struct timed_arg *a = arg;
    struct timespec ts = abs_in_ms(a->ms);
    uint64_t t0 = now_ns();
    a->rc = capri_mutex_timedlock(a->m, &ts);
    a->elapsed = now_ns() - t0;
    if (a->rc == 0)
        capri_mutex_unlock(a->m);
    return NULL;
}

static void *bad_timed(void *arg)
{
    capri_mutex_t *m = arg;
    struct timespec bad = abs_in_ms(10);
    bad.tv_nsec = 1000000000L;
    int r1 = capri_mutex_timedlock(m, &bad);
    bad.tv_nsec = -1;
    int r2 = capri_mutex_timedlock(m, &bad);
    int r3 = capri_mutex_timedlock(m, NULL);
    struct timespec past = {1, 0};
    int r4 = capri_mutex_timedlock(m, &past);
    return (void *)(intptr_t)(r1 == EINVAL && r2 == EINVAL && r3 == EINVAL && r4 == ETIMEDOUT);
}

static void test_timed(void)
{
    capri_mutex_t m = {0};
    CHECK_EQ(capri_mutex_lock(&m), 0);
    struct timed_arg a = {&m, 50, -1, 0};
    join(spawn(timed_locker, &a));
    CHECK_EQ(a.rc, ETIMEDOUT);
    CHECK(a.elapsed >= 45000000u);
    CHECK(a.elapsed < 2000000000u);
    CHECK_EQ(queued(&m.q), 0);
    CHECK_EQ(m.word & 1, 0); /* the waiter bit went with the last waiter */
    CHECK_EQ((intptr_t)join(spawn(bad_timed, &m)), 1);

    /* Unlocked before the deadline: the timed locker gets it. */
    struct timed_arg b = {&m, 5000, -1, 0};
    capri_t t = spawn(timed_locker, &b);
    CHECK(wait_queued(&m.q, 1));
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    join(t);
    CHECK_EQ(b.rc, 0);
    CHECK(b.elapsed < 4000000000u);
    CHECK_EQ(m.word, 0);
    CHECK_EQ(capri_mutex_destroy(&m), 0);
}

/* A timeout racing a hand-off: whatever timedlock returns must be true. */
struct race_arg {
    capri_mutex_t *m;
    int bad;
    int got;
};

static void *race_locker(void *arg)
{
    struct race_arg *a = arg;
    struct timespec ts = abs_in_ms(1);
    int rc = capri_mutex_timedlock(a->m, &ts);
    int ur = capri_mutex_unlock(a->m);
    if (rc == 0) {
        a->got++;
        if (ur != 0)
            a->bad++;
    } else if (rc != ETIMEDOUT || ur != EPERM) {
        a->bad++;
    }
    return NULL;
}

static void test_timeout_race(void)
{
#ifdef CAPRI_TEST_SANITIZED
    enum { N = 100 };
#else
    enum { N = 600 };
#endif
    capri_mutex_t m = {0};
    struct race_arg a = {&m, 0, 0};
    for (int i = 0; i < N; i++) {
        CHECK_EQ(capri_mutex_lock(&m), 0);
        capri_t t = spawn(race_locker, &a);
        /* Unlock somewhere around the waiter's 1 ms deadline. */
        uint64_t end = now_ns() + (uint64_t)(i % 20) * 100000u;
        while (now_ns() < end)
            capri_yield();
        CHECK_EQ(capri_mutex_unlock(&m), 0);
        join(t);
        CHECK_EQ(m.word, 0);
    }
    CHECK_EQ(a.bad, 0);
    fprintf(stderr, "  timeout race: %d of %d timed locks succeeded\n", a.got, N);
}

/* ---- FIFO hand-off --------------------------------------------------------- */

enum { FIFO_N = 8 };
static int fifo_order[FIFO_N];
static int fifo_pos;
static capri_sem_t fifo_gate; /* each owner holds the mutex until main posts */

struct fifo_arg {
    capri_mutex_t *m;
    int id;
};

static void *fifo_locker(void *arg)
{
    struct fifo_arg *a = arg;
    if (capri_mutex_lock(a->m) != 0)
        return (void *)1;
    fifo_order[__atomic_fetch_add(&fifo_pos, 1, __ATOMIC_SEQ_CST)] = a->id;
    capri_sem_wait(&fifo_gate);
    return (void *)(intptr_t)capri_mutex_unlock(a->m);
}

static void test_fifo(void)
{
    capri_mutex_t m = {0};
    struct fifo_arg args[FIFO_N];
    capri_t ts[FIFO_N];
    fifo_pos = 0;
    CHECK_EQ(capri_mutex_lock(&m), 0);
    for (int i = 0; i < FIFO_N; i++) {
        args[i] = (struct fifo_arg){&m, i};
        ts[i] = spawn(fifo_locker, &args[i]);
        CHECK(wait_queued(&m.q, (unsigned)i + 1));
    }
    CHECK_EQ(capri_mutex_destroy(&m), EBUSY);
    CHECK_EQ(m.word & 1, 1);
    struct wait_node *first = m.q.head;
    struct capri_thread *first_thread = first->thread;
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    /* Handed over to the first waiter, which keeps it until we post: the
     * word names it, and we cannot barge in. */
    CHECK_EQ(m.word, (uintptr_t)first_thread | 1);
    CHECK_EQ(queued(&m.q), FIFO_N - 1);
    CHECK_EQ(capri_mutex_trylock(&m), EBUSY);
    CHECK_EQ(capri_mutex_unlock(&m), EPERM);
    struct timespec ts0 = {0, 0};
    CHECK_EQ(capri_mutex_timedlock(&m, &ts0), ETIMEDOUT);
    for (int i = 0; i < FIFO_N; i++)
        CHECK_EQ(capri_sem_post(&fifo_gate), 0);
    for (int i = 0; i < FIFO_N; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 0);
    CHECK_EQ(fifo_pos, FIFO_N);
    for (int i = 0; i < FIFO_N; i++)
        CHECK_EQ(fifo_order[i], i);
    CHECK_EQ(m.word, 0);
    CHECK_EQ(capri_mutex_destroy(&m), 0);
}

/* ---- foreign kernel threads ------------------------------------------------ */

struct foreign_arg {
    capri_mutex_t *m;
    volatile int stage;
    int rc[6];
};

static void *foreign_holder(void *arg)
{
    struct foreign_arg *a = arg;
    a->rc[0] = capri_mutex_lock(a->m);
    a->rc[1] = capri_mutex_lock(a->m); /* EDEADLK for a foreign owner too */
    __atomic_store_n(&a->stage, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&a->stage, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    /* A capri thread is queued now: hand it over from a foreign thread. */
    a->rc[2] = capri_mutex_unlock(a->m);
    a->rc[3] = capri_mutex_unlock(a->m); /* EPERM: handed over */
    __atomic_store_n(&a->stage, 3, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&a->stage, __ATOMIC_SEQ_CST) != 4)
        sched_yield();
    /* Then block on it (futex) until the capri side hands it back. */
    a->rc[4] = capri_mutex_lock(a->m);
    a->rc[5] = capri_mutex_unlock(a->m);
    return NULL;
}

static void *capri_locker(void *arg)
{
    capri_mutex_t *m = arg;
    return (void *)(intptr_t)(capri_mutex_lock(m) * 100 + capri_mutex_unlock(m));
}

static void test_foreign(void)
{
    capri_mutex_t m = {0};
    struct foreign_arg a = {&m, 0, {-1, -1, -1, -1, -1, -1}};
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, foreign_holder, &a), 0);
    while (__atomic_load_n(&a.stage, __ATOMIC_SEQ_CST) != 1)
        capri_sleep_ns(100000);
    CHECK_EQ(capri_mutex_unlock(&m), EPERM); /* owned by the foreign thread */
    capri_t t = spawn(capri_locker, &m);
    CHECK(wait_queued(&m.q, 1));
    __atomic_store_n(&a.stage, 2, __ATOMIC_SEQ_CST);
    CHECK_EQ((intptr_t)join(t), 0);
    while (__atomic_load_n(&a.stage, __ATOMIC_SEQ_CST) != 3)
        capri_sleep_ns(100000);
    CHECK_EQ(capri_mutex_lock(&m), 0);
    __atomic_store_n(&a.stage, 4, __ATOMIC_SEQ_CST);
    CHECK(wait_queued(&m.q, 1)); /* the foreign thread waits */
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_join(pt, NULL), 0);
    CHECK_EQ(a.rc[0], 0);
    CHECK_EQ(a.rc[1], EDEADLK);
    CHECK_EQ(a.rc[2], 0);
    CHECK_EQ(a.rc[3], EPERM);
    CHECK_EQ(a.rc[4], 0);
    CHECK_EQ(a.rc[5], 0);
    CHECK_EQ(m.word, 0);
}

/* ---- contended counter ------------------------------------------------------ */

static capri_mutex_t count_m;
static long counter;

static void *count_worker(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        if (capri_mutex_lock(&count_m) != 0)
            return (void *)1;
        long v = counter;
        if ((i & 15) == 0)
            capri_yield(); /* sometimes hold it across a switch */
        counter = v + 1;
        if (capri_mutex_unlock(&count_m) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_counter(void)
{
    enum { T = 16 };
#ifdef CAPRI_TEST_SANITIZED
    long n = 2000;
#else
    long n = 20000;
#endif
    capri_t ts[T];
    counter = 0;
    for (int i = 0; i < T; i++)
        ts[i] = spawn(count_worker, (void *)(intptr_t)n);
    for (int i = 0; i < T; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 0);
    CHECK_EQ(counter, T * n);
    CHECK_EQ(count_m.word, 0);
}

/* ---- uncontended cost (reported, not checked) -------------------------------- */

static void test_cost(void)
{
    capri_mutex_t m = {0};
    long n = 2000000;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        capri_mutex_lock(&m);
        capri_mutex_unlock(&m);
    }
    uint64_t dt = now_ns() - t0;
    CHECK_EQ(m.word, 0);
    fprintf(stderr, "  uncontended lock+unlock: %.1f ns\n", (double)dt / (double)n);
}

int main(void)
{
    RUN(test_basic);
    RUN(test_timed);
    RUN(test_timeout_race);
    RUN(test_fifo);
    RUN(test_foreign);
    RUN(test_counter);
    RUN(test_cost);
    return test_summary("test_mutex");
}
