/*
 * The monitor (docs/io-design.md, "The monitor"): blocking that
 * interposition cannot see (stdio's fgets reading a socket calls read
 * inside libc, not through the symbol; getaddrinfo; page faults; foreign
 * locks) holds a scheduler's kernel thread in the kernel with every other
 * thread of that scheduler behind it. A kernel thread with all signals
 * blocked looks at each scheduler every 10 ms: one that is awake, has not
 * picked a thread for two looks, whose kernel thread is asleep in the
 * kernel (/proc says S or D: not a long computation or a descheduled
 * thread), and has threads that may run elsewhere (never run yet, or
 * migratable: its runnext and stealable list) is stuck. Then an idle scheduler is woken to steal them, or, when none
 * is idle, a spare scheduler is started (up to CAPRI_SPARE_SCHEDULERS;
 * spares stay, and take part in stealing like the others). The stuck
 * scheduler's descriptors are polled by the monitor meanwhile, so threads
 * of other schedulers waiting on them still wake.
 *
 * Threads woken into a stuck scheduler's inbox that may move are handed
 * to one that is not stuck. Not moved: the stuck scheduler's run queue
 * (threads that are not migratable), and woken threads whose timer is in
 * its heap; they wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "arch/arch.h"
#include "clock.h"
#include "limit.h"
#include "log.h"
#include "preempt.h"
#include "pthread_wrap.h"
#include "reactor.h"
#include "scheduler.h"
#include "sys.h"

#define LOOK_NS 10000000u         /* a look every 10 ms */
#define IDLE_LOOK_NS 100000000u   /* every 100 ms once all was idle for a while */
#define IDLE_LOOKS_BEFORE_SLOW 100 /* one second of idle looks */
#define BORROWED_EVENTS 64

static uint32_t monitor_started;

/* What the last look saw of one scheduler. */
struct look {
    uint32_t progress;
    uint32_t still; /* looks in a row it was awake without picking */
};

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    /* The raw call: this thread is foreign, and the interposed nanosleep
     * would only pass it on. */
    sys_call6(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
}

/* Whether kernel thread `tid` is asleep in the kernel (state S or D in
 * /proc): a scheduler that has not picked a thread for two looks but is
 * running (a long computation, or descheduled on a loaded machine) is not
 * stuck in a system call; it gets no spare. Raw calls: the monitor's own
 * descriptors stay out of libcapri's table. */
static bool asleep_in_kernel(long tid)
{
    char path[64], buf[512];
    char *p = path, *e = path + sizeof path - 1;
    p = log_append(p, e, "/proc/self/task/");
    p = log_append_u64(p, e, (uint64_t)tid);
    p = log_append(p, e, "/stat");
    *p = 0;
    long fd = sys_call6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return true; /* cannot tell: treat as stuck */
    long n = sys_call6(SYS_read, fd, (long)buf, sizeof buf - 1, 0, 0, 0);
    sys_call6(SYS_close, fd, 0, 0, 0, 0, 0);
    if (n <= 0)
        return true;
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')'); /* the name may hold anything */
    if (!close_paren || close_paren[1] != ' ')
        return true;
    char state = close_paren[2];
    return state == 'S' || state == 'D';
}

static bool has_movable(struct capri_sched *s)
{
    return load_acquire(&s->steal_count) != 0 || load_acquire(&s->runnext) != NULL;
}

/* Threads of s may run elsewhere: an idle scheduler steals them if one
 * sleeps; otherwise a spare starts. */
static void relieve(void)
{
    if (load_seq(&capri_rt.idle_count) != 0 || load_seq(&capri_rt.spinning) != 0) {
        sched_wake_idle_one();
        return;
    }
    int err = sched_start_spare();
    if (err && err != EAGAIN)
        capri_warn("the monitor could not start a spare scheduler");
}

