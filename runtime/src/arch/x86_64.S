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

/*
 * void __morestack(void (*thunk)(void *), void *block, uint64_t need)
 *
 * Linked stack growth (docs/stack-growth-design.md): calls thunk(block) on
 * a chunk with `need` bytes of room below the thunk's entry stack pointer
 * above the new limit, and comes back. Callee-saved registers, mxcsr, the
 * x87 control word and errno survive; the thunk is called with rsp 16-byte
 * aligned at the call, as the ABI wants.
 *
 * The caller's stack may have no room left: only the return address and
 * rbp go there (GROW_ENTRY_MARGIN bytes at most, grow.h). The C half runs
 * on a level of this kernel thread's system stack (capri_grow_tls: the
 * level is taken by lowering sys_top before rsp moves there, and given back
 * by one `add` after rsp has left it, so a signal handler that grows
 * meanwhile takes the next level down and has given it back before the
 * interrupted code goes on); capri_grow_enter writes the link record at the
 * new chunk's top and returns it, and one `mov` to rsp enters the chunk.
 *
 * The CFI is exact at every instruction. rbp is a frame pointer (so the rbp
 * chain stays valid for frame-pointer unwinders: ASan's, perf's), and the
 * CFA is rbp + 16 wherever rsp is not the link record. While rsp is the
 * link record (the thunk runs), the CFA is read from the record:
 *   DW_CFA_def_cfa_expression: DW_OP_breg7 (rsp) 0; DW_OP_deref;
 *                              DW_OP_plus_uconst 16
 * so gdb, libgcc's unwinder (C++ exceptions, backtrace()) and the rest step
 * from the chunk straight back to the caller's frame. The name matters: gdb
 * accepts a caller frame at a lower address than its callee's only when the
 * callee is __morestack (split stacks, gdb's frame.c).
 *
 * An exception or a forced unwind (pthread_exit, cancellation) leaving the
 * thunk lands in a cleanup here (the LSDA below, libgcc's
 * __gcc_personality_v0): capri_grow_unwind puts the limit and the bounds
 * back, and the unwind resumes from the chunk, whose release waits until
 * the next growth on this kernel thread (the unwinder runs on it).
 *
 * The hot case (the "hot split": a boundary crossed again and again in a
 * loop) runs here with no call and no system stack: a capri thread (the
 * scheduler's current, not its own context, which never has a cached
 * chunk: its growth is the kernel thread's) outside signal handlers, no
 * tools, no deferred chunk, the scheduler's reserve taken (these four are
 * one word of the scheduler's: grow_hot and in_handler, grow.c), no
 * preemption request in the limit word, and a cached chunk
 * (thread_chunks.c) at least as big as needed. It leaves the
 * same state as capri_grow_enter, in the same order (the link record, then
 * the thread's cache, stack_lo, stack_hi, limit and depth, then the limit
 * word, all before the one `mov` to rsp), storing less (what a crossing
 * costs is mostly its stores; docs/benchmarks.md, "Hot split"):
 *  - The record's fixed part (hooks, kind, cls, owner_tls, tools, owner,
 *    chunk, size, slot, valgrind_id, in_handler) is not written: a chunk
 *    gets into a thread's cache by the unlinking of that thread's link
 *    record at its top (kind THREAD: chunk_back in grow.c, or the hot
 *    return here), and nothing writes there while it is cached, so the
 *    record is still there with those values (tools and valgrind_id are 0
 *    without tools; hooks were cleared by capri_grow_hook, and only the C
 *    half reads them). A chunk taken from the pool has the record's chunk
 *    field cleared (thread_chunk_take) until the C half writes a record
 *    there: the hot case checks that field, and leaves a chunk cached
 *    without its record to the C half. The frame and the old limits and
 *    bounds are compared and written only when they differ (in a loop
 *    they never do after the first crossing). thunk and block are how the
 *    C half hands the call over; the hot case calls from registers and
 *    leaves them as they were.
 * The return, when the chunk can go back into the thread's empty cache and
 * no request waits (whichever way the link was made), reads the record into
 * registers, leaves the chunk (one `mov`), then puts bounds, depth, cache
 * and limit word back as capri_grow_leave does.
 *
 * A signal handler running in between changes nothing the hot case reads
 * or has read: a handler's growth (the scheduler counts handlers) takes the
 * reserve or a mapping, never the thread's cache, and puts the thread's
 * bounds, limit and depth back before it returns. Everything else takes the
 * C half on the system stack, as before; either way back works for either
 * way in (the record is the same).
 */
