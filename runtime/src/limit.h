/*
 * The stack-limit word at %fs:0x70 (the split-stack slot of the x86-64
 * TCB). While a capri thread runs it holds the bottom of its current chunk
 * plus LIMIT_SLACK; the switch saves and restores it with the context.
 * 0 means "no checks". A preemption request stores LIMIT_PREEMPT, above any
 * stack pointer, so the next checkpoint takes its slow path; the slow path
 * tells a request from growth with limit_classify.
 */
#ifndef CAPRI_LIMIT_H
#define CAPRI_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct capri_thread;
struct capri_sched;

/* Room a checkpoint's fast path may use below the limit before it must
 * grow; the next issue sizes it. */
#define LIMIT_SLACK 256u
/* Above any stack pointer, and far enough below 2^64 that the table form
 * of a check (sp below limit + bound, with bounds capped at 2^40) cannot
 * wrap: a request fails both forms. No real limit has bit 62 set. */
#define LIMIT_PREEMPT ((uintptr_t)1 << 62)
/* In stack verification mode (verify_stacks.h) every limit has this bit
 * too: above any stack pointer, so every checkpoint takes its slow path. */
#define LIMIT_VERIFY ((uintptr_t)1 << 61)
/* 0, or LIMIT_VERIFY in verification mode: set once, by a constructor that
 * runs before any limit is computed. (Not hidden: the runtime's unit tests
 * use limit_for_stack against libcapri.so too.) */
extern uintptr_t __capri_limit_poison;

static inline uintptr_t limit_read(void)
{
    uintptr_t v;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
    return v;
}

static inline void limit_write(uintptr_t v) { __asm__ volatile("movq %0, %%fs:0x70" ::"r"(v) : "memory"); }

static inline uintptr_t *limit_word_address(void)
{
    uintptr_t tp;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
    return (uintptr_t *)(tp + 0x70);
}

/* What __morestack itself pushes on the caller's stack before it switches
 * to the system stack (grow.h: GROW_ENTRY_MARGIN): a failed check can leave
 * the stack pointer anywhere above the limit, so the limit keeps this much
 * room below the slack. */
#define LIMIT_ENTRY_MARGIN 48u

/* How far above a stack's lowest usable address its limit lies. */
#define LIMIT_ABOVE_LO (LIMIT_ENTRY_MARGIN + LIMIT_SLACK)

/* The limit for a stack whose lowest usable address is lo. */
static inline uintptr_t limit_for_stack(uintptr_t lo)
{
    return (lo + LIMIT_ABOVE_LO) | __capri_limit_poison;
}

enum limit_kind {
    LIMIT_NONE = 0,    /* 0: no checks on this thread */
    LIMIT_KNOWN,       /* the current capri thread's own limit */
    LIMIT_PREEMPTED,   /* a preemption request for the current thread */
    LIMIT_UNKNOWN,     /* a value libcapri did not set: a thread it does not know */
};
/* What a value of the limit word means on this kernel thread now. */
enum limit_kind limit_classify(uintptr_t value);
/* Asks the thread running on scheduler s to come into the runtime at its
 * next checkpoint (async-signal-safe, from any kernel thread). From s's own
 * kernel thread the request is the running thread's (t->preempt); from
 * another, it is s's for the run it saw (s->preempt_run), so that nothing
 * is written into a thread struct that may be gone. */
void limit_request_preempt(struct capri_sched *s);
/* Whether a request waits for t, the thread running on s (its own kernel
 * thread): its own, or s's for the current run. */
bool limit_preempt_pending(struct capri_sched *s, struct capri_thread *t);
/* For an unknown thread: the limit derived from its real stack. */
uintptr_t limit_derive_unknown(void);
/* Zeroes the word when a plain kernel thread that used libcapri exits. */
void limit_track_kernel_thread(void);

#endif
