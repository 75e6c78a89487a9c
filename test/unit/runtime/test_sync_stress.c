/*
 * Synchronisation under load, on every scheduler (the default: one per
 * CPU), with exact final counts: a mutex-protected counter, a bounded
 * producer/consumer queue over a condition variable pair, a section limited
 * by a semaphore, and channels with many producers and consumers (every
 * value received exactly once, by sum and by a seen-bitmap). Plain pthreads
 * (foreign threads) use the same mutex and channels alongside.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capri.h"
#include "scheduler.h"
#include "rt_test.h"
#include "test.h"

#ifdef CAPRI_TEST_SANITIZED
enum { NT = 40, SCALE = 1 };
#else
enum { NT = 200, SCALE = 20 };
#endif
enum { NFOREIGN = 2 };

/* The schedulers capri threads ran on (bit i: scheduler i). */
static unsigned sched_mask;

static void note_sched(void)
{
    struct capri_thread *self = thread_current();
    if (self && self->sched && self->sched->index < 32)
        __atomic_fetch_or(&sched_mask, 1u << self->sched->index, __ATOMIC_RELAXED);
}

/* The schedulers the runtime should have: CAPRI_SCHEDULERS or one per CPU. */
static int expected_schedulers(void)
{
    const char *env = getenv("CAPRI_SCHEDULERS");
    if (env && *env)
        return atoi(env);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return CPU_COUNT(&set);
}

static struct timespec abs_in_us(long us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += us * 1000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ---- mutex counter (capri threads and pthreads) -------------------------------- */

static capri_mutex_t cnt_m;
static long cnt;
static const long CNT_ITERS = 100 * SCALE;

static void *cnt_worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    note_sched();
    for (long i = 0; i < CNT_ITERS; i++) {
        int rc;
        if ((i + id) % 4 == 0) {
            struct timespec ts = abs_in_us(200);
            while ((rc = capri_mutex_timedlock(&cnt_m, &ts)) == ETIMEDOUT)
                ts = abs_in_us(200);
        } else if ((i + id) % 4 == 1) {
            while ((rc = capri_mutex_trylock(&cnt_m)) == EBUSY)
                capri_yield();
        } else {
            rc = capri_mutex_lock(&cnt_m);
        }
        if (rc != 0)
            return (void *)1;
        long v = cnt;
        if (i % 8 == 0)
            capri_yield();
        cnt = v + 1;
        if (capri_mutex_unlock(&cnt_m) != 0)
            return (void *)2;
    }
    return NULL;
}

static void *cnt_foreign(void *arg)
{
    (void)arg;
    for (long i = 0; i < CNT_ITERS * 10; i++) {
        if (capri_mutex_lock(&cnt_m) != 0)
            return (void *)1;
        cnt++;
        if (capri_mutex_unlock(&cnt_m) != 0)
            return (void *)2;
    }
    return NULL;
}

static void test_mutex_counter(void)
{
    capri_t ts[NT];
    pthread_t pts[NFOREIGN];
    cnt = 0;
    for (int i = 0; i < NFOREIGN; i++)
        CHECK_EQ(pthread_create(&pts[i], NULL, cnt_foreign, NULL), 0);
    for (int i = 0; i < NT; i++)
        ts[i] = spawn(cnt_worker, (void *)(intptr_t)i);
    int ok = 1;
    for (int i = 0; i < NT; i++)
        ok &= join(ts[i]) == NULL;
    for (int i = 0; i < NFOREIGN; i++) {
        void *res = (void *)1;
        CHECK_EQ(pthread_join(pts[i], &res), 0);
        ok &= res == NULL;
    }
    CHECK(ok);
    CHECK_EQ(cnt, NT * CNT_ITERS + NFOREIGN * CNT_ITERS * 10);
    CHECK_EQ(cnt_m.word, 0);
    CHECK_EQ(capri_mutex_destroy(&cnt_m), 0);
}

/* ---- producer/consumer over a condition variable -------------------------------- */

enum { PC_CAP = 16 };
static capri_mutex_t pc_m;
static capri_cond_t pc_not_empty, pc_not_full;
static long pc_buf[PC_CAP];
static int pc_head, pc_count;
static int pc_producers_left;
static long pc_consumed, pc_sum;
static const long PC_ITEMS = 100 * SCALE; /* per producer */

