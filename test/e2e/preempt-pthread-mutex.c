// A thread holding a pthread mutex is not preempted (docs/runtime.md,
// "Preemption"): were it preempted, the next thread of its scheduler to lock
// the mutex would block the scheduler's kernel thread in the kernel with
// the holder behind it, for ever. Here a spinner holds a mutex for five time
// slices while another thread of the same scheduler waits to lock it; the
// request made during those slices waits for the unlock, which honours it:
// the other thread runs within a slice of it.
//
// RUN: %capri-cc -O2 %s -o %t %capri-rt-link
// RUN: %t | FileCheck %s
// CHECK: no deadlock
// CHECK: preempted after the unlock
#define _GNU_SOURCE
#include <capri.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SLICE_NS 10000000ull

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int done;
static atomic_ullong unlocked_at, other_ran_at;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    uint64_t end = now_ns() + 5 * SLICE_NS;
    while (now_ns() < end) // preemption requests arrive here, and wait
        ;
    atomic_store(&unlocked_at, now_ns());
    pthread_mutex_unlock(&m);
    // The waiting request is honoured at the next loop yield point.
    while (!atomic_load_explicit(&other_ran_at, memory_order_relaxed))
        ;
    return NULL;
}

static void *locker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    atomic_store(&other_ran_at, now_ns());
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500 && !atomic_load(&done); i++) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    if (!atomic_load(&done)) {
        fprintf(stderr, "deadlock: still not done after 5 s\n");
        _exit(1);
    }
    return NULL;
}

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    pthread_t w;
    pthread_create(&w, NULL, watchdog, NULL);
    capri_t h, l;
    capri_spawn(&h, holder, NULL, NULL);
    capri_yield(); // the holder takes the mutex first
    capri_spawn(&l, locker, NULL, NULL);
    capri_join(h, NULL);
    capri_join(l, NULL);
    atomic_store(&done, 1);
    pthread_join(w, NULL);
    printf("no deadlock\n");
    uint64_t after = atomic_load(&other_ran_at) - atomic_load(&unlocked_at);
    printf("the other thread ran %.3f ms after the unlock\n", after / 1e6);
    if (after > SLICE_NS) {
        printf("FAIL: the waiting request was not honoured at the unlock\n");
        return 1;
    }
    printf("preempted after the unlock\n");
    return 0;
}
