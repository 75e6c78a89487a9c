// A non-tail recursion 1,000,000 deep in a capri thread whose first chunk
// is 4 KiB: the checkpoint on the recursive call grows the stack in linked
// chunks. At the deepest point the pool has lent one chunk per growth
// (plus at most the thread's cached one); after the join every chunk is
// back, and once the pool's idle memory has decayed, resident memory is
// back near where it started.
//
// RUN: %capri-cc -O2 %s -o %t.o2 && %t.o2 | FileCheck %s
// RUN: %capri-cc -O0 %s -o %t.o0 && %t.o0 | FileCheck %s
// RUN: %capri-cc -O1 -fno-omit-frame-pointer %s -o %t.fp && %t.fp | FileCheck %s
// RUN: %capri-cc -O2 -fPIE -pie %s -o %t.pie && %t.pie | FileCheck %s
//
// CHECK: result 1000000
// CHECK-NEXT: chunks at the deepest point: one per growth
// CHECK-NEXT: every chunk returned
// CHECK-NEXT: resident memory {{back near the start|not measured under AddressSanitizer|not measured under stack verification}}
#include <capri.h>
#include "Inputs/growth_test.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned __capri_chunk_depth(void);

static long depth_at_bottom;
static uint64_t in_use_at_bottom;

static long resident_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, pages = 0;
  if (!f || fscanf(f, "%ld %ld", &size, &pages) != 2)
    abort();
  fclose(f);
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

// Out of line, so that its frame does not become part of every level's.
__attribute__((noinline)) static void at_bottom(void) {
  depth_at_bottom = __capri_chunk_depth();
  in_use_at_bottom = growth_chunks_in_use();
}

__attribute__((noinline)) static long down(long n) {
  volatile char local[24];
  local[0] = (char)n;
  if (n == 0) {
    at_bottom();
    return 0;
  }
  return down(n - 1) + 1 + (local[0] & 0);
}

static void *run(void *arg) {
  return (void *)down((long)(intptr_t)arg);
}

int main(void) {
  growth_one_scheduler();
  // A first growth on the scheduler sets its signal-handler reserve chunk
  // aside for good: warm up before counting.
  capri_attr_t attr = {.stack_size = 4096};
  capri_t t;
  void *result;
  if (capri_spawn(&t, run, (void *)(intptr_t)1000, &attr) != 0 || capri_join(t, &result) != 0)
    return 1;
  uint64_t in_use_before = growth_chunks_in_use();
  long rss_before = resident_kib();
  if (capri_spawn(&t, run, (void *)(intptr_t)1000000, &attr) != 0)
    return 1;
  if (capri_join(t, &result) != 0)
    return 1;
  printf("result %ld\n", (long)(intptr_t)result);

  // Each growth took one chunk; the thread's first chunk and its cached
  // one may be counted too.
  uint64_t lent = in_use_at_bottom - in_use_before;
  if (depth_at_bottom < 1000 || lent < (uint64_t)depth_at_bottom ||
      lent > (uint64_t)depth_at_bottom + 2) {
    printf("growths %ld, chunks lent %llu\n", depth_at_bottom, (unsigned long long)lent);
    return 1;
  }
  printf("chunks at the deepest point: one per growth\n");

  uint64_t in_use_after = growth_chunks_in_use();
  if (!growth_counts_match(in_use_before, in_use_after)) {
    printf("chunks in use: %llu before, %llu after\n", (unsigned long long)in_use_before,
           (unsigned long long)in_use_after);
    return 1;
  }
  printf("every chunk returned\n");

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // (AddressSanitizer's shadow of the chunks stays resident.)
  printf("resident memory not measured under AddressSanitizer\n");
  return 0;
#endif
#endif
  // (Stack verification grows at every call: a million chunks at once,
  // whose slots in the pool's table stay resident.)
  const char *verify = getenv("CAPRI_VERIFY_STACKS");
  if (verify && *verify && strcmp(verify, "0") != 0) {
    printf("resident memory not measured under stack verification\n");
    return 0;
  }
  // The pool gives idle memory back after one to two seconds (idle
  // schedulers wake up for it).
  long rss_after = 0;
  for (int i = 0; i < 100; i++) {
    rss_after = resident_kib();
    if (rss_after < rss_before + 4096)
      break;
    capri_sleep_ns(50 * 1000 * 1000);
  }
  if (rss_after >= rss_before + 4096) {
    printf("resident: %ld KiB before, %ld KiB after\n", rss_before, rss_after);
    return 1;
  }
  printf("resident memory back near the start\n");
  return 0;
}
