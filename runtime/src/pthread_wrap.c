/*
 * Plain pthreads get what capri threads have, so that code built with the
 * plugin is safe in every thread:
 *  - a stack limit in the %fs:0x70 word (its stack's bottom plus the
 *    slack), so instrumented code grows onto chunks instead of running off
 *    its stack; the main thread gets one from libcapri's constructor;
 *  - an alternate signal stack (64 KiB and a guard page), because a
 *    handler's frame (about 3 KiB with AVX-512 state) must not land on a
 *    small chunk.
 * Both are set up by an interposed pthread_create before the user's start
 * routine runs, and undone when the thread exits (a key destructor zeroes
 * the limit, so a thread glibc later starts on the same cached stack and
 * TCB never inherits it). Threads glibc creates itself (SIGEV_THREAD
 * timers) bypass this: the growth slow path treats their limit as unknown.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "interpose.h"
#include "limit.h"
#include "verify_stacks.h"
#include "log.h"
#include "pthread_wrap.h"
#include "sys.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
extern int __interceptor_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                        void *) __attribute__((weak));

static pthread_create_fn next_pthread_create;
/* 0 when our wrapper would run before ThreadSanitizer has set the new
 * thread up: TSan's interceptor sits in front of libcapri.so and hands us
 * its own start routine, and anything TSan intercepts (free, the pthread
 * calls) must not run before that routine. Then plain pthreads go without
 * the set-up (documented). */
static int wrap_threads = 1;
extern void __tsan_init(void) __attribute__((weak));
extern __typeof(pthread_create) capri_own_pthread_create __attribute__((visibility("hidden")));

#define ALTSTACK_SIZE (64u * 1024u)
#define ALTSTACK_GUARD 4096u

static pthread_key_t altstack_key;
static pthread_once_t altstack_key_once = PTHREAD_ONCE_INIT;

static void altstack_release(void *base)
{
    stack_t off;
    memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE;
    sys_call6(SYS_sigaltstack, (long)&off, 0, 0, 0, 0, 0);
    sys_call6(SYS_munmap, (long)base, ALTSTACK_SIZE + ALTSTACK_GUARD, 0, 0, 0, 0);
}

static void altstack_key_create(void) { pthread_key_create(&altstack_key, altstack_release); }

/* An alternate signal stack for this kernel thread, unless it has one. */
static void altstack_install(void)
{
    stack_t old;
    if (sys_call6(SYS_sigaltstack, 0, (long)&old, 0, 0, 0, 0) == 0 && !(old.ss_flags & SS_DISABLE))
        return;
    long p = sys_call6(SYS_mmap, 0, ALTSTACK_SIZE + ALTSTACK_GUARD, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p < 0 && p > -4096)
        return; /* no memory: handlers run on the thread's stack, as before */
    sys_mprotect((void *)p, ALTSTACK_GUARD, PROT_NONE);
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = (char *)p + ALTSTACK_GUARD;
    ss.ss_size = ALTSTACK_SIZE;
    if (sys_call6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0) != 0) {
        sys_call6(SYS_munmap, p, ALTSTACK_SIZE + ALTSTACK_GUARD, 0, 0, 0, 0);
        return;
    }
    pthread_once(&altstack_key_once, altstack_key_create);
    pthread_setspecific(altstack_key, (void *)p);
}

void kernel_thread_set_limit(void)
{
    uintptr_t limit = limit_derive_unknown();
    if (limit) {
        limit_write(limit);
        limit_track_kernel_thread();
    }
}

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *start_with_limit(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    kernel_thread_set_limit();
    altstack_install();
    return s.fn(s.arg);
}

static void resolve_next(void)
{
    if (next_pthread_create)
        return;
    next_pthread_create =
        (pthread_create_fn)interpose_next("pthread_create", (void *)__interceptor_pthread_create);
    if (__tsan_init && dlsym(RTLD_DEFAULT, "pthread_create") != (void *)&capri_own_pthread_create)
        wrap_threads = 0;
}

__attribute__((constructor(101))) static void pthread_wrap_constructor(void)
{
    resolve_next();
    /* (The verification switch first: it is part of every limit.) */
    verify_stacks_init();
    /* The main thread is checked from its first instruction of user code
     * on, like any other. */
    if (sys_gettid() == getpid())
        kernel_thread_set_limit();
}

/* Set while libcapri creates a scheduler thread through the full chain of
 * interposers (a sanitizer's must see every thread). */
static __thread int creating_plain;

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    resolve_next();
    if (!next_pthread_create)
        return EAGAIN;
    if (creating_plain || !wrap_threads)
        return next_pthread_create(thread, attr, fn, arg);
    struct start *s = malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    s->fn = fn;
    s->arg = arg;
    int err = next_pthread_create(thread, attr, start_with_limit, s);
    if (err)
        free(s);
    return err;
}

/* Our own definition's address (the plain name would resolve, in a shared
 * library, to whichever definition comes first globally). */
extern __typeof(pthread_create) capri_own_pthread_create
    __attribute__((alias("pthread_create"), visibility("hidden")));

int pthread_create_plain(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    /* Through the global symbol, so that a sanitizer's interceptor in front
     * of libcapri.so sees the thread too; our own interposer passes it on. */
    creating_plain = 1;
    int err = pthread_create(thread, attr, fn, arg);
    creating_plain = 0;
    return err;
}