static void *pc_producer(void *arg)
{
    long id = (long)(intptr_t)arg;
    note_sched();
    for (long i = 0; i < PC_ITEMS; i++) {
        long v = id * PC_ITEMS + i + 1;
        capri_mutex_lock(&pc_m);
        while (pc_count == PC_CAP) {
            if (i % 2) {
                capri_cond_wait(&pc_not_full, &pc_m);
            } else {
                struct timespec ts = abs_in_us(500);
                int rc = capri_cond_timedwait(&pc_not_full, &pc_m, &ts);
                if (rc != 0 && rc != ETIMEDOUT) {
                    capri_mutex_unlock(&pc_m);
                    return (void *)1;
                }
            }
        }
        pc_buf[(pc_head + pc_count) % PC_CAP] = v;
        pc_count++;
        capri_cond_signal(&pc_not_empty);
        capri_mutex_unlock(&pc_m);
    }
    capri_mutex_lock(&pc_m);
    if (--pc_producers_left == 0)
        capri_cond_broadcast(&pc_not_empty); /* consumers may finish */
    capri_mutex_unlock(&pc_m);
    return NULL;
}

static void *pc_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        capri_mutex_lock(&pc_m);
        while (pc_count == 0 && pc_producers_left > 0)
            capri_cond_wait(&pc_not_empty, &pc_m);
        if (pc_count == 0) {
            capri_mutex_unlock(&pc_m);
            return NULL;
        }
        long v = pc_buf[pc_head];
        pc_head = (pc_head + 1) % PC_CAP;
        pc_count--;
        pc_consumed++;
        pc_sum += v;
        capri_cond_signal(&pc_not_full);
        capri_mutex_unlock(&pc_m);
    }
}

static void test_producer_consumer(void)
{
    enum { P = NT / 2, C = NT / 2 };
    capri_t ps[P], cs[C];
    pc_producers_left = P;
    for (int i = 0; i < C; i++)
        cs[i] = spawn(pc_consumer, NULL);
    for (int i = 0; i < P; i++)
        ps[i] = spawn(pc_producer, (void *)(intptr_t)i);
    int ok = 1;
    for (int i = 0; i < P; i++)
        ok &= join(ps[i]) == NULL;
    for (int i = 0; i < C; i++)
        ok &= join(cs[i]) == NULL;
    CHECK(ok);
    long n = (long)P * PC_ITEMS;
    CHECK_EQ(pc_consumed, n);
    CHECK_EQ(pc_sum, n * (n + 1) / 2);
    CHECK_EQ(pc_count, 0);
    CHECK_EQ(capri_cond_destroy(&pc_not_empty), 0);
    CHECK_EQ(capri_cond_destroy(&pc_not_full), 0);
}

/* ---- a semaphore-limited section --------------------------------------------------- */

enum { SEM_LIMIT = 3 };
static capri_sem_t sec_sem;
static int sec_inside, sec_max;
static long sec_entries;
static const long SEC_ITERS = 20 * SCALE;

