/*
 * chan_capri: channel ping-pong between two capri threads.
 *
 * Two unbuffered channels (capacity 0, a rendezvous; CAP sets another
 * capacity). ping sends i on the first and receives on the second; pong
 * receives, adds one and sends it back. ns per message = elapsed / (2 *
 * ROUNDS), timed inside ping.
 *
 * SCHEDULERS = 1: both threads on one scheduler (each round is two
 * hand-offs and two thread-to-thread switches). SCHEDULERS = 2: the threads
 * must run on different schedulers (kernel threads). There is no placement
 * API, so ping spins without yielding (up to 200 ms) until pong has
 * started, which then can only have happened on the other scheduler;
 * threads that have run stay on their scheduler (not migratable). Both
 * record gettid() at start and at the end; when they share a kernel thread
 * the attempt is dropped and repeated (up to 10 times).
 *
 * Checks: every reply is the value sent plus one, pong counts ROUNDS
 * messages, and for SCHEDULERS = 2 the kernel threads differ throughout.
 *
 * Output: "chan.capri_1sched <ns per message>" or "chan.capri_2sched ...".
 * Usage: chan_capri SCHEDULERS [ROUNDS] [CAP]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "capri.h"
#include "common.h"

static long scheds, rounds, cap;
static capri_chan_t ch1, ch2;
static pid_t ping_tid, pong_tid;
static int pong_started;
static long pong_count;
static double result_ns;

static pid_t tid(void)
{
    return gettid();
}

static void *pong(void *arg)
{
    (void)arg;
    pid_t me = tid();
    __atomic_store_n(&pong_tid, me, __ATOMIC_RELAXED);
    __atomic_store_n(&pong_started, 1, __ATOMIC_RELEASE);
    long v, count = 0;
    int rc;
    while ((rc = capri_chan_recv(ch1, &v)) == 0) {
        v++;
        if ((rc = capri_chan_send(ch2, &v)))
            bench_fail("pong: capri_chan_send = %d", rc);
        count++;
    }
    if (rc != EPIPE)
        bench_fail("pong: capri_chan_recv = %d", rc);
    if (tid() != me)
        bench_fail("pong moved between kernel threads");
    pong_count = count;
    return NULL;
}

/* Returns 1 when it ran the ping-pong, 0 when the placement failed. */
static void *ping(void *arg)
{
    (void)arg;
    pid_t me = tid();
    ping_tid = me;
    if (scheds > 1) {
        uint64_t give_up = bench_now_ns() + 200000000u;
        while (!__atomic_load_n(&pong_started, __ATOMIC_ACQUIRE) && bench_now_ns() < give_up)
            ;
    }
    while (!__atomic_load_n(&pong_started, __ATOMIC_ACQUIRE))
        capri_yield();
    if (scheds > 1 && __atomic_load_n(&pong_tid, __ATOMIC_RELAXED) == me) {
        capri_chan_close(ch1);
        return (void *)0;
    }
    int rc;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        long v = i;
        if ((rc = capri_chan_send(ch1, &v)))
            bench_fail("ping: capri_chan_send = %d", rc);
        if ((rc = capri_chan_recv(ch2, &v)))
            bench_fail("ping: capri_chan_recv = %d", rc);
        if (v != i + 1)
            bench_fail("ping: got %ld for %ld", v, i);
    }
    uint64_t t1 = bench_now_ns();
    result_ns = (double)(t1 - t0) / (2.0 * (double)rounds);
    if (tid() != me)
        bench_fail("ping moved between kernel threads");
    capri_chan_close(ch1);
    return (void *)1;
}

int main(int argc, char **argv)
{
    scheds = argc > 1 ? atol(argv[1]) : 1;
    rounds = argc > 2 ? atol(argv[2]) : 1000000;
    cap = argc > 3 ? atol(argv[3]) : 0;
    int rc = capri_config(CAPRI_CONFIG_SCHEDULERS, scheds);
    if (rc)
        bench_fail("capri_config(SCHEDULERS, %ld) = %d", scheds, rc);
    for (int attempt = 0; attempt < 10; attempt++) {
        if ((rc = capri_chan_create(&ch1, sizeof(long), (size_t)cap)) ||
            (rc = capri_chan_create(&ch2, sizeof(long), (size_t)cap)))
            bench_fail("capri_chan_create = %d", rc);
        pong_started = 0;
        pong_count = -1;
        capri_t a, b;
        void *ok = NULL;
        if ((rc = capri_spawn(&a, ping, NULL, NULL)) || (rc = capri_spawn(&b, pong, NULL, NULL)))
            bench_fail("capri_spawn = %d", rc);
        if ((rc = capri_join(a, &ok)) || (rc = capri_join(b, NULL)))
            bench_fail("capri_join = %d", rc);
        capri_chan_destroy(ch1);
        capri_chan_destroy(ch2);
        if (!ok) {
            fprintf(stderr, "chan_capri: ping and pong shared a kernel thread; again\n");
            continue;
        }
        if (pong_count != rounds)
            bench_fail("pong saw %ld messages, expected %ld", pong_count, rounds);
        if (scheds > 1 && ping_tid == pong_tid)
            bench_fail("ping and pong on the same kernel thread");
        bench_result(scheds == 1 ? "chan.capri_1sched" : "chan.capri_2sched", result_ns);
        return 0;
    }
    bench_fail("could not place ping and pong on different schedulers");
}
