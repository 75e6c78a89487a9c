// Dense mode (CAPRI_DENSE=1): threads start on sub-page first chunks with
// no guard page, and grow from there like any thread. 200 threads, each a
// recursion 2,000 deep (about 100 KiB of frames, so several linked chunks)
// that blocks on a semaphore at its deepest point: meanwhile the first
// chunks are dense ones and the grown chunks are page-class chunks; after
// the posts every recursion unwinds across its chunks, the results are
// right, each thread's canary is intact at every switch (or the process
// would have stopped), and every chunk goes back. Without the setting the
// same program starts its threads on page-class chunks.
//
// RUN: %capri-cc -O2 %s -o %t
// RUN: env CAPRI_DENSE=1 %t | FileCheck %s --check-prefix=DENSE
// RUN: %t | FileCheck %s --check-prefix=GUARD
//
// DENSE: first chunks: 200 dense
// DENSE-NEXT: grown: every thread
// DENSE-NEXT: results: right
// DENSE-NEXT: chunks back: all
// GUARD: first chunks: 0 dense
// GUARD-NEXT: grown: every thread
// GUARD-NEXT: results: right
// GUARD-NEXT: chunks back: all
#include <capri.h>
#include "Inputs/growth_test.h"
#include <stdint.h>
#include <stdio.h>

enum { THREADS = 200, DEPTH = 2000 };

static capri_sem_t sem;
static long at_bottom;

static uint64_t dense_in_use(void) {
  struct capri_pool_dense_stats st;
  if (capri_pool_dense_stats(&st) != 0)
    abort();
  uint64_t n = 0;
  for (int i = 0; i < CAPRI_DENSE_CLASSES; i++)
    n += st.in_use[i];
  return n;
}

__attribute__((noinline)) static long down(long n) {
  volatile char local[24];
  local[0] = (char)n;
  if (n == 0) {
    at_bottom++;
    if (capri_sem_wait(&sem) != 0)
      abort();
    return 0;
  }
  return down(n - 1) + 1 + (local[0] & 0);
}

static void *run(void *arg) {
  return (void *)down((long)(intptr_t)arg);
}

int main(void) {
  growth_one_scheduler();
  uint64_t first_in_use = growth_chunks_in_use();
  static capri_t t[THREADS];
  // A dense class in every build (the sanitizers' hooks need 2.5 KiB at a
  // thread's entry and exit); without dense mode a 4 KiB page class.
  capri_attr_t attr = {0};
  attr.stack_size = 3584;
  for (int i = 0; i < THREADS; i++)
    if (capri_spawn(&t[i], run, (void *)(intptr_t)DEPTH, &attr) != 0)
      abort();
  while (at_bottom < THREADS)
    capri_yield();
  printf("first chunks: %llu dense\n", (unsigned long long)dense_in_use());
  // Each thread holds at least one grown chunk beyond the first (the
  // scheduler's signal reserve, taken at the first growth, is one more).
  uint64_t grown = growth_chunks_in_use() - first_in_use;
  printf("grown: %s\n", grown >= 2 * THREADS ? "every thread" : "not every thread");
  for (int i = 0; i < THREADS; i++)
    capri_sem_post(&sem);
  int right = 1;
  for (int i = 0; i < THREADS; i++) {
    void *r = NULL;
    if (capri_join(t[i], &r) != 0 || r != (void *)(intptr_t)DEPTH)
      right = 0;
  }
  printf("results: %s\n", right ? "right" : "wrong");
  // What stays: the first chunks of threads that never ran here (none),
  // the signal reserve, at most a cached chunk.
  printf("chunks back: %s\n",
         dense_in_use() == 0 && growth_chunks_in_use() <= first_in_use + 2 ? "all" : "not all");
  return 0;
}
