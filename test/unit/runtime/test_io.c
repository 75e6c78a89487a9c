/*
 * Blocking calls on capri threads park the thread, not the kernel thread:
 * pipes, socket pairs and TCP on one scheduler; every byte of a large
 * write; MSG_WAITALL; closing a descriptor wakes its waiters with EBADF;
 * SO_RCVTIMEO (reads and accept); the program's O_NONBLOCK is honoured and capri's own is
 * hidden from F_GETFL; plain pthreads keep the kernel's blocking calls;
 * sleeps overlap; thousands of threads each blocked reading its own
 * eventfd run on a handful of kernel threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

/* ---- pipes: a reader parks, the writer on the same scheduler runs -------- */

static int pipe_fds[2];

static void *pipe_reader(void *arg)
{
    (void)arg;
    long sum = 0;
    for (int i = 0; i < 1000; i++) {
        int v;
        ssize_t got = 0;
        while (got < (ssize_t)sizeof v) {
            ssize_t r = read(pipe_fds[0], (char *)&v + got, sizeof v - (size_t)got);
            if (r <= 0)
                return (void *)-1;
            got += r;
        }
        sum += v;
    }
    return (void *)sum;
}

static void *pipe_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        if (write(pipe_fds[1], &i, sizeof i) != (ssize_t)sizeof i)
            return (void *)-1;
        if (i % 10 == 0)
            capri_yield();
    }
    return NULL;
}

