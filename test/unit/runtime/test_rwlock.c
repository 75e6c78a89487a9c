/*
 * capri_rwlock: shared readers, exclusive writers, errors (EDEADLK, EPERM,
 * EBUSY, EINVAL, ETIMEDOUT), writer preference, readers let in when the
 * waiting writer times out, and a reader/writer stress with an invariant.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "rt_test.h"
#include "test.h"
#include "wait.h"

/* Waiters queued on one of rw's queues (both are under writers.lock). */
static unsigned rw_queued(capri_rwlock_t *rw, struct capri_waitq_ *q)
{
    unsigned n = 0;
    spin_lock(&rw->writers.lock);
    for (struct wait_node *w = q->head; w; w = w->next)
        n++;
    spin_unlock(&rw->writers.lock);
    return n;
}

static int rw_wait_queued(capri_rwlock_t *rw, struct capri_waitq_ *q, unsigned n)
{
    uint64_t end = now_ns() + 10000000000ull;
    while (rw_queued(rw, q) != n) {
        if (now_ns() > end)
            return 0;
        capri_sleep_ns(100000);
    }
    return 1;
}

static capri_rwlock_t rw;

/* ---- basics and errors -------------------------------------------------------- */

static void *other_try(void *arg)
{
    (void)arg;
    /* Encodes tryrdlock, trywrlock and an unlock attempt. */
    int a = capri_rwlock_tryrdlock(&rw);
    int b = capri_rwlock_trywrlock(&rw);
    int c = capri_rwlock_unlock(&rw); /* ours if a == 0, else EPERM */
    return (void *)(intptr_t)(a * 10000 + b * 100 + c);
}

static void test_basic(void)
{
    capri_rwlock_t l;
    CHECK_EQ(capri_rwlock_init(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), EPERM); /* not held */
    CHECK_EQ(capri_rwlock_rdlock(&l), 0);
    CHECK_EQ(capri_rwlock_rdlock(&l), 0); /* read locks nest */
    CHECK_EQ(capri_rwlock_tryrdlock(&l), 0);
    CHECK_EQ(capri_rwlock_trywrlock(&l), EBUSY);
    CHECK_EQ(capri_rwlock_destroy(&l), EBUSY);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), EPERM);
    CHECK_EQ(capri_rwlock_wrlock(&l), 0);
    CHECK_EQ(capri_rwlock_wrlock(&l), EDEADLK);
    CHECK_EQ(capri_rwlock_rdlock(&l), EDEADLK);
    struct timespec ts = abs_in_ms(10);
    CHECK_EQ(capri_rwlock_timedwrlock(&l, &ts), EDEADLK);
    CHECK_EQ(capri_rwlock_tryrdlock(&l), EBUSY);
    CHECK_EQ(capri_rwlock_trywrlock(&l), EBUSY);
    CHECK_EQ(capri_rwlock_destroy(&l), EBUSY);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), EPERM);
    CHECK_EQ(capri_rwlock_trywrlock(&l), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    /* Free: timed calls succeed whatever the deadline. */
    struct timespec past = {1, 0};
    CHECK_EQ(capri_rwlock_timedrdlock(&l, &past), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_timedwrlock(&l, &past), 0);
    CHECK_EQ(capri_rwlock_unlock(&l), 0);
    CHECK_EQ(capri_rwlock_destroy(&l), 0);
    CHECK_EQ(capri_rwlock_rdlock(NULL), EINVAL);

    /* Another thread against our read lock: it may read, not write. */
    CHECK_EQ(capri_rwlock_rdlock(&rw), 0);
    CHECK_EQ((intptr_t)join(spawn(other_try, NULL)), 0 * 10000 + EBUSY * 100 + 0);
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);
    /* Against our write lock: neither, and it may not unlock ours. */
    CHECK_EQ(capri_rwlock_wrlock(&rw), 0);
    CHECK_EQ((intptr_t)join(spawn(other_try, NULL)), EBUSY * 10000 + EBUSY * 100 + EPERM);
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);
    CHECK_EQ(rw.word, 0);
}

/* ---- timed ---------------------------------------------------------------------- */

struct timed_arg {
    int write;
    long ms;
    int rc;
    uint64_t elapsed;
};

