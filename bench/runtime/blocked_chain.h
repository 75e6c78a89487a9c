/*
 * The blocked-thread call chain of the peers' idle-memory programs
 * (idle_pthread, idle_pth, idle_st; blocked_live.h is capri's own):
 * level1 -> level2 -> level3, which writes a volatile 1 KiB array in its
 * frame, counts itself in `blocked`, blocks in BENCH_BLOCK() and checks
 * the array after waking.
 *
 * A program defines BENCH_BLOCK() (the library's blocking wait, returning
 * nonzero on failure) before including this header, and may define
 * BENCH_COUNT_BLOCKED() (default: a plain increment, enough where every
 * thread runs on one kernel thread).
 */
#ifndef BENCH_RUNTIME_BLOCKED_CHAIN_H
#define BENCH_RUNTIME_BLOCKED_CHAIN_H

#include <stdint.h>

#ifndef BENCH_COUNT_BLOCKED
#define BENCH_COUNT_BLOCKED() (blocked++)
#endif

static long blocked;

__attribute__((noinline)) static long level3(long seed)
{
    volatile unsigned char buf[1024];
    for (int i = 0; i < 1024; i++)
        buf[i] = (unsigned char)(seed + i);
    BENCH_COUNT_BLOCKED();
    long bad = BENCH_BLOCK() != 0;
    for (int i = 0; i < 1024; i++)
        bad += buf[i] != (unsigned char)(seed + i);
    return bad;
}

/* The empty asm after each call keeps the call from becoming a tail jump,
 * so every level keeps its frame. */
__attribute__((noinline)) static long level2(long seed)
{
    long r = level3(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static long level1(long seed)
{
    long r = level2(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* The entry of a blocked thread: 1 when its array was intact. */
static void *entry_blocked(void *arg)
{
    return (void *)(intptr_t)(level1((long)(intptr_t)arg) == 0);
}

#endif
