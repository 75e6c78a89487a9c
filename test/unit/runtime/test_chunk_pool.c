/*
 * The stack chunk pool on its own (runtime/src/chunk_pool.c): geometry,
 * take/give, locate, guard pages in every mode, statistics, decay, many
 * chunks, transfers through the depot, fork, and threads.
 *
 * Guard modes other than the machine's own are tested in a re-executed
 * copy of this program (the pool is initialised once per process), with
 * CAPRI_GUARD_FORCE in its environment.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chunk_pool.h"
#include "test.h"

#ifdef CAPRI_TEST_SANITIZED
#define MANY 20000
#define THREAD_ROUNDS 2000
#else
#define MANY 100000
#define THREAD_ROUNDS 20000
#endif

#define SEC 1000000000ull

/* Decay is driven with a fake clock, always moving forward. */
static uint64_t fake_now = 1000 * SEC;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* A fault must kill the child even where a sanitizer installed a handler. */
static void segv_default(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } ka = {0};
    ka.handler = (void *)SIG_DFL;
    syscall(SYS_rt_sigaction, SIGSEGV, &ka, NULL, sizeof ka.mask);
}

/* Forks a child that writes one byte at p; returns the signal that ended
 * it, or 0 if it exited normally. */
static int write_in_child(char *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        segv_default();
        *(volatile char *)p = 1;
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/* Resident pages of [p, p + len). */
static size_t resident_pages(const void *p, size_t len)
{
    unsigned char vec[512];
    size_t pages = len / 4096, n = 0;
    for (size_t off = 0; off < pages; off += sizeof vec) {
        size_t k = pages - off < sizeof vec ? pages - off : sizeof vec;
        if (mincore((char *)p + off * 4096, k * 4096, vec) != 0)
            return (size_t)-1;
        for (size_t i = 0; i < k; i++)
            n += vec[i] & 1;
    }
    return n;
}

static void stats(struct capri_pool_stats *s) { chunk_pool_stats_collect(s); }

static unsigned long max_map_count(void)
{
    unsigned long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%lu", &max) != 1)
            max = 65530;
        fclose(f);
    }
    return max;
}

/* ---- re-executed children ------------------------------------------------ */

/* Runs this program again as `--child what` with CAPRI_GUARD_FORCE=force
 * (or none set). Returns its wait status; its stderr goes to err. */
static int run_child(const char *what, const char *force, char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (force)
            setenv("CAPRI_GUARD_FORCE", force, 1);
        else
            unsetenv("CAPRI_GUARD_FORCE");
        /* Sanitized builds: let the guard fault kill the child. */
        setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0", 1);
        setenv("TSAN_OPTIONS", "handle_segv=0", 1);
        char *argv[] = {"test_chunk_pool", "--child", (char *)what, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < errlen && (r = read(fds[0], err + len, errlen - 1 - len)) > 0)
        len += (size_t)r;
    err[len] = 0;
    close(fds[0]);
    int st = -1;
    if (pid > 0)
        waitpid(pid, &st, 0);
    return st;
}

/* In a child: a guarded chunk (whatever mode init ends in), then a write
 * to its guard page, which must kill the child. */
static int child_guard(bool dense)
{
    if (chunk_pool_init(dense ? CHUNK_GUARD_NONE : CHUNK_GUARD_MADVISE) != 0)
        return 2;
    static struct chunk_cache cache;
    uint32_t slot;
    char *p = chunk_pool_take(&cache, 0, &slot);
    if (!p)
        return 3;
    p[0] = 1;
    p[4095] = 1;
    uint32_t s;
    void *ch;
    unsigned cls;
    if (chunk_pool_locate(p - 1, &s, &ch, &cls) != 2 || s != slot)
        return 4;
    fprintf(stderr, "mode=%d\n", (int)chunk_pool_guard_mode());
    segv_default();
    *(volatile char *)(p - 1) = 1;
    *(volatile char *)(p - 4096) = 1;
    fprintf(stderr, "survived\n");
    return 0;
}

/* In a child under CAPRI_GUARD_FORCE=mprotect: chunks until the mappings
 * run out; then ENOMEM (NULL), and chunks given back are still reusable. */
static int child_exhaust(void)
{
    if (chunk_pool_init(CHUNK_GUARD_MADVISE) != 0)
        return 2;
    if (chunk_pool_guard_mode() != CHUNK_GUARD_MPROTECT)
        return 3;
    static struct chunk_cache cache;
    uint32_t slot, n = 0, limit = (uint32_t)(max_map_count() / 2);
    char *last = NULL, *p;
    while (n < limit && (p = chunk_pool_take(&cache, 0, &slot)) != NULL) {
        last = p;
        n++;
    }
    fprintf(stderr, "taken=%u\n", n);
    if (n >= limit || !last)
        return 4;
    if (chunk_pool_take(NULL, 0, &slot) != NULL || chunk_pool_take(&cache, 1, &slot) != NULL)
        return 5;
    chunk_pool_give(&cache, last, 0);
    if (chunk_pool_take(&cache, 0, &slot) != last)
        return 6;
    return 0;
}

