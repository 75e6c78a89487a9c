/*
 * The process around capri threads: fork from a capri thread (the child has
 * one thread and one scheduler, and can spawn again), main calling
 * capri_exit (the process ends with status 0 when the last thread ends),
 * and configuration from the environment.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capri.h"
#include "test.h"

static void *return_arg(void *arg) { return arg; }

static void *sleeper(void *arg)
{
    capri_sleep_ns(200000000);
    return arg;
}

static void *fork_inside(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: only this thread exists; spawning works again. */
        capri_t t;
        void *r = NULL;
        if (capri_spawn(&t, return_arg, (void *)11, NULL) != 0)
            _exit(2);
        if (capri_join(t, &r) != 0 || r != (void *)11)
            _exit(3);
        capri_sleep_ns(1000000);
        _exit(0);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return (void *)(intptr_t)status;
}

static void test_fork(void)
{
    capri_t busy[4], f;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(capri_spawn(&busy[i], sleeper, NULL, NULL), 0);
    CHECK_EQ(capri_spawn(&f, fork_inside, NULL, NULL), 0);
    void *status;
    CHECK_EQ(capri_join(f, &status), 0);
    CHECK(WIFEXITED((int)(intptr_t)status));
    CHECK_EQ(WEXITSTATUS((int)(intptr_t)status), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(capri_join(busy[i], NULL), 0);
}

static int pipe_fd;
static void *write_later(void *arg)
{
    capri_sleep_ns(20000000);
    char c = (char)(intptr_t)arg;
    if (write(pipe_fd, &c, 1) != 1)
        abort();
    return NULL;
}

static void test_main_exit(void)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork(); /* before the child touches capri: a fresh runtime */
    if (pid == 0) {
        close(fds[0]);
        pipe_fd = fds[1];
        capri_t t;
        capri_attr_t attr = {.detached = 1};
        for (int i = 0; i < 3; i++)
            if (capri_spawn(&t, write_later, (void *)(intptr_t)('a' + i), &attr) != 0)
                _exit(5);
        capri_exit(NULL); /* ends with status 0 after the three threads */
    }
    close(fds[1]);
    char buf[8];
    ssize_t total = 0, n;
    while ((n = read(fds[0], buf + total, sizeof buf - (size_t)total)) > 0)
        total += n;
    close(fds[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_EQ(total, 3);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Run `body` in a child process that has not started the runtime; returns
 * its wait status. */
static int in_child(void (*body)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        body();
        _exit(99); /* body must end the process itself */
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static capri_t main_handle;
static void *join_main(void *arg)
{
    (void)arg;
    void *r = NULL;
    if (capri_join(main_handle, &r) != 0 || r != (void *)17)
        _exit(7);
    return NULL;
}

static void main_exits_and_is_joined(void)
{
    main_handle = capri_self();
    capri_t t;
    if (capri_spawn(&t, join_main, NULL, NULL) != 0)
        _exit(6);
    capri_exit((void *)17);
}

static void test_join_main(void)
{
    /* pthreads allow joining the main thread after it called pthread_exit;
     * so does capri. The process then ends when the joiner has. */
    int status = in_child(main_exits_and_is_joined);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void *from_pthread_spawned(void *arg) { return arg; }
static void *first_call_from_pthread(void *arg)
{
    (void)arg;
    capri_t t;
    void *r = NULL;
    if (capri_spawn(&t, from_pthread_spawned, (void *)5, NULL) != 0 || capri_join(t, &r) != 0)
        return (void *)1;
    return r;
}

static void pthread_starts_runtime(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    pthread_t p;
    void *r = NULL;
    pthread_create(&p, NULL, first_call_from_pthread, NULL);
    pthread_join(p, &r);
    _exit(r == (void *)5 ? 0 : 8);
}

static void test_pthread_first_one_scheduler(void)
{
    /* A plain pthread's first call starts every scheduler, even the only one. */
    int status = in_child(pthread_starts_runtime);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void *fork_and_return(void *arg)
{
    (void)arg;
    pid_t pid = fork();
    if (pid != 0) {
        int status = -1;
        waitpid(pid, &status, 0);
        return (void *)(intptr_t)status;
    }
    /* In the child the process's only thread ends here, and so does the
     * child, with status 0. Were main resumed in the child instead, it would
     * see this value and exit with 10. */
    return (void *)(intptr_t)0x7f00;
}

static void main_joins_forker(void)
{
    capri_t t;
    void *status = NULL;
    if (capri_spawn(&t, fork_and_return, NULL, NULL) != 0 || capri_join(t, &status) != 0)
        _exit(9);
    /* Only the parent gets here: the child ended with its forking thread. */
    int st = (int)(intptr_t)status;
    _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 10);
}

static void test_fork_child_ends_with_its_thread(void)
{
    int status = in_child(main_joins_forker);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_environment(void)
{
    /* A malformed variable is reported and ignored. */
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        setenv("CAPRI_SCHEDULERS", "lots", 1);
        capri_t t;
        if (capri_spawn(&t, return_arg, NULL, NULL) != 0 || capri_join(t, NULL) != 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n, total = 0;
    while ((n = read(fds[0], buf + total, sizeof buf - 1 - (size_t)total)) > 0)
        total += n;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_CONTAINS(buf, "capri: warning: ignoring malformed or out-of-range CAPRI_SCHEDULERS=lots");
}

int main(void)
{
    /* These fork before the runtime starts in this process. */
    RUN(test_main_exit);
    RUN(test_environment);
    RUN(test_join_main);
    RUN(test_pthread_first_one_scheduler);
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
    /* TSan does not support a multithreaded process continuing after fork
     * (it reports the child's view of the parent's threads as races). */
    return test_summary("test_process");
#endif
#endif
    RUN(test_fork_child_ends_with_its_thread);
    RUN(test_fork);
    return test_summary("test_process");
}
