/*
 * capri_chan: buffered FIFO order, waiting senders moved into the ring in
 * order, rendezvous (capacity 0) both ways, timed send/recv, close waking
 * blocked senders and receivers (EPIPE) while buffered elements drain,
 * cancellation of blocked senders and receivers, destroy, large and empty
 * elements, foreign kernel threads on both ends, and a ping-pong timing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "rt_test.h"
#include "test.h"
#include "thread.h"

/* The first fields of channel.c's struct capri_chan (kept in sync): its
 * lock and the count of threads blocked on it. */
struct chan_head {
    unsigned lock;
    uint32_t closed;
    uint32_t waiters;
};

static unsigned blocked_on(capri_chan_t ch)
{
    struct chan_head *h = (struct chan_head *)(void *)ch;
    spin_lock(&h->lock);
    unsigned n = h->waiters;
    spin_unlock(&h->lock);
    return n;
}

static int wait_blocked(capri_chan_t ch, unsigned n)
{
    uint64_t end = now_ns() + 10000000000ull;
    while (blocked_on(ch) != n) {
        if (now_ns() > end)
            return 0;
        capri_sleep_ns(100000);
    }
    return 1;
}

struct op {
    capri_chan_t ch;
    long value;
    uint64_t timeout; /* 0: untimed */
    int rc;
    long got;
};

static void *sender(void *arg)
{
    struct op *o = arg;
    o->rc = o->timeout ? capri_chan_send_timed(o->ch, &o->value, o->timeout)
                       : capri_chan_send(o->ch, &o->value);
    return NULL;
}

static void *receiver(void *arg)
{
    struct op *o = arg;
    o->got = -1;
    o->rc = o->timeout ? capri_chan_recv_timed(o->ch, &o->got, o->timeout)
                       : capri_chan_recv(o->ch, &o->got);
    return NULL;
}

/* ---- creation ------------------------------------------------------------------- */

static void test_create(void)
{
    capri_chan_t ch = NULL;
    CHECK_EQ(capri_chan_create(NULL, 8, 4), EINVAL);
    CHECK_EQ(capri_chan_create(&ch, SIZE_MAX / 2, 4), EINVAL);
    CHECK_EQ(capri_chan_create(&ch, 8, 4), 0);
    CHECK(ch != NULL);
    CHECK_EQ(capri_chan_destroy(ch), 0);
    CHECK_EQ(capri_chan_destroy(NULL), EINVAL);
    CHECK_EQ(capri_chan_send(NULL, &ch), EINVAL);
    CHECK_EQ(capri_chan_recv(NULL, &ch), EINVAL);
    CHECK_EQ(capri_chan_close(NULL), EINVAL);
}

/* ---- buffered ---------------------------------------------------------------------- */

static void test_buffered(void)
{
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 4), 0);
    /* Wrap the ring several times (3 in, 3 out, capacity 4). */
    long next_in = 0, next_out = 0, v = -1;
    int order_ok = 1;
    for (int round = 0; round < 7; round++) {
        for (int i = 0; i < 3; i++)
            CHECK_EQ(capri_chan_send(ch, &(long){next_in++}), 0);
        for (int i = 0; i < 3; i++) {
            v = -1;
            CHECK_EQ(capri_chan_recv(ch, &v), 0);
            order_ok &= v == next_out++;
        }
    }
    CHECK(order_ok);
    CHECK_EQ(next_out, 21);
    for (long i = 0; i < 4; i++)
        CHECK_EQ(capri_chan_send(ch, &i), 0);
    /* Full: timed sends time out. */
    CHECK_EQ(capri_chan_send_timed(ch, &v, 0), ETIMEDOUT);
    uint64_t t0 = now_ns();
    CHECK_EQ(capri_chan_send_timed(ch, &v, 30000000), ETIMEDOUT);
    uint64_t dt = now_ns() - t0;
    CHECK(dt >= 29000000u && dt < 2000000000u);
    CHECK_EQ(blocked_on(ch), 0);
    for (long i = 0; i < 4; i++) {
        CHECK_EQ(capri_chan_recv_timed(ch, &v, 0), 0);
        CHECK_EQ(v, i);
    }
    /* Empty: timed receives time out. */
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 0), ETIMEDOUT);
    t0 = now_ns();
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 30000000), ETIMEDOUT);
    dt = now_ns() - t0;
    CHECK(dt >= 29000000u && dt < 2000000000u);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

