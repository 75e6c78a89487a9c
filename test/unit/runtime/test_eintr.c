/*
 * EINTR on capri threads follows the kernel's rule: a signal handler ends
 * a parked read only without SA_RESTART (with it the read goes on and
 * returns its data), and ends poll, the sleeps (with the time left) and a
 * socket wait with SO_RCVTIMEO whatever its flags. A handler run on a
 * scheduler's kernel thread ends one call parked there, as the kernel
 * interrupts the one thread a signal reaches; a forked child never runs
 * the parent's parked threads.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
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

/* SIGALRM in ms, once, to the calling capri thread's kernel thread (its
 * scheduler's): as the kernel interrupts the thread a signal reaches, a
 * handler ends a call parked on the scheduler whose kernel thread ran it. */
struct shot {
    pid_t tid;
    long ms;
};

static void *shoot(void *arg)
{
    struct shot *s = arg;
    usleep((useconds_t)s->ms * 1000u);
    syscall(SYS_tgkill, getpid(), s->tid, SIGALRM);
    free(s);
    return NULL;
}

static void signal_tid_in(pid_t tid, long ms)
{
    struct shot *s = malloc(sizeof *s);
    CHECK(s != NULL);
    s->tid = tid;
    s->ms = ms;
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, shoot, s), 0);
    pthread_detach(pt);
}

static void alarm_in(long ms) { signal_tid_in((pid_t)syscall(SYS_gettid), ms); }

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

/* A thread parked on another scheduler: the handler reaches it through
 * its scheduler's kernel thread. */
static int reader_errno;
static pid_t reader_tid;
static void *parked_reader(void *arg)
{
    (void)arg;
    __atomic_store_n(&reader_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
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
    signal_tid_in(__atomic_load_n(&reader_tid, __ATOMIC_ACQUIRE), 1);
    CHECK(join(t) == NULL);
    CHECK_EQ(reader_errno, EINTR);
    close(pfd[0]);
    close(pfd[1]);
}

/* One handler run ends one parked call (the kernel interrupts one thread),
 * not every call parked on the scheduler. */
#define READERS 4
static int rp[READERS][2];
static int ended_eintr, ended_data;

static void *one_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    errno = 0;
    ssize_t r = read(rp[i][0], &c, 1);
    if (r == -1 && errno == EINTR)
        __atomic_fetch_add(&ended_eintr, 1, __ATOMIC_RELAXED);
    else if (r == 1)
        __atomic_fetch_add(&ended_data, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_one_call_per_handler(void)
{
    install(false);
    capri_t t[READERS];
    for (int i = 0; i < READERS; i++) {
        CHECK_EQ(pipe(rp[i]), 0);
        t[i] = spawn(one_reader, (void *)(intptr_t)i);
    }
    capri_sleep_ns(30000000); /* all parked, here: this scheduler's threads */
    alarm_in(1);
    capri_sleep_ns(50000000);
    CHECK_EQ(__atomic_load_n(&ended_eintr, __ATOMIC_RELAXED), 1);
    for (int i = 0; i < READERS; i++)
        CHECK_EQ(write(rp[i][1], "x", 1), 1);
    for (int i = 0; i < READERS; i++)
        CHECK(join(t[i]) == NULL);
    CHECK_EQ(ended_eintr + ended_data, READERS);
    for (int i = 0; i < READERS; i++) {
        close(rp[i][0]);
        close(rp[i][1]);
    }
}

/* The parent's parked calls stay parked in a forked child, whatever
 * handlers run there. */
static pid_t parent_pid;
static void *reader_in_parent(void *arg)
{
    (void)arg;
    char c;
    ssize_t r = read(pfd[0], &c, 1);
    if (getpid() != parent_pid)
        _exit(42); /* a parent's thread running in the child */
    return r == 1 ? NULL : (void *)-1;
}

static void test_fork_keeps_parked(void)
{
    install(false);
    CHECK_EQ(pipe(pfd), 0);
    parent_pid = getpid();
    capri_t t = spawn(reader_in_parent, NULL);
    capri_sleep_ns(20000000);
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGALRM);
        capri_sleep_ns(30000000);
        _exit(0);
    }
    CHECK(pid > 0);
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(write(pfd[1], "p", 1), 1);
    CHECK(join(t) == NULL);
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
    if (!many)
        RUN(test_one_call_per_handler); /* the readers all on this scheduler */
    RUN(test_fork_keeps_parked);
    int rc = test_summary(many ? "test_eintr (2 schedulers)" : "test_eintr (1 scheduler)");
    fflush(NULL);
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
    many = true; /* TSan: no multithreaded process continues after fork */
#endif
#endif
    if (rc == 0 && !many)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