/* ---- the preempter -------------------------------------------------------
 *
 * Each scheduler stamps the cycle counter when it switches a thread in
 * (sched.c: run_tsc). The monitor sleeps until the earliest stamp + slice
 * over the schedulers running a thread (not their own context), and asks
 * the thread still running there to yield (limit_request_preempt); a
 * request that went unanswered (a thread in uninstrumented code, or one
 * holding a pthread lock) is repeated a slice later. Its own lateness in
 * waking (timer slack, a loaded machine) is measured and taken off the
 * next sleeps, and it asks as long before a slice's end as a request takes
 * to switch the thread out (measured too: the mean and twice the mean
 * deviation, at most a quarter slice), so that slices end on time.
 */
struct slice_look {
    uint64_t asked_run;  /* the run_tsc of the run last asked to yield */
    uint64_t asked_at;   /* when (cycles) */
};

struct preempter {
    uint64_t slice_cycles;
    double cycles_per_ns;
    uint64_t base_ns, base_cycles; /* the calibration's first pair */
    int64_t early_ns;              /* how much earlier than a deadline to sleep until */
    int64_t late_mean, late_dev;   /* the wakes' lateness: average, mean deviation */
    int64_t path_mean, path_dev;   /* from a request to the switch it causes */
    uint64_t lead_cycles;          /* how long before a slice's end to ask */
    struct slice_look *looks;
};

static void read_pair(uint64_t *ns, uint64_t *cycles)
{
    /* The tighter of two tries: a pair read across a preemption is off. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t c0 = capri_arch_cycles();
        uint64_t t = clock_now_ns();
        uint64_t c1 = capri_arch_cycles();
        if (c1 - c0 < best) {
            best = c1 - c0;
            *ns = t;
            *cycles = c0 + (c1 - c0) / 2;
        }
    }
}

/* Cycles per nanosecond, refined as time goes on. */
static void calibrate(struct preempter *p, bool first)
{
    uint64_t ns, cycles;
    read_pair(&ns, &cycles);
    if (first) {
        p->base_ns = ns;
        p->base_cycles = cycles;
        sleep_ns(2000000u);
        read_pair(&ns, &cycles);
    }
    if (ns > p->base_ns && cycles > p->base_cycles)
        p->cycles_per_ns = (double)(cycles - p->base_cycles) / (double)(ns - p->base_ns);
    if (p->cycles_per_ns <= 0)
        p->cycles_per_ns = 1;
    p->slice_cycles = (uint64_t)((double)capri_rt.time_slice_ns * p->cycles_per_ns);
}

/* Asks threads past their slice to yield; returns the cycle count of the
 * next slice end (UINT64_MAX: no thread runs). */
static uint64_t preempt_look(struct preempter *p, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t i = 0; i < n; i++) {
        struct capri_sched *s = &capri_rt.scheds[i];
        if (!load_acquire(&s->started) || load_seq(&s->idle_state) == SCHED_SLEEPING)
            continue;
        struct capri_thread *cur = load_acquire(&s->current);
        if (!cur || cur == &s->ctx)
            continue;
        uint64_t run = load_relaxed(&s->run_tsc);
        /* Asked that much before the slice's end, the thread is switched
         * out at it. */
        uint64_t end = run + p->slice_cycles - p->lead_cycles;
        struct slice_look *lk = &p->looks[i];
        if (lk->asked_at && run != lk->asked_run) {
            /* The switch that followed the last request: how long a
             * request takes to end a run (when it did). */
            if (run > lk->asked_at && run - lk->asked_at < p->slice_cycles / 4) {
                int64_t path = (int64_t)((double)(run - lk->asked_at) / p->cycles_per_ns);
                p->path_mean += (path - p->path_mean) / 8;
                int64_t dev = path > p->path_mean ? path - p->path_mean : p->path_mean - path;
                p->path_dev += (dev - p->path_dev) / 8;
                int64_t lead = p->path_mean + 2 * p->path_dev;
                int64_t cap = (int64_t)(capri_rt.time_slice_ns / 4);
                lead = lead < 0 ? 0 : lead > cap ? cap : lead;
                p->lead_cycles = (uint64_t)((double)lead * p->cycles_per_ns);
            }
            lk->asked_at = 0;
        }
        if (now >= end) {
            if (lk->asked_run != run || now - lk->asked_at >= p->slice_cycles) {
                /* Still the same run, and never inside a signal handler
                 * (the handler's limit word is not the thread's). */
                if (load_acquire(&s->current) == cur && load_relaxed(&s->run_tsc) == run &&
                    load_relaxed(&s->in_handler) == 0)
                    limit_request_preempt(s);
                lk->asked_run = run;
                lk->asked_at = now;
            }
            end = lk->asked_at + p->slice_cycles;
        }
        if (end < next)
            next = end;
    }
    return next;
}

