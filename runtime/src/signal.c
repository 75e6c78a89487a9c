/*
 * Signals (docs/runtime-design.md, "Signals" and "Stack overflow").
 *
 * A capri thread runs on a small chunk: a signal frame alone is about 3 KiB
 * here. So every scheduler has an altstack, and every user handler is
 * installed with SA_ONSTACK through one wrapper (sig_wrapper), which
 *  - finds the user's handler in sig_table (indexed by signal number),
 *  - counts the handler in the scheduler's in_handler (nesting),
 *  - saves errno and the limit word (%fs:0x70), sets the limit word to
 *    describe the altstack while the handler runs, and restores both.
 * sigaction, signal, bsd_signal, ssignal, sysv_signal, __sysv_signal, sigset,
 * siginterrupt and sigaltstack are interposed; `oldact` reports the user's
 * handler, flags and mask, never the wrapper or the flags we added.
 *
 * SIGSEGV and SIGBUS belong to the overflow reporter (sig_fault) once the
 * runtime has started: a fault in a chunk's guard page is reported as
 *     capri: stack overflow in thread <id> "<name>" at <address>
 *       in <function>+<offset> (<object>)
 * and the process aborts. <id> is the thread's capri_t handle in decimal
 * (the value capri_self() returns in that thread), or ? when the slot table
 * names no thread. Other faults go to the user's handler, called as the
 * kernel would (its mask, SA_RESETHAND), or take the default action.
 * An overflow of the altstack itself cannot be reported.
 *
 * The longjmp family is interposed so that a jump out of a handler
 * (siglongjmp to a sigsetjmp outside it) undoes what the wrapper did:
 * every running wrapper has a level (a local, linked from sig_top), and a
 * jump whose target stack pointer lies outside the frames below a level's
 * wrapper leaves that level. The target's stack pointer is in the jmp_buf,
 * mangled by glibc (PTR_MANGLE: xor with the pointer guard at %fs:0x30,
 * rotate left by 17); the layout is verified once at start-up with a setjmp
 * of our own, and if it does not hold, jumps are not tracked (a handler
 * left by a jump then stays counted). Leaving a handler with setcontext or
 * swapcontext is not tracked.
 *
 * Who calls what: thread.c's runtime start-up calls signal_runtime_init
 * once; every scheduler calls signal_sched_init on its own kernel thread
 * before it runs capri threads. The interposers work before either (a
 * handler installed before the runtime starts goes through the wrapper
 * already; sched_here() is NULL then).
 *
 * Limits: a handler installed behind our back (raw rt_sigaction, or a
 * shared library's call that binds to libc because an executable linked
 * with libcapri.a does not export our sigaction) after the runtime started
 * is not re-flagged and runs on the interrupted stack. Plain pthreads get no
 * altstack here. The next definitions are resolved in a constructor
 * (interpose_next), never in a handler; -static links have none.
 */
#undef _FORTIFY_SOURCE /* setjmp.h would rename our longjmp to __longjmp_chk */

#include "signal_wrap.h"

#include "atomic.h"
#include "chunk_pool.h"
#include "grow.h"
#include "interpose.h"
#include "limit.h"
#include "intr.h"
#include "scheduler.h"
#include "sys.h"
#include "thread.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

/* glibc's headers lack these kernel values. */
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM ((int)(1u << 31))
#endif

/* Not every name is declared under every feature-test macro. */
sighandler_t bsd_signal(int sig, sighandler_t handler);
sighandler_t ssignal(int sig, sighandler_t handler);
sighandler_t sysv_signal(int sig, sighandler_t handler);
sighandler_t __sysv_signal(int sig, sighandler_t handler);
sighandler_t sigset(int sig, sighandler_t disp);
int siginterrupt(int sig, int flag);

/* ------------------------------------------------------------------ */
/* Next definitions                                                     */
/* ------------------------------------------------------------------ */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigaltstack_fn)(const stack_t *, stack_t *);
typedef void (*jump_fn)(struct __jmp_buf_tag *, int) __attribute__((noreturn));

/* A sanitizer's interceptors, when one is linked (see interpose.c). */
extern int __interceptor_sigaction(int, const struct sigaction *, struct sigaction *)
    __attribute__((weak));
extern int __interceptor_sigaltstack(const stack_t *, stack_t *) __attribute__((weak));
extern void __interceptor_longjmp(struct __jmp_buf_tag *, int) __attribute__((weak));
extern void __interceptor__longjmp(struct __jmp_buf_tag *, int) __attribute__((weak));
extern void __interceptor_siglongjmp(struct __jmp_buf_tag *, int) __attribute__((weak));
extern void __interceptor___longjmp_chk(struct __jmp_buf_tag *, int) __attribute__((weak));

static sigaction_fn next_sigaction;
static sigaltstack_fn next_sigaltstack;
static jump_fn next_longjmp, next__longjmp, next_siglongjmp, next_longjmp_chk;

/* The target's stack pointer in a jmp_buf can be read (checked at start-up). */
static int jmp_sp_readable;

