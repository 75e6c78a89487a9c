/* The C half of the x86-64 architecture code: preparing new contexts. */
#include "arch.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

long capri_arch_errno_offset;

void capri_arch_entry(void) __attribute__((visibility("hidden")));

void capri_arch_init(void)
{
    /* The thread pointer is the TCB's address, stored in the TCB itself at
     * %fs:0. */
    uintptr_t tp;
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    capri_arch_errno_offset = (long)((uintptr_t)&errno - tp);
}

void *capri_arch_prepare(void *stack_top, capri_arch_start_fn start, void *a, void *b)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    /* capri_arch_entry calls start with rsp 16-byte aligned at the call,
     * as the ABI wants: after the switch's `ret` pops the entry address,
     * rsp must be 16-aligned, so one padding word sits above the sentinel. */
    uint64_t *sp = (uint64_t *)top;
    *--sp = 0;                          /* padding */
    *--sp = 0;                          /* end of the call chain */
    *--sp = (uint64_t)(uintptr_t)capri_arch_entry;
    *--sp = 0;                          /* rbp */
    *--sp = 0;                          /* rbx */
    *--sp = (uint64_t)(uintptr_t)start; /* r12 */
    *--sp = (uint64_t)(uintptr_t)a;     /* r13 */
    *--sp = (uint64_t)(uintptr_t)b;     /* r14 */
    *--sp = 0;                          /* r15 */
    sp -= 3;                            /* limit word, errno, fp control */
    sp[0] = 0;
    sp[1] = 0;
    uint32_t mxcsr = 0x1f80;            /* all exceptions masked, nearest */
    uint16_t x87 = 0x037f;              /* the same for x87, 64-bit precision */
    memcpy((char *)&sp[2], &mxcsr, 4);
    memcpy((char *)&sp[2] + 4, &x87, 2);
    return sp;
}

void capri_arch_set_limit(void *sp, unsigned long limit)
{
    /* The limit word is the lowest slot of a saved context (x86_64.S). */
    ((uint64_t *)sp)[0] = limit;
}
