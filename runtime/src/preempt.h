/*
 * Preemption at the end of a time slice (docs/runtime.md, "Preemption"):
 * the monitor stores LIMIT_PREEMPT in a running thread's limit word; the
 * thread comes into the runtime at its next checkpoint (__morestack) or
 * loop yield point (__capri_loop_yield, arch/x86_64.S) and yields to the
 * scheduler's preempted queue, unless it holds a pthread lock (counted
 * here) or runs a signal handler.
 *
 * __capri_loop_yield is called with the preserve_all convention from the
 * middle of a loop: it keeps every register but r11, the vector state
 * included. It saves them in a level of this kernel thread's struct
 * loop_tls (a signal handler that preempts meanwhile takes the next
 * level), then calls __morestack for room; the body, on that room, copies
 * the level onto its own stack before it yields (another thread on this
 * kernel thread may use the level meanwhile) and back after.
 *
 * This header is included by the assembly too (the offsets below).
 */
#ifndef CAPRI_PREEMPT_H
#define CAPRI_PREEMPT_H

/* struct loop_tls and struct loop_level, for arch/x86_64.S. */
#define LOOP_TLS_DEPTH 0
#define LOOP_TLS_LEVELS 64
#define LOOP_LEVELS 2
#define LOOP_LEVEL_GPR 0     /* rax, rcx, rdx, rsi, rdi, r8, r9, r10 */
#define LOOP_LEVEL_XSAVE 64  /* xsave64 area, standard form, 64-byte aligned */
/* The state components saved: x87, SSE, AVX, and AVX-512's opmask and
 * upper halves (what preserve_all keeps; AMX tiles are never preserved
 * across calls). In the standard form they end at byte 2688. */
#define LOOP_XSAVE_MASK 0xe7
#define LOOP_XSAVE_SIZE 2688
#define LOOP_LEVEL_SIZE (LOOP_LEVEL_XSAVE + LOOP_XSAVE_SIZE)
/* The room the body asks __morestack for: its copy of a level and a yield
 * (grow.c's GROW_YIELD_ROOM). */
#define LOOP_YIELD_NEED (LOOP_LEVEL_SIZE + 1024 + 16 * 1024)

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capri_sched;
struct capri_thread;

struct loop_level {
    uint64_t gpr[8];
    _Alignas(64) unsigned char xsave[LOOP_XSAVE_SIZE];
};

struct loop_tls {
    uint32_t depth; /* levels in use */
    _Alignas(64) struct loop_level level[LOOP_LEVELS];
};

_Static_assert(offsetof(struct loop_level, xsave) == LOOP_LEVEL_XSAVE, "x86_64.S");
_Static_assert(sizeof(struct loop_level) == LOOP_LEVEL_SIZE, "x86_64.S");
_Static_assert(LOOP_LEVEL_SIZE % 64 == 0, "xsave areas must stay 64-byte aligned");
_Static_assert(offsetof(struct loop_tls, level) == LOOP_TLS_LEVELS, "x86_64.S");

extern __thread struct loop_tls capri_loop_tls __attribute__((visibility("hidden")));

/* The stub's body (run by __morestack on room of its own). */
void capri_loop_yield_body(void *unused) __attribute__((visibility("hidden")));

/* At a preemption request seen by a check: puts the thread's limit back in
 * the word and says whether to yield now (false: no request, or it waits
 * for the last pthread lock to go, or a signal handler runs). */
bool preempt_take(struct capri_sched *s, struct capri_thread *t);

/* Yields the running thread to its scheduler's preempted queue (after a
 * preempt_take that said so); for __morestack. */
void capri_preempt_yield(void) __attribute__((visibility("hidden")));

/* Whether this CPU can save the state __capri_loop_yield must keep (the
 * monitor preempts nothing otherwise). */
bool preempt_supported(void);

#endif
#endif
