// The slow path makes the original call from a thunk, with the arguments
// passed through a block: varargs with double and long double, a struct
// passed by value (byval, larger than a page), a struct returned through a
// hidden pointer (sret), an indirect call. Each call is made with the
// stack pointer just above the thread's limit, so its checkpoint takes the
// slow path; the output shows the arguments arrived, and that the callee
// ran on a chunk deeper than its caller's.
//
// The stack pointer is placed by hand with alloca, which AddressSanitizer's
// alloca redzones defeat.
// UNSUPPORTED: asan
// near_limit moves the stack pointer close to the limit with an unchecked
// alloca, on purpose: stack verification rightly reports that, and so
// would stack-clash probes (at_limit's frame, with its 5,000-byte outgoing
// argument, reaches below the limit), which capri-cc turns on: off here.
// UNSUPPORTED: verify-stacks
// RUN: %capri-cc -fno-stack-clash-protection -O2 %s -o %t.o2 && %t.o2 | FileCheck %s
// RUN: %capri-cc -fno-stack-clash-protection -O0 %s -o %t.o0 && %t.o0 | FileCheck %s
// RUN: %capri-cc -fno-stack-clash-protection -O1 -fno-omit-frame-pointer %s -o %t.fp && %t.fp | FileCheck %s
//
// CHECK: varargs: 11.25 on a new chunk
// CHECK-NEXT: byval: 2487500 on a new chunk
// CHECK-NEXT: sret: 42 49 on a new chunk
// CHECK-NEXT: indirect: 7 on a new chunk
#include <capri.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

unsigned __capri_chunk_depth(void);

static unsigned callee_depth;
// A run-time index keeps each callee's whole frame array (and so a region
// larger than what near_limit leaves).
static volatile int slot = 7;

// (Without bit 61, which stack verification sets in every limit.)
static uintptr_t limit_now(void) {
  uintptr_t v;
  __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
  return v & ~((uintptr_t)1 << 61);
}

__attribute__((noinline)) static long double vsum(int n, ...) {
  volatile char frame[1024];
  frame[slot] = 0;
  callee_depth = __capri_chunk_depth();
  va_list ap;
  va_start(ap, n);
  long double s = 0;
  for (int i = 0; i < n; i++)
    s += i % 2 ? va_arg(ap, long double) : va_arg(ap, double);
  va_end(ap);
  return s + frame[slot];
}

struct big {
  unsigned char bytes[5000];
};

__attribute__((noinline)) static long byval_sum(struct big b, int k) {
  volatile char frame[512];
  frame[slot] = 0;
  callee_depth = __capri_chunk_depth();
  long s = 0;
  for (int i = 0; i < 5000; i++)
    s += b.bytes[i];
  return s * k + frame[slot];
}

struct pair {
  long v[8];
};

__attribute__((noinline)) static struct pair make(long x) {
  volatile char frame[1024];
  frame[slot] = 0;
  callee_depth = __capri_chunk_depth();
  struct pair p;
  for (int i = 0; i < 8; i++)
    p.v[i] = x + i + frame[slot];
  return p;
}

__attribute__((noinline)) static int seven(int x) {
  volatile char frame[1024];
  frame[slot] = 0;
  callee_depth = __capri_chunk_depth();
  return x + 4 + frame[slot];
}

static int (*volatile seven_ptr)(int) = seven;
static struct big big_arg;

static const char *where(unsigned before) {
  // (Deeper by one, or more: the callee's own checkpoints may grow again.)
  return callee_depth > before ? "on a new chunk" : "on the same chunk";
}

// Makes the call `which` with about 200 bytes left above the limit: every
// call here is a checkpoint, and each callee's region is larger.
__attribute__((noinline, annotate("capri.checkpoint_all"))) static void at_limit(int which,
                                                                              unsigned before) {
  switch (which) {
  case 0: {
    long double s = vsum(4, 1.5, 2.5L, 3.0, 4.25L);
    printf("varargs: %.2Lf %s\n", s, where(before));
    break;
  }
  case 1: {
    long s = byval_sum(big_arg, 5);
    printf("byval: %ld %s\n", s, where(before));
    break;
  }
  case 2: {
    struct pair p = make(42);
    printf("sret: %ld %ld %s\n", p.v[0], p.v[7], where(before));
    break;
  }
  case 3: {
    int r = seven_ptr(3);
    printf("indirect: %d %s\n", r, where(before));
    break;
  }
  }
}

// Moves the stack pointer to a few hundred bytes above the limit with an
// alloca (unchecked: placement is off here), then calls at_limit.
__attribute__((noinline, annotate("capri.no_checkpoints"))) static void near_limit(int which) {
  unsigned before = __capri_chunk_depth();
  char here;
  uintptr_t room = (uintptr_t)&here - limit_now();
  volatile char *pad = __builtin_alloca(room > 1024 ? room - 400 : 16);
  pad[0] = 0;
  at_limit(which, before);
}

static void *run(void *arg) {
  (void)arg;
  for (int i = 0; i < 4; i++)
    near_limit(i);
  return NULL;
}

int main(void) {
  for (int i = 0; i < 5000; i++)
    big_arg.bytes[i] = (unsigned char)(i % 200);
  capri_attr_t attr = {.stack_size = 64 * 1024};
  capri_t t;
  if (capri_spawn(&t, run, NULL, &attr) || capri_join(t, NULL))
    return 1;
  return 0;
}
