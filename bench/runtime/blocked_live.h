/*
 * A capri thread blocked at a known call depth with 1 KiB live in its
 * frame: entry_live -> live1 -> live2 -> live3, which writes a volatile
 * 1 KiB array, counts itself in `blocked`, blocks in capri_sem_wait on
 * `sem` and checks the array after waking (the entry returns 1 when it was
 * intact). idle_capri (bench-runtime) and memory_capri's live shape
 * (bench-memory) measure this same thread.
 */
#ifndef CAPRI_BENCH_BLOCKED_LIVE_H
#define CAPRI_BENCH_BLOCKED_LIVE_H

#include <stdint.h>

#include "capri.h"

static capri_sem_t sem; /* zero-initialised: value 0 */
static long blocked;    /* one scheduler: plain increments */

__attribute__((noinline)) static long live3(long seed)
{
    volatile unsigned char buf[1024];
    for (int i = 0; i < 1024; i++)
        buf[i] = (unsigned char)(seed + i);
    blocked++;
    long bad = capri_sem_wait(&sem) != 0;
    for (int i = 0; i < 1024; i++)
        bad += buf[i] != (unsigned char)(seed + i);
    return bad;
}

/* The empty asm after each call keeps the call from becoming a tail jump,
 * so every level keeps its frame. */
__attribute__((noinline)) static long live2(long seed)
{
    long r = live3(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

__attribute__((noinline)) static long live1(long seed)
{
    long r = live2(seed + 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

static void *entry_live(void *arg)
{
    return (void *)(intptr_t)(live1((long)(intptr_t)arg) == 0);
}

#endif
