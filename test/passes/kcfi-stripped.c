// A KCFI-compiled program that calls libc through function pointers runs:
// the plugin keeps the type hashes as its own metadata and removes every
// KCFI check and type prefix (libc has none, so a check would trap with
// SIGILL on the first indirect call into it).
//
// RUN: %clang-capri -O0 -fsanitize=kcfi -fno-sanitize=function %s -o %t.O0
// RUN: %t.O0 | FileCheck %s --check-prefix=OUT
// RUN: %clang-capri -O2 -fsanitize=kcfi -fno-sanitize=function %s -o %t.O2
// RUN: %t.O2 | FileCheck %s --check-prefix=OUT
// RUN: llvm-readelf -S -s %t.O2 | FileCheck %s --check-prefix=ELF
// RUN: %clang-capri -O2 -fsanitize=kcfi -fno-sanitize=function -S -emit-llvm %s -o - | FileCheck %s --check-prefix=IR
//
// Without the plugin, the same program dies on the first indirect call into
// libc, which shows the check above can fail.
// RUN: %clang -O0 -fsanitize=kcfi -fno-sanitize=function %s -o %t.kcfi
// RUN: not --crash %t.kcfi
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

int main(void) {
  int (*print)(const char *) = puts;
  size_t (*length)(const char *) = strlen;
  void (*sort)(void *, size_t, size_t, int (*)(const void *, const void *)) = qsort;
  int values[] = {3, 1, 2};
  sort(values, 3, sizeof values[0], compare);
  char line[64];
  snprintf(line, sizeof line, "sorted %d %d %d, length %zu", values[0], values[1], values[2],
           length("four"));
  print(line);
  return 0;
}

// OUT: sorted 1 2 3, length 4
// ELF-NOT: .kcfi_traps
// ELF-NOT: __cfi_
// ELF-NOT: __kcfi_typeid
// IR-NOT: "kcfi"
// IR-NOT: !kcfi_type
// IR: !capri.type_id