#include "grow.h"
#include "preempt.h"

    .hidden capri_grow_enter
    .hidden capri_preempt_yield
    .hidden capri_loop_yield_body
    .hidden capri_loop_tls
    .hidden capri_grow_hook
    .hidden capri_grow_leave
    .hidden capri_grow_unwind
    .hidden capri_grow_tls
    .hidden capri_tls_sched

/*
 * Takes a level of this kernel thread's system stack, mapping the stack on
 * first use. Out: %rax = the level's top (16-byte aligned), %rcx = the TLS
 * offset of capri_grow_tls. Clobbers %r11; keeps %rdi, %rsi, %rdx.
 */
.macro SYS_LEVEL_TAKE
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    movq    %fs:GROW_TLS_SYS_TOP(%rcx), %rax
    testq   %rax, %rax
    jnz     1f
    callq   capri_grow_sys_map
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
1:
    leaq    -GROW_SYS_LEVEL(%rax), %r11
    cmpq    %fs:GROW_TLS_SYS_FLOOR(%rcx), %r11
    jb      capri_grow_sys_exhausted
    movq    %r11, %fs:GROW_TLS_SYS_TOP(%rcx)
.endm

/* CFA = *(rsp + GROW_LINK_FRAME) + 16, while rsp is the link record. */
#define CFA_FROM_LINK .cfi_escape 0x0f, 0x05, 0x77, GROW_LINK_FRAME, 0x06, 0x23, 0x10

    .globl  __morestack
    .type   __morestack, @function
    .p2align 4
__morestack:
.Lmorestack_entry:                  /* for __capri_loop_yield: no PLT in between */
    .cfi_startproc
    .cfi_personality 0x9b, DW.ref.__gcc_personality_v0
    .cfi_lsda 0x1b, .Lmorestack_lsda
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    movq    %rsp, %rbp
    .cfi_def_cfa_register rbp
    /* The hot case? In: rdi thunk, rsi block, rdx need. */
    movq    capri_tls_sched@GOTTPOFF(%rip), %rax
    movq    %fs:(%rax), %rax                /* the scheduler, or NULL */
    testq   %rax, %rax
    jz      .Lmorestack_slow
    cmpq    $1, GROW_SCHED_HOT(%rax)        /* grow_hot 1, in_handler 0 (grow.c) */
    jne     .Lmorestack_slow
    movq    GROW_SCHED_CURRENT(%rax), %r8   /* r8: the thread */
    movq    GROW_THREAD_CACHED_CHUNK(%r8), %r9 /* r9: the chunk (lowest usable address) */
    testq   %r9, %r9                        /* (never one on a scheduler's context) */
    jz      .Lmorestack_slow
    movq    %fs:0x70, %r10                  /* r10: the limit word */
    btq     $GROW_LIMIT_PREEMPT_BIT, %r10   /* a preemption request */
    jc      .Lmorestack_slow
    movl    GROW_THREAD_CACHED_CLS(%r8), %ecx
    movl    $(1 << GROW_CHUNK_MIN_SHIFT), %r11d
    shlq    %cl, %r11                       /* the chunk's size */
    leaq    -(GROW_FRAME + GROW_LIMIT_ABOVE_LO)(%r11), %rax
    cmpq    %rax, %rdx
    ja      .Lmorestack_slow                /* need does not fit */
    /* Nor a chunk of a bigger class than the need's (the C half takes one
     * of the right class): a thread that parks further down would hold
     * the big one, say the chunk a large buffer used, while it waits. */
    testl   %ecx, %ecx
    jz      1f
    movq    %r11, %rcx
    shrq    $1, %rcx
    subq    $(GROW_FRAME + GROW_LIMIT_ABOVE_LO), %rcx
    cmpq    %rcx, %rdx
    jbe     .Lmorestack_slow                /* half the chunk would do */
