/*
 * Threads: spawn, join, detach, exit, self, names, keys and every error
 * path of them (pthreads' error-checking semantics), errno kept per thread
 * across switches, and plain pthreads (foreign threads) using the API.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capri.h"
#include "test.h"

static void *return_arg(void *arg) { return arg; }

static void test_spawn_join(void)
{
    capri_t t[16];
    for (intptr_t i = 0; i < 16; i++)
        CHECK_EQ(capri_spawn(&t[i], return_arg, (void *)(i * 3), NULL), 0);
    for (intptr_t i = 0; i < 16; i++) {
        void *r = NULL;
        CHECK_EQ(capri_join(t[i], &r), 0);
        CHECK_EQ((intptr_t)r, i * 3);
    }
    /* A reaped handle is stale: ESRCH, never a crash or someone else. */
    CHECK_EQ(capri_join(t[0], NULL), ESRCH);
    CHECK_EQ(capri_detach(t[0]), ESRCH);
    CHECK_EQ(capri_cancel(t[0]), ESRCH);
    CHECK_EQ(capri_join(0, NULL), ESRCH);
    CHECK_EQ(capri_join((capri_t)0x7fffffff12345ull, NULL), ESRCH);
}

static void test_spawn_errors(void)
{
    capri_t t;
    CHECK_EQ(capri_spawn(&t, NULL, NULL, NULL), EINVAL);
    CHECK_EQ(capri_spawn(NULL, return_arg, NULL, NULL), EINVAL);
    capri_attr_t big = {.stack_size = (size_t)1 << 30};
    CHECK_EQ(capri_spawn(&t, return_arg, NULL, &big), EINVAL);
}

static void test_join_self(void)
{
    CHECK(capri_self() != 0);
    CHECK_EQ(capri_join(capri_self(), NULL), EDEADLK);
}

static void *join_self_inside(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)capri_join(capri_self(), NULL);
}

