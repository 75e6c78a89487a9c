// longjmp out of a recursion that spans many chunks: the longjmp family is
// interposed and puts the chunk list and the limit back to where the
// setjmp was. Repeated, nothing leaks. With _FORTIFY_SOURCE=2 the jump
// goes through __longjmp_chk, whose check must not mistake a jump to an
// older chunk (at a lower address) for a jump into an uninitialised frame.
//
// RUN: %capri-cc -O2 %s -o %t.o2 && %t.o2 | FileCheck %s
// RUN: %capri-cc -O2 -D_FORTIFY_SOURCE=2 %s -o %t.fortify && %t.fortify | FileCheck %s
// RUN: %capri-cc -O0 %s -o %t.o0 && %t.o0 | FileCheck %s
//
// CHECK: main thread: [[ROUNDS:200|5]] jumps from depth 250000, back at the chunk depth it started at
// CHECK-NEXT: capri thread: [[ROUNDS]] jumps from depth 20000, back at the chunk depth it started at
// CHECK-NEXT: chunks in use unchanged
#include <capri.h>
#include "Inputs/growth_test.h"
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

unsigned __capri_chunk_depth(void);

static jmp_buf top;
static unsigned deepest;

__attribute__((noinline)) static long down(long n) {
  volatile char local[64];
  local[0] = (char)n;
  if (n == 0) {
    deepest = __capri_chunk_depth();
    longjmp(top, 1);
  }
  return down(n - 1) + 1 + (local[0] & 0);
}

// (5 under stack verification, where every level is a growth.)
static int rounds = 200;

static int jumps(const char *who, long depth, int quiet) {
  unsigned before = __capri_chunk_depth();
  volatile int count = 0;
  setjmp(top);
  if (count < rounds) {
    count++;
    down(depth);
  }
  unsigned after = __capri_chunk_depth();
  if (deepest <= before + 10 || after != before) {
    printf("%s: deepest %u, depth %u before, %u after\n", who, deepest, before, after);
    return 1;
  }
  if (!quiet)
    printf("%s: %d jumps from depth %ld, back at the chunk depth it started at\n", who, count,
           depth);
  return 0;
}

static void *run(void *quiet) {
  return (void *)(intptr_t)jumps("capri thread", 20000, quiet != NULL);
}

int main(void) {
  growth_one_scheduler();
  if (growth_verifying())
    rounds = 5;
  // Main's own stack is 8 MiB: 250,000 levels go past it.
  if (jumps("main thread", 250000, 0))
    return 1;
  capri_attr_t attr = {.stack_size = 4096};
  capri_t t;
  void *r;
  // The first run also sets the scheduler's reserve chunk aside.
  if (capri_spawn(&t, run, &attr, &attr) || capri_join(t, &r) || r)
    return 1;
  uint64_t before = growth_chunks_in_use();
  if (capri_spawn(&t, run, NULL, &attr) || capri_join(t, &r) || r)
    return 1;
  if (!growth_counts_match(before, growth_chunks_in_use()))
    return printf("chunks in use: %llu before, %llu after\n", (unsigned long long)before,
                  (unsigned long long)growth_chunks_in_use()), 1;
  printf("chunks in use unchanged\n");
  return 0;
}