1:
    /* The link record at the chunk's top, its fixed part there already
     * (above; a chunk cached without one goes to the C half, which writes
     * it): the frame (the CFA) and what goes back. */
    leaq    -GROW_LINK_SIZE(%r9,%r11), %rax /* rax: the record */
    cmpq    %r9, GROW_LINK_CHUNK(%rax)
    jne     .Lmorestack_slow
    movq    GROW_THREAD_LIMIT(%r8), %rcx
    movq    GROW_THREAD_STACK_LO(%r8), %rdx
    movq    GROW_THREAD_STACK_HI(%r8), %r11
    cmpq    %rbp, GROW_LINK_FRAME(%rax)
    jne     .Lmorestack_record
    cmpq    %r10, GROW_LINK_OLD_LIMIT(%rax)
    jne     .Lmorestack_record
    cmpq    %rcx, GROW_LINK_OLD_OWN_LIMIT(%rax)
    jne     .Lmorestack_record
    cmpq    %rdx, GROW_LINK_OLD_LO(%rax)
    jne     .Lmorestack_record
    cmpq    %r11, GROW_LINK_OLD_HI(%rax)
    jne     .Lmorestack_record
.Lmorestack_recorded:
    /* The thread's bookkeeping, then the limit word. */
    movq    $0, GROW_THREAD_CACHED_CHUNK(%r8)
    movq    %r9, GROW_THREAD_STACK_LO(%r8)
    movq    %rax, GROW_THREAD_STACK_HI(%r8)
    addq    $GROW_LIMIT_ABOVE_LO, %r9       /* limit_for_stack(chunk) */
    movq    %r9, GROW_THREAD_LIMIT(%r8)
    addl    $1, GROW_THREAD_DEPTH(%r8)
    movq    %r9, %fs:0x70
    movq    %rax, %rsp                      /* on the new chunk: rsp is the link record */
    CFA_FROM_LINK
    movq    %rdi, %r11
    movq    %rsi, %rdi
.Lmorestack_call:                   /* thunk in r11, block in rdi */
.Lmorestack_eh_begin:
    callq   *%r11
.Lmorestack_eh_end:
    /* The hot case back? The chunk is a thread's (kind THREAD, no tools),
     * small enough to cache, its cache is empty, nothing deferred, no
     * preemption request waiting. */
    movl    GROW_LINK_KIND(%rsp), %eax      /* kind, cls, owner_tls, tools */
    cmpl    $(GROW_THREAD_CACHED_CLASS_MAX << 8), %eax
    ja      .Lmorestack_leave_slow
    testb   %al, %al
    jnz     .Lmorestack_leave_slow
    movq    GROW_LINK_OWNER(%rsp), %r8      /* r8: the thread */
    cmpq    $0, GROW_THREAD_CACHED_CHUNK(%r8)
    jne     .Lmorestack_leave_slow
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    cmpq    $0, %fs:GROW_TLS_DEFERRED_CHUNK(%rcx)
    jne     .Lmorestack_leave_slow
    btq     $GROW_LIMIT_PREEMPT_BIT, %fs:0x70 /* a preemption request */
    jc      .Lmorestack_leave_slow
    /* Everything out of the record, then off the chunk. */
    movq    GROW_LINK_OLD_LIMIT(%rsp), %rcx
    movq    GROW_LINK_OLD_OWN_LIMIT(%rsp), %rdx
    movq    GROW_LINK_OLD_LO(%rsp), %rsi
    movq    GROW_LINK_OLD_HI(%rsp), %rdi
    movq    GROW_LINK_CHUNK(%rsp), %r9
    movl    GROW_LINK_SLOT(%rsp), %r10d
    movq    %rbp, %rsp                      /* back on the caller's stack */
    .cfi_def_cfa rbp, 16
    movq    %rsi, GROW_THREAD_STACK_LO(%r8)
    movq    %rdi, GROW_THREAD_STACK_HI(%r8)
    movq    %rdx, GROW_THREAD_LIMIT(%r8)
    subl    $1, GROW_THREAD_DEPTH(%r8)
    shrl    $8, %eax
    movl    %eax, GROW_THREAD_CACHED_CLS(%r8)
    movl    %r10d, GROW_THREAD_CACHED_SLOT(%r8)
    movq    %r9, GROW_THREAD_CACHED_CHUNK(%r8)
    movq    %rcx, %fs:0x70
