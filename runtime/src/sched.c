/*
 * Schedulers: queues, the pick, switching, post-switch actions, stealing
 * and the scheduler's own loop. See scheduler.h for the data structures and
 * docs/runtime-design.md for why they are shaped this way.
 */
#include "grow.h"
#include "intr.h"
#include "scheduler.h"

#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/arch.h"
#include "clock.h"
#include "limit.h"
#include "log.h"
#include "pthread_wrap.h"
#include "signal_wrap.h"
#include "sys.h"
#include "wait.h"

enum { QUEUE_NONE = 0, QUEUE_RUN = 1, QUEUE_STEAL = 2 };

/* How long an idle scheduler looks for work before it sleeps in the kernel
 * (Go's schedulers spin similarly): about the cost of one futex wake-up of a
 * sleeping kernel thread on this class of machine. */
#define SPIN_BEFORE_SLEEP_NS 50000u

struct runtime capri_rt;

__thread struct capri_sched *capri_tls_sched;
#define tls_sched capri_tls_sched

static inline bool stealable(const struct capri_thread *t)
{
    return t->run_state == THREAD_NEW || (t->flags & THREAD_MIGRATABLE);
}

/* ---- queues ------------------------------------------------------------ */

/* Run-queue membership is not recorded in t->queue_: only the stealable
 * list's is ever asked about (sched_run_next_if_new). */
static inline void runq_push(struct capri_sched *s, struct capri_thread *t)
{
    thread_fifo_push(&s->rq, t);
}

static inline void runq_push_front(struct capri_sched *s, struct capri_thread *t)
{
    thread_fifo_push_front(&s->rq, t);
}

static inline struct capri_thread *runq_pop(struct capri_sched *s)
{
    return thread_fifo_pop(&s->rq);
}

/* The preempted queue: owner only, like the run queue. */
static inline void preemptq_push(struct capri_sched *s, struct capri_thread *t)
{
    thread_fifo_push(&s->pq, t);
}

static inline struct capri_thread *preemptq_pop(struct capri_sched *s)
{
    s->pq_age = 0;
    return thread_fifo_pop(&s->pq);
}

/* Every this many picks while a preempted thread waits, it goes first:
 * threads that keep the run queue busy cannot starve a compute-bound one. */
#define PREEMPTQ_AGE 8u

/* The stealable list; the caller holds s->steal_lock. */
static void steal_list_push(struct capri_sched *s, struct capri_thread *t)
{
    t->next = NULL;
    t->prev = s->st_tail;
    store_relaxed(&t->queue_, QUEUE_STEAL);
    if (s->st_tail)
        s->st_tail->next = t;
    else
        s->st_head = t;
    s->st_tail = t;
    /* A read-modify-write, sequentially consistent: an idle scheduler sets
     * SLEEPING and then reads this count (see idle.c). */
    __atomic_fetch_add(&s->steal_count, 1u, __ATOMIC_SEQ_CST);
}

static void steal_list_unlink(struct capri_sched *s, struct capri_thread *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        s->st_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->st_tail = t->prev;
    t->next = t->prev = NULL;
    store_relaxed(&t->queue_, QUEUE_NONE);
    store_relaxed(&s->steal_count, s->steal_count - 1);
}

/* Ready on s, which is the caller's scheduler. */
static inline void enqueue_ready(struct capri_sched *s, struct capri_thread *t)
{
    t->ready_seq = s->ready_seq++;
    store_relaxed(&t->sched, s);
    if (stealable(t)) {
        spin_lock(&s->steal_lock);
        steal_list_push(s, t);
        spin_unlock(&s->steal_lock);
    } else {
        if (t->run_state != THREAD_NEW)
            store_relaxed(&t->run_state, THREAD_READY);
        if (unlikely(graph_policy) && graph_policy_enqueue(s, t))
            return; /* the resource policy's queues (graph_policy.c) */
        runq_push(s, t);
    }
}

