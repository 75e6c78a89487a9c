/*
 * Dense mode (CAPRI_CONFIG_DENSE / CAPRI_DENSE=1): first chunks in sub-page
 * classes, packed with no guard page, a canary at each one's bottom checked
 * whenever its thread switches out.
 *
 *  - dense threads run, block and wake with their stack data intact; their
 *    first chunks are dense chunks of the class the stack size asks for,
 *    neighbours in the arena, the struct at the top and the canary at the
 *    bottom; every chunk goes back at the joins;
 *  - a stack size of 4 KiB or more still gets a page class with its guard;
 *  - the pool's dense classes by themselves (no runtime): take and give,
 *    locate, decay releasing only whole pages;
 *  - an overwritten canary stops the process with
 *        capri: stack overflow in thread <handle> "<name>": the canary at
 *        the bottom of its first chunk (0x...) was overwritten ...
 *    followed by the entry function and where the thread switched out;
 *  - guard mode is unchanged: a 4 KiB thread's chunk has a guard page below
 *    it, and CAPRI_DENSE=1 in the environment turns dense mode on.
 *
 * The cases that need a fresh runtime run in children of this program
 * (argv[1] names the case).
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
#include "thread.h"

/* A dense class in every build: under the sanitizers libcapri's own
 * frames at a thread's entry and exit need up to 2.5 KiB, and a blocking
 * call through libcapri.so under ASan more than 3.5 KiB (seen: the canary
 * caught it). */
#ifdef CAPRI_TEST_SANITIZED
#define STACK 4032
#else
#define STACK 2048
#endif

static capri_sem_t sem;
static unsigned long blocked;
static uintptr_t entry_frame_used; /* below the struct when fill_and_block ran */

/* Where a thread's first chunk is, from its handle. */
static struct capri_thread *thread_of(capri_t h)
{
    struct chunk_slot *cs = chunk_slot_at((uint32_t)h);
    CHECK(cs != NULL);
    return cs ? cs->owner : NULL;
}

/* Fills a frame, blocks, checks the frame after waking. */
__attribute__((noinline)) static void *fill_and_block(void *arg)
{
    volatile unsigned char buf[256];
    uintptr_t seed = (uintptr_t)arg;
    struct capri_thread *self = chunk_slot_at((uint32_t)capri_self())->owner;
    /* The stack pointer at the call was the frame address plus the saved
     * frame pointer and the return address. */
    uintptr_t used = (uintptr_t)self - ((uintptr_t)__builtin_frame_address(0) + 16);
    if (used > entry_frame_used)
        entry_frame_used = used;
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(seed + i);
    __atomic_add_fetch(&blocked, 1, __ATOMIC_RELAXED);
    if (capri_sem_wait(&sem) != 0)
        return NULL;
    for (unsigned i = 0; i < sizeof buf; i++)
        if (buf[i] != (unsigned char)(seed + i))
            return NULL;
    return (void *)1;
}

static uint64_t dense_in_use(void)
{
    struct capri_pool_dense_stats ps;
    CHECK_EQ(capri_pool_dense_stats(&ps), 0);
    uint64_t n = 0;
    for (int c = 0; c < CAPRI_DENSE_CLASSES; c++)
        n += ps.in_use[c];
    return n;
}


/* ---- the children ------------------------------------------------------- */

