/*
 * capri_sem, capri_once, capri_barrier: every call and error path, post
 * handing its unit to a waiter, timed waits, cancellation of a semaphore
 * waiter, once with concurrent callers, recursion and a cancelled first
 * runner, and a barrier over several generations.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "rt_test.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static int sem_value(capri_sem_t *s)
{
    int v = -1;
    CHECK_EQ(capri_sem_getvalue(s, &v), 0);
    return v;
}

/* ---- semaphore -------------------------------------------------------------- */

static capri_sem_t sem;

static void test_sem_basic(void)
{
    capri_sem_t s;
    CHECK_EQ(capri_sem_init(&s, (unsigned)INT_MAX + 1u), EINVAL);
    CHECK_EQ(capri_sem_init(&s, 2), 0);
    CHECK_EQ(sem_value(&s), 2);
    CHECK_EQ(capri_sem_trywait(&s), 0);
    CHECK_EQ(capri_sem_wait(&s), 0);
    CHECK_EQ(sem_value(&s), 0);
    CHECK_EQ(capri_sem_trywait(&s), EAGAIN);
    struct timespec past = {1, 0};
    CHECK_EQ(capri_sem_timedwait(&s, &past), ETIMEDOUT);
    struct timespec bad = abs_in_ms(10);
    bad.tv_nsec = 1000000000L;
    CHECK_EQ(capri_sem_timedwait(&s, &bad), EINVAL);
    CHECK_EQ(capri_sem_timedwait(&s, NULL), EINVAL);
    CHECK_EQ(capri_sem_post(&s), 0);
    CHECK_EQ(capri_sem_post(&s), 0);
    CHECK_EQ(sem_value(&s), 2);
    /* Available: a timed wait succeeds whatever its deadline. */
    CHECK_EQ(capri_sem_timedwait(&s, &past), 0);
    CHECK_EQ(capri_sem_timedwait(&s, &bad), 0);
    CHECK_EQ(capri_sem_destroy(&s), 0);

    CHECK_EQ(capri_sem_init(&s, INT_MAX - 1), 0);
    CHECK_EQ(capri_sem_post(&s), 0);
    CHECK_EQ(sem_value(&s), INT_MAX);
    CHECK_EQ(capri_sem_post(&s), EOVERFLOW);
    CHECK_EQ(sem_value(&s), INT_MAX);
    CHECK_EQ(capri_sem_trywait(&s), 0);
    CHECK_EQ(capri_sem_post(&s), 0);

    capri_sem_t z = {0}; /* zero-initialised: value 0 */
    CHECK_EQ(capri_sem_trywait(&z), EAGAIN);
    CHECK_EQ(capri_sem_post(&z), 0);
    CHECK_EQ(capri_sem_trywait(&z), 0);
    CHECK_EQ(capri_sem_getvalue(&z, NULL), EINVAL);
    CHECK_EQ(capri_sem_post(NULL), EINVAL);
}

struct sem_arg {
    int rc;
    uint64_t elapsed;
    long ms; /* 0: untimed */
};

static void *sem_waiter(void *arg)
{
    struct sem_arg *a = arg;
    uint64_t t0 = now_ns();
    if (a->ms) {
        struct timespec ts = abs_in_ms(a->ms);
        a->rc = capri_sem_timedwait(&sem, &ts);
    } else {
        a->rc = capri_sem_wait(&sem);
    }
    a->elapsed = now_ns() - t0;
    return NULL;
}

