/*
 * Stack overflow: a capri thread recursing without bound hits its chunk's
 * guard page (on the default stack and on a 4 KiB one); the reporter prints
 *     capri: stack overflow in thread <handle> "<name>" at <address>
 * and the process dies by SIGABRT, also when the user has a SIGSEGV handler
 * (it does not see overflows). Other faults are not overflows: a NULL
 * dereference in a capri thread and a write into a guard page far below the
 * stack pointer still die by SIGSEGV, or go to the user's handler.
 *
 * Every case runs in a child: this program re-executes itself with the
 * case's name as argv[1], its stderr in a pipe, and core dumps off.
 *
 * Under sanitizers (CAPRI_TEST_SANITIZED) the child gets
 * ASAN_OPTIONS=...:handle_segv=0 so that ASan installs no SIGSEGV handler
 * of its own and the expectations are the same as in the plain build.
 * (libcapri's reporter is installed after ASan's and would run first
 * anyway, but ASan would then report the NULL dereference itself and exit
 * with status 1 rather than die by SIGSEGV.)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capri.h"
#include "chunk_pool.h"
#include "rt_test.h"
#include "test.h"

/* ---- the children --------------------------------------------------------- */

static volatile int stop_recursing;

/* One frame per call with a volatile array the compiler must keep, and
 * work after the call so it is not a tail call. */
__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    if (stop_recursing)
        return frame[0];
    return recurse(depth + 1) + (unsigned)frame[depth % sizeof frame];
}

static void *deep(void *arg)
{
    (void)arg;
    /* The parent checks the reported id against this. */
    fprintf(stderr, "handle %" PRIu64 "\n", capri_self());
    fflush(stderr);
    return (void *)(uintptr_t)recurse(0);
}

static int spawn_join(void *(*fn)(void *), const char *name, size_t stack_size)
{
    capri_attr_t attr;
    memset(&attr, 0, sizeof attr);
    attr.name = name;
    attr.stack_size = stack_size;
    capri_t t;
    int rc = capri_spawn(&t, fn, NULL, &attr);
    if (rc) {
        fprintf(stderr, "spawn: %d\n", rc);
        return 2;
    }
    capri_join(t, NULL);
    fprintf(stderr, "child survived\n");
    return 0;
}

static int volatile *volatile null_pointer;

static void *null_deref(void *arg)
{
    (void)arg;
    *null_pointer = 1;
    return NULL;
}

/* A write into the guard page under the thread's chunk, far below its
 * stack pointer: a wild pointer, not an overflow. */
static void *guard_wild(void *arg)
{
    (void)arg;
    /* The frame, not a local's address: under ASan locals may live on its
     * fake stack. */
    uint32_t slot;
    void *chunk;
    unsigned cls;
    if (chunk_pool_locate(__builtin_frame_address(0), &slot, &chunk, &cls) != 1) {
        fprintf(stderr, "not on a chunk\n");
        return NULL;
    }
    volatile char *guard = (volatile char *)chunk - 64;
    *guard = 1;
    return NULL;
}

static void user_segv(int sig)
{
    (void)sig;
    static const char msg[] = "user handler ran\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(4);
    _exit(3);
}

static int child(const char *which)
{
    alarm(60); /* a hang is a failure too */
    if (!strcmp(which, "overflow"))
        return spawn_join(deep, "deep", 0);
    if (!strcmp(which, "overflow-small"))
        return spawn_join(deep, "deep", 4096);
    if (!strcmp(which, "overflow-user-handler")) {
        /* A user's SIGSEGV handler is for other faults. */
        signal(SIGSEGV, user_segv);
        return spawn_join(deep, "deep", 0);
    }
    if (!strcmp(which, "null"))
        return spawn_join(null_deref, "null", 0);
    if (!strcmp(which, "guard-wild"))
        return spawn_join(guard_wild, "wild", 64 * 1024);
    if (!strcmp(which, "null-user-handler")) {
        signal(SIGSEGV, user_segv);
        return spawn_join(null_deref, "null", 0);
    }
    fprintf(stderr, "unknown case %s\n", which);
    return 2;
}