static void *sec_worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    note_sched();
    for (long i = 0; i < SEC_ITERS; i++) {
        int rc;
        if ((i + id) % 3 == 0) {
            struct timespec ts = abs_in_us(300);
            while ((rc = capri_sem_timedwait(&sec_sem, &ts)) == ETIMEDOUT)
                ts = abs_in_us(300);
        } else if ((i + id) % 3 == 1) {
            while ((rc = capri_sem_trywait(&sec_sem)) == EAGAIN)
                capri_yield();
        } else {
            rc = capri_sem_wait(&sec_sem);
        }
        if (rc != 0)
            return (void *)1;
        int in = __atomic_add_fetch(&sec_inside, 1, __ATOMIC_SEQ_CST);
        int mx = __atomic_load_n(&sec_max, __ATOMIC_RELAXED);
        while (in > mx && !__atomic_compare_exchange_n(&sec_max, &mx, in, false,
                                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        __atomic_fetch_add(&sec_entries, 1, __ATOMIC_RELAXED);
        capri_yield();
        __atomic_sub_fetch(&sec_inside, 1, __ATOMIC_SEQ_CST);
        if (capri_sem_post(&sec_sem) != 0)
            return (void *)2;
    }
    return NULL;
}

static void test_semaphore_section(void)
{
    capri_t ts[NT];
    CHECK_EQ(capri_sem_init(&sec_sem, SEM_LIMIT), 0);
    for (int i = 0; i < NT; i++)
        ts[i] = spawn(sec_worker, (void *)(intptr_t)i);
    int ok = 1;
    for (int i = 0; i < NT; i++)
        ok &= join(ts[i]) == NULL;
    CHECK(ok);
    CHECK(sec_max <= SEM_LIMIT);
    CHECK(sec_max >= 1);
    CHECK_EQ(sec_entries, NT * SEC_ITERS);
    int v = -1;
    CHECK_EQ(capri_sem_getvalue(&sec_sem, &v), 0);
    CHECK_EQ(v, SEM_LIMIT);
    CHECK_EQ(capri_sem_destroy(&sec_sem), 0);
}

/* ---- channels: many producers, many consumers ---------------------------------------- */

static const long CH_ITEMS = 50 * SCALE; /* per producer */
static unsigned char *ch_seen;
static long ch_dups;

struct ch_prod {
    capri_chan_t ch;
    long id;
};

static void *ch_producer(void *arg)
{
    struct ch_prod *p = arg;
    note_sched();
    for (long i = 0; i < CH_ITEMS; i++) {
        long v = p->id * CH_ITEMS + i + 1;
        int rc;
        if (i % 5 == 0) {
            while ((rc = capri_chan_send_timed(p->ch, &v, 100000)) == ETIMEDOUT)
                ;
        } else {
            rc = capri_chan_send(p->ch, &v);
        }
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

struct ch_res {
    long count, sum;
};

static void ch_record(long v)
{
    if (__atomic_exchange_n(&ch_seen[v], 1, __ATOMIC_RELAXED))
        __atomic_fetch_add(&ch_dups, 1, __ATOMIC_RELAXED);
}

static void *ch_consumer(void *arg)
{
    capri_chan_t ch = arg;
    struct ch_res *r = calloc(1, sizeof *r);
    long v, i = 0;
    int rc;
    for (;;) {
        if (i++ % 4 == 0) {
            rc = capri_chan_recv_timed(ch, &v, 100000);
            if (rc == ETIMEDOUT)
                continue;
        } else {
            rc = capri_chan_recv(ch, &v);
        }
        if (rc != 0)
            break;
        ch_record(v);
        r->count++;
        r->sum += v;
    }
    if (rc != EPIPE)
        r->count = -1000000000;
    return r;
}

static void run_channel_stress(size_t cap)
{
    enum { P = NT / 2, C = NT / 2 - 1, FP = NFOREIGN, FC = 1 };
    capri_chan_t ch;
    CHECK_EQ(capri_chan_create(&ch, sizeof(long), cap), 0);
    long total = (long)(P + FP) * CH_ITEMS;
    ch_seen = calloc((size_t)total + 1, 1);
    ch_dups = 0;
    struct ch_prod prods[P + FP];
    capri_t ps[P], cs[C];
    pthread_t fps[FP], fcs[FC];
    for (int i = 0; i < C; i++)
        cs[i] = spawn(ch_consumer, ch);
    for (int i = 0; i < FC; i++)
        CHECK_EQ(pthread_create(&fcs[i], NULL, ch_consumer, ch), 0);
    for (int i = 0; i < P + FP; i++)
        prods[i] = (struct ch_prod){ch, i};
    for (int i = 0; i < FP; i++)
        CHECK_EQ(pthread_create(&fps[i], NULL, ch_producer, &prods[P + i]), 0);
    for (int i = 0; i < P; i++)
        ps[i] = spawn(ch_producer, &prods[i]);
    int ok = 1;
    for (int i = 0; i < P; i++)
        ok &= join(ps[i]) == NULL;
    for (int i = 0; i < FP; i++) {
        void *res = (void *)1;
        CHECK_EQ(pthread_join(fps[i], &res), 0);
        ok &= res == NULL;
    }
    CHECK(ok);
    CHECK_EQ(capri_chan_close(ch), 0);
    long count = 0, sum = 0;
    for (int i = 0; i < C + FC; i++) {
        struct ch_res *r;
        if (i < C) {
            r = join(cs[i]);
        } else {
            void *res = NULL;
            CHECK_EQ(pthread_join(fcs[i - C], &res), 0);
            r = res;
        }
        count += r->count;
        sum += r->sum;
        free(r);
    }
    CHECK_EQ(count, total);
    CHECK_EQ(sum, total * (total + 1) / 2);
    CHECK_EQ(ch_dups, 0);
    long missing = 0;
    for (long v = 1; v <= total; v++)
        missing += !ch_seen[v];
    CHECK_EQ(missing, 0);
    free(ch_seen);
    CHECK_EQ(capri_chan_destroy(ch), 0);
}

static void test_channels(void)
{
    run_channel_stress(8);
    run_channel_stress(0);
    run_channel_stress(1);
}

int main(void)
{
    /* Set the runtime up from main before any pthread touches it, so that
     * main is scheduler 0's capri thread (were a pthread first, main would
     * stay a foreign thread). */
    capri_yield();
    RUN(test_mutex_counter);
    RUN(test_producer_consumer);
    RUN(test_semaphore_section);
    RUN(test_channels);
    /* How far work stealing spread the load: reported, not checked, since
     * on a loaded machine the kernel may leave a scheduler's kernel thread
     * without a CPU for the whole run (test_sched checks stealing itself,
     * deterministically). */
    int want = expected_schedulers();
    int used = __builtin_popcount(sched_mask);
    fprintf(stderr, "  capri threads ran on %d of %d schedulers\n", used, want);
    return test_summary("test_sync_stress");
}
