/*
 * The stack-limit word at %fs:0x70 (see limit.h): what a value means, the
 * preemption request, and zeroing it when a kernel thread that used
 * libcapri exits, so that a later thread reusing the TCB (glibc caches
 * thread stacks with their TCB) never inherits a stale limit.
 */
#include "limit.h"

#include <pthread.h>

#include "atomic.h"
#include "scheduler.h"
#include "thread.h"

enum limit_kind limit_classify(uintptr_t value)
{
    if (value == 0)
        return LIMIT_NONE;
    struct capri_sched *s = sched_here();
    struct capri_thread *t = s ? s->current : NULL;
    if (value == LIMIT_PREEMPT && t && limit_preempt_pending(s, t))
        return LIMIT_PREEMPTED;
    if (t && value == t->limit)
        return LIMIT_KNOWN;
    return LIMIT_UNKNOWN;
}

void limit_request_preempt(struct capri_sched *s)
{
    struct capri_thread *t = load_acquire(&s->current);
    if (!t || !s->limit_word)
        return;
    /* The request first: the slow path that sees LIMIT_PREEMPT checks it. */
    if (sched_here() == s)
        store_release(&t->preempt, (uint16_t)1);
    else
        store_release(&s->preempt_run, load_relaxed(&s->run_tsc) | 1u);
    store_release(s->limit_word, LIMIT_PREEMPT);
}

bool limit_preempt_pending(struct capri_sched *s, struct capri_thread *t)
{
    return load_relaxed(&t->preempt) != 0 ||
           load_acquire(&s->preempt_run) == (load_relaxed(&s->run_tsc) | 1u);
}

uintptr_t limit_derive_unknown(void)
{
    pthread_attr_t attr;
    uintptr_t limit = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0)
            limit = limit_for_stack((uintptr_t)lo);
        pthread_attr_destroy(&attr);
    }
    return limit;
}

static pthread_key_t limit_key;
static pthread_once_t limit_key_once = PTHREAD_ONCE_INIT;

static void limit_zero_at_exit(void *unused)
{
    (void)unused;
    limit_write(0);
}

static void limit_key_create(void) { pthread_key_create(&limit_key, limit_zero_at_exit); }

void limit_track_kernel_thread(void)
{
    pthread_once(&limit_key_once, limit_key_create);
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(limit_key, (void *)1);
}
