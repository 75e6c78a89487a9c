// A module a sanitizer instrumented (after the plugin ran: the plugin's
// frame estimates cannot see what the sanitizer adds) runs only with the
// backend's frame sizes: without them libcapri refuses to start, naming the
// object, the module, the sanitizer and the fix. With .stack_sizes the
// program runs; a module without a sanitizer still runs on the estimates.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %capri-cc -O2 -g -fsanitize=address %s -o %t/asan
// RUN: %t/asan | FileCheck %s --check-prefix=RUNS
// RUNS: deep {{-?[0-9]+}}
//
// .stack_sizes removed, stripped with llvm-strip, or not used.
// RUN: llvm-objcopy --remove-section=.stack_sizes %t/asan %t/asan.nosizes
// RUN: not --crash %t/asan.nosizes 2>&1 | FileCheck %s --check-prefix=NOSIZES -DFILE=%t/asan.nosizes
// NOSIZES: capri: fatal: [[FILE]]: module {{.*}}sanitizer-stack-sizes.c is instrumented by AddressSanitizer but has no backend frame sizes (its file has no .stack_sizes for it), and the plugin's estimates do not cover the sanitizer's frames: keep .stack_sizes (build with capri-cc, which adds -fstack-size-section; do not remove it: llvm-strip and objcopy --remove-section do)
// NOSIZES-NOT: deep
// RUN: llvm-strip %t/asan -o %t/asan.stripped
// RUN: not --crash %t/asan.stripped 2>&1 | FileCheck %s --check-prefix=NOSIZES -DFILE=%t/asan.stripped
// RUN: env CAPRI_BOUNDS=estimates not --crash %t/asan 2>&1 | FileCheck %s --check-prefix=ESTIMATES -DFILE=%t/asan
// ESTIMATES: capri: fatal: [[FILE]]: module {{.*}}sanitizer-stack-sizes.c is instrumented by AddressSanitizer but has no backend frame sizes (CAPRI_BOUNDS=estimates is set), and the plugin's estimates do not cover the sanitizer's frames: unset CAPRI_BOUNDS
// Per module: one built without -fstack-size-section (the plugin alone, not
// capri-cc) next to one with it.
// RUN: %clang-capri -O2 -g -fsanitize=address -fsanitize=kcfi -fno-sanitize=function -DSECOND -c %s -o %t/second.o
// RUN: %capri-cc -O2 -g -fsanitize=address %s %t/second.o -o %t/mixed
// RUN: not --crash %t/mixed 2>&1 | FileCheck %s --check-prefix=MIXED -DFILE=%t/mixed
// MIXED: capri: fatal: [[FILE]]: module {{.*}}sanitizer-stack-sizes.c is instrumented by AddressSanitizer but has no backend frame sizes (its file has no .stack_sizes for it)
//
// A dlopen'ed object is refused when its records register.
// RUN: %capri-cc -O2 -g -fsanitize=address -fPIC -shared -DPLUGIN %s -o %t/libplug.so
// RUN: llvm-objcopy --remove-section=.stack_sizes %t/libplug.so %t/libplug-nosizes.so
// RUN: %capri-cc -O2 -g -fsanitize=address -DHOST %s -o %t/host -ldl
// RUN: %t/host %t/libplug.so | FileCheck %s --check-prefix=PLUG
// PLUG: plug 3
// RUN: not --crash %t/host %t/libplug-nosizes.so 2>&1 | FileCheck %s --check-prefix=NOSIZES -DFILE=%t/libplug-nosizes.so
// The file on disk is not the one loaded (a dependency's constructor swaps
// another build in before the object's records register): no backend
// sizes either.
// RUN: %clang -O2 -fPIC -shared %S/Inputs/bounds-swap.c -o %t/libswap.so
// RUN: mkdir -p %t/swap
// RUN: %capri-cc -O2 -g -fsanitize=address -fPIC -shared -DPLUGIN %s -L%t -lswap -Wl,-rpath,%t -o %t/swap/libplug.so
// RUN: %capri-cc -O2 -g -fsanitize=address -fPIC -shared -DPLUGIN -DVARIANT %s -L%t -lswap -Wl,-rpath,%t -o %t/swap/next.so
// RUN: env SWAP_FROM=%t/swap/next.so SWAP_TO=%t/swap/libplug.so not --crash %t/host %t/swap/libplug.so 2>&1 | FileCheck %s --check-prefix=SWAPPED -DFILE=%t/swap/libplug.so
// SWAPPED: capri: fatal: [[FILE]]: module {{.*}}sanitizer-stack-sizes.c is instrumented by AddressSanitizer but has no backend frame sizes (the file on disk is not the one loaded), and the plugin's estimates do not cover the sanitizer's frames: run the file that was built, linked with --build-id (capri-cc adds it)
//
// Without a sanitizer the estimates stand: stripped, and forced (compiled
// apart from the link: in a sanitized capri build capri-cc adds the
// runtime's sanitizers when it links).
// RUN: %capri-cc -O2 -g -c %s -o %t/plain.o
// RUN: %capri-cc %t/plain.o -o %t/plain
// RUN: llvm-objcopy --remove-section=.stack_sizes %t/plain %t/plain.nosizes
// RUN: %t/plain.nosizes | FileCheck %s --check-prefix=RUNS
// RUN: env CAPRI_BOUNDS=estimates %t/plain | FileCheck %s --check-prefix=RUNS
//
// capri-stack says so, and names the sanitizer in its JSON.
// RUN: %capri-stack %t/asan.stripped | FileCheck %s --check-prefix=STACK -DFILE=%t/asan.stripped
// STACK: note: [[FILE]]: module {{.*}}sanitizer-stack-sizes.c is instrumented by AddressSanitizer but the file has no .stack_sizes: libcapri refuses to start it
// RUN: %capri-stack --format json %t/asan | FileCheck %s --check-prefix=JSON
// JSON: "sanitizers": [
// JSON-NEXT: "AddressSanitizer"
// RUN: %capri-stack --format json %t/plain.o | FileCheck %s --check-prefix=JSON-NONE
// JSON-NONE: "sanitizers": []
#include <stdio.h>

#ifdef PLUGIN
#ifdef VARIANT
int plug(int n) { return n + 2; }
#else
int plug(int n) { return n + 1; }
#endif
#elif defined(SECOND)
int second(int n)
{
    volatile char buf[100];
    buf[n % 100] = (char)n;
    return buf[(n + 1) % 100];
}
#else
#include <dlfcn.h>


__attribute__((noinline)) static int deep(int n)
{
    volatile char buf[600];
    buf[n % 600] = (char)n;
    if (n <= 0)
        return buf[0];
    return deep(n - 1) + buf[(n + 1) % 600];
}

int second(int n) __attribute__((weak));

int main(int argc, char **argv)
{
#ifdef HOST
    void *h = dlopen(argv[1], RTLD_NOW);
    int (*plug)(int) = h ? (int (*)(int))dlsym(h, "plug") : NULL;
    if (!plug) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    printf("plug %d\n", plug(argc));
#endif
    (void)argv;
    printf("deep %d\n", deep(argc + 100) + (second ? second(argc) : 0));
    return 0;
}
#endif
