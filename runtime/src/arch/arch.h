/*
 * The interface an architecture implements for libcapri: switching between
 * user-level contexts and preparing a new one. One assembly file per
 * architecture (x86_64.S); everything above this line is portable C.
 */
#ifndef CAPRI_ARCH_H
#define CAPRI_ARCH_H

/*
 * Saves the running context on its own stack (callee-saved registers, the
 * floating-point control words, errno and the stack-limit word), stores its
 * stack pointer in *save_sp, resumes the context saved at load_sp and
 * returns there. The value returned in the resumed context is the `prev`
 * the switching side passed: the resumed side learns who ran before it,
 * which is what post-switch actions need (the switch never touches memory
 * of the old context after leaving it).
 */
void *capri_arch_switch(void **save_sp, void *load_sp, void *prev);
/* The same switch for when the other side has no matching call: the first
 * start of a context, the last switch away from an ending one (x86_64.S
 * explains why the ending differs). */
void *capri_arch_switch_jump(void **save_sp, void *load_sp, void *prev);

typedef void (*capri_arch_start_fn)(void *prev, void *a, void *b);

/*
 * Lays out a new context at the top of a stack (stack_top is rounded down
 * to 16 bytes) and returns its stack pointer for capri_arch_switch. When
 * first resumed it calls start(prev, a, b) with a fresh errno of 0, a
 * stack-limit word of 0 and the default floating-point control words;
 * start must never return. Unwinders stop at the context's entry.
 */
void *capri_arch_prepare(void *stack_top, capri_arch_start_fn start, void *a, void *b);

/* Sets the stack-limit word a context prepared by capri_arch_prepare
 * starts with (0 unless set). */
void capri_arch_set_limit(void *sp, unsigned long limit);

/*
 * errno lives at a fixed offset from the thread pointer in every kernel
 * thread (initial-exec TLS). The switch saves and restores it through that
 * offset, so no address of errno is ever kept across a switch (a context
 * may resume on another kernel thread). Call once before the first switch.
 */
void capri_arch_init(void);
extern long capri_arch_errno_offset __attribute__((visibility("hidden")));

/* A cycle counter for time slices and the blocking graph: cheap (no system call) and steady
 * across the CPUs of one machine (x86-64: the invariant TSC). monitor.c
 * calibrates it against CLOCK_MONOTONIC. */
static inline unsigned long long capri_arch_cycles(void) { return __builtin_ia32_rdtsc(); }

#endif
