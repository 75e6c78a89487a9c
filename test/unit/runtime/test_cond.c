/*
 * capri_cond: errors, signal wakes one, broadcast wakes all, timed waits
 * (ETIMEDOUT with the mutex re-acquired, EINVAL), cancellation of a waiter
 * (cleanup handler runs with the mutex held; joined with CAPRI_CANCELED),
 * destroy, and a foreign kernel thread waiting on a condition.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "rt_test.h"
#include "test.h"
#include "thread.h"
#include "wait.h"

static capri_mutex_t m;
static capri_cond_t c;
static int ready_flag;
static int woken;

/* ---- errors ---------------------------------------------------------------- */

static void *cond_wait_unowned(void *arg)
{
    (void)arg;
    /* The mutex is held by main: EPERM. */
    return (void *)(intptr_t)capri_cond_wait(&c, &m);
}

static void test_errors(void)
{
    capri_cond_t lc;
    CHECK_EQ(capri_cond_init(&lc), 0);
    CHECK_EQ(capri_cond_wait(&lc, &m), EPERM); /* m not held */
    struct timespec ts = abs_in_ms(10);
    CHECK_EQ(capri_cond_timedwait(&lc, &m, &ts), EPERM);
    CHECK_EQ(capri_mutex_lock(&m), 0);
    CHECK_EQ((intptr_t)join(spawn(cond_wait_unowned, NULL)), EPERM);
    ts.tv_nsec = 1000000000L;
    CHECK_EQ(capri_cond_timedwait(&lc, &m, &ts), EINVAL);
    ts.tv_nsec = -5;
    CHECK_EQ(capri_cond_timedwait(&lc, &m, &ts), EINVAL);
    CHECK_EQ(capri_cond_timedwait(&lc, &m, NULL), EINVAL);
    /* A deadline in the past: ETIMEDOUT with the mutex still held. */
    struct timespec past = {1, 0};
    CHECK_EQ(capri_cond_timedwait(&lc, &m, &past), ETIMEDOUT);
    CHECK_EQ(capri_mutex_unlock(&m), 0);
    CHECK_EQ(capri_mutex_unlock(&m), EPERM);
    /* Signal and broadcast with nobody waiting are no-ops. */
    CHECK_EQ(capri_cond_signal(&lc), 0);
    CHECK_EQ(capri_cond_broadcast(&lc), 0);
    CHECK_EQ(capri_cond_destroy(&lc), 0);
    CHECK_EQ(capri_cond_signal(NULL), EINVAL);
    CHECK_EQ(capri_cond_wait(NULL, &m), EINVAL);
}

/* ---- signal / broadcast ----------------------------------------------------- */

static void *waiter(void *arg)
{
    (void)arg;
    int rc = capri_mutex_lock(&m);
    while (rc == 0 && !ready_flag)
        rc = capri_cond_wait(&c, &m);
    woken++;
    /* Back from the wait we hold the mutex: unlock must succeed. */
    int ur = capri_mutex_unlock(&m);
    return (void *)(intptr_t)(rc * 100 + ur);
}

/* Waits once (no predicate), counting itself when it comes back. */
static void *one_shot(void *arg)
{
    (void)arg;
    capri_mutex_lock(&m);
    int rc = capri_cond_wait(&c, &m);
    woken++;
    int ur = capri_mutex_unlock(&m);
    return (void *)(intptr_t)(rc * 100 + ur);
}

static void test_signal_one(void)
{
    enum { N = 5 };
    capri_t ts[N];
    woken = 0;
    for (int i = 0; i < N; i++)
        ts[i] = spawn(one_shot, NULL);
    CHECK(wait_queued(&c.q, N));
    CHECK_EQ(capri_cond_destroy(&c), EBUSY);
    CHECK_EQ(capri_cond_signal(&c), 0);
    CHECK_EQ(queued(&c.q), N - 1); /* exactly one left the queue */
    /* Let it run: it needs the mutex, which is free. */
    uint64_t end = now_ns() + 5000000000ull;
    for (;;) {
        capri_mutex_lock(&m);
        int w = woken;
        capri_mutex_unlock(&m);
        if (w == 1 || now_ns() > end)
            break;
        capri_sleep_ns(100000);
    }
    capri_sleep_ns(5000000);
    capri_mutex_lock(&m);
    CHECK_EQ(woken, 1);
    capri_mutex_unlock(&m);
    CHECK_EQ(queued(&c.q), N - 1);
    /* One at a time for the rest. */
    for (int i = 1; i < N; i++) {
        CHECK_EQ(capri_cond_signal(&c), 0);
        CHECK_EQ(queued(&c.q), (unsigned)(N - 1 - i));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 0);
    CHECK_EQ(woken, N);
    CHECK_EQ(capri_cond_destroy(&c), 0);
}