static int child_threads(void)
{
    /* The environment's CAPRI_DENSE=1 turned dense mode on (the parent set
     * it); STACK asks for the dense class of that size. */
    enum { N = 2000 };
    static capri_t t[N];
    /* One scheduler: the threads' bookkeeping below is plain data. */
    CHECK_EQ(capri_config(CAPRI_CONFIG_SCHEDULERS, 1), 0);
    capri_attr_t attr = {0};
    attr.stack_size = STACK;
    for (uintptr_t i = 0; i < N; i++)
        CHECK_EQ(capri_spawn(&t[i], fill_and_block, (void *)i, &attr), 0);
    while (__atomic_load_n(&blocked, __ATOMIC_RELAXED) < N)
        capri_yield();
    CHECK_EQ(dense_in_use(), (uint64_t)N);
    unsigned cls = chunk_dense_class_for(STACK);
    CHECK(chunk_class_is_dense(cls));
    CHECK_EQ(chunk_class_size(cls), (size_t)STACK);
    unsigned neighbours = 0;
    for (int i = 0; i < N; i++) {
        struct capri_thread *th = thread_of(t[i]);
        CHECK((th->flags & THREAD_DENSE) != 0);
        CHECK_EQ(th->chunk_cls, cls);
        /* The struct at the very top, the stack above the canary. */
        CHECK_EQ((uintptr_t)th + sizeof *th, (uintptr_t)th->chunk + STACK);
        CHECK_EQ(th->stack_lo, (uintptr_t)th->chunk + CHUNK_CANARY_ROOM);
        CHECK(thread_dense_canary_intact(th));
        uint32_t slot;
        void *chunk;
        unsigned c;
        CHECK_EQ(chunk_pool_locate((char *)th->chunk + 100, &slot, &chunk, &c), 1);
        CHECK_EQ(chunk, th->chunk);
        CHECK_EQ(c, cls);
        /* No guard below: the byte under the chunk is another chunk's. */
        if (chunk_pool_locate((char *)th->chunk - 1, &slot, &chunk, &c) == 1 &&
            (char *)chunk + STACK == (char *)th->chunk)
            neighbours++;
    }
    CHECK(neighbours > N / 2);
#ifndef CAPRI_TEST_SANITIZED
    /* What thread.c sizes dense chunks with covers libcapri's own frames
     * above the entry function. */
    CHECK(entry_frame_used > 0 && entry_frame_used <= THREAD_DENSE_ENTRY_FRAMES);
#endif
    for (int i = 0; i < N; i++)
        CHECK_EQ(capri_sem_post(&sem), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(join(t[i]), (void *)1);
    CHECK_EQ(dense_in_use(), 0u);

    /* 4 KiB and more: a page class, guarded as in guard mode. */
    capri_t big;
    attr.stack_size = 4096;
    blocked = 0;
    CHECK_EQ(capri_spawn(&big, fill_and_block, (void *)7, &attr), 0);
    while (__atomic_load_n(&blocked, __ATOMIC_RELAXED) < 1)
        capri_yield();
    struct capri_thread *bt = thread_of(big);
    CHECK_EQ(bt->flags & THREAD_DENSE, 0u);
    CHECK_EQ(bt->chunk_cls, 0u);
    uint32_t slot;
    void *chunk;
    unsigned c;
    struct capri_pool_stats ps;
    CHECK_EQ(capri_pool_stats(&ps), 0);
    if (ps.guard_mode != 0)
        CHECK_EQ(chunk_pool_locate((char *)bt->chunk - 1, &slot, &chunk, &c), 2);
    CHECK_EQ(capri_sem_post(&sem), 0);
    CHECK_EQ(join(big), (void *)1);
    return test_failures ? 1 : 0;
}

static int child_guard(void)
{
    /* No dense mode: a 2 KiB stack is a 4 KiB page class with its guard,
     * the struct staggered as before, no canary and no THREAD_DENSE. */
    capri_attr_t attr = {0};
    attr.stack_size = 2048;
    capri_t t;
    CHECK_EQ(capri_spawn(&t, fill_and_block, (void *)3, &attr), 0);
    while (__atomic_load_n(&blocked, __ATOMIC_RELAXED) < 1)
        capri_yield();
    struct capri_thread *th = thread_of(t);
    CHECK_EQ(th->flags & THREAD_DENSE, 0u);
    CHECK_EQ(th->chunk_cls, 0u);
    CHECK_EQ(th->stack_lo, (uintptr_t)th->chunk);
    CHECK_EQ(dense_in_use(), 0u);
    struct capri_pool_stats ps;
    CHECK_EQ(capri_pool_stats(&ps), 0);
    CHECK_EQ(ps.chunks_in_use[0] >= 1, 1);
    uint32_t slot;
    void *chunk;
    unsigned c;
    if (ps.guard_mode != 0)
        CHECK_EQ(chunk_pool_locate((char *)th->chunk - 1, &slot, &chunk, &c), 2);
    CHECK_EQ(capri_sem_post(&sem), 0);
    CHECK_EQ(join(t), (void *)1);
    /* Too late for the setting once the runtime runs. */
    CHECK_EQ(capri_config(CAPRI_CONFIG_DENSE, 1), EBUSY);
    return test_failures ? 1 : 0;
}

/* What an overflow does to the chunk's bottom, done on purpose (a real
 * overflow's frame may live on ASan's fake stack instead). */
__attribute__((noinline)) static void *smash(void *arg)
{
    (void)arg;
    fprintf(stderr, "handle %" PRIu64 "\n", capri_self());
    fflush(stderr);
    uint32_t slot;
    void *chunk;
    unsigned c;
    if (chunk_pool_locate(__builtin_frame_address(0), &slot, &chunk, &c) != 1)
        return NULL;
    ((volatile unsigned char *)chunk)[CHUNK_CANARY_ROOM - 1] ^= 0x5a;
    capri_sleep_ns(1000000); /* the switch away finds it */
    fprintf(stderr, "child survived\n");
    return NULL;
}

static int child_smash(void)
{
    CHECK_EQ(capri_config(CAPRI_CONFIG_DENSE, 1), 0);
    capri_attr_t attr = {0};
    attr.stack_size = STACK;
    attr.name = "smasher";
    capri_t t;
    CHECK_EQ(capri_spawn(&t, smash, NULL, &attr), 0);
    capri_join(t, NULL);
    fprintf(stderr, "child survived\n");
    return 0;
}

/* ---- the pool's dense classes alone -------------------------------------- */

static void test_pool_dense(void)
{
    CHECK_EQ(chunk_pool_init(CHUNK_GUARD_MADVISE), 0);
    CHECK_EQ(chunk_dense_class_for(1), (unsigned)CHUNK_DENSE_FIRST);
    CHECK_EQ(chunk_class_size(chunk_dense_class_for(1400)), (size_t)1408);
    CHECK_EQ(chunk_class_size(chunk_dense_class_for(4032)), (size_t)4032);
    CHECK_EQ(chunk_dense_class_for(4033), 0u); /* a page class */
    CHECK_EQ(CAPRI_DENSE_CLASS_SIZE(CAPRI_DENSE_CLASSES - 1), 4032u);
    unsigned cls = chunk_dense_class_for(1408);
    struct chunk_cache cache;
    memset(&cache, 0, sizeof cache);
    chunk_cache_register(&cache);
    enum { K = 200 };
    void *chunks[K];
    for (int i = 0; i < K; i++) {
        uint32_t slot;
        chunks[i] = chunk_pool_take(&cache, cls, &slot);
        CHECK(chunks[i] != NULL);
        if (!chunks[i])
            return;
        CHECK_EQ(chunk_of_slot(slot), chunks[i]);
        memset(chunks[i], 0x77, 1408);
    }
    /* Taken from a fresh slab in address order: packed, no gaps. */
    unsigned adjacent = 0;
    for (int i = 1; i < K; i++)
        adjacent += (char *)chunks[i] == (char *)chunks[i - 1] + 1408;
    CHECK(adjacent >= K - 2);
    /* The middle ones go back and decay: only pages wholly inside the run
     * of free chunks are released (read back as zeroes); the chunks at
     * both ends of the run share a page with chunks still in use. */
    for (int i = 50; i < 150; i++)
        chunk_pool_give(&cache, chunks[i], cls);
    uint64_t t = now_ns();
    chunk_pool_decay(&cache, t + 2 * CHUNK_DECAY_NS);
    chunk_pool_decay(&cache, t + 4 * CHUNK_DECAY_NS);
    chunk_pool_decay(&cache, t + 6 * CHUNK_DECAY_NS);
    struct capri_pool_stats ps;
    chunk_pool_stats_collect(&ps);
    CHECK(ps.bytes_released > 0);
    CHECK(ps.bytes_released % 4096 == 0);
    CHECK(ps.bytes_released <= 100 * 1408);
    /* Chunks in use keep their data, even next to released pages. */
    for (int i = 0; i < K; i++) {
        if (i >= 50 && i < 150)
            continue;
        const unsigned char *p = chunks[i];
        CHECK(p[0] == 0x77 && p[1407] == 0x77);
    }
    for (int i = 0; i < K; i++)
        if (i < 50 || i >= 150)
            chunk_pool_give(&cache, chunks[i], cls);
}

/* ---- the parent --------------------------------------------------------- */

static const char *self_path;

/* Runs a case in a child with the given environment variable (or none);
 * returns its wait status and stderr. */
static int run_case(const char *name, const char *env, char *out, size_t cap)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        if (env)
            putenv((char *)env);
        execl(self_path, self_path, name, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    size_t len = 0;
    ssize_t n;
    while (len < cap - 1 && (n = read(pipefd[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_children(void)
{
    static char out[16384];
    int st = run_case("threads", "CAPRI_DENSE=1", out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "threads child: status %#x\n%s", st, out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    st = run_case("guard", NULL, out, sizeof out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "guard child: status %#x\n%s", st, out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    st = run_case("smash", NULL, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    unsigned long long handle = 0;
    CHECK(sscanf(out, "handle %llu", &handle) == 1);
    char want[160];
    snprintf(want, sizeof want,
             "capri: stack overflow in thread %llu \"smasher\": the canary at the bottom of its first chunk (0x",
             handle);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, ") was overwritten (dense mode: no guard page)\n  entry ") != NULL);
    CHECK(strstr(out, "; switched out in:\n") != NULL);
    CHECK(strstr(out, "child survived") == NULL);
    if (test_failures)
        fprintf(stderr, "smash child: status %#x\n%s", st, out);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "threads") == 0)
            return child_threads();
        if (strcmp(argv[1], "guard") == 0)
            return child_guard();
        if (strcmp(argv[1], "smash") == 0)
            return child_smash();
        return 2;
    }
    self_path = argv[0];
    /* The struct's size is part of every dense thread's memory
     * (docs/runtime-design.md gives it). */
    printf("sizeof(struct capri_thread) = %zu\n", sizeof(struct capri_thread));
    CHECK(sizeof(struct capri_thread) <= 256);
    test_children();
    test_pool_dense();
    return test_summary("dense");
}