.Lmorestack_return:
    .cfi_remember_state
    popq    %rbp
    .cfi_def_cfa rsp, 8
    .cfi_same_value rbp
    ret
    .cfi_restore_state
.Lmorestack_record:                 /* the hot case: the record's changing part differs */
    movq    %rbp, GROW_LINK_FRAME(%rax)
    movq    %r10, GROW_LINK_OLD_LIMIT(%rax)
    movq    %rcx, GROW_LINK_OLD_OWN_LIMIT(%rax)
    movq    %rdx, GROW_LINK_OLD_LO(%rax)
    movq    %r11, GROW_LINK_OLD_HI(%rax)
    jmp     .Lmorestack_recorded
.Lmorestack_slow:                   /* the C half, on the system stack */
    .cfi_def_cfa rbp, 16
    SYS_LEVEL_TAKE
    movq    %rax, %rsp              /* on the system stack */
    pushq   %rdi                    /* thunk */
    pushq   %rsi                    /* block */
    movq    %rbp, %rcx              /* enter(thunk, block, need, frame) */
    callq   capri_grow_enter
    popq    %rsi
    popq    %rdi
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    cmpq    $1, %rax
    jbe     .Lmorestack_here        /* 0: yield, then the thunk here; 1: the thunk here */
    movq    %rax, %rsp              /* on the new chunk: rsp is the link record */
    CFA_FROM_LINK
    addq    $GROW_SYS_LEVEL, %fs:GROW_TLS_SYS_TOP(%rcx) /* the level is free again */
    cmpl    $0, GROW_LINK_HOOKS(%rsp)
    je      .Lmorestack_hooked
    movq    %rsp, %rdi              /* on the chunk: what needs the thread's own stack */
    callq   capri_grow_hook
.Lmorestack_hooked:
    movq    GROW_LINK_THUNK(%rsp), %r11
    movq    GROW_LINK_BLOCK(%rsp), %rdi
    jmp     .Lmorestack_call
.Lmorestack_leave_slow:             /* the thunk returned; the link record is intact */
    CFA_FROM_LINK
    movq    %rsp, %rdi
    SYS_LEVEL_TAKE
    movq    %rax, %rsp              /* on the system stack */
    .cfi_def_cfa rbp, 16
    callq   capri_grow_leave
    movq    %rbp, %rsp              /* back on the caller's stack */
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    addq    $GROW_SYS_LEVEL, %fs:GROW_TLS_SYS_TOP(%rcx)
    jmp     .Lmorestack_return
.Lmorestack_here:                   /* a preemption request, and the region fits */
    .cfi_def_cfa rbp, 16
    movq    %rbp, %rsp              /* back on the caller's stack */
    addq    $GROW_SYS_LEVEL, %fs:GROW_TLS_SYS_TOP(%rcx)
    pushq   %rdi
    pushq   %rsi
    testq   %rax, %rax
    jnz     .Lmorestack_no_yield
    callq   capri_preempt_yield
.Lmorestack_no_yield:
    popq    %rdi                    /* block */
    popq    %rax                    /* thunk */
    callq   *%rax
    jmp     .Lmorestack_return
