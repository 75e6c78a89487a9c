// gdb follows a stack grown by the plugin's checkpoints: at a breakpoint
// deep inside a recursion spanning several chunks (of different sizes, so
// from different slabs: the chain goes to higher and to lower addresses),
// `bt` reaches the thread's entry function, for a normal and a stripped
// binary (__morestack and the functions stay in the dynamic symbol table).
//
// UNSUPPORTED: asan
// RUN: %capri-cc -O1 -g -Wl,--export-dynamic %s -o %t
// RUN: %t | FileCheck %s --check-prefix=OUT
// RUN: gdb -batch -nx -ex 'break at_bottom' -ex run -ex bt -ex 'source %S/Inputs/chunk_directions.py' %t 2>&1 | FileCheck %s
// RUN: cp %t %t.stripped && strip --strip-all %t.stripped
// RUN: gdb -batch -nx -ex 'break at_bottom' -ex run -ex bt -ex 'source %S/Inputs/chunk_directions.py' %t.stripped 2>&1 | FileCheck %s
//
// OUT: chunks: {{[3-9]|[1-9][0-9]+}}
// CHECK: #0 {{.*}}at_bottom ()
// CHECK: in __morestack
// CHECK: in __morestack
// CHECK: in __morestack
// CHECK: in entry
// CHECK: frames at higher addresses than their callee's: {{[1-9]}}
// CHECK-SAME: lower: {{[1-9]}}
#include <capri.h>
#include <stdint.h>
#include <stdio.h>

unsigned __capri_chunk_depth(void);

static volatile int slot = 3;
static unsigned chunks;

__attribute__((noinline)) void at_bottom(void) { chunks = __capri_chunk_depth(); }

long level(long n);

// Three frame sizes, so the chunks the recursion grows onto come from
// three size classes.
__attribute__((noinline)) long small_frame(long n) {
  volatile char frame[200];
  frame[slot] = (char)n;
  return level(n - 1) + frame[slot];
}
__attribute__((noinline)) long mid_frame(long n) {
  volatile char frame[9000];
  frame[slot] = (char)n;
  return level(n - 1) + frame[slot];
}
__attribute__((noinline)) long big_frame(long n) {
  volatile char frame[30000];
  frame[slot] = (char)n;
  return level(n - 1) + frame[slot];
}

__attribute__((noinline)) long level(long n) {
  if (n == 0) {
    at_bottom();
    return 0;
  }
  switch (n % 3) {
  case 0: return big_frame(n);
  case 1: return small_frame(n);
  default: return mid_frame(n);
  }
}

static volatile long result;

__attribute__((noinline)) void *entry(void *arg) {
  result = level((long)(intptr_t)arg); // not a tail call: entry stays on the stack
  return NULL;
}

int main(void) {
  capri_attr_t attr = {.stack_size = 4096};
  capri_t t;
  if (capri_spawn(&t, entry, (void *)(intptr_t)12, &attr) || capri_join(t, NULL))
    return 1;
  printf("chunks: %u\n", chunks);
  return 0;
}
