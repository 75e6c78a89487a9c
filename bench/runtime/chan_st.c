/*
 * chan_st: ping-pong between two State Threads threads (the ST peer of
 * chan_capri with one scheduler: ST runs every thread on one kernel
 * thread).
 *
 * MODE cond: one slot and an st_cond per direction (ST threads are never
 * preempted, so the slot needs no lock; ping writes i, pong answers i + 1).
 * MODE pipe: two pipes opened as st_netfd (non-blocking), 8 bytes per
 * message through st_read and st_write, which wait in ST's event loop. ns
 * per message = elapsed / (2 * ROUNDS).
 *
 * Checks: every reply is the value sent plus one.
 *
 * Output: "chan.st_<MODE> <ns per message>". Usage: chan_st cond|pipe [ROUNDS]
 */
#include <st.h>
#include <unistd.h>

#include "common.h"

static long rounds;
static int use_pipe;

static st_cond_t to_pong, to_ping;
static long slot;
static int full; /* 1: a request for pong, 2: a reply for ping, 0: empty */
static st_netfd_t p1[2], p2[2];

static void *pong(void *arg)
{
    for (long i = 0; i < rounds; i++) {
        long v;
        if (use_pipe) {
            if (st_read_fully(p1[0], &v, sizeof v, ST_UTIME_NO_TIMEOUT) != sizeof v)
                bench_fail("pong read");
            v++;
            if (st_write(p2[1], &v, sizeof v, ST_UTIME_NO_TIMEOUT) != sizeof v)
                bench_fail("pong write");
        } else {
            while (full != 1)
                st_cond_wait(to_pong);
            slot++;
            full = 2;
            st_cond_signal(to_ping);
        }
    }
    return arg;
}

static void open_pipe(st_netfd_t fds[2])
{
    int fd[2];
    if (pipe(fd) || !(fds[0] = st_netfd_open(fd[0])) || !(fds[1] = st_netfd_open(fd[1])))
        bench_fail("pipe");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        bench_fail("usage: chan_st cond|pipe [ROUNDS]");
    use_pipe = strcmp(argv[1], "pipe") == 0;
    rounds = argc > 2 ? atol(argv[2]) : 1000000;
    if (st_init())
        bench_fail("st_init");
    if (!(to_pong = st_cond_new()) || !(to_ping = st_cond_new()))
        bench_fail("st_cond_new");
    if (use_pipe) {
        open_pipe(p1);
        open_pipe(p2);
    }
    st_thread_t t = st_thread_create(pong, NULL, 1, 65536);
    if (!t)
        bench_fail("st_thread_create");
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        long v = i;
        if (use_pipe) {
            if (st_write(p1[1], &v, sizeof v, ST_UTIME_NO_TIMEOUT) != sizeof v ||
                st_read_fully(p2[0], &v, sizeof v, ST_UTIME_NO_TIMEOUT) != sizeof v)
                bench_fail("ping pipe i/o");
        } else {
            slot = i;
            full = 1;
            st_cond_signal(to_pong);
            while (full != 2)
                st_cond_wait(to_ping);
            v = slot;
            full = 0;
        }
        if (v != i + 1)
            bench_fail("got %ld for %ld", v, i);
    }
    uint64_t t1 = bench_now_ns();
    if (st_thread_join(t, NULL))
        bench_fail("st_thread_join");
    bench_result(use_pipe ? "chan.st_pipe" : "chan.st_cond", (double)(t1 - t0) / (2.0 * (double)rounds));
    return 0;
}
