/*
 * ring_write FILE [WRITES]
 *
 * Why regular-file writes stay blocking on capri threads
 * (docs/io-design.md, "Regular files"): the cost of a buffered 4 KiB
 * write by pwrite against the same write submitted to an io_uring and
 * waited for (the least a ring write would cost a capri thread, before
 * its park and wake). Also says whether the file system takes
 * pwritev2(RWF_NOWAIT) on buffered writes. FILE is created and removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [WRITES]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 20000;
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    unlink(argv[1]);
    static char buf[4096];
    struct iovec v = { buf, sizeof buf };
    ssize_t nw = pwritev2(fd, &v, 1, 0, RWF_NOWAIT);
    printf("pwritev2(RWF_NOWAIT) of a buffered write: %s\n", nw >= 0 ? "taken" : strerror(errno));

    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (pwrite(fd, buf, sizeof buf, (off_t)(i % 1024) * 4096) != (ssize_t)sizeof buf)
            return 1;
    double direct = (double)(now_ns() - t0) / (double)n;

    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int rfd = (int)syscall(SYS_io_uring_setup, 8, &p);
    if (rfd < 0) {
        perror("io_uring_setup");
        return 1;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *ring = mmap(NULL, sq_len > cq_len ? sq_len : cq_len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQ_RING);
    struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQES);
    if (ring == MAP_FAILED || sqes == MAP_FAILED)
        return 1;
    uint32_t *sq_tail = (uint32_t *)(ring + p.sq_off.tail);
    uint32_t sq_mask = *(uint32_t *)(ring + p.sq_off.ring_mask);
    uint32_t *sq_array = (uint32_t *)(ring + p.sq_off.array);
    uint32_t *cq_head = (uint32_t *)(ring + p.cq_off.head);
    uint32_t *cq_tail = (uint32_t *)(ring + p.cq_off.tail);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
    uint32_t cq_mask = *(uint32_t *)(ring + p.cq_off.ring_mask);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uint32_t tail = *sq_tail, index = tail & sq_mask;
        memset(&sqes[index], 0, sizeof sqes[index]);
        sqes[index].opcode = IORING_OP_WRITEV;
        sqes[index].fd = fd;
        sqes[index].addr = (uint64_t)(uintptr_t)&v;
        sqes[index].len = 1;
        sqes[index].off = (uint64_t)(i % 1024) * 4096;
        sq_array[index] = index;
        __atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
        if (syscall(SYS_io_uring_enter, rfd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
            return 1;
        uint32_t head = *cq_head;
        if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == head || cqes[head & cq_mask].res != 4096)
            return 1;
        __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
    }
    double ringed = (double)(now_ns() - t0) / (double)n;
    printf("%.0f ns per 4 KiB pwrite, %.0f ns per 4 KiB io_uring write (submitted and waited for)\n",
           direct, ringed);
    return 0;
}