static void test_broadcast(void)
{
    enum { N = 20 };
    capri_t ts[N];
    woken = 0;
    ready_flag = 0;
    for (int i = 0; i < N; i++)
        ts[i] = spawn(waiter, NULL);
    CHECK(wait_queued(&c.q, N));
    capri_mutex_lock(&m);
    ready_flag = 1;
    CHECK_EQ(capri_cond_broadcast(&c), 0);
    CHECK_EQ(queued(&c.q), 0);
    capri_mutex_unlock(&m);
    for (int i = 0; i < N; i++)
        CHECK_EQ((intptr_t)join(ts[i]), 0);
    CHECK_EQ(woken, N);
    CHECK_EQ(m.word, 0);
}

/* ---- timed waits -------------------------------------------------------------- */

struct timed_res {
    int rc;
    int held; /* the mutex was ours on return */
    uint64_t elapsed;
};

static void *timed_waiter(void *arg)
{
    struct timed_res *r = arg;
    capri_mutex_lock(&m);
    struct timespec ts = abs_in_ms(50);
    uint64_t t0 = now_ns();
    r->rc = capri_cond_timedwait(&c, &m, &ts);
    r->elapsed = now_ns() - t0;
    r->held = capri_mutex_unlock(&m) == 0;
    return NULL;
}

static void *timed_waiter_long(void *arg)
{
    struct timed_res *r = arg;
    capri_mutex_lock(&m);
    struct timespec ts = abs_in_ms(10000);
    uint64_t t0 = now_ns();
    r->rc = capri_cond_timedwait(&c, &m, &ts);
    r->elapsed = now_ns() - t0;
    r->held = capri_mutex_unlock(&m) == 0;
    return NULL;
}

static void test_timed(void)
{
    struct timed_res r = {-1, 0, 0};
    join(spawn(timed_waiter, &r));
    CHECK_EQ(r.rc, ETIMEDOUT);
    CHECK(r.held);
    CHECK(r.elapsed >= 45000000u);
    CHECK(r.elapsed < 2000000000u);
    CHECK_EQ(queued(&c.q), 0);
    CHECK_EQ(capri_cond_destroy(&c), 0);

    /* Timing out while another thread holds the mutex: ETIMEDOUT comes back
     * only once the mutex is re-acquired. */
    struct timed_res r2 = {-1, 0, 0};
    capri_t t = spawn(timed_waiter, &r2);
    CHECK(wait_queued(&c.q, 1));
    capri_mutex_lock(&m);
    capri_sleep_ns(150000000); /* the waiter times out meanwhile */
    CHECK_EQ(r2.rc, -1);       /* still blocked on the mutex */
    capri_mutex_unlock(&m);
    join(t);
    CHECK_EQ(r2.rc, ETIMEDOUT);
    CHECK(r2.held);
    CHECK(r2.elapsed >= 140000000u);

    /* Signalled before the deadline: 0. */
    struct timed_res r3 = {-1, 0, 0};
    t = spawn(timed_waiter_long, &r3);
    CHECK(wait_queued(&c.q, 1));
    capri_cond_signal(&c);
    join(t);
    CHECK_EQ(r3.rc, 0);
    CHECK(r3.held);
    CHECK(r3.elapsed < 5000000000u);
}

/* ---- cancellation ------------------------------------------------------------ */

static int cleanup_unlock_rc = -1;
static int cleanup_ran;

static void cleanup_handler(void *arg)
{
    capri_mutex_t *mx = arg;
    cleanup_ran++;
    /* Succeeds only if the cancelled waiter holds the mutex. */
    cleanup_unlock_rc = capri_mutex_unlock(mx);
}

static void *cancel_waiter(void *arg)
{
    (void)arg;
    capri_mutex_lock(&m);
    capri_cleanup_push(cleanup_handler, &m);
    for (;;)
        capri_cond_wait(&c, &m);
    capri_cleanup_pop(0);
    return NULL;
}

static void *cancel_timed_waiter(void *arg)
{
    (void)arg;
    capri_mutex_lock(&m);
    capri_cleanup_push(cleanup_handler, &m);
    for (;;) {
        struct timespec ts = abs_in_ms(60000);
        capri_cond_timedwait(&c, &m, &ts);
    }
    capri_cleanup_pop(0);
    return NULL;
}

