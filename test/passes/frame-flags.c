// Frame bounds and their flags: VLA (dynamic alloca), varargs (the 176-byte
// register save area), inline asm, setjmp (returns twice), over-aligned
// objects (realignment), at -O0 and -O2.
//
// RUN: %clang -O0 -S -emit-llvm %s -o %t.O0.ll
// RUN: %opt-capri -passes='print<capri-frame>' -disable-output %t.O0.ll | FileCheck %s --check-prefixes=CHECK,O0
// RUN: %clang -O2 -S -emit-llvm %s -o %t.O2.ll
// RUN: %opt-capri -passes='print<capri-frame>' -disable-output %t.O2.ll | FileCheck %s --check-prefixes=CHECK,O2
#include <setjmp.h>
#include <stdarg.h>

void consume(void *p, int n);

// CHECK: frame vla: {{.*}} dynamic-alloca
void vla(int n) {
  char buf[n];
  consume(buf, n);
}

// CHECK: frame sum: bound {{[0-9]+}} = {{.*}} + varargs 176 {{.*}} variadic
int sum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  int s = 0;
  for (int i = 0; i < n; i++)
    s += va_arg(ap, int);
  va_end(ap);
  return s;
}

// CHECK: frame with_asm: {{.*}} inline-asm
int with_asm(int x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}

static jmp_buf env;
// CHECK: frame with_setjmp: bound {{[0-9]+}} = allocas {{[1-9][0-9]*}} {{.*}} returns-twice
int with_setjmp(void) {
  volatile int local = 0;
  if (setjmp(env))
    return local;
  consume((void *)&local, 1);
  return 0;
}

// 64-byte alignment realigns the frame: the bound covers the realignment.
// CHECK: frame aligned: {{.*}} + realign 128
void aligned(void) {
  _Alignas(64) char block[256];
  consume(block, sizeof block);
}

// A big object dominates: the bound is at least its size.
// CHECK: frame big: bound {{[0-9]+}} = allocas 4096
void big(void) {
  char block[4096];
  consume(block, sizeof block);
}

// O0: frame leaf: {{.*}} optnone
// O2-NOT: frame leaf: {{.*}} optnone
int leaf(int a, int b) { return a * b + 1; }
