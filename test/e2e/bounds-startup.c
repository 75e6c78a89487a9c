// Bounds at start-up: before main, libcapri rewrites the bounds-table slots
// of the program's checkpoints from the backend's frame sizes. The program
// prints every table slot (Inputs/bounds_dump.h) from a constructor that
// runs before libcapri's rewrite (static libcapri: the rewrite runs at
// constructor priority 102) and from main; check_bounds.py compares a run
// with CAPRI_BOUNDS=estimates (the plugin's values stand) with a default
// run: a rewritten slot is never above the plugin's bound for this ordinary
// code (under ASan it may be: the sanitizer's runtime calls are charged the
// external reserve), never below the backend's truth (the callee's corrected frame plus
// the stack arguments; exactly that for a leaf callee), and a slot whose
// callee has no metadata (printf) keeps the plugin's value. Also as a PIE,
// with libcapri.so (whose constructor runs before the program's records
// register: they are rewritten as they register), and at -O0.
// In the sanitizer build the programs are built with AddressSanitizer,
// which refuses CAPRI_BOUNDS=estimates (sanitizer-stack-sizes.c): there the
// plugin's bounds are the slots printed before the rewrite ("early" in
// place of the estimates run), and the libcapri.so variant, whose rewrite
// comes first, only runs.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %capri-cc -O2 -g -I%src_root/runtime/metadata -I%S/Inputs %s %S/Inputs/bounds-other.c -o %t/prog
// RUN: %capri-stack --format json --output %t/prog.json %t/prog
// RUN: %if !asan %{ env CAPRI_BOUNDS=estimates %t/prog > %t/est %}
// RUN: %if asan %{ env CAPRI_BOUNDS=estimates not --crash %t/prog 2>&1 | FileCheck %s --check-prefix=ASAN-EST %}
// RUN: env CAPRI_BOUNDS_STATS=1 %t/prog > %t/rew 2> %t/stats
// RUN: python3 %S/Inputs/check_bounds.py %t/prog.json %if asan %{early%} %else %{%t/est%} %t/rew early %if asan %{sanitized%} | FileCheck %s
// ASAN-EST: is instrumented by AddressSanitizer but has no backend frame sizes (CAPRI_BOUNDS=estimates is set)
//
// RUN: %capri-cc -O2 -g -fPIE -pie -I%src_root/runtime/metadata -I%S/Inputs %s %S/Inputs/bounds-other.c -o %t/pie
// RUN: %capri-stack --format json --output %t/pie.json %t/pie
// RUN: %if !asan %{ env CAPRI_BOUNDS=estimates %t/pie > %t/pie.est %}
// RUN: %t/pie > %t/pie.rew
// RUN: python3 %S/Inputs/check_bounds.py %t/pie.json %if asan %{early%} %else %{%t/pie.est%} %t/pie.rew early %if asan %{sanitized%} | FileCheck %s
//
// RUN: env CAPRI_RUNTIME=shared %capri-cc -O2 -g -I%src_root/runtime/metadata -I%S/Inputs %s %S/Inputs/bounds-other.c -o %t/shared
// RUN: %capri-stack --format json --output %t/shared.json %t/shared
// RUN: %if !asan %{ env CAPRI_BOUNDS=estimates %t/shared > %t/shared.est %}
// RUN: %t/shared > %t/shared.rew
// RUN: %if !asan %{ python3 %S/Inputs/check_bounds.py %t/shared.json %t/shared.est %t/shared.rew | FileCheck %s %}
//
// RUN: %capri-cc -O0 -g -I%src_root/runtime/metadata -I%S/Inputs %s %S/Inputs/bounds-other.c -o %t/o0
// RUN: %capri-stack --format json --output %t/o0.json %t/o0
// RUN: %if !asan %{ env CAPRI_BOUNDS=estimates %t/o0 > %t/o0.est %}
// RUN: %t/o0 > %t/o0.rew
// RUN: python3 %S/Inputs/check_bounds.py %t/o0.json %if asan %{early%} %else %{%t/o0.est%} %t/o0.rew early %if asan %{sanitized%} | FileCheck %s
//
// CHECK: estimates: every slot holds the plugin's bound
// CHECK: rewritten: other_leaf exact, other_chain at least its frame, other_args with its stack arguments, printf kept
// CHECK: ok: {{[0-9]+}} slots, {{[0-9]+}} lower
//
// RUN: %if !asan %{ FileCheck %s --check-prefix=STATS < %t/stats %}
// STATS: capri: bounds: objects 1, records 2, functions {{[0-9]+}} (backend frames {{[0-9]+}}); slots {{[0-9]+}}: rewritten {{[1-9][0-9]*}} (lower {{[1-9][0-9]*}}, higher 0, same {{[0-9]+}}), kept {{[1-9][0-9]*}} (no metadata {{[1-9][0-9]*}}, cycle 0); small checks over the slack 0; files {{[0-9]+}} us, records {{[0-9]+}} us, names {{[0-9]+}} us, walk {{[0-9]+}} us, slots {{[0-9]+}} us; {{[0-9]+}} us
#include <stdio.h>

#include "bounds_dump.h"

int other_leaf(int x);
int other_chain(int x);
long other_args(long a, long b, long c, long d, long e, long f, long g, long h);

// Recursion: a cycle checkpoint on the recursive call, a table slot (the
// frame is larger than the slack).
__attribute__((noinline)) static int deep(int n)
{
    volatile char buf[600];
    buf[n % 600] = (char)n;
    if (n <= 0)
        return buf[0];
    return deep(n - 1) + buf[(n + 1) % 600];
}

// Two frames that together exceed MaxPath (2 KiB): a maxpath checkpoint.
__attribute__((noinline)) static int big2(int n)
{
    volatile char buf[1500];
    buf[n % 1500] = (char)n;
    return buf[(n + 5) % 1500];
}

__attribute__((noinline)) static int big1(int n)
{
    volatile char buf[1500];
    buf[n % 1500] = (char)n;
    return big2(n + 1) + buf[(n + 2) % 1500];
}

__attribute__((constructor(101))) static void early(void) { bounds_dump("early"); }

int main(int argc, char **argv)
{
    (void)argv;
    bounds_dump("main");
    /* From argc, so no call is specialised for a constant. */
    int n = argc + 2;
    long sum = deep(n + 17) + big1(n) + other_leaf(n + 1) + other_chain(n + 2) +
               other_args(n, 2, 3, 4, 5, 6, 7, n + 5);
    printf("result %ld\n", sum);
    return 0;
}
