/*
 * poll, ppoll, select, pselect and capri_fd_wait on capri threads: a
 * waiting thread parks (others on its scheduler keep running), wakes on
 * the event it asked for and only then, times out on time, reports what
 * the kernel's calls report (POLLHUP, POLLNVAL, EBADF, the time left of
 * select), and is cancellable; a ppoll with a signal mask of its own is
 * libc's (the signal interrupts it); many threads watching one descriptor
 * all wake; wakes from other kernel threads (a second scheduler, plain
 * pthreads) are never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);

static struct rt_ticker tick; /* moves while another thread waits */

static uint64_t ms_since(uint64_t t0) { return (now_ns() - t0) / 1000000u; }

/* ---- poll parks and wakes on its event --------------------------------------- */

static int pfd[2];

static void *poll_reader(void *arg)
{
    (void)arg;
    struct pollfd p[3] = { { -1, POLLIN, 0 }, { pfd[0], POLLIN, 0 }, { -5, POLLIN, 0 } };
    int r = poll(p, 3, -1);
    if (r != 1 || p[1].revents != POLLIN || p[0].revents != 0 || p[2].revents != 0)
        return (void *)-1;
    return NULL;
}

static void test_poll_parks(void)
{
    CHECK_EQ(pipe(pfd), 0);
    rt_ticker_start(&tick);
    capri_t t = spawn(poll_reader, NULL);
    /* The reader waits and the ticker keeps running beside it. */
    CHECK(rt_ticker_await(&tick, 5, 10000));
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    CHECK(join(t) == NULL);
    rt_ticker_stop(&tick);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- timeouts: poll, ppoll, select, and nfds 0 as a sleep ------------------- */

static void test_poll_timeout(void)
{
    CHECK_EQ(pipe(pfd), 0);
    rt_ticker_start(&tick);
    uint64_t t0 = now_ns();
    struct pollfd p = { pfd[0], POLLIN, 0 };
    CHECK_EQ(poll(&p, 1, 50), 0);
    uint64_t ms = ms_since(t0);
    CHECK(ms >= 49 && ms < 2000);
    CHECK_EQ(p.revents, 0);
    struct timespec ts = { 0, 30000000 };
    t0 = now_ns();
    CHECK_EQ(ppoll(&p, 1, &ts, NULL), 0);
    CHECK(ms_since(t0) >= 29);
    CHECK_EQ(ts.tv_nsec, 30000000); /* ppoll leaves its timeout alone */
    t0 = now_ns();
    CHECK_EQ(poll(NULL, 0, 30), 0); /* a sleep */
    CHECK(ms_since(t0) >= 29);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pfd[0], &r);
    struct timeval tv = { 0, 40000 };
    t0 = now_ns();
    CHECK_EQ(select(pfd[0] + 1, &r, NULL, NULL, &tv), 0);
    CHECK(ms_since(t0) >= 39);
    CHECK(!FD_ISSET(pfd[0], &r));
    CHECK_EQ(tv.tv_sec, 0);
    CHECK_EQ(tv.tv_usec, 0); /* the time left, as Linux writes it back */
    /* The waits parked: the ticker ran through them (150 ms of waits, 1 ms
     * ticks; a loaded machine stretches each tick, so ask for a third). */
    CHECK(rt_ticker_stop(&tick) >= 10);
    struct timespec bad = { 0, -1 };
    errno = 0;
    CHECK_EQ(ppoll(&p, 1, &bad, NULL), -1);
    CHECK_EQ(errno, EINVAL);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- several descriptors: only the one that became ready is reported ---------- */

static int pairs[3][2];

static void *write_middle_later(void *arg)
{
    (void)arg;
    capri_sleep_ns(20000000);
    return send(pairs[1][1], "m", 1, 0) == 1 ? NULL : (void *)-1;
}

static void test_poll_several(void)
{
    for (int i = 0; i < 3; i++)
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
    capri_t w = spawn(write_middle_later, NULL);
    struct pollfd p[3];
    for (int i = 0; i < 3; i++)
        p[i] = (struct pollfd){ pairs[i][0], POLLIN, 0 };
    CHECK_EQ(poll(p, 3, 5000), 1);
    CHECK_EQ(p[0].revents, 0);
    CHECK_EQ(p[1].revents, POLLIN);
    CHECK_EQ(p[2].revents, 0);
    CHECK(join(w) == NULL);
    /* The same through select, with a write set that is ready at once. */
    fd_set r, wr;
    FD_ZERO(&r);
    FD_ZERO(&wr);
    for (int i = 0; i < 3; i++)
        FD_SET(pairs[i][0], &r);
    FD_SET(pairs[2][1], &wr);
    int maxfd = pairs[2][1] > pairs[2][0] ? pairs[2][1] : pairs[2][0];
    CHECK_EQ(select(maxfd + 1, &r, &wr, NULL, NULL), 2);
    CHECK(!FD_ISSET(pairs[0][0], &r) && FD_ISSET(pairs[1][0], &r) && !FD_ISSET(pairs[2][0], &r));
    CHECK(FD_ISSET(pairs[2][1], &wr));
    for (int i = 0; i < 3; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
}

/* ---- POLLOUT on a full socket, POLLHUP when the peer goes ---------------------- */

static int sp[2];

static void *drain_later(void *arg)
{
    (void)arg;
    capri_sleep_ns(20000000);
    char buf[1024]; /* a capri thread's stack is small: no plugin here */
    while (recv(sp[1], buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    capri_sleep_ns(20000000);
    close(sp[1]);
    return NULL;
}

static void test_pollout_and_hup(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    char buf[4096] = { 0 };
    while (send(sp[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
    struct pollfd p = { sp[0], POLLOUT, 0 };
    CHECK_EQ(poll(&p, 1, 0), 0); /* full */
    capri_t t = spawn(drain_later, NULL);
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK(p.revents & POLLOUT);
    p.events = POLLIN;
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK(p.revents & POLLHUP);
    CHECK(join(t) == NULL);
    close(sp[0]);
}

/* ---- closed and bad descriptors --------------------------------------------------- */

static void *close_later(void *arg)
{
    capri_sleep_ns(20000000);
    close((int)(intptr_t)arg);
    return NULL;
}

static void test_closed(void)
{
    CHECK_EQ(pipe(pfd), 0);
    int spare = dup(pfd[0]);
    close(spare);
    struct pollfd p = { spare, POLLIN, 0 };
    CHECK_EQ(poll(&p, 1, 100), 1);
    CHECK_EQ(p.revents, POLLNVAL);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(spare, &r);
    errno = 0;
    CHECK_EQ(select(spare + 1, &r, NULL, NULL, NULL), -1);
    CHECK_EQ(errno, EBADF);
    /* capri_fd_wait reports a close while it waits. */
    capri_t t = spawn(close_later, (void *)(intptr_t)pfd[0]);
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, -1), -EBADF);
    CHECK(join(t) == NULL);
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, -1), -EBADF);
    CHECK_EQ(capri_fd_wait(-1, CAPRI_FD_READ, -1), -EBADF);
    CHECK_EQ(capri_fd_wait(pfd[1], 64, -1), -EINVAL);
    close(pfd[1]);
}

/* ---- select past FD_SETSIZE --------------------------------------------------------- */

static void *write_fd_later(void *arg)
{
    capri_sleep_ns(20000000);
    return write((int)(intptr_t)arg, "y", 1) == 1 ? NULL : (void *)-1;
}

static void test_select_large(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < 2100) {
        printf("  skipped: open-file limit %lu\n", (unsigned long)rl.rlim_max);
        return;
    }
    if (rl.rlim_cur < 2100) {
        rl.rlim_cur = 2100;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    CHECK_EQ(pipe(pfd), 0);
    const int high = 2000;
    CHECK_EQ(dup2(pfd[0], high), high);
    /* A set big enough for descriptor 2000, as a program past FD_SETSIZE
     * allocates it. */
    unsigned long bits[(2048 + 63) / 64];
    memset(bits, 0, sizeof bits);
    bits[high / 64] |= 1ul << (high % 64);
    capri_t t = spawn(write_fd_later, (void *)(intptr_t)pfd[1]);
    CHECK_EQ(select(high + 1, (fd_set *)(void *)bits, NULL, NULL, NULL), 1);
    CHECK(bits[high / 64] & (1ul << (high % 64)));
    CHECK(join(t) == NULL);
    close(high);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- many watchers of one descriptor all wake ----------------------------------------- */

#ifdef CAPRI_TEST_SANITIZED
#define WATCHERS 100
#else
#define WATCHERS 400
#endif

static int shared_efd;

static void *watch_shared(void *arg)
{
    (void)arg;
    struct pollfd p = { shared_efd, POLLIN, 0 };
    return poll(&p, 1, 10000) == 1 && p.revents == POLLIN ? NULL : (void *)-1;
}

static void test_many_watchers(void)
{
    shared_efd = eventfd(0, EFD_CLOEXEC);
    CHECK(shared_efd >= 0);
    capri_t t[WATCHERS];
    for (int i = 0; i < WATCHERS; i++)
        t[i] = spawn(watch_shared, NULL);
    capri_sleep_ns(30000000);
    uint64_t one = 1;
    CHECK_EQ(write(shared_efd, &one, sizeof one), (ssize_t)sizeof one);
    uint64_t t0 = now_ns();
    for (int i = 0; i < WATCHERS; i++)
        CHECK(join(t[i]) == NULL);
    CHECK(ms_since(t0) < 5000);
    close(shared_efd);
}

/* ---- ping-pong through poll across schedulers and plain pthreads --------------------- */

#ifdef CAPRI_TEST_SANITIZED
#define ROUNDS 2000
#else
#define ROUNDS 20000
#endif
#define PAIRS 4

static int ping[PAIRS][2], pong[PAIRS][2];

/* One side of a pair: wait with poll (or select, or capri_fd_wait, by
 * turns) for a byte, read it, send one back. */
static int wait_readable(int fd, unsigned round)
{
    switch (round % 3) {
    case 0: {
        struct pollfd p = { fd, POLLIN, 0 };
        return poll(&p, 1, 10000) == 1 && (p.revents & POLLIN);
    }
    case 1: {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fd, &r);
        struct timeval tv = { 10, 0 };
        return select(fd + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &r);
    }
    default:
        return capri_fd_wait(fd, CAPRI_FD_READ, (int64_t)(now_ns() + 10000000000ull)) ==
               CAPRI_FD_READ;
    }
}

static void *bouncer(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    for (unsigned r = 0; r < ROUNDS; r++) {
        if (!wait_readable(ping[i][0], r) || read(ping[i][0], &c, 1) != 1)
            return (void *)-1;
        if (write(pong[i][1], &c, 1) != 1)
            return (void *)-2;
    }
    return NULL;
}

static void *server(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c = 'p';
    for (unsigned r = 0; r < ROUNDS; r++) {
        if (write(ping[i][1], &c, 1) != 1)
            return (void *)-2;
        if (!wait_readable(pong[i][0], r + 1) || read(pong[i][0], &c, 1) != 1)
            return (void *)-1;
    }
    return NULL;
}

static void *pthread_server(void *arg) { return server(arg); }

static void test_ping_pong(void)
{
    capri_t b[PAIRS], s[PAIRS];
    pthread_t pt = 0;
    for (int i = 0; i < PAIRS; i++) {
        CHECK_EQ(pipe(ping[i]), 0);
        CHECK_EQ(pipe(pong[i]), 0);
        b[i] = spawn(bouncer, (void *)(intptr_t)i);
    }
    /* The last pair is driven from a plain pthread (its poll is libc's). */
    for (int i = 0; i < PAIRS - 1; i++)
        s[i] = spawn(server, (void *)(intptr_t)i);
    CHECK_EQ(pthread_create(&pt, NULL, pthread_server, (void *)(intptr_t)(PAIRS - 1)), 0);
    for (int i = 0; i < PAIRS; i++)
        CHECK(join(b[i]) == NULL);
    for (int i = 0; i < PAIRS - 1; i++)
        CHECK(join(s[i]) == NULL);
    void *res = (void *)1;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK(res == NULL);
    for (int i = 0; i < PAIRS; i++) {
        close(ping[i][0]);
        close(ping[i][1]);
        close(pong[i][0]);
        close(pong[i][1]);
    }
}

/* ---- capri_fd_wait: events, deadlines, plain threads, cancellation ------------------ */

static void *fd_wait_plain(void *arg)
{
    (void)arg;
    int r = capri_fd_wait(pfd[0], CAPRI_FD_READ, (int64_t)(now_ns() + 20000000u));
    return r == -ETIMEDOUT ? NULL : (void *)-1;
}

static int cancel_result;

static void *fd_wait_forever(void *arg)
{
    (void)arg;
    cancel_result = capri_fd_wait(pfd[0], CAPRI_FD_READ, -1);
    return NULL;
}

static void *poll_forever(void *arg)
{
    (void)arg;
    struct pollfd p = { pfd[0], POLLIN, 0 };
    poll(&p, 1, -1);
    return (void *)-2; /* not reached: the cancel ends the thread */
}

static void test_fd_wait(void)
{
    CHECK_EQ(pipe(pfd), 0);
    CHECK_EQ(capri_fd_wait(pfd[1], CAPRI_FD_WRITE, -1), CAPRI_FD_WRITE);
    uint64_t t0 = now_ns();
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, (int64_t)(now_ns() + 30000000u)), -ETIMEDOUT);
    CHECK(ms_since(t0) >= 29);
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, 0), -ETIMEDOUT); /* long past */
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, fd_wait_plain, NULL), 0);
    void *res = (void *)1;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK(res == NULL);
    /* A cancel ends the native wait with -ECANCELED; the thread goes on. */
    capri_t t = spawn(fd_wait_forever, NULL);
    capri_sleep_ns(20000000);
    CHECK_EQ(capri_cancel(t), 0);
    CHECK(join(t) == NULL);
    CHECK_EQ(cancel_result, -ECANCELED);
    /* A cancel acts in poll, a cancellation point. */
    t = spawn(poll_forever, NULL);
    capri_sleep_ns(20000000);
    CHECK_EQ(capri_cancel(t), 0);
    CHECK(join(t) == CAPRI_CANCELED);
    /* Read and hang-up together when the writer goes with data left. */
    CHECK_EQ(write(pfd[1], "z", 1), 1);
    close(pfd[1]);
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, -1), CAPRI_FD_READ | CAPRI_FD_HUP);
    close(pfd[0]);
}