static void sleep_until_ns(uint64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    sys_call6(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, (long)&ts, 0, 0, 0);
}

/* What the monitor works with, allocated by monitor_start before the
 * thread exists: the monitor's own allocations then never land in the
 * middle of a program's measurement of its heap. */
struct monitor_memory {
    struct look *looks;
    struct reactor_event *events;
    struct slice_look *preempt_looks;
};

static void monitor_memory_free(struct monitor_memory *m)
{
    free(m->looks);
    free(m->events);
    free(m->preempt_looks);
    free(m);
}

static void *monitor_main(void *arg)
{
    struct monitor_memory *mem = arg;
    struct look *looks = mem->looks;
    struct reactor_event *events = mem->events;
    struct preempter pre = {0};
    pre.looks = mem->preempt_looks;
    bool preempting = capri_rt.time_slice_ns != 0 && preempt_supported();
    bool relieving = capri_rt.spare_schedulers != 0;
    bool graphing = graph_needs_monitor();
    if (preempting) {
        /* Wakes within a microsecond of the deadline, not the default
         * 50 us timer slack. */
        prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
        calibrate(&pre, true);
    }
    unsigned idle_looks = 0, idle_slices = 0, wakes = 0;
    uint64_t next_look = clock_now_ns() + LOOK_NS;
    for (;;) {
        uint64_t now = clock_now_ns();
        uint64_t wake = relieving || graphing ? next_look : UINT64_MAX;
        if (preempting) {
            uint64_t cycles = capri_arch_cycles();
            uint64_t end = preempt_look(&pre, cycles);
            uint64_t slice_wake;
            idle_slices = end == UINT64_MAX ? idle_slices + 1 : 0;
            if (end == UINT64_MAX) {
                /* Nothing runs: look a slice from now (slowly once all
                 * was idle a while). */
                slice_wake = now + (idle_slices >= IDLE_LOOKS_BEFORE_SLOW ? IDLE_LOOK_NS
                                                                         : capri_rt.time_slice_ns);
            } else {
                uint64_t ahead = end > cycles ? end - cycles : 0;
                slice_wake = now + (uint64_t)((double)ahead / pre.cycles_per_ns);
                slice_wake = slice_wake > now + (uint64_t)pre.early_ns ? slice_wake - (uint64_t)pre.early_ns
                                                                      : now;
            }
            if (slice_wake < wake)
                wake = slice_wake;
        }
        if (wake > now)
            sleep_until_ns(wake);
        if (preempting) {
            /* The lateness of this wake: the next sleeps end early by its
             * average and twice its mean deviation (at most a quarter
             * slice), so that slices end on time, not on average. */
            int64_t late = (int64_t)(clock_now_ns() - (wake > now ? wake : now));
            pre.late_mean += (late - pre.late_mean) / 8;
            int64_t dev = late > pre.late_mean ? late - pre.late_mean : pre.late_mean - late;
            pre.late_dev += (dev - pre.late_dev) / 8;
            int64_t want = pre.late_mean + 2 * pre.late_dev;
            int64_t cap = (int64_t)(capri_rt.time_slice_ns / 4);
            pre.early_ns = want < 0 ? 0 : want > cap ? cap : want;
            if ((++wakes & 1023) == 0)
                calibrate(&pre, false);
        }
        if (!(relieving || graphing) || clock_now_ns() < next_look)
            continue;
        next_look = clock_now_ns() + (idle_looks >= IDLE_LOOKS_BEFORE_SLOW ? IDLE_LOOK_NS : LOOK_NS);
        graph_monitor_look(); /* the signal dump, the resource policy */
        if (!relieving)
            continue;
        uint32_t n = load_acquire(&capri_rt.nscheds);
        bool all_idle = true, stuck_with_movable = false;
        for (uint32_t i = 0; i < n; i++) {
            struct capri_sched *s = &capri_rt.scheds[i];
            if (!load_acquire(&s->started) || load_seq(&s->idle_state) == SCHED_SLEEPING) {
                looks[i].still = 0;
                continue;
            }
            all_idle = false;
            uint32_t p = load_relaxed(&s->progress);
            if (p != looks[i].progress) {
                looks[i].progress = p;
                looks[i].still = 0;
                continue;
            }
            if (++looks[i].still < 2)
                continue;
            if (!asleep_in_kernel(load_relaxed(&s->tid))) {
                looks[i].still = 1; /* running: look again next time */
                continue;
            }
            /* Stuck for two looks: its descriptors' events still wake
             * their threads, and its movable threads go elsewhere. */
            if (load_relaxed(&s->reactor.live) && load_relaxed(&s->reactor.registrations))
                reactor_poll_borrowed(s, events, BORROWED_EVENTS);
            stuck_with_movable |= has_movable(s);
        }
        idle_looks = all_idle ? idle_looks + 1 : 0;
        if (stuck_with_movable)
            relieve();
        /* Movable threads woken into a stuck scheduler's inbox go to one
         * that is not stuck (a spare started above counts from the next
         * look on). */
        n = load_acquire(&capri_rt.nscheds);
        for (uint32_t i = 0; i < n; i++) {
            struct capri_sched *s = &capri_rt.scheds[i];
            if (looks[i].still < 2 || !load_acquire(&s->inbox))
                continue;
            for (uint32_t k = 1; k < n; k++) {
                uint32_t j = (i + k) % n;
                if (looks[j].still < 2 && load_acquire(&capri_rt.scheds[j].started)) {
                    sched_relocate_inbox(s, &capri_rt.scheds[j], looks[i].progress);
                    break;
                }
            }
        }
    }
    return NULL;
}

