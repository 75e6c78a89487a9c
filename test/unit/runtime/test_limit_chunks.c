/*
 * The stack-limit word at %fs:0x70 and a thread's extra chunks:
 *  - each capri thread runs with its own limit (its chunk's bottom plus the
 *    slack), kept across switches; the main thread and plain pthreads have
 *    their real stack's bottom plus the slack (set by libcapri's
 *    constructor and its pthread_create), and plain pthreads a signal
 *    stack;
 *  - limit_classify tells a thread's own value, 0, a preemption request and
 *    an unknown value apart;
 *  - the chunk a thread released last stays cached on it (no pool traffic
 *    for a hot boundary crossing) and goes back to the pool when the
 *    thread blocks or ends; big classes are never cached.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "capri.h"
#include "limit.h"
#include "test.h"
#include "thread.h"

static void *limit_of_thread(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    uintptr_t want = limit_for_stack(self->stack_lo);
    for (int i = 0; i < 100; i++) {
        if (limit_read() != want)
            return (void *)1;
        if (limit_classify(limit_read()) != LIMIT_KNOWN)
            return (void *)2;
        capri_yield();
    }
    uintptr_t here = (uintptr_t)&self;
    if (here <= want || here >= self->stack_hi)
        return (void *)3; /* the limit lies below where the thread runs */
    return NULL;
}

static void test_limit_per_thread(void)
{
    capri_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(capri_spawn(&t[i], limit_of_thread, NULL, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        CHECK_EQ(capri_join(t[i], &r), 0);
        CHECK_EQ((intptr_t)r, 0);
    }
}

static void test_limit_classify(void)
{
    CHECK_EQ(limit_classify(0), LIMIT_NONE);
    CHECK_EQ(limit_classify((uintptr_t)0x1234000), LIMIT_UNKNOWN);
    /* A preemption request is only one when the thread's flag says so. */
    CHECK_EQ(limit_classify(LIMIT_PREEMPT), LIMIT_UNKNOWN);
    CHECK(limit_derive_unknown() != 0);
}

static void *preempt_me(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    uintptr_t own = limit_read();
    limit_request_preempt(self->sched);
    int seen = limit_read() == LIMIT_PREEMPT && limit_classify(limit_read()) == LIMIT_PREEMPTED;
    /* What the slow path will do: clear the request, restore the limit. */
    self->preempt = 0;
    limit_write(own);
    capri_yield();
    return (void *)(intptr_t)(seen && limit_read() == own);
}

static void test_preempt_request(void)
{
    capri_t t;
    void *r;
    CHECK_EQ(capri_spawn(&t, preempt_me, NULL, NULL), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK_EQ((intptr_t)r, 1);
}

static void *plain_pthread_limit(void *arg)
{
    (void)arg;
    uintptr_t want = limit_derive_unknown();
    uintptr_t here = (uintptr_t)&want;
    if (limit_read() != want || want == 0 || here <= want)
        return (void *)1;
    stack_t ss;
    if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE) || ss.ss_size < 16384)
        return (void *)2; /* a plain pthread has a signal stack too */
    capri_yield(); /* uses libcapri: a foreign thread; its limit stays */
    return limit_read() == want ? NULL : (void *)3;
}

static void test_foreign_limit(void)
{
#if defined(CAPRI_TEST_SHARED) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return; /* TSan in front of libcapri.so: plain pthreads are not set up */
#endif
#endif
    for (int i = 0; i < 3; i++) { /* later ones reuse glibc's cached stacks */
        pthread_t p;
        void *r;
        CHECK_EQ(pthread_create(&p, NULL, plain_pthread_limit, NULL), 0);
        CHECK_EQ(pthread_join(p, &r), 0);
        CHECK(r == NULL);
    }
}

static uint64_t in_use(unsigned cls)
{
    struct capri_pool_stats st;
    capri_pool_stats(&st);
    return st.chunks_in_use[cls];
}

static void *chunk_cache_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    uint32_t slot, slot2;
    void *a = thread_chunk_take(self, 1, &slot);
    if (!a)
        return (void *)1;
    memset(a, 0x5a, 8192);
    uint64_t held = in_use(1);
    thread_chunk_release(self, a, slot, 1);
    if (self->cached_chunk != a || in_use(1) != held)
        return (void *)2; /* cached: still the thread's, not the pool's */
    /* A hot boundary: take and release a thousand times, same chunk. */
    for (int i = 0; i < 1000; i++) {
        void *b = thread_chunk_take(self, 1, &slot2);
        if (b != a || slot2 != slot)
            return (void *)3;
        thread_chunk_release(self, b, slot2, 1);
    }
    if (in_use(1) != held)
        return (void *)4;
    /* Blocking gives the cached chunk back. */
    capri_sleep_ns(1000);
    if (self->cached_chunk != NULL || in_use(1) != held - 1)
        return (void *)5;
    /* Big classes are never cached. */
    void *big = thread_chunk_take(self, THREAD_CACHED_CLASS_MAX + 1, &slot);
    if (!big)
        return (void *)6;
    thread_chunk_release(self, big, slot, THREAD_CACHED_CLASS_MAX + 1);
    if (self->cached_chunk != NULL)
        return (void *)7;
    /* One left cached at exit goes back too. */
    a = thread_chunk_take(self, 1, &slot);
    thread_chunk_release(self, a, slot, 1);
    return NULL;
}

static void test_thread_chunk_cache(void)
{
    capri_t t;
    void *r;
    uint64_t before = in_use(1);
    CHECK_EQ(capri_spawn(&t, chunk_cache_body, NULL, NULL), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK_EQ((intptr_t)r, 0);
    CHECK_EQ(in_use(1), before);
}

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1); /* pool counters of one cache */
    capri_self();
    /* main has its process stack's bottom plus the slack, from start-up. */
    CHECK(limit_read() != 0);
    CHECK_EQ(limit_read(), limit_derive_unknown());
    RUN(test_limit_per_thread);
    RUN(test_limit_classify);
    RUN(test_preempt_request);
    RUN(test_foreign_limit);
    RUN(test_thread_chunk_cache);
    return test_summary("test_limit_chunks");
}
