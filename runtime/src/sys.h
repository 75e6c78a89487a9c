/*
 * Raw system calls libcapri makes on its own behalf. They go through
 * syscall instructions directly so the user's errno is never touched, and
 * so interposed libc symbols (ours, or a sanitizer's) are never re-entered.
 * Each returns the kernel's result: >= 0, or -errno.
 */
#ifndef CAPRI_SYS_H
#define CAPRI_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

static inline long sys_call6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define FUTEX_WAIT_BITSET_PRIVATE_ (9 | 128)
#define FUTEX_WAKE_PRIVATE_ (1 | 128)

/* Sleeps while *word == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (NULL: forever). */
static inline long sys_futex_wait(const uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
    return sys_call6(SYS_futex, (long)word, FUTEX_WAIT_BITSET_PRIVATE_, (long)expected,
                     (long)deadline, 0, (long)0xffffffff);
}

static inline long sys_futex_wake(const uint32_t *word, int count)
{
    return sys_call6(SYS_futex, (long)word, FUTEX_WAKE_PRIVATE_, count, 0, 0, 0);
}

static inline long sys_madvise(void *addr, size_t len, int advice)
{
    return sys_call6(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0);
}

static inline long sys_mprotect(void *addr, size_t len, int prot)
{
    return sys_call6(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0);
}

static inline long sys_write(int fd, const void *buf, size_t len)
{
    return sys_call6(SYS_write, fd, (long)buf, (long)len, 0, 0, 0);
}

static inline long sys_gettid(void) { return sys_call6(SYS_gettid, 0, 0, 0, 0, 0, 0); }

#endif