static void test_cancel(void)
{
    void *(*fns[2])(void *) = {cancel_waiter, cancel_timed_waiter};
    for (int k = 0; k < 2; k++) {
        cleanup_ran = 0;
        cleanup_unlock_rc = -1;
        capri_t t = spawn(fns[k], NULL);
        CHECK(wait_queued(&c.q, 1));
        CHECK_EQ(capri_cancel(t), 0);
        CHECK(join(t) == CAPRI_CANCELED);
        CHECK_EQ(cleanup_ran, 1);
        CHECK_EQ(cleanup_unlock_rc, 0);
        CHECK_EQ(m.word, 0);
        CHECK_EQ(queued(&c.q), 0);
        CHECK_EQ(capri_cond_destroy(&c), 0);
    }

    /* Cancelled while the mutex is held by someone else: the handler still
     * runs with the mutex held (re-acquired first). */
    cleanup_ran = 0;
    cleanup_unlock_rc = -1;
    capri_t t = spawn(cancel_waiter, NULL);
    CHECK(wait_queued(&c.q, 1));
    capri_mutex_lock(&m);
    CHECK_EQ(capri_cancel(t), 0);
    capri_sleep_ns(20000000);
    CHECK_EQ(cleanup_ran, 0); /* waiting for the mutex */
    capri_mutex_unlock(&m);
    CHECK(join(t) == CAPRI_CANCELED);
    CHECK_EQ(cleanup_ran, 1);
    CHECK_EQ(cleanup_unlock_rc, 0);

    /* A cancellation pending on entry acts at once, with the mutex held. */
    cleanup_ran = 0;
    cleanup_unlock_rc = -1;
    capri_mutex_lock(&m);
    t = spawn(cancel_waiter, NULL);
    CHECK_EQ(capri_cancel(t), 0);
    capri_mutex_unlock(&m);
    CHECK(join(t) == CAPRI_CANCELED);
    CHECK_EQ(cleanup_ran, 1);
    CHECK_EQ(cleanup_unlock_rc, 0);
    CHECK_EQ(m.word, 0);
}

/* A signal that pops a waiter whose canceller already won its token still
 * counts: the waiter returns 0 from the wait (its cancellation stays
 * pending). Deterministic when the waiter shares our scheduler: it cannot
 * run between the cancel and the signal. */
static int race_rc = -1;

static void unlock_m(void *arg) { capri_mutex_unlock(arg); }

static void *race_waiter(void *arg)
{
    (void)arg;
    capri_mutex_lock(&m);
    capri_cleanup_push(unlock_m, &m); /* if the cancel acts in the wait */
    race_rc = capri_cond_wait(&c, &m);
    capri_cleanup_pop(1);
    capri_testcancel();
    return NULL;
}

static void test_cancel_signal_race(void)
{
    int colocated = 0;
    for (int tries = 0; tries < 200 && !colocated; tries++) {
        race_rc = -1;
        capri_t t = spawn(race_waiter, NULL);
        capri_yield(); /* run it here now, before an idle scheduler steals it */
        CHECK(wait_queued(&c.q, 1));
        struct capri_thread *th = thread_from_handle(t);
        colocated = th && th->sched == thread_current()->sched;
        CHECK_EQ(capri_cancel(t), 0);
        if (colocated) {
            CHECK_EQ(capri_cond_signal(&c), 0);
            CHECK_EQ(queued(&c.q), 0);
            CHECK_EQ(capri_cond_destroy(&c), EBUSY); /* it still has to leave */
        }
        CHECK(join(t) == CAPRI_CANCELED);
        if (colocated)
            CHECK_EQ(race_rc, 0);
        CHECK_EQ(m.word, 0);
        CHECK_EQ(capri_cond_destroy(&c), 0);
    }
    CHECK(colocated);
}

/* ---- a foreign kernel thread waits ------------------------------------------- */

static int foreign_go;

static void *foreign_waiter(void *arg)
{
    (void)arg;
    int rc = capri_mutex_lock(&m);
    while (rc == 0 && !foreign_go)
        rc = capri_cond_wait(&c, &m);
    int ur = capri_mutex_unlock(&m);
    return (void *)(intptr_t)(rc * 100 + ur + 1);
}

static void test_foreign(void)
{
    pthread_t pt;
    foreign_go = 0;
    CHECK_EQ(pthread_create(&pt, NULL, foreign_waiter, NULL), 0);
    CHECK(wait_queued(&c.q, 1));
    capri_mutex_lock(&m);
    foreign_go = 1;
    capri_cond_signal(&c);
    capri_mutex_unlock(&m);
    void *res = NULL;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK_EQ((intptr_t)res, 1);
}

int main(void)
{
    RUN(test_errors);
    RUN(test_signal_one);
    RUN(test_broadcast);
    RUN(test_timed);
    RUN(test_cancel);
    RUN(test_cancel_signal_race);
    RUN(test_foreign);
    return test_summary("test_cond");
}