/* In a child: mlockall after start-up makes MADV_GUARD_INSTALL fail; the
 * pool must drop to mprotect guards, which still fault. */
static int child_mlock(void)
{
    if (chunk_pool_init(CHUNK_GUARD_MADVISE) != 0)
        return 2;
    if (chunk_pool_guard_mode() != CHUNK_GUARD_MADVISE) {
        fprintf(stderr, "skip: no MADV_GUARD_INSTALL\n");
        return 0;
    }
    uint32_t slot;
    char *p = chunk_pool_take(NULL, 0, &slot);
    if (!p)
        return 3;
#ifdef CAPRI_TEST_SANITIZED
    /* The sanitizers' shadow cannot be locked; they make mlockall a no-op. */
    fprintf(stderr, "skip: sanitized\n");
    return 0;
#endif
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        fprintf(stderr, "skip: mlockall: %d\n", errno);
        return 0;
    }
    /* The first batch was carved before: take past it. */
    for (uint32_t i = 0; i < 64; i++)
        if ((p = chunk_pool_take(NULL, 0, &slot)) == NULL)
            return 4;
    fprintf(stderr, "mode=%d\n", (int)chunk_pool_guard_mode());
    segv_default();
    *(volatile char *)(p - 1) = 1;
    fprintf(stderr, "survived\n");
    return 0;
}

static int child_main(const char *what)
{
    if (strcmp(what, "guard") == 0)
        return child_guard(false);
    if (strcmp(what, "dense") == 0)
        return child_guard(true);
    if (strcmp(what, "exhaust") == 0)
        return child_exhaust();
    if (strcmp(what, "mlock") == 0)
        return child_mlock();
    return 99;
}

