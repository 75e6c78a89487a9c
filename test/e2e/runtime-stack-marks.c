// The stack marks in passes/RuntimeStackMarks.def hold: each libcapri
// entry listed there is called on a painted stack, and the most stack it
// used below the stack pointer at the call (return address included) must
// not exceed the table. capri_yield is measured switching to another
// thread and back: what it pushed before the switch stays on the painted
// stack. A call is measured on each of its paths listed below (parked and
// woken, timed out, waking a parked thread, cancelled while it waits...)
// and the worst counts. Every public entry of capri.h must be in the table
// ("NOT IN TABLE" otherwise) but those RuntimeStackMarks.def leaves out
// because they run the program's callbacks. Run the binary with "print"
// to see the figures.
//
// RUN: %clang -O1 -I%src_root/passes -I%src_root/runtime/include %s -o %t %capri-rt-link -Wl,-z,now
// RUN: %t | FileCheck %s
// RUN: env CAPRI_IO_URING=0 %t | FileCheck %s
// UNSUPPORTED: asan
//
// CHECK-NOT: EXCEEDED
// CHECK-NOT: UNMEASURED
// CHECK-NOT: NOT IN TABLE
// CHECK-NOT: {{failed|did not}}
// CHECK:     checked 135 table entries
#define _GNU_SOURCE
#include <capri.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

unsigned __capri_chunk_depth(void);

static const struct {
  const char *name;
  unsigned long bytes;
} table[] = {
#define CAPRI_RUNTIME_MARK(N, B) {#N, B},
#include "RuntimeStackMarks.def"
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

// run_on(top, fn, a): fn(a) with the stack pointer at `top` when the call
// instruction executes.
__asm__(".text\n"
        ".globl run_on\n"
        ".type run_on,@function\n"
        "run_on:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  mov %rdi, %rsp\n"
        "  mov %rsi, %r11\n"
        "  mov %rdx, %rdi\n"
        "  call *%r11\n"
        "  mov %rbp, %rsp\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size run_on, .-run_on\n");
long run_on(void *top, void *fn, long a);

#define STACK_SIZE (64 * 1024)
static _Alignas(16) unsigned char stack[STACK_SIZE];

static unsigned long measure(void *fn, long a) {
  memset(stack, 0xa5, STACK_SIZE);
  run_on(stack + STACK_SIZE, fn, a);
  size_t i = 0;
  while (i < STACK_SIZE && stack[i] == 0xa5)
    i++;
  return STACK_SIZE - i;
}

// The other thread (same scheduler): yields, and wakes the measured
// thread when it is asked to, so blocking calls are measured blocking.
static volatile int stop, want_post, want_signal, want_pipe_byte, want_drain, want_connect;
static int pfd[2], sp[2], listener, client;
static struct sockaddr_in listen_addr;
static capri_sem_t sem, sem_free;
static capri_mutex_t mu, mu_free;
static capri_cond_t cv;
static int cv_flag;
// A job for the other thread (it takes it after its next yield): it may
// park in a call (park_other) so that the measured call wakes it, or wait
// until the measured thread has parked (after_block) and then wake it.
static void (*volatile other_job)(void);
static volatile int blocking; /* set by a wrapper just before its call parks */
static void *other(void *arg) {
  (void)arg;
  while (!stop) {
    capri_yield();
    void (*job)(void) = other_job;
    if (job) {
      other_job = NULL;
      job();
    }
    if (want_post) {
      want_post = 0;
      capri_sem_post(&sem);
    }
    if (want_pipe_byte) {
      want_pipe_byte = 0;
      if (write(pfd[1], "x", 1) != 1)
        return NULL;
    }
    if (want_drain) { /* until the writer is done */
      static char sink[1 << 16];
      for (int k = 0; k < 64; k++)
        if (recv(sp[1], sink, sizeof sink, MSG_DONTWAIT) <= 0)
          break;
    }
    if (want_connect) {
      want_connect = 0;
      client = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(client, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0)
        return NULL;
    }
    if (want_signal) {
      want_signal = 0;
      capri_mutex_lock(&mu);
      cv_flag = 1;
      capri_cond_signal(&cv);
      capri_mutex_unlock(&mu);
    }
  }
  return NULL;
}
static void *ends(void *arg) { return arg; }

// Wrappers of one argument for run_on (their own frames count too).
static void sem_wait_blocking(long u) {
  (void)u;
  want_post = 1;
  capri_sem_wait(&sem);
}
static void sem_post_free(long u) { (void)u; capri_sem_post(&sem_free); }
static void sleep_short(long u) { (void)u; capri_sleep_ns(1000); }
static void mutex_lock_free(long u) { (void)u; capri_mutex_lock(&mu_free); }
static void mutex_unlock_free(long u) { (void)u; capri_mutex_unlock(&mu_free); }
static void cond_wait_blocking(long u) {
  (void)u;
  capri_mutex_lock(&mu);
  want_signal = 1;
  while (!cv_flag)
    capri_cond_wait(&cv, &mu);
  cv_flag = 0;
  capri_mutex_unlock(&mu);
}
static void cond_signal_none(long u) { (void)u; capri_cond_signal(&cv); }
static capri_t spawned;
static void spawn_one(long u) { (void)u; capri_spawn(&spawned, ends, NULL, NULL); }
static void join_one(long u) { (void)u; capri_join(spawned, NULL); }

static struct capri_pool_stats stats;
static long resource_add_one(long a) { return capri_resource_add(0, a ? a : 1); }
static long resource_limit_one(long a) { return capri_resource_limit(1, a); }
static long resource_count_one(long a) { return capri_resource_count((int)a); }

// The interposed I/O calls, each on its blocking path where it has one:
// the data is not there yet, and the other thread provides it.
static char io_buf[256];
static void file_read_uncached(void);
static void file_readv_uncached(void);
static void evict(void);
static int big_file;
static void read_blocking(long u) {
  (void)u;
  want_pipe_byte = 1;
  if (read(pfd[0], io_buf, 1) != 1)
    printf("read failed\n");
  file_read_uncached();
}
static void readv_blocking(long u) {
  (void)u;
  struct iovec v[2] = {{io_buf, 1}, {io_buf + 1, 1}};
  want_pipe_byte = 1;
  if (readv(pfd[0], v, 2) != 1)
    printf("readv failed\n");
  file_readv_uncached();
}
static void recv_blocking(long u) {
  (void)u;
  want_pipe_byte = 1; /* the pipe stands in: recv is tried on the socket pair */
  if (send(sp[1], "y", 1, 0) != 1 || recv(sp[0], io_buf, 1, 0) != 1)
    printf("recv failed\n");
}
static void recvfrom_once(long u) {
  (void)u;
  if (send(sp[1], "y", 1, 0) != 1 || recvfrom(sp[0], io_buf, 1, 0, NULL, NULL) != 1)
    printf("recvfrom failed\n");
}
static void recvmsg_once(long u) {
  (void)u;
  struct iovec v = {io_buf, 1};
  struct msghdr m = {0};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  if (send(sp[1], "y", 1, 0) != 1 || recvmsg(sp[0], &m, 0) != 1)
    printf("recvmsg failed\n");
}
static char big[1 << 20];
static void write_blocking(long u) {
  (void)u;
  want_drain = 1; /* a megabyte does not fit: the writer parks until drained */
  if (write(sp[0], big, sizeof big) != (ssize_t)sizeof big)
    printf("write failed\n");
  want_drain = 0;
  while (recv(sp[1], big, sizeof big, MSG_DONTWAIT) > 0)
    ;
}
static void writev_blocking(long u) {
  (void)u;
  struct iovec v[3] = {{big, 1000}, {big, sizeof big / 2}, {big, sizeof big / 2}};
  want_drain = 1;
  if (writev(sp[0], v, 3) <= 0)
    printf("writev failed\n");
  want_drain = 0;
  while (recv(sp[1], big, sizeof big, MSG_DONTWAIT) > 0)
    ;
}
static void send_once(long u) { (void)u; if (send(sp[0], "z", 1, 0) != 1) printf("send failed\n"); }
static void sendto_once(long u) { (void)u; if (sendto(sp[0], "z", 1, 0, NULL, 0) != 1) printf("sendto failed\n"); }
static void sendmsg_once(long u) {
  (void)u;
  struct iovec v = {(void *)"z", 1};
  struct msghdr m = {0};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  if (sendmsg(sp[0], &m, 0) != 1)
    printf("sendmsg failed\n");
}
static int accepted;
static void accept_blocking(long u) {
  (void)u;
  want_connect = 1;
  accepted = accept(listener, NULL, NULL);
}
static void accept4_blocking(long u) {
  (void)u;
  want_connect = 1;
  accepted = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}
static int connected;
static void connect_once(long u) {
  (void)u;
  connected = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(connected, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0)
    printf("connect failed\n");
}
static void close_one(long u) { (void)u; close(connected); }
static int made[2];
static void socket_one(long u) { (void)u; made[0] = socket(AF_INET, SOCK_STREAM, 0); }
static void socketpair_one(long u) { (void)u; socketpair(AF_UNIX, SOCK_STREAM, 0, made); }
static void pipe_one(long u) { (void)u; if (pipe(made)) printf("pipe failed\n"); }
static void pipe2_one(long u) { (void)u; if (pipe2(made, O_CLOEXEC)) printf("pipe2 failed\n"); }
static void dup_one(long u) { (void)u; made[0] = dup(pfd[0]); }
static void dup2_one(long u) { (void)u; dup2(pfd[0], made[0]); }
static void dup3_one(long u) { (void)u; dup3(pfd[0], made[0], O_CLOEXEC); }
static void fcntl_one(long u) { (void)u; fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL)); }
static void ioctl_one(long u) {
  (void)u;
  int off = 0;
  ioctl(sp[0], FIONBIO, &off);
}
static void setsockopt_one(long u) {
  (void)u;
  struct timeval tv = {5, 0};
  setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}
