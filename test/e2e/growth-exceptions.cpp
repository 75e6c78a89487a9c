// C++ exceptions thrown deep in a recursion that spans many chunks and
// caught near the top (and in the middle): the unwinder steps across
// __morestack's frames, whose cleanup puts the limit and the chunk list
// back. Repeated, every chunk comes back and the thread keeps working.
//
// RUN: %capri-cc -x c++ -std=c++17 -O2 %s -o %t -lstdc++ && %t | FileCheck %s
// RUN: %capri-cc -x c++ -std=c++17 -O0 %s -o %t.o0 -lstdc++ && %t.o0 | FileCheck %s
//
// CHECK: caught 100 throws from depth 5000
// CHECK-NEXT: caught in the middle: result 5000
// CHECK-NEXT: back at chunk depth 0, chunks in use unchanged
#include <capri.h>
#include "Inputs/growth_test.h"
#include <cstdint>
#include <cstdio>
#include <stdexcept>

extern "C" unsigned __capri_chunk_depth(void);

struct bottom : std::runtime_error {
  long depth;
  explicit bottom(long d) : std::runtime_error("bottom"), depth(d) {}
};

static volatile int slot = 1;

__attribute__((noinline)) static long down(long n, long catch_at) {
  volatile char frame[64];
  frame[slot] = (char)n;
  if (n == 0)
    throw bottom(0);
  if (n == catch_at) {
    try {
      return down(n - 1, catch_at) + (frame[slot] & 0);
    } catch (bottom &b) {
      return n; // caught halfway (at 2500): the levels above add 1 each
    }
  }
  return down(n - 1, catch_at) + 1 + (frame[slot] & 0);
}

static void *run(void *quiet) {
  int caught = 0;
  for (int i = 0; i < 100; i++) {
    try {
      down(5000, -1);
    } catch (bottom &) {
      caught++;
    }
  }
  long left = down(5000, 2500);
  if (!quiet) {
    std::printf("caught %d throws from depth 5000\n", caught);
    std::printf("caught in the middle: result %ld\n", left);
  }
  return (void *)(intptr_t)__capri_chunk_depth();
}

int main() {
  growth_one_scheduler();
  capri_attr_t attr = {};
  attr.stack_size = 4096;
  capri_t t;
  void *r;
  // The first run sets the scheduler's reserve chunk aside.
  if (capri_spawn(&t, run, &attr, &attr) || capri_join(t, &r))
    return 1;
  uint64_t before = growth_chunks_in_use();
  if (capri_spawn(&t, run, nullptr, &attr) || capri_join(t, &r))
    return 1;
  uint64_t after = growth_chunks_in_use();
  if (r != nullptr || after != before) {
    std::printf("chunk depth %ld, chunks in use %llu before, %llu after\n", (long)(intptr_t)r,
                (unsigned long long)before, (unsigned long long)after);
    return 1;
  }
  std::printf("back at chunk depth 0, chunks in use unchanged\n");
  return 0;
}
