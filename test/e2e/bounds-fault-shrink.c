// Fault injection: CAPRI_FAULT_SHRINK_BOUNDS=1 sets every bounds-table slot
// to 0 at start-up, so a table check passes while the stack pointer is above
// the limit at all, whatever the call needs. A capri thread on a 4 KiB first
// chunk calls a recursion whose frames (3900 bytes) do not fit: normally the
// checkpoint on the first call (a table slot: the region is above the slack)
// grows the stack and the recursion completes; with the switch the frame
// lands in the chunk's guard page and the program dies with capri's
// overflow report naming the thread and the function (-rdynamic, so dladdr
// knows it). Small checks (regions within the slack) compare the stack
// pointer with the limit alone and are not affected.
//
// RUN: %capri-cc -O2 -rdynamic %s -o %t
// RUN: %t | FileCheck %s --check-prefix=GROWS
// (Stack verification would report the shrunk bound first: verify-stacks.c.)
// RUN: env ASAN_OPTIONS=handle_segv=0 CAPRI_FAULT_SHRINK_BOUNDS=1 CAPRI_VERIFY_STACKS=0 not --crash %t 2>&1 | FileCheck %s
//
// GROWS: result 200
// CHECK: capri: stack overflow in thread {{[0-9]+}} "deep" at 0x
// CHECK-NEXT: in recurse+0x
// CHECK-NOT: result
#include <capri.h>
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) long recurse(long n)
{
    volatile char frame[3900];
    frame[0] = (char)n; /* the lowest byte first */
    frame[sizeof frame - 1] = (char)n;
    if (n == 0)
        return 0;
    return recurse(n - 1) + 1 + (frame[n % sizeof frame] & 0);
}

static void *run(void *arg)
{
    return (void *)recurse((long)(intptr_t)arg);
}

int main(void)
{
    capri_attr_t attr = {.name = "deep", .stack_size = 4096};
    capri_t t;
    void *result;
    if (capri_spawn(&t, run, (void *)(intptr_t)200, &attr) != 0 || capri_join(t, &result) != 0)
        return 1;
    printf("result %ld\n", (long)(intptr_t)result);
    return 0;
}