static void test_guard_mprotect(void)
{
    char err[4096];
    int st = run_child("guard", "mprotect", err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK_CONTAINS(err, "mode=1");
    CHECK(!strstr(err, "warning"));
}

static void test_guard_none_warns(void)
{
    char err[4096];
    int st = run_child("guard", "none", err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_CONTAINS(err, "mode=0");
    CHECK_CONTAINS(err, "capri: warning: stack chunks have no guard pages (CAPRI_GUARD_FORCE=none)\n");
    CHECK_CONTAINS(err, "survived");
}

static void test_dense_has_no_guard(void)
{
    char err[4096];
    int st = run_child("dense", NULL, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_CONTAINS(err, "mode=0");
    CHECK_CONTAINS(err, "survived");
    CHECK(!strstr(err, "warning")); /* asked for: no warning */
}

static void test_guard_madvise_child(void)
{
    char err[4096];
    int st = run_child("guard", NULL, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK(strstr(err, "mode=2") || strstr(err, "mode=1"));
}

static void test_mprotect_exhaustion(void)
{
    unsigned long max = max_map_count();
    if (max > 1000000) {
        fprintf(stderr, "  skipped: vm.max_map_count is %lu\n", max);
        return;
    }
    char err[4096];
    int st = run_child("exhaust", "mprotect", err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const char *t = strstr(err, "taken=");
    unsigned n = t ? (unsigned)strtoul(t + 6, NULL, 10) : 0;
    /* Two mappings per chunk, a few thousand left over for the process. */
    CHECK(n > max / 2 - 8192 && n < max / 2);
    fprintf(stderr, "  mprotect guards ran out after %u chunks\n", n);
}

static void test_mlock_fallback(void)
{
    char err[4096];
    int st = run_child("mlock", NULL, err, sizeof err);
    if (strstr(err, "skip")) {
        fprintf(stderr, "  %s", err);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        return;
    }
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CHECK_CONTAINS(err, "mode=1");
}

/* ---- in this process ----------------------------------------------------- */

static void test_classes(void)
{
    CHECK_EQ(chunk_class_for(0), 0);
    CHECK_EQ(chunk_class_for(1), 0);
    CHECK_EQ(chunk_class_for(4096), 0);
    CHECK_EQ(chunk_class_for(4097), 1);
    CHECK_EQ(chunk_class_for(8192), 1);
    CHECK_EQ(chunk_class_for(8193), 2);
    CHECK_EQ(chunk_class_for(65536), 4);
    CHECK_EQ(chunk_class_for(65537), 5);
    CHECK_EQ(chunk_class_for(2u << 20), 9);
    CHECK_EQ(chunk_class_for((2u << 20) + 1), CHUNK_CLASSES);
    CHECK_EQ(chunk_class_for(SIZE_MAX), CHUNK_CLASSES);
    for (unsigned c = 0; c < CHUNK_CLASSES; c++) {
        CHECK_EQ(chunk_class_size(c), (size_t)4096 << c);
        CHECK_EQ(chunk_class_for(chunk_class_size(c)), c);
        CHECK_EQ(chunk_class_for(chunk_class_size(c) - 1), c == 0 ? 0 : c);
        CHECK_EQ(chunk_class_for(chunk_class_size(c) + 1), c + 1);
    }
    CHECK_EQ(chunk_class_size(CHUNK_ALL_CLASSES), 0);
}

static struct chunk_cache cache_a;

static void test_round_trip(void)
{
    chunk_cache_register(&cache_a);
    uint32_t slot, slot2;
    char *p = chunk_pool_take(&cache_a, 0, &slot);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ((uintptr_t)p % 4096, 0);
    CHECK(chunk_of_slot(slot) == p);
    struct chunk_slot *e = chunk_slot_at(slot);
    CHECK(e != NULL);
    CHECK_EQ(e->state, CHUNK_STACK);
    CHECK_EQ(e->cls, 0);
    CHECK(e->owner == NULL);
    memset(p, 0xab, 4096);
    e->state = CHUNK_THREAD; /* what the core does with a thread's chunk */
    e->owner = p;
    e->generation = 7;
    chunk_pool_give(&cache_a, p, 0);
    CHECK_EQ(e->state, CHUNK_FREE);
    CHECK(e->owner == NULL);
    CHECK_EQ(e->generation, 7);
    /* LIFO: the same chunk again, still warm, generation kept. */
    char *q = chunk_pool_take(&cache_a, 0, &slot2);
    CHECK(q == p);
    CHECK_EQ(slot2, slot);
    CHECK_EQ(e->generation, 7);
    CHECK_EQ((unsigned char)q[100], 0xab);
    uint32_t s1, s2;
    char *a = chunk_pool_take(&cache_a, 0, &s1), *b = chunk_pool_take(&cache_a, 0, &s2);
    CHECK(a && b && a != b && a != q && b != q);
    chunk_pool_give(&cache_a, a, 0);
    chunk_pool_give(&cache_a, b, 0);
    CHECK(chunk_pool_take(&cache_a, 0, &s1) == b);
    CHECK(chunk_pool_take(&cache_a, 0, &s2) == a);
    chunk_pool_give(&cache_a, a, 0);
    chunk_pool_give(&cache_a, b, 0);
    chunk_pool_give(&cache_a, q, 0);
    /* Every class: aligned, writable to its top, its slot names it. */
    for (unsigned c = 0; c < CHUNK_CLASSES; c++) {
        char *x = chunk_pool_take(&cache_a, c, &slot);
        CHECK(x != NULL);
        if (!x)
            continue;
        CHECK_EQ((uintptr_t)x % 4096, 0);
        CHECK(chunk_of_slot(slot) == x);
        CHECK_EQ(chunk_slot_at(slot)->cls, c);
        x[0] = 1;
        x[chunk_class_size(c) - 1] = 1;
        chunk_pool_give(&cache_a, x, c);
    }
    CHECK(chunk_pool_take(&cache_a, CHUNK_ALL_CLASSES, &slot) == NULL);
}

static void test_locate(void)
{
    static const unsigned classes[] = {0, 3, 4, 9};
    uint32_t s;
    void *ch;
    unsigned cls;
    char *p9 = NULL;
    uint32_t slot9 = 0;
    for (unsigned k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        unsigned c = classes[k];
        size_t size = chunk_class_size(c);
        uint32_t slot;
        char *p = chunk_pool_take(&cache_a, c, &slot);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_EQ(chunk_pool_locate(p, &s, &ch, &cls), 1);
        CHECK(s == slot && ch == p && cls == c);
        s = 0, ch = NULL, cls = 99;
        CHECK_EQ(chunk_pool_locate(p + size - 1, &s, &ch, &cls), 1);
        CHECK(s == slot && ch == p && cls == c);
        s = 0, ch = NULL;
        CHECK_EQ(chunk_pool_locate(p - 1, &s, &ch, &cls), 2);
        CHECK(s == slot && ch == p);
        s = 0, ch = NULL;
        CHECK_EQ(chunk_pool_locate(p - CHUNK_GUARD_SIZE, &s, &ch, &cls), 2);
        CHECK(s == slot && ch == p);
        /* Just above: the guard of the next chunk of the slab. */
        if ((slot & 8191) + 1 < 31) {
            CHECK_EQ(chunk_pool_locate(p + size, &s, &ch, &cls), 2);
            CHECK(s == slot + 1 && (char *)ch == p + size + CHUNK_GUARD_SIZE);
        }
        if (c == 9) {
            p9 = p;
            slot9 = slot;
        } else {
            chunk_pool_give(&cache_a, p, c);
        }
    }
    int local;
    CHECK_EQ(chunk_pool_locate(&local, &s, &ch, &cls), 0);
    CHECK_EQ(chunk_pool_locate(NULL, &s, &ch, &cls), 0);
    CHECK_EQ(chunk_pool_locate((void *)-1, &s, &ch, &cls), 0);
    void *heap = malloc(64);
    CHECK_EQ(chunk_pool_locate(heap, &s, &ch, &cls), 0);
    free(heap);
    if (p9) {
        /* A 64 MiB slab holds 31 chunks of 2 MiB + 4 KiB; the rest of the
         * slab is no chunk. Far above: slabs not carved. */
        size_t stride = chunk_class_size(9) + CHUNK_GUARD_SIZE;
        char *slab = p9 - CHUNK_GUARD_SIZE - (size_t)(slot9 & 8191) * stride;
        CHECK_EQ(chunk_pool_locate(slab + 31 * stride + 100, &s, &ch, &cls), 0);
        CHECK_EQ(chunk_pool_locate(slab + 30 * stride + 100, &s, &ch, &cls), 2);
        CHECK_EQ(chunk_pool_locate(slab + ((size_t)3000 << 26), &s, &ch, &cls), 0);
        CHECK(chunk_slot_at((slot9 & ~8191u) | 31) == NULL);
        CHECK(chunk_of_slot((slot9 & ~8191u) | 31) == NULL);
        CHECK(chunk_slot_at((slot9 & ~8191u) | 30) != NULL);
        chunk_pool_give(&cache_a, p9, 9);
    }
    CHECK(chunk_slot_at(CHUNK_SLOT_NONE) == NULL);
    CHECK(chunk_slot_at(4000u << 13) == NULL);
    CHECK(chunk_of_slot(4000u << 13) == NULL);
}

static void test_guard_fault(void)
{
    if (chunk_pool_guard_mode() == CHUNK_GUARD_NONE) {
        fprintf(stderr, "  skipped: no guards on this machine\n");
        return;
    }
    static const unsigned classes[] = {0, 4, 9};
    for (unsigned k = 0; k < 3; k++) {
        unsigned c = classes[k];
        uint32_t slot;
        char *p = chunk_pool_take(&cache_a, c, &slot);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_EQ(write_in_child(p), 0);
        CHECK_EQ(write_in_child(p + chunk_class_size(c) - 1), 0);
        CHECK_EQ(write_in_child(p - 1), SIGSEGV);
        CHECK_EQ(write_in_child(p - CHUNK_GUARD_SIZE), SIGSEGV);
        chunk_pool_give(&cache_a, p, c);
    }
}

static void test_stats(void)
{
    static struct chunk_cache b, tmp;
    chunk_cache_register(&b);
    chunk_cache_register(&b); /* twice is harmless */
    struct capri_pool_stats s0, s1, s2;
    stats(&s0);
    CHECK(s0.bytes_reserved >= (1ull << 30));
    CHECK_EQ(s0.bytes_reserved & (s0.bytes_reserved - 1), 0);
    CHECK(s0.bytes_mapped > 0);
    CHECK_EQ(s0.bytes_mapped % (64ull << 20), 0);
    CHECK_EQ(s0.guard_mode, (int)chunk_pool_guard_mode());
    char *held[80];
    uint32_t slot;
    for (int i = 0; i < 77; i++)
        held[i] = chunk_pool_take(&b, 2, &slot);
    for (int i = 77; i < 80; i++)
        held[i] = chunk_pool_take(NULL, 2, &slot);
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[2] - s0.chunks_in_use[2], 80);
    /* Given back crosswise: a chunk taken through a cache may come back
     * through none, and the other way round. */
    for (int i = 0; i < 80; i++)
        chunk_pool_give(i == 5 || i == 7 || i == 9 ? NULL : &b, held[i], 2);
    stats(&s2);
    CHECK_EQ(s2.chunks_in_use[2], s0.chunks_in_use[2]);
    CHECK_EQ(s2.chunks_free[2] - s1.chunks_free[2], 80);
    CHECK(b.count[2] <= 64);
    CHECK(s2.depot_transfers > s0.depot_transfers); /* b overflowed */
    for (unsigned c = 0; c < CHUNK_CLASSES; c++)
        if (c != 2)
            CHECK_EQ(s2.chunks_in_use[c], s0.chunks_in_use[c]);
    CHECK(s2.bytes_mapped >= s0.bytes_mapped);
    /* An unregistered cache's counters stay in the totals. */
    chunk_cache_register(&tmp);
    char *x = chunk_pool_take(&tmp, 2, &slot);
    chunk_cache_unregister(&tmp);
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[2] - s2.chunks_in_use[2], 1);
    CHECK_EQ(s1.chunks_free[2] + 1, s2.chunks_free[2]);
    chunk_pool_give(&b, x, 2);
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[2], s2.chunks_in_use[2]);
}

static void test_foreign(void)
{
    uint32_t slot, slot2;
    char *p = chunk_pool_take(NULL, 5, &slot);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ(chunk_slot_at(slot)->state, CHUNK_STACK);
    p[0] = 42;
    chunk_pool_give(NULL, p, 5);
    CHECK(chunk_pool_take(NULL, 5, &slot2) == p);
    CHECK_EQ(p[0], 42);
    chunk_pool_give(NULL, p, 5);
    char *held[100];
    for (int i = 0; i < 100; i++)
        held[i] = chunk_pool_take(NULL, 5, &slot);
    for (int i = 0; i < 100; i++) {
        CHECK(held[i] != NULL);
        for (int j = 0; j < i; j++)
            if (held[i] == held[j])
                CHECK(!"a chunk handed out twice");
    }
    for (int i = 0; i < 100; i++)
        chunk_pool_give(NULL, held[i], 5);
}

/* Chunks keep their memory when they move cache -> depot -> cache. */
static void test_transfers(void)
{
    static struct chunk_cache c1, c2;
    chunk_cache_register(&c1);
    chunk_cache_register(&c2);
    enum { N = 200 };
    static char *held[N];
    static uint32_t slots[N];
    const size_t size = chunk_class_size(1);
    struct capri_pool_stats s0, s1;
    stats(&s0);
    for (int i = 0; i < N; i++) {
        held[i] = chunk_pool_take(&c1, 1, &slots[i]);
        CHECK(held[i] != NULL);
        if (!held[i])
            return;
        uint64_t *w = (uint64_t *)held[i];
        for (size_t k = 0; k < size / 8; k++)
            w[k] = (uint64_t)slots[i] * 0x9e3779b97f4a7c15ull + k;
    }
    for (int i = 0; i < N; i++)
        chunk_pool_give(&c1, held[i], 1);
    CHECK(c1.count[1] <= 64);
    stats(&s1);
    CHECK(s1.depot_transfers > s0.depot_transfers);
    chunk_cache_flush(&c1);
    CHECK_EQ(c1.count[1], 0);
    /* All 200 come back through c2, contents intact. */
    int found = 0, intact = 0, taken = 0;
    static char *again[2 * N];
    /* Batches were carved 32 at a time: a few chunks c1 never handed out
     * come along. */
    for (int i = 0; i < 2 * N && found < N; i++, taken++) {
        uint32_t slot;
        again[i] = chunk_pool_take(&c2, 1, &slot);
        CHECK(again[i] != NULL);
        int j = 0;
        while (j < N && slots[j] != slot)
            j++;
        if (j == N)
            continue;
        found++;
        CHECK(again[i] == held[j]);
        const uint64_t *w = (const uint64_t *)again[i];
        size_t k = 0;
        while (k < size / 8 && w[k] == (uint64_t)slot * 0x9e3779b97f4a7c15ull + k)
            k++;
        intact += k == size / 8;
    }
    CHECK_EQ(found, N);
    CHECK_EQ(intact, N);
    CHECK(taken < N + 32);
    for (int i = 0; i < taken; i++)
        chunk_pool_give(&c2, again[i], 1);
    chunk_cache_flush(&c2);
}

/* Memory of idle chunks goes back to the kernel: from a cache after a full
 * period at the bottom of its LIFO, from the depot after one to two. */
static void test_decay(void)
{
    static struct chunk_cache d;
    chunk_cache_register(&d);
    enum { N = 40 };
    const unsigned c = 3;
    const size_t size = chunk_class_size(c), pages = size / 4096;
    char *held[N];
    uint32_t slot;
    for (int i = 0; i < N; i++) {
        held[i] = chunk_pool_take(&d, c, &slot);
        CHECK(held[i] != NULL);
        if (!held[i])
            return;
        memset(held[i], 0x5a, size);
    }
    for (int i = 0; i < N; i++)
        chunk_pool_give(&d, held[i], c);
    size_t res = 0;
    for (int i = 0; i < N; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, N * pages);

    struct capri_pool_stats s0, s1;
    stats(&s0);
    chunk_pool_decay(&d, fake_now); /* starts a period */
    chunk_pool_decay(&d, fake_now + SEC / 2);
    stats(&s1);
    CHECK_EQ(s1.bytes_released, s0.bytes_released);
    CHECK_EQ(d.bytes_released, 0);
    res = 0;
    for (int i = 0; i < N; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, N * pages);

    fake_now += SEC + SEC / 2;
    chunk_pool_decay(&d, fake_now); /* a whole period untouched */
    stats(&s1);
    CHECK_EQ(d.count[c], 0);
    CHECK_EQ(d.bytes_released, N * size);
    CHECK(s1.bytes_released - s0.bytes_released >= N * size);
    CHECK_EQ(s1.chunks_free[c], s0.chunks_free[c]); /* moved to the depot */
    res = 0;
    for (int i = 0; i < N; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, 0);
    /* Nothing more to do: nothing changes. */
    chunk_pool_decay(&d, fake_now + 1);
    stats(&s0);
    CHECK_EQ(s0.bytes_released, s1.bytes_released);

    /* Released memory reads as zeroes when taken again; touched again, it
     * stays resident while it is used. */
    int zero = 1;
    for (int i = 0; i < N; i++) {
        held[i] = chunk_pool_take(&d, c, &slot);
        zero &= held[i][0] == 0 && held[i][size - 1] == 0;
        memset(held[i], 0x11, size);
    }
    CHECK(zero);
    for (int i = 0; i < N; i++)
        chunk_pool_give(&d, held[i], c);

    /* The depot: given back, hot; one period later cold; the next period
     * releases it. */
    chunk_cache_flush(&d);
    stats(&s0);
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(NULL, fake_now);
    res = 0;
    for (int i = 0; i < N; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, N * pages);
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(NULL, fake_now);
    stats(&s1);
    res = 0;
    for (int i = 0; i < N; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, 0);
    CHECK(s1.bytes_released - s0.bytes_released >= N * size);
}

/* A cache releases only what stayed at the bottom of its LIFO the whole
 * period: chunks used during it stay warm, chunks never touched (carved
 * but not handed out) cost no madvise. */
static void test_decay_keeps_recent(void)
{
    static struct chunk_cache g;
    chunk_cache_register(&g);
    /* Few enough to stay under the cache's cap with what a refill left. */
    enum { N = 20, RECENT = 5 };
    const unsigned c = 2;
    const size_t size = chunk_class_size(c);
    char *held[N];
    uint32_t slot;
    for (int i = 0; i < N; i++) {
        held[i] = chunk_pool_take(&g, c, &slot);
        CHECK(held[i] != NULL);
        if (!held[i])
            return;
        memset(held[i], 1, size);
    }
    for (int i = 0; i < N; i++)
        chunk_pool_give(&g, held[i], c);
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(&g, fake_now); /* the period starts */
    CHECK_EQ(g.bytes_released, 0);
    char *again[RECENT];
    for (int i = 0; i < RECENT; i++) {
        again[i] = chunk_pool_take(&g, c, &slot);
        CHECK(again[i] == held[N - 1 - i]);
        memset(again[i], 2, size);
    }
    for (int i = RECENT; i-- > 0;)
        chunk_pool_give(&g, again[i], c);
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(&g, fake_now);
    CHECK_EQ(g.count[c], RECENT);
    CHECK(g.bytes_released >= (N - RECENT) * size); /* and what the refill brought */
    size_t res = 0;
    for (int i = 0; i < RECENT; i++)
        res += resident_pages(again[i], size);
    CHECK_EQ(res, RECENT * (size / 4096));
    res = 0;
    for (int i = 0; i < N - RECENT; i++)
        res += resident_pages(held[i], size);
    CHECK_EQ(res, 0);
}

/* Beyond CHUNK_DEPOT_RESIDENT_MAX of resident free memory in the depot,
 * decay releases the excess without waiting for the period. */
static void test_decay_threshold(void)
{
    static struct chunk_cache e;
    chunk_cache_register(&e);
    /* Two periods: nothing resident is left in the depot. */
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(NULL, fake_now);
    fake_now += SEC + SEC / 10;
    chunk_pool_decay(NULL, fake_now);
    const unsigned c = 4;
    const size_t size = chunk_class_size(c);
    const uint32_t n = (uint32_t)((CHUNK_DEPOT_RESIDENT_MAX + (16u << 20)) / size) + 64;
    char **held = calloc(n, sizeof *held);
    uint32_t slot;
    for (uint32_t i = 0; i < n; i++) {
        held[i] = chunk_pool_take(&e, c, &slot);
        CHECK(held[i] != NULL);
        if (!held[i])
            return;
        for (size_t k = 0; k < size; k += 4096)
            held[i][k] = 1;
    }
    for (uint32_t i = 0; i < n; i++)
        chunk_pool_give(&e, held[i], c);
    uint32_t in_depot = n - e.count[c];
    struct capri_pool_stats s0, s1;
    stats(&s0);
    chunk_pool_decay(NULL, fake_now + 1); /* within the period */
    stats(&s1);
    uint64_t released = s1.bytes_released - s0.bytes_released;
    uint64_t over = (uint64_t)in_depot * size - CHUNK_DEPOT_RESIDENT_MAX;
    CHECK(released >= over);
    CHECK(released <= over + 32 * size); /* a batch at most beyond */
    uint64_t gone = 0;
    for (uint32_t i = 0; i < n; i++)
        gone += resident_pages(held[i], size) == 0;
    CHECK_EQ(gone * size, released);
    /* Under the limit now: nothing more. */
    chunk_pool_decay(NULL, fake_now + 2);
    stats(&s0);
    CHECK_EQ(s0.bytes_released, s1.bytes_released);
    free(held);
}

static void test_many(void)
{
    static struct chunk_cache m;
    chunk_cache_register(&m);
    char **held = calloc(MANY, sizeof *held);
    uint32_t *slots = calloc(MANY, sizeof *slots);
    uint8_t *seen = calloc(1u << 22, 1); /* a bit per possible slot */
    struct capri_pool_stats s0, s1;
    stats(&s0);
    uint64_t t0 = mono_ns();
    uint32_t got = 0;
    for (uint32_t i = 0; i < MANY; i++)
        got += (held[i] = chunk_pool_take(&m, 0, &slots[i])) != NULL;
    uint64_t t1 = mono_ns();
    CHECK_EQ(got, MANY);
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[0] - s0.chunks_in_use[0], MANY);
    uint32_t dup = 0, wrong = 0;
    for (uint32_t i = 0; i < got; i++) {
        uint32_t s = slots[i];
        dup += (seen[s >> 3] >> (s & 7)) & 1;
        seen[s >> 3] |= (uint8_t)(1u << (s & 7));
        wrong += chunk_of_slot(s) != held[i];
    }
    CHECK_EQ(dup, 0);
    CHECK_EQ(wrong, 0);
    for (uint32_t i = 0; i < got; i++)
        chunk_pool_give(&m, held[i], 0);
    uint64_t t2 = mono_ns();
    for (uint32_t i = 0; i < got; i++)
        held[i] = chunk_pool_take(&m, 0, &slots[i]);
    for (uint32_t i = 0; i < got; i++)
        chunk_pool_give(&m, held[i], 0);
    uint64_t t3 = mono_ns();
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[0], s0.chunks_in_use[0]);
    fprintf(stderr, "  %u chunks: first take %.1f ms (carving, guards), give %.1f ms, "
                    "take+give again %.1f ms\n",
            MANY, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6);
    CHECK(t1 - t0 < 3 * SEC);
    CHECK(t3 - t2 < SEC / 2);
    free(seen);
    free(slots);
    free(held);
}

