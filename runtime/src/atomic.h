/*
 * Atomics and spinlocks for libcapri. The runtime uses the __atomic
 * builtins on plain types (the public structs must stay usable from C++),
 * always with an explicit memory order.
 */
#ifndef CAPRI_ATOMIC_H
#define CAPRI_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_seq(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define store_seq(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define exchange_acq_rel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define fetch_add_acq_rel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define fetch_sub_acq_rel(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)
/* Compare-and-swap; on failure *expected holds the value seen. */
#define cas_acq_rel(p, expected, desired)                                                \
    __atomic_compare_exchange_n((p), (expected), (desired), false, __ATOMIC_ACQ_REL,     \
                                __ATOMIC_ACQUIRE)
#define cas_seq(p, expected, desired)                                                    \
    __atomic_compare_exchange_n((p), (expected), (desired), false, __ATOMIC_SEQ_CST,     \
                                __ATOMIC_SEQ_CST)

static inline void cpu_relax(void) { __builtin_ia32_pause(); }

/* A test-and-test-and-set spinlock: one word, zero is unlocked. Held only
 * for a few instructions (queue links), never across a switch except as a
 * post-switch action (see sched_block). */
static inline bool spin_trylock(unsigned *lock)
{
    return load_relaxed(lock) == 0 && __atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) == 0;
}

static inline void spin_lock(unsigned *lock)
{
    while (__atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) != 0)
        while (load_relaxed(lock) != 0)
            cpu_relax();
}

static inline void spin_unlock(unsigned *lock) { store_release(lock, 0u); }

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define CACHE_LINE 64

#endif
