/*
 * Deferred cancellation and cleanup handlers. capri_cancel sets a flag and,
 * when the thread sits in a cancellable wait, wins its wait token with
 * WAKE_CANCELED; the thread acts on it at the cancellation point, running
 * its cleanup handlers and key destructors, and ends with CAPRI_CANCELED.
 */
#include <errno.h>

#include "capri.h"
#include "thread.h"
#include "wait.h"

int capri_cancel(capri_t handle)
{
    int err = runtime_ensure();
    if (err)
        return err;
    struct capri_thread *t = thread_from_handle(handle);
    if (!t)
        return ESRCH;
    /* Flag first, then the token: wait_park publishes its token, then
     * reads the flag, so one side always sees the other. */
    __atomic_store_n(&t->cancel_pending, 1u, __ATOMIC_SEQ_CST);
    uint32_t token = __atomic_load_n(&t->cancel_token, __ATOMIC_SEQ_CST);
    if (token)
        wait_wake(t, token, WAKE_CANCELED);
    return 0;
}

void capri_testcancel(void)
{
    if (runtime_ensure() == 0)
        thread_test_cancel(thread_current());
}

int capri_setcancelstate(int state, int *oldstate)
{
    if (state != CAPRI_CANCEL_ENABLE && state != CAPRI_CANCEL_DISABLE)
        return EINVAL;
    int err = runtime_ensure();
    if (err)
        return err;
    struct capri_thread *t = thread_current();
    if (oldstate)
        *oldstate = (t->flags & THREAD_CANCEL_DISABLED) ? CAPRI_CANCEL_DISABLE : CAPRI_CANCEL_ENABLE;
    if (state == CAPRI_CANCEL_DISABLE)
        t->flags |= THREAD_CANCEL_DISABLED;
    else
        t->flags &= ~THREAD_CANCEL_DISABLED;
    return 0;
}

void capri_cleanup_push_(struct capri_cleanup *c, void (*fn)(void *), void *arg)
{
    c->fn = fn;
    c->arg = arg;
    c->next = NULL;
    if (runtime_ensure() != 0)
        return;
    struct capri_thread *t = thread_current();
    c->next = t->cleanup;
    t->cleanup = c;
}

void capri_cleanup_pop_(struct capri_cleanup *c, int execute)
{
    struct capri_thread *t = thread_current();
    if (t && t->cleanup == c)
        t->cleanup = c->next;
    if (execute && c->fn)
        c->fn(c->arg);
}

void cleanup_run_all(struct capri_thread *t)
{
    struct capri_cleanup *c;
    while ((c = t->cleanup) != NULL) {
        t->cleanup = c->next;
        c->fn(c->arg);
    }
}