/* The fork hooks: the child keeps only the survivor's cache, and can carve
 * (and guard) new chunks; the parent goes on. */
static void test_fork(void)
{
    static struct chunk_cache f;
    chunk_cache_register(&f);
    uint32_t slot;
    char *p = chunk_pool_take(&f, 0, &slot);
    CHECK(p != NULL);
    chunk_pool_atfork_prepare();
    pid_t pid = fork();
    if (pid == 0) {
        chunk_pool_atfork_child(&f);
        int bad = 0;
        struct capri_pool_stats s;
        chunk_pool_stats_collect(&s);
        if (s.depot_transfers != 0 || s.bytes_released != 0)
            bad |= 1;
        if (s.chunks_free[0] < f.count[0] || s.chunks_in_use[0] != f.in_use[0])
            bad |= 2; /* only the survivor counts */
        char *q = chunk_pool_take(&f, 8, &slot); /* class 8: a new slab */
        if (!q)
            bad |= 4;
        else if (chunk_pool_guard_mode() != CHUNK_GUARD_NONE && write_in_child(q - 1) != SIGSEGV)
            bad |= 8;
        else if (write_in_child(q) != 0)
            bad |= 16;
        chunk_pool_give(&f, p, 0);
        _exit(bad);
    }
    chunk_pool_atfork_parent();
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    /* Not left locked. */
    chunk_pool_give(&f, p, 0);
    char *q = chunk_pool_take(NULL, 0, &slot);
    CHECK(q != NULL);
    chunk_pool_give(NULL, q, 0);
}

