/*
 * random_read MODE FILE [THREADS] [READS]
 *
 * Regular-file reads on capri threads against plain pthreads
 * (docs/benchmarks.md, "Regular-file reads").
 *
 *   capri, pthread: THREADS threads (default 64) share READS random,
 *     4 KiB-aligned 4 KiB preads (default 16384) of FILE, whose pages are
 *     dropped from the page cache first (POSIX_FADV_DONTNEED) and which is
 *     read without read-ahead (POSIX_FADV_RANDOM). capri runs its threads
 *     on CAPRI_SCHEDULERS schedulers (default 1 here). Prints reads/s.
 *   cached-capri, cached-pthread: one thread reads the same cached block
 *     over and over, READS times (default 2000000), 4 KiB and 64 bytes at
 *     a time. Prints ns per call.
 *
 * Each thread draws its offsets from its own xorshift sequence (seeded by
 * its index), so the two kinds read the same blocks.
 */
#define _GNU_SOURCE
#include <capri.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fd;
static uint64_t blocks;
static long per_thread;
static long failures;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *reader(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull * ((uint64_t)(uintptr_t)arg + 1);
    void *buf;
    if (posix_memalign(&buf, 4096, 4096))
        abort();
    for (long i = 0; i < per_thread; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        off_t off = (off_t)((x % blocks) * 4096);
        if (pread(fd, buf, 4096, off) != 4096)
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
    free(buf);
    return NULL;
}

static double cached_ns(size_t size, long reads)
{
    static char buf[4096];
    if (pread(fd, buf, size, 8192) != (ssize_t)size)
        abort();
    uint64_t t0 = now_ns();
    for (long i = 0; i < reads; i++)
        if (pread(fd, buf, size, 8192) != (ssize_t)size)
            failures++;
    return (double)(now_ns() - t0) / (double)reads;
}

static long cached_reads;
static void *cached(void *arg)
{
    (void)arg;
    double big = cached_ns(4096, cached_reads);
    double small = cached_ns(64, cached_reads);
    printf("%.1f ns per 4 KiB pread, %.1f ns per 64-byte pread\n", big, small);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s capri|pthread|cached-capri|cached-pthread FILE [THREADS] [READS]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int threads = argc > 3 ? atoi(argv[3]) : 64;
    fd = open(argv[2], O_RDONLY);
    if (fd < 0 || threads <= 0) {
        perror(argv[2]);
        return 1;
    }
    blocks = (uint64_t)lseek(fd, 0, SEEK_END) / 4096;
    int capri = strcmp(mode, "capri") == 0 || strcmp(mode, "cached-capri") == 0;
    if (capri && !getenv("CAPRI_SCHEDULERS"))
        capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    if (strncmp(mode, "cached-", 7) == 0) {
        cached_reads = argc > 4 ? atol(argv[4]) : 2000000;
        if (capri) {
            capri_t t;
            capri_spawn(&t, cached, NULL, NULL);
            capri_join(t, NULL);
        } else {
            pthread_t t;
            pthread_create(&t, NULL, cached, NULL);
            pthread_join(t, NULL);
        }
        return failures != 0;
    }
    long reads = argc > 4 ? atol(argv[4]) : 16384;
    per_thread = reads / threads;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    uint64_t t0 = now_ns();
    if (capri) {
        capri_t *t = calloc((size_t)threads, sizeof *t);
        for (int i = 0; i < threads; i++)
            capri_spawn(&t[i], reader, (void *)(uintptr_t)i, NULL);
        for (int i = 0; i < threads; i++)
            capri_join(t[i], NULL);
        free(t);
    } else {
        pthread_t *t = calloc((size_t)threads, sizeof *t);
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)i);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        free(t);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    long done = per_thread * threads;
    if (capri) {
        struct capri_io_stats st;
        capri_io_stats(&st);
        printf("%.0f reads/s (%ld reads in %.3f s; %llu to io_uring, %llu to the pool)\n",
               (double)done / secs, done, secs, (unsigned long long)st.file_ring,
               (unsigned long long)st.file_pool);
    } else {
        printf("%.0f reads/s (%ld reads in %.3f s)\n", (double)done / secs, done, secs);
    }
    return failures != 0;
}