/* ---- ppoll with a mask of its own is libc's: the signal interrupts it ---------- */

static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
    (void)sig;
    handled = 1;
}

static pid_t waiter_tid;

static void *kill_waiter_later(void *arg)
{
    (void)arg;
    usleep(30000);
    syscall(SYS_tgkill, getpid(), __atomic_load_n(&waiter_tid, __ATOMIC_ACQUIRE), SIGUSR1);
    return NULL;
}

static void test_ppoll_mask(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: ppoll is never restarted anyway */
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t block, old, during;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
    during = old;
    sigdelset(&during, SIGUSR1);
    CHECK_EQ(pipe(pfd), 0);
    __atomic_store_n(&waiter_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, kill_waiter_later, NULL), 0);
    struct pollfd p = { pfd[0], POLLIN, 0 };
    struct timespec ts = { 5, 0 };
    errno = 0;
    CHECK_EQ(ppoll(&p, 1, &ts, &during), -1);
    CHECK_EQ(errno, EINTR);
    CHECK_EQ(handled, 1);
    CHECK_EQ(pthread_join(pt, NULL), 0);
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    signal(SIGUSR1, SIG_DFL);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_poll_chk(void)
{
    CHECK_EQ(pipe(pfd), 0);
    CHECK_EQ(write(pfd[1], "c", 1), 1);
    struct pollfd p[2] = { { pfd[0], POLLIN, 0 }, { pfd[1], POLLOUT, 0 } };
    CHECK_EQ(__poll_chk(p, 2, 1000, sizeof p), 2);
    close(pfd[0]);
    close(pfd[1]);
}

int main(int argc, char **argv)
{
    bool many = argc > 1 && strcmp(argv[1], "many") == 0;
    capri_config(CAPRI_CONFIG_SCHEDULERS, many ? 2 : 1);
    RUN(test_poll_parks);
    RUN(test_poll_timeout);
    RUN(test_poll_several);
    RUN(test_pollout_and_hup);
    RUN(test_closed);
    RUN(test_select_large);
    RUN(test_many_watchers);
    RUN(test_ping_pong);
    RUN(test_fd_wait);
    if (!many)
        RUN(test_ppoll_mask); /* the signal must reach the waiter's kernel thread */
    RUN(test_poll_chk);
    int rc = test_summary(many ? "test_poll (2 schedulers)" : "test_poll (1 scheduler)");
    fflush(NULL);
    if (rc == 0 && !many)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
