// Dense mode with a stack_size below what the entry function needs before
// its first checkpoint (the records know it): capri_spawn honours the size
// and warns once, since no guard page is under a dense chunk. With the
// size capri_spawn picks, or in guard mode, no warning.
//
// RUN: %capri-cc -O2 %s -o %t
// RUN: env CAPRI_DENSE=1 %t 896 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: env CAPRI_DENSE=1 %t 0 2>&1 | FileCheck %s --check-prefix=QUIET
// RUN: %t 896 2>&1 | FileCheck %s --check-prefix=QUIET
//
// SMALL: capri: warning: capri_spawn: a stack_size of {{[0-9]+}} bytes is below the {{[0-9]+}} bytes its entry function needs before its first checkpoint
// SMALL-NOT: capri: warning
// SMALL: spawned 3
// QUIET-NOT: capri: warning
// QUIET: spawned 3
#include <capri.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int slot = 7;

// Its region holds a 2 KiB array, used only when asked (never here).
static void *entry(void *arg) {
  if (arg) {
    volatile char big[2048];
    big[slot] = 1;
    return (void *)(long)big[slot];
  }
  return NULL;
}

int main(int argc, char **argv) {
  capri_attr_t attr = {.stack_size = argc > 1 ? (size_t)atol(argv[1]) : 0};
  for (int i = 0; i < 3; i++) {
    capri_t t;
    if (capri_spawn(&t, entry, NULL, &attr) || capri_join(t, NULL))
      return 1;
  }
  printf("spawned 3\n");
  return 0;
}
