/*
 * yield_st: a switch among 100 State Threads threads (the ST peer of
 * yield_capri).
 *
 * ST has no yield call (st_usleep(0) parks the thread on the sleep queue
 * until the idle thread polls), so the 100 threads pass a token round a
 * ring instead: thread i waits on its own st_cond until the token is its,
 * then hands it to thread i + 1 (st_cond_signal puts that one on the run
 * queue) and waits again. Every pass is one switch from a thread to the
 * next, as each capri_yield among 100 runnable threads is. The figure is
 * elapsed / (100 * ITERS): ns per pass.
 *
 * Checks: the token visits the threads in ring order (each thread sees the
 * pass count it expects) and the count ends at 100 * ITERS.
 *
 * Output: "yield.st <ns per switch>". Usage: yield_st [ITERS]
 */
#include <st.h>

#include "common.h"

enum { NTHREADS = 100 };

static long iters;
static long passes; /* the token is thread passes % NTHREADS's */
static st_cond_t turn[NTHREADS];

static void *worker(void *arg)
{
    long me = (long)(intptr_t)arg;
    for (long i = 0; i < iters; i++) {
        while (passes % NTHREADS != me)
            if (st_cond_wait(turn[me]))
                bench_fail("st_cond_wait");
        if (passes != i * NTHREADS + me)
            bench_fail("thread %ld saw pass %ld, expected %ld", me, passes, i * NTHREADS + me);
        passes++;
        st_cond_signal(turn[(me + 1) % NTHREADS]);
    }
    return arg;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atol(argv[1]) : 20000;
    if (st_init())
        bench_fail("st_init");
    for (int i = 0; i < NTHREADS; i++)
        if (!(turn[i] = st_cond_new()))
            bench_fail("st_cond_new");
    st_thread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (!(t[i] = st_thread_create(worker, (void *)(intptr_t)i, 1, 65536)))
            bench_fail("st_thread_create");
    /* The threads start when main blocks in the first join. */
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        if (st_thread_join(t[i], &r) || r != (void *)(intptr_t)i)
            bench_fail("st_thread_join %d", i);
    }
    uint64_t t1 = bench_now_ns();
    uint64_t calls = (uint64_t)NTHREADS * (uint64_t)iters;
    if ((uint64_t)passes != calls)
        bench_fail("passes %ld, expected %llu", passes, (unsigned long long)calls);
    bench_result("yield.st", (double)(t1 - t0) / (double)calls);
    return 0;
}
