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
#include <sys/syscall.h>
#include <time.h>

#include "log.h"
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

static void *monitor_main(void *arg)
{
    (void)arg;
    struct look *looks = calloc(capri_rt.sched_capacity, sizeof *looks);
    struct reactor_event *events = malloc(BORROWED_EVENTS * sizeof *events);
    if (!looks || !events) {
        capri_warn("no memory for the monitor: a scheduler stuck in the kernel is not relieved");
        free(looks);
        free(events);
        return NULL;
    }
    unsigned idle_looks = 0;
    for (;;) {
        sleep_ns(idle_looks >= IDLE_LOOKS_BEFORE_SLOW ? IDLE_LOOK_NS : LOOK_NS);
        graph_monitor_look();
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
    if (capri_rt.spare_schedulers == 0 && !graph_needs_monitor())
        return; /* relieve() then finds no spare slot: it starts none */
    uint32_t expected = 0;
    if (!cas_acq_rel(&monitor_started, &expected, 1u))
        return;
    /* All signals blocked: a process-directed signal must find a thread
     * that runs the program, not this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int err = pthread_create_plain(&t, &attr, monitor_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        store_release(&monitor_started, 0u);
        capri_warn("no monitor thread: a scheduler stuck in the kernel is not relieved");
        return;
    }
    pthread_detach(t);
}

void monitor_forget_after_fork(void) { store_relaxed(&monitor_started, 0u); }
