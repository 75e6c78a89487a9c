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
// CHECK:     checked 6 table entries
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

static volatile int stop;
static void *other(void *arg) {
  (void)arg;
  while (!stop)
    capri_yield();
  return NULL;
}

static struct capri_pool_stats stats;

void *__capri_vla_take(uint64_t size, uint64_t align, void **head, uintptr_t sp);
void __capri_vla_release(void **head, uintptr_t sp);
static void *vla_head;
static void vla_take(long unused) { (void)unused; __capri_vla_take(100000, 64, &vla_head, 1000); }
static void vla_release(long unused) { (void)unused; __capri_vla_release(&vla_head, ~(uintptr_t)0); }

int main(int argc, char **argv) {
  int print = argc > 1 && strcmp(argv[1], "print") == 0;
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