static void test_sem_block(void)
{
    CHECK_EQ(capri_sem_init(&sem, 0), 0);
    /* Timed out. */
    struct sem_arg a = {-1, 0, 50};
    join(spawn(sem_waiter, &a));
    CHECK_EQ(a.rc, ETIMEDOUT);
    CHECK(a.elapsed >= 45000000u && a.elapsed < 2000000000u);
    CHECK_EQ(queued(&sem.q), 0);
    CHECK_EQ(sem.value, 0); /* no waiter bit left behind */

    /* A post hands its unit to the waiter: the value stays 0. */
    struct sem_arg b = {-1, 0, 0}, c = {-1, 0, 10000};
    capri_t tb = spawn(sem_waiter, &b);
    CHECK(wait_queued(&sem.q, 1));
    capri_t tc = spawn(sem_waiter, &c);
    CHECK(wait_queued(&sem.q, 2));
    CHECK_EQ(capri_sem_destroy(&sem), EBUSY);
    CHECK_EQ(capri_sem_post(&sem), 0);
    CHECK_EQ(sem_value(&sem), 0);
    CHECK_EQ(capri_sem_trywait(&sem), EAGAIN); /* no barging */
    CHECK_EQ(queued(&sem.q), 1);
    CHECK_EQ(capri_sem_post(&sem), 0);
    CHECK_EQ(sem_value(&sem), 0);
    join(tb);
    join(tc);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(c.rc, 0);
    CHECK(c.elapsed < 5000000000u);
    CHECK_EQ(capri_sem_post(&sem), 0);
    CHECK_EQ(sem_value(&sem), 1); /* no waiters: the count goes up */
    CHECK_EQ(capri_sem_trywait(&sem), 0);
    CHECK_EQ(capri_sem_destroy(&sem), 0);
}

static int sem_cleanup_ran;
static void sem_cleanup(void *arg)
{
    (void)arg;
    sem_cleanup_ran++;
}

static capri_mutex_t gate; /* held by main to keep a thread from starting */

static void *sem_cancel_waiter(void *arg)
{
    long ms = (long)(intptr_t)arg;
    /* Not a cancellation point: a cancel sent meanwhile stays pending. */
    capri_mutex_lock(&gate);
    capri_mutex_unlock(&gate);
    capri_cleanup_push(sem_cleanup, NULL);
    for (;;) {
        if (ms) {
            struct timespec ts = abs_in_ms(ms);
            capri_sem_timedwait(&sem, &ts);
        } else {
            capri_sem_wait(&sem);
        }
    }
    capri_cleanup_pop(0);
    return NULL;
}

static void test_sem_cancel(void)
{
    capri_sem_init(&sem, 0);
    for (int k = 0; k < 2; k++) {
        sem_cleanup_ran = 0;
        capri_t t = spawn(sem_cancel_waiter, (void *)(intptr_t)(k ? 60000 : 0));
        CHECK(wait_queued(&sem.q, 1));
        CHECK_EQ(capri_cancel(t), 0);
        CHECK(join(t) == CAPRI_CANCELED);
        CHECK_EQ(sem_cleanup_ran, 1);
        CHECK_EQ(queued(&sem.q), 0);
        CHECK_EQ(sem.value, 0);
        CHECK_EQ(capri_sem_destroy(&sem), 0);
    }
    /* Pending on entry: acts even though a unit is available. */
    capri_sem_post(&sem);
    sem_cleanup_ran = 0;
    capri_mutex_lock(&gate);
    capri_t t = spawn(sem_cancel_waiter, NULL);
    CHECK_EQ(capri_cancel(t), 0);
    capri_mutex_unlock(&gate);
    CHECK(join(t) == CAPRI_CANCELED);
    CHECK_EQ(sem_cleanup_ran, 1);
    CHECK_EQ(sem_value(&sem), 1);
}

/* A post that pops a waiter whose canceller already won its token hands the
 * unit over anyway: the wait returns 0 and the cancellation stays pending.
 * Deterministic when the waiter shares our scheduler. */
static int sem_race_rc = -1;

static void *sem_race_waiter(void *arg)
{
    (void)arg;
    sem_race_rc = capri_sem_wait(&sem);
    capri_testcancel();
    return NULL;
}