static void *timed_locker(void *arg)
{
    struct timed_arg *a = arg;
    struct timespec ts = abs_in_ms(a->ms);
    uint64_t t0 = now_ns();
    a->rc = a->write ? capri_rwlock_timedwrlock(&rw, &ts) : capri_rwlock_timedrdlock(&rw, &ts);
    a->elapsed = now_ns() - t0;
    if (a->rc == 0)
        capri_rwlock_unlock(&rw);
    return NULL;
}

static void *bad_timed(void *arg)
{
    (void)arg;
    struct timespec bad = abs_in_ms(10);
    bad.tv_nsec = 1000000000L;
    int ok = capri_rwlock_timedrdlock(&rw, &bad) == EINVAL &&
             capri_rwlock_timedwrlock(&rw, &bad) == EINVAL &&
             capri_rwlock_timedwrlock(&rw, NULL) == EINVAL;
    return (void *)(intptr_t)ok;
}

static void test_timed(void)
{
    CHECK_EQ(capri_rwlock_wrlock(&rw), 0);
    struct timed_arg a = {0, 50, -1, 0};
    join(spawn(timed_locker, &a));
    CHECK_EQ(a.rc, ETIMEDOUT);
    CHECK(a.elapsed >= 45000000u && a.elapsed < 2000000000u);
    struct timed_arg b = {1, 50, -1, 0};
    join(spawn(timed_locker, &b));
    CHECK_EQ(b.rc, ETIMEDOUT);
    CHECK(b.elapsed >= 45000000u && b.elapsed < 2000000000u);
    CHECK_EQ((intptr_t)join(spawn(bad_timed, NULL)), 1);
    CHECK_EQ(rw.word, 1); /* writer bit only: no waiter bit left behind */
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);

    /* A read lock times a writer out, not a reader. */
    CHECK_EQ(capri_rwlock_rdlock(&rw), 0);
    struct timed_arg c = {1, 30, -1, 0};
    join(spawn(timed_locker, &c));
    CHECK_EQ(c.rc, ETIMEDOUT);
    struct timed_arg d = {0, 30, -1, 0};
    join(spawn(timed_locker, &d));
    CHECK_EQ(d.rc, 0);
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);
    CHECK_EQ(rw.word, 0);
}

/* ---- writer preference ------------------------------------------------------------ */

static int order[8];
static int order_n;

static void *writer_fn(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (capri_rwlock_wrlock(&rw) != 0)
        return (void *)1;
    __atomic_store_n(&order[__atomic_fetch_add(&order_n, 1, __ATOMIC_SEQ_CST)], id,
                     __ATOMIC_SEQ_CST);
    capri_yield();
    return (void *)(intptr_t)capri_rwlock_unlock(&rw);
}

static void *reader_fn(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (capri_rwlock_rdlock(&rw) != 0)
        return (void *)1;
    __atomic_store_n(&order[__atomic_fetch_add(&order_n, 1, __ATOMIC_SEQ_CST)], id,
                     __ATOMIC_SEQ_CST);
    return (void *)(intptr_t)capri_rwlock_unlock(&rw);
}

static void test_writer_preference(void)
{
    order_n = 0;
    CHECK_EQ(capri_rwlock_rdlock(&rw), 0);
    capri_t w1 = spawn(writer_fn, (void *)(intptr_t)1);
    CHECK(rw_wait_queued(&rw, &rw.writers, 1));
    /* A writer waits: new readers queue behind it. */
    CHECK_EQ(capri_rwlock_tryrdlock(&rw), EBUSY);
    capri_t r1 = spawn(reader_fn, (void *)(intptr_t)10);
    CHECK(rw_wait_queued(&rw, &rw.readers, 1));
    capri_t w2 = spawn(writer_fn, (void *)(intptr_t)2);
    CHECK(rw_wait_queued(&rw, &rw.writers, 2));
    capri_t r2 = spawn(reader_fn, (void *)(intptr_t)11);
    CHECK(rw_wait_queued(&rw, &rw.readers, 2));
    CHECK_EQ(rw.waiting_writers, 2);
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);
    CHECK_EQ((intptr_t)join(w1), 0);
    CHECK_EQ((intptr_t)join(w2), 0);
    CHECK_EQ((intptr_t)join(r1), 0);
    CHECK_EQ((intptr_t)join(r2), 0);
    CHECK_EQ(order_n, 4);
    /* Both writers first (in order), then both readers. */
    CHECK_EQ(order[0], 1);
    CHECK_EQ(order[1], 2);
    CHECK((order[2] == 10 && order[3] == 11) || (order[2] == 11 && order[3] == 10));
    CHECK_EQ(rw.word, 0);
    CHECK_EQ(rw.waiting_writers, 0);
}