/* Senders blocked on a full ring: their elements move in, in FIFO order. */
static void test_blocked_senders_fifo(void)
{
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 2), 0);
    CHECK_EQ(capri_chan_send(ch, &(long){1}), 0);
    CHECK_EQ(capri_chan_send(ch, &(long){2}), 0);
    struct op ops[3];
    capri_t ts[3];
    for (int i = 0; i < 3; i++) {
        ops[i] = (struct op){ch, 3 + i, 0, -1, 0};
        ts[i] = spawn(sender, &ops[i]);
        CHECK(wait_blocked(ch, (unsigned)i + 1));
    }
    CHECK_EQ(capri_chan_destroy(ch), EBUSY);
    int order_ok = 1;
    for (long want = 1; want <= 5; want++) {
        long v = -1;
        CHECK_EQ(capri_chan_recv(ch, &v), 0);
        order_ok &= v == want;
    }
    CHECK(order_ok);
    for (int i = 0; i < 3; i++) {
        join(ts[i]);
        CHECK_EQ(ops[i].rc, 0);
    }
    long v;
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 0), ETIMEDOUT);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

/* ---- rendezvous --------------------------------------------------------------------- */

static void test_rendezvous(void)
{
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 0), 0);
    long v = 7;
    CHECK_EQ(capri_chan_send_timed(ch, &v, 0), ETIMEDOUT);
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 0), ETIMEDOUT);
    uint64_t t0 = now_ns();
    CHECK_EQ(capri_chan_send_timed(ch, &v, 20000000), ETIMEDOUT);
    CHECK(now_ns() - t0 >= 19000000u);
    CHECK_EQ(blocked_on(ch), 0);

    /* A waiting receiver gets the element straight into its buffer. */
    struct op r = {ch, 0, 0, -1, 0};
    capri_t t = spawn(receiver, &r);
    CHECK(wait_blocked(ch, 1));
    v = 42;
    CHECK_EQ(capri_chan_send(ch, &v), 0);
    join(t);
    CHECK_EQ(r.rc, 0);
    CHECK_EQ(r.got, 42);

    /* A waiting sender: the receiver takes directly from it. */
    struct op s = {ch, 43, 0, -1, 0};
    t = spawn(sender, &s);
    CHECK(wait_blocked(ch, 1));
    v = 0;
    CHECK_EQ(capri_chan_recv(ch, &v), 0);
    CHECK_EQ(v, 43);
    join(t);
    CHECK_EQ(s.rc, 0);

    /* Several waiting senders are served in order. */
    struct op ss[4];
    capri_t ts[4];
    for (int i = 0; i < 4; i++) {
        ss[i] = (struct op){ch, 100 + i, 0, -1, 0};
        ts[i] = spawn(sender, &ss[i]);
        CHECK(wait_blocked(ch, (unsigned)i + 1));
    }
    int order_ok = 1;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(capri_chan_recv(ch, &v), 0);
        order_ok &= v == 100 + i;
    }
    CHECK(order_ok);
    for (int i = 0; i < 4; i++) {
        join(ts[i]);
        CHECK_EQ(ss[i].rc, 0);
    }

    /* A timed receive that gets its element in time. */
    struct op tr = {ch, 0, 5000000000ull, -1, 0};
    t = spawn(receiver, &tr);
    CHECK(wait_blocked(ch, 1));
    v = 44;
    CHECK_EQ(capri_chan_send_timed(ch, &v, 5000000000ull), 0);
    join(t);
    CHECK_EQ(tr.rc, 0);
    CHECK_EQ(tr.got, 44);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

/* ---- close ------------------------------------------------------------------------------ */

