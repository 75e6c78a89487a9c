// Plugin options reach a full-LTO link as module flags written by the
// pre-link compiles (lld cannot take -mllvm options for a plugin). With a
// small MaxPath the linked program gets checkpoints the default does not
// need.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang-capri -flto -O1 -c %s -o %t/default.o
// RUN: %clang-capri -flto -O1 -mllvm -capri-max-path=300 -c %s -o %t/small.o
// RUN: llvm-dis %t/small.o -o - | FileCheck %s --check-prefix=FLAGS
// RUN: %clang -flto -fuse-ld=lld -O1 %t/default.o -o %t/default -Wl,--load-pass-plugin=%plugin
// RUN: %clang -flto -fuse-ld=lld -O1 %t/small.o -o %t/small -Wl,--load-pass-plugin=%plugin
// Each checkpoint's slow path has a thunk (one per callee here).
// RUN: llvm-nm %t/default | FileCheck %s --check-prefix=DEFAULT
// RUN: llvm-nm %t/small | FileCheck %s --check-prefix=SMALL
//
// FLAGS-DAG: !{i32 8, !"capri-max-path", i32 300}
// FLAGS-DAG: !{i32 7, !"capri-external-reserve", i32 16384}
// FLAGS-DAG: !{i32 1, !"capri-slack", i32 256}
// DEFAULT-NOT: capri.thunk
// SMALL-DAG: middle.capri.thunk
// SMALL-DAG: upper.capri.thunk

volatile int sink;

__attribute__((noinline)) static void leaf(int x) {
  volatile char frame[120];
  frame[x & 7] = (char)x;
  sink = frame[x & 3];
}

__attribute__((noinline)) static void middle(int x) {
  volatile char frame[120];
  frame[x & 7] = (char)x;
  leaf(x + frame[1]);
}

__attribute__((noinline)) static void upper(int x) {
  volatile char frame[120];
  frame[x & 7] = (char)x;
  middle(x + frame[1]);
}

int main(int argc, char **argv) {
  (void)argv;
  upper(argc);
  return 0;
}
