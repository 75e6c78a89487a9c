// Bounds of a dlopen'ed shared object: its records register after the
// start-up pass, and their tables are rewritten at once, resolving calls
// across objects (the object calls host_leaf, defined in this program,
// exported with -rdynamic). Twice, with a dlclose between. With libcapri.so
// as well. A file on disk that is not the one loaded (a dependency's
// constructor swaps another build in before the object's records register)
// is refused with a warning, and its slots keep the plugin's values.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang -O2 -fPIC -shared %S/Inputs/bounds-swap.c -o %t/libswap.so
// RUN: %capri-cc -O2 -g -fPIC -shared -I%src_root/runtime/metadata -I%S/Inputs %S/Inputs/bounds-plug.c %S/Inputs/bounds-plug2.c -L%t -lswap -Wl,-rpath,%t -o %t/libplug.so
// RUN: %capri-cc -O2 -g -fPIC -shared -DVARIANT=7 -I%src_root/runtime/metadata -I%S/Inputs %S/Inputs/bounds-plug.c %S/Inputs/bounds-plug2.c -L%t -lswap -Wl,-rpath,%t -o %t/libplug-b.so
// RUN: %capri-cc -O2 -g -rdynamic %s -o %t/prog -ldl
// RUN: %t/prog %t/libplug.so 2>&1 | FileCheck %s
// The estimates, from a program compiled apart from its link (in the
// sanitizer build capri-cc adds AddressSanitizer when it links, and a
// sanitized module refuses CAPRI_BOUNDS=estimates).
// RUN: %capri-cc -O2 -g -c %s -o %t/prog.o
// RUN: %capri-cc -rdynamic %t/prog.o -o %t/prog-est -ldl
// RUN: env CAPRI_BOUNDS=estimates %t/prog-est %t/libplug.so 2>&1 | FileCheck %s --check-prefix=EST
// RUN: env CAPRI_RUNTIME=shared %capri-cc -O2 -g -rdynamic %s -o %t/prog-shared -ldl
// RUN: %t/prog-shared %t/libplug.so 2>&1 | FileCheck %s
//
// RUN: mkdir -p %t/swap && cp %t/libplug.so %t/swap/libplug.so && cp %t/libplug-b.so %t/swap/next.so
// RUN: env SWAP_FROM=%t/swap/next.so SWAP_TO=%t/swap/libplug.so %t/prog %t/swap/libplug.so once 2>&1 | FileCheck %s --check-prefix=SWAP
//
// CHECK-NOT: warning
// CHECK: round 0
// CHECK-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> plug_leaf region 16384 args 0 table {{[0-9]+}} changed
// CHECK-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> host_leaf region 16384 args 0 table {{[0-9]+}} changed
// CHECK: round 1
// CHECK-DAG: round1 slot bounds-plug.c:{{[0-9]+}} plug_run -> plug_leaf region 16384 args 0 table {{[0-9]+}} changed
// CHECK-DAG: round1 slot bounds-plug.c:{{[0-9]+}} plug_run -> host_leaf region 16384 args 0 table {{[0-9]+}} changed
// CHECK: done
//
// EST-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> plug_leaf region 16384 args 0 table 16384 same
// EST-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> host_leaf region 16384 args 0 table 16384 same
//
// SWAP: capri: warning: {{.*}}/swap/libplug.so: the file on disk is not the one loaded (build-ids differ): its checkpoints keep the plugin's bounds
// SWAP: round 0
// SWAP-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> plug_leaf region 16384 args 0 table 16384 same
// SWAP-DAG: round0 slot bounds-plug.c:{{[0-9]+}} plug_run -> host_leaf region 16384 args 0 table 16384 same
// SWAP: done
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) int host_leaf(int x)
{
    volatile char buf[200];
    buf[x % 200] = (char)x;
    return buf[(x + 1) % 200];
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int rounds = argc > 2 && strcmp(argv[2], "once") == 0 ? 1 : 2;
    for (int round = 0; round < rounds; round++) {
        void *h = dlopen(argv[1], RTLD_NOW);
        if (!h) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        int (*run)(int) = (int (*)(int))dlsym(h, "plug_run");
        void (*dump)(const char *) = (void (*)(const char *))dlsym(h, "plug_dump");
        if (!run || !dump)
            return 1;
        printf("round %d: %d\n", round, run(argc + round));
        dump(round ? "round1" : "round0");
        fflush(stdout);
        dlclose(h);
    }
    printf("done\n");
    return 0;
}
