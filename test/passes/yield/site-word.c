// The site word end to end: a program built with the plugin, linked with a
// stand-in for libcapri's primitives (Inputs/site-reader.c, without the
// plugin) that takes the word at each primitive's entry and names the site
// from the linked records. Direct sites are named by themselves, a
// transitive call by the direct site inside it, an unknown (cross-file)
// call by itself while it runs, and the word is clear after it returns.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %clang-capri -O2 -g -c %s -o %t/prog.o
// RUN: %clang -O2 -c -I%src_root/runtime/metadata %S/Inputs/site-reader.c -o %t/reader.o
// RUN: %clang -O2 -c -I%src_root/runtime/metadata %src_root/runtime/metadata/capri_metadata.c -o %t/md.o
// RUN: %clang %t/prog.o %t/reader.o %t/md.o -o %t/prog
// RUN: %t/prog | FileCheck %s
// The word is one thread-local definition, weak, in a COMDAT group.
// RUN: llvm-readelf -s %t/prog.o | FileCheck %s --check-prefix=SYM
// SYM: TLS WEAK DEFAULT {{.*}} __capri_yield_site

#include <stdio.h>

void capri_yield(void);
int not_parking(int x);
void show_word(const char *when);
extern __thread const void *__capri_yield_site;

__attribute__((noinline)) static void wait_once(void)
{
    capri_yield(); // (line 27)
}

int main(void)
{
    capri_yield(); // CHECK: capri_yield: direct site {{[0-9]+}} in main at line [[@LINE]], primitive 'capri_yield', flags 1
    // The transitive call stores nothing: the direct site inside names the park.
    wait_once(); // CHECK-NEXT: capri_yield: direct site {{[0-9]+}} in wait_once at line 27, primitive 'capri_yield', flags 1
    int r = not_parking(1); // CHECK-NEXT: not_parking: unknown site {{[0-9]+}} in main at line [[@LINE]], primitive '', flags 1
    // Cleared after the unknown call returned (printf never parks: no store).
    printf("after: %s\n", __capri_yield_site ? "set" : "clear"); // CHECK-NEXT: after: clear
    show_word("show_word"); // CHECK-NEXT: show_word: unknown site {{[0-9]+}} in main at line [[@LINE]]
    return r == 2 ? 0 : 1;
}
