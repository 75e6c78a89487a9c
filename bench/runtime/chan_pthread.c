/*
 * chan_pthread: ping-pong between two pthreads (the peers of chan_capri).
 *
 * MODE cond: one slot under a pthread mutex with a condition variable per
 * direction (ping writes i, pong answers i + 1). MODE pipe: two pipes, 8
 * bytes per message. CPUS = 1 pins the process to one CPU (the counterpart
 * of one scheduler), CPUS = 2 leaves both CPUs. ns per message = elapsed /
 * (2 * ROUNDS).
 *
 * Checks: every reply is the value sent plus one.
 *
 * Output: "chan.pthread_<MODE>_<CPUS>cpu <ns per message>".
 * Usage: chan_pthread cond|pipe CPUS [ROUNDS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "common.h"

static long rounds;
static int use_pipe;

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t to_pong = PTHREAD_COND_INITIALIZER, to_ping = PTHREAD_COND_INITIALIZER;
static long slot;
static int full; /* 1: a request for pong, 2: a reply for ping, 0: empty */
static int p1[2], p2[2];

static void *pong(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        long v;
        if (use_pipe) {
            if (read(p1[0], &v, sizeof v) != sizeof v)
                bench_fail("pong read");
            v++;
            if (write(p2[1], &v, sizeof v) != sizeof v)
                bench_fail("pong write");
        } else {
            pthread_mutex_lock(&m);
            while (full != 1)
                pthread_cond_wait(&to_pong, &m);
            slot++;
            full = 2;
            pthread_cond_signal(&to_ping);
            pthread_mutex_unlock(&m);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        bench_fail("usage: chan_pthread cond|pipe CPUS [ROUNDS]");
    use_pipe = strcmp(argv[1], "pipe") == 0;
    int cpus = atoi(argv[2]);
    rounds = argc > 3 ? atol(argv[3]) : 100000;
    if (cpus == 1) {
        cpu_set_t allowed, one;
        sched_getaffinity(0, sizeof allowed, &allowed);
        int cpu = 0;
        while (!CPU_ISSET(cpu, &allowed))
            cpu++;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one))
            bench_fail("sched_setaffinity");
    }
    if (use_pipe && (pipe(p1) || pipe(p2)))
        bench_fail("pipe");
    pthread_t t;
    if (pthread_create(&t, NULL, pong, NULL))
        bench_fail("pthread_create");
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        long v = i;
        if (use_pipe) {
            if (write(p1[1], &v, sizeof v) != sizeof v || read(p2[0], &v, sizeof v) != sizeof v)
                bench_fail("ping pipe i/o");
        } else {
            pthread_mutex_lock(&m);
            slot = i;
            full = 1;
            pthread_cond_signal(&to_pong);
            while (full != 2)
                pthread_cond_wait(&to_ping, &m);
            v = slot;
            full = 0;
            pthread_mutex_unlock(&m);
        }
        if (v != i + 1)
            bench_fail("got %ld for %ld", v, i);
    }
    uint64_t t1 = bench_now_ns();
    pthread_join(t, NULL);
    char name[64];
    snprintf(name, sizeof name, "chan.pthread_%s_%dcpu", use_pipe ? "pipe" : "cond", cpus);
    bench_result(name, (double)(t1 - t0) / (2.0 * (double)rounds));
    return 0;
}
