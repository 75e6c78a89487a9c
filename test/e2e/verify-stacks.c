// Stack verification mode (CAPRI_VERIFY_STACKS=1): every checkpoint grows
// onto a painted chunk, and when the call returns the chunk is scanned.
// A correct program runs to the end, in capri threads, main and plain
// pthreads. A region that goes deeper than its bound (here an inline asm
// the compiler cannot see, and then every table bound shrunk to 0 by fault
// injection) is reported with the call, the thread and by how much, long
// before it would reach a guard page.
//
// RUN: %capri-cc -O2 -rdynamic %s -o %t
// RUN: env CAPRI_VERIFY_STACKS=1 %t ok | FileCheck %s --check-prefix=OK
// RUN: env CAPRI_VERIFY_STACKS=yes %t ok 2>&1 | FileCheck %s --check-prefix=MALFORMED
// (Not under AddressSanitizer: there every region is also charged the
// external reserve for the sanitizer's runtime calls, 16 KiB, which covers
// the hidden 3000 bytes.)
// RUN: %if !asan %{ env CAPRI_VERIFY_STACKS=1 not --crash %t hidden 2>&1 | FileCheck %s --check-prefix=HIDDEN %}
// RUN: env CAPRI_VERIFY_STACKS=1 CAPRI_FAULT_SHRINK_BOUNDS=1 not --crash %t ok 2>&1 | FileCheck %s --check-prefix=SHRUNK
// The entry region, on the thread's first chunk, is checked when the
// thread exits.
// RUN: env CAPRI_VERIFY_STACKS=1 not --crash %t entry 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: env CAPRI_VERIFY_STACKS=0 %t entry | FileCheck %s --check-prefix=ENTRY-UNSEEN
// Without verification the hidden use stays within the 64 KiB first chunk
// and goes unseen: that is what the mode is for.
// RUN: env CAPRI_VERIFY_STACKS=0 %t hidden | FileCheck %s --check-prefix=UNSEEN
//
// OK: capri thread: 5000 levels
// OK-NEXT: main: 5000 levels
// OK-NEXT: pthread: 5000 levels
// MALFORMED: capri: warning: ignoring malformed or out-of-range CAPRI_VERIFY_STACKS (1: on, 0: off)
// MALFORMED: capri thread: 5000 levels
// HIDDEN: capri: fatal: stack verification: a call went {{[0-9]+}} bytes deeper than its checkpoint allowed (used {{[0-9]+}} of {{[0-9]+}} bytes)
// HIDDEN-NEXT: at the call returning to {{.*}}verify-stacks.c.tmp+0x{{[0-9a-f]+}}) (thread {{[0-9]+}} "hider")
// SHRUNK: capri: fatal: stack verification: a call went {{[0-9]+}} bytes deeper than its checkpoint allowed (used {{[0-9]+}} of {{[0-9]+}} bytes)
// SHRUNK-NEXT: at the call returning to {{recurse|spawn_at|\?\?}}{{.*}}verify-stacks.c.tmp+0x{{[0-9a-f]+}}) (thread {{[0-9]+}} "{{main|deep}}")
// UNSEEN: hidden: 100 levels
// ENTRY: capri: fatal: stack verification: the thread's entry region went 192 bytes into the last 256 of its first chunk, past what the chunk was sized for (entry run_entry+0x0 ({{.*}}verify-stacks.c.tmp+0x{{[0-9a-f]+}})) (thread {{[0-9]+}} "entry")
// ENTRY-UNSEEN: entry: returned
#include <capri.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// Exported (the report names it): a frame above the slack, so its
// checkpoints use the bounds table.
// (A run-time index keeps the whole array: with constant ones the
// optimiser keeps only the bytes used.)
static volatile int slot = 599;

__attribute__((noinline)) long recurse(long n) {
  volatile char frame[600];
  frame[slot] = (char)n;
  if (n == 0)
    return 0;
  return recurse(n - 1) + 1 + (frame[slot] & 0);
}

// Uses 3000 bytes below its frame that no frame size shows.
__attribute__((noinline)) static long hidden(long n) {
  volatile char local[32];
  local[0] = (char)n;
  if (n == 0) {
    __asm__ volatile("sub $3000, %%rsp\n\tmovq $1, (%%rsp)\n\tadd $3000, %%rsp" ::: "memory");
    return 0;
  }
  return hidden(n - 1) + 1 + (local[0] & 0);
}

// The first spawn from inside a recursion, whose checkpoint's region
// counts capri_spawn's own mark.
__attribute__((noinline)) static int spawn_at(int depth, capri_t *t, void *(*fn)(void *),
                                              const capri_attr_t *attr) {
  volatile char pad[64];
  pad[0] = (char)depth;
  if (depth == 0)
    return capri_spawn(t, fn, NULL, attr) + (pad[0] & 0);
  return spawn_at(depth - 1, t, fn, attr) + (pad[0] & 0);
}

static void *run_ok(void *arg) {
  (void)arg;
  return (void *)recurse(5000);
}

// Writes into the bottom of its first chunk (where the limit's slack is),
// as an entry region larger than the chunk was sized for would.
void *run_entry(void *arg) {
  uintptr_t limit;
  __asm__ volatile("movq %%fs:0x70, %0" : "=r"(limit));
  limit &= ~((uintptr_t)1 << 61); // (verification's bit)
  *(volatile char *)(limit - 304 + 64) = 1; // 304: the limit's room above the bottom
  return arg;
}

static void *run_hidden(void *arg) {
  (void)arg;
  return (void *)hidden(100);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "entry") == 0) {
    capri_attr_t attr = {.stack_size = 4096, .name = "entry"};
    capri_t t;
    if (capri_spawn(&t, run_entry, NULL, &attr) || capri_join(t, NULL))
      return 1;
    printf("entry: returned\n");
    return 0;
  }
  int hide = argc > 1 && strcmp(argv[1], "hidden") == 0;
  // Two schedulers: the first spawn starts the second one's kernel thread
  // (3.7 KiB of pthread_create, beyond capri_spawn's mark: libcapri makes
  // room for it, as for its own start-up).
  if (capri_config(CAPRI_CONFIG_SCHEDULERS, 2) != 0)
    return 1;
  capri_attr_t attr = {.stack_size = hide ? 64 * 1024 : 4096, .name = hide ? "hider" : "deep"};
  capri_t t;
  void *r;
  if (spawn_at(3, &t, hide ? run_hidden : run_ok, &attr) || capri_join(t, &r))
    return 1;
  if (hide) {
    printf("hidden: %ld levels\n", (long)r);
    return 0;
  }
  printf("capri thread: %ld levels\n", (long)r);
  printf("main: %ld levels\n", recurse(5000));
  pthread_t p;
  if (pthread_create(&p, NULL, run_ok, NULL) || pthread_join(p, &r))
    return 1;
  printf("pthread: %ld levels\n", (long)r);
  return 0;
}
