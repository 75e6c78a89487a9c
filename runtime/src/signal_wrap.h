/*
 * Signals: a sigaltstack per scheduler, interposed sigaction & co. so every
 * handler runs on it inside a wrapper (no yield there), and the stack
 * overflow report for faults in a chunk's guard page.
 */
#ifndef CAPRI_SIGNAL_WRAP_H
#define CAPRI_SIGNAL_WRAP_H

#include <stddef.h>

struct capri_sched;

/* At runtime start-up, once: re-flags handlers installed before libcapri
 * started (SA_ONSTACK + wrapper) and installs the overflow reporter for
 * SIGSEGV/SIGBUS (chaining to the user's handler for other faults).
 * 0 or an errno value. */
int signal_runtime_init(void);
/* On a scheduler's kernel thread, before it runs capri threads: its
 * altstack (64 KiB, guard page below). 0 or an errno value. */
int signal_sched_init(struct capri_sched *s);
/* True while a signal handler runs on this kernel thread (nothing may
 * yield or block on capri primitives then): the number of nested handlers,
 * the scheduler's in_handler on a scheduler's kernel thread. A handler left
 * by siglongjmp/longjmp no longer counts (see signal.c). */
int signal_in_handler(void);
/* The calling kernel thread's scheduler altstack (its usable part, above
 * the guard page), for tests and tools: 0, or ESRCH when this kernel thread
 * runs no scheduler or its scheduler has none. */
int signal_altstack_here(void **base, size_t *size);

#endif
