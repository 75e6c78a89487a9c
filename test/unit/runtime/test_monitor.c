/*
 * A capri thread stuck in the kernel where libcapri cannot see it (fgets
 * reading a socket: stdio calls read inside libc) does not stop the
 * threads queued behind it that may move: a thread not started yet, a
 * migratable thread that keeps yielding, and a migratable thread woken
 * (by a descriptor registered with the stuck scheduler's reactor) while
 * its scheduler is stuck all run elsewhere, and one of them writes the
 * line fgets waits for. Run with one scheduler (the monitor starts a
 * spare) and with two.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

static int sp[2], wake_pipe[2];
static unsigned spins;         /* moved by the migratable yielder */
static int stop_spinning;
static long stuck_tid;         /* the kernel thread fgets holds */
static long writer_tid, yielder_tid, woken_tid;

static capri_t spawn_migratable(void *(*fn)(void *), void *arg)
{
    capri_attr_t attr;
    memset(&attr, 0, sizeof attr);
    attr.migratable = 1;
    capri_t t = 0;
    CHECK_EQ(capri_spawn(&t, fn, arg, &attr), 0);
    return t;
}

static void *yielder(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_spinning, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&spins, 1u, __ATOMIC_RELAXED);
        __atomic_store_n(&yielder_tid, syscall(SYS_gettid), __ATOMIC_RELAXED);
        capri_yield();
    }
    return NULL;
}

/* Parks reading a pipe (registered with the reactor of the scheduler it
 * first parked on: the one that gets stuck), and is woken while that
 * scheduler is stuck. */
static void *pipe_reader(void *arg)
{
    (void)arg;
    char c;
    if (read(wake_pipe[0], &c, 1) != 1)
        return (void *)-1;
    __atomic_store_n(&woken_tid, syscall(SYS_gettid), __ATOMIC_RELAXED);
    return NULL;
}

/* Not started when fgets blocks: waits until the yielder has run on while
 * its scheduler is stuck, wakes the pipe reader, then writes the line. */
/* The blocked-signal mask of kernel thread tid, from /proc. */
static unsigned long long blocked_signals(long tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
    FILE *f = fopen(path, "r");
    unsigned long long mask = ~0ull;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return mask;
}

static unsigned long long writer_mask;

static void *line_writer(void *arg)
{
    unsigned before = (unsigned)(uintptr_t)arg;
    __atomic_store_n(&writer_tid, syscall(SYS_gettid), __ATOMIC_RELAXED);
    writer_mask = blocked_signals(syscall(SYS_gettid));
    uint64_t end = now_ns() + 5000000000ull;
    while (__atomic_load_n(&spins, __ATOMIC_RELAXED) < before + 1000 && now_ns() < end)
        capri_sleep_ns(1000000);
    if (write(wake_pipe[1], "w", 1) != 1)
        return (void *)-1;
    while (!__atomic_load_n(&woken_tid, __ATOMIC_RELAXED) && now_ns() < end)
        capri_sleep_ns(1000000);
    const char *line = now_ns() < end ? "hello\n" : "late\n";
    return write(sp[1], line, strlen(line)) == (ssize_t)strlen(line) ? NULL : (void *)-1;
}

static char got[64];

static void *stuck_reader(void *arg)
{
    (void)arg;
    capri_t reader = spawn_migratable(pipe_reader, NULL);
    capri_sleep_ns(20000000); /* the reader parks (registering the pipe here) */
    unsigned before = __atomic_load_n(&spins, __ATOMIC_RELAXED);
    capri_t writer = spawn(line_writer, (void *)(uintptr_t)before);
    /* stdio reads with libc's own read, which libcapri does not see: this
     * kernel thread blocks until the line comes. */
    FILE *f = fdopen(dup(sp[0]), "r");
    if (!f)
        return (void *)-1;
    __atomic_store_n(&stuck_tid, syscall(SYS_gettid), __ATOMIC_RELAXED);
    char *r = fgets(got, sizeof got, f);
    fclose(f);
    if (!r || join(writer) != NULL || join(reader) != NULL)
        return (void *)-2;
    return NULL;
}

static void test_fgets_stuck(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    CHECK_EQ(pipe(wake_pipe), 0);
    __atomic_store_n(&stop_spinning, 0, __ATOMIC_RELAXED);
    capri_t y = spawn_migratable(yielder, NULL);
    capri_sleep_ns(5000000);
    uint64_t t0 = now_ns();
    capri_t t = spawn(stuck_reader, NULL);
    CHECK(join(t) == NULL);
    CHECK_STR(got, "hello\n");
    CHECK(now_ns() - t0 < 5000000000ull);
    /* Who ran where: the writer and the woken reader did not wait for the
     * stuck kernel thread. */
    CHECK(writer_tid != 0 && writer_tid != stuck_tid);
    /* The kernel thread it ran on (a spare with one scheduler) takes
     * signals as the others do: the monitor's blocked set is not its. */
    CHECK_EQ(writer_mask, blocked_signals(syscall(SYS_gettid)));
    CHECK(woken_tid != 0 && woken_tid != stuck_tid);
    __atomic_store_n(&stop_spinning, 1, __ATOMIC_RELAXED);
    CHECK(join(y) == NULL);
    close(sp[0]);
    close(sp[1]);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
}

int main(int argc, char **argv)
{
    bool many = argc > 1 && strcmp(argv[1], "many") == 0;
    capri_config(CAPRI_CONFIG_SCHEDULERS, many ? 2 : 1);
    RUN(test_fgets_stuck);
    int rc = test_summary(many ? "test_monitor (2 schedulers)" : "test_monitor (1 scheduler)");
    fflush(NULL);
    if (rc == 0 && !many)
        execl("/proc/self/exe", argv[0], "many", (char *)NULL);
    return rc;
}
