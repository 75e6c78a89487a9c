// The stack marks in passes/RuntimeStackMarks.def hold: each libcapri
// entry listed there is called on a painted stack, and the most stack it
// used below the stack pointer at the call (return address included) must
// not exceed the table. capri_yield is measured switching to another
// thread and back: what it pushed before the switch stays on the painted
// stack. Run the binary with "print" to see the figures.
//
// RUN: %clang -O1 -I%src_root/passes -I%src_root/runtime/include %s -o %t %capri-rt-link -Wl,-z,now
// RUN: %t | FileCheck %s
// RUN: env CAPRI_IO_URING=0 %t | FileCheck %s
// UNSUPPORTED: asan
//
// CHECK-NOT: EXCEEDED
// CHECK-NOT: UNMEASURED
// CHECK:     checked 88 table entries
#define _GNU_SOURCE
#include <capri.h>
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
static void *other(void *arg) {
  (void)arg;
  while (!stop) {
    capri_yield();
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
  unlink(name);
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

int main(int argc, char **argv) {
  int print = argc > 1 && strcmp(argv[1], "print") == 0;
  if (capri_config(CAPRI_CONFIG_SCHEDULERS, 1) != 0)
    return 1;
  capri_t t;
  if (capri_spawn(&t, other, NULL, NULL) || io_setup())
    return 1;
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
  stop = 1;
  capri_join(t, NULL);
  unlink(open_path);
  unlink(creat_path);
  unsigned checked = 0;
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    size_t j = 0;
    while (j < sizeof got / sizeof got[0] && strcmp(got[j].name, table[i].name) != 0)
      j++;
    if (j == sizeof got / sizeof got[0]) {
      printf("UNMEASURED %s\n", table[i].name);
      continue;
    }
    if (print)
      printf("%s: %lu (table %lu)\n", got[j].name, got[j].used, table[i].bytes);
    if (got[j].used > table[i].bytes)
      printf("EXCEEDED %s: %lu > %lu\n", got[j].name, got[j].used, table[i].bytes);
    checked++;
  }
  printf("checked %u table entries\n", checked);
  return 0;
}