static void test_close(void)
{
    /* Blocked receivers wake with EPIPE. */
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 2), 0);
    struct op r[3];
    capri_t ts[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (struct op){ch, 0, i == 2 ? 60000000000ull : 0, -1, 0};
        ts[i] = spawn(receiver, &r[i]);
    }
    CHECK(wait_blocked(ch, 3));
    CHECK_EQ(capri_chan_close(ch), 0);
    for (int i = 0; i < 3; i++) {
        join(ts[i]);
        CHECK_EQ(r[i].rc, EPIPE);
    }
    CHECK_EQ(capri_chan_close(ch), EPIPE);
    long v = 1;
    CHECK_EQ(capri_chan_send(ch, &v), EPIPE);
    CHECK_EQ(capri_chan_send_timed(ch, &v, 0), EPIPE);
    CHECK_EQ(capri_chan_recv(ch, &v), EPIPE);
    CHECK_EQ(capri_chan_destroy(ch), 0);

    /* Blocked senders wake with EPIPE; buffered elements still drain. */
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 2), 0);
    CHECK_EQ(capri_chan_send(ch, &(long){10}), 0);
    CHECK_EQ(capri_chan_send(ch, &(long){11}), 0);
    struct op s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = (struct op){ch, 20 + i, i ? 60000000000ull : 0, -1, 0};
        ts[i] = spawn(sender, &s[i]);
    }
    CHECK(wait_blocked(ch, 2));
    CHECK_EQ(capri_chan_close(ch), 0);
    for (int i = 0; i < 2; i++) {
        join(ts[i]);
        CHECK_EQ(s[i].rc, EPIPE);
    }
    CHECK_EQ(capri_chan_recv(ch, &v), 0);
    CHECK_EQ(v, 10);
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 1000), 0);
    CHECK_EQ(v, 11);
    CHECK_EQ(capri_chan_recv(ch, &v), EPIPE);
    CHECK_EQ(capri_chan_recv_timed(ch, &v, 1000), EPIPE);
    CHECK_EQ(capri_chan_destroy(ch), 0);

    /* Rendezvous: a blocked sender gets EPIPE. */
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), 0), 0);
    s[0] = (struct op){ch, 5, 0, -1, 0};
    ts[0] = spawn(sender, &s[0]);
    CHECK(wait_blocked(ch, 1));
    CHECK_EQ(capri_chan_close(ch), 0);
    join(ts[0]);
    CHECK_EQ(s[0].rc, EPIPE);
    CHECK_EQ(capri_chan_recv(ch, &v), EPIPE);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

/* ---- cancellation ------------------------------------------------------------------------ */

static int chan_cleanup_ran;
static void chan_cleanup(void *arg)
{
    (void)arg;
    chan_cleanup_ran++;
}

static void *cancel_op(void *arg)
{
    struct op *o = arg;
    capri_cleanup_push(chan_cleanup, NULL);
    for (;;) {
        if (o->value == 0)
            o->rc = capri_chan_recv(o->ch, &o->got);
        else if (o->value == 1)
            o->rc = capri_chan_send(o->ch, &o->value);
        else
            o->rc = capri_chan_recv_timed(o->ch, &o->got, 60000000000ull);
    }
    capri_cleanup_pop(0);
    return NULL;
}

static void test_cancel(void)
{
    for (long kind = 0; kind < 3; kind++) {
        capri_chan_t ch;
        CHECK_EQ(capri_chan_create(&ch, sizeof(long), 0), 0);
        chan_cleanup_ran = 0;
        struct op o = {ch, kind, 0, -1, 0};
        capri_t t = spawn(cancel_op, &o);
        CHECK(wait_blocked(ch, 1));
        CHECK_EQ(capri_chan_destroy(ch), EBUSY);
        CHECK_EQ(capri_cancel(t), 0);
        CHECK(join(t) == CAPRI_CANCELED);
        CHECK_EQ(chan_cleanup_ran, 1);
        CHECK_EQ(blocked_on(ch), 0);
        /* The channel still works: no stale waiter is left in it. */
        long v = 3;
        CHECK_EQ(capri_chan_send_timed(ch, &v, 0), ETIMEDOUT);
        CHECK_EQ(capri_chan_recv_timed(ch, &v, 0), ETIMEDOUT);
        CHECK_EQ(capri_chan_destroy(ch), 0);
    }
}

