// Recursion cycles: self, mutual, and bounded by CAPRI_RECURSION_BOUND.
// The diagnostic's severity is the user's choice; the default (a remark)
// never breaks a -Werror build.
//
// RUN: %clang -O0 -g -S -emit-llvm -I%src_root/runtime/include %s -o %t.ll
// RUN: %opt-capri -passes='print<capri-stack>' -disable-output %t.ll | FileCheck %s
//
// Default: a remark, and -Werror still compiles.
// RUN: %clang-capri -O2 -g -Werror -c -I%src_root/runtime/include %s -o %t.o -Rpass-analysis=capri-recursion 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: %clang-capri -O2 -g -Werror -c -I%src_root/runtime/include %s -o %t.o
//
// As a warning it is an error under -Werror; as an error it fails the build.
// RUN: %clang-capri -O2 -g -c -I%src_root/runtime/include %s -o %t.o -mllvm -capri-recursion=warning 2>&1 | FileCheck %s --check-prefix=WARN
// RUN: not %clang-capri -O2 -g -c -I%src_root/runtime/include %s -o %t.o -mllvm -capri-recursion=error 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: %clang-capri -O2 -g -c -I%src_root/runtime/include %s -o %t.o -mllvm -capri-recursion=off 2>&1 | count 0
#include <capri.h>

struct node { struct node *left, *right; int value; };

// Self recursion that is not a tail call (stays recursive at -O2).
int depth(struct node *n) {
  if (!n)
    return 0;
  int l = depth(n->left), r = depth(n->right);
  return 1 + (l > r ? l : r);
}

// Mutual recursion.
int is_odd(unsigned n);
int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1) * 3 % 7; }
int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1) * 5 % 11; }

// A declared depth makes the cycle's stack finite.
CAPRI_RECURSION_BOUND(16) int walk(struct node *n) {
  if (!n)
    return 0;
  return n->value + walk(n->left) * 2 + walk(n->right);
}

// CHECK-DAG: function depth frame {{[0-9]+}} worst {{[0-9]+}}+unbounded
// CHECK-DAG: function walk frame [[F:[0-9]+]] worst {{[0-9]+}} depth 16
// CHECK-DAG: cycle unbounded: depth
// CHECK-DAG: cycle unbounded: {{is_even is_odd|is_odd is_even}}
// CHECK-DAG: cycle bounded depth 16: walk

// At -O2 the mutual recursion may be inlined into self recursion.
// REMARK-DAG: recursion.c:21:1: remark: unbounded recursion: depth ({{.*}}recursion.c:21) -> depth
// REMARK-DAG: remark: unbounded recursion: {{is_even|is_odd}} ({{.*}}recursion.c:{{[0-9]+}}) -> {{is_odd|is_even}}
// REMARK-DAG: remark: bounded recursion (declared depth 16): walk ({{.*}}recursion.c:34) -> walk

// WARN: warning: {{.*}}recursion.c:{{[0-9]+}}: capri: unbounded recursion:
// WARN-NOT: bounded recursion (declared
// ERR: error: {{.*}}recursion.c:{{[0-9]+}}: capri: unbounded recursion:
