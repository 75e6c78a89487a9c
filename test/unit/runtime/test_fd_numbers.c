/*
 * Descriptor numbers that change meaning behind the program's plain calls:
 * close_range and closefrom wake the threads parked on the numbers they
 * close (EBADF), as close does; a descriptor received with SCM_RIGHTS on a
 * number libcapri knew as something else is learnt afresh: a socket where
 * a pipe was parks its reader (the scheduler keeps running), and a
 * description the sender made non-blocking returns EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

static int pfd[2];
static int read_errno;

static void *blocked_reader(void *arg)
{
    char c;
    errno = 0;
    ssize_t r = read((int)(intptr_t)arg, &c, 1);
    read_errno = errno;
    return r == -1 ? NULL : (void *)-1;
}

static void test_close_range_wakes(void)
{
    CHECK_EQ(pipe(pfd), 0);
    capri_t t = spawn(blocked_reader, (void *)(intptr_t)pfd[0]);
    capri_sleep_ns(20000000);
    CHECK_EQ(close_range((unsigned)pfd[0], (unsigned)pfd[0], 0), 0);
    CHECK(join(t) == NULL);
    CHECK_EQ(read_errno, EBADF);
    close(pfd[1]);
}

static void test_closefrom_wakes(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 1950) {
        printf("  skipped: open-file limit %lu\n", (unsigned long)rl.rlim_cur);
        return;
    }
    CHECK_EQ(pipe(pfd), 0);
    const int high = 1900; /* above every descriptor the runtime holds */
    CHECK_EQ(dup2(pfd[0], high), high);
    capri_t t = spawn(blocked_reader, (void *)(intptr_t)high);
    capri_sleep_ns(20000000);
    closefrom(high);
    CHECK(join(t) == NULL);
    CHECK_EQ(read_errno, EBADF);
    CHECK_EQ(fcntl(high, F_GETFD), -1);
    close(pfd[0]);
    close(pfd[1]);
}

/* closefrom(3) closes everything the program opened, not libcapri's own
 * epoll and wake descriptors: parking and waking go on working. */
static void *write_byte_later(void *arg)
{
    (void)arg;
    capri_sleep_ns(20000000);
    return write(pfd[1], "w", 1) == 1 ? NULL : (void *)-1;
}

/* An uncached read of a fresh file: the scheduler's ring (or the pool)
 * answers it. */
static void read_uncached(const char *path)
{
    int f = open(path, O_RDONLY);
    CHECK(f >= 0);
    posix_fadvise(f, 0, 0, POSIX_FADV_DONTNEED);
    char buf[4096];
    CHECK_EQ(pread(f, buf, sizeof buf, 8192), (ssize_t)sizeof buf);
    close(f);
}

static void test_closefrom_keeps_runtime(void)
{
    char path[] = "/tmp/capri-fdnum-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    static char block[65536];
    memset(block, 'f', sizeof block);
    CHECK_EQ(write(f, block, sizeof block), (ssize_t)sizeof block);
    fsync(f);
    close(f);
    read_uncached(path); /* the ring and its eventfd exist from here */
    closefrom(3);
    read_uncached(path);
    CHECK_EQ(pipe(pfd), 0);
    capri_t t = spawn(write_byte_later, NULL);
    char c = 0;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    CHECK_EQ(c, 'w');
    CHECK(join(t) == NULL);
    close(pfd[0]);
    close(pfd[1]);
    CHECK_EQ(close_range(3, ~0u, 0), 0);
    CHECK_EQ(pipe(pfd), 0);
    t = spawn(write_byte_later, NULL);
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    CHECK(join(t) == NULL);
    close(pfd[0]);
    close(pfd[1]);
    read_uncached(path);
    unlink(path);
}

/* ---- SCM_RIGHTS ------------------------------------------------------------ */

static void send_fd(int via, int fd)
{
    char byte = 'f';
    struct iovec v = { &byte, 1 };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = control.buf;
    m.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    CHECK_EQ(sendmsg(via, &m, 0), 1);
}

static int recv_fd(int via)
{
    char byte;
    struct iovec v = { &byte, 1 };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = control.buf;
    m.msg_controllen = sizeof control.buf;
    if (recvmsg(via, &m, 0) != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* A number learnt as a pipe end (parked on once), then closed where
 * libcapri cannot see it (a raw system call, as fclose's is). */
static int known_pipe_number(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "k", 1), 1);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1); /* the entry now says: a pipe */
    syscall(SYS_close, p[0]);
    close(p[1]);
    return p[0];
}

static int late_peer;

/* Sends once the ticker (arg) on the reader's scheduler has ticked ten
 * times: it can only while the reader is parked. */
static void *send_later(void *arg)
{
    rt_ticker_await(arg, 10, 10000);
    return send(late_peer, "s", 1, 0) == 1 ? NULL : (void *)-1;
}

static void test_received_socket(void)
{
    int carrier[2], sock[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, carrier), 0);
    int number = known_pipe_number();
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
    /* Send one end; close ours so the received copy lands on `number`,
     * the lowest free number. */
    send_fd(carrier[0], sock[0]);
    CHECK_EQ(syscall(SYS_close, sock[0]), 0);
    int got = recv_fd(carrier[1]);
    CHECK(got >= 0);
    if (got != number)
        printf("  note: received on %d, not the learnt %d\n", got, number);
    /* It parks: the ticker on this scheduler runs while it waits. */
    struct rt_ticker tick;
    rt_ticker_start(&tick);
    late_peer = sock[1];
    pthread_t pt;
    CHECK_EQ(pthread_create(&pt, NULL, send_later, &tick), 0);
    char c = 0;
    CHECK_EQ(read(got, &c, 1), 1);
    CHECK_EQ(c, 's');
    CHECK(rt_ticker_count(&tick) >= 10);
    CHECK_EQ(pthread_join(pt, NULL), 0);
    rt_ticker_stop(&tick);
    close(got);
    close(sock[1]);
    /* A description the sender made non-blocking: EAGAIN, no park. */
    int nb[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, nb), 0);
    int number2 = known_pipe_number();
    CHECK_EQ(syscall(SYS_fcntl, nb[0], F_SETFL, O_NONBLOCK), 0);
    send_fd(carrier[0], nb[0]);
    CHECK_EQ(syscall(SYS_close, nb[0]), 0);
    int got2 = recv_fd(carrier[1]);
    CHECK(got2 >= 0);
    (void)number2;
    errno = 0;
    CHECK_EQ(read(got2, &c, 1), -1);
    CHECK_EQ(errno, EAGAIN);
    close(got2);
    close(nb[1]);
    close(carrier[0]);
    close(carrier[1]);
}

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    RUN(test_close_range_wakes);
    RUN(test_closefrom_wakes);
    RUN(test_received_socket);
    RUN(test_closefrom_keeps_runtime);
    return test_summary("test_fd_numbers");
}
