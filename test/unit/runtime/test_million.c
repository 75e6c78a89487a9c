/*
 * Scale: one million threads spawned and joined (pooled chunks make each
 * pair cheap), and a hundred thousand alive at once (each blocked on a
 * semaphore after touching its stack), all woken and joined. Scaled down
 * under sanitizers, whose per-thread bookkeeping is far larger.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "capri.h"
#include "rt_test.h"
#include "test.h"

#ifdef CAPRI_TEST_SANITIZED
enum { SEQUENTIAL = 100000, CONCURRENT = 10000 };
#else
enum { SEQUENTIAL = 1000000, CONCURRENT = 100000 };
#endif

static void *add_one(void *arg) { return (void *)((intptr_t)arg + 1); }

static void test_million_spawn_join(void)
{
    uint64_t t0 = now_ns();
    long bad = 0;
    for (intptr_t i = 0; i < SEQUENTIAL; i++) {
        capri_t t;
        void *r;
        if (capri_spawn(&t, add_one, (void *)i, NULL) != 0 || capri_join(t, &r) != 0 ||
            (intptr_t)r != i + 1)
            bad++;
    }
    CHECK_EQ(bad, 0);
    fprintf(stderr, "  %d spawn+join: %.1f ns each\n", SEQUENTIAL,
            (double)(now_ns() - t0) / SEQUENTIAL);
}

static capri_sem_t gate;
static long woken;
static void *block_on_gate(void *arg)
{
    volatile char touch[1024];
    for (unsigned i = 0; i < sizeof touch; i += 64)
        touch[i] = (char)i;
    if (capri_sem_wait(&gate) != 0)
        return NULL;
    __atomic_fetch_add(&woken, 1, __ATOMIC_RELAXED);
    return arg;
}

static void test_many_alive(void)
{
    capri_t *t = malloc(sizeof *t * CONCURRENT);
    capri_attr_t attr = {.stack_size = 8192};
    long spawned = 0;
    for (long i = 0; i < CONCURRENT; i++)
        if (capri_spawn(&t[i], block_on_gate, (void *)(intptr_t)(i + 1), &attr) == 0)
            spawned++;
    CHECK_EQ(spawned, CONCURRENT);
    capri_sleep_ns(10000000);
    struct capri_pool_stats st;
    capri_pool_stats(&st);
    uint64_t in_use = 0;
    for (int c = 0; c < CAPRI_CHUNK_CLASSES; c++)
        in_use += st.chunks_in_use[c];
    CHECK(in_use >= (uint64_t)CONCURRENT);
    for (long i = 0; i < CONCURRENT; i++)
        capri_sem_post(&gate);
    long bad = 0;
    for (long i = 0; i < CONCURRENT; i++) {
        void *r;
        if (capri_join(t[i], &r) != 0 || (intptr_t)r != i + 1)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(woken, CONCURRENT);
    free(t);
}

int main(void)
{
    RUN(test_million_spawn_join);
    RUN(test_many_alive);
    return test_summary("test_million");
}
