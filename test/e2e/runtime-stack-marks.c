// The stack marks in passes/RuntimeStackMarks.def hold: each libcapri
// entry listed there is called on a painted stack, and the most stack it
// used below the stack pointer at the call (return address included) must
// not exceed the table. capri_yield is measured switching to another
// thread and back: what it pushed before the switch stays on the painted
// stack. Run the binary with "print" to see the figures.
//
// RUN: %clang -O1 -I%src_root/passes -I%src_root/runtime/include %s -o %t %capri-rt-link -Wl,-z,now
// RUN: %t | FileCheck %s
// UNSUPPORTED: asan
//
// CHECK-NOT: EXCEEDED
// CHECK-NOT: UNMEASURED
// CHECK:     checked 15 table entries
#include <capri.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
static volatile int stop, want_post, want_signal;
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
  if (capri_spawn(&t, other, NULL, NULL))
    return 1;
  struct {
    const char *name;
    unsigned long used;
  } got[] = {
      {"__capri_chunk_depth", measure((void *)__capri_chunk_depth, 0)},
      {"capri_self", measure((void *)capri_self, 0)},
      {"capri_yield", measure((void *)capri_yield, 0)},
      {"capri_pool_stats", measure((void *)capri_pool_stats, (long)&stats)},
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
  };
  stop = 1;
  capri_join(t, NULL);
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