static void test_sem_cancel_post_race(void)
{
    capri_sem_init(&sem, 0);
    int colocated = 0;
    for (int tries = 0; tries < 200 && !colocated; tries++) {
        sem_race_rc = -1;
        capri_t t = spawn(sem_race_waiter, NULL);
        capri_yield(); /* run it here now, before an idle scheduler steals it */
        CHECK(wait_queued(&sem.q, 1));
        struct capri_thread *th = thread_from_handle(t);
        colocated = th && th->sched == thread_current()->sched;
        CHECK_EQ(capri_cancel(t), 0);
        if (colocated) {
            CHECK_EQ(capri_sem_post(&sem), 0);
            CHECK_EQ(sem_value(&sem), 0); /* handed over, not counted */
            CHECK_EQ(capri_sem_destroy(&sem), EBUSY);
        }
        CHECK(join(t) == CAPRI_CANCELED);
        if (colocated)
            CHECK_EQ(sem_race_rc, 0);
        CHECK_EQ(sem_value(&sem), 0);
        CHECK_EQ(capri_sem_destroy(&sem), 0);
    }
    CHECK(colocated);
}

/* A foreign kernel thread waits on the semaphore (futex). */
static void *foreign_sem(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)(capri_sem_wait(&sem) + 1);
}

static void test_sem_foreign(void)
{
    capri_sem_init(&sem, 0);
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, foreign_sem, NULL), 0);
    CHECK(wait_queued(&sem.q, 1));
    CHECK_EQ(capri_sem_post(&sem), 0);
    void *res = NULL;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK_EQ((intptr_t)res, 1);
    CHECK_EQ(sem_value(&sem), 0);
}

/* ---- once ------------------------------------------------------------------ */

static capri_once_t once1 = CAPRI_ONCE_INIT;
static int once1_runs, once1_done;

static void once1_fn(void)
{
    once1_runs++;
    capri_sleep_ns(20000000); /* the other callers must wait for this */
    __atomic_store_n(&once1_done, 1, __ATOMIC_SEQ_CST);
}

static void *once_caller(void *arg)
{
    (void)arg;
    int rc = capri_once(&once1, once1_fn);
    /* On return fn has completed. */
    return (void *)(intptr_t)(rc == 0 && __atomic_load_n(&once1_done, __ATOMIC_SEQ_CST) == 1);
}

static capri_once_t once_rec;
static int once_rec_inner = -1;
static void once_rec_fn(void) { once_rec_inner = capri_once(&once_rec, once_rec_fn); }

static capri_once_t once_cancel;
static int once_cancel_runs, once_cancel_done;
static void once_cancel_fn(void)
{
    if (__atomic_fetch_add(&once_cancel_runs, 1, __ATOMIC_SEQ_CST) == 0)
        capri_sleep_ns(60000000000ull); /* the first run gets cancelled here */
    __atomic_store_n(&once_cancel_done, 1, __ATOMIC_SEQ_CST);
}

static void *once_cancel_caller(void *arg)
{
    (void)arg;
    int rc = capri_once(&once_cancel, once_cancel_fn);
    return (void *)(intptr_t)(rc == 0 && __atomic_load_n(&once_cancel_done, __ATOMIC_SEQ_CST));
}

static void test_once(void)
{
    enum { N = 10 };
    capri_t ts[N];
    for (int i = 0; i < N; i++)
        ts[i] = spawn(once_caller, NULL);
    for (int i = 0; i < N; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 1);
    CHECK_EQ(once1_runs, 1);
    CHECK_EQ(capri_once(&once1, once1_fn), 0);
    CHECK_EQ(once1_runs, 1);
    CHECK_EQ(capri_once(NULL, once1_fn), EINVAL);
    CHECK_EQ(capri_once(&once1, NULL), EINVAL);

    /* Recursion on the same object: EDEADLK inside, 0 outside. */
    CHECK_EQ(capri_once(&once_rec, once_rec_fn), 0);
    CHECK_EQ(once_rec_inner, EDEADLK);

    /* The first runner is cancelled inside fn: a waiting caller runs fn
     * again and everyone returns after that run completed. */
    capri_t first = spawn(once_cancel_caller, NULL);
    uint64_t end = now_ns() + 10000000000ull;
    while (__atomic_load_n(&once_cancel_runs, __ATOMIC_SEQ_CST) == 0 && now_ns() < end)
        capri_sleep_ns(100000);
    capri_t second = spawn(once_cancel_caller, NULL);
    CHECK(wait_queued(&once_cancel.q, 1));
    CHECK_EQ(capri_cancel(first), 0);
    CHECK(join(first) == CAPRI_CANCELED);
    CHECK_EQ((intptr_t)join(second), 1);
    CHECK_EQ(once_cancel_runs, 2);
    CHECK_EQ(capri_once(&once_cancel, once_cancel_fn), 0);
    CHECK_EQ(once_cancel_runs, 2);
}

