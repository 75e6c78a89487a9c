/*
 * Preemption at the end of a time slice, the thread's side (preempt.h;
 * the monitor's side is in monitor.c, the queue in sched.c):
 *  - preempt_take: what a check that saw LIMIT_PREEMPT does with it;
 *  - the body of __capri_loop_yield (arch/x86_64.S);
 *  - the pthread lock count: a thread preempted while it holds a pthread
 *    mutex, spin lock or rwlock would leave the next thread of its
 *    scheduler that takes the lock blocked in the kernel (or spinning) with
 *    the holder behind it, for ever. The interposed lock calls count the
 *    locks a capri thread holds; a request waits while the count is not 0,
 *    and the unlock that brings it to 0 puts the request back in the limit
 *    word, so the next check honours it (the unlock itself promises no
 *    stack room for a yield: its caller's checkpoint covered libc's mark).
 *  - capri_no_yield_here: empty, for programs built without the plugin.
 */
#include "preempt.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "capri.h"
#include "interpose.h"
#include "limit.h"
#include "scheduler.h"
#include "signal_wrap.h"
#include "thread.h"

__thread struct loop_tls capri_loop_tls;

/* The plugin deletes the calls; this serves builds without it. */
__attribute__((weak)) void capri_no_yield_here(void) {}

bool preempt_supported(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c & bit_OSXSAVE) != 0;
}

/* The capri thread running here, or NULL (no scheduler, its own context). */
static inline struct capri_thread *capri_thread_here(struct capri_sched *s)
{
    if (!s)
        return NULL;
    struct capri_thread *t = s->current;
    return t && !(t->flags & THREAD_SCHED_CTX) ? t : NULL;
}

bool preempt_take(struct capri_sched *s, struct capri_thread *t)
{
    if (load_relaxed(&s->in_handler) != 0)
        return false; /* nothing yields in a handler; the word is the handler's */
    if (limit_read() == LIMIT_PREEMPT)
        limit_write(t->limit);
    if (!limit_preempt_pending(s, t))
        return false; /* spurious: a request for a thread switched out since */
    /* The scheduler's request becomes the thread's own (only this kernel
     * thread writes t->preempt, and s->preempt_run belongs to a run). */
    store_relaxed(&s->preempt_run, (uint64_t)0);
    if (t->plocks != 0) {
        store_relaxed(&t->preempt, (uint16_t)1);
        return false; /* waits for the last pthread lock (lock_released) */
    }
    store_relaxed(&t->preempt, (uint16_t)0);
    return true;
}

void capri_preempt_yield(void)
{
    struct capri_sched *s = sched_here();
    struct capri_thread *t = capri_thread_here(s);
    if (t && load_relaxed(&s->in_handler) == 0)
        sched_preempted(s, t);
}

/* This kernel thread's loop_tls, read anew each time: an asm the compiler
 * cannot reuse across a switch. */
static inline struct loop_tls *loop_tls_here(void)
{
    struct loop_tls *p;
    __asm__ volatile("movq capri_loop_tls@GOTTPOFF(%%rip), %0\n\taddq %%fs:0, %0" : "=r"(p));
    return p;
}

void capri_loop_yield_body(void *unused)
{
    (void)unused;
    struct loop_level copy;
    struct loop_tls *lt = loop_tls_here();
    uint32_t d = lt->depth;
    memcpy(&copy, &lt->level[d - 1], sizeof copy);
    /* The level is free while this thread is away (handlers nest above). */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lt->depth = d - 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);

    struct capri_sched *s = sched_here();
    struct capri_thread *t = capri_thread_here(s);
    if (t) {
        if (preempt_take(s, t))
            sched_preempted(s, t);
    } else if (limit_read() == LIMIT_PREEMPT) {
        limit_write(limit_derive_unknown()); /* not a capri thread: no request is ours */
    }

    /* Back into a level of the kernel thread it resumed on (the same one:
     * the preempted queue is its scheduler's own), claimed before it is
     * written. */
    lt = loop_tls_here();
    d = lt->depth;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lt->depth = d + 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    memcpy(&lt->level[d], &copy, sizeof copy);
}

/* ---- pthread locks held ------------------------------------------------ */

static inline void lock_taken(void)
{
    struct capri_thread *t = capri_thread_here(sched_here());
    if (t && t->plocks != UINT16_MAX)
        t->plocks++; /* at the maximum it sticks: never preempted again */
}

