// Placement annotations on functions:
//   annotate("capri.no_checkpoints"): no checkpoint in the function; its
//     calls count as unchecked and its whole region is added to its
//     callers'. A cycle through it is checked at a call of another function
//     of the cycle; a cycle of such functions only has no check at all, and
//     says so.
//   annotate("capri.checkpoint_all"): every call of the function is a
//     checkpoint (reason forced).
// With both, no_checkpoints wins. One remark per checkpoint
// (-Rpass-analysis=capri-checkpoint), with its reason and region.
//
// RUN: %clang -O0 -g -S -emit-llvm %s -o %t.ll
// RUN: %opt-capri -passes='print<capri-checkpoints>' -disable-output %t.ll | FileCheck %s
// RUN: %clang-capri -O0 -g -c %s -o %t.o -Rpass-analysis=capri-checkpoint 2>&1 | FileCheck %s --check-prefix=REMARK
//
// Without the annotations the same program places differently:
// RUN: %clang -O0 -g -S -emit-llvm %s -o %t.plain.ll -DNO_ANNOTATIONS
// RUN: %opt-capri -passes='print<capri-checkpoints>' -disable-output %t.plain.ll | FileCheck %s --check-prefix=PLAIN
#include <stdio.h>

#ifdef NO_ANNOTATIONS
#define NO_CHECKPOINTS
#define CHECKPOINT_ALL
#else
#define NO_CHECKPOINTS __attribute__((annotate("capri.no_checkpoints")))
#define CHECKPOINT_ALL __attribute__((annotate("capri.checkpoint_all")))
#endif

static void touch(char *p) { p[0] = 1; }

static int deep(int n) {
  char buf[1500];
  touch(buf);
  return buf[n];
}

// printf (the reserve, 16384) and deep stay unchecked in quiet: quiet's
// region is its frame plus the reserve, and main's call to it is checked.
NO_CHECKPOINTS static int quiet(int n) {
  char buf[1000];
  touch(buf);
  printf("%d\n", n);
  return deep(n) + buf[n];
}

// The cycle up <-> down is checked in up, whichever way the walk enters.
static int up(int n);
NO_CHECKPOINTS static int down(int n) { return n ? up(n - 1) : 0; }
static int up(int n) { return n ? down(n - 1) : 0; }

NO_CHECKPOINTS static int self_quiet(int n) { return n ? self_quiet(n - 1) + 1 : 0; }

CHECKPOINT_ALL static int loud(int n) {
  char buf[16];
  touch(buf);
  return deep(n) + buf[n & 15];
}

NO_CHECKPOINTS CHECKPOINT_ALL static int both(int n) { return deep(n); }

int main(int argc, char **argv) {
  (void)argv;
  return quiet(argc) + up(argc) + self_quiet(argc) + loud(argc) + both(argc);
}

// (Line numbers: main's calls are on line 63, up's on 49, self_quiet is
// defined on 51, loud's calls are on 55 and 56.)
//
// quiet's region is its frame plus printf's reserve.
// CHECK-LABEL: function main
// CHECK-NEXT:    checkpoint main -> quiet maxpath region {{[0-9]+}} at {{.*}}checkpoints-annotations.c:63
// CHECK-NOT:     checkpoint
// CHECK-LABEL: function quiet frame [[#QFRAME:]]
// CHECK-SAME:    entry-region [[#QFRAME+16384]] no-checkpoints{{$}}
// CHECK-NOT:     checkpoint
// CHECK-LABEL: function up
// CHECK-NEXT:    checkpoint up -> down cycle region {{.*}}checkpoints-annotations.c:49
// CHECK-NOT:     checkpoint
// CHECK-LABEL: function self_quiet frame {{[0-9]+}} entry-region {{[0-9]+}} no-checkpoints unchecked-cycle
// CHECK-NOT:     checkpoint
// CHECK-LABEL: function loud frame {{[0-9]+}} entry-region {{[0-9]+}} checkpoint-all
// CHECK-NEXT:    checkpoint loud -> touch forced region {{.*}}checkpoints-annotations.c:55
// CHECK-NEXT:    checkpoint loud -> deep forced region {{.*}}checkpoints-annotations.c:56
// CHECK-LABEL: function both frame {{[0-9]+}} entry-region {{[0-9]+}} no-checkpoints{{$}}
// CHECK-NOT:     checkpoint
// CHECK-LABEL: function down frame {{[0-9]+}} entry-region {{[0-9]+}} no-checkpoints{{$}}
// CHECK-NOT:     checkpoint

// REMARK-DAG: checkpoints-annotations.c:63:10: remark: checkpoint (maxpath) at a call to quiet: region {{[0-9]+}} bytes [-Rpass-analysis=capri-checkpoint]
// REMARK-DAG: checkpoints-annotations.c:49:35: remark: checkpoint (cycle) at a call to down: region {{[0-9]+}} bytes
// REMARK-DAG: checkpoints-annotations.c:51:1: remark: a call cycle through self_quiet has no checkpoint (capri.no_checkpoints)
// REMARK-DAG: checkpoints-annotations.c:55:3: remark: checkpoint (forced) at a call to touch: region {{[0-9]+}} bytes
// REMARK-DAG: checkpoints-annotations.c:56:10: remark: checkpoint (forced) at a call to deep: region {{[0-9]+}} bytes
// REMARK-NOT: printf

// PLAIN-LABEL: function main
// PLAIN-NOT:     checkpoint main -> quiet
// PLAIN-LABEL: function quiet
// PLAIN-NEXT:    checkpoint quiet -> printf external region 16384
// PLAIN-LABEL: function self_quiet
// PLAIN-NEXT:    checkpoint self_quiet -> self_quiet cycle
// PLAIN-LABEL: function loud
// PLAIN-NOT:     checkpoint
// PLAIN-LABEL: function both