static void test_join_self_in_thread(void)
{
    capri_t t;
    void *r;
    CHECK_EQ(capri_spawn(&t, join_self_inside, NULL, NULL), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK_EQ((intptr_t)r, EDEADLK);
}

static int detached_ran;
static void *detached_body(void *arg)
{
    (void)arg;
    capri_yield();
    __atomic_store_n(&detached_ran, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_detach(void)
{
    capri_t t;
    capri_attr_t attr = {.detached = 1};
    CHECK_EQ(capri_spawn(&t, detached_body, NULL, &attr), 0);
    /* EINVAL while it runs; ESRCH once it ended and its resources went. */
    int rc = capri_join(t, NULL);
    CHECK(rc == EINVAL || rc == ESRCH);
    rc = capri_detach(t);
    CHECK(rc == EINVAL || rc == ESRCH);
    for (int i = 0; i < 1000 && !__atomic_load_n(&detached_ran, __ATOMIC_ACQUIRE); i++)
        capri_sleep_ns(1000000);
    CHECK(__atomic_load_n(&detached_ran, __ATOMIC_ACQUIRE));

    __atomic_store_n(&detached_ran, 0, __ATOMIC_RELEASE);
    CHECK_EQ(capri_spawn(&t, detached_body, NULL, NULL), 0);
    CHECK_EQ(capri_detach(t), 0);
    rc = capri_join(t, NULL); /* EINVAL, or ESRCH once it ended and went */
    CHECK(rc == EINVAL || rc == ESRCH);
    for (int i = 0; i < 1000 && !__atomic_load_n(&detached_ran, __ATOMIC_ACQUIRE); i++)
        capri_sleep_ns(1000000);
    CHECK(__atomic_load_n(&detached_ran, __ATOMIC_ACQUIRE));

    /* Detaching a thread that already ended reaps it. */
    CHECK_EQ(capri_spawn(&t, return_arg, NULL, NULL), 0);
    capri_sleep_ns(5000000);
    CHECK_EQ(capri_detach(t), 0);
    CHECK_EQ(capri_join(t, NULL), ESRCH);
}

static capri_t first_target;
static void *second_joiner(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)capri_join(first_target, NULL);
}
static void *sleep_a_bit(void *arg)
{
    capri_sleep_ns(20000000);
    return arg;
}

static void test_double_join(void)
{
    capri_t j;
    CHECK_EQ(capri_spawn(&first_target, sleep_a_bit, (void *)7, NULL), 0);
    CHECK_EQ(capri_spawn(&j, second_joiner, NULL, NULL), 0);
    capri_sleep_ns(2000000); /* let the second joiner register first */
    void *r = NULL;
    int rc = capri_join(first_target, &r);
    void *r2 = NULL;
    CHECK_EQ(capri_join(j, &r2), 0);
    /* Exactly one of the two joins succeeds; the other gets EINVAL. */
    CHECK((rc == 0 && (intptr_t)r2 == EINVAL) || (rc == EINVAL && (intptr_t)r2 == 0));
}

static void *exit_early(void *arg)
{
    capri_exit((char *)arg + 1);
}

static void test_exit(void)
{
    capri_t t;
    void *r;
    char buf[4];
    CHECK_EQ(capri_spawn(&t, exit_early, buf, NULL), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == buf + 1);
}

static void *self_and_name(void *arg)
{
    capri_t *out = arg;
    *out = capri_self();
    char name[16];
    if (capri_getname(capri_self(), name, sizeof name) != 0)
        return NULL;
    return strdup(name);
}

static void test_self_and_names(void)
{
    capri_t t, seen = 0;
    capri_attr_t attr = {.name = "worker-with-a-very-long-name"};
    CHECK_EQ(capri_spawn(&t, self_and_name, &seen, &attr), 0);
    char name[16];
    CHECK_EQ(capri_getname(t, name, sizeof name), 0);
    CHECK_STR(name, "worker-with-a-v");
    CHECK_EQ(capri_getname(t, name, 4), ERANGE);
    void *r;
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK_EQ(seen, t);
    CHECK(r && strcmp(r, "worker-with-a-v") == 0);
    free(r);
    CHECK_EQ(capri_setname(capri_self(), "main-renamed"), 0);
    CHECK_EQ(capri_getname(capri_self(), name, sizeof name), 0);
    CHECK_STR(name, "main-renamed");
    CHECK_EQ(capri_setname(t, "x"), ESRCH);
}

/* errno belongs to the thread: two threads set different values and yield
 * in between; each must see its own value after every switch. */
static void *errno_keeper(void *arg)
{
    int mine = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        errno = mine + i;
        capri_yield();
        if (errno != mine + i)
            return (void *)1;
    }
    return NULL;
}

static void test_errno_per_thread(void)
{
    capri_t a, b;
    void *ra, *rb;
    CHECK_EQ(capri_spawn(&a, errno_keeper, (void *)(intptr_t)1000, NULL), 0);
    CHECK_EQ(capri_spawn(&b, errno_keeper, (void *)(intptr_t)5000, NULL), 0);
    errno = 77;
    CHECK_EQ(capri_join(a, &ra), 0);
    CHECK_EQ(capri_join(b, &rb), 0);
    CHECK(ra == NULL);
    CHECK(rb == NULL);
    CHECK_EQ(errno, 77);
}

static int destructor_calls;
static void *destructor_seen;
static void count_destructor(void *v)
{
    __atomic_fetch_add(&destructor_calls, 1, __ATOMIC_RELAXED);
    destructor_seen = v;
}
static capri_key_t key_a, key_many[20];
static void *use_keys(void *arg)
{
    if (capri_getspecific(key_a) != NULL)
        return (void *)1;
    capri_setspecific(key_a, arg);
    for (int i = 0; i < 20; i++)
        capri_setspecific(key_many[i], (void *)(intptr_t)(i + 1));
    capri_yield();
    for (int i = 0; i < 20; i++)
        if (capri_getspecific(key_many[i]) != (void *)(intptr_t)(i + 1))
            return (void *)2;
    return capri_getspecific(key_a);
}

static void test_keys(void)
{
    CHECK_EQ(capri_key_create(&key_a, count_destructor), 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(capri_key_create(&key_many[i], NULL), 0);
    capri_t t;
    void *r;
    int value;
    CHECK_EQ(capri_spawn(&t, use_keys, &value, NULL), 0);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK(r == &value);
    CHECK_EQ(destructor_calls, 1);
    CHECK(destructor_seen == &value);
    /* A deleted key's values vanish; the recreated key starts empty. */
    CHECK_EQ(capri_setspecific(key_a, &value), 0);
    CHECK_EQ(capri_key_delete(key_a), 0);
    CHECK_EQ(capri_key_delete(key_a), EINVAL);
    CHECK_EQ(capri_setspecific(key_a, &value), EINVAL);
    capri_key_t again;
    CHECK_EQ(capri_key_create(&again, NULL), 0);
    CHECK(capri_getspecific(again) == NULL);
}

/* Plain pthreads use the API too: they spawn and join capri threads. */
static void *foreign_body(void *arg)
{
    (void)arg;
    capri_t t;
    void *r = NULL;
    if (capri_spawn(&t, sleep_a_bit, (void *)42, NULL) != 0)
        return (void *)1;
    if (capri_join(t, &r) != 0 || r != (void *)42)
        return (void *)2;
    if (capri_self() != 0)
        return (void *)3;
    capri_yield();
    return NULL;
}

static capri_t joined_by_pthread;
static void *pthread_joins(void *arg)
{
    (void)arg;
    void *r = NULL;
    if (capri_join(joined_by_pthread, &r) != 0)
        return (void *)1;
    return r;
}

static void test_foreign_threads(void)
{
    pthread_t p;
    void *r;
    CHECK_EQ(pthread_create(&p, NULL, foreign_body, NULL), 0);
    CHECK_EQ(pthread_join(p, &r), 0);
    CHECK(r == NULL);
    CHECK_EQ(capri_spawn(&joined_by_pthread, sleep_a_bit, (void *)9, NULL), 0);
    CHECK_EQ(pthread_create(&p, NULL, pthread_joins, NULL), 0);
    CHECK_EQ(pthread_join(p, &r), 0);
    CHECK(r == (void *)9);
}

static void test_config_sealed(void)
{
    CHECK_EQ(capri_config(CAPRI_CONFIG_SCHEDULERS, 2), EBUSY);
    CHECK_EQ(capri_config((enum capri_config_key)99, 2), EINVAL);
    CHECK_EQ(capri_config(CAPRI_CONFIG_STACK_SIZE, 1), EINVAL);
}

static void test_pool_stats(void)
{
    struct capri_pool_stats st;
    CHECK_EQ(capri_pool_stats(&st), 0);
    CHECK(st.bytes_reserved > 0);
    CHECK(st.bytes_mapped > 0);
    CHECK_EQ(capri_pool_stats(NULL), EINVAL);
}

int main(void)
{
    RUN(test_spawn_join);
    RUN(test_spawn_errors);
    RUN(test_join_self);
    RUN(test_join_self_in_thread);
    RUN(test_detach);
    RUN(test_double_join);
    RUN(test_exit);
    RUN(test_self_and_names);
    RUN(test_errno_per_thread);
    RUN(test_keys);
    RUN(test_foreign_threads);
    RUN(test_config_sealed);
    RUN(test_pool_stats);
    return test_summary("test_thread");
}
