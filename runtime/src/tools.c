/*
 * Hooks for the tools that need to know about stack switches: ASan's fiber
 * annotations, TSan's fiber API and valgrind's stack registration. Each is
 * compiled in only when its tool is: a normal build's switch pays nothing.
 */
#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"
#include "tools.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAPRI_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CAPRI_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CAPRI_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CAPRI_TSAN 1
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CAPRI_VALGRIND 1
#endif

#ifdef CAPRI_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#ifdef CAPRI_TSAN
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
#endif

#ifdef CAPRI_ASAN
/* The bounds a tool should know for a thread's stack (the struct above it
 * excluded); a scheduler context on a kernel thread's own stack has none. */
static void stack_bounds(const struct capri_thread *t, const void **bottom, size_t *size)
{
    *bottom = (const void *)t->stack_lo;
    *size = t->stack_hi > t->stack_lo ? t->stack_hi - t->stack_lo : 0;
}
#endif

int capri_tools_active;

void tools_init(void)
{
#if defined(CAPRI_ASAN) || defined(CAPRI_TSAN)
    capri_tools_active = 1;
#endif
#ifdef CAPRI_VALGRIND
    if (RUNNING_ON_VALGRIND)
        capri_tools_active = 1;
#endif
}

void tools_thread_created_slow(struct capri_thread *t)
{
#ifdef CAPRI_TSAN
    t->tsan_fiber = (t->flags & THREAD_MAIN) ? __tsan_get_current_fiber() : __tsan_create_fiber(0);
#endif
#ifdef CAPRI_VALGRIND
    if (!(t->flags & THREAD_MAIN) && t->stack_hi > t->stack_lo)
        t->valgrind_id = VALGRIND_STACK_REGISTER(t->stack_lo, t->stack_hi);
#endif
    (void)t;
}

void tools_thread_destroyed_slow(struct capri_thread *t)
{
#ifdef CAPRI_TSAN
    if (t->tsan_fiber && !(t->flags & THREAD_MAIN))
        __tsan_destroy_fiber(t->tsan_fiber);
    t->tsan_fiber = NULL;
#endif
#ifdef CAPRI_VALGRIND
    if (t->valgrind_id)
        VALGRIND_STACK_DEREGISTER(t->valgrind_id);
    t->valgrind_id = 0;
#endif
    (void)t;
}

#ifdef CAPRI_SWITCH_HOOKS
#ifndef CAPRI_TSAN
void tools_asan_before_switch(struct capri_thread *from, struct capri_thread *to)
{
#ifdef CAPRI_ASAN
    const void *bottom;
    size_t size;
    stack_bounds(to, &bottom, &size);
    /* A thread that is ending passes NULL: ASan frees its fake stack. */
    __sanitizer_start_switch_fiber(from->run_state == THREAD_DEAD ? NULL : &from->asan_fake_stack,
                                   bottom, size);
#endif
    (void)from;
    (void)to;
}
#endif

void tools_after_switch(struct capri_thread *self)
{
#ifdef CAPRI_ASAN
    __sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
#endif
    (void)self;
}
#endif