/* ---- the parent ----------------------------------------------------------- */

struct outcome {
    int status;
    char err[8192];
};

static void run_child(const char *which, struct outcome *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(0);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK(0);
        return;
    }
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        sanitizers_leave_segv_alone();
        char *argv[] = {(char *)"rt_overflow", (char *)which, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], out->err + len, sizeof out->err - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof out->err - 1)
            break;
    }
    out->err[len] = 0;
    close(fds[0]);
    while (waitpid(pid, &out->status, 0) < 0 && errno == EINTR) {
    }
}

static int died_by(const struct outcome *o, int sig)
{
    return o->status != -1 && WIFSIGNALED(o->status) && WTERMSIG(o->status) == sig;
}

static void show(const char *which, const struct outcome *o)
{
    fprintf(stderr, "  [%s] status %#x, stderr:\n%s\n", which, o->status, o->err);
}

static void expect_overflow(const char *which)
{
    struct outcome o;
    run_child(which, &o);
    int before = test_failures;
    CHECK(died_by(&o, SIGABRT));
    CHECK_CONTAINS(o.err, "capri: stack overflow in thread ");
    CHECK_CONTAINS(o.err, "\"deep\" at 0x");
    CHECK(!strstr(o.err, "user handler ran"));
    CHECK(!strstr(o.err, "child survived"));
    /* The id is the thread's handle, as capri_self() gave it. */
    uint64_t handle = 0;
    const char *h = strstr(o.err, "handle ");
    CHECK(h && sscanf(h, "handle %" SCNu64, &handle) == 1 && handle != 0);
    char expect[96];
    snprintf(expect, sizeof expect, "stack overflow in thread %" PRIu64 " \"deep\"", handle);
    CHECK_CONTAINS(o.err, expect);
    if (test_failures != before)
        show(which, &o);
}

/* Without guard pages (CAPRI_GUARD_FORCE=none, or no way to make them)
 * an overflow is not caught: those cases are skipped. */
static int have_guards(void)
{
    struct capri_pool_stats st;
    memset(&st, 0, sizeof st);
    if (capri_pool_stats(&st) != 0 || st.guard_mode == 0) {
        fprintf(stderr, "SKIP: no guard pages under the chunks\n");
        return 0;
    }
    return 1;
}

static void test_overflow(void)
{
    if (have_guards())
        expect_overflow("overflow");
}

static void test_overflow_small(void)
{
    if (have_guards())
        expect_overflow("overflow-small");
}

static void test_overflow_user_handler(void)
{
    if (have_guards())
        expect_overflow("overflow-user-handler");
}

static void expect_plain_segv(const char *which)
{
    struct outcome o;
    run_child(which, &o);
    int before = test_failures;
    CHECK(died_by(&o, SIGSEGV));
    CHECK(!strstr(o.err, "stack overflow"));
    CHECK(!strstr(o.err, "child survived"));
    CHECK(!strstr(o.err, "not on a chunk"));
    if (test_failures != before)
        show(which, &o);
}

static void test_null(void) { expect_plain_segv("null"); }
static void test_guard_wild(void)
{
    if (have_guards())
        expect_plain_segv("guard-wild");
}

static void test_null_user_handler(void)
{
    struct outcome o;
    run_child("null-user-handler", &o);
    int before = test_failures;
    CHECK(o.status != -1 && WIFEXITED(o.status) && WEXITSTATUS(o.status) == 3);
    CHECK_CONTAINS(o.err, "user handler ran");
    CHECK(!strstr(o.err, "stack overflow"));
    if (test_failures != before)
        show("null-user-handler", &o);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child(argv[1]);
    RUN(test_overflow);
    RUN(test_overflow_small);
    RUN(test_overflow_user_handler);
    RUN(test_null);
    RUN(test_guard_wild);
    RUN(test_null_user_handler);
    return test_summary("test_overflow");
}
