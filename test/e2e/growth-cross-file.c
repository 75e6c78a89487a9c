// Mutual recursion across two files, 1,000,000 calls deep, in a capri
// thread whose first chunk is 4 KiB: each file sees only a call into the
// other (a cross-file checkpoint, checked for the external reserve), and
// the stack grows in linked chunks, all returned afterwards. Under full LTO
// the whole program is placed at once: the cycle gets one checkpoint, with
// a small region.
//
// RUN: %capri-cc -O2 -c %s -o %t.a.o
// RUN: %capri-cc -O2 -c %S/Inputs/growth-odd.c -o %t.b.o
// RUN: %capri-cc %t.a.o %t.b.o -o %t && %t | FileCheck %s
// RUN: %capri-cc -O0 %s %S/Inputs/growth-odd.c -o %t.o0 && %t.o0 | FileCheck %s
// RUN: %capri-cc -O2 -flto %s %S/Inputs/growth-odd.c -o %t.lto && %t.lto | FileCheck %s
//
// CHECK: is_even(1000000) = 1
// CHECK-NEXT: grew: yes
// CHECK-NEXT: every chunk returned
#include <capri.h>
#include "Inputs/growth_test.h"
#include <stdint.h>
#include <stdio.h>

long is_odd(long n);
unsigned __capri_chunk_depth(void);

static unsigned deepest;

long is_even(long n) {
  volatile char local[40];
  local[0] = (char)n;
  if (n == 0) {
    deepest = __capri_chunk_depth();
    return 1;
  }
  return is_odd(n - 1) + (local[0] & 0);
}

static void *run(void *arg) { return (void *)(intptr_t)is_even((long)(intptr_t)arg); }

int main(void) {
  growth_one_scheduler();
  capri_attr_t attr = {.stack_size = 4096};
  capri_t t;
  void *result;
  // Warm up: the first growth sets the scheduler's reserve chunk aside.
  if (capri_spawn(&t, run, (void *)(intptr_t)1000, &attr) || capri_join(t, &result))
    return 1;
  uint64_t before = growth_chunks_in_use();
  if (capri_spawn(&t, run, (void *)(intptr_t)1000000, &attr) || capri_join(t, &result))
    return 1;
  printf("is_even(1000000) = %ld\n", (long)(intptr_t)result);
  printf("grew: %s\n", deepest > 100 ? "yes" : "no");
  uint64_t after = growth_chunks_in_use();
  if (!growth_counts_match(before, after)) {
    printf("chunks in use: %llu before, %llu after\n", (unsigned long long)before,
           (unsigned long long)after);
    return 1;
  }
  printf("every chunk returned\n");
  return 0;
}