/* ---- barrier ------------------------------------------------------------------ */

enum { B_THREADS = 6, B_ROUNDS = 50 };
static capri_barrier_t bar;
static int b_arrived[B_ROUNDS];
static int b_serial[B_ROUNDS];
static int b_bad;

static void *barrier_fn(void *arg)
{
    (void)arg;
    for (int r = 0; r < B_ROUNDS; r++) {
        __atomic_fetch_add(&b_arrived[r], 1, __ATOMIC_SEQ_CST);
        if (r % 3 == 0)
            capri_yield();
        int rc = capri_barrier_wait(&bar);
        if (rc == CAPRI_BARRIER_SERIAL_THREAD)
            __atomic_fetch_add(&b_serial[r], 1, __ATOMIC_SEQ_CST);
        else if (rc != 0)
            __atomic_fetch_add(&b_bad, 1, __ATOMIC_SEQ_CST);
        /* Nobody passes before everyone arrived. */
        if (__atomic_load_n(&b_arrived[r], __ATOMIC_SEQ_CST) != B_THREADS)
            __atomic_fetch_add(&b_bad, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *barrier_one(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)capri_barrier_wait(&bar);
}

static void test_barrier(void)
{
    capri_barrier_t z = {0};
    CHECK_EQ(capri_barrier_wait(&z), EINVAL); /* count 0: not initialised */
    CHECK_EQ(capri_barrier_init(&z, 0), EINVAL);
    CHECK_EQ(capri_barrier_init(&z, 1), 0);
    CHECK_EQ(capri_barrier_wait(&z), CAPRI_BARRIER_SERIAL_THREAD);
    CHECK_EQ(capri_barrier_wait(&z), CAPRI_BARRIER_SERIAL_THREAD);
    CHECK_EQ(capri_barrier_destroy(&z), 0);
    CHECK_EQ(capri_barrier_wait(&z), EINVAL); /* destroyed */

    CHECK_EQ(capri_barrier_init(&bar, B_THREADS), 0);
    capri_t ts[B_THREADS];
    for (int i = 0; i < B_THREADS; i++)
        ts[i] = spawn(barrier_fn, NULL);
    for (int i = 0; i < B_THREADS; i++)
        join(ts[i]);
    CHECK_EQ(b_bad, 0);
    int serial_ok = 1;
    for (int r = 0; r < B_ROUNDS; r++)
        serial_ok &= b_serial[r] == 1 && b_arrived[r] == B_THREADS;
    CHECK(serial_ok);
    CHECK_EQ(bar.generation, B_ROUNDS);

    /* destroy while a thread waits: EBUSY. */
    CHECK_EQ(capri_barrier_init(&bar, 2), 0);
    capri_t t = spawn(barrier_one, NULL);
    CHECK(wait_queued(&bar.q, 1));
    CHECK_EQ(capri_barrier_destroy(&bar), EBUSY);
    CHECK_EQ(capri_barrier_init(&bar, 2), EBUSY);
    int mine = capri_barrier_wait(&bar);
    int theirs = (int)(intptr_t)join(t);
    CHECK((mine == CAPRI_BARRIER_SERIAL_THREAD && theirs == 0) ||
          (mine == 0 && theirs == CAPRI_BARRIER_SERIAL_THREAD));
    CHECK_EQ(capri_barrier_destroy(&bar), 0);
}

int main(void)
{
    RUN(test_sem_basic);
    RUN(test_sem_block);
    RUN(test_sem_cancel);
    RUN(test_sem_cancel_post_race);
    RUN(test_sem_foreign);
    RUN(test_once);
    RUN(test_barrier);
    return test_summary("test_sem_once_barrier");
}
