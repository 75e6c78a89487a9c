// Loop yield points under full LTO: the pre-link compiles place none (and
// keep capri_no_yield_here() calls for the link), the options travel as
// module flags, and the link places the checks and deletes the calls; the
// program links without libcapri (the stub is weak, the opt-out call gone).
// Without LTO, the same: one check, the quiet loop none.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang-capri -flto -O2 -c %s -o %t/on.o
// RUN: %clang-capri -flto -O2 -mllvm -capri-loop-yield-points=0 -mllvm -capri-loop-min-trip=8 -c %s -o %t/off.o
// RUN: llvm-dis %t/on.o -o - | FileCheck %s --check-prefix=PRELINK
// RUN: llvm-dis %t/off.o -o - | FileCheck %s --check-prefix=FLAGS
// RUN: %clang -flto -fuse-ld=lld -O2 %t/on.o -o %t/on -Wl,--load-pass-plugin=%plugin
// RUN: %clang -flto -fuse-ld=lld -O2 %t/off.o -o %t/off -Wl,--load-pass-plugin=%plugin
// RUN: %t/on 1000 | FileCheck %s --check-prefix=RUNS
// RUN: llvm-objdump -d --no-show-raw-insn %t/on | FileCheck %s --check-prefix=ON
// RUN: llvm-objdump -d --no-show-raw-insn %t/off | FileCheck %s --check-prefix=OFF
// RUN: %clang-capri -O2 -c %s -o %t/plain.o
// RUN: llvm-objdump -d --no-show-raw-insn %t/plain.o | FileCheck %s --check-prefix=ON
//
// PRELINK-NOT: __capri_loop_yield
// PRELINK:     call void @capri_no_yield_here()
// PRELINK-NOT: __capri_loop_yield
// FLAGS-DAG: !{i32 7, !"capri-loop-yield-points", i32 0}
// FLAGS-DAG: !{i32 8, !"capri-loop-min-trip", i32 8}
// RUNS: 499500 499500
// ON-LABEL: <count>:
// ON:         testb $0x40, %fs:0x77
// ON-LABEL: <quiet>:
// ON-NOT:     %fs:0x77
// ON:         ret
// OFF-NOT:    %fs:0x77
#include <stdio.h>
#include <stdlib.h>

void capri_no_yield_here(void);

__attribute__((noinline)) long count(volatile long *a, long n) {
  long s = 0;
  for (long i = 0; i < n; i++)
    s += a[i & 7] + i;
  return s;
}

__attribute__((noinline)) long quiet(volatile long *a, long n) {
  long s = 0;
  for (long i = 0; i < n; i++) {
    capri_no_yield_here();
    s += a[i & 7] + i;
  }
  return s;
}

int main(int argc, char **argv) {
  volatile long a[8] = {0};
  long n = argc > 1 ? atol(argv[1]) : 10;
  printf("%ld %ld\n", count(a, n), quiet(a, n));
  return 0;
}
