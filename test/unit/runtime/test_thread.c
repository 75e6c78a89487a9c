/*
 * Threads: spawn, join, detach, exit, self, names, keys and every error
 * path of them (pthreads' error-checking semantics), errno kept per thread
 * across switches, and plain pthreads (foreign threads) using the API.
 * Names and sigaltstack records live in a side record allocated at the
 * first use: a thread on a reaped thread's chunk sees none of its record,
 * and a failed allocation is the call's ENOMEM (in a child process whose
 * heap is used up: argv[1] "nomem").
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Whether a fresh thread has no sigaltstack record; then records `arg`'s
 * 16 KiB as one if it is not NULL (2 if that fails). */
static void *altstack_probe(void *arg)
{
    stack_t old;
    int fresh = sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE) && old.ss_size == 0;
    if (arg) {
        stack_t ss = {.ss_sp = arg, .ss_size = 16384, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0)
            return (void *)2;
    }
    return (void *)(intptr_t)fresh;
}

static void test_side_record(void)
{
    char name[16];
    capri_t a, b;
    void *r;
    /* No name: "", and an empty name given stays "". */
    CHECK_EQ(capri_spawn(&a, return_arg, NULL, NULL), 0);
    CHECK_EQ(capri_getname(a, name, sizeof name), 0);
    CHECK_STR(name, "");
    CHECK_EQ(capri_getname(a, name, 0), ERANGE);
    CHECK_EQ(capri_setname(a, ""), 0);
    CHECK_EQ(capri_getname(a, name, sizeof name), 0);
    CHECK_STR(name, "");
    CHECK_EQ(capri_setname(a, "later"), 0);
    CHECK_EQ(capri_getname(a, name, sizeof name), 0);
    CHECK_STR(name, "later");
    CHECK_EQ(capri_join(a, NULL), 0);

    /* A named thread records a sigaltstack and is reaped; the next thread
     * takes its chunk (the scheduler's free list is LIFO) and sees neither. */
    static char alt[16384];
    capri_attr_t named = {.name = "first"};
    CHECK_EQ(capri_spawn(&a, altstack_probe, alt, &named), 0);
    CHECK_EQ(capri_join(a, &r), 0);
    CHECK_EQ((intptr_t)r, 1);
    CHECK_EQ(capri_spawn(&b, altstack_probe, NULL, NULL), 0);
    CHECK_EQ((uint32_t)b, (uint32_t)a); /* the same slot, so the same chunk */
    CHECK_EQ(capri_getname(b, name, sizeof name), 0);
    CHECK_STR(name, "");
    CHECK_EQ(capri_join(b, &r), 0);
    CHECK_EQ((intptr_t)r, 1);
}

/* ---- the side record without memory (a child process) --------------------- */

static const char *self_path;

/* Records a sigaltstack while the heap is used up: 1 if the call failed
 * with ENOMEM and left the thread with none. */
static void *altstack_nomem(void *arg)
{
    (void)arg;
    static char alt[16384];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0}, old;
    errno = 0;
    int rc = sigaltstack(&ss, NULL);
    int err = errno;
    int unchanged = sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE);
    return (void *)(intptr_t)(rc == -1 && err == ENOMEM && unchanged);
}

/* Takes every block of `size` bytes malloc has, linked through the blocks. */
static void hoard(void **list, size_t size)
{
    void **p;
    while ((p = malloc(size)) != NULL) {
        *p = *list;
        *list = p;
    }
}

/* One scheduler (so one kernel thread and one malloc arena), the address
 * space capped at what is mapped, and every free block of the heap taken:
 * each call that needs a side record fails with ENOMEM, and works again
 * once the memory is back. The exit status names the failed step. */
static int child_nomem(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    capri_t plain, t;
    if (capri_spawn(&plain, altstack_nomem, NULL, NULL) != 0)
        return 10;
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 11;
    fclose(f);
    struct rlimit as, was;
    getrlimit(RLIMIT_AS, &was);
    as = was;
    as.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    if (setrlimit(RLIMIT_AS, &as) != 0)
        return 12;
    void *list = NULL;
    for (size_t size = (size_t)1 << 20; size >= 16; size /= 2)
        hoard(&list, size);
    for (size_t size = 1024; size >= sizeof(void *); size -= 8)
        hoard(&list, size);

    int status = 0;
    capri_attr_t named = {.name = "no-room"};
    void *r = NULL;
    if (capri_setname(plain, "no-room") != ENOMEM)
        status = 13;
    else if (capri_spawn(&t, return_arg, NULL, &named) != ENOMEM)
        status = 14;
    else if (capri_join(plain, &r) != 0 || r != (void *)1)
        status = 15;

    while (list) {
        void *next = *(void **)list;
        free(list);
        list = next;
    }
    setrlimit(RLIMIT_AS, &was);
    if (status)
        return status;
    char name[16];
    if (capri_spawn(&t, return_arg, NULL, &named) != 0 || capri_getname(t, name, sizeof name) != 0 ||
        strcmp(name, "no-room") != 0 || capri_join(t, NULL) != 0)
        return 16;
    return 0;
}

static void test_side_record_nomem(void)
{
#ifdef CAPRI_TEST_SANITIZED
    /* The sanitizers' allocators report an exhausted heap instead of
     * returning NULL. */
    fprintf(stderr, "  (skipped under sanitizers)\n");
#else
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "nomem", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "  nomem child: status %#x\n", st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
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

int main(int argc, char **argv)
{
    if (argc > 1)
        return strcmp(argv[1], "nomem") == 0 ? child_nomem() : 2;
    self_path = argv[0];
    RUN(test_spawn_join);
    RUN(test_spawn_errors);
    RUN(test_join_self);
    RUN(test_join_self_in_thread);
    RUN(test_detach);
    RUN(test_double_join);
    RUN(test_exit);
    RUN(test_self_and_names);
    RUN(test_side_record);
    RUN(test_side_record_nomem);
    RUN(test_errno_per_thread);
    RUN(test_keys);
    RUN(test_foreign_threads);
    RUN(test_config_sealed);
    RUN(test_pool_stats);
    return test_summary("test_thread");
}
