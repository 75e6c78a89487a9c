/*
 * Helpers the runtime tests share: clocks and deadlines, spawn and join that
 * check their result, and waiting until a wait queue holds n waiters.
 */
#ifndef CAPRI_RT_TEST_H
#define CAPRI_RT_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "test.h"
#include "wait.h"

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timespec abs_in_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static inline capri_t spawn(void *(*fn)(void *), void *arg)
{
    capri_t t = 0;
    CHECK_EQ(capri_spawn(&t, fn, arg, NULL), 0);
    return t;
}

static inline void *join(capri_t t)
{
    void *res = (void *)(intptr_t)0x5a5a;
    CHECK_EQ(capri_join(t, &res), 0);
    return res;
}

/* A ticker: a capri thread that counts while sleeping 1 ms at a time, to
 * show that its scheduler ran while another thread of it waited. */
struct rt_ticker {
    capri_t thread;
    unsigned ticks;
    int stop;
};

static inline void *rt_ticker_run(void *arg)
{
    struct rt_ticker *t = arg;
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&t->ticks, 1u, __ATOMIC_RELAXED);
        capri_sleep_ns(1000000);
    }
    return NULL;
}

static inline void rt_ticker_start(struct rt_ticker *t)
{
    __atomic_store_n(&t->stop, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&t->ticks, 0u, __ATOMIC_RELAXED);
    CHECK_EQ(capri_spawn(&t->thread, rt_ticker_run, t, NULL), 0);
}

static inline unsigned rt_ticker_count(struct rt_ticker *t)
{
    return __atomic_load_n(&t->ticks, __ATOMIC_RELAXED);
}

/* Waits (parked, from a capri thread; blocked, from a plain one) until the
 * ticker has counted n ticks; false after timeout_ms without them. Tests
 * wait for ticks rather than count them over a fixed time, which a loaded
 * machine shortens. */
static inline bool rt_ticker_await(struct rt_ticker *t, unsigned n, unsigned timeout_ms)
{
    for (unsigned waited = 0; rt_ticker_count(t) < n; waited++) {
        if (waited >= timeout_ms)
            return false;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return true;
}

/* Stops it; the ticks counted. */
static inline unsigned rt_ticker_stop(struct rt_ticker *t)
{
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    CHECK_EQ(capri_join(t->thread, NULL), 0);
    return rt_ticker_count(t);
}

static inline unsigned queued(struct capri_waitq_ *q)
{
    unsigned n = 0;
    spin_lock(&q->lock);
    for (struct wait_node *w = q->head; w; w = w->next)
        n++;
    spin_unlock(&q->lock);
    return n;
}

static inline int wait_queued(struct capri_waitq_ *q, unsigned n)
{
    uint64_t end = now_ns() + 10000000000ull;
    while (queued(q) != n) {
        if (now_ns() > end)
            return 0;
        capri_sleep_ns(100000);
    }
    return 1;
}

/* In a child about to exec a test case that must die by capri's own SIGSEGV
 * handling: a sanitizer's SEGV handler would otherwise report the fault
 * first (and exit its own way). A no-op without sanitizers. */
static inline void sanitizers_leave_segv_alone(void)
{
#ifdef CAPRI_TEST_SANITIZED
    static const char *const vars[] = {"ASAN_OPTIONS", "TSAN_OPTIONS"};
    for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *prev = getenv(vars[i]);
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%shandle_segv=0", prev ? prev : "", prev && *prev ? ":" : "");
        setenv(vars[i], opts, 1);
    }
#endif
}
#endif
