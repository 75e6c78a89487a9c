/*
 * A read that parks without trying (a stream socket drained by a short
 * read, and no event since) must still see what the last event said: the
 * peer sent its last bytes and closed (or reset) before the short read, so
 * the end of the stream or the error comes with no further edge. Over TCP
 * and UNIX stream sockets: the read after the short one returns 0 (or
 * ECONNRESET) at once instead of waiting for a timeout.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

static int peer;
static int linger_reset;

/* The peer: waits until the reader has parked, then sends two bytes and
 * closes (or resets) in one go. */
static void *send_and_close(void *arg)
{
    (void)arg;
    capri_sleep_ns(20000000);
    if (write(peer, "ab", 2) != 2)
        return (void *)-1;
    if (linger_reset) {
        struct linger l = { 1, 0 };
        setsockopt(peer, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(peer);
    return NULL;
}

static void check_end(int reader, bool reset)
{
    linger_reset = reset;
    capri_t t = spawn(send_and_close, NULL);
    char buf[16];
    /* Parks (nothing yet), wakes on the data and the end together. */
    CHECK_EQ(read(reader, buf, sizeof buf), 2);
    CHECK(join(t) == NULL);
    uint64_t t0 = now_ns();
    errno = 0;
    ssize_t r = read(reader, buf, sizeof buf);
    if (reset)
        CHECK(r == 0 || (r == -1 && errno == ECONNRESET));
    else
        CHECK_EQ(r, 0);
    CHECK(now_ns() - t0 < 1000000000ull); /* at once, not after a timeout */
    close(reader);
}

static void tcp_pair(int *reader)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&a, &len), 0);
    CHECK_EQ(listen(l, 4), 0);
    peer = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(connect(peer, (struct sockaddr *)&a, sizeof a), 0);
    *reader = accept(l, NULL, NULL);
    CHECK(*reader >= 0);
    /* Five seconds: a lost end would show as a timeout, not a hang. */
    struct timeval tv = { 5, 0 };
    setsockopt(*reader, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    close(l);
}

static void test_tcp_close(void)
{
    int r;
    tcp_pair(&r);
    check_end(r, false);
}

static void test_tcp_reset(void)
{
    int r;
    tcp_pair(&r);
    check_end(r, true);
}

static void test_unix_close(void)
{
    int sp[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    peer = sp[1];
    check_end(sp[0], false);
}

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    for (int i = 0; i < 20; i++) { /* the order of events varies: repeat */
        RUN(test_tcp_close);
        RUN(test_tcp_reset);
        RUN(test_unix_close);
    }
    return test_summary("test_read_end");
}