static void test_pipe_one_scheduler(void)
{
    CHECK_EQ(pipe(pipe_fds), 0);
    /* The reader first: it finds the pipe empty and must park, or the
     * writer (same scheduler) never runs. */
    capri_t r = spawn(pipe_reader, NULL);
    capri_t w = spawn(pipe_writer, NULL);
    CHECK_EQ((long)join(r), 999L * 1000 / 2);
    CHECK(join(w) == NULL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- a large write on a socket pair: every byte, in order ------------------ */

#define BIG (4u << 20)
static int sp[2];

static void *big_writer(void *arg)
{
    unsigned char *buf = arg;
    return (void *)(intptr_t)write(sp[0], buf, BIG);
}

static void *slow_reader(void *arg)
{
    unsigned char *out = arg;
    size_t got = 0;
    while (got < BIG) {
        ssize_t r = recv(sp[1], out + got, 70000, 0);
        if (r <= 0)
            return (void *)-1;
        got += (size_t)r;
        capri_yield();
    }
    return (void *)got;
}

static void test_full_write(void)
{
    unsigned char *in = malloc(BIG), *out = malloc(BIG);
    CHECK(in && out);
    for (size_t i = 0; i < BIG; i++)
        in[i] = (unsigned char)(i * 7 + (i >> 13));
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    capri_t w = spawn(big_writer, in);
    capri_t r = spawn(slow_reader, out);
    CHECK_EQ((intptr_t)join(w), (intptr_t)BIG);
    CHECK_EQ((intptr_t)join(r), (intptr_t)BIG);
    CHECK(memcmp(in, out, BIG) == 0);
    free(in);
    free(out);
    close(sp[0]);
    close(sp[1]);
}

/* ---- sendfile: every byte, parking while the socket is full; fdopen -------- */

static int file_fd;

static void *sendfile_writer(void *arg)
{
    (void)arg;
    off_t off = 0;
    return (void *)(intptr_t)sendfile(sp[0], file_fd, &off, BIG);
}

static void test_sendfile(void)
{
    unsigned char *in = malloc(BIG), *out = malloc(BIG);
    CHECK(in && out);
    for (size_t i = 0; i < BIG; i++)
        in[i] = (unsigned char)(i * 13 + (i >> 11));
    char name[] = "/tmp/capri-test-io-XXXXXX";
    file_fd = mkstemp(name);
    CHECK(file_fd >= 0);
    unlink(name);
    CHECK_EQ(write(file_fd, in, BIG), (ssize_t)BIG);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    capri_t w = spawn(sendfile_writer, NULL);
    capri_t r = spawn(slow_reader, out);
    CHECK_EQ((intptr_t)join(w), (intptr_t)BIG);
    CHECK_EQ((intptr_t)join(r), (intptr_t)BIG);
    CHECK(memcmp(in, out, BIG) == 0);
    /* sendfile left O_NONBLOCK on the socket, hidden from F_GETFL; handing
     * it to stdio takes it off, for stdio's own reads and writes. */
    CHECK_EQ(fcntl(sp[0], F_GETFL) & O_NONBLOCK, 0);
    CHECK(syscall(SYS_fcntl, sp[0], F_GETFL) & O_NONBLOCK);
    FILE *f = fdopen(sp[0], "w");
    CHECK(f != NULL);
    CHECK_EQ(syscall(SYS_fcntl, sp[0], F_GETFL) & O_NONBLOCK, 0);
    fclose(f);
    close(sp[1]);
    close(file_fd);
    free(in);
    free(out);
}

/* ---- MSG_WAITALL ---------------------------------------------------------------- */

static void *waitall_reader(void *arg)
{
    (void)arg;
    char buf[10];
    return (void *)(intptr_t)recv(sp[1], buf, sizeof buf, MSG_WAITALL);
}

static void test_waitall(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    capri_t r = spawn(waitall_reader, NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(write(sp[0], "ab", 2), 2);
        capri_sleep_ns(1000000);
    }
    CHECK_EQ((intptr_t)join(r), 10);
    close(sp[0]);
    close(sp[1]);
}

/* ---- close wakes waiters ------------------------------------------------------ */

static void *blocked_reader(void *arg)
{
    char c;
    ssize_t r = read(*(int *)arg, &c, 1);
    return (void *)(intptr_t)(r < 0 ? -errno : r);
}

static void test_close_wakes(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    capri_t a = spawn(blocked_reader, &p[0]);
    capri_t b = spawn(blocked_reader, &p[0]);
    capri_sleep_ns(20000000); /* both parked */
    CHECK_EQ(close(p[0]), 0);
    CHECK_EQ((intptr_t)join(a), -EBADF);
    CHECK_EQ((intptr_t)join(b), -EBADF);
    close(p[1]);
}

/* ---- SO_RCVTIMEO ------------------------------------------------------------------ */

static void *timed_reader(void *arg)
{
    (void)arg;
    char c;
    uint64_t t0 = now_ns();
    ssize_t r = recv(sp[1], &c, 1, 0);
    int err = errno;
    uint64_t ms = (now_ns() - t0) / 1000000;
    if (r != -1 || err != EAGAIN)
        return (void *)-1;
    return (void *)(uintptr_t)ms;
}

static void test_rcvtimeo(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    struct timeval tv = { 0, 50000 };
    CHECK_EQ(setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    capri_t r = spawn(timed_reader, NULL);
    intptr_t ms = (intptr_t)join(r);
    CHECK(ms >= 45 && ms < 2000);
    close(sp[0]);
    close(sp[1]);
}

/* A listener's SO_RCVTIMEO bounds accept (EAGAIN, as the kernel's), and a
 * connection accepted from it starts with the same timeout. */
static int timed_listener = -1;

static void *timed_acceptor(void *arg)
{
    (void)arg;
    uint64_t t0 = now_ns();
    int c = accept(timed_listener, NULL, NULL);
    int err = errno;
    intptr_t ms = (intptr_t)((now_ns() - t0) / 1000000);
    if (c != -1 || err != EAGAIN)
        return (void *)-1;
    return (void *)ms;
}

static void *accept_then_read(void *arg)
{
    (void)arg;
    int c = accept(timed_listener, NULL, NULL);
    if (c < 0)
        return (void *)-1;
    char ch;
    uint64_t t0 = now_ns();
    ssize_t r = recv(c, &ch, 1, 0);
    int err = errno;
    intptr_t ms = (intptr_t)((now_ns() - t0) / 1000000);
    close(c);
    return r == -1 && err == EAGAIN ? (void *)ms : (void *)-2;
}

static void test_accept_rcvtimeo(void)
{
    timed_listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(timed_listener >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK_EQ(bind(timed_listener, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(timed_listener, 4), 0);
    socklen_t len = sizeof a;
    CHECK_EQ(getsockname(timed_listener, (struct sockaddr *)&a, &len), 0);
    struct timeval tv = { 0, 50000 };
    CHECK_EQ(setsockopt(timed_listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    intptr_t ms = (intptr_t)join(spawn(timed_acceptor, NULL));
    CHECK(ms >= 45 && ms < 2000);
    /* From a plain thread: the kernel's own timeout, the same result. */
    ms = (intptr_t)timed_acceptor(NULL);
    CHECK(ms >= 45 && ms < 2000);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(connect(client, (struct sockaddr *)&a, sizeof a), 0);
    ms = (intptr_t)join(spawn(accept_then_read, NULL));
    CHECK(ms >= 45 && ms < 2000);
    close(client);
    close(timed_listener);
}

/* ---- O_NONBLOCK: the program's is honoured, capri's is hidden ------------------ */

static void *nonblocking_read(void *arg)
{
    int *p = arg;
    char c;
    ssize_t r = read(p[0], &c, 1);
    return (void *)(intptr_t)(r < 0 ? -errno : r);
}

static void test_user_nonblock(void)
{
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
    CHECK_EQ((intptr_t)join(spawn(nonblocking_read, p)), -EAGAIN);
    close(p[0]);
    close(p[1]);
    /* Set later with fcntl, on a socket of unknown history. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    CHECK_EQ(fcntl(sp[1], F_SETFL, fcntl(sp[1], F_GETFL) | O_NONBLOCK), 0);
    CHECK_EQ((intptr_t)join(spawn(nonblocking_read, &sp[1])), -EAGAIN);
    CHECK(fcntl(sp[1], F_GETFL) & O_NONBLOCK);
    close(sp[0]);
    close(sp[1]);
    /* ioctl(FIONBIO), as libuv sets it: on, EAGAIN; off again, the read
     * parks until the writer (same scheduler) has run. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    int on = 1, off = 0;
    CHECK_EQ(ioctl(sp[1], FIONBIO, &on), 0);
    CHECK_EQ((intptr_t)join(spawn(nonblocking_read, &sp[1])), -EAGAIN);
    CHECK_EQ(ioctl(sp[1], FIONBIO, &off), 0);
    CHECK_EQ(fcntl(sp[1], F_GETFL) & O_NONBLOCK, 0);
    capri_t r = spawn(nonblocking_read, &sp[1]);
    capri_sleep_ns(10000000);
    CHECK_EQ(write(sp[0], "k", 1), 1);
    CHECK_EQ((intptr_t)join(r), 1);
    close(sp[0]);
    close(sp[1]);
}

/* ---- TCP on loopback: accept, connect, echo ------------------------------------ */

static int listener;
static int port;

static void *echo_server(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            return (void *)-1;
        char buf[256];
        ssize_t r;
        while ((r = read(c, buf, sizeof buf)) > 0)
            if (write(c, buf, (size_t)r) != r)
                return (void *)-2;
        close(c);
    }
    return NULL;
}

static void *echo_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        return (void *)-1;
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "hello from client %d", id);
    if (write(s, msg, (size_t)len) != len)
        return (void *)-2;
    if (recv(s, back, (size_t)len, MSG_WAITALL) != len || memcmp(msg, back, (size_t)len) != 0)
        return (void *)-3;
    close(s);
    return NULL;
}

static void test_tcp_echo(void)
{
    listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK_EQ(bind(listener, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    CHECK_EQ(getsockname(listener, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    CHECK_EQ(listen(listener, 64), 0);
    enum { CLIENTS = 20 };
    capri_t srv = spawn(echo_server, (void *)(intptr_t)CLIENTS);
    capri_t cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        cl[i] = spawn(echo_client, (void *)(intptr_t)i);
    for (int i = 0; i < CLIENTS; i++)
        CHECK(join(cl[i]) == NULL);
    CHECK(join(srv) == NULL);
    /* accept set O_NONBLOCK on the listener: F_GETFL does not show it. */
    CHECK_EQ(fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
    close(listener);
}

/* ---- a number reused behind libcapri's back ------------------------------------ */

static void *accept_once(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)accept(listener, NULL, NULL);
}

static void test_reused_number(void)
{
    /* A listening socket that capri made non-blocking (its first accept),
     * closed with the raw system call (as close_range or fclose would,
     * unseen): the number's next owner, opened with O_NONBLOCK, must report
     * the flag, not inherit "capri's flag, hidden". */
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    CHECK_EQ(bind(listener, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(getsockname(listener, (struct sockaddr *)&a, &len), 0);
    CHECK_EQ(listen(listener, 4), 0);
    capri_t t = spawn(accept_once, NULL);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = (int)(intptr_t)join(t);
    CHECK(s >= 0);
    CHECK_EQ(fcntl(listener, F_GETFL) & O_NONBLOCK, 0); /* capri's, hidden */
    int number = listener;
    CHECK_EQ(syscall(SYS_close, listener), 0);
    int f = open("/dev/null", O_RDONLY | O_NONBLOCK);
    CHECK_EQ(f, number);
    CHECK(fcntl(f, F_GETFL) & O_NONBLOCK);
    close(f);
    close(s);
    close(c);
}

/* ---- plain pthreads keep the kernel's blocking call ----------------------------- */

static void *pthread_reader(void *arg)
{
    int *p = arg;
    char c = 0;
    ssize_t r = read(p[0], &c, 1);
    return (void *)(intptr_t)(r == 1 ? c : -1);
}

static void *capri_writer_later(void *arg)
{
    int *p = arg;
    capri_sleep_ns(20000000);
    return (void *)(intptr_t)write(p[1], "z", 1);
}

static void test_pthread_blocks(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, pthread_reader, p), 0);
    capri_t w = spawn(capri_writer_later, p);
    /* The capri thread first: pthread_join blocks this kernel thread, and
     * with it the scheduler the writer runs on. */
    CHECK_EQ((intptr_t)join(w), 1);
    void *res;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK_EQ((intptr_t)res, 'z');
    close(p[0]);
    close(p[1]);
}

/* ---- sleeps overlap ------------------------------------------------------------------ */

static void *sleeper(void *arg)
{
    int kind = (int)(intptr_t)arg;
    struct timespec ts = { 0, 50000000 };
    switch (kind) {
    case 0: return (void *)(intptr_t)nanosleep(&ts, NULL);
    case 1: return (void *)(intptr_t)usleep(50000);
    case 2: return (void *)(intptr_t)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    default: {
        struct timespec abs;
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_nsec += 50000000;
        if (abs.tv_nsec >= 1000000000) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000;
        }
        return (void *)(intptr_t)clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL);
    }
    }
}

static void test_sleeps_overlap(void)
{
    uint64_t t0 = now_ns();
    capri_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = spawn(sleeper, (void *)(intptr_t)(i % 4));
    for (int i = 0; i < 8; i++)
        CHECK(join(t[i]) == NULL);
    uint64_t ms = (now_ns() - t0) / 1000000;
    CHECK(ms >= 45);
    CHECK(ms < 300); /* eight sleeps of 50 ms on one kernel thread: overlapped */
    struct timespec bad = { 0, 1000000000 };
    errno = 0;
    CHECK_EQ(nanosleep(&bad, NULL), -1);
    CHECK_EQ(errno, EINVAL);
}

/* An absolute sleep on CLOCK_REALTIME longer than the one-second slices
 * it is waited in (the clock can be set meanwhile) ends when the clock
 * reads the time, not a slice early or late; one already past returns at
 * once. */
static void *realtime_sleeper(void *arg)
{
    (void)arg;
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += 1;
    abs.tv_nsec += 200000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    if (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL) != 0)
        return (void *)-1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t late = (int64_t)(now.tv_sec - abs.tv_sec) * 1000000000 + (now.tv_nsec - abs.tv_nsec);
    if (late < 0 || late > 300000000)
        return (void *)-2;
    abs.tv_sec -= 10;
    uint64_t t0 = now_ns();
    if (clock_nanosleep(CLOCK_TAI, TIMER_ABSTIME, &abs, NULL) != 0 || now_ns() - t0 > 100000000)
        return (void *)-3;
    return NULL;
}

static void *ticker(void *arg)
{
    unsigned *ticks = arg;
    for (int i = 0; i < 10; i++) {
        capri_sleep_ns(20000000);
        (*ticks)++;
    }
    return NULL;
}

static void test_realtime_sleep(void)
{
    unsigned ticks = 0;
    capri_t s = spawn(realtime_sleeper, NULL);
    capri_t t = spawn(ticker, &ticks);
    CHECK(join(t) == NULL);
    CHECK_EQ(ticks, 10u); /* ran beside the sleeper */
    CHECK(join(s) == NULL);
}

/* ---- thousands of eventfd readers, few kernel threads ----------------------------- */

#ifdef CAPRI_TEST_SANITIZED
#define EVENTFDS 1000
#else
#define EVENTFDS 9000
#endif
static int efd[EVENTFDS];
static unsigned woken_count;

static void *eventfd_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    uint64_t v = 0;
    if (read(efd[i], &v, sizeof v) != (ssize_t)sizeof v || v != (uint64_t)i + 1)
        return (void *)-1;
    __atomic_fetch_add(&woken_count, 1u, __ATOMIC_RELAXED);
    return NULL;
}

static int kernel_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void test_many_eventfds(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < EVENTFDS + 100) {
        printf("  skipped: open-file limit %lu\n", (unsigned long)rl.rlim_max);
        return;
    }
    rl.rlim_cur = rl.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    capri_t *t = malloc(sizeof *t * EVENTFDS);
    CHECK(t != NULL);
    for (int i = 0; i < EVENTFDS; i++) {
        efd[i] = eventfd(0, EFD_CLOEXEC);
        CHECK(efd[i] >= 0);
        t[i] = spawn(eventfd_reader, (void *)(intptr_t)i);
    }
    capri_sleep_ns(50000000); /* every reader parked */
    CHECK_EQ(__atomic_load_n(&woken_count, __ATOMIC_RELAXED), 0u);
    int kt = kernel_threads();
    CHECK(kt > 0 && kt < 16);
    for (int i = EVENTFDS - 1; i >= 0; i--) {
        uint64_t v = (uint64_t)i + 1;
        CHECK_EQ(write(efd[i], &v, sizeof v), (ssize_t)sizeof v);
    }
    for (int i = 0; i < EVENTFDS; i++)
        CHECK(join(t[i]) == NULL);
    CHECK_EQ(woken_count, (unsigned)EVENTFDS);
    for (int i = 0; i < EVENTFDS; i++)
        close(efd[i]);
    free(t);
}

int main(int argc, char **argv)
{
    bool many = argc > 1 && strcmp(argv[1], "many") == 0;
    capri_config(CAPRI_CONFIG_SCHEDULERS, many ? 2 : 1);
    RUN(test_pipe_one_scheduler);
    RUN(test_full_write);
    RUN(test_sendfile);
    RUN(test_waitall);
    RUN(test_close_wakes);
    RUN(test_rcvtimeo);
    RUN(test_accept_rcvtimeo);
    RUN(test_user_nonblock);
    RUN(test_tcp_echo);
    RUN(test_reused_number);
    RUN(test_pthread_blocks);
    RUN(test_sleeps_overlap);
    RUN(test_realtime_sleep);
    RUN(test_many_eventfds);
    int rc = test_summary(many ? "test_io (2 schedulers)" : "test_io (1 scheduler)");
    fflush(NULL);
    /* Under ThreadSanitizer too: its blocking interceptors (read, poll...)
     * hide the atomics of whatever runs inside them, here libcapri.so's
     * interposers parking and waking capri threads, so libcapri states its
     * ordering to TSan explicitly as well (atomic.h). */
    if (rc == 0 && !many)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