void monitor_start(void)
{
    if (capri_rt.spare_schedulers == 0 && (capri_rt.time_slice_ns == 0 || !preempt_supported()) &&
        !graph_needs_monitor())
        return;
    uint32_t expected = 0;
    if (!cas_acq_rel(&monitor_started, &expected, 1u))
        return;
    /* All signals blocked: a process-directed signal must find a thread
     * that runs the program, not this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct monitor_memory *mem = calloc(1, sizeof *mem);
    if (mem) {
        mem->looks = calloc(capri_rt.sched_capacity, sizeof *mem->looks);
        mem->events = malloc(BORROWED_EVENTS * sizeof *mem->events);
        mem->preempt_looks = calloc(capri_rt.sched_capacity, sizeof *mem->preempt_looks);
    }
    if (!mem || !mem->looks || !mem->events || !mem->preempt_looks) {
        if (mem)
            monitor_memory_free(mem);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        store_release(&monitor_started, 0u);
        capri_warn("no memory for the monitor: a scheduler stuck in the kernel is not relieved, "
                   "and no thread is preempted");
        return;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int err = pthread_create_plain(&t, &attr, monitor_main, mem);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        monitor_memory_free(mem);
        store_release(&monitor_started, 0u);
        capri_warn("no monitor thread: a scheduler stuck in the kernel is not relieved");
        return;
    }
    pthread_detach(t);
}

void monitor_forget_after_fork(void) { store_relaxed(&monitor_started, 0u); }