struct worker {
    struct chunk_cache cache;
    bool foreign;
    unsigned id;
    uint32_t errors;
    uint64_t fake;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct chunk_cache *cache = w->foreign ? NULL : &w->cache;
    if (cache)
        chunk_cache_register(cache);
    char *held[48];
    unsigned cls[48];
    uint32_t rng = w->id * 2654435761u + 1;
    for (unsigned r = 0; r < THREAD_ROUNDS; r++) {
        rng = rng * 1103515245u + 12345u;
        unsigned n = 1 + (rng >> 16) % 48;
        for (unsigned i = 0; i < n; i++) {
            uint32_t slot;
            cls[i] = (rng >> (i % 16)) & 1;
            held[i] = chunk_pool_take(cache, cls[i], &slot);
            if (!held[i]) {
                w->errors++;
                n = i;
                break;
            }
            uint64_t mark = (uint64_t)w->id << 48 | (uint64_t)r << 8 | i;
            *(uint64_t *)held[i] = mark;
            *(uint64_t *)(held[i] + chunk_class_size(cls[i]) - 8) = mark;
        }
        for (unsigned i = 0; i < n; i++) {
            uint64_t mark = (uint64_t)w->id << 48 | (uint64_t)r << 8 | i;
            if (*(uint64_t *)held[i] != mark ||
                *(uint64_t *)(held[i] + chunk_class_size(cls[i]) - 8) != mark)
                w->errors++;
            chunk_pool_give(cache, held[i], cls[i]);
        }
        if (r % 64 == 0) {
            w->fake += SEC / 3;
            chunk_pool_decay(cache, w->fake);
        }
    }
    if (cache)
        chunk_cache_flush(cache);
    return NULL;
}

