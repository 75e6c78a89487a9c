/*
 * Atomics and spinlocks for libcapri. The runtime uses the __atomic
 * builtins on plain types (the public structs must stay usable from C++),
 * always with an explicit memory order.
 */
#ifndef CAPRI_ATOMIC_H
#define CAPRI_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CAPRI_ATOMIC_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CAPRI_ATOMIC_TSAN 1
#endif

#ifdef CAPRI_ATOMIC_TSAN
/* TSan skips the synchronisation of every atomic a thread performs while
 * that thread is inside one of TSan's blocking interceptors (read, poll,
 * nanosleep, ...: it expects only libc to run there). libcapri.so's
 * interposers are the "real" functions those interceptors call, and a
 * capri thread parks, picks, locks and wakes from inside them: its
 * spinlocks and wake-ups would order nothing, and TSan would report races
 * between accesses they do order. __tsan_acquire and __tsan_release are
 * honoured there, so every ordering operation also states its edge with
 * them: a release before the operation, an acquire after it (a failed
 * compare-and-swap releases too; that only ever hides a race). */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_acquire(p) __tsan_acquire((void *)(uintptr_t)(p))
#define tsan_release(p) __tsan_release((void *)(uintptr_t)(p))
#define atomic_tsan_acquire_(p, op)                                                      \
    __extension__({                                                                      \
        __typeof__(op) atomic_tsan_v_ = (op);                                            \
        tsan_acquire(p);                                                                 \
        atomic_tsan_v_;                                                                  \
    })
#define atomic_tsan_both_(p, op) (tsan_release(p), atomic_tsan_acquire_((p), (op)))
#else
#define tsan_acquire(p) ((void)0)
#define tsan_release(p) ((void)0)
#define atomic_tsan_acquire_(p, op) (op)
#define atomic_tsan_both_(p, op) (op)
#endif

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) atomic_tsan_acquire_((p), __atomic_load_n((p), __ATOMIC_ACQUIRE))
#define load_seq(p) atomic_tsan_acquire_((p), __atomic_load_n((p), __ATOMIC_SEQ_CST))
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) (tsan_release(p), __atomic_store_n((p), (v), __ATOMIC_RELEASE))
#define store_seq(p, v) (tsan_release(p), __atomic_store_n((p), (v), __ATOMIC_SEQ_CST))
#define exchange_acq_rel(p, v) atomic_tsan_both_((p), __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL))
#define fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define fetch_add_acq_rel(p, v) atomic_tsan_both_((p), __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL))
#define fetch_sub_acq_rel(p, v) atomic_tsan_both_((p), __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL))
/* Compare-and-swap; on failure *expected holds the value seen. */
#define cas_acq_rel(p, expected, desired)                                                \
    atomic_tsan_both_((p), __atomic_compare_exchange_n((p), (expected), (desired), false, \
                                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
#define cas_seq(p, expected, desired)                                                    \
    atomic_tsan_both_((p), __atomic_compare_exchange_n((p), (expected), (desired), false, \
                                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))

static inline void cpu_relax(void) { __builtin_ia32_pause(); }

/* A test-and-test-and-set spinlock: one word, zero is unlocked. Held only
 * for a few instructions (queue links), never across a switch except as a
 * post-switch action (see sched_block). */
static inline bool spin_trylock(unsigned *lock)
{
    if (load_relaxed(lock) != 0 || __atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) != 0)
        return false;
    tsan_acquire(lock);
    return true;
}

static inline void spin_lock(unsigned *lock)
{
    while (__atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) != 0)
        while (load_relaxed(lock) != 0)
            cpu_relax();
    tsan_acquire(lock);
}

static inline void spin_unlock(unsigned *lock) { store_release(lock, 0u); }

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define CACHE_LINE 64

#endif