/* A sender (receiver) that pops a waiter whose canceller already won its
 * token still completes the exchange: the waiter's operation returns 0
 * with the element moved, and its cancellation stays pending.
 * Deterministic when the waiter shares our scheduler. */
static void *race_op(void *arg)
{
    struct op *o = arg;
    if (o->value == 0)
        o->rc = capri_chan_recv(o->ch, &o->got);
    else
        o->rc = capri_chan_send(o->ch, &o->value);
    capri_testcancel();
    return NULL;
}

static void test_cancel_race(void)
{
    for (long kind = 0; kind < 2; kind++) {
        capri_chan_t ch;
        CHECK_EQ(capri_chan_create(&ch, sizeof(long), 0), 0);
        int colocated = 0;
        for (int tries = 0; tries < 200 && !colocated; tries++) {
            struct op o = {ch, kind ? 99 : 0, 0, -1, -1};
            capri_t t = spawn(race_op, &o);
            capri_yield(); /* run it here now, before an idle scheduler steals it */
            CHECK(wait_blocked(ch, 1));
            struct capri_thread *th = thread_from_handle(t);
            colocated = th && th->sched == thread_current()->sched;
            CHECK_EQ(capri_cancel(t), 0);
            long v = 42;
            if (colocated) {
                if (kind == 0) {
                    CHECK_EQ(capri_chan_send(ch, &v), 0);
                } else {
                    CHECK_EQ(capri_chan_recv(ch, &v), 0);
                    CHECK_EQ(v, 99);
                }
                CHECK_EQ(capri_chan_destroy(ch), EBUSY); /* it still has to leave */
            }
            CHECK(join(t) == CAPRI_CANCELED);
            if (colocated) {
                CHECK_EQ(o.rc, 0);
                if (kind == 0)
                    CHECK_EQ(o.got, 42);
            }
            CHECK_EQ(blocked_on(ch), 0);
        }
        CHECK(colocated);
        CHECK_EQ(capri_chan_destroy(ch), 0);
    }
}

/* ---- element sizes ------------------------------------------------------------------------ */

struct big {
    uint32_t seq;
    unsigned char bytes[200];
    uint32_t check;
};

static void fill_big(struct big *b, uint32_t seq)
{
    b->seq = seq;
    for (int i = 0; i < 200; i++)
        b->bytes[i] = (unsigned char)(seq * 31 + (uint32_t)i);
    b->check = ~seq;
}

static int big_ok(const struct big *b, uint32_t seq)
{
    if (b->seq != seq || b->check != ~seq)
        return 0;
    for (int i = 0; i < 200; i++)
        if (b->bytes[i] != (unsigned char)(seq * 31 + (uint32_t)i))
            return 0;
    return 1;
}

enum { BIG_N = 2000 };

