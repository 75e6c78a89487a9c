// Variable-size arrays in a thread whose first chunk is 4 KiB: each one is
// checked (its size and the rest of its function's region against what is
// left above the limit); one that does not fit comes from the heap, and
// goes back at the end of its scope (stackrestore) or when its function
// returns. Arrays far larger than any chunk, in a recursion and in loops,
// are written whole, and the heap is back where it was afterwards.
//
// RUN: %capri-cc -O2 %s -o %t.o2 && %t.o2 | FileCheck %s
// RUN: %capri-cc -O0 %s -o %t.o0 && %t.o0 | FileCheck %s
// Without libcapri the runtime's VLA calls are weak references, like
// __morestack's: the program links and runs.
// RUN: env CAPRI_RUNTIME=none %capri-cc -O2 %S/Inputs/vla-no-runtime.c -o %t.none && %t.none | FileCheck %s --check-prefix=NONE
// NONE: vla without libcapri: 1
//
// CHECK: variable-size arrays
// CHECK-NEXT: recursion: 300 levels, sum 300
// CHECK-NEXT: loop: 1000 arrays of 64 KiB, sum 1000
// CHECK-NEXT: heap in use unchanged
#include <capri.h>
#include "Inputs/growth_test.h"
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static volatile int slot = 5;

// A 20 KiB array per level, written whole: never fits a 4 KiB chunk.
__attribute__((noinline)) static long rec(long n, long size) {
  char buf[size];
  memset(buf, (int)n, (size_t)size);
  if (n == 0)
    return buf[slot] & 0;
  return rec(n - 1, size) + 1 + (buf[size - 1] & 0);
}

// A new 64 KiB array on every round: taken and given back each time.
__attribute__((noinline)) static long loop(int rounds, long size) {
  long sum = 0;
  for (int i = 0; i < rounds; i++) {
    char inner[size];
    memset(inner, i, (size_t)size);
    sum += (inner[slot] & 0) + 1;
  }
  return sum;
}

static void *run(void *quiet) {
  long a = rec(300, 20 * 1024);
  long b = loop(1000, 64 * 1024);
  if (!quiet) {
    printf("recursion: 300 levels, sum %ld\n", a);
    printf("loop: 1000 arrays of 64 KiB, sum %ld\n", b);
  }
  return NULL;
}

int main(void) {
  capri_attr_t attr = {.stack_size = 4096};
  capri_t t;
  // One scheduler: glibc counts every arena, and a second kernel thread's
  // first malloc (when it steals the thread) would make its own arena.
  growth_one_scheduler();
  printf("variable-size arrays\n"); // (stdout's buffer, before counting)
  // Warm up (the runtime's own allocations), then count.
  if (capri_spawn(&t, run, &attr, &attr) || capri_join(t, NULL))
    return 1;
  size_t before = mallinfo2().uordblks;
  if (capri_spawn(&t, run, NULL, &attr) || capri_join(t, NULL))
    return 1;
  size_t after = mallinfo2().uordblks;
  if (after != before)
    return printf("heap in use: %zu before, %zu after\n", before, after), 1;
  printf("heap in use unchanged\n");
  return 0;
}
