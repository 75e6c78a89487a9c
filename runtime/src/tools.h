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

void tools_thread_created(struct capri_thread *t);
void tools_thread_destroyed(struct capri_thread *t);

#ifdef CAPRI_SWITCH_HOOKS
void tools_before_switch(struct capri_thread *from, struct capri_thread *to);
void tools_after_switch(struct capri_thread *self);
#else
static inline void tools_before_switch(struct capri_thread *from, struct capri_thread *to)
{
    (void)from;
    (void)to;
}
static inline void tools_after_switch(struct capri_thread *self) { (void)self; }
#endif

#endif