static inline __attribute__((always_inline)) void make_ready_local(struct capri_sched *s,
                                                                 struct capri_thread *t)
{
    if (t->heap_index >= 0)
        timer_remove(&s->timers, t);
    if (t == s->current) {
        /* Woken while still on its way to blocking: sched_block sees this
         * and returns instead of switching away. */
        s->current_woken = 1;
        return;
    }
    enqueue_ready(s, t);
}

static __attribute__((noinline)) void inbox_drain(struct capri_sched *s)
{
    struct capri_thread *list = exchange_acq_rel(&s->inbox, (struct capri_thread *)NULL);
    /* The inbox is a stack: reverse it so threads run in arrival order. */
    struct capri_thread *fifo = NULL;
    while (list) {
        struct capri_thread *n = list->inbox_next;
        list->inbox_next = fifo;
        fifo = list;
        list = n;
    }
    while (fifo) {
        struct capri_thread *n = fifo->inbox_next;
        make_ready_local(s, fifo);
        fifo = n;
    }
}

static void inbox_push(struct capri_sched *s, struct capri_thread *t)
{
    struct capri_thread *old = load_relaxed(&s->inbox);
    do {
        t->inbox_next = old;
        tsan_release(&s->inbox); /* the edge TSan may not see (atomic.h) */
    } while (!__atomic_compare_exchange_n(&s->inbox, &old, t, true, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    if (load_seq(&s->idle_state) == SCHED_SLEEPING)
        sched_idle_wake(s);
}

void sched_make_ready(struct capri_thread *t)
{
    if (unlikely(t->flags & THREAD_FOREIGN)) {
        sys_futex_wake(&t->token, 1);
        return;
    }
    struct capri_sched *owner = t->sched;
    if (owner == tls_sched)
        make_ready_local(owner, t);
    else
        inbox_push(owner, t);
}

/* The thread spawned last waits in s->runnext until the owner switches:
 * then it joins the stealable list (in its ready order). A spawn followed by
 * a join, the common case, so touches no line a thief polls (with another
 * scheduler spinning for work, every stealable-list write would be a cache
 * miss). A thief takes runnext itself only when it found the same thread
 * there on two looks a while apart: the owner is busy elsewhere (or blocked
 * in the kernel) and the thread would otherwise wait. */
static void steal_list_add(struct capri_sched *s, struct capri_thread *t)
{
    spin_lock(&s->steal_lock);
    steal_list_push(s, t);
    spin_unlock(&s->steal_lock);
    if (load_relaxed(&capri_rt.idle_count) != 0)
        sched_wake_idle_one();
}

static __attribute__((noinline)) void runnext_spill(struct capri_sched *s)
{
    struct capri_thread *t = exchange_acq_rel(&s->runnext, (struct capri_thread *)NULL);
    if (t)
        steal_list_add(s, t);
}

void sched_submit_new(struct capri_thread *t)
{
    struct capri_sched *s = tls_sched;
    if (s) {
        t->ready_seq = s->ready_seq++;
        t->sched = s;
        if (unlikely(load_relaxed(&s->runnext) != NULL)) {
            struct capri_thread *old = exchange_acq_rel(&s->runnext, t);
            if (old)
                steal_list_add(s, old);
        } else {
            store_release(&s->runnext, t);
        }
        /* A sleeping scheduler is woken as for any new work: it may have to
         * take this thread if we block in the kernel before switching. */
        if (load_relaxed(&capri_rt.idle_count) != 0)
            sched_wake_idle_one();
        return;
    }
    /* From a foreign thread: round robin over the schedulers' stealable
     * lists (not their inboxes, which only their owner drains: a scheduler
     * whose kernel thread is blocked elsewhere, such as a main thread in
     * pthread_join, would keep the new thread from ever running). It counts
     * as the oldest ready thread there: the owner's counter is the owner's. */
    uint32_t i = fetch_add_relaxed(&capri_rt.next_foreign, 1u) % load_acquire(&capri_rt.nscheds);
    s = &capri_rt.scheds[i];
    store_relaxed(&t->sched, s);
    t->ready_seq = 0;
    spin_lock(&s->steal_lock);
    steal_list_push(s, t);
    spin_unlock(&s->steal_lock);
    if (load_seq(&s->idle_state) == SCHED_SLEEPING)
        sched_idle_wake(s);
    else
        sched_wake_idle_one();
}

void sched_relocate_inbox(struct capri_sched *stuck, struct capri_sched *to, uint32_t progress)
{
    /* Only while `stuck` has not picked since the monitor's look: a
     * scheduler that picked may be switching away from a thread now in its
     * inbox (s->current already names the next one before the old one's
     * registers are saved), and such a thread must not run elsewhere. */
    if (load_acquire(&stuck->progress) != progress)
        return;
    struct capri_thread *list = exchange_acq_rel(&stuck->inbox, (struct capri_thread *)NULL);
    if (load_acquire(&stuck->progress) != progress) {
        /* It woke up meanwhile: everything goes back. */
        while (list) {
            struct capri_thread *t = list;
            list = t->inbox_next;
            inbox_push(stuck, t);
        }
        return;
    }
    /* A thread in the inbox is switched out unless it is the stuck
     * scheduler's current one (woken on its way to blocking: the owner
     * sees that itself), and the owner cannot reach it while we hold the
     * list. Threads with a timer in the owner's heap, and threads that may
     * not move, go back. */
    struct capri_thread *current = load_relaxed(&stuck->current);
    bool moved = false;
    while (list) {
        struct capri_thread *t = list;
        list = t->inbox_next;
        if (t == current || load_relaxed(&t->heap_index) >= 0 || !stealable(t)) {
            inbox_push(stuck, t);
            continue;
        }
        /* As a spawn from a foreign thread: the oldest ready thread there. */
        store_relaxed(&t->sched, to);
        t->ready_seq = 0;
        spin_lock(&to->steal_lock);
        steal_list_push(to, t);
        spin_unlock(&to->steal_lock);
        moved = true;
    }
    if (moved) {
        if (load_seq(&to->idle_state) == SCHED_SLEEPING)
            sched_idle_wake(to);
        else
            sched_wake_idle_one();
    }
}

bool sched_run_next_if_new(struct capri_sched *s, struct capri_thread *t)
{
    struct capri_thread *expected = t;
    if (load_relaxed(&s->runnext) == t && cas_acq_rel(&s->runnext, &expected, (struct capri_thread *)NULL)) {
        runq_push_front(s, t);
        return true;
    }
    bool taken = false;
    spin_lock(&s->steal_lock);
    /* t may be running elsewhere (stolen), writing these fields: read them
     * atomically; while t is in s's list they only change under the lock. */
    if (load_relaxed(&t->queue_) == QUEUE_STEAL && load_relaxed(&t->sched) == s &&
        load_relaxed(&t->run_state) == THREAD_NEW) {
        steal_list_unlink(s, t);
        taken = true;
    }
    spin_unlock(&s->steal_lock);
    if (taken)
        runq_push_front(s, t);
    return taken;
}

/* ---- timers --------------------------------------------------------------- */

int sched_timer_arm(struct capri_sched *s, struct capri_thread *t, uint64_t deadline)
{
    t->deadline = deadline;
    t->timer_token = load_relaxed(&t->token);
    return timer_add(&s->timers, t);
}

static __attribute__((noinline)) void timers_fire(struct capri_sched *s)
{
    struct capri_thread *t;
    while ((t = timer_pop_expired(&s->timers, s->now)) != NULL)
        wait_wake(t, t->timer_token, WAKE_TIMEOUT);
}

/* ---- the pick ------------------------------------------------------------- */

/* The next thread to run on s, or NULL: the inbox is drained first, due
 * timers fire, then the older of the two queue heads wins; the preempted
 * queue comes after them (every PREEMPTQ_AGE-th pick while it is not
 * empty, before them). The one place that chooses: a scheduling policy
 * plugs in here. */
static inline __attribute__((always_inline)) struct capri_thread *sched_pick(struct capri_sched *s)
{
    store_relaxed(&s->progress, s->progress + 1);
    intr_check(s);
    if (unlikely(load_relaxed(&s->runnext) != NULL))
        runnext_spill(s);
    if (unlikely(load_relaxed(&s->inbox) != NULL))
        inbox_drain(s);
    if (unlikely(s->timers.count != 0) && (++s->switches & 63) == 0) {
        s->now = clock_now_ns();
        timers_fire(s);
    }
    if (unlikely(s->pq.head != NULL) && ++s->pq_age >= PREEMPTQ_AGE)
        return preemptq_pop(s);
    if (unlikely(s->graph.queued != 0)) {
        /* The resource policy: releasing sites first (graph_policy.c). */
        struct capri_thread *p = graph_policy_pick(s, false);
        if (p)
            return p;
    }
    struct capri_thread *r = s->rq.head;
    if (unlikely(load_relaxed(&s->steal_count) != 0)) {
        spin_lock(&s->steal_lock);
        struct capri_thread *h = s->st_head;
        if (h && (!r || h->ready_seq < r->ready_seq)) {
            steal_list_unlink(s, h);
            spin_unlock(&s->steal_lock);
            return h;
        }
        spin_unlock(&s->steal_lock);
    }
    if (likely(r != NULL))
        return runq_pop(s);
    if (unlikely(s->pq.head != NULL))
        return preemptq_pop(s);
    /* The resource policy: consuming sites last. */
    return unlikely(s->graph.queued != 0) ? graph_policy_pick(s, true) : NULL;
}

/* Takes half of another scheduler's stealable threads: the first is
 * returned to run, the rest join s's own stealable list. */
static struct capri_thread *sched_steal(struct capri_sched *s, bool look_at_runnext)
{
    uint32_t n = load_acquire(&capri_rt.nscheds);
    for (uint32_t k = 1; k < n; k++) {
        struct capri_sched *v = &capri_rt.scheds[(s->index + k) % n];
        uint32_t avail = load_relaxed(&v->steal_count);
        if (!avail && look_at_runnext) {
            struct capri_thread *r = load_relaxed(&v->runnext);
            if (r && r == s->runnext_seen) {
                struct capri_thread *expected = r;
                s->runnext_seen = NULL;
                if (cas_acq_rel(&v->runnext, &expected, (struct capri_thread *)NULL)) {
                    store_relaxed(&r->sched, s);
                    return r;
                }
            } else if (r) {
                s->runnext_seen = r;
            }
            continue;
        }
        if (!avail || !spin_trylock(&v->steal_lock))
            continue;
        uint32_t take = (v->steal_count + 1) / 2;
        struct capri_thread *first = NULL, *list = NULL, *tail = NULL;
        while (take-- && v->st_head) {
            struct capri_thread *t = v->st_head;
            steal_list_unlink(v, t);
            if (!first) {
                first = t;
                continue;
            }
            t->next = NULL;
            if (tail)
                tail->next = t;
            else
                list = t;
            tail = t;
        }
        spin_unlock(&v->steal_lock);
        if (!first)
            continue;
        while (list) {
            struct capri_thread *nx = list->next;
            enqueue_ready(s, list);
            list = nx;
        }
        store_relaxed(&first->sched, s);
        return first;
    }
    return NULL;
}

/* ---- switching ------------------------------------------------------------ */

/* The blocking graph's clock (graph.h): what `from` ran goes to its count
 * since it last parked (a preemption or a yield is not a park), and the
 * site its last primitive named ends with this run. */
static inline __attribute__((always_inline)) uint64_t graph_switch(struct capri_sched *s,
                                                                   struct capri_thread *from)
{
    struct graph_sched *g = &s->graph;
    if (likely(g->stamped)) {
        /* `from` parked just now and its run was counted then: the next
         * thread's starts at that stamp (what the pick cost goes to it). */
        g->stamped = 0;
    } else {
        uint64_t now = capri_arch_cycles();
        from->graph_cycles += now - g->tsc;
        g->tsc = now;
    }
    g->pending = 0;
    if (unlikely(g->res_dirty))
        graph_policy_attribute(s, from); /* the resource policy (graph_policy.c) */
    return g->tsc; /* when the next thread's run starts */
}

static void reap_or_publish_exit(struct capri_sched *s, struct capri_thread *t);

static __attribute__((noinline)) void post_actions(struct capri_sched *s, struct capri_thread *prev)
{
    enum post_action action = s->post_action;
    s->post_action = POST_NONE;
    switch (action) {
    case POST_NONE:
        break;
    case POST_REQUEUE:
        enqueue_ready(s, prev);
        break;
    case POST_UNLOCK:
        if (s->post_lock)
            spin_unlock(s->post_lock);
        break;
    case POST_EXIT:
        /* Off the ended thread's stacks: the chunk a last longjmp or
         * unwind left waiting goes too. */
        grow_flush_deferred();
        reap_or_publish_exit(s, prev);
        break;
    }
}

struct capri_sched *sched_after_switch(struct capri_thread *prev)
{
    struct capri_sched *s = prev->sched;
    if (unlikely(s->post_action != POST_NONE))
        post_actions(s, prev);
    return s;
}

static inline __attribute__((always_inline)) struct capri_sched *switch_to(struct capri_sched *s, struct capri_thread *from,
                                     struct capri_thread *to)
{
    if (unlikely(to->canary != THREAD_CANARY))
        capri_fatal_thread("thread struct overwritten: a stack overflow from the chunk below jumped its guard page, or a stray write", to);
    /* Dense mode: no guard page under a dense first chunk, so the thread
     * that overflowed it is caught here, when it leaves the CPU, before any
     * other thread on this scheduler runs on the memory it damaged. */
    if (unlikely(from->flags & THREAD_DENSE) && unlikely(!thread_dense_canary_intact(from)))
        thread_dense_overflow(from);
    /* One cycle-counter read per switch serves the graph and the slice. */
    uint64_t now = likely(graph_recording) ? graph_switch(s, from) : capri_arch_cycles();
    store_release(&s->current, to); /* the monitor reads it (sched_relocate_inbox, preemption) */
    /* A request never outlives the run it was made for: a thread that
     * parks before its next check must not yield at once when it wakes
     * (and its saved limit word must be its own). The monitor asks for a
     * preemption a time slice after this stamp. */
    if (unlikely(load_relaxed(&from->preempt) != 0)) {
        store_relaxed(&from->preempt, (uint16_t)0);
        if (limit_read() == LIMIT_PREEMPT)
            limit_write(from->limit);
    }
    store_relaxed(&s->run_tsc, now);
    /* to->sched is already s: every way into s's queues sets it. */
    bool no_matching_call = to->run_state == THREAD_NEW || from->run_state == THREAD_DEAD;
    store_relaxed(&to->run_state, THREAD_RUNNING);
    tools_before_switch(from, to);
    struct capri_thread *prev = likely(!no_matching_call)
                                    ? capri_arch_switch(&from->sp, to->sp, from)
                                    : capri_arch_switch_jump(&from->sp, to->sp, from);
    /* Resumed, maybe on another kernel thread (a migratable thread): only
     * what the switch returned says where we are. */
    s = sched_after_switch(prev);
    tools_after_switch(s->current);
    return s;
}

inline __attribute__((always_inline)) bool sched_yield_to_next(struct capri_sched *s, struct capri_thread *self)
{
    struct capri_thread *next = sched_pick(s);
    if (unlikely(reactor_poll_due(&s->reactor))) {
        /* Through the scheduler's context, which polls (see sched_block):
         * a thread that yields in a loop must not keep the threads parked
         * on descriptors from ever seeing their events. */
        if (next)
            runq_push_front(s, next);
        next = &s->ctx;
    }
    if (!next)
        return false;
    if (likely(!stealable(self))) {
        /* The run queue is this kernel thread's alone, so self can go to
         * its tail before the switch: nobody can resume it before its
         * registers are saved. */
        self->ready_seq = s->ready_seq++;
        store_relaxed(&self->run_state, THREAD_READY);
        runq_push(s, self);
    } else {
        s->post_action = POST_REQUEUE; /* a thief could take it too early */
    }
    switch_to(s, self, next);
    return true;
}

void capri_yield(void)
{
    SCHED_YIELD_ENTRY();
    struct capri_sched *s = sched_here();
    if (unlikely(!s)) {
        if (runtime_ensure() == 0 && (s = sched_here()) != NULL)
            goto run;
        sched_yield(); /* a kernel thread libcapri does not run */
        return;
    }
run:;
    struct capri_thread *self = s->current;
    if (unlikely(s->in_handler != 0))
        return; /* nothing yields inside a signal handler */
    if (unlikely(load_relaxed(&self->cancel_pending)))
        thread_test_cancel(self);
    sched_yield_to_next(s, self);
}

void sched_preempted(struct capri_sched *s, struct capri_thread *self)
{
    /* Threads whose timers are due or whose descriptors are ready run
     * before the preempted one: the timers here, the reactor from the
     * scheduler's context (its loop polls, then picks). */
    if (s->timers.count != 0) {
        s->now = clock_now_ns();
        timers_fire(s);
    }
    struct capri_thread *next;
    if (s->reactor.registrations) {
        next = &s->ctx;
    } else {
        next = sched_pick(s);
        if (!next)
            return; /* alone: it runs on */
    }
    /* Owner only, so self can join it before the switch (nobody else can
     * resume it before its registers are saved), migratable or not. */
    self->ready_seq = s->ready_seq++;
    store_relaxed(&self->run_state, THREAD_READY);
    preemptq_push(s, self);
    switch_to(s, self, next);
}

void sched_block(struct capri_sched *s, struct capri_thread *self, unsigned *lock)
{
    struct capri_thread *next = sched_pick(s);
    if (s->current_woken) {
        /* Made ready while we were getting here: no switch. */
        s->current_woken = 0;
        if (next)
            runq_push_front(s, next);
        if (lock)
            spin_unlock(lock);
        store_relaxed(&self->run_state, THREAD_RUNNING);
        return;
    }
    if (!next)
        next = &s->ctx;
    else if (unlikely(reactor_poll_due(&s->reactor))) {
        /* A busy scheduler polls its descriptors once every so many
         * blocks, from its own context (this thread's stack is small and
         * may still hold a lock released only after the switch): the
         * thread picked goes back to the front. */
        runq_push_front(s, next);
        next = &s->ctx;
    }
    if (lock) {
        s->post_action = POST_UNLOCK;
        s->post_lock = lock;
    }
    switch_to(s, self, next);
}

_Noreturn void sched_exit(struct capri_sched *s, struct capri_thread *self,
                          struct capri_thread *joiner)
{
    struct capri_thread *next = NULL;
    self->exit_joiner = joiner;
    if (joiner && !(joiner->flags & THREAD_FOREIGN) && joiner->sched == s) {
        /* Hand over to the joiner directly: win its token here, and the
         * post-switch action publishes the exit before it looks. */
        uint32_t expected = self->join_token;
        if (cas_acq_rel(&joiner->token, &expected, TOKEN_WOKEN_BY(self->join_token, WAKE_SIGNALED))) {
            if (joiner->heap_index >= 0)
                timer_remove(&s->timers, joiner);
            next = joiner;
            self->exit_joiner = NULL;
        }
    }
    if (!next)
        next = sched_pick(s);
    if (!next)
        next = &s->ctx;
    store_relaxed(&self->run_state, THREAD_DEAD);
    s->post_action = POST_EXIT;
    switch_to(s, self, next);
    __builtin_unreachable();
}

/* ---- exit and reaping ---------------------------------------------------- */

void thread_reap(struct capri_thread *t);

static void reap_or_publish_exit(struct capri_sched *s, struct capri_thread *t)
{
    (void)s;
    /* Read what we need before publishing: once EXITED is visible, a
     * joiner on another kernel thread may reap t and reuse its chunk. */
    struct capri_thread *joiner = t->exit_joiner;
    uint32_t join_token = joiner ? t->join_token : 0;
    bool counted = !(t->flags & THREAD_MAIN); /* main is not in live_threads */
    uintptr_t old = load_acquire(&t->join);
    for (;;) {
        if (old & JOIN_DETACHED) {
            thread_reap(t);
            break;
        }
        if (cas_acq_rel(&t->join, &old, (uintptr_t)JOIN_EXITED))
            break;
    }
    if (joiner)
        wait_wake(joiner, join_token, WAKE_SIGNALED);
    if (counted && __atomic_fetch_sub(&capri_rt.live_threads, 1u, __ATOMIC_SEQ_CST) == 1 &&
        __atomic_load_n(&capri_rt.main_exited, __ATOMIC_SEQ_CST))
        exit(0);
}

/* ---- the scheduler's own context ------------------------------------------ */

static _Noreturn void sched_loop(struct capri_sched *s)
{
    for (;;) {
        if (s->reactor.registrations)
            reactor_poll(s, 0); /* events first: their threads join the queues */
        struct capri_thread *next = sched_pick(s);
        if (!next)
            next = sched_steal(s, false);
        if (!next && load_relaxed(&capri_rt.nscheds) > 1) {
            /* Spin a while before sleeping: work often arrives soon (a
             * wake from another scheduler, a spawn), and waking a sleeping
             * kernel thread costs microseconds. Spinning schedulers also
             * tell wakers not to wake more. */
            fetch_add_acq_rel(&capri_rt.spinning, 1u);
            uint64_t until = clock_now_ns() + SPIN_BEFORE_SLEEP_NS;
            for (int i = 1; !next; i++) {
                cpu_relax();
                if (load_relaxed(&s->inbox) || intr_pending(s))
                    next = sched_pick(s);
                else if ((i & 7) == 0)
                    next = sched_steal(s, (i & 127) == 0);
                if ((i & 63) == 0) {
                    if (clock_now_ns() >= until)
                        break;
                    /* Give the CPU away if someone else wants it: when
                     * schedulers outnumber free CPUs (taskset, quotas, a
                     * loaded machine) a spinning scheduler must not keep
                     * the one whose work it waits for off the CPU. */
                    if ((i & 1023) == 0)
                        sched_yield();
                }
            }
            fetch_sub_acq_rel(&capri_rt.spinning, 1u);
        }
        if (next) {
            s = switch_to(s, &s->ctx, next);
            continue;
        }
        s->now = clock_now_ns();
        timers_fire(s);
        if (s->rq.head || load_relaxed(&s->steal_count) || load_relaxed(&s->inbox))
            continue;
        chunk_pool_decay(&s->chunks, s->now);
        uint64_t deadline = timer_next_deadline(&s->timers);
        uint64_t decay = chunk_pool_decay_deadline(&s->chunks);
        sched_idle_wait(s, decay < deadline ? decay : deadline);
        s->now = clock_now_ns();
        timers_fire(s);
    }
}

static void sched_ctx_start(void *prev, void *a, void *b)
{
    (void)a;
    (void)b;
    struct capri_sched *s = sched_after_switch(prev);
    tools_after_switch(&s->ctx);
    sched_loop(s);
}

static void sched_common_init(struct capri_sched *s)
{
    tls_sched = s;
    s->tid = sys_gettid();
    s->kthread = pthread_self();
    s->limit_word = limit_word_address();
    s->ctx.canary = THREAD_CANARY;
    s->ctx.flags = THREAD_SCHED_CTX;
    s->ctx.sched = s;
    s->ctx.heap_index = -1;
    s->ctx.run_state = THREAD_RUNNING;
    chunk_cache_register(&s->chunks);
    graph_sched_init(s);
    limit_track_kernel_thread();
    capri_grow_sys_ensure(); /* __capri_loop_yield relies on it (preempt.h) */
    if (!reactor_init(s))
        capri_warn("no epoll instance for a scheduler: blocking calls of its threads block it");
    if (signal_sched_init(s) != 0)
        capri_warn("no alternate signal stack for a scheduler; signal handlers run on thread stacks");
}

int sched_init_main(struct capri_sched *s, struct capri_thread *main_thread)
{
    sched_common_init(s);
    /* Scheduler 0's context needs a stack of its own: the main thread's
     * stack belongs to the main capri thread. */
    s->ctx_stack_size = 64 * 1024;
    void *stack = mmap(NULL, s->ctx_stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return ENOMEM;
    s->ctx_stack = stack;
    s->ctx.sp = capri_arch_prepare((char *)stack + s->ctx_stack_size, sched_ctx_start, s, NULL);
    s->ctx.stack_lo = (uintptr_t)stack;
    s->ctx.stack_hi = (uintptr_t)stack + s->ctx_stack_size;
    tools_thread_created(&s->ctx);
    s->started = 1;
    store_relaxed(&main_thread->sched, s);
    s->current = main_thread;
    return 0;
}

static void *sched_kthread_main(void *arg)
{
    struct capri_sched *s = arg;
    while (load_acquire(&capri_rt.nscheds) <= s->index)
        sched_yield(); /* a spare, until sched_start_spare counts it */
    sched_common_init(s);
    /* The scheduler's context is this kernel thread's own stack; tools
     * (ASan's fiber switches) need its bounds. */
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
            s->ctx.stack_lo = (uintptr_t)lo;
            s->ctx.stack_hi = (uintptr_t)lo + size;
        }
        pthread_attr_destroy(&attr);
    }
    s->current = &s->ctx;
    store_release(&s->started, 1u);
    sched_loop(s);
}

/* Creates s's kernel thread (start_lock held): 0 or pthread_create's error.
 * It starts with the signal mask of the thread whose spawn started the
 * runtime, also when the monitor (all signals blocked) starts a spare. */
static int launch(struct capri_sched *s)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t kt;
    sigset_t old;
    pthread_sigmask(SIG_SETMASK, &capri_rt.sched_sigmask, &old);
    int err = pthread_create_plain(&kt, &attr, sched_kthread_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (!err) {
        s->launched = 1;
        pthread_detach(kt);
    }
    return err;
}

int sched_start_all(void)
{
    spin_lock(&capri_rt.start_lock);
    int err = 0;
    pthread_sigmask(SIG_SETMASK, NULL, &capri_rt.sched_sigmask);
    for (uint32_t i = 0; i < capri_rt.nscheds && !err; i++) {
        struct capri_sched *s = &capri_rt.scheds[i];
        if (!load_acquire(&s->started) && !s->launched)
            err = launch(s);
    }
    if (!err)
        store_release(&capri_rt.started_scheds, 1u);
    spin_unlock(&capri_rt.start_lock);
    if (!err)
        monitor_start();
    return err;
}

int sched_start_spare(void)
{
    spin_lock(&capri_rt.start_lock);
    uint32_t n = capri_rt.nscheds;
    int err = EAGAIN;
    if (n < capri_rt.sched_capacity) {
        /* Counted once its thread exists (a failed launch must leave no
         * slot that spawns could pick); the spare waits for the count
         * before it runs threads, whose descriptors name index n. */
        err = launch(&capri_rt.scheds[n]);
        if (!err)
            store_release(&capri_rt.nscheds, n + 1);
    }
    spin_unlock(&capri_rt.start_lock);
    return err;
}
