/*
 * Hooks for the tools that must know about stack switches (tools.c): ASan's
 * fiber annotations, TSan's fiber API, valgrind's stack registration. In a
 * build without a sanitizer the switch hooks are empty inline functions, so
 * the switch pays nothing for them.
 */
#ifndef CAPRI_TOOLS_H
#define CAPRI_TOOLS_H

struct capri_thread;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CAPRI_SWITCH_HOOKS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CAPRI_SWITCH_HOOKS 1
#endif

/* Whether any tool wants to hear of threads (a sanitizer build, or running
 * under valgrind): decided once at start-up by tools_init. */
extern int capri_tools_active __attribute__((visibility("hidden")));
void tools_init(void);
void tools_thread_created_slow(struct capri_thread *t);
void tools_thread_destroyed_slow(struct capri_thread *t);
static inline void tools_thread_created(struct capri_thread *t)
{
    if (__builtin_expect(capri_tools_active, 0))
        tools_thread_created_slow(t);
}
static inline void tools_thread_destroyed(struct capri_thread *t)
{
    if (__builtin_expect(capri_tools_active, 0))
        tools_thread_destroyed_slow(t);
}

#ifdef CAPRI_SWITCH_HOOKS
void tools_asan_before_switch(struct capri_thread *from, struct capri_thread *to);
void tools_after_switch(struct capri_thread *self);
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CAPRI_TOOLS_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CAPRI_TOOLS_TSAN 1
#endif
#ifdef CAPRI_TOOLS_TSAN
#include "thread.h"
void *__tsan_get_current_fiber(void);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
/* Inlined into the switch: after __tsan_switch_to_fiber, TSan's shadow
 * call stack is the new fiber's, so no instrumented function may return
 * between it and the switch itself. */
static inline __attribute__((always_inline)) void tools_before_switch(struct capri_thread *from,
                                                                      struct capri_thread *to)
{
#ifdef CAPRI_TOOLS_TSAN
    /* A scheduler kernel thread's own context is the fiber TSan made for
     * the kernel thread; it is always switched away from before it is
     * switched to. Every other context got a fiber when it was made. */
    if (!from->tsan_fiber)
        from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
    tools_asan_before_switch(from, to);
#endif
}
#else
static inline void tools_before_switch(struct capri_thread *from, struct capri_thread *to)
{
    (void)from;
    (void)to;
}
static inline void tools_after_switch(struct capri_thread *self) { (void)self; }
#endif

#endif
