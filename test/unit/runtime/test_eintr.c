/*
 * EINTR on capri threads follows the kernel's rule: a signal handler ends
 * a parked read only without SA_RESTART (with it the read goes on and
 * returns its data), and ends poll, the sleeps (with the time left) and a
 * socket wait with SO_RCVTIMEO whatever its flags. The handler runs on
 * whichever kernel thread the kernel picks.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void install(bool restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
}

/* SIGALRM in ms, once. */
static void alarm_in(long ms)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static uint64_t ms_since(uint64_t t0) { return (now_ns() - t0) / 1000000u; }

static int pfd[2];

static void *write_later(void *arg)
{
    capri_sleep_ns((uint64_t)(uintptr_t)arg * 1000000u);
    return write(pfd[1], "d", 1) == 1 ? NULL : (void *)-1;
}

static void test_read_interrupted(void)
{
    install(false);
    CHECK_EQ(pipe(pfd), 0);
    alarms = 0;
    alarm_in(50);
    uint64_t t0 = now_ns();
    char c;
    errno = 0;
    CHECK_EQ(read(pfd[0], &c, 1), -1);
    CHECK_EQ(errno, EINTR);
    CHECK_EQ(alarms, 1);
    CHECK(ms_since(t0) >= 45 && ms_since(t0) < 3000);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_read_restarted(void)
{
    install(true);
    CHECK_EQ(pipe(pfd), 0);
    alarms = 0;
    alarm_in(30);
    capri_t w = spawn(write_later, (void *)(uintptr_t)150);
    char c = 0;
    CHECK_EQ(read(pfd[0], &c, 1), 1); /* the handler ran; the read went on */
    CHECK_EQ(c, 'd');
    CHECK_EQ(alarms, 1);
    CHECK(join(w) == NULL);
    close(pfd[0]);
    close(pfd[1]);
}

static void test_always_interrupted(void)
{
    install(true); /* SA_RESTART does not restart these */
    alarms = 0;
    alarm_in(50);
    struct timespec req = { 2, 0 }, rem = { 0, 0 };
    errno = 0;
    CHECK_EQ(nanosleep(&req, &rem), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(rem.tv_sec == 1 || (rem.tv_sec == 0 && rem.tv_nsec > 0));
    alarm_in(50);
    CHECK_EQ(pipe(pfd), 0);
    struct pollfd p = { pfd[0], POLLIN, 0 };
    errno = 0;
    CHECK_EQ(poll(&p, 1, -1), -1);
    CHECK_EQ(errno, EINTR);
    alarm_in(50);
    CHECK_EQ(capri_fd_wait(pfd[0], CAPRI_FD_READ, -1), -EINTR);
    alarm_in(50);
    CHECK(sleep(3) >= 2); /* the seconds left */
    alarm_in(50);
    struct timespec rel = { 2, 0 };
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, &rem), EINTR);
    int sp[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    struct timeval tv = { 5, 0 };
    CHECK_EQ(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    alarm_in(50);
    char c;
    errno = 0;
    CHECK_EQ(recv(sp[0], &c, 1, 0), -1);
    CHECK_EQ(errno, EINTR);
    CHECK_EQ(alarms, 6);
    close(sp[0]);
    close(sp[1]);
    close(pfd[0]);
    close(pfd[1]);
}

/* Another thread parked when the handler runs elsewhere: every parked
 * call the kernel would interrupt ends. */
static int reader_errno;
static void *parked_reader(void *arg)
{
    (void)arg;
    char c;
    errno = 0;
    ssize_t r = read(pfd[0], &c, 1);
    reader_errno = errno;
    return r == -1 ? NULL : (void *)-1;
}

static void test_other_thread_interrupted(void)
{
    install(false);
    CHECK_EQ(pipe(pfd), 0);
    capri_t t = spawn(parked_reader, NULL);
    capri_sleep_ns(20000000);
    alarm_in(30);
    CHECK(join(t) == NULL);
    CHECK_EQ(reader_errno, EINTR);
    close(pfd[0]);
    close(pfd[1]);
    signal(SIGALRM, SIG_DFL);
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv)
{
    bool many = argc > 1 && strcmp(argv[1], "many") == 0;
    capri_config(CAPRI_CONFIG_SCHEDULERS, many ? 2 : 1);
    join(spawn(nothing, NULL)); /* main is a capri thread from here on */
    RUN(test_read_interrupted);
    RUN(test_read_restarted);
    RUN(test_always_interrupted);
    RUN(test_other_thread_interrupted);
    int rc = test_summary(many ? "test_eintr (2 schedulers)" : "test_eintr (1 scheduler)");
    fflush(NULL);
    if (rc == 0 && !many)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
