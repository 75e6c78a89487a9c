// A CAPRI_RECURSION_BOUND that is not a depth from 1 to 2^32-1 is ignored
// with a warning (the cycle stays unbounded), never silently.
//
// RUN: %clang-capri -O0 -g -c -I%src_root/runtime/include %s -o %t.o 2>&1 | FileCheck %s
#include <capri.h>

// CHECK-DAG: warning: {{.*}}recursion-bound-malformed.c:[[#@LINE+1]]: capri: CAPRI_RECURSION_BOUND(0) on zero_bound is not a depth
CAPRI_RECURSION_BOUND(0) int zero_bound(int n) { return n ? zero_bound(n - 1) : 0; }
// CHECK-DAG: warning: {{.*}}recursion-bound-malformed.c:[[#@LINE+1]]: capri: CAPRI_RECURSION_BOUND(abc) on word_bound is not a depth
CAPRI_RECURSION_BOUND(abc) int word_bound(int n) { return n ? word_bound(n - 1) : 0; }
// CHECK-DAG: warning: {{.*}}capri: CAPRI_RECURSION_BOUND(99999999999) on huge_bound is not a depth
CAPRI_RECURSION_BOUND(99999999999) int huge_bound(int n) { return n ? huge_bound(n - 1) : 0; }
// CHECK-NOT: good_bound is not a depth
CAPRI_RECURSION_BOUND(8) int good_bound(int n) { return n ? good_bound(n - 1) : 0; }