static void resolve_jump(jump_fn *slot, const char *name,
                         void (*interceptor)(struct __jmp_buf_tag *, int))
{
    if (!load_relaxed(slot))
        store_relaxed(slot, (jump_fn)interpose_next(name, (void *)interceptor));
}

static int jmp_layout_check(void);

static void resolve_next(void)
{
    if (!load_relaxed(&next_sigaction))
        store_relaxed(&next_sigaction,
                      (sigaction_fn)interpose_next("sigaction", (void *)__interceptor_sigaction));
    if (!load_relaxed(&next_sigaltstack))
        store_relaxed(&next_sigaltstack,
                      (sigaltstack_fn)interpose_next("sigaltstack", (void *)__interceptor_sigaltstack));
    resolve_jump(&next_longjmp, "longjmp", __interceptor_longjmp);
    resolve_jump(&next__longjmp, "_longjmp", __interceptor__longjmp);
    resolve_jump(&next_siglongjmp, "siglongjmp", __interceptor_siglongjmp);
    resolve_jump(&next_longjmp_chk, "__longjmp_chk", __interceptor___longjmp_chk);
}

static void table_lock(uint64_t *saved_mask);
static void table_unlock(const uint64_t *saved_mask);

/* fork while another thread updates the table: the child must not inherit
 * a held lock or a half-written entry. */
static uint64_t fork_saved_mask;
static void atfork_prepare(void) { table_lock(&fork_saved_mask); }
static void atfork_release(void) { table_unlock(&fork_saved_mask); }

__attribute__((constructor(101))) static void signal_constructor(void)
{
    resolve_next();
    store_relaxed(&jmp_sp_readable, jmp_layout_check());
    pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

/* For an interposer called before the constructor ran (another
 * constructor): resolve now. */
static inline bool have_next_sigaction(void)
{
    if (unlikely(!load_relaxed(&next_sigaction)))
        resolve_next();
    return load_relaxed(&next_sigaction) != NULL;
}

/* ------------------------------------------------------------------ */
/* Raw system calls (no errno, no interposed libc)                      */
/* ------------------------------------------------------------------ */

/* The kernel's struct sigaction on x86-64 (8-byte mask). */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static inline uint64_t sigbit(int sig) { return 1ull << (sig - 1); }

static inline long sys_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
    return sys_call6(SYS_rt_sigprocmask, how, (long)set, (long)old, 8, 0, 0);
}

static inline long sys_tgkill_self(int sig)
{
    long pid = sys_call6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    return sys_call6(SYS_tgkill, pid, sys_gettid(), sig, 0, 0, 0);
}

/* SIG_DFL needs no restorer. */
static inline long sys_set_default(int sig)
{
    struct ksigaction k = {0};
    k.handler = (void *)SIG_DFL;
    return sys_call6(SYS_rt_sigaction, sig, (long)&k, 0, 8, 0, 0);
}

/* ------------------------------------------------------------------ */
/* The handler table                                                    */
/* ------------------------------------------------------------------ */

/*
 * One entry per signal: what the user asked for. Writers hold table_lock
 * with every signal blocked (so a handler on the same kernel thread never
 * sees a half-written entry and never waits for its own writer); readers
 * in handlers use the sequence number (seqlock) and never take the lock.
 * A handler is written to the table before the kernel action that leads to
 * the wrapper is installed; SIG_DFL/SIG_IGN are written after the kernel
 * action changed. So a wrapper that finds SIG_DFL or SIG_IGN knows the
 * kernel already has it.
 */
struct sig_entry {
    uint32_t seq;     /* odd while being written */
    uint32_t known;   /* the entry holds what the user installed */
    sighandler_t handler;
    uint64_t flags;   /* the user's sa_flags */
    uint64_t mask;    /* the user's sa_mask (signals 1..64) */
};

struct sig_snapshot {
    uint32_t seq;
    uint32_t known;
    sighandler_t handler;
    uint64_t flags;
    uint64_t mask;
};

static struct sig_entry sig_table[NSIG];
static unsigned table_lock_word;

static void table_lock(uint64_t *saved_mask)
{
    uint64_t all = ~0ull;
    sys_sigprocmask(SIG_BLOCK, &all, saved_mask);
    spin_lock(&table_lock_word);
}

static void table_unlock(const uint64_t *saved_mask)
{
    spin_unlock(&table_lock_word);
    sys_sigprocmask(SIG_SETMASK, saved_mask, NULL);
}