static inline void lock_released(void)
{
    struct capri_sched *s = sched_here();
    struct capri_thread *t = capri_thread_here(s);
    if (!t || t->plocks == 0 || t->plocks == UINT16_MAX)
        return;
    if (--t->plocks == 0 && unlikely(load_relaxed(&t->preempt)) && load_relaxed(&s->in_handler) == 0 &&
        limit_read() == t->limit)
        limit_write(LIMIT_PREEMPT); /* the deferred request, for the next check */
}

#define PLOCK_LIST(X)                                                                    \
    X(pthread_mutex_lock, (pthread_mutex_t * m), (m), TAKE)                             \
    X(pthread_mutex_trylock, (pthread_mutex_t * m), (m), TAKE)                          \
    X(pthread_mutex_timedlock, (pthread_mutex_t * m, const struct timespec *ts), (m, ts), TAKE) \
    X(pthread_mutex_clocklock, (pthread_mutex_t * m, clockid_t c, const struct timespec *ts), \
      (m, c, ts), TAKE)                                                                  \
    X(pthread_mutex_unlock, (pthread_mutex_t * m), (m), RELEASE)                        \
    X(pthread_spin_lock, (pthread_spinlock_t * l), (l), TAKE)                           \
    X(pthread_spin_trylock, (pthread_spinlock_t * l), (l), TAKE)                        \
    X(pthread_spin_unlock, (pthread_spinlock_t * l), (l), RELEASE)                      \
    X(pthread_rwlock_rdlock, (pthread_rwlock_t * l), (l), TAKE)                         \
    X(pthread_rwlock_tryrdlock, (pthread_rwlock_t * l), (l), TAKE)                      \
    X(pthread_rwlock_timedrdlock, (pthread_rwlock_t * l, const struct timespec *ts), (l, ts), TAKE) \
    X(pthread_rwlock_clockrdlock, (pthread_rwlock_t * l, clockid_t c, const struct timespec *ts), \
      (l, c, ts), TAKE)                                                                  \
    X(pthread_rwlock_wrlock, (pthread_rwlock_t * l), (l), TAKE)                         \
    X(pthread_rwlock_trywrlock, (pthread_rwlock_t * l), (l), TAKE)                      \
    X(pthread_rwlock_timedwrlock, (pthread_rwlock_t * l, const struct timespec *ts), (l, ts), TAKE) \
    X(pthread_rwlock_clockwrlock, (pthread_rwlock_t * l, clockid_t c, const struct timespec *ts), \
      (l, c, ts), TAKE)                                                                  \
    X(pthread_rwlock_unlock, (pthread_rwlock_t * l), (l), RELEASE)

/* A sanitizer's interceptors, when one is linked (interpose.c). */
#define PLOCK_WEAK(name, params, args, kind) extern int __interceptor_##name params __attribute__((weak));
PLOCK_LIST(PLOCK_WEAK)
#undef PLOCK_WEAK

static struct {
#define PLOCK_FIELD(name, params, args, kind) int(*name) params;
    PLOCK_LIST(PLOCK_FIELD)
#undef PLOCK_FIELD
} plock_next;

static void plock_resolve(void)
{
#define PLOCK_RESOLVE(name, params, args, kind)                                          \
    if (!load_relaxed(&plock_next.name))                                                 \
        store_relaxed(&plock_next.name,                                                  \
                      (int(*) params)interpose_next(#name, (void *)__interceptor_##name));
    PLOCK_LIST(PLOCK_RESOLVE)
#undef PLOCK_RESOLVE
}

/* Before the program's constructors (101: libcapri's own). */
__attribute__((constructor(101))) static void plock_init(void) { plock_resolve(); }

/* A lock call succeeded: 0, or EOWNERDEAD (a robust mutex, taken). */
#define PLOCK_AFTER_TAKE(err) ((err) == 0 || (err) == EOWNERDEAD ? lock_taken() : (void)0)
#define PLOCK_AFTER_RELEASE(err) ((err) == 0 ? lock_released() : (void)0)

#define PLOCK_DEFINE(name, params, args, kind)                                           \
    int name params                                                                      \
    {                                                                                    \
        int (*next) params = load_relaxed(&plock_next.name);                             \
        if (unlikely(!next)) {                                                           \
            plock_resolve();                                                             \
            next = load_relaxed(&plock_next.name);                                       \
            if (!next)                                                                   \
                return ENOSYS;                                                           \
        }                                                                                \
        int err = next args;                                                             \
        PLOCK_AFTER_##kind(err);                                                         \
        return err;                                                                      \
    }
PLOCK_LIST(PLOCK_DEFINE)
#undef PLOCK_DEFINE