static void test_threads(void)
{
    static struct worker w[3];
    pthread_t t[3];
    struct capri_pool_stats s0, s1;
    stats(&s0);
    for (unsigned i = 0; i < 3; i++) {
        w[i].id = i + 1;
        w[i].foreign = i == 2;
        w[i].fake = fake_now;
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (unsigned i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].errors, 0);
    }
    stats(&s1);
    CHECK_EQ(s1.chunks_in_use[0], s0.chunks_in_use[0]);
    CHECK_EQ(s1.chunks_in_use[1], s0.chunks_in_use[1]);
}

/* Not checks: the cost of the fast path, for the record. */
static void measure(void)
{
    static struct chunk_cache w;
    chunk_cache_register(&w);
    uint32_t slot;
#ifdef CAPRI_TEST_SANITIZED
    enum { ROUNDS = 200000 };
#else
    enum { ROUNDS = 10000000 };
#endif
    char *p = chunk_pool_take(&w, 4, &slot);
    chunk_pool_give(&w, p, 4);
    uint64_t t0 = mono_ns();
    for (int i = 0; i < ROUNDS; i++) {
        p = chunk_pool_take(&w, 4, &slot);
        __asm__ volatile("" : : "r"(p) : "memory");
        chunk_pool_give(&w, p, 4);
    }
    uint64_t t1 = mono_ns();
    char *held[16];
    for (int i = 0; i < ROUNDS / 16; i++) {
        for (int k = 0; k < 16; k++)
            held[k] = chunk_pool_take(&w, 4, &slot);
        __asm__ volatile("" : : "r"(held) : "memory");
        for (int k = 0; k < 16; k++)
            chunk_pool_give(&w, held[k], 4);
    }
    uint64_t t2 = mono_ns();
    void *ch;
    unsigned cls;
    uint32_t s;
    int sum = 0;
    for (int i = 0; i < ROUNDS; i++)
        sum += chunk_pool_locate(p + (i & 0xffff), &s, &ch, &cls);
    uint64_t t3 = mono_ns();
    for (int i = 0; i < ROUNDS; i++) {
        p = chunk_pool_take(NULL, 4, &slot);
        __asm__ volatile("" : : "r"(p) : "memory");
        chunk_pool_give(NULL, p, 4);
    }
    uint64_t t4 = mono_ns();
    for (int i = 0; i < ROUNDS; i++)
        chunk_pool_decay(&w, fake_now);
    uint64_t t5 = mono_ns();
    fprintf(stderr, "  take+give, warm cache: %.2f ns; 16 deep: %.2f ns per pair; "
                    "locate %.2f ns (%d); no cache (depot lock): %.2f ns; idle decay check %.2f ns\n",
            (double)(t1 - t0) / ROUNDS, (double)(t2 - t1) / ROUNDS, (double)(t3 - t2) / ROUNDS,
            sum > 0, (double)(t4 - t3) / ROUNDS, (double)(t5 - t4) / ROUNDS);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    unsetenv("CAPRI_GUARD_FORCE");
    RUN(test_guard_madvise_child);
    RUN(test_guard_mprotect);
    RUN(test_guard_none_warns);
    RUN(test_dense_has_no_guard);
    RUN(test_mprotect_exhaustion);
    RUN(test_mlock_fallback);

    CHECK_EQ(chunk_pool_init(CHUNK_GUARD_MADVISE), 0);
    CHECK_EQ(chunk_pool_init(CHUNK_GUARD_NONE), 0); /* once only: no effect */
    if (chunk_pool_guard_mode() != CHUNK_GUARD_MADVISE)
        fprintf(stderr, "  note: guard mode %d here\n", (int)chunk_pool_guard_mode());
    RUN(test_classes);
    RUN(test_round_trip);
    RUN(test_locate);
    RUN(test_guard_fault);
    RUN(test_stats);
    RUN(test_foreign);
    RUN(test_transfers);
    RUN(test_decay);
    RUN(test_decay_keeps_recent);
    RUN(test_decay_threshold);
    RUN(test_many);
    RUN(test_fork);
    RUN(test_threads);
    measure();
    return test_summary("chunk_pool");
}