static void nanosleep_short(long u) {
  (void)u;
  struct timespec ts = {0, 1000};
  nanosleep(&ts, NULL);
}
static void clock_nanosleep_short(long u) {
  (void)u;
  struct timespec ts = {0, 1000};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}
static void usleep_short(long u) { (void)u; usleep(1); }
static void sleep_zero(long u) { (void)u; sleep(0); }
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __recv_chk(int, void *, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
static void read_chk_blocking(long u) {
  (void)u;
  want_pipe_byte = 1;
  if (__read_chk(pfd[0], io_buf, 1, sizeof io_buf) != 1)
    printf("__read_chk failed\n");
  evict();
  lseek(big_file, 4096, SEEK_SET);
  if (__read_chk(big_file, io_buf, 10, sizeof io_buf) != 10)
    printf("__read_chk of a file failed\n");
}
static void recv_chk_once(long u) {
  (void)u;
  if (send(sp[1], "y", 1, 0) != 1 || __recv_chk(sp[0], io_buf, 1, sizeof io_buf, 0) != 1)
    printf("__recv_chk failed\n");
}
static void recvfrom_chk_once(long u) {
  (void)u;
  if (send(sp[1], "y", 1, 0) != 1 ||
      __recvfrom_chk(sp[0], io_buf, 1, sizeof io_buf, 0, NULL, NULL) != 1)
    printf("__recvfrom_chk failed\n");
}

static int big_file = -1;
// A regular file's pages dropped from the page cache: the next read of
// it parks on the ring (or, with CAPRI_IO_URING=0, the pool; the first
// such read starts the pool's manager thread).
static void evict(void) {
  fdatasync(big_file);
  posix_fadvise(big_file, 0, 0, POSIX_FADV_DONTNEED);
}
static void file_read_uncached(void) {
  evict();
  lseek(big_file, 4096, SEEK_SET);
  if (read(big_file, io_buf, sizeof io_buf) != (ssize_t)sizeof io_buf)
    printf("read of a file failed\n");
}
static void file_readv_uncached(void) {
  struct iovec v[2] = {{io_buf, 100}, {io_buf + 100, 100}};
  evict();
  lseek(big_file, 8192, SEEK_SET);
  if (readv(big_file, v, 2) != 200)
    printf("readv of a file failed\n");
}
ssize_t __pread_chk(int, void *, size_t, off_t, size_t);
ssize_t __pread64_chk(int, void *, size_t, off_t, size_t);
static void pread_uncached(long u) {
  (void)u;
  evict();
  if (pread(big_file, io_buf, sizeof io_buf, 12345) != (ssize_t)sizeof io_buf)
    printf("pread failed\n");
}
static void pread64_uncached(long u) {
  (void)u;
  evict();
  if (pread64(big_file, io_buf, sizeof io_buf, 12345) != (ssize_t)sizeof io_buf)
    printf("pread64 failed\n");
}
static void pread_chk_uncached(long u) {
  (void)u;
  evict();
  if (__pread_chk(big_file, io_buf, 10, 12345, sizeof io_buf) != 10)
    printf("__pread_chk failed\n");
}
static void pread64_chk_uncached(long u) {
  (void)u;
  evict();
  if (__pread64_chk(big_file, io_buf, 10, 12345, sizeof io_buf) != 10)
    printf("__pread64_chk failed\n");
}
static struct iovec file_iov[3] = {{io_buf, 10}, {io_buf + 10, 0}, {io_buf + 10, 90}};
static void preadv_uncached(long u) {
  (void)u;
  evict();
  if (preadv(big_file, file_iov, 3, 99999) != 100)
    printf("preadv failed\n");
}
static void preadv64_uncached(long u) {
  (void)u;
  evict();
  if (preadv64(big_file, file_iov, 3, 99999) != 100)
    printf("preadv64 failed\n");
}
static void preadv2_uncached(long u) {
  (void)u;
  evict();
  if (preadv2(big_file, file_iov, 3, 99999, 0) != 100)
    printf("preadv2 failed\n");
  evict();
  lseek(big_file, 0, SEEK_SET);
  if (preadv2(big_file, file_iov, 3, -1, 0) != 100)
    printf("preadv2 at -1 failed\n");
}
static void preadv64v2_uncached(long u) {
  (void)u;
  evict();
  if (preadv64v2(big_file, file_iov, 3, 99999, 0) != 100)
    printf("preadv64v2 failed\n");
}
static void pwrite_one(long u) { (void)u; if (pwrite(big_file, io_buf, 10, 5) != 10) printf("pwrite failed\n"); }
static void pwrite64_one(long u) { (void)u; if (pwrite64(big_file, io_buf, 10, 5) != 10) printf("pwrite64 failed\n"); }
static void pwritev_one(long u) { (void)u; if (pwritev(big_file, file_iov, 3, 5) != 100) printf("pwritev failed\n"); }
static void pwritev64_one(long u) { (void)u; if (pwritev64(big_file, file_iov, 3, 5) != 100) printf("pwritev64 failed\n"); }
static void pwritev2_one(long u) { (void)u; if (pwritev2(big_file, file_iov, 3, 5, 0) != 100) printf("pwritev2 failed\n"); }
static void pwritev64v2_one(long u) { (void)u; if (pwritev64v2(big_file, file_iov, 3, 5, 0) != 100) printf("pwritev64v2 failed\n"); }
static void sendfile_blocking(long u) {
  (void)u;
  off_t off = 0;
  want_drain = 1;
  if (sendfile(sp[0], big_file, &off, sizeof big) != (ssize_t)sizeof big)
    printf("sendfile failed\n");
  want_drain = 0;
  while (recv(sp[1], big, sizeof big, MSG_DONTWAIT) > 0)
    ;
}
static void sendfile64_once(long u) {
  (void)u;
  off_t off = 0;
  if (sendfile64(sp[0], big_file, &off, 10) != 10)
    printf("sendfile64 failed\n");
  while (recv(sp[1], big, sizeof big, MSG_DONTWAIT) > 0)
    ;
}

// poll and its relatives wait for the pipe byte the other thread writes.
int __poll_chk(struct pollfd *, nfds_t, int, size_t);
int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
static void poll_drain(void) {
  if (read(pfd[0], io_buf, 1) != 1)
    printf("poll: no byte\n");
}
static void poll_blocking(long u) {
  (void)u;
  struct pollfd p = {pfd[0], POLLIN, 0};
  want_pipe_byte = 1;
  if (poll(&p, 1, -1) != 1)
    printf("poll failed\n");
}
static void poll_chk_blocking(long u) {
  (void)u;
  struct pollfd p = {pfd[0], POLLIN, 0};
  want_pipe_byte = 1;
  if (__poll_chk(&p, 1, -1, sizeof p) != 1)
    printf("__poll_chk failed\n");
}
static void ppoll_blocking(long u) {
  (void)u;
  struct pollfd p = {pfd[0], POLLIN, 0};
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  want_pipe_byte = 1;
  if (ppoll(&p, 1, NULL, &mask) != 1)
    printf("ppoll failed\n");
}
static void ppoll_chk_blocking(long u) {
  (void)u;
  struct pollfd p = {pfd[0], POLLIN, 0};
  want_pipe_byte = 1;
  if (__ppoll_chk(&p, 1, NULL, NULL, sizeof p) != 1)
    printf("__ppoll_chk failed\n");
}
static void select_blocking(long u) {
  (void)u;
  fd_set r;
  FD_ZERO(&r);
  FD_SET(pfd[0], &r);
  want_pipe_byte = 1;
  if (select(pfd[0] + 1, &r, NULL, NULL, NULL) != 1)
    printf("select failed\n");
}
static void pselect_blocking(long u) {
  (void)u;
  fd_set r;
  FD_ZERO(&r);
  FD_SET(pfd[0], &r);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  want_pipe_byte = 1;
  if (pselect(pfd[0] + 1, &r, NULL, NULL, NULL, &mask) != 1)
    printf("pselect failed\n");
}
static void fd_wait_blocking(long u) {
  (void)u;
  want_pipe_byte = 1;
  if (capri_fd_wait(pfd[0], CAPRI_FD_READ, -1) != CAPRI_FD_READ)
    printf("capri_fd_wait failed\n");
}

// The calls that make descriptors libcapri only records (each made one is
// closed after the measurement).
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
static int opened = -1;
static char open_path[64];
static void open_one(long u) { (void)u; opened = open(open_path, O_RDONLY); }
static void open64_one(long u) { (void)u; opened = open64(open_path, O_RDONLY); }
static void openat_one(long u) { (void)u; opened = openat(AT_FDCWD, open_path, O_RDONLY); }
static void openat64_one(long u) { (void)u; opened = openat64(AT_FDCWD, open_path, O_RDONLY); }
static void open_2_one(long u) { (void)u; opened = __open_2(open_path, O_RDONLY); }
static void open64_2_one(long u) { (void)u; opened = __open64_2(open_path, O_RDONLY); }
static void openat_2_one(long u) { (void)u; opened = __openat_2(AT_FDCWD, open_path, O_RDONLY); }
static void openat64_2_one(long u) { (void)u; opened = __openat64_2(AT_FDCWD, open_path, O_RDONLY); }
static char creat_path[64];
static void creat_one(long u) { (void)u; opened = creat(creat_path, 0600); }
static void creat64_one(long u) { (void)u; opened = creat64(creat_path, 0600); }
static void eventfd_one(long u) { (void)u; opened = eventfd(0, 0); }
static void timerfd_one(long u) { (void)u; opened = timerfd_create(CLOCK_MONOTONIC, 0); }
static void signalfd_one(long u) {
  (void)u;
  sigset_t none;
  sigemptyset(&none);
  opened = signalfd(-1, &none, 0);
}
static void epoll_create_one(long u) { (void)u; opened = epoll_create(1); }
static void epoll_create1_one(long u) { (void)u; opened = epoll_create1(0); }
static void memfd_one(long u) { (void)u; opened = memfd_create("marks", 0); }
static unsigned long measure_open(void *fn) {
  unsigned long used = measure(fn, 0);
  if (opened < 0)
    printf("open-family call failed\n");
  close(opened);
  opened = -1;
  return used;
}

// The byte a poll saw is read after the measurement, so the next poll
// waits again.
static unsigned long measure_poll(void *fn) {
  unsigned long used = measure(fn, 0);
  poll_drain();
  return used;
}

static int io_setup(void) {
  char name[] = "/tmp/capri-marks-XXXXXX";
  big_file = mkstemp(name);
  if (big_file < 0 || write(big_file, big, sizeof big) != (ssize_t)sizeof big)
    return 1;
  /* (the open family opens it by name: unlinked at the end) */
  snprintf(open_path, sizeof open_path, "%s", name);
  snprintf(creat_path, sizeof creat_path, "%s.creat", name);
  if (pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
    return 1;
  listener = socket(AF_INET, SOCK_STREAM, 0);
  listen_addr.sin_family = AF_INET;
  listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof listen_addr;
  if (bind(listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) ||
      getsockname(listener, (struct sockaddr *)&listen_addr, &len) || listen(listener, 16))
    return 1;
  return 0;
}

void *__capri_vla_take(uint64_t size, uint64_t align, void **head, uintptr_t sp);
void __capri_vla_release(void **head, uintptr_t sp);
static void *vla_head;
static void vla_take(long unused) { (void)unused; __capri_vla_take(100000, 64, &vla_head, 1000); }
static void vla_release(long unused) { (void)unused; __capri_vla_release(&vla_head, ~(uintptr_t)0); }

// ---- The rest of the public API (capri.h) ----------------------------
// Each blocking call is measured parked and woken (by the other thread, a
// timer or a hand-off), timing out where it has a timeout, and, where it is
// a cancellation point, cancelled while parked (the thread then ends on the
// painted stack: its cleanup handlers, key destructors and exit, with no
// handler of its own). The worst figure of an entry's paths counts.
static struct {
  const char *name;
  unsigned long used;
} seen[256];
static unsigned n_seen;
static void note(const char *name, unsigned long used) {
  for (unsigned i = 0; i < n_seen; i++)
    if (strcmp(seen[i].name, name) == 0) {
      if (used > seen[i].used)
        seen[i].used = used;
      return;
    }
  if (n_seen < sizeof seen / sizeof seen[0]) {
    seen[n_seen].name = name;
    seen[n_seen++].used = used;
  }
}

// The other thread parks in `job` (it runs until it parks before this
// thread runs again: one scheduler, FIFO).
static void park_other(void (*job)(void)) {
  other_job = job;
  while (other_job)
    capri_yield();
  capri_yield();
}
// In a job: wait until the measured call has parked.
static void after_block(void) {
  while (!blocking)
    capri_yield();
  blocking = 0;
}
// A job that holds something until told (held: 1 while it does).
static volatile int held, let_go;
static void hold_until_let_go(void) {
  held = 1;
  while (!let_go)
    capri_yield();
  let_go = 0;
}
static void start_holder(void (*job)(void)) {
  held = 0;
  blocking = 0;
  other_job = job;
  while (!held)
    capri_yield();
}
static void stop_holder(void) {
  let_go = 1;
  while (held)
    capri_yield();
}

static struct timespec soon, far; /* CLOCK_REALTIME: 200 us, an hour ahead */
static void set_deadlines(void) {
  clock_gettime(CLOCK_REALTIME, &soon);
  far = soon;
  far.tv_sec += 3600;
  soon.tv_nsec += 200000;
  if (soon.tv_nsec >= 1000000000) {
    soon.tv_nsec -= 1000000000;
    soon.tv_sec++;
  }
}
static unsigned long measure_timed(void *fn, long a) {
  set_deadlines();
  return measure(fn, a);
}

// Mutexes.
static capri_mutex_t mu_tmp, mu_held;
static void mutex_init_one(long u) { (void)u; capri_mutex_init(&mu_tmp); }
static void mutex_destroy_one(long u) { (void)u; capri_mutex_destroy(&mu_tmp); }
static void mutex_trylock_one(long u) { (void)u; capri_mutex_trylock(&mu_held); }
static void mutex_lock_blocking(long u) {
  (void)u;
  blocking = 1;
  capri_mutex_lock(&mu_held);
}
static void mutex_timedlock_blocking(long u) {
  (void)u;
  blocking = (int)u; /* 1: the holder lets go once this parks */
  if (capri_mutex_timedlock(&mu_held, u ? &far : &soon) != (u ? 0 : ETIMEDOUT))
    printf("capri_mutex_timedlock failed\n");
}
static void mutex_unlock_one(long u) { (void)u; capri_mutex_unlock(&mu_held); }
static void job_hold_mutex(void) {
  capri_mutex_lock(&mu_held);
  hold_until_let_go();
  capri_mutex_unlock(&mu_held);
  held = 0;
}
static void job_hold_mutex_until_blocked(void) {
  capri_mutex_lock(&mu_held);
  held = 1;
  after_block();
  capri_mutex_unlock(&mu_held);
  held = 0;
}
static void job_lock_mutex(void) {
  capri_mutex_lock(&mu_held);
  capri_mutex_unlock(&mu_held);
}

// Condition variables (mu is held around each measurement).
static capri_cond_t cv_tmp, cv_other;
static int cv_other_flag;
static void cond_init_one(long u) { (void)u; capri_cond_init(&cv_tmp); }
static void cond_destroy_one(long u) { (void)u; capri_cond_destroy(&cv_tmp); }
static void cond_timedwait_timeout(long u) {
  (void)u;
  if (capri_cond_timedwait(&cv, &mu, &soon) != ETIMEDOUT)
    printf("capri_cond_timedwait did not time out\n");
}
static void cond_timedwait_signaled(long u) {
  (void)u;
  want_signal = 1;
  while (!cv_flag)
    if (capri_cond_timedwait(&cv, &mu, &far) != 0)
      printf("capri_cond_timedwait failed\n");
  cv_flag = 0;
}
static void job_cond_wait(void) {
  capri_mutex_lock(&mu);
  while (!cv_other_flag)
    capri_cond_wait(&cv_other, &mu);
  cv_other_flag = 0;
  capri_mutex_unlock(&mu);
}
static void cond_broadcast_one(long u) { (void)u; capri_cond_broadcast(&cv_other); }
static void cond_signal_one(long u) { (void)u; capri_cond_signal(&cv_other); }

// Read-write locks.
static capri_rwlock_t rw, rw_tmp;
static void rwlock_init_one(long u) { (void)u; capri_rwlock_init(&rw_tmp); }
static void rwlock_destroy_one(long u) { (void)u; capri_rwlock_destroy(&rw_tmp); }
static void rwlock_rdlock_blocking(long u) {
  (void)u;
  blocking = 1;
  capri_rwlock_rdlock(&rw);
}
static void rwlock_wrlock_blocking(long u) {
  (void)u;
  blocking = 1;
  capri_rwlock_wrlock(&rw);
}
static void rwlock_timedrdlock_timeout(long u) {
  (void)u;
  if (capri_rwlock_timedrdlock(&rw, &soon) != ETIMEDOUT)
    printf("capri_rwlock_timedrdlock did not time out\n");
}
static void rwlock_timedwrlock_timeout(long u) {
  (void)u;
  if (capri_rwlock_timedwrlock(&rw, &soon) != ETIMEDOUT)
    printf("capri_rwlock_timedwrlock did not time out\n");
}
static void rwlock_timedrdlock_blocking(long u) {
  (void)u;
  blocking = 1;
  if (capri_rwlock_timedrdlock(&rw, &far) != 0)
    printf("capri_rwlock_timedrdlock failed\n");
}
static void rwlock_timedwrlock_blocking(long u) {
  (void)u;
  blocking = 1;
  if (capri_rwlock_timedwrlock(&rw, &far) != 0)
    printf("capri_rwlock_timedwrlock failed\n");
}
static void rwlock_tryrdlock_one(long u) { (void)u; capri_rwlock_tryrdlock(&rw); }
static void rwlock_trywrlock_one(long u) { (void)u; capri_rwlock_trywrlock(&rw); }
static void rwlock_unlock_one(long u) { (void)u; capri_rwlock_unlock(&rw); }
static void job_hold_write(void) {
  capri_rwlock_wrlock(&rw);
  hold_until_let_go();
  capri_rwlock_unlock(&rw);
  held = 0;
}
static void job_hold_read(void) {
  capri_rwlock_rdlock(&rw);
  hold_until_let_go();
  capri_rwlock_unlock(&rw);
  held = 0;
}
static void job_write_until_blocked(void) {
  capri_rwlock_wrlock(&rw);
  held = 1;
  after_block();
  capri_rwlock_unlock(&rw);
  held = 0;
}
static void job_read_until_blocked(void) {
  capri_rwlock_rdlock(&rw);
  held = 1;
  after_block();
  capri_rwlock_unlock(&rw);
  held = 0;
}
static void job_rdlock(void) {
  capri_rwlock_rdlock(&rw);
  capri_rwlock_unlock(&rw);
}
static void job_wrlock(void) {
  capri_rwlock_wrlock(&rw);
  capri_rwlock_unlock(&rw);
}

// Semaphores.
static capri_sem_t sem_tmp, sem_other;
static int sem_value;
static void sem_init_one(long u) { (void)u; capri_sem_init(&sem_tmp, 1); }
static void sem_destroy_one(long u) { (void)u; capri_sem_destroy(&sem_tmp); }
static void sem_trywait_one(long u) { (void)u; capri_sem_trywait(&sem_tmp); }
static void sem_getvalue_one(long u) { (void)u; capri_sem_getvalue(&sem_tmp, &sem_value); }
static void sem_timedwait_timeout(long u) {
  (void)u;
  if (capri_sem_timedwait(&sem, &soon) != ETIMEDOUT)
    printf("capri_sem_timedwait did not time out\n");
}
static void sem_timedwait_blocking(long u) {
  (void)u;
  want_post = 1;
  if (capri_sem_timedwait(&sem, &far) != 0)
    printf("capri_sem_timedwait failed\n");
}
static void job_sem_wait(void) { capri_sem_wait(&sem_other); }
static void sem_post_waiter(long u) { (void)u; capri_sem_post(&sem_other); }
static void sleep_until_soon(long u) { (void)u; capri_sleep_until(&soon); }

// capri_once: a waiter while another thread runs the initialiser, and the
// caller that runs it (an initialiser that does nothing).
static capri_once_t once_wait = CAPRI_ONCE_INIT, once_run = CAPRI_ONCE_INIT;
static volatile int once_running;
static void init_slow(void) {
  once_running = 1;
  after_block();
  once_running = 0;
}
static void init_quick(void) {}
static void job_once(void) { capri_once(&once_wait, init_slow); }
static void once_waiting(long u) {
  (void)u;
  blocking = 1;
  capri_once(&once_wait, init_slow);
}
static void once_running_init(long u) { (void)u; capri_once(&once_run, init_quick); }

// Barriers of two: this thread waits for the other, or arrives last.
static capri_barrier_t bar, bar_tmp;
static void barrier_init_one(long u) { (void)u; capri_barrier_init(&bar_tmp, 2); }
static void barrier_destroy_one(long u) { (void)u; capri_barrier_destroy(&bar_tmp); }
static void barrier_wait_one(long u) {
  (void)u;
  blocking = 1;
  capri_barrier_wait(&bar);
  blocking = 0;
}
static void job_barrier_after(void) {
  after_block();
  capri_barrier_wait(&bar);
}
static void job_barrier(void) { capri_barrier_wait(&bar); }

// Channels: a rendezvous channel (every send and recv parks or wakes the
// other side) and a buffered one.
static capri_chan_t ch, ch_tmp;
static long ch_elem = 7;
static void chan_create_one(long u) { (void)u; capri_chan_create(&ch_tmp, sizeof(long), (size_t)u); }
static void chan_destroy_one(long u) { (void)u; capri_chan_destroy(ch_tmp); }
static void chan_close_one(long u) { (void)u; capri_chan_close(ch_tmp); }
static void chan_send_blocking(long u) {
  (void)u;
  blocking = 1;
  if (capri_chan_send(ch, &ch_elem) != 0)
    printf("capri_chan_send failed\n");
}
static void chan_recv_blocking(long u) {
  (void)u;
  long v;
  blocking = 1;
  if (capri_chan_recv(ch, &v) != 0)
    printf("capri_chan_recv failed\n");
}
static void chan_send_timed_blocking(long u) {
  (void)u;
  blocking = 1;
  if (capri_chan_send_timed(ch, &ch_elem, u ? 200000 : 3600000000000ull) != (u ? ETIMEDOUT : 0))
    printf("capri_chan_send_timed failed\n");
}
static void chan_recv_timed_blocking(long u) {
  long v;
  blocking = 1;
  if (capri_chan_recv_timed(ch, &v, u ? 200000 : 3600000000000ull) != (u ? ETIMEDOUT : 0))
    printf("capri_chan_recv_timed failed\n");
}
static void job_chan_send_after(void) {
  after_block();
  capri_chan_send(ch, &ch_elem);
}
static void job_chan_recv_after(void) {
  long v;
  after_block();
  capri_chan_recv(ch, &v);
}
static void job_chan_send(void) { capri_chan_send(ch, &ch_elem); }
static void job_chan_recv(void) {
  long v;
  capri_chan_recv(ch, &v);
}
static void job_chan_recv_tmp(void) {
  long v;
  if (capri_chan_recv(ch_tmp, &v) != EPIPE)
    printf("capri_chan_recv on a closed channel did not fail\n");
}

// Threads, names, cancellation, keys, configuration, statistics.
static capri_t detachee, other_handle;
static char name_buf[16];
static struct capri_pool_dense_stats dense_stats;
static struct capri_io_stats io_stats;
static capri_key_t key0, key_grow;
static int old_state;
static struct capri_cleanup cleanup_frame;
static void handler(void *arg) { (void)arg; }
static void destructor(void *arg) { (void)arg; }
static void detach_exited(long u) { (void)u; capri_detach(detachee); }
static void setname_first(long u) { (void)u; capri_setname(other_handle, "the other one"); }
static void getname_one(long u) { (void)u; capri_getname(other_handle, name_buf, sizeof name_buf); }
static void setcancelstate_one(long u) {
  (void)u;
  capri_setcancelstate(CAPRI_CANCEL_DISABLE, &old_state);
}
static void testcancel_none(long u) { (void)u; capri_testcancel(); }
static void cleanup_push_one(long u) { (void)u; capri_cleanup_push_(&cleanup_frame, handler, NULL); }
static void cleanup_pop_one(long u) { (void)u; capri_cleanup_pop_(&cleanup_frame, 1); }
static void key_create_one(long u) { (void)u; capri_key_create(&key0, destructor); }
static void key_delete_one(long u) { (void)u; capri_key_delete(key0); }
static void setspecific_first(long u) { (void)u; capri_setspecific(key0, &key0); }
static void setspecific_grow(long u) { (void)u; capri_setspecific(key_grow, &key0); }
static void getspecific_one(long u) { (void)u; (void)capri_getspecific(key0); }
static void config_running(long u) { (void)u; capri_config(CAPRI_CONFIG_STACK_SIZE, 65536); }
static int config_rc = -1;
static void config_first(long u) { (void)u; config_rc = capri_config(CAPRI_CONFIG_SCHEDULERS, 1); }
static void dense_stats_one(long u) { (void)u; capri_pool_dense_stats(&dense_stats); }
static void io_stats_one(long u) { (void)u; capri_io_stats(&io_stats); }

// A victim thread runs fn on a second painted stack; it is cancelled once
// it is parked (or runs to its end: capri_exit), and joined.
#define STACK2_SIZE (64 * 1024)
static _Alignas(16) unsigned char stack2[STACK2_SIZE];
static void (*victim_fn)(long);
static volatile int victim_in;
static capri_t victim;
static int victim_keys; /* a key value and a cleanup handler to run */
static void *victim_body(void *arg) {
  (void)arg;
  if (victim_keys) {
    capri_key_t k;
    capri_key_create(&k, destructor);
    capri_setspecific(k, &k);
    capri_cleanup_push_(&cleanup_frame, handler, NULL);
  }
  run_on(stack2 + STACK2_SIZE, (void *)victim_fn, 0);
  return NULL;
}
static void cancel_victim(long u) { (void)u; capri_cancel(victim); }
static unsigned long measure_victim(void (*fn)(long), int cancel) {
  memset(stack2, 0xa5, STACK2_SIZE);
  victim_fn = fn;
  victim_in = 0;
  void *res = NULL;
  if (capri_spawn(&victim, victim_body, NULL, NULL))
    printf("victim spawn failed\n");
  if (cancel) {
    while (!victim_in)
      capri_yield();
    note("capri_cancel", measure((void *)cancel_victim, 0));
  }
  if (capri_join(victim, &res) || res != CAPRI_CANCELED)
    printf("victim did not end cancelled\n");
  size_t i = 0;
  while (i < STACK2_SIZE && stack2[i] == 0xa5)
    i++;
  return STACK2_SIZE - i;
}
static capri_mutex_t mu_victim;
static capri_cond_t cv_victim;
static capri_sem_t sem_victim;
static capri_chan_t ch_victim;
static capri_t sleeper;
static void *sleeper_body(void *arg) {
  capri_sem_wait(&sem_victim);
  return arg;
}
static void v_yield(long u) {
  (void)u;
  for (;;) {
    victim_in = 1;
    capri_yield();
  }
}
static void v_testcancel(long u) {
  (void)u;
  for (;;) {
    victim_in = 1;
    capri_testcancel();
    capri_yield();
  }
}
static void v_exit(long u) { (void)u; capri_exit(CAPRI_CANCELED); }
static void v_sem_wait(long u) { (void)u; victim_in = 1; capri_sem_wait(&sem_victim); }
static void v_sem_timedwait(long u) { (void)u; victim_in = 1; capri_sem_timedwait(&sem_victim, &far); }
static void v_cond_wait(long u) {
  (void)u;
  capri_mutex_lock(&mu_victim);
  victim_in = 1;
  capri_cond_wait(&cv_victim, &mu_victim);
}
static void v_cond_timedwait(long u) {
  (void)u;
  capri_mutex_lock(&mu_victim);
  victim_in = 1;
  capri_cond_timedwait(&cv_victim, &mu_victim, &far);
}
static void v_sleep_ns(long u) { (void)u; victim_in = 1; capri_sleep_ns(3600000000000ull); }
static void v_sleep_until(long u) { (void)u; victim_in = 1; capri_sleep_until(&far); }
static void v_join(long u) { (void)u; victim_in = 1; capri_join(sleeper, NULL); }
static void v_chan_send(long u) { (void)u; victim_in = 1; capri_chan_send(ch_victim, &ch_elem); }
static void v_chan_recv(long u) {
  (void)u;
  long v;
  victim_in = 1;
  capri_chan_recv(ch_victim, &v);
}
static void v_chan_send_timed(long u) {
  (void)u;
  victim_in = 1;
  capri_chan_send_timed(ch_victim, &ch_elem, 3600000000000ull);
}
static void v_chan_recv_timed(long u) {
  (void)u;
  long v;
  victim_in = 1;
  capri_chan_recv_timed(ch_victim, &v, 3600000000000ull);
}

static void measure_api(void) {
  // Mutexes: free, contended (handed over when the holder unlocks, or
  // timing out), unlocked with a waiter.
  note("capri_mutex_init", measure((void *)mutex_init_one, 0));
  note("capri_mutex_destroy", measure((void *)mutex_destroy_one, 0));
  note("capri_mutex_trylock", measure((void *)mutex_trylock_one, 0));
  capri_mutex_unlock(&mu_held);
  start_holder(job_hold_mutex);
  note("capri_mutex_trylock", measure((void *)mutex_trylock_one, 0));
  note("capri_mutex_timedlock", measure_timed((void *)mutex_timedlock_blocking, 0));
  stop_holder();
  start_holder(job_hold_mutex_until_blocked);
  note("capri_mutex_lock", measure((void *)mutex_lock_blocking, 0));
  capri_mutex_unlock(&mu_held);
  start_holder(job_hold_mutex_until_blocked);
  note("capri_mutex_timedlock", measure_timed((void *)mutex_timedlock_blocking, 1));
  capri_mutex_unlock(&mu_held); /* handed over */
  capri_mutex_lock(&mu_held);
  park_other(job_lock_mutex);
  note("capri_mutex_unlock", measure((void *)mutex_unlock_one, 0));
  capri_yield();

  // Condition variables: a timed wait that times out and one that is
  // signalled; signal and broadcast with a waiter.
  note("capri_cond_init", measure((void *)cond_init_one, 0));
  note("capri_cond_destroy", measure((void *)cond_destroy_one, 0));
  capri_mutex_lock(&mu);
  note("capri_cond_timedwait", measure_timed((void *)cond_timedwait_timeout, 0));
  note("capri_cond_timedwait", measure_timed((void *)cond_timedwait_signaled, 0));
  capri_mutex_unlock(&mu);
  park_other(job_cond_wait);
  cv_other_flag = 1;
  note("capri_cond_broadcast", measure((void *)cond_broadcast_one, 0));
  capri_yield();
  park_other(job_cond_wait);
  cv_other_flag = 1;
  note("capri_cond_signal", measure((void *)cond_signal_one, 0));
  capri_yield();
  note("capri_cond_broadcast", measure((void *)cond_broadcast_one, 0));

  // Read-write locks: each lock blocked by the other kind (handed over, or
  // timing out), the try locks free and refused, unlock with waiters.
  note("capri_rwlock_init", measure((void *)rwlock_init_one, 0));
  note("capri_rwlock_destroy", measure((void *)rwlock_destroy_one, 0));
  note("capri_rwlock_tryrdlock", measure((void *)rwlock_tryrdlock_one, 0));
  capri_rwlock_unlock(&rw);
  note("capri_rwlock_trywrlock", measure((void *)rwlock_trywrlock_one, 0));
  capri_rwlock_unlock(&rw);
  start_holder(job_hold_write);
  note("capri_rwlock_tryrdlock", measure((void *)rwlock_tryrdlock_one, 0));
  note("capri_rwlock_trywrlock", measure((void *)rwlock_trywrlock_one, 0));
  note("capri_rwlock_timedrdlock", measure_timed((void *)rwlock_timedrdlock_timeout, 0));
  note("capri_rwlock_timedwrlock", measure_timed((void *)rwlock_timedwrlock_timeout, 0));
  stop_holder();
  start_holder(job_hold_read);
  note("capri_rwlock_timedwrlock", measure_timed((void *)rwlock_timedwrlock_timeout, 0));
  stop_holder();
  start_holder(job_write_until_blocked);
  note("capri_rwlock_rdlock", measure((void *)rwlock_rdlock_blocking, 0));
  capri_rwlock_unlock(&rw);
  start_holder(job_write_until_blocked);
  note("capri_rwlock_timedrdlock", measure_timed((void *)rwlock_timedrdlock_blocking, 0));
  capri_rwlock_unlock(&rw);
  start_holder(job_read_until_blocked);
  note("capri_rwlock_wrlock", measure((void *)rwlock_wrlock_blocking, 0));
  capri_rwlock_unlock(&rw);
  start_holder(job_read_until_blocked);
  note("capri_rwlock_timedwrlock", measure_timed((void *)rwlock_timedwrlock_blocking, 0));
  capri_rwlock_unlock(&rw);
  capri_rwlock_wrlock(&rw);
  park_other(job_rdlock);
  note("capri_rwlock_unlock", measure((void *)rwlock_unlock_one, 0));
  capri_yield();
  capri_rwlock_rdlock(&rw);
  park_other(job_wrlock);
  note("capri_rwlock_unlock", measure((void *)rwlock_unlock_one, 0));
  capri_yield();

  // Semaphores: timed waits timing out and posted, a post with a waiter.
  note("capri_sem_init", measure((void *)sem_init_one, 0));
  note("capri_sem_getvalue", measure((void *)sem_getvalue_one, 0));
  note("capri_sem_trywait", measure((void *)sem_trywait_one, 0));
  note("capri_sem_trywait", measure((void *)sem_trywait_one, 0));
  note("capri_sem_destroy", measure((void *)sem_destroy_one, 0));
  note("capri_sem_timedwait", measure_timed((void *)sem_timedwait_timeout, 0));
  note("capri_sem_timedwait", measure_timed((void *)sem_timedwait_blocking, 0));
  park_other(job_sem_wait);
  note("capri_sem_post", measure((void *)sem_post_waiter, 0));
  capri_yield();
  note("capri_sleep_until", measure_timed((void *)sleep_until_soon, 0));

  // capri_once, barriers.
  other_job = job_once;
  while (!once_running)
    capri_yield();
  note("capri_once", measure((void *)once_waiting, 0));
  note("capri_once", measure((void *)once_running_init, 0));
  note("capri_once", measure((void *)once_running_init, 0));
  note("capri_barrier_init", measure((void *)barrier_init_one, 0));
  note("capri_barrier_destroy", measure((void *)barrier_destroy_one, 0));
  capri_barrier_init(&bar, 2);
  other_job = job_barrier_after;
  note("capri_barrier_wait", measure((void *)barrier_wait_one, 0));
  park_other(job_barrier);
  note("capri_barrier_wait", measure((void *)barrier_wait_one, 0));
  capri_yield();

  // Channels: each call parks and is woken, or wakes a parked peer; the
  // timed ones also time out; close wakes a parked receiver.
  note("capri_chan_create", measure((void *)chan_create_one, 16));
  note("capri_chan_destroy", measure((void *)chan_destroy_one, 0));
  /* (a buffer malloc maps, and unmaps when it is freed) */
  note("capri_chan_create", measure((void *)chan_create_one, 1 << 17));
  note("capri_chan_destroy", measure((void *)chan_destroy_one, 0));
  capri_chan_create(&ch, sizeof(long), 0);
  other_job = job_chan_send_after;
  note("capri_chan_recv", measure((void *)chan_recv_blocking, 0));
  other_job = job_chan_recv_after;
  note("capri_chan_send", measure((void *)chan_send_blocking, 0));
  other_job = job_chan_send_after;
  note("capri_chan_recv_timed", measure((void *)chan_recv_timed_blocking, 0));
  other_job = job_chan_recv_after;
  note("capri_chan_send_timed", measure((void *)chan_send_timed_blocking, 0));
  park_other(job_chan_send);
  note("capri_chan_recv", measure((void *)chan_recv_blocking, 0));
  park_other(job_chan_recv);
  note("capri_chan_send", measure((void *)chan_send_blocking, 0));
  park_other(job_chan_send);
  note("capri_chan_recv_timed", measure((void *)chan_recv_timed_blocking, 0));
  park_other(job_chan_recv);
  note("capri_chan_send_timed", measure((void *)chan_send_timed_blocking, 0));
  blocking = 0;
  note("capri_chan_recv_timed", measure((void *)chan_recv_timed_blocking, 1));
  note("capri_chan_send_timed", measure((void *)chan_send_timed_blocking, 1));
  blocking = 0;
  capri_chan_create(&ch_tmp, sizeof(long), 0);
  park_other(job_chan_recv_tmp);
  note("capri_chan_close", measure((void *)chan_close_one, 0));
  capri_yield();
  capri_chan_destroy(ch_tmp);

  // Threads and the rest.
  if (capri_spawn(&detachee, ends, NULL, NULL))
    printf("spawn failed\n");
  for (int i = 0; i < 4; i++)
    capri_yield(); /* it has run and ended */
  note("capri_detach", measure((void *)detach_exited, 0));
  note("capri_setname", measure((void *)setname_first, 0));
  note("capri_setname", measure((void *)setname_first, 0));
  note("capri_getname", measure((void *)getname_one, 0));
  note("capri_setcancelstate", measure((void *)setcancelstate_one, 0));
  capri_setcancelstate(CAPRI_CANCEL_ENABLE, NULL);
  note("capri_testcancel", measure((void *)testcancel_none, 0));
  note("capri_cleanup_push_", measure((void *)cleanup_push_one, 0));
  note("capri_cleanup_pop_", measure((void *)cleanup_pop_one, 0));
  note("capri_key_create", measure((void *)key_create_one, 0));
  note("capri_setspecific", measure((void *)setspecific_first, 0));
  for (int i = 0; i < 8; i++)
    capri_key_create(&key_grow, NULL); /* past the first table's 8 slots */
  note("capri_setspecific", measure((void *)setspecific_grow, 0));
  note("capri_getspecific", measure((void *)getspecific_one, 0));
  note("capri_key_delete", measure((void *)key_delete_one, 0));
  note("capri_config", measure((void *)config_running, 0));
  note("capri_pool_dense_stats", measure((void *)dense_stats_one, 0));
  note("capri_io_stats", measure((void *)io_stats_one, 0));

  // Ending a thread: capri_exit (a cleanup handler and a key destructor
  // to run), and each cancellation point cancelled while it waits.
  victim_keys = 1;
  note("capri_exit", measure_victim(v_exit, 0));
  victim_keys = 0;
  note("capri_yield", measure_victim(v_yield, 1));
  note("capri_testcancel", measure_victim(v_testcancel, 1));
  note("capri_sem_wait", measure_victim(v_sem_wait, 1));
  note("capri_sem_timedwait", measure_victim(v_sem_timedwait, 1));
  set_deadlines();
  note("capri_cond_wait", measure_victim(v_cond_wait, 1));
  capri_mutex_init(&mu_victim); /* the cancelled waiter ended holding it */
  note("capri_cond_timedwait", measure_victim(v_cond_timedwait, 1));
  capri_mutex_init(&mu_victim);
  note("capri_sleep_ns", measure_victim(v_sleep_ns, 1));
  note("capri_sleep_until", measure_victim(v_sleep_until, 1));
  if (capri_spawn(&sleeper, sleeper_body, NULL, NULL))
    printf("spawn failed\n");
  note("capri_join", measure_victim(v_join, 1));
  capri_sem_post(&sem_victim);
  capri_join(sleeper, NULL);
  capri_chan_create(&ch_victim, sizeof(long), 0);
  note("capri_chan_send", measure_victim(v_chan_send, 1));
  note("capri_chan_recv", measure_victim(v_chan_recv, 1));
  note("capri_chan_send_timed", measure_victim(v_chan_send_timed, 1));
  note("capri_chan_recv_timed", measure_victim(v_chan_recv_timed, 1));
}

int main(int argc, char **argv) {
  int print = argc > 1 && strcmp(argv[1], "print") == 0;
  unsigned long config_before_start = measure((void *)config_first, 0);
  if (config_rc != 0)
    return 1;
  capri_t t;
  if (capri_spawn(&t, other, NULL, NULL) || io_setup())
    return 1;
  other_handle = t;
  struct {
    const char *name;
    unsigned long used;
  } got[] = {
      {"__capri_chunk_depth", measure((void *)__capri_chunk_depth, 0)},
      {"capri_self", measure((void *)capri_self, 0)},
      {"capri_yield", measure((void *)capri_yield, 0)},
      {"capri_pool_stats", measure((void *)capri_pool_stats, (long)&stats)},
      {"capri_resource_add", measure((void *)resource_add_one, 0)},
      {"capri_resource_limit", measure((void *)resource_limit_one, 100)},
      {"capri_resource_count", measure((void *)resource_count_one, 4)},
      /* (malloc's first mmap-sized block, and its free) */
      {"__capri_vla_take", measure((void *)vla_take, 0)},
      {"__capri_vla_release", measure((void *)vla_release, 0)},
      {"capri_sem_wait", measure((void *)sem_wait_blocking, 0)},
      {"capri_sem_post", measure((void *)sem_post_free, 0)},
      {"capri_sleep_ns", measure((void *)sleep_short, 0)},
      {"capri_mutex_lock", measure((void *)mutex_lock_free, 0)},
      {"capri_mutex_unlock", measure((void *)mutex_unlock_free, 0)},
      {"capri_cond_wait", measure((void *)cond_wait_blocking, 0)},
      {"capri_cond_signal", measure((void *)cond_signal_none, 0)},
      {"capri_spawn", measure((void *)spawn_one, 0)},
      {"capri_join", measure((void *)join_one, 0)},
      {"read", measure((void *)read_blocking, 0)},
      {"readv", measure((void *)readv_blocking, 0)},
      {"recv", measure((void *)recv_blocking, 0)},
      {"recvfrom", measure((void *)recvfrom_once, 0)},
      {"recvmsg", measure((void *)recvmsg_once, 0)},
      {"write", measure((void *)write_blocking, 0)},
      {"writev", measure((void *)writev_blocking, 0)},
      {"send", measure((void *)send_once, 0)},
      {"sendto", measure((void *)sendto_once, 0)},
      {"sendmsg", measure((void *)sendmsg_once, 0)},
      {"accept", measure((void *)accept_blocking, 0)},
      {"accept4", measure((void *)accept4_blocking, 0)},
      {"connect", measure((void *)connect_once, 0)},
      {"close", measure((void *)close_one, 0)},
      {"socket", measure((void *)socket_one, 0)},
      {"socketpair", measure((void *)socketpair_one, 0)},
      {"pipe", measure((void *)pipe_one, 0)},
      {"pipe2", measure((void *)pipe2_one, 0)},
      {"dup", measure((void *)dup_one, 0)},
      {"dup2", measure((void *)dup2_one, 0)},
      {"dup3", measure((void *)dup3_one, 0)},
      {"fcntl", measure((void *)fcntl_one, 0)},
      {"ioctl", measure((void *)ioctl_one, 0)},
      {"setsockopt", measure((void *)setsockopt_one, 0)},
      {"nanosleep", measure((void *)nanosleep_short, 0)},
      {"clock_nanosleep", measure((void *)clock_nanosleep_short, 0)},
      {"usleep", measure((void *)usleep_short, 0)},
      {"sleep", measure((void *)sleep_zero, 0)},
      {"__read_chk", measure((void *)read_chk_blocking, 0)},
      {"__recv_chk", measure((void *)recv_chk_once, 0)},
      {"__recvfrom_chk", measure((void *)recvfrom_chk_once, 0)},
      {"sendfile", measure((void *)sendfile_blocking, 0)},
      {"sendfile64", measure((void *)sendfile64_once, 0)},
      {"poll", measure_poll((void *)poll_blocking)},
      {"__poll_chk", measure_poll((void *)poll_chk_blocking)},
      {"ppoll", measure_poll((void *)ppoll_blocking)},
      {"__ppoll_chk", measure_poll((void *)ppoll_chk_blocking)},
      {"select", measure_poll((void *)select_blocking)},
      {"pselect", measure_poll((void *)pselect_blocking)},
      {"capri_fd_wait", measure_poll((void *)fd_wait_blocking)},
      {"open", measure_open((void *)open_one)},
      {"open64", measure_open((void *)open64_one)},
      {"openat", measure_open((void *)openat_one)},
      {"openat64", measure_open((void *)openat64_one)},
      {"__open_2", measure_open((void *)open_2_one)},
      {"__open64_2", measure_open((void *)open64_2_one)},
      {"__openat_2", measure_open((void *)openat_2_one)},
      {"__openat64_2", measure_open((void *)openat64_2_one)},
      {"creat", measure_open((void *)creat_one)},
      {"creat64", measure_open((void *)creat64_one)},
      {"eventfd", measure_open((void *)eventfd_one)},
      {"timerfd_create", measure_open((void *)timerfd_one)},
      {"signalfd", measure_open((void *)signalfd_one)},
      {"epoll_create", measure_open((void *)epoll_create_one)},
      {"epoll_create1", measure_open((void *)epoll_create1_one)},
      {"memfd_create", measure_open((void *)memfd_one)},
      {"pread", measure((void *)pread_uncached, 0)},
      {"pread64", measure((void *)pread64_uncached, 0)},
      {"__pread_chk", measure((void *)pread_chk_uncached, 0)},
      {"__pread64_chk", measure((void *)pread64_chk_uncached, 0)},
      {"preadv", measure((void *)preadv_uncached, 0)},
      {"preadv64", measure((void *)preadv64_uncached, 0)},
      {"preadv2", measure((void *)preadv2_uncached, 0)},
      {"preadv64v2", measure((void *)preadv64v2_uncached, 0)},
      {"pwrite", measure((void *)pwrite_one, 0)},
      {"pwrite64", measure((void *)pwrite64_one, 0)},
      {"pwritev", measure((void *)pwritev_one, 0)},
      {"pwritev64", measure((void *)pwritev64_one, 0)},
      {"pwritev2", measure((void *)pwritev2_one, 0)},
      {"pwritev64v2", measure((void *)pwritev64v2_one, 0)},
  };
  for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
    note(got[i].name, got[i].used);
  note("capri_config", config_before_start);
  measure_api();
  stop = 1;
  capri_join(t, NULL);
  unlink(open_path);
  unlink(creat_path);
  unsigned checked = 0;
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    size_t j = 0;
    while (j < n_seen && strcmp(seen[j].name, table[i].name) != 0)
      j++;
    if (j == n_seen) {
      printf("UNMEASURED %s\n", table[i].name);
      continue;
    }
    if (print)
      printf("%s: %lu (table %lu)\n", seen[j].name, seen[j].used, table[i].bytes);
    if (seen[j].used > table[i].bytes)
      printf("EXCEEDED %s: %lu > %lu\n", seen[j].name, seen[j].used, table[i].bytes);
    checked++;
  }
  // Every entry of capri.h that was measured is in the table, but those
  // that run the program's callbacks on the caller's stack on their
  // ordinary path (RuntimeStackMarks.def says why): shown, not checked.
  static const char *const unmarked[] = {"capri_once", "capri_cleanup_pop_", "capri_exit"};
  for (size_t j = 0; j < n_seen; j++) {
    size_t i = 0, k = 0;
    while (i < TABLE_SIZE && strcmp(seen[j].name, table[i].name) != 0)
      i++;
    while (k < sizeof unmarked / sizeof unmarked[0] && strcmp(seen[j].name, unmarked[k]) != 0)
      k++;
    if (i < TABLE_SIZE)
      continue;
    if (k == sizeof unmarked / sizeof unmarked[0])
      printf("NOT IN TABLE %s: %lu\n", seen[j].name, seen[j].used);
    else if (print)
      printf("%s: %lu (not in the table: runs callbacks)\n", seen[j].name, seen[j].used);
  }
  printf("checked %u table entries\n", checked);
  return 0;
}
