// A call to a function another file defines: compiled alone, the call is a
// cross-file checkpoint with the reserve as its region. Linked into one
// module by full LTO, work is a function of the program like any other:
// main's call to it needs no check (work's frame is small), and work's call
// to leaf (a frame above 2 KiB) is a maxpath checkpoint.
// The options reach the plugin from clang through -mllvm.
//
// RUN: %clang -O0 -S -emit-llvm %s -o %t.main.ll
// RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %t.main.ll | FileCheck %s --check-prefix=FILE
//
// RUN: %clang -O0 -flto -c %s -o %t.main.bc
// RUN: %clang -O0 -flto -c %S/Inputs/checkpoints-callee.c -o %t.callee.bc
// RUN: llvm-link %t.main.bc %t.callee.bc -o %t.linked.bc
// RUN: %opt-capri -passes='print<capri-checkpoints>' -capri-instrument=0 -disable-output %t.linked.bc | FileCheck %s --check-prefix=LTO
//
// RUN: %clang-capri -O0 -g -c %s -o %t.o -Rpass-analysis=capri-checkpoint -mllvm -capri-external-reserve=100 2>&1 | FileCheck %s --check-prefix=REMARK

int work(int n);

int main(int argc, char **argv) {
  (void)argv;
  return work(argc);
}

// FILE:      function main
// FILE-NEXT:   checkpoint main -> work cross-file region 16384

// LTO:       whole program)
// LTO:       function main frame {{[0-9]+}} entry-region {{[0-9]+}}{{$}}
// LTO-NOT:     checkpoint
// LTO:       function work frame [[#WORK:]]
// LTO-SAME:    entry-region [[#WORK]]{{$}}
// LTO-NEXT:    checkpoint work -> leaf maxpath region [[#LEAF:]]
// LTO-NEXT:  function leaf frame [[#LEAF]] entry-region [[#LEAF]]

// REMARK: checkpoints-cross-module.c:22:10: remark: checkpoint (cross-file) at a call to work: region 100 bytes
