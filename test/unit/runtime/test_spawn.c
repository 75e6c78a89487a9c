/*
 * Another program never inherits capri's O_NONBLOCK: a listening socket
 * capri flagged for accept, and a socket it flagged for sendfile, are
 * blocking in a child started with fork and exec (as its stdin), with exec
 * from a forked capri child that flagged a socket of its own, with
 * posix_spawn, popen and system. The parent goes on accepting and sending
 * without the flag on descriptions a child may share; close-on-exec ones
 * keep it. With two schedulers, children forked while another capri
 * thread keeps accepting still find the descriptor blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

extern char **environ;

static const char *self_path = "/proc/self/exe";
static char self_exe[4096];

/* The flags as the kernel holds them (fcntl's F_GETFL hides capri's). */
static bool kernel_nonblocking(int fd)
{
    return (syscall(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK) != 0;
}

static int listener;
static struct sockaddr_in addr;

static void make_listener(int flags)
{
    listener = socket(AF_INET, SOCK_STREAM | flags, 0);
    CHECK(listener >= 0);
    memset(&addr, 0, sizeof addr); /* port 0: any free one */
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    CHECK_EQ(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    CHECK_EQ(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
    CHECK_EQ(listen(listener, 64), 0);
}

static int connect_client(void)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    return c;
}

/* One accept through capri: the listener carries capri's flag after it. */
static void accept_one(void)
{
    int c = connect_client();
    int a = accept(listener, NULL, NULL);
    CHECK(a >= 0);
    close(a);
    close(c);
}

/* The exit status of a child that checked a descriptor: 0 blocking, 1
 * non-blocking, 2 not open. */
static int status_of(pid_t pid)
{
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char fd_arg[16];

static void test_fork_exec_stdin(void)
{
    make_listener(0);
    int unused = listener; /* a second listener, made but not accepted on yet */
    struct sockaddr_in unused_addr = addr;
    make_listener(0);
    accept_one();
    CHECK(kernel_nonblocking(listener)); /* the precondition: capri set it */
    pid_t pid = fork();
    if (pid == 0) {
        dup2(listener, 0);
        execl(self_exe, self_exe, "check-fd", "0", (char *)NULL);
        _exit(3);
    }
    CHECK(pid > 0);
    CHECK_EQ(status_of(pid), 0);
    /* The parent goes on accepting, without the flag: the child may still
     * hold the description. The same for the listener not flagged yet. */
    accept_one();
    CHECK(!kernel_nonblocking(listener));
    close(listener);
    listener = unused;
    addr = unused_addr;
    accept_one();
    CHECK(!kernel_nonblocking(listener));
    close(listener);
}

static void test_exec_in_forked_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* The child makes and flags a listener of its own; exec clears it. */
        make_listener(0);
        accept_one();
        if (!kernel_nonblocking(listener))
            _exit(4);
        snprintf(fd_arg, sizeof fd_arg, "%d", listener);
        execl(self_exe, self_exe, "check-fd", fd_arg, (char *)NULL);
        _exit(3);
    }
    CHECK(pid > 0);
    CHECK_EQ(status_of(pid), 0);
}

/* A listener capri flagged (made with `flags`) handed to a program started
 * with posix_spawn as its stdin (a dup2 file action): the program finds it
 * blocking, and this process goes on accepting. */
static void check_posix_spawn_stdin(int flags)
{
    make_listener(flags);
    accept_one();
    CHECK(kernel_nonblocking(listener));
    posix_spawn_file_actions_t fa;
    CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
    CHECK_EQ(posix_spawn_file_actions_adddup2(&fa, listener, 0), 0);
    char *argv[] = { self_exe, (char *)"check-fd", (char *)"0", NULL };
    pid_t pid = 0;
    CHECK_EQ(posix_spawn(&pid, self_exe, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    CHECK_EQ(status_of(pid), 0);
    accept_one();
    close(listener);
}

static void test_posix_spawn_stdin(void) { check_posix_spawn_stdin(0); }

/* A connection socket capri flagged for sendfile, checked by a child of
 * popen or system; sendfile goes on working. */
static void check_sendfile_socket(bool use_system)
{
    make_listener(0);
    int c = connect_client();
    int a = accept(listener, NULL, NULL);
    CHECK(a >= 0);
    int in = open(self_exe, O_RDONLY);
    CHECK(in >= 0);
    off_t off = 0;
    CHECK_EQ(sendfile(a, in, &off, 100), 100);
    CHECK(kernel_nonblocking(a));
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s check-fd %d", self_exe, a);
    int st;
    if (use_system) {
        st = system(cmd);
    } else {
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        st = p ? pclose(p) : -1;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(sendfile(a, in, &off, 100), 100);
    CHECK(!kernel_nonblocking(a));
    char buf[256];
    size_t got = 0;
    while (got < 200) {
        ssize_t r = read(c, buf, sizeof buf);
        CHECK(r > 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    CHECK_EQ(got, 200u);
    close(in);
    close(a);
    close(c);
    close(listener);
}

static void test_popen_sendfile_socket(void) { check_sendfile_socket(false); }
static void test_system_sendfile_socket(void) { check_sendfile_socket(true); }

/* Close-on-exec descriptors no other program sees keep capri's flag (and
 * the fast paths) across a fork and exec. */
static void test_cloexec_keeps_flag(void)
{
    make_listener(SOCK_CLOEXEC);
    accept_one();
    CHECK(kernel_nonblocking(listener));
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, "check-fd", "0", (char *)NULL);
        _exit(3);
    }
    CHECK(pid > 0);
    status_of(pid);
    CHECK(kernel_nonblocking(listener));
    accept_one();
    close(listener);
}

/* A forked child that dup2s a close-on-exec listener and execs clears
 * capri's flag on the description it shares with this process: the
 * parent's next accept notices and takes the flag-free path instead of
 * blocking its kernel thread. */
static int late_client_port;
/* Connects once the ticker (arg) on the acceptor's scheduler has ticked
 * ten times: it can only while the acceptor is parked. */
static void *connect_later(void *arg)
{
    rt_ticker_await(arg, 10, 10000);
    struct sockaddr_in a = addr;
    a.sin_port = (in_port_t)late_client_port;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        return (void *)-1;
    usleep(20000);
    close(c);
    return NULL;
}

static void test_child_clears_shared_listener(void)
{
    make_listener(SOCK_CLOEXEC);
    accept_one();
    CHECK(kernel_nonblocking(listener));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(listener, 50); /* a number that stays open across exec */
        execl(self_exe, self_exe, "check-fd", "50", (char *)NULL);
        _exit(3);
    }
    CHECK(pid > 0);
    CHECK_EQ(status_of(pid), 0);
    CHECK(!kernel_nonblocking(listener)); /* the child's exec cleared it */
    /* This accept waits for its client (ten ticks) parked: the ticker on this
     * scheduler runs meanwhile. */
    struct rt_ticker tick;
    rt_ticker_start(&tick);
    late_client_port = addr.sin_port;
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, connect_later, &tick), 0);
    int a = accept(listener, NULL, NULL);
    CHECK(a >= 0);
    CHECK(rt_ticker_count(&tick) >= 10);
    void *res = (void *)1;
    CHECK_EQ(pthread_join(pt, &res), 0);
    CHECK(res == NULL);
    rt_ticker_stop(&tick);
    close(a);
    close(listener);
}

/* posix_spawn with a dup2 file action hands even a close-on-exec socket
 * to the new program: it finds it blocking. */
static void test_posix_spawn_dup_cloexec(void) { check_posix_spawn_stdin(SOCK_CLOEXEC); }

/* ---- forks while another capri thread keeps accepting ----------------------------- */

static volatile int stop_accepting;
static unsigned accepted;

static void *acceptor(void *arg)
{
    (void)arg;
    while (!stop_accepting) {
        int a = accept(listener, NULL, NULL);
        if (a < 0) /* shut down at the end (EINVAL), or a real failure */
            return stop_accepting ? NULL : (void *)-1;
        close(a);
        __atomic_fetch_add(&accepted, 1u, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *connector(void *arg)
{
    (void)arg;
    while (!stop_accepting) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0)
            return (void *)-1;
        int r = connect(c, (struct sockaddr *)&addr, sizeof addr);
        close(c);
        if (r != 0)
            return stop_accepting ? NULL : (void *)-1;
    }
    return NULL;
}

static void test_fork_while_accepting(void)
{
    make_listener(0);
    stop_accepting = 0;
    capri_t acc = spawn(acceptor, NULL);
    capri_t con = spawn(connector, NULL);
    uint64_t end = now_ns() + 10000000000ull;
    while (__atomic_load_n(&accepted, __ATOMIC_RELAXED) == 0 && now_ns() < end)
        capri_sleep_ns(1000000); /* both are running */
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            snprintf(fd_arg, sizeof fd_arg, "%d", listener);
            execl(self_exe, self_exe, "check-fd", fd_arg, (char *)NULL);
            _exit(3);
        }
        CHECK(pid > 0);
        CHECK_EQ(status_of(pid), 0);
    }
    stop_accepting = 1;
    CHECK(join(con) == NULL);
    /* The acceptor may wait in accept: shutting the listener down ends
     * it (a last connection may not get through a full backlog). */
    shutdown(listener, SHUT_RDWR);
    CHECK(join(acc) == NULL);
    CHECK(accepted > 0);
    close(listener);
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check-fd") == 0) {
        long fl = fcntl(atoi(argv[2]), F_GETFL);
        return fl < 0 ? 2 : (fl & O_NONBLOCK) ? 1 : 0;
    }
    ssize_t n = readlink(self_path, self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = 0;
    bool many = argc > 1 && strcmp(argv[1], "many") == 0;
    capri_config(CAPRI_CONFIG_SCHEDULERS, many ? 2 : 1);
    join(spawn(nothing, NULL)); /* main is a capri thread from here on */
    RUN(test_fork_exec_stdin);
    RUN(test_exec_in_forked_child);
    RUN(test_posix_spawn_stdin);
    RUN(test_popen_sendfile_socket);
    RUN(test_system_sendfile_socket);
    RUN(test_cloexec_keeps_flag);
    RUN(test_child_clears_shared_listener);
    RUN(test_posix_spawn_dup_cloexec);
    RUN(test_fork_while_accepting);
    int rc = test_summary(many ? "test_spawn (2 schedulers)" : "test_spawn (1 scheduler)");
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
