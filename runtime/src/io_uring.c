/*
 * Each scheduler's io_uring (io_uring.h), written from the kernel's ABI
 * (linux/io_uring.h) with raw system calls: libcapri interposes read,
 * close and the rest, and its own descriptors must not go through those
 * paths or through a sanitizer's interceptors.
 *
 * One ring per scheduler, made on first use. Its submission queue is
 * filled by capri threads (under the ring's lock: a cancelled thread may
 * have moved to another scheduler and still has to reach the ring its
 * read went to); its completion queue is reaped by the owning scheduler,
 * in reactor_poll, woken by the eventfd the ring signals (or by the
 * monitor for a scheduler stuck in the kernel), under the same lock.
 */
#include "io_uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "io_file.h"
#include "log.h"
#include "reactor.h"
#include "scheduler.h"
#include "sys.h"

/* 256 submissions at a time is more than a scheduler's threads submit
 * between two polls; completions get room for many more reads in flight
 * (a kernel with IORING_FEAT_NODROP keeps the overflow, reaped below). */
#define RING_SQ_ENTRIES 256u
#define RING_CQ_ENTRIES 4096u

struct io_ring {
    unsigned lock; /* the submission queue, and the operations' completion (io_op.h) */
    int fd;
    int efd;
    uint32_t sq_entries;
    uint32_t *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
    uint32_t *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    struct io_uring_sqe *sqes;
};

/* A scheduler whose ring could not be made (it uses the pool). */
#define RING_NONE ((struct io_ring *)1)

/* rings[s->index]: NULL until first use. The array is made once, sized for
 * the scheduler array, which never grows. */
static struct io_ring **rings;
static uint32_t rings_len;

enum { RING_UNKNOWN = 0, RING_ON = 1, RING_OFF = 2 };
static uint32_t ring_state;

static long sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
    return sys_call6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

static void sys_munmap(void *addr, size_t len) { sys_call6(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0); }

static void sys_close_fd(int fd) { sys_call6(SYS_close, fd, 0, 0, 0, 0, 0); }

static long ring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
    return sys_call6(SYS_io_uring_enter, fd, to_submit, min_complete, flags, 0, 0);
}

bool io_ring_enabled(void)
{
    uint32_t st = load_acquire(&ring_state);
    if (likely(st != RING_UNKNOWN))
        return st == RING_ON;
    /* CAPRI_IO_URING=0: the pool runs every read (the user's knob, and
     * how the tests reach the pool on a kernel that has io_uring). */
    const char *v = getenv("CAPRI_IO_URING");
    st = (v && v[0] == '0' && v[1] == '\0') ? RING_OFF : RING_ON;
    uint32_t expected = RING_UNKNOWN;
    cas_acq_rel(&ring_state, &expected, st);
    return load_acquire(&ring_state) == RING_ON;
}

/* Makes s's ring, or returns NULL (and switches rings off for good when
 * the kernel refuses io_uring itself). */