.Lmorestack_landing:                /* an unwind leaves the thunk: %rax is the exception */
    CFA_FROM_LINK
    movq    %rsp, %rdi
    movq    %rax, %rsi
    callq   capri_grow_unwind
    movq    %rax, %rdi
    callq   _Unwind_Resume@PLT
    ud2
    .cfi_endproc
    .size   __morestack, .-__morestack

/*
 * __capri_loop_yield: the cold path of a loop yield point (passes/
 * LoopYieldPoints.cpp), called with the preserve_all convention when the
 * limit word has LIMIT_PREEMPT's bit: every register but r11 must come
 * back as it was, the vector state included (preempt.h). The loop's frame
 * promises no room, only the margin every limit keeps for __morestack's
 * entry (LIMIT_ENTRY_MARGIN): this uses 32 bytes of it (its return address,
 * one word, and __morestack's return address and rbp), and needs the
 * kernel thread's system stack mapped already (sched.c maps it when a
 * scheduler starts; without it, the request is dropped). It saves the
 * registers in a level of capri_loop_tls, then __morestack runs
 * capri_loop_yield_body on room of its own, and the registers come back
 * from the level the body left (on the kernel thread the thread runs on).
 * Nested deeper than LOOP_LEVELS (signal handlers), the request waits.
 */
    .globl  __capri_loop_yield
    .type   __capri_loop_yield, @function
    .p2align 4
__capri_loop_yield:
    .cfi_startproc
    pushq   %rax
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rax, 0
    movq    capri_grow_tls@GOTTPOFF(%rip), %r11
    cmpq    $0, %fs:GROW_TLS_SYS_TOP(%r11)
    je      .Lloop_yield_unmapped
    movq    capri_loop_tls@GOTTPOFF(%rip), %r11
    movl    %fs:LOOP_TLS_DEPTH(%r11), %eax
    cmpl    $LOOP_LEVELS, %eax
    jae     .Lloop_yield_out
    addl    $1, %fs:LOOP_TLS_DEPTH(%r11)    /* the level is ours (a handler takes the next) */
    imull   $LOOP_LEVEL_SIZE, %eax, %eax
    addq    %fs:0, %r11                     /* the struct's address */
    leaq    LOOP_TLS_LEVELS(%r11,%rax), %r11 /* r11: the level */
    popq    %rax
    .cfi_adjust_cfa_offset -8
    .cfi_same_value rax
    movq    %rax, LOOP_LEVEL_GPR+0(%r11)
    movq    %rcx, LOOP_LEVEL_GPR+8(%r11)
    movq    %rdx, LOOP_LEVEL_GPR+16(%r11)
    movq    %rsi, LOOP_LEVEL_GPR+24(%r11)
    movq    %rdi, LOOP_LEVEL_GPR+32(%r11)
    movq    %r8, LOOP_LEVEL_GPR+40(%r11)
    movq    %r9, LOOP_LEVEL_GPR+48(%r11)
    movq    %r10, LOOP_LEVEL_GPR+56(%r11)
    movl    $LOOP_XSAVE_MASK, %eax
    xorl    %edx, %edx
    xsave64 LOOP_LEVEL_XSAVE(%r11)
    subq    $8, %rsp                        /* __morestack's entry alignment */
    .cfi_adjust_cfa_offset 8
    leaq    capri_loop_yield_body(%rip), %rdi
    xorl    %esi, %esi
    movabsq $(GROW_NEED_LOOP_YIELD | LOOP_YIELD_NEED), %rdx
    callq   .Lmorestack_entry
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    movq    capri_loop_tls@GOTTPOFF(%rip), %r11
    movl    %fs:LOOP_TLS_DEPTH(%r11), %eax
    subl    $1, %eax
    imull   $LOOP_LEVEL_SIZE, %eax, %eax
    addq    %fs:0, %r11
    leaq    LOOP_TLS_LEVELS(%r11,%rax), %r11 /* r11: the level the body left */
    movl    $LOOP_XSAVE_MASK, %eax
    xorl    %edx, %edx
    xrstor64 LOOP_LEVEL_XSAVE(%r11)
    movq    LOOP_LEVEL_GPR+0(%r11), %rax
    movq    LOOP_LEVEL_GPR+8(%r11), %rcx
    movq    LOOP_LEVEL_GPR+16(%r11), %rdx
    movq    LOOP_LEVEL_GPR+24(%r11), %rsi
    movq    LOOP_LEVEL_GPR+32(%r11), %rdi
    movq    LOOP_LEVEL_GPR+40(%r11), %r8
    movq    LOOP_LEVEL_GPR+48(%r11), %r9
    movq    LOOP_LEVEL_GPR+56(%r11), %r10
    movq    capri_loop_tls@GOTTPOFF(%rip), %r11
    subl    $1, %fs:LOOP_TLS_DEPTH(%r11)    /* the level is free again */
    ret