/* Under table_lock. */
static void entry_write(int sig, uint32_t known, sighandler_t handler, uint64_t flags, uint64_t mask)
{
    struct sig_entry *e = &sig_table[sig];
    uint32_t seq = load_relaxed(&e->seq);
    store_relaxed(&e->seq, seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store_relaxed(&e->known, known);
    store_relaxed(&e->handler, handler);
    store_relaxed(&e->flags, flags);
    store_relaxed(&e->mask, mask);
    store_release(&e->seq, seq + 2);
}

/* Lock-free read (handlers). Spins only while a writer on another kernel
 * thread is in the middle of an update. */
static void entry_read(int sig, struct sig_snapshot *out)
{
    struct sig_entry *e = &sig_table[sig];
    for (;;) {
        uint32_t seq = load_acquire(&e->seq);
        if (seq & 1) {
            cpu_relax();
            continue;
        }
        out->known = load_relaxed(&e->known);
        out->handler = load_relaxed(&e->handler);
        out->flags = load_relaxed(&e->flags);
        out->mask = load_relaxed(&e->mask);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (load_relaxed(&e->seq) == seq) {
            out->seq = seq;
            return;
        }
    }
}

/* SA_RESETHAND: the kernel reset its action to SIG_DFL when it delivered
 * the signal; the table follows, unless someone installed something else
 * since the snapshot was taken. */
static void entry_reset_if_unchanged(int sig, uint32_t seq)
{
    uint64_t saved;
    table_lock(&saved);
    if (load_relaxed(&sig_table[sig].seq) == seq)
        entry_write(sig, 1, SIG_DFL, 0, 0);
    table_unlock(&saved);
}

static inline bool is_handler(sighandler_t h) { return h != SIG_DFL && h != SIG_IGN && h != SIG_ERR; }

static uint64_t mask_bits(const sigset_t *set)
{
    uint64_t bits = 0;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(set, sig) == 1)
            bits |= sigbit(sig);
    return bits;
}

static void mask_set(sigset_t *set, uint64_t bits)
{
    sigemptyset(set);
    for (int sig = 1; sig < NSIG; sig++)
        if (bits & sigbit(sig))
            sigaddset(set, sig);
}

/* ------------------------------------------------------------------ */
/* Handler levels: what the wrapper changes, and undoes                 */
/* ------------------------------------------------------------------ */

/* One per running wrapper, a local of the wrapper, linked from sig_top
 * (innermost first). Everything the handler runs is below the wrapper's
 * frame address on the same stack (the level itself may be elsewhere: ASan
 * moves locals to its fake stack). */
struct sig_level {
    struct sig_level *prev;
    uintptr_t frame;        /* the wrapper's frame address */
    struct capri_sched *s;  /* counted in s->in_handler; NULL: not counted */
    uintptr_t limit;        /* the limit word before the handler */
    uintptr_t alt_lo, alt_hi; /* the scheduler's altstack, when the handler runs on it */
    int saved_errno;
};

static __thread struct sig_level *sig_top;

static inline __attribute__((always_inline)) void level_enter(struct sig_level *lv, void *frame)
{
    lv->frame = (uintptr_t)frame;
    lv->saved_errno = errno;
    lv->limit = limit_read();
    lv->s = sched_here();
    lv->alt_lo = lv->alt_hi = 0;
    uintptr_t limit = 0; /* no checks, unless the handler runs on the altstack we know */
    struct capri_sched *s = lv->s;
    if (s && s->altstack) {
        uintptr_t lo = (uintptr_t)s->altstack, hi = lo + s->altstack_size, here = lv->frame;
        if (here >= lo && here < hi) {
            lv->alt_lo = lo;
            lv->alt_hi = hi;
            limit = limit_for_stack(lo);
        }
    }
    limit_write(limit);
    if (s)
        __atomic_fetch_add(&s->in_handler, 1, __ATOMIC_RELAXED);
    lv->prev = load_relaxed(&sig_top);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    store_relaxed(&sig_top, lv);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The limit word to go back to: the saved one, unless a preemption request
 * arrived meanwhile (it must not be lost). */
static inline uintptr_t limit_to_restore(uintptr_t saved)
{
    return limit_read() == LIMIT_PREEMPT ? LIMIT_PREEMPT : saved;
}

static inline __attribute__((always_inline)) void level_leave(struct sig_level *lv)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    store_relaxed(&sig_top, lv->prev);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (lv->s)
        __atomic_fetch_sub(&lv->s->in_handler, 1, __ATOMIC_RELAXED);
    limit_write(limit_to_restore(lv->limit));
    errno = lv->saved_errno;
}

/* Does a jump to a stack pointer of `target` leave this level? */
static inline bool level_left_by(const struct sig_level *lv, uintptr_t target)
{
    if (lv->alt_lo) /* the handler's frames are [alt_lo, frame) */
        return !(target >= lv->alt_lo && target < lv->frame);
    return target > lv->frame; /* same stack: older frames are above */
}

/* ------------------------------------------------------------------ */
/* Calling the user's handler                                           */
/* ------------------------------------------------------------------ */