static struct io_ring *ring_setup(struct capri_sched *s)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = RING_CQ_ENTRIES;
    long fd = sys_call6(SYS_io_uring_setup, RING_SQ_ENTRIES, (long)&p, 0, 0, 0, 0);
    if (fd < 0) {
        /* ENOSYS: no io_uring; EPERM: kernel.io_uring_disabled or a
         * seccomp filter. Both hold for every scheduler. */
        if (fd == -ENOSYS || fd == -EPERM)
            store_release(&ring_state, (uint32_t)RING_OFF);
        return NULL;
    }
    /* One mapping for both queues (5.4), completions never dropped (5.5),
     * offset -1 meaning the file position (5.6): older kernels use the
     * pool. */
    const uint32_t need = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_RW_CUR_POS;
    if ((p.features & need) != need) {
        store_release(&ring_state, (uint32_t)RING_OFF);
        sys_close_fd((int)fd);
        return NULL;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t ring_len = sq_len > cq_len ? sq_len : cq_len;
    size_t sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    long map = sys_mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, (int)fd,
                        (long)IORING_OFF_SQ_RING);
    long sqes = map < 0 ? map
                        : sys_mmap(NULL, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                                   (int)fd, (long)IORING_OFF_SQES);
    long efd = sys_call6(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
    long self = sys_mmap(NULL, sizeof(struct io_ring), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int32_t efd32 = (int32_t)efd;
    struct reactor_event ev = { EPOLLIN | EPOLLET, IO_RING_DATA };
    /* A forked child must not see the parent's queues: they are the
     * parent's ring's, and the child closes its copy of the descriptor. */
    if (map < 0 || sqes < 0 || efd < 0 || self < 0 ||
        sys_madvise((void *)map, ring_len, MADV_DONTFORK) != 0 ||
        sys_madvise((void *)sqes, sqes_len, MADV_DONTFORK) != 0 ||
        sys_call6(SYS_io_uring_register, fd, IORING_REGISTER_EVENTFD, (long)&efd32, 1, 0, 0) != 0 ||
        sys_call6(SYS_epoll_ctl, s->reactor.epfd, EPOLL_CTL_ADD, efd, (long)&ev, 0, 0) != 0) {
        if (self >= 0)
            sys_munmap((void *)self, sizeof(struct io_ring));
        if (efd >= 0)
            sys_close_fd((int)efd);
        if (sqes >= 0)
            sys_munmap((void *)sqes, sqes_len);
        if (map >= 0)
            sys_munmap((void *)map, ring_len);
        sys_close_fd((int)fd);
        return NULL;
    }
    struct io_ring *r = (struct io_ring *)self;
    char *base = (char *)map;
    r->fd = (int)fd;
    r->efd = (int)efd;
    r->sq_entries = p.sq_entries;
    r->sq_head = (uint32_t *)(base + p.sq_off.head);
    r->sq_tail = (uint32_t *)(base + p.sq_off.tail);
    r->sq_mask = (uint32_t *)(base + p.sq_off.ring_mask);
    r->sq_array = (uint32_t *)(base + p.sq_off.array);
    r->sq_flags = (uint32_t *)(base + p.sq_off.flags);
    r->cq_head = (uint32_t *)(base + p.cq_off.head);
    r->cq_tail = (uint32_t *)(base + p.cq_off.tail);
    r->cq_mask = (uint32_t *)(base + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(base + p.cq_off.cqes);
    r->sqes = (struct io_uring_sqe *)sqes;
    /* The scheduler polls while busy only when it has registrations: a
     * ring counts as one. */
    s->reactor.registrations++;
    return r;
}

struct io_ring *io_ring_get(struct capri_sched *s)
{
    struct io_ring **arr = load_acquire(&rings);
    if (likely(arr != NULL) && likely(s->index < load_relaxed(&rings_len))) {
        struct io_ring *r = load_relaxed(&arr[s->index]);
        if (likely(r != NULL))
            return r == RING_NONE ? NULL : r;
    }
    if (!io_ring_enabled())
        return NULL;
    if (!arr) {
        /* Every scheduler there may ever be, spares included (the
         * monitor starts those later; the array never moves). */
        uint32_t n = capri_rt.sched_capacity;
        long m = sys_mmap(NULL, n * sizeof *arr, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m < 0)
            return NULL;
        /* The length before the array (every racer stores the same): a
         * reaper that sees the array must see its length. */
        store_relaxed(&rings_len, n);
        struct io_ring **expected = NULL;
        if (cas_acq_rel(&rings, &expected, (struct io_ring **)m)) {
            arr = (struct io_ring **)m;
        } else {
            sys_munmap((void *)m, n * sizeof *arr);
            arr = expected;
        }
    }
    if (s->index >= load_relaxed(&rings_len))
        return NULL;
    /* Only threads running on s get here for s: no race on its slot. */
    struct io_ring *r = ring_setup(s);
    store_release(&arr[s->index], r ? r : RING_NONE);
    if (!r && io_ring_enabled())
        capri_warn("no io_uring for a scheduler: its file reads use the thread pool");
    return r;
}

/* Queues one entry and hands it to the kernel (ring lock held). 0, or an
 * errno value with nothing queued. */
static int ring_submit_locked(struct io_ring *r, const struct io_uring_sqe *entry)
{
    uint32_t tail = load_relaxed(r->sq_tail);
    if (tail - load_acquire(r->sq_head) >= r->sq_entries)
        return EBUSY; /* cannot happen while every submission enters at once */
    uint32_t index = tail & load_relaxed(r->sq_mask);
    r->sqes[index] = *entry;
    store_relaxed(&r->sq_array[index], index);
    store_release(r->sq_tail, tail + 1);
    for (int tries = 0;; tries++) {
        long n = ring_enter(r->fd, 1, 0, 0);
        if (n > 0 || load_acquire(r->sq_head) == tail + 1)
            return 0;
        if ((n == -EINTR || n == -EAGAIN) && tries < 16)
            continue;
        /* The kernel reads entries only inside io_uring_enter, which runs
         * under this lock: the entry can be taken back. */
        store_release(r->sq_tail, tail);
        return n < 0 ? (int)-n : EAGAIN;
    }
}

static void ring_cancel(void *arg, struct io_op *op)
{
    struct io_ring *r = arg;
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_ASYNC_CANCEL;
    sqe.fd = -1;
    sqe.addr = (uint64_t)(uintptr_t)op;
    sqe.user_data = 0; /* its own completion is not waited for */
    spin_lock(&r->lock);
    /* Best effort: if it cannot be queued, the read still completes. */
    ring_submit_locked(r, &sqe);
    spin_unlock(&r->lock);
    fetch_add_relaxed(&io_counters.cancels, 1u);
}

int io_ring_run(struct io_ring *r, struct io_op *op, bool *cancelled)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = op->write ? IORING_OP_WRITEV : IORING_OP_READV;
    sqe.fd = op->fd;
    sqe.addr = (uint64_t)(uintptr_t)op->iov;
    sqe.len = (uint32_t)op->iovcnt;
    sqe.off = (uint64_t)op->off; /* -1: the file position */
    /* RWF_HIPRI asks for polled completions, which only an IOPOLL ring
     * gives (this one refuses the flag): a hint, dropped. */
    sqe.rw_flags = op->rw_flags & ~RWF_HIPRI;
    sqe.user_data = (uint64_t)(uintptr_t)op;
    op->done = 0;
    spin_lock(&r->lock);
    int err = ring_submit_locked(r, &sqe);
    if (err) {
        spin_unlock(&r->lock);
        return err;
    }
    fetch_add_relaxed(&io_counters.ring, 1u);
    *cancelled = io_op_wait(sched_here()->current, op, &r->lock, ring_cancel, r);
    return 0;
}

void io_ring_reap(struct capri_sched *s)
{
    struct io_ring **arr = load_acquire(&rings);
    if (!arr || s->index >= load_relaxed(&rings_len))
        return;
    struct io_ring *r = load_relaxed(&arr[s->index]);
    if (!r || r == RING_NONE)
        return;
    /* Under the ring's lock from the first look at the queue to the last:
     * the monitor may reap a stuck scheduler's ring (reactor_poll_borrowed)
     * while its owner comes back and reaps too. */
    spin_lock(&r->lock);
    for (;;) {
        uint32_t head = load_relaxed(r->cq_head);
        uint32_t tail = load_acquire(r->cq_tail);
        uint32_t mask = load_relaxed(r->cq_mask);
        for (; head != tail; head++) {
            const struct io_uring_cqe *c = &r->cqes[head & mask];
            if (c->user_data)
                io_op_complete_locked((struct io_op *)(uintptr_t)c->user_data, c->res);
        }
        store_release(r->cq_head, head);
        /* Completions the queue had no room for wait in the kernel until
         * an enter asks for them. */
        if (!(load_acquire(r->sq_flags) & IORING_SQ_CQ_OVERFLOW))
            break;
        ring_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
    }
    spin_unlock(&r->lock);
}

void io_ring_after_fork(void)
{
    struct io_ring **arr = rings;
    if (!arr)
        return;
    for (uint32_t i = 0; i < rings_len; i++) {
        struct io_ring *r = arr[i];
        if (r && r != RING_NONE) {
            /* The queues were never mapped here (MADV_DONTFORK). */
            sys_close_fd(r->fd);
            sys_close_fd(r->efd);
            sys_munmap(r, sizeof *r);
        }
        arr[i] = NULL;
    }
}

int io_ring_next_own_fd(unsigned from)
{
    long best = -1;
    struct io_ring **all = load_acquire(&rings);
    uint32_t n = all ? load_acquire(&rings_len) : 0;
    for (uint32_t i = 0; i < n; i++) {
        struct io_ring *r = load_acquire(&all[i]);
        if (!r || r == RING_NONE)
            continue;
        int own[2] = { r->fd, r->efd };
        for (int k = 0; k < 2; k++)
            if (own[k] >= 0 && (unsigned)own[k] >= from && (best < 0 || own[k] < best))
                best = own[k];
    }
    return (int)best;
}