.Lloop_yield_unmapped:              /* cannot happen on a scheduler: drop the request */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rax, 0
    movq    capri_tls_sched@GOTTPOFF(%rip), %rax
    movq    %fs:(%rax), %rax
    testq   %rax, %rax
    jz      .Lloop_yield_out
    movq    GROW_SCHED_CURRENT(%rax), %rax
    movq    GROW_THREAD_LIMIT(%rax), %rax
    movq    %rax, %fs:0x70
.Lloop_yield_out:
    popq    %rax
    .cfi_adjust_cfa_offset -8
    .cfi_same_value rax
    ret
    .cfi_endproc
    .size   __capri_loop_yield, .-__capri_loop_yield

/* void capri_grow_sys_ensure(void): maps this kernel thread's system stack
 * now, if it is not (C callers: a scheduler as it starts). */
    .globl  capri_grow_sys_ensure
    .hidden capri_grow_sys_ensure
    .type   capri_grow_sys_ensure, @function
    .p2align 4
capri_grow_sys_ensure:
    .cfi_startproc
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    cmpq    $0, %fs:GROW_TLS_SYS_TOP(%rcx)
    jne     1f
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    callq   capri_grow_sys_map
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
1:
    ret
    .cfi_endproc
    .size   capri_grow_sys_ensure, .-capri_grow_sys_ensure

/*
 * Maps this kernel thread's system stack (raw system calls: no stack but
 * its own frame, no errno) and publishes it in capri_grow_tls unless a
 * signal handler did meanwhile. Returns its top in %rax; keeps %rdi, %rsi,
 * %rdx; clobbers %rcx, %r8-%r11.
 */
    .type   capri_grow_sys_map, @function
    .p2align 4
capri_grow_sys_map:
    .cfi_startproc
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    pushq   %rdx
    .cfi_adjust_cfa_offset 8
    movl    $9, %eax                /* mmap */
    xorl    %edi, %edi
    movl    $(GROW_SYS_SIZE + GROW_SYS_GUARD), %esi
    movl    $3, %edx                /* PROT_READ | PROT_WRITE */
    movl    $0x24022, %r10d         /* MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK */
    movq    $-1, %r8
    xorl    %r9d, %r9d
    syscall
    cmpq    $-4095, %rax
    jae     .Lsys_map_failed
    movq    %rax, %r8               /* the mapping */
    movl    $10, %eax               /* mprotect(the guard page, PROT_NONE) */
    movq    %r8, %rdi
    movl    $GROW_SYS_GUARD, %esi
    xorl    %edx, %edx
    syscall
    leaq    (GROW_SYS_SIZE + GROW_SYS_GUARD)(%r8), %rdx
    movq    capri_grow_tls@GOTTPOFF(%rip), %rcx
    xorl    %eax, %eax
    cmpxchgq %rdx, %fs:GROW_TLS_SYS_TOP(%rcx) /* one instruction: atomic against handlers */
    jne     .Lsys_map_raced
    leaq    GROW_SYS_GUARD(%r8), %rax
    movq    %rax, %fs:GROW_TLS_SYS_FLOOR(%rcx)
    movq    %r8, %fs:GROW_TLS_SYS_BASE(%rcx)
    /* Under valgrind: VALGRIND_STACK_REGISTER(floor, top), a client request
     * (a no-op otherwise) with its arguments at the new stack's top, so that
     * valgrind takes the switches to it for switches (else it may take the
     * first for a frame of megabytes and mark memory in between, the
     * thread's TLS among it, inaccessible). The id comes back in %rdx. */
    movq    $0x1501, -48(%rdx)
    movq    %rax, -40(%rdx)
    movq    %rdx, -32(%rdx)
    movq    $0, -24(%rdx)
    movq    $0, -16(%rdx)
    movq    $0, -8(%rdx)
    movq    %rdx, %r9
    leaq    -48(%rdx), %rax
    xorl    %edx, %edx
    rolq    $3, %rdi
    rolq    $13, %rdi
    rolq    $61, %rdi
    rolq    $51, %rdi
    xchgq   %rbx, %rbx
    movq    %rdx, %fs:GROW_TLS_SYS_VALGRIND_ID(%rcx)
    movq    %r9, %rax
    jmp     .Lsys_map_done