static void *big_sender(void *arg)
{
    capri_chan_t ch = arg;
    for (uint32_t i = 0; i < BIG_N; i++) {
        struct big b;
        fill_big(&b, i);
        if (capri_chan_send(ch, &b) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_sizes(void)
{
    for (size_t cap = 0; cap <= 3; cap += 3) {
        capri_chan_t ch;
        CHECK_EQ(capri_chan_create(&ch, sizeof(struct big), cap), 0);
        capri_t t = spawn(big_sender, ch);
        int ok = 1;
        for (uint32_t i = 0; i < BIG_N; i++) {
            struct big b;
            memset(&b, 0, sizeof b);
            ok &= capri_chan_recv(ch, &b) == 0 && big_ok(&b, i);
        }
        CHECK(ok);
        CHECK_EQ((intptr_t)join(t), 0);
        CHECK_EQ(capri_chan_destroy(ch), 0);
    }
    /* Zero-sized elements: pure signals. */
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, 0, 2), 0);
    CHECK_EQ(capri_chan_send(ch, NULL), 0);
    CHECK_EQ(capri_chan_send(ch, NULL), 0);
    CHECK_EQ(capri_chan_send_timed(ch, NULL, 0), ETIMEDOUT);
    CHECK_EQ(capri_chan_recv(ch, NULL), 0);
    CHECK_EQ(capri_chan_recv(ch, NULL), 0);
    CHECK_EQ(capri_chan_recv_timed(ch, NULL, 0), ETIMEDOUT);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

/* ---- foreign kernel threads ------------------------------------------------------------------ */

enum { FOREIGN_N = 3000 };

static void *foreign_producer(void *arg)
{
    capri_chan_t ch = arg;
    for (long i = 1; i <= FOREIGN_N; i++)
        if (capri_chan_send(ch, &i) != 0)
            return (void *)1;
    return NULL;
}

static void *foreign_consumer(void *arg)
{
    capri_chan_t ch = arg;
    long sum = 0, v;
    int rc;
    while ((rc = capri_chan_recv(ch, &v)) == 0)
        sum += v;
    return rc == EPIPE ? (void *)sum : NULL;
}

static void test_foreign(void)
{
    for (size_t cap = 0; cap <= 8; cap += 8) {
        capri_chan_t ch;
        CHECK_EQ(capri_chan_create(&ch, sizeof(long), cap), 0);
        pthread_t pt;
        CHECK_EQ(pthread_create(&pt, NULL, foreign_producer, ch), 0);
        long sum = 0, v;
        int order_ok = 1;
        for (long i = 1; i <= FOREIGN_N; i++) {
            CHECK_EQ(capri_chan_recv(ch, &v), 0);
            order_ok &= v == i;
            sum += v;
        }
        CHECK(order_ok);
        CHECK_EQ(sum, (long)FOREIGN_N * (FOREIGN_N + 1) / 2);
        void *res = (void *)1;
        CHECK_EQ(pthread_join(pt, &res), 0);
        CHECK(res == NULL);

        /* And the other way round: a foreign consumer. */
        CHECK_EQ(pthread_create(&pt, NULL, foreign_consumer, ch), 0);
        for (long i = 1; i <= FOREIGN_N; i++)
            CHECK_EQ(capri_chan_send(ch, &i), 0);
        CHECK_EQ(capri_chan_close(ch), 0);
        CHECK_EQ(pthread_join(pt, &res), 0);
        CHECK_EQ((long)res, (long)FOREIGN_N * (FOREIGN_N + 1) / 2);
        CHECK_EQ(capri_chan_destroy(ch), 0);
    }
}

/* ---- ping-pong (timing reported, not checked) ---------------------------------------------------- */

static capri_chan_t ping, pong;

static void *ponger(void *arg)
{
    long n = (long)(intptr_t)arg, v;
    for (long i = 0; i < n; i++) {
        if (capri_chan_recv(ping, &v) != 0 || capri_chan_send(pong, &v) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_ping_pong(void)
{
#ifdef CAPRI_TEST_SANITIZED
    long n = 20000;
#else
    long n = 200000;
#endif
    CHECK_EQ(capri_chan_create(&ping, sizeof(long), 0), 0);
    CHECK_EQ(capri_chan_create(&pong, sizeof(long), 0), 0);
    capri_t t = spawn(ponger, (void *)(intptr_t)n);
    uint64_t t0 = now_ns();
    int ok = 1;
    for (long i = 0; i < n; i++) {
        long v = i;
        ok &= capri_chan_send(ping, &v) == 0;
        ok &= capri_chan_recv(pong, &v) == 0 && v == i;
    }
    uint64_t dt = now_ns() - t0;
    CHECK(ok);
    CHECK_EQ((intptr_t)join(t), 0);
    fprintf(stderr, "  ping-pong: %.1f ns per message\n", (double)dt / (double)(2 * n));
    CHECK_EQ(capri_chan_destroy(ping), 0);
    CHECK_EQ(capri_chan_destroy(pong), 0);
}

int main(void)
{
    RUN(test_create);
    RUN(test_buffered);
    RUN(test_blocked_senders_fifo);
    RUN(test_rendezvous);
    RUN(test_close);
    RUN(test_cancel);
    RUN(test_cancel_race);
    RUN(test_sizes);
    RUN(test_foreign);
    RUN(test_ping_pong);
    return test_summary("test_channel");
}