static bool default_is_ignore(int sig)
{
    return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

static void call_user(int sig, siginfo_t *info, void *uc, bool emulate_mask)
{
    struct sig_snapshot e;
    entry_read(sig, &e);
    if (!is_handler(e.handler)) {
        /* The action changed to SIG_DFL or SIG_IGN while this signal was
         * on its way: the kernel already has it, so deliver again. */
        if (e.handler == SIG_DFL && !default_is_ignore(sig))
            sys_tgkill_self(sig);
        return;
    }
    if (e.flags & SA_RESETHAND)
        entry_reset_if_unchanged(sig, e.seq);
    if (emulate_mask) {
        /* The kernel ran our handler with its own mask; apply the user's
         * (sigreturn restores the interrupted one). */
        uint64_t block = e.mask | ((e.flags & SA_NODEFER) ? 0 : sigbit(sig));
        if (block)
            sys_sigprocmask(SIG_BLOCK, &block, NULL);
    }
    /* Parked calls the kernel would have interrupted end with EINTR
     * (noted first: the handler may leave with longjmp). */
    intr_note((e.flags & SA_RESTART) != 0);
    if (e.flags & SA_SIGINFO)
        ((void (*)(int, siginfo_t *, void *))(void (*)(void))e.handler)(sig, info, uc);
    else
        e.handler(sig);
}

static void sig_wrapper(int sig, siginfo_t *info, void *uc)
{
    struct sig_level lv;
    level_enter(&lv, __builtin_frame_address(0));
    call_user(sig, info, uc, false);
    level_leave(&lv);
}

/* ------------------------------------------------------------------ */
/* Installing                                                           */
/* ------------------------------------------------------------------ */

static void sig_fault(int sig, siginfo_t *info, void *uc);

static bool is_ours_handler(const struct sigaction *k)
{
    return k->sa_sigaction == sig_wrapper || k->sa_sigaction == sig_fault;
}

static bool is_ours(const struct sigaction *k)
{
    return (k->sa_flags & SA_SIGINFO) && is_ours_handler(k);
}

/* The kernel action that runs the user's handler (h, flags, mask) through
 * the wrapper. */
static void wrapper_action(struct sigaction *k, uint64_t flags, uint64_t mask)
{
    memset(k, 0, sizeof *k);
    k->sa_sigaction = sig_wrapper;
    k->sa_flags = (int)((flags | SA_SIGINFO | SA_ONSTACK) & ~(uint64_t)SA_RESTORER);
    mask_set(&k->sa_mask, mask);
}

/*
 * What oldact reports, from the kernel's action and the table entry:
 *  - the kernel runs ours: the user's action from the table (SIG_DFL when
 *    the table has none: the overflow reporter alone);
 *  - the kernel has the same SIG_DFL/SIG_IGN as the table: the table's
 *    (after an SA_RESETHAND delivery the kernel keeps the wrapper's flags);
 *  - the kernel reset a one-shot handler the wrapper has not yet reset in
 *    the table: SIG_DFL with the user's flags and mask;
 *  - anything else was installed behind our back: the kernel's action.
 */
static void report_old(struct sigaction *oldact, const struct sigaction *kold,
                       const struct sig_snapshot *old)
{
    bool ours = is_ours(kold);
    sighandler_t kh = kold->sa_handler;
    bool same_default = !ours && old->known && !is_handler(kh) && kh == old->handler;
    bool reset_pending = !ours && old->known && kh == SIG_DFL && is_handler(old->handler) &&
                         (old->flags & SA_RESETHAND);
    if (!ours && !same_default && !reset_pending) {
        *oldact = *kold;
        return;
    }
    memset(oldact, 0, sizeof *oldact);
    if (old->known) {
        oldact->sa_handler = reset_pending ? SIG_DFL : old->handler;
        oldact->sa_flags = (int)old->flags;
        mask_set(&oldact->sa_mask, old->mask);
    } else {
        oldact->sa_handler = SIG_DFL;
        sigemptyset(&oldact->sa_mask);
    }
    oldact->sa_restorer = kold->sa_restorer;
}

static void snapshot_locked(int sig, struct sig_snapshot *out)
{
    const struct sig_entry *e = &sig_table[sig];
    out->seq = e->seq;
    out->known = e->known;
    out->handler = e->handler;
    out->flags = e->flags;
    out->mask = e->mask;
}

/* sigaction's work; act already copied by the caller. */
static int install(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    if (sig < 1 || sig >= NSIG || (act && (sig == SIGKILL || sig == SIGSTOP))) {
        errno = EINVAL;
        return -1;
    }
    if (!have_next_sigaction()) {
        errno = ENOSYS;
        return -1;
    }
    sigaction_fn next = load_relaxed(&next_sigaction);
    struct sigaction kold;
    memset(&kold, 0, sizeof kold);
    struct sig_snapshot old;
    int rc, err = 0;
    uint64_t saved;
    table_lock(&saved);
    snapshot_locked(sig, &old);
    if (!act) {
        rc = next(sig, NULL, &kold);
    } else {
        sighandler_t h = act->sa_handler;
        uint64_t flags = (uint64_t)(unsigned)act->sa_flags, mask = mask_bits(&act->sa_mask);
        if (is_ours_handler(act)) {
            /* Our own action coming back (saved from the kernel behind our
             * back): the table already describes it. */
            rc = next(sig, act, &kold);
            goto done_rc;
        }
        if (sig == SIGSEGV || sig == SIGBUS) {
            /* Once the overflow reporter owns the signal, only the table
             * changes (the reporter chains to it). */
            rc = next(sig, NULL, &kold);
            if (rc == 0 && kold.sa_sigaction == sig_fault && (kold.sa_flags & SA_SIGINFO)) {
                entry_write(sig, 1, h, flags, mask);
                goto done;
            }
        }
        if (is_handler(h)) {
            struct sigaction k;
            wrapper_action(&k, flags, mask);
            entry_write(sig, 1, h, flags, mask);
            rc = next(sig, &k, &kold);
            if (rc != 0) {
                err = errno;
                entry_write(sig, old.known, old.handler, old.flags, old.mask);
            }
        } else {
            rc = next(sig, act, &kold);
            if (rc == 0)
                entry_write(sig, 1, h, flags, mask);
        }
    }
done_rc:
    if (rc != 0 && !err)
        err = errno;
done:
    table_unlock(&saved);
    if (rc != 0) {
        errno = err;
        return -1;
    }
    if (oldact)
        report_old(oldact, &kold, &old);
    return 0;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    struct sigaction copy;
    if (act)
        copy = *act;
    return install(sig, act ? &copy : NULL, oldact);
}

/* Signals siginterrupt() made interrupting (signal() then omits SA_RESTART). */
static uint64_t sig_interrupting;

static sighandler_t install_simple(int sig, sighandler_t handler, int flags, bool block_self)
{
    if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (block_self)
        sigaddset(&act.sa_mask, sig);
    act.sa_flags = flags;
    if (install(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* BSD semantics (glibc's signal): restart, no reset, the signal blocked
 * while its handler runs. */
static sighandler_t install_bsd(int sig, sighandler_t handler)
{
    bool interrupting = sig >= 1 && sig < NSIG && (load_relaxed(&sig_interrupting) & sigbit(sig));
    return install_simple(sig, handler, interrupting ? 0 : SA_RESTART, true);
}

sighandler_t signal(int sig, sighandler_t handler) { return install_bsd(sig, handler); }
sighandler_t bsd_signal(int sig, sighandler_t handler) { return install_bsd(sig, handler); }
sighandler_t ssignal(int sig, sighandler_t handler) { return install_bsd(sig, handler); }

/* System V semantics: reset to SIG_DFL on delivery, no blocking, no restart. */
sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return install_simple(sig, handler, SA_RESETHAND | SA_NODEFER, false);
}
sighandler_t __sysv_signal(int sig, sighandler_t handler) { return sysv_signal(sig, handler); }

int siginterrupt(int sig, int flag)
{
    if (sig < 1 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    struct sigaction act;
    if (install(sig, NULL, &act) < 0)
        return -1;
    if (flag) {
        __atomic_fetch_or(&sig_interrupting, sigbit(sig), __ATOMIC_RELAXED);
        act.sa_flags &= ~SA_RESTART;
    } else {
        __atomic_fetch_and(&sig_interrupting, ~sigbit(sig), __ATOMIC_RELAXED);
        act.sa_flags |= SA_RESTART;
    }
    return install(sig, &act, NULL) < 0 ? -1 : 0;
}

/* As glibc documents it: SIG_HOLD adds sig to the signal mask and leaves
 * the disposition; anything else sets the disposition (no flags, empty
 * mask) and removes sig from the mask. Returns the previous disposition,
 * or SIG_HOLD when sig was blocked. */
sighandler_t sigset(int sig, sighandler_t disp)
{
    if (sig < 1 || sig >= NSIG || disp == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    sigset_t one, before;
    sigemptyset(&one);
    sigaddset(&one, sig);
    if (disp == SIG_HOLD) {
        if (sigprocmask(SIG_BLOCK, &one, &before) < 0)
            return SIG_ERR;
        if (sigismember(&before, sig) == 1)
            return SIG_HOLD;
        struct sigaction cur;
        if (install(sig, NULL, &cur) < 0)
            return SIG_ERR;
        return cur.sa_handler;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = disp;
    sigemptyset(&act.sa_mask);
    if (install(sig, &act, &old) < 0)
        return SIG_ERR;
    if (sigprocmask(SIG_UNBLOCK, &one, &before) < 0)
        return SIG_ERR;
    return sigismember(&before, sig) == 1 ? SIG_HOLD : old.sa_handler;
}

/* ------------------------------------------------------------------ */
/* sigaltstack                                                          */
/* ------------------------------------------------------------------ */

/* The kernel's own minimum (MINSIGSTKSZ is sysconf() with _GNU_SOURCE). */
#define KERNEL_MINSIGSTKSZ 2048u

/* The capri thread whose sigaltstack requests are recorded, or NULL when
 * the calling kernel thread is not running one (pass through). */
static struct capri_thread *altstack_owner(void)
{
    if (!sched_here())
        return NULL;
    struct capri_thread *t = thread_current();
    if (!t || (t->flags & (THREAD_SCHED_CTX | THREAD_FOREIGN)))
        return NULL;
    return t;
}

int sigaltstack(const stack_t *ss, stack_t *old)
{
    struct capri_thread *t = altstack_owner();
    if (!t) {
        sigaltstack_fn next = load_relaxed(&next_sigaltstack);
        if (!next) {
            resolve_next();
            next = load_relaxed(&next_sigaltstack);
        }
        if (next)
            return next(ss, old);
        long rc = sys_call6(SYS_sigaltstack, (long)ss, (long)old, 0, 0, 0, 0);
        if (rc < 0) {
            errno = (int)-rc;
            return -1;
        }
        return 0;
    }
    /* Recorded, never installed: the scheduler's altstack stays. */
    stack_t in;
    if (ss) {
        in = *ss;
        if (in.ss_flags & ~(SS_DISABLE | SS_AUTODISARM)) {
            errno = EINVAL;
            return -1;
        }
        if (!(in.ss_flags & SS_DISABLE) && in.ss_size < KERNEL_MINSIGSTKSZ) {
            errno = ENOMEM;
            return -1;
        }
    }
    /* The record is in the thread's side record, which the first call
     * that sets a stack allocates if the thread has none (malloc: that one
     * call is not async-signal-safe); ENOMEM, nothing changed, if it
     * cannot. */
    struct thread_extra *e = load_acquire(&t->extra);
    if (ss && !(in.ss_flags & SS_DISABLE) && !e && !(e = thread_extra_get(t))) {
        errno = ENOMEM;
        return -1;
    }
    if (old) {
        stack_t out;
        memset(&out, 0, sizeof out);
        if (e && e->altstack_size) {
            out.ss_sp = e->altstack_sp;
            out.ss_size = e->altstack_size;
            out.ss_flags = (int)(e->altstack_flags & SS_AUTODISARM);
        } else {
            out.ss_flags = SS_DISABLE;
        }
        *old = out;
    }
    if (ss && e) {
        if (in.ss_flags & SS_DISABLE) {
            e->altstack_sp = NULL;
            e->altstack_size = 0;
            e->altstack_flags = 0;
        } else {
            e->altstack_sp = in.ss_sp;
            e->altstack_size = in.ss_size;
            e->altstack_flags = (uint32_t)(in.ss_flags & SS_AUTODISARM);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Stack overflow                                                       */
/* ------------------------------------------------------------------ */

#define PAGE 4096u
/* How far below a chunk a fault at the stack pointer still counts as its
 * overflow (a frame larger than the guard page jumped over it). */
#define OVERFLOW_REACH_PAGES 8u
/* Stack accesses are at most this far below the stack pointer (red zone,
 * push). */
#define BELOW_SP 256u

static __thread int reporting; /* a fault while reporting one: just die */

static struct capri_thread *slot_owner(uint32_t slot)
{
    struct chunk_slot *cs = chunk_slot_at(slot);
    if (!cs)
        return NULL;
    struct capri_thread *t = load_relaxed((struct capri_thread **)&cs->owner);
    if (t && t->canary != THREAD_CANARY)
        return NULL;
    return t;
}

static struct capri_thread *owner_at(uintptr_t addr)
{
    uint32_t slot;
    void *chunk;
    unsigned cls;
    if (chunk_pool_locate((const void *)addr, &slot, &chunk, &cls) == 0)
        return NULL;
    return slot_owner(slot);
}

/* Is a fault at addr, with the stack pointer at sp, a stack overflow? Sets
 * *owner to the thread, or NULL when the slot table does not know it. */
static bool overflow_find(uintptr_t addr, uintptr_t sp, struct capri_thread **owner)
{
    uint32_t slot;
    void *chunk;
    unsigned cls;
    /* A stack access is never far below the stack pointer: a wild pointer
     * into a guard page from elsewhere is not an overflow. */
    if (sp > addr + BELOW_SP)
        return false;
    int where = chunk_pool_locate((const void *)addr, &slot, &chunk, &cls);
    if (where == 2) {
        struct capri_thread *t = slot_owner(slot);
        *owner = t ? t : owner_at(sp);
        return true;
    }
    if (where != 0)
        return false;
    /* A fault at the stack pointer just below a chunk a known thread uses. */
    uintptr_t page = addr & ~(uintptr_t)(PAGE - 1);
    for (unsigned k = 1; k <= OVERFLOW_REACH_PAGES; k++) {
        if (chunk_pool_locate((const void *)(page + k * PAGE), &slot, &chunk, &cls) != 0) {
            struct capri_thread *t = slot_owner(slot);
            if (!t)
                return false;
            *owner = t;
            return true;
        }
    }
    return false;
}

/* A bounded line buffer for write(2). */
struct line {
    char buf[512];
    size_t len;
};

static void put_str(struct line *l, const char *s)
{
    while (*s && l->len < sizeof l->buf)
        l->buf[l->len++] = *s++;
}

static void put_uint(struct line *l, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        put_str(l, "0x");
    while (n && l->len < sizeof l->buf)
        l->buf[l->len++] = tmp[--n];
}

static void put_name(struct line *l, const char *name)
{
    for (size_t i = 0; i < THREAD_NAME_MAX && name[i] && l->len < sizeof l->buf; i++) {
        char c = name[i];
        l->buf[l->len++] = (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
    }
}

static void put_write(struct line *l)
{
    size_t off = 0;
    while (off < l->len) {
        long n = sys_write(2, l->buf + off, l->len - off);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    l->len = 0;
}

static _Noreturn void die_by_abort(void)
{
    uint64_t abrt = sigbit(SIGABRT);
    sys_set_default(SIGABRT);
    sys_sigprocmask(SIG_UNBLOCK, &abrt, NULL);
    sys_tgkill_self(SIGABRT);
    abort();
}

static _Noreturn void overflow_report(struct capri_thread *t, uintptr_t addr, uintptr_t pc)
{
    reporting = 1;
    struct line l;
    l.len = 0;
    put_str(&l, "capri: stack overflow in thread ");
    if (t)
        put_uint(&l, t->handle, 10);
    else
        put_str(&l, "?");
    put_str(&l, " \"");
    if (t)
        put_name(&l, thread_name(t));
    put_str(&l, "\" at ");
    put_uint(&l, addr, 16);
    put_str(&l, "\n");
    put_write(&l);

    /* Last, since dladdr is not async-signal-safe (it takes the loader's
     * lock): the message above is out whatever happens here. */
    Dl_info di;
    if (pc && dladdr((void *)pc, &di)) {
        put_str(&l, "  in ");
        if (di.dli_sname && di.dli_saddr) {
            put_str(&l, di.dli_sname);
            put_str(&l, "+");
            put_uint(&l, pc - (uintptr_t)di.dli_saddr, 16);
        } else {
            put_str(&l, "??");
        }
        if (di.dli_fname && di.dli_fname[0]) {
            put_str(&l, " (");
            put_str(&l, di.dli_fname);
            put_str(&l, "+");
            put_uint(&l, pc - (uintptr_t)di.dli_fbase, 16);
            put_str(&l, ")");
        }
        put_str(&l, "\n");
        put_write(&l);
    }
    die_by_abort();
}

/* The SIGSEGV/SIGBUS handler once the runtime has started (SA_ONSTACK,
 * SA_NODEFER, empty mask). */
static void sig_fault(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    bool from_kernel = info && info->si_code > 0;
    if (from_kernel && !reporting && uc) {
        uintptr_t addr = (uintptr_t)info->si_addr;
        uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
        uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        struct capri_thread *t = NULL;
        if (overflow_find(addr, sp, &t))
            overflow_report(t, addr, pc);
    }
    if (reporting)
        die_by_abort();

    struct sig_level lv;
    level_enter(&lv, __builtin_frame_address(0));
    struct sig_snapshot e;
    entry_read(sig, &e);
    if (is_handler(e.handler)) {
        call_user(sig, info, ucv, true);
    } else {
        /* The default action, as the kernel takes it. A fault the kernel
         * raised re-executes and is delivered again with SIG_DFL (SIG_IGN
         * does not stop a fault either); a signal someone sent (or a
         * memory error that will not recur) is sent again. */
        bool recurs = from_kernel && !(sig == SIGBUS && info->si_code == BUS_MCEERR_AO);
        if (recurs || e.handler != SIG_IGN) {
            sys_set_default(sig);
            if (!recurs)
                sys_tgkill_self(sig);
        }
    }
    level_leave(&lv);
}

/* ------------------------------------------------------------------ */
/* Start-up                                                             */
/* ------------------------------------------------------------------ */

static int runtime_done;

int signal_runtime_init(void)
{
    if (!have_next_sigaction())
        return ENOSYS;
    sigaction_fn next = load_relaxed(&next_sigaction);
    int result = 0;
    uint64_t saved;
    table_lock(&saved);
    if (runtime_done) {
        table_unlock(&saved);
        return 0;
    }
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        struct sigaction cur;
        memset(&cur, 0, sizeof cur);
        if (next(sig, NULL, &cur) != 0)
            continue; /* glibc's own signals */
        bool ours = is_ours(&cur);
        uint64_t flags = (uint64_t)(unsigned)cur.sa_flags, mask = mask_bits(&cur.sa_mask);
        if (sig == SIGSEGV || sig == SIGBUS) {
            /* Whatever was there (a user's handler, a sanitizer's, or
             * SIG_DFL) is what non-overflow faults get. */
            if (!ours)
                entry_write(sig, 1, cur.sa_handler, flags, mask);
            struct sigaction k;
            memset(&k, 0, sizeof k);
            k.sa_sigaction = sig_fault;
            k.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
            sigemptyset(&k.sa_mask);
            if (next(sig, &k, NULL) != 0 && !result)
                result = errno;
            continue;
        }
        if (ours || !is_handler(cur.sa_handler))
            continue;
        /* Installed before libcapri started: re-flag it. */
        entry_write(sig, 1, cur.sa_handler, flags, mask);
        struct sigaction k;
        wrapper_action(&k, flags, mask);
        if (next(sig, &k, NULL) != 0 && !result)
            result = errno;
    }
    runtime_done = 1;
    table_unlock(&saved);
    return result;
}

#define ALTSTACK_SIZE (64u * 1024u)
#define ALTSTACK_GUARD PAGE

int signal_sched_init(struct capri_sched *s)
{
    if (!s)
        return EINVAL;
    if (!s->altstack) {
        long p = sys_call6(SYS_mmap, 0, ALTSTACK_SIZE + ALTSTACK_GUARD, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (p < 0 && p > -4096)
            return (int)-p;
        long rc = sys_mprotect((void *)p, ALTSTACK_GUARD, PROT_NONE);
        if (rc < 0) {
            sys_call6(SYS_munmap, p, ALTSTACK_SIZE + ALTSTACK_GUARD, 0, 0, 0, 0);
            return (int)-rc;
        }
        s->altstack_size = ALTSTACK_SIZE;
        s->altstack = (char *)p + ALTSTACK_GUARD;
    }
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = s->altstack;
    ss.ss_size = s->altstack_size;
    long rc = sys_call6(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0);
    return rc < 0 ? (int)-rc : 0;
}

int signal_in_handler(void)
{
    struct capri_sched *s = sched_here();
    if (s)
        return (int)load_relaxed(&s->in_handler);
    int depth = 0;
    for (struct sig_level *lv = load_relaxed(&sig_top); lv; lv = lv->prev)
        depth++;
    return depth;
}

int signal_altstack_here(void **base, size_t *size)
{
    struct capri_sched *s = sched_here();
    if (!s || !s->altstack)
        return ESRCH;
    *base = s->altstack;
    *size = s->altstack_size;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The longjmp family                                                   */
/* ------------------------------------------------------------------ */

#define JB_RSP 6 /* glibc x86-64: rbx rbp r12 r13 r14 r15 rsp pc */

static inline uintptr_t jmp_demangle(uintptr_t v)
{
    uintptr_t guard;
    __asm__("movq %%fs:0x30, %0" : "=r"(guard));
    v = (v >> 17) | (v << 47);
    return v ^ guard;
}

/* setjmp records the stack pointer of its caller: read ours back through
 * the demangling and compare. */
__attribute__((noinline)) static int jmp_layout_check(void)
{
    jmp_buf probe;
    if (setjmp(probe))
        return 0; /* never jumped to */
    uintptr_t sp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    uintptr_t saved = jmp_demangle((uintptr_t)probe[0].__jmpbuf[JB_RSP]);
    uintptr_t diff = saved > sp ? saved - sp : sp - saved;
    return diff < 256;
}

/* Before a jump: undo the wrapper's work for every handler level the jump
 * leaves (in_handler, the limit word). */
static void jump_leaves_handlers(struct __jmp_buf_tag *env)
{
    struct sig_level *lv = load_relaxed(&sig_top);
    if (likely(!lv) || !load_relaxed(&jmp_sp_readable))
        return;
    uintptr_t target = jmp_demangle((uintptr_t)env[0].__jmpbuf[JB_RSP]);
    struct sig_level *outermost = NULL;
    while (lv && level_left_by(lv, target)) {
        if (lv->s)
            __atomic_fetch_sub(&lv->s->in_handler, 1, __ATOMIC_RELAXED);
        outermost = lv;
        lv = lv->prev;
    }
    if (!outermost)
        return;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    store_relaxed(&sig_top, lv);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    limit_write(limit_to_restore(outermost->limit));
}

/* Before a jump: the stack chunks grown since the target's frame go (a
 * jump out of code running on linked chunks: Lua's error handling, a
 * longjmp out of a callback), and the limit word follows. */
static inline bool jump_resyncs_stack(struct __jmp_buf_tag *env)
{
    return likely(load_relaxed(&jmp_sp_readable)) &&
           grow_resync_to_sp(jmp_demangle((uintptr_t)env[0].__jmpbuf[JB_RSP]));
}

static _Noreturn void jump_next(jump_fn *slot, struct __jmp_buf_tag *env, int val)
{
    jump_fn next = load_relaxed(slot);
    if (unlikely(!next)) {
        resolve_next();
        next = load_relaxed(slot);
        if (!next)
            abort();
    }
    next(env, val);
}

void __longjmp_chk(struct __jmp_buf_tag env[1], int val) __attribute__((noreturn));

void longjmp(struct __jmp_buf_tag env[1], int val)
{
    jump_leaves_handlers(env);
    jump_resyncs_stack(env);
    jump_next(&next_longjmp, env, val);
}

void _longjmp(struct __jmp_buf_tag env[1], int val)
{
    jump_leaves_handlers(env);
    jump_resyncs_stack(env);
    jump_next(&next__longjmp, env, val);
}

void siglongjmp(sigjmp_buf env, int val)
{
    jump_leaves_handlers(env);
    jump_resyncs_stack(env);
    jump_next(&next_siglongjmp, env, val);
}

void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
    jump_leaves_handlers(env);
    /* A jump back to an older chunk: glibc's check (the target must lie
     * above the current stack pointer, or on the signal stack) compares
     * addresses on two different chunks, which may lie either way round.
     * The resync has found the target on this thread's own stack: jump
     * without the check. */
    if (jump_resyncs_stack(env))
        jump_next(&next_longjmp, env, val);
    jump_next(&next_longjmp_chk, env, val);
}
