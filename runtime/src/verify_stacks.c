/*
 * CAPRI_VERIFY_STACKS=1 (verify_stacks.h): paint each chunk a region
 * grows onto, scan it when the region returns, and stop the program when
 * the region went deeper than its checkpoint allowed.
 *
 * What a region may use below its link record: its bound (which includes
 * the thunk's frame), the return address of the call into the thunk
 * (GROW_FRAME's 16 bytes above the record's size), and LIMIT_ENTRY_MARGIN
 * for a nested checkpoint's __morestack, which pushes that much below the
 * deepest point of the region before it leaves the chunk. This is exactly
 * what the limit guarantees without verification; a region within it can
 * never reach a guard page.
 */
#include "verify_stacks.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk_pool.h"
#include "grow.h"
#include "limit.h"
#include "log.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"

uintptr_t __capri_limit_poison;

/* Not a pattern code, data or a small integer is likely to be. */
#define PAINT 0xcafef00dcafef00dull

/* (Not instrumented: the scan reads what dead frames left.) */
__attribute__((no_sanitize("address"))) static void paint(uintptr_t lo, uintptr_t hi)
{
    for (uint64_t *w = (uint64_t *)lo; (uintptr_t)w < hi; w++)
        *w = PAINT;
}

/* The lowest word of [lo, hi) that is not paint any more, else hi. */
__attribute__((no_sanitize("address"))) static uintptr_t lowest_written(uintptr_t lo, uintptr_t hi)
{
    const uint64_t *w = (const uint64_t *)lo;
    while ((uintptr_t)w < hi && *w == PAINT)
        w++;
    return (uintptr_t)w < hi ? (uintptr_t)w : hi;
}

/* getenv only (no allocation). Also a constructor, for a program whose
 * pthread_wrap.c constructor does not run first. */
__attribute__((constructor(101))) void verify_stacks_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    /* 1 on, 0 or empty off; anything else is reported and ignored, like
     * the other settings. */
    const char *v = getenv("CAPRI_VERIFY_STACKS");
    if (!v || !v[0] || strcmp(v, "0") == 0)
        return;
    if (strcmp(v, "1") == 0)
        __capri_limit_poison = LIMIT_VERIFY;
    else
        capri_warn("ignoring malformed or out-of-range CAPRI_VERIFY_STACKS (1: on, 0: off)");
}

void verify_stacks_paint(struct grow_link *l, uint64_t need)
{
    uintptr_t lo = (uintptr_t)l->chunk, top = (uintptr_t)l;
    uint64_t allowed = need + (GROW_FRAME - GROW_LINK_SIZE) + LIMIT_ENTRY_MARGIN;
    l->verify = 0;
    /* A region with hooks (a yield on the chunk before the thunk runs)
     * would show the yield's frames as its own: not verified. */
    if (l->hooks || allowed >= top - lo || allowed > UINT32_MAX)
        return;
    paint(lo, top);
    l->verify = 1;
    l->verify_allowed = (uint32_t)allowed;
}

static _Noreturn void report(const struct grow_link *l, uint64_t used)
{
    char msg[768];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, "stack verification: a call went ");
    p = log_append_u64(p, e, used - l->verify_allowed);
    p = log_append(p, e, " bytes deeper than its checkpoint allowed (used ");
    p = log_append_u64(p, e, used);
    p = log_append(p, e, " of ");
    p = log_append_u64(p, e, l->verify_allowed);
    p = log_append(p, e, " bytes)");
    /* The call: the return address __morestack was called with, in the
     * caller; and the thunk, which is named after the caller too. */
    uintptr_t site = *(const uintptr_t *)(l->frame + 8);
    p = log_append_place(log_append(p, e, "\n  at the call returning to "), e, (const void *)site);
    Dl_info di;
    if (dladdr((void *)l->thunk, &di) && di.dli_sname) {
        p = log_append(p, e, "\n  through ");
        p = log_append(p, e, di.dli_sname);
    }
    /* A link of the kernel thread's own stack: main before it became a
     * capri thread (it is one now if the runtime has started since), or a
     * thread libcapri did not start. */
    const struct capri_thread *t = l->owner_tls ? NULL : (const struct capri_thread *)l->owner;
    if (!t) {
        struct capri_sched *s = sched_here();
        t = s ? s->current : NULL;
    }
    if (!t) {
        p = log_append(p, e, " (not a capri thread: LWP ");
        p = log_append_u64(p, e, (unsigned long long)sys_gettid());
        p = log_append(p, e, ")");
        *p = 0;
        capri_fatal(msg);
    }
    *p = 0;
    capri_fatal_thread(msg, t);
}

void verify_stacks_check(const struct grow_link *l)
{
    if (!l->verify)
        return;
    uintptr_t top = (uintptr_t)l, floor = top - l->verify_allowed;
    uintptr_t low = lowest_written((uintptr_t)l->chunk, floor);
    if (low < floor)
        report(l, top - low);
}

/* The first chunk's lowest stack byte, and whether its band fits below the
 * struct with room for the entry's own frames. */
static uintptr_t first_band(const struct capri_thread *t)
{
    uintptr_t lo = (uintptr_t)t->chunk + ((t->flags & THREAD_DENSE) ? CHUNK_CANARY_ROOM : 0);
    return (uintptr_t)t > lo && (uintptr_t)t - lo >= 2 * LIMIT_SLACK ? lo : 0;
}

void verify_stacks_paint_first(const struct capri_thread *t)
{
    uintptr_t lo = first_band(t);
    if (lo)
        paint(lo, lo + LIMIT_SLACK);
}

void verify_stacks_check_first(const struct capri_thread *t)
{
    uintptr_t lo = first_band(t);
    uintptr_t low = lo ? lowest_written(lo, lo + LIMIT_SLACK) : 0;
    if (!lo || low == lo + LIMIT_SLACK)
        return;
    char msg[512];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, "stack verification: the thread's entry region went ");
    p = log_append_u64(p, e, lo + LIMIT_SLACK - low);
    p = log_append(p, e, " bytes into the last ");
    p = log_append_u64(p, e, LIMIT_SLACK);
    p = log_append(p, e, " of its first chunk, past what the chunk was sized for (entry ");
    p = log_append_place(p, e, (const void *)t->fn);
    p = log_append(p, e, ")");
    *p = 0;
    capri_fatal_thread(msg, t);
}
