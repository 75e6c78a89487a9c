/*
 * chan_pth: ping-pong between two GNU Pth threads (the Pth peer of
 * chan_capri with one scheduler: Pth runs every thread on one kernel
 * thread).
 *
 * MODE cond: one slot under a pth_mutex with a pth_cond per direction (ping
 * writes i, pong answers i + 1). MODE pipe: two pipes, 8 bytes per
 * message, through pth_read and pth_write (which wait for the descriptor in
 * Pth's event manager instead of blocking the process). ns per message =
 * elapsed / (2 * ROUNDS).
 *
 * Checks: every reply is the value sent plus one.
 *
 * Output: "chan.pth_<MODE> <ns per message>". Usage: chan_pth cond|pipe [ROUNDS]
 */
#include <pth.h>
#include <unistd.h>

#include "common.h"

static long rounds;
static int use_pipe;

static pth_mutex_t m = PTH_MUTEX_INIT;
static pth_cond_t to_pong = PTH_COND_INIT, to_ping = PTH_COND_INIT;
static long slot;
static int full; /* 1: a request for pong, 2: a reply for ping, 0: empty */
static int p1[2], p2[2];

static void *pong(void *arg)
{
    for (long i = 0; i < rounds; i++) {
        long v;
        if (use_pipe) {
            if (pth_read(p1[0], &v, sizeof v) != sizeof v)
                bench_fail("pong read");
            v++;
            if (pth_write(p2[1], &v, sizeof v) != sizeof v)
                bench_fail("pong write");
        } else {
            pth_mutex_acquire(&m, 0, NULL);
            while (full != 1)
                pth_cond_await(&to_pong, &m, NULL);
            slot++;
            full = 2;
            pth_cond_notify(&to_ping, 0);
            pth_mutex_release(&m);
        }
    }
    return arg;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        bench_fail("usage: chan_pth cond|pipe [ROUNDS]");
    use_pipe = strcmp(argv[1], "pipe") == 0;
    rounds = argc > 2 ? atol(argv[2]) : 100000;
    if (!pth_init())
        bench_fail("pth_init");
    if (use_pipe && (pipe(p1) || pipe(p2)))
        bench_fail("pipe");
    pth_t t = pth_spawn(PTH_ATTR_DEFAULT, pong, NULL);
    if (!t)
        bench_fail("pth_spawn");
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < rounds; i++) {
        long v = i;
        if (use_pipe) {
            if (pth_write(p1[1], &v, sizeof v) != sizeof v || pth_read(p2[0], &v, sizeof v) != sizeof v)
                bench_fail("ping pipe i/o");
        } else {
            pth_mutex_acquire(&m, 0, NULL);
            slot = i;
            full = 1;
            pth_cond_notify(&to_pong, 0);
            while (full != 2)
                pth_cond_await(&to_ping, &m, NULL);
            v = slot;
            full = 0;
            pth_mutex_release(&m);
        }
        if (v != i + 1)
            bench_fail("got %ld for %ld", v, i);
    }
    uint64_t t1 = bench_now_ns();
    if (!pth_join(t, NULL))
        bench_fail("pth_join");
    bench_result(use_pipe ? "chan.pth_pipe" : "chan.pth_cond", (double)(t1 - t0) / (2.0 * (double)rounds));
    pth_kill();
    return 0;
}
