// Sanitizers run after the plugin (the IR here is taken before any pass
// runs, as the plugin would see it); the runtime calls they add are call
// edges into code without metadata, so paths charge them.
//
// RUN: %clang -O2 -fsanitize=address -Xclang -disable-llvm-passes -S -emit-llvm %s -o %t.asan.ll
// RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %t.asan.ll | FileCheck %s --check-prefix=ASAN
// RUN: %clang -O2 -fsanitize=thread -Xclang -disable-llvm-passes -S -emit-llvm %s -o %t.tsan.ll
// RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %t.tsan.ll | FileCheck %s --check-prefix=TSAN
// RUN: %clang -O2 -fsanitize=memory -Xclang -disable-llvm-passes -S -emit-llvm %s -o %t.msan.ll
// RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %t.msan.ll | FileCheck %s --check-prefix=MSAN

// ASAN: function load_it
// ASAN-NEXT: call external __asan_report_load_n codegen
// TSAN: function load_it
// TSAN-NEXT: call external __tsan_func_entry codegen
// MSAN: function load_it
// MSAN-NEXT: call external __msan_warning_noreturn codegen
int load_it(int *p) { return *p + 1; }
