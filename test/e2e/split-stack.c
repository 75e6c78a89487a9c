// gcc split-stack code (-fsplit-stack) checks the stack limit word capri's
// checks use and calls __morestack with gcc's convention, which capri's
// __morestack does not take: it must never reach a capri program.
// capri-cc refuses it at the link (the objects' .note.GNU-split-stack, or a
// shared object's libgcc split-stack runtime), libcapri at start-up and at
// dlopen (a loaded object's dynamic symbols, or the note gold keeps in
// shared objects), capri-stack when it reads one. A normal gcc object
// still links and runs.
//
// REQUIRES: gcc-split-stack
// RUN: rm -rf %t && mkdir -p %t
// RUN: gcc -O2 -fsplit-stack -c %S/Inputs/split-stack-lib.c -o %t/split.o
// RUN: gcc -O2 -fsplit-stack -fPIC -c %S/Inputs/split-stack-lib.c -o %t/split-pic.o
// RUN: gcc -O2 -c %S/Inputs/split-stack-lib.c -o %t/plain.o
//
// RUN: %capri-cc -O2 %s %t/plain.o -o %t/prog
// RUN: %t/prog | FileCheck %s --check-prefix=RUNS
// RUNS: gcc_deep 820
//
// The link: an object, an archive's member found with -l, shared objects
// linked by ld.bfd, gold and lld.
// RUN: not %capri-cc -O2 %s %t/split.o -o %t/bad 2>&1 | FileCheck %s --check-prefix=OBJ -DDIR=%t
// OBJ: capri-cc: error: [[DIR]]/split.o contains gcc split-stack code (.note.GNU-split-stack section): it checks the stack limit word capri's checks use and calls __morestack with gcc's convention, which capri's stack-growth __morestack does not take; rebuild it without -fsplit-stack
// RUN: rm -f %t/libsplit.a && ar rc %t/libsplit.a %t/plain.o %t/split.o
// RUN: not %capri-cc -O2 %s -L %t -lsplit -o %t/bad 2>&1 | FileCheck %s --check-prefix=ARCHIVE -DDIR=%t
// ARCHIVE: capri-cc: error: [[DIR]]/libsplit.a(split.o) contains gcc split-stack code (.note.GNU-split-stack section)
// ARCHIVE-NOT: plain.o
// RUN: gcc -shared -fsplit-stack -fuse-ld=bfd %t/split-pic.o -o %t/libss-bfd.so
// RUN: not %capri-cc -O2 %s %t/libss-bfd.so -o %t/bad 2>&1 | FileCheck %s --check-prefix=RUNTIME -DLIB=%t/libss-bfd.so
// RUNTIME: capri-cc: error: [[LIB]] contains gcc split-stack code (it exports __splitstack_find, from libgcc's split-stack runtime)
// RUN: %if ld.gold %{ gcc -shared -fsplit-stack -fuse-ld=gold %t/split-pic.o -o %t/libss-gold.so %}
// RUN: %if ld.gold %{ not %capri-cc -O2 %s %t/libss-gold.so -o %t/bad 2>&1 | FileCheck %s --check-prefix=NOTE -DLIB=%t/libss-gold.so %}
// NOTE: capri-cc: error: [[LIB]] contains gcc split-stack code (.note.GNU-split-stack section)
// RUN: %if ld.lld %{ gcc -shared -fsplit-stack -fuse-ld=lld %t/split-pic.o -o %t/libss-lld.so %}
// RUN: %if ld.lld %{ not %capri-cc -O2 %s %t/libss-lld.so -o %t/bad 2>&1 | FileCheck %s --check-prefix=RUNTIME -DLIB=%t/libss-lld.so %}
//
// Start-up: the same shared objects, passed to the linker where capri-cc
// does not look (-Wl,).
// RUN: %capri-cc -O2 %s -Wl,%t/libss-bfd.so -Wl,-rpath,%t -o %t/linked-bfd
// RUN: not --crash %t/linked-bfd 2>&1 | FileCheck %s --check-prefix=START -DLIB=%t/libss-bfd.so
// START: capri: fatal: [[LIB]] contains gcc split-stack code (it exports __splitstack_find, from libgcc's split-stack runtime): it checks the stack limit word capri's checks use and grows stacks with another __morestack, which corrupts capri's stacks; rebuild it without -fsplit-stack
// START-NOT: gcc_deep
// RUN: %if ld.gold %{ %capri-cc -O2 %s -Wl,%t/libss-gold.so -Wl,-rpath,%t -o %t/linked-gold %}
// RUN: %if ld.gold %{ not --crash %t/linked-gold 2>&1 | FileCheck %s --check-prefix=START -DLIB=%t/libss-gold.so %}
// RUN: %if ld.lld %{ %capri-cc -O2 %s -Wl,%t/libss-lld.so -Wl,-rpath,%t -o %t/linked-lld %}
// RUN: %if ld.lld %{ not --crash %t/linked-lld 2>&1 | FileCheck %s --check-prefix=START -DLIB=%t/libss-lld.so %}
//
// dlopen: an object with capri records that holds split-stack code (linked
// without capri-cc) is refused when its records register. With libgcc's
// runtime hidden (--exclude-libs), gold's note in the file still shows it.
// RUN: %capri-cc -O2 -DHOST %s -o %t/host -ldl
// RUN: %clang-capri -O2 -fPIC -shared -fstack-size-section -Wl,--build-id %S/Inputs/split-stack-plug.c %t/split-pic.o -o %t/libplug.so
// RUN: not --crash %t/host %t/libplug.so 2>&1 | FileCheck %s --check-prefix=START -DLIB=%t/libplug.so
// RUN: %if ld.gold %{ %clang-capri -O2 -fPIC -shared -fstack-size-section -Wl,--build-id -fuse-ld=gold -Wl,--exclude-libs,ALL %S/Inputs/split-stack-plug.c %t/split-pic.o -o %t/libplug-gold.so %}
// RUN: %if ld.gold %{ not --crash %t/host %t/libplug-gold.so 2>&1 | FileCheck %s --check-prefix=GOLDNOTE -DLIB=%t/libplug-gold.so %}
// GOLDNOTE: capri: fatal: [[LIB]] contains gcc split-stack code (its file has a .note.GNU-split-stack section)
// A plain shared object of gcc's loads.
// RUN: gcc -O2 -shared -fPIC %S/Inputs/split-stack-lib.c -o %t/libplain.so
// RUN: %clang-capri -O2 -fPIC -shared -fstack-size-section -Wl,--build-id %S/Inputs/split-stack-plug.c -L%t -lplain -Wl,-rpath,%t -o %t/libplug-plain.so
// RUN: %t/host %t/libplug-plain.so | FileCheck %s --check-prefix=DLOPEN
// DLOPEN: plug_run 821
//
// capri-stack reads them as bad input (exit 2).
// RUN: %capri-stack %t/split.o 2> %t/stack-obj.err; test $? -eq 2
// RUN: FileCheck %s --check-prefix=STACK -DFILE=%t/split.o -DWHAT=.note.GNU-split-stack < %t/stack-obj.err
// RUN: %capri-stack %t/libss-bfd.so 2> %t/stack-so.err; test $? -eq 2
// RUN: FileCheck %s --check-prefix=STACK -DFILE=%t/libss-bfd.so "-DWHAT=it exports __splitstack_find, from libgcc's split-stack runtime" < %t/stack-so.err
// STACK: capri-stack: error: [[FILE]]: contains gcc split-stack code ([[WHAT]]); it uses the same thread-control-block word as capri's stack checks
#include <stdio.h>

#ifdef HOST
#include <dlfcn.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    int (*run)(int) = (int (*)(int))dlsym(h, "plug_run");
    if (!run)
        return 1;
    printf("plug_run %d\n", run(40));
    return 0;
}
#else
/* 40 levels of some 280 bytes: within the 16 KiB a call into code without
 * metadata is charged (stack verification holds it to that). */
int gcc_deep(int n);

int main(int argc, char **argv)
{
    (void)argv;
    printf("gcc_deep %d\n", gcc_deep(argc + 39));
    return 0;
}
#endif
