// A recursion that overflows the 8 MiB main stack when built without the
// plugin completes when built with it: main's stack has a limit too, and
// the checkpoint on the recursive call continues on linked chunks. Plain
// pthreads get the same (libcapri interposes pthread_create).
//
// RUN: %clang -O1 %s -o %t.plain -lpthread
// RUN: not --crash sh -c 'ulimit -s 8192; exec %t.plain main'
// RUN: %capri-cc -O1 %s -o %t
// Not in the sanitizer build: main grows before the runtime has started,
// onto chunks mapped one by one, and ASan's shadow mappings on top of some
// 13,000 of them can exceed the kernel's map count (mmap fails at random).
// RUN: %if !asan %{ sh -c 'ulimit -s 8192; exec %t main' | FileCheck %s --check-prefix=MAIN %}
// RUN: sh -c 'ulimit -s 8192; exec %t pthread' | FileCheck %s --check-prefix=PTHREAD
//
// MAIN: main: depth 1000000
// PTHREAD: pthread: depth 1000000
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// About 100 bytes a level: 1,000,000 levels need some 100 MB of stack.
__attribute__((noinline)) static long deep(long n) {
  volatile char local[64];
  local[0] = (char)n;
  if (n == 0)
    return 0;
  return deep(n - 1) + 1 + (local[0] & 0);
}

static void *run(void *arg) {
  (void)arg;
  return (void *)deep(1000000);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "pthread") == 0) {
    pthread_t t;
    void *r;
    if (pthread_create(&t, NULL, run, NULL) || pthread_join(t, &r))
      return 1;
    printf("pthread: depth %ld\n", (long)r);
    return 0;
  }
  printf("main: depth %ld\n", deep(1000000));
  return 0;
}
