/*
 * direct_nowait FILE
 *
 * Why O_DIRECT reads skip the RWF_NOWAIT try on capri threads
 * (docs/io-design.md, "Regular files"): on a direct descriptor the try
 * does not answer from a cache, it waits for the device. Times five
 * 4 KiB preadv2(RWF_NOWAIT) reads and three plain preads of FILE opened
 * O_DIRECT, at scattered offsets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    void *buf;
    if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
        perror(argv[1]);
        return 1;
    }
    long long blocks = lseek(fd, 0, SEEK_END) / 4096;
    struct iovec v = { buf, 4096 };
    for (int i = 0; i < 8; i++) {
        off_t off = (off_t)(((long long)i * 7919 + 13) % blocks) * 4096;
        long long t0 = now_ns();
        ssize_t r = i < 5 ? preadv2(fd, &v, 1, off, RWF_NOWAIT) : pread(fd, buf, 4096, off);
        long long t = now_ns() - t0;
        printf("%s: %zd%s%s in %lld ns\n", i < 5 ? "preadv2(RWF_NOWAIT)" : "pread", r,
               r < 0 ? " " : "", r < 0 ? strerror(errno) : "", t);
    }
    return 0;
}