/* The only waiting writer times out: the readers queued behind it get in
 * while the first reader still holds its lock. */
static void test_writer_timeout_lets_readers_in(void)
{
    order_n = 0;
    CHECK_EQ(capri_rwlock_rdlock(&rw), 0);
    struct timed_arg w = {1, 80, -1, 0};
    capri_t tw = spawn(timed_locker, &w);
    CHECK(rw_wait_queued(&rw, &rw.writers, 1));
    capri_t r1 = spawn(reader_fn, (void *)(intptr_t)10);
    capri_t r2 = spawn(reader_fn, (void *)(intptr_t)11);
    CHECK(rw_wait_queued(&rw, &rw.readers, 2));
    join(tw);
    CHECK_EQ(w.rc, ETIMEDOUT);
    CHECK_EQ((intptr_t)join(r1), 0);
    CHECK_EQ((intptr_t)join(r2), 0);
    CHECK_EQ(order_n, 2);
    CHECK_EQ(capri_rwlock_unlock(&rw), 0);
    CHECK_EQ(rw.word, 0);
}

/* ---- stress ---------------------------------------------------------------------- */

static int readers_in, writers_in, violations;
static long writes;

static void *stress_fn(void *arg)
{
    int id = (int)(intptr_t)arg;
#ifdef CAPRI_TEST_SANITIZED
    int n = 500;
#else
    int n = 5000;
#endif
    for (int i = 0; i < n; i++) {
        if ((i + id) % 5 == 0) {
            if (capri_rwlock_wrlock(&rw) != 0)
                return (void *)1;
            if (__atomic_fetch_add(&writers_in, 1, __ATOMIC_SEQ_CST) != 0 ||
                __atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) != 0)
                __atomic_fetch_add(&violations, 1, __ATOMIC_SEQ_CST);
            writes++;
            if (i % 7 == 0)
                capri_yield();
            __atomic_fetch_sub(&writers_in, 1, __ATOMIC_SEQ_CST);
        } else {
            int rc;
            if (i % 3 == 0) {
                struct timespec ts = abs_in_ms(1);
                rc = capri_rwlock_timedrdlock(&rw, &ts);
                if (rc == ETIMEDOUT)
                    continue;
            } else {
                rc = capri_rwlock_rdlock(&rw);
            }
            if (rc != 0)
                return (void *)2;
            __atomic_fetch_add(&readers_in, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&writers_in, __ATOMIC_SEQ_CST) != 0)
                __atomic_fetch_add(&violations, 1, __ATOMIC_SEQ_CST);
            if (i % 7 == 0)
                capri_yield();
            __atomic_fetch_sub(&readers_in, 1, __ATOMIC_SEQ_CST);
        }
        if (capri_rwlock_unlock(&rw) != 0)
            return (void *)3;
    }
    return NULL;
}

static void test_stress(void)
{
    enum { T = 24 };
    capri_t ts[T];
    writes = 0;
    for (int i = 0; i < T; i++)
        ts[i] = spawn(stress_fn, (void *)(intptr_t)i);
    for (int i = 0; i < T; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 0);
    CHECK_EQ(violations, 0);
#ifdef CAPRI_TEST_SANITIZED
    CHECK_EQ(writes, T * 500 / 5);
#else
    CHECK_EQ(writes, T * 5000 / 5);
#endif
    CHECK_EQ(rw.word, 0);
    CHECK_EQ(rw.waiting_writers, 0);
    CHECK_EQ(capri_rwlock_destroy(&rw), 0);
}

int main(void)
{
    RUN(test_basic);
    RUN(test_timed);
    RUN(test_writer_preference);
    RUN(test_writer_timeout_lets_readers_in);
    RUN(test_stress);
    return test_summary("test_rwlock");
}
