// A recursion that overflows the 8 MiB main stack when built without the
// plugin completes when built with it: main's stack has a limit too, and
// the checkpoint on the recursive call continues on linked chunks. Plain
// pthreads get the same (libcapri interposes pthread_create).
//
// RUN: %clang -O1 %s -o %t.plain -lpthread
// RUN: not --crash sh -c 'ulimit -s 8192; exec %t.plain main'
// RUN: %capri-cc -O1 %s -o %t
// Main grows before the runtime has started, and the pthread is not a
// capri thread: both take chunks from the pool, which starts on the first
// growth. (One mapping per chunk would put some 26,000 areas in the
// kernel's map, and, with ASan's shadow, go past its limit.)
// RUN: sh -c 'ulimit -s 8192; exec %t main' | FileCheck %s --check-prefix=MAIN
// RUN: sh -c 'ulimit -s 8192; exec %t pthread' | FileCheck %s --check-prefix=PTHREAD
// With mprotect guards the pool holds some 30,000 chunks (two memory areas
// each); stack verification would need one per level, a million.
// RUN: env CAPRI_GUARD_FORCE=mprotect CAPRI_VERIFY_STACKS=0 sh -c 'ulimit -s 8192; exec %t main' | FileCheck %s --check-prefix=MAIN
//
// MAIN: main: depth 1000000, few memory areas
// PTHREAD: pthread: depth 1000000, few memory areas
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// The number of memory areas at the deepest point: the pool's slabs keep
// it to hundreds, where a mapping per chunk would make it some 26,000.
static int areas_at_bottom;

__attribute__((noinline)) static void count_areas(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  int c, n = 0;
  if (!f)
    return;
  while ((c = getc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  areas_at_bottom = n;
}

// With guards from mprotect (kernels before MADV_GUARD_INSTALL) each
// guarded chunk is two areas, up to the pool's cap below the map limit.
// (The build without the plugin, which must crash, has no capri.h.)
#if __has_include(<capri.h>)
#include <capri.h>
static const char *areas_verdict(void) {
  struct capri_pool_stats st;
  if (areas_at_bottom <= 0 || capri_pool_stats(&st) != 0)
    return "no count of memory areas";
  return areas_at_bottom < 5000 || st.guard_mode != 2 ? "few memory areas"
                                                      : "too many memory areas";
}
#else
static const char *areas_verdict(void) { return "no count of memory areas"; }
#endif

// About 100 bytes a level: 1,000,000 levels need some 100 MB of stack.
__attribute__((noinline)) static long deep(long n) {
  volatile char local[64];
  local[0] = (char)n;
  if (n == 0) {
    count_areas();
    return 0;
  }
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
    printf("pthread: depth %ld, %s\n", (long)r, areas_verdict());
    return 0;
  }
  long depth = deep(1000000);
  printf("main: depth %ld, %s\n", depth, areas_verdict());
  return 0;
}
