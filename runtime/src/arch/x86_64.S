/*
 * x86-64 context switch for libcapri (System V ABI).
 *
 * A saved context, from its stack pointer upwards:
 *   0   stack-limit word (%fs:0x70)
 *   8   errno (at %fs:capri_arch_errno_offset)
 *   16  mxcsr (4 bytes), x87 control word (2 bytes), padding
 *   24  r15, r14, r13, r12, rbx, rbp
 *   72  return address
 * The ABI makes mxcsr's control bits and the x87 control word callee-saved;
 * everything else is caller-saved and already spilled by the caller.
 */
    .text

/*
 * Saves the running context, stores its stack pointer in *save_sp (%rdi),
 * loads the context at load_sp (%rsi) and restores it, leaving prev (%rdx)
 * in %rax. The caller's return address is then at (%rsp).
 */
.macro SWITCH_BODY
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    subq    $24, %rsp
    .cfi_adjust_cfa_offset 24
    stmxcsr 16(%rsp)
    fnstcw  20(%rsp)
    movq    capri_arch_errno_offset(%rip), %rax
    movl    %fs:(%rax), %ecx
    movq    %rcx, 8(%rsp)
    movq    %fs:0x70, %rcx
    movq    %rcx, 0(%rsp)

    movq    %rsp, (%rdi)            /* the old context is saved */
    movq    %rsi, %rsp              /* from here on: the new context */

    movq    0(%rsp), %rcx
    movq    %rcx, %fs:0x70
    movq    8(%rsp), %rcx
    movl    %ecx, %fs:(%rax)
    ldmxcsr 16(%rsp)
    fldcw   20(%rsp)
    addq    $24, %rsp
    .cfi_adjust_cfa_offset -24
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    movq    %rdx, %rax              /* the resumed side gets `prev` */
.endm

/*
 * Two endings, because the return-stack predictor pairs every `ret` with
 * the last `call` on this kernel thread:
 *
 * capri_arch_switch ends with `ret`: right when the resumed context is one
 * that suspended itself in a switch. The stack of predicted returns stays
 * balanced, so the returns the resumed thread makes next are predicted from
 * the entries the switching thread pushed, which match whenever the two
 * threads suspend through the same calls (the common case: yield, block).
 * Ending with a jump instead leaves one stale entry, and every return after
 * the switch is then mispredicted (measured: 19 ns per yield against 10).
 *
 * capri_arch_switch_jump ends with `pop; jmp`: right when there is no
 * matching call on the other side, i.e. the first start of a new context
 * (it "returns" into capri_arch_entry) and the last switch of an ending
 * thread. A `ret` is mispredicted there every time; the jump's target is
 * learned from its own history.
 */
/* void *capri_arch_switch(void **save_sp, void *load_sp, void *prev) */
    .globl  capri_arch_switch
    .type   capri_arch_switch, @function
    .p2align 4
capri_arch_switch:
    SWITCH_BODY
    ret
    .cfi_endproc
    .size   capri_arch_switch, .-capri_arch_switch

/* void *capri_arch_switch_jump(void **save_sp, void *load_sp, void *prev) */
    .globl  capri_arch_switch_jump
    .type   capri_arch_switch_jump, @function
    .p2align 4
capri_arch_switch_jump:
    SWITCH_BODY
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    jmpq    *%rcx
    .cfi_endproc
    .size   capri_arch_switch_jump, .-capri_arch_switch_jump

/*
 * First code of a new context: capri_arch_switch "returns" here with prev in
 * %rax and the start function and its arguments in r12, r13, r14 (laid out
 * by capri_arch_prepare). The return address is undefined in the CFI, so
 * unwinders stop at the context's entry.
 */
    .globl  capri_arch_entry
    .hidden capri_arch_entry
    .type   capri_arch_entry, @function
    .p2align 4
capri_arch_entry:
    .cfi_startproc
    .cfi_undefined rip
    movq    %rax, %rdi
    movq    %r13, %rsi
    movq    %r14, %rdx
    callq   *%r12
    ud2                             /* start must not return */
    .cfi_endproc
    .size   capri_arch_entry, .-capri_arch_entry

    .section .note.GNU-stack,"",@progbits
