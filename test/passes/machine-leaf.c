// Which functions may keep data in the red zone (128 bytes below rsp, which
// readers add to a leaf's backend figure): a function is a leaf unless its
// machine code certainly calls. A call in tail position may become a jump
// after the frame is gone, so it leaves the function a possible leaf.
// Thread-local access in shared-object code calls __tls_get_addr; the
// stack protector calls __stack_chk_fail. Whatever code generation decides,
// no estimate may be below the corrected backend size.
//
// RUN: %clang -O2 -fPIC -S -emit-llvm %s -o %t.ll
// RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %t.ll | FileCheck %s
// RUN: %clang -O2 -fPIC -fstack-protector-all -S -emit-llvm %s -o %t.ssp.ll
// RUN: %opt-capri -passes='print<capri-callgraph>' -disable-output %t.ssp.ll | FileCheck %s --check-prefix=SSP
//
// RUN: %capri-cc -O2 -fPIC -c %s -o %t.o
// RUN: %capri-stack verify %t.o | FileCheck %s --check-prefix=VERIFY
// RUN: %capri-cc -O0 -fPIC -c %s -o %t.O0.o
// RUN: %capri-stack verify %t.O0.o | FileCheck %s --check-prefix=VERIFY
// RUN: %capri-cc -O2 -fPIC -fstack-protector-all -c %s -o %t.ssp.o
// RUN: %capri-stack verify %t.ssp.o | FileCheck %s --check-prefix=VERIFY
// RUN: %capri-cc -O0 -fstack-protector-strong -c %s -o %t.ssp0.o
// RUN: %capri-stack verify %t.ssp0.o | FileCheck %s --check-prefix=VERIFY
// VERIFY: Underestimates: 0

void sink(volatile char *p, int n);
__thread int counter;

// CHECK: function local_buf_tail {{.*}}leaf
// SSP: function local_buf_tail type
void local_buf_tail(int n) {
  volatile char buf[100];
  for (int i = 0; i < 100; i++)
    buf[i] = (char)(i + n);
  sink(0, buf[n % 100]);
}

// CHECK: function count_up type
// CHECK-NEXT: call external __tls_get_addr codegen
int count_up(void) { return ++counter; }

// CHECK: function pure_leaf leaf
// SSP: function pure_leaf type
int pure_leaf(int a, int b) { return a * b + 1; }