.Lsys_map_raced:                    /* a handler mapped one: use it, unmap ours */
    movq    %rax, %rdx
    movl    $11, %eax               /* munmap */
    movq    %r8, %rdi
    movl    $(GROW_SYS_SIZE + GROW_SYS_GUARD), %esi
    syscall
    movq    %rdx, %rax
.Lsys_map_done:
    popq    %rdx
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    ret
.Lsys_map_failed:
    movl    $1, %eax                /* write(2, ...) and die: no stack to run C on */
    movl    $2, %edi
    leaq    .Lsys_map_msg(%rip), %rsi
    movl    $(.Lsys_map_msg_end - .Lsys_map_msg), %edx
    syscall
    ud2
    .cfi_endproc
    .size   capri_grow_sys_map, .-capri_grow_sys_map

/* Too many signal handlers grew while the system stack was in use: abort
 * with a message, on the lowest level (nothing will return to it). */
    .type   capri_grow_sys_exhausted, @function
    .p2align 4
capri_grow_sys_exhausted:
    .cfi_startproc
    .cfi_undefined rip
    movq    %fs:GROW_TLS_SYS_FLOOR(%rcx), %rsp
    addq    $GROW_SYS_LEVEL, %rsp
    leaq    .Lsys_exhausted_msg(%rip), %rdi
    callq   capri_fatal@PLT
    ud2
    .cfi_endproc
    .size   capri_grow_sys_exhausted, .-capri_grow_sys_exhausted

    .section .rodata
.Lsys_map_msg:
    .ascii  "capri: fatal: no memory for a system stack (__morestack)\n"
.Lsys_map_msg_end:
.Lsys_exhausted_msg:
    .asciz  "__morestack: signal handlers nested too deeply while growing stacks"

/* The LSDA: one call site, the thunk's call on the chunk, with a cleanup
 * (action 0) at .Lmorestack_landing; no catch types. */
    .section .gcc_except_table,"a",@progbits
    .p2align 2
.Lmorestack_lsda:
    .byte   0xff                    /* landing pads relative to the function's start */
    .byte   0xff                    /* no type table */
    .byte   0x01                    /* call-site entries in uleb128 */
    .uleb128 .Lmorestack_cs_end - .Lmorestack_cs_begin
.Lmorestack_cs_begin:
    .uleb128 .Lmorestack_eh_begin - __morestack
    .uleb128 .Lmorestack_eh_end - .Lmorestack_eh_begin
    .uleb128 .Lmorestack_landing - __morestack
    .uleb128 0
.Lmorestack_cs_end:

    .hidden DW.ref.__gcc_personality_v0
    .weak   DW.ref.__gcc_personality_v0
    .section .data.DW.ref.__gcc_personality_v0,"awG",@progbits,DW.ref.__gcc_personality_v0,comdat
    .p2align 3
    .type   DW.ref.__gcc_personality_v0, @object
    .size   DW.ref.__gcc_personality_v0, 8
DW.ref.__gcc_personality_v0:
    .quad   __gcc_personality_v0

    .section .note.GNU-stack,"",@progbits
