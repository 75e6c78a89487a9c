/*
 * Linked stack growth, the runtime side, before the compiler emits any call
 * to it: __morestack called by hand with C thunks (a block holding the
 * arguments and the result, a thunk that unpacks it), as the plugin's
 * thunks will be.
 *  - a recursion 100,000 deep from a 4 KiB first chunk, growing whenever
 *    the room left is below its frame need (the check emulated in C), with
 *    the chunks in use counted at the bottom and all given back after;
 *  - the hot split: a boundary crossed a million times does no pool
 *    operation after the first (and what a crossing costs); __morestack's
 *    hot case (in the assembly) takes the cached chunk again and leaves the
 *    bounds, limit, depth, cache and link record as the C half does, also a
 *    chunk down, with a preemption request arriving meanwhile, and for a
 *    chunk cached without a link record (the C half then);
 *  - the limit word, the thread's bounds, the depth, errno and the
 *    callee-saved registers inside and after; the thunk's alignment;
 *  - a preemption request taken at __morestack: another thread runs first;
 *  - __capri_stack_resync after a longjmp out of five chunks, and
 *    grow_resync_to_sp (from the jump's target alone) before one;
 *  - the main thread and plain pthreads (their own bookkeeping), a forced
 *    unwind (pthread_exit) through __morestack, backtrace() across chunks;
 *  - growth in signal handlers (the scheduler's reserve, then a mapping),
 *    also from a storm of timer signals landing anywhere in __morestack,
 *    and at every instruction of a crossing, hot and cold (single-stepped
 *    with the trap flag), where the handler also unwinds across the chunk;
 *  - growth before the runtime has started (a child);
 *  - a guard-page overflow inside a grown chunk is reported (a child).
 *
 * Under sanitizers (CAPRI_TEST_SANITIZED) frames are several times larger:
 * the recursion's frame need is 4 KiB instead of 1 KiB, and the hot loop
 * runs 100,000 times (ASan re-registers the stack bounds on every
 * crossing). ThreadSanitizer keeps a shadow call stack of 64K frames per
 * thread, so the recursion is 50,000 deep under it; and it delays
 * asynchronous signals to its own safe points, so the handler cases do not
 * run under it.
 */
#undef _FORTIFY_SOURCE /* a plain longjmp: __longjmp_chk would refuse to jump to another chunk */

#include <errno.h>
#include <execinfo.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "capri.h"
#include "chunk_pool.h"
#include "grow.h"
#include "limit.h"
#include "rt_test.h"
#include "scheduler.h"
#include "thread.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GROW_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define GROW_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GROW_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GROW_TEST_ASAN 1
#endif

#ifdef CAPRI_TEST_SANITIZED
#define REC_NEED 4096u
#define HOT_ITERATIONS 100000u
#else
#define REC_NEED 1024u
#define HOT_ITERATIONS 1000000u
#endif
#ifdef GROW_TEST_TSAN
#define REC_DEPTH 50000u /* TSan's shadow call stack holds 64K frames per thread */
#else
#define REC_DEPTH 100000u
#endif

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t in_use_all(void)
{
    struct capri_pool_stats st;
    capri_pool_stats(&st);
    uint64_t n = 0;
    for (unsigned c = 0; c < CAPRI_CHUNK_CLASSES; c++)
        n += st.chunks_in_use[c];
    return n;
}

static capri_t spawn_sized(void *(*fn)(void *), void *arg, size_t stack_size, const char *name)
{
    capri_attr_t attr;
    memset(&attr, 0, sizeof attr);
    attr.stack_size = stack_size;
    attr.name = name;
    capri_t t = 0;
    CHECK_EQ(capri_spawn(&t, fn, arg, &attr), 0);
    return t;
}

/* A thunk that does nothing, for crossings alone. */
struct count_block {
    uint64_t n;
};

static void count_thunk(void *p) { ((struct count_block *)p)->n++; }

/* ---- a recursion 100,000 deep ------------------------------------------------ */

struct rec_block {
    unsigned depth;
    uint64_t result;
};

static unsigned rec_growths;       /* __morestack calls on the way down */
static unsigned rec_bottom_depth;  /* __capri_chunk_depth() at the bottom */
static uint64_t rec_bottom_in_use; /* chunks in use there */

static void rec_thunk(void *p);

/* Each level needs REC_NEED bytes below its frame for the next one (its
 * frame, and __morestack's entry if that one grows): when the limit word
 * says less is left, the next level runs through __morestack. */
__attribute__((noinline)) static uint64_t rec(unsigned depth)
{
    volatile char frame[48];
    frame[0] = (char)depth;
    if (depth == REC_DEPTH) {
        rec_bottom_depth = __capri_chunk_depth();
        rec_bottom_in_use = in_use_all();
        return depth;
    }
    uint64_t r;
    if ((uintptr_t)__builtin_frame_address(0) < limit_read() + REC_NEED) {
        struct rec_block b = {depth + 1, 0};
        rec_growths++;
        __morestack(rec_thunk, &b, REC_NEED);
        r = b.result;
    } else {
        r = rec(depth + 1);
    }
    return r + depth + (uint64_t)(unsigned char)(frame[0] - (char)depth);
}

static void rec_thunk(void *p)
{
    struct rec_block *b = p;
    b->result = rec(b->depth);
}

/* What the recursing thread saw; main checks it (the thread's 4 KiB first
 * chunk has no room for printing). */
static struct {
    uintptr_t lo, hi, limit;
    uint64_t base, sum;
    unsigned depth_after;
    uint64_t in_use_after, in_use_after_block;
    uintptr_t lo_after, hi_after, limit_after, own_limit_after;
} rec_seen;

static void *rec_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    rec_seen.lo = self->stack_lo;
    rec_seen.hi = self->stack_hi;
    rec_seen.limit = limit_read();
    rec_seen.base = in_use_all();
    rec_growths = 0;
    rec_seen.sum = rec(0);
    rec_seen.depth_after = __capri_chunk_depth();
    rec_seen.in_use_after = in_use_all();
    rec_seen.lo_after = self->stack_lo;
    rec_seen.hi_after = self->stack_hi;
    rec_seen.limit_after = limit_read();
    rec_seen.own_limit_after = self->limit;
    capri_sleep_ns(1000); /* blocking gives the cached chunk back */
    rec_seen.in_use_after_block = in_use_all();
    return NULL;
}

static void test_deep_recursion(void)
{
    uint64_t before = in_use_all();
    join(spawn_sized(rec_body, NULL, 4096, "rec"));
    CHECK_EQ(in_use_all(), before);
    CHECK_EQ(rec_seen.sum, (uint64_t)REC_DEPTH * (REC_DEPTH + 1) / 2);
    /* One chunk per growth, all of them linked at the bottom. */
    CHECK(rec_growths > 100);
    CHECK_EQ(rec_bottom_depth, rec_growths);
    CHECK_EQ(rec_bottom_in_use - rec_seen.base, rec_growths);
    fprintf(stderr, "  recursion %u deep from a 4 KiB chunk: %u chunks at the bottom\n", REC_DEPTH,
            rec_growths);
    /* All back: the last one stays cached on the thread until it blocks. */
    CHECK_EQ(rec_seen.depth_after, 0);
    CHECK(rec_seen.in_use_after - rec_seen.base <= 1);
    CHECK_EQ(rec_seen.in_use_after_block, rec_seen.base);
    CHECK_EQ(rec_seen.lo_after, rec_seen.lo);
    CHECK_EQ(rec_seen.hi_after, rec_seen.hi);
    CHECK_EQ(rec_seen.limit_after, rec_seen.limit);
    CHECK_EQ(rec_seen.own_limit_after, rec_seen.limit);
}

/* ---- the hot split ----------------------------------------------------------- */

static void *hot_body(void *arg)
{
    (void)arg;
    struct count_block b = {0};
    __morestack(count_thunk, &b, 512); /* takes the chunk; then it stays cached */
    struct capri_pool_stats before, after;
    capri_pool_stats(&before);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < HOT_ITERATIONS; i++)
        __morestack(count_thunk, &b, 512);
    uint64_t t1 = now_ns();
    capri_pool_stats(&after);
    CHECK_EQ(b.n, HOT_ITERATIONS + 1);
    CHECK(memcmp(before.chunks_in_use, after.chunks_in_use, sizeof before.chunks_in_use) == 0);
    CHECK(memcmp(before.chunks_free, after.chunks_free, sizeof before.chunks_free) == 0);
    CHECK_EQ(before.depot_transfers, after.depot_transfers);
    CHECK_EQ(before.bytes_mapped, after.bytes_mapped);
    /* For scale: the same thunk called directly. */
    void (*volatile direct)(void *) = count_thunk;
    uint64_t t2 = now_ns();
    for (unsigned i = 0; i < HOT_ITERATIONS; i++)
        direct(&b);
    uint64_t t3 = now_ns();
    fprintf(stderr, "  hot split: %.1f ns per call through __morestack (direct call %.1f ns)\n",
            (double)(t1 - t0) / HOT_ITERATIONS, (double)(t3 - t2) / HOT_ITERATIONS);
    return NULL;
}

static void test_hot_split(void) { join(spawn(hot_body, NULL)); }

/* The hot case, in __morestack itself (no C, no system stack): the cached
 * chunk is taken again (the same chunk, slot and class), the thunk sees
 * the chunk's limit and bounds, one more chunk and an empty cache, the
 * link record says where everything goes back, and after it all is as
 * before with the chunk cached again. The C half writes the record's
 * thunk field, the hot case leaves it as it was: the test clears it first
 * and so tells which way __morestack went (under the sanitizers every
 * crossing takes the C half: the tools must hear of it). */
struct hot_probe {
    uintptr_t limit, own_limit, lo, hi, cached, saved_rbp;
    unsigned depth;
    struct grow_link link;
};

static void hot_probe_thunk(void *p)
{
    struct hot_probe *b = p;
    struct capri_thread *t = thread_current();
    b->limit = limit_read();
    b->own_limit = t->limit;
    b->lo = t->stack_lo;
    b->hi = t->stack_hi;
    b->cached = (uintptr_t)t->cached_chunk;
    b->depth = __capri_chunk_depth();
    b->saved_rbp = *(const uintptr_t *)__builtin_frame_address(0); /* __morestack's frame */
    memcpy(&b->link, (const void *)t->stack_hi, sizeof b->link);
}

static void hot_case_check(struct capri_thread *self, uint64_t need)
{
    void *chunk = self->cached_chunk;
    uint32_t slot = self->cached_slot, cls = self->cached_cls;
    uintptr_t lo = self->stack_lo, hi = self->stack_hi, limit = limit_read(), own = self->limit;
    unsigned depth = __capri_chunk_depth();
    CHECK(chunk != NULL);
    /* The record's thunk field: the C half sets it, the hot case not. */
    ((struct grow_link *)((uintptr_t)chunk + chunk_class_size(cls)) - 1)->thunk = NULL;
    struct hot_probe b;
    memset(&b, 0, sizeof b);
    __morestack(hot_probe_thunk, &b, need);
#ifdef CAPRI_TEST_SANITIZED
    CHECK((uintptr_t)b.link.thunk == (uintptr_t)hot_probe_thunk); /* the C half */
#else
    CHECK((uintptr_t)b.link.thunk != (uintptr_t)hot_probe_thunk); /* the hot case */
#endif
    size_t size = chunk_class_size(cls);
    uintptr_t top = (uintptr_t)chunk + size - sizeof(struct grow_link);
    /* Inside: the cached chunk, its limit and bounds, one more chunk. */
    CHECK_EQ(b.lo, (uintptr_t)chunk);
    CHECK_EQ(b.hi, top);
    CHECK_EQ(b.limit, limit_for_stack((uintptr_t)chunk));
    CHECK_EQ(b.own_limit, b.limit);
    CHECK_EQ(b.cached, 0);
    CHECK_EQ(b.depth, depth + 1);
    /* The record: where everything goes back, and what the chunk is. */
    CHECK_EQ(b.link.frame, b.saved_rbp);
    CHECK_EQ(b.link.old_limit, limit);
    CHECK_EQ(b.link.old_own_limit, own);
    CHECK_EQ(b.link.old_lo, lo);
    CHECK_EQ(b.link.old_hi, hi);
    CHECK_EQ(b.link.kind, GROW_KIND_THREAD);
    CHECK_EQ(b.link.cls, cls);
    CHECK_EQ(b.link.owner_tls, 0);
#ifdef CAPRI_TEST_SANITIZED
    CHECK_EQ(b.link.tools, 1);
#else
    CHECK_EQ(b.link.tools, 0);
#endif
    CHECK_EQ(b.link.hooks, 0);
    CHECK_EQ(b.link.in_handler, 0);
    CHECK(b.link.owner == (void *)self);
    CHECK(b.link.chunk == chunk);
    CHECK_EQ(b.link.size, size);
    CHECK_EQ(b.link.slot, slot);
    /* After: all back, the same chunk cached again. */
    CHECK(self->cached_chunk == chunk);
    CHECK_EQ(self->cached_slot, slot);
    CHECK_EQ(self->cached_cls, cls);
    CHECK_EQ(self->stack_lo, lo);
    CHECK_EQ(self->stack_hi, hi);
    CHECK_EQ(self->limit, own);
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(__capri_chunk_depth(), depth);
}

struct hot_nest_block {
    struct capri_thread *self;
    uint64_t need;
};

/* On a chunk (the outer crossing took the cached one): one more down with
 * nothing cached (the C half), whose chunk is cached on the way back; then
 * the hot case from here, twice (the record is written the first time and
 * found as it is the second). */
static void hot_nest_thunk(void *p)
{
    struct hot_nest_block *b = p;
    struct count_block c = {0};
    __morestack(count_thunk, &c, 100); /* puts a chunk into the cache */
    hot_case_check(b->self, b->need);
    hot_case_check(b->self, b->need);
}

static void *hot_case_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    struct count_block c = {0};
    capri_sleep_ns(1); /* nothing cached */
    __morestack(count_thunk, &c, 512); /* the C half; the chunk stays cached */
    CHECK_EQ(c.n, 1);
    hot_case_check(self, 512);
    hot_case_check(self, 512); /* the record as the first left it */
    hot_case_check(self, 2000); /* a bigger need the cached chunk still holds */
    /* A need the cached chunk cannot hold: the C half, a chunk from the
     * pool, given back there (the cache is full); the cached one stays. */
    void *cached = self->cached_chunk;
    struct hot_probe b;
    memset(&b, 0, sizeof b);
    __morestack(hot_probe_thunk, &b, 20000);
    CHECK((uintptr_t)b.link.thunk == (uintptr_t)hot_probe_thunk);
    CHECK(b.lo != (uintptr_t)cached);
    CHECK_EQ(b.cached, (uintptr_t)cached);
    CHECK(self->cached_chunk == cached);
    /* From a chunk down. */
    struct hot_nest_block nb = {self, 512};
    __morestack(hot_nest_thunk, &nb, 3000);
    return NULL;
}

static void test_hot_case(void) { join(spawn(hot_case_body, NULL)); }

/* A chunk in the cache without a link record at its top (taken from the
 * pool and released by hand, as thread_chunks.c's own test does): the
 * first crossing takes the C half, which writes the record, and the next
 * ones the hot case. */
static void *hot_unrecorded_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    struct count_block c = {0};
    __morestack(count_thunk, &c, 512); /* a record of this thread's on a chunk ... */
    capri_sleep_ns(1);                 /* ... back in the pool */
    uint32_t slot;
    void *a = thread_chunk_take(self, 0, &slot);
    CHECK(a != NULL);
    thread_chunk_release(self, a, slot, 0);
    CHECK(self->cached_chunk == a);
    ((struct grow_link *)((uintptr_t)a + chunk_class_size(0)) - 1)->thunk = NULL;
    struct hot_probe b;
    memset(&b, 0, sizeof b);
    __morestack(hot_probe_thunk, &b, 512);
    CHECK((uintptr_t)b.link.thunk == (uintptr_t)hot_probe_thunk); /* the C half, always */
    CHECK_EQ(b.lo, (uintptr_t)a);
    CHECK(b.link.owner == (void *)self);
    CHECK(b.link.chunk == a);
    CHECK(self->cached_chunk == a);
    hot_case_check(self, 512);
    return NULL;
}

static void test_hot_unrecorded(void) { join(spawn(hot_unrecorded_body, NULL)); }

/* The preemption request arriving while the thunk runs: the way back keeps
 * it in the limit word (the C half of the return), and the bounds, depth
 * and cache are back all the same. */
struct preempt_in_block {
    struct capri_thread *self;
};

static void preempt_in_thunk(void *p)
{
    struct preempt_in_block *b = p;
    limit_request_preempt(b->self->sched);
}

static void *hot_preempt_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    struct count_block c = {0};
    __morestack(count_thunk, &c, 512); /* a chunk cached */
    void *cached = self->cached_chunk;
    uintptr_t limit = limit_read(), lo = self->stack_lo, hi = self->stack_hi;
    unsigned depth = __capri_chunk_depth();
    struct preempt_in_block b = {self};
    __morestack(preempt_in_thunk, &b, 512);
    CHECK_EQ(limit_read(), LIMIT_PREEMPT);
    CHECK_EQ(self->preempt, 1);
    CHECK_EQ(self->limit, limit);
    CHECK_EQ(self->stack_lo, lo);
    CHECK_EQ(self->stack_hi, hi);
    CHECK_EQ(__capri_chunk_depth(), depth);
    CHECK(self->cached_chunk == cached);
    /* The next crossing takes the request (the C half) and yields. */
    __morestack(count_thunk, &c, 512);
    CHECK_EQ(self->preempt, 0);
    CHECK_EQ(limit_read(), limit);
    return NULL;
}

static void test_hot_preempt(void) { join(spawn(hot_preempt_body, NULL)); }

/* ---- what the thunk sees, and what survives ---------------------------------- */

struct probe_block {
    uintptr_t limit, own_limit, lo, hi, frame;
    unsigned depth;
    int errno_in;
};

static void probe_thunk(void *p)
{
    struct probe_block *b = p;
    struct capri_thread *t = thread_current();
    b->limit = limit_read();
    b->own_limit = t->limit;
    b->lo = t->stack_lo;
    b->hi = t->stack_hi;
    b->frame = (uintptr_t)__builtin_frame_address(0);
    b->depth = __capri_chunk_depth();
    b->errno_in = errno;
    errno = 4321;
}

/*
 * grow_test_call_with_regs(thunk, block, need): __morestack with rbx, rbp,
 * r12-r15 set to known values and the x87/SSE control words changed;
 * returns a bit mask of what did not survive (0: all did).
 */
uint64_t grow_test_call_with_regs(void (*thunk)(void *), void *block, uint64_t need);
__asm__(".text\n"
        ".globl grow_test_call_with_regs\n"
        ".type grow_test_call_with_regs,@function\n"
        "grow_test_call_with_regs:\n"
        "  .cfi_startproc\n"
        "  pushq %rbp\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset rbp, 0\n"
        "  pushq %rbx\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset rbx, 0\n"
        "  pushq %r12\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset r12, 0\n"
        "  pushq %r13\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset r13, 0\n"
        "  pushq %r14\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset r14, 0\n"
        "  pushq %r15\n  .cfi_adjust_cfa_offset 8\n  .cfi_rel_offset r15, 0\n"
        "  subq $24, %rsp\n  .cfi_adjust_cfa_offset 24\n"
        "  stmxcsr 8(%rsp)\n"           /* the caller's, to put back */
        "  fnstcw 12(%rsp)\n"
        "  movl 8(%rsp), %eax\n  xorl $0x6000, %eax\n  movl %eax, 0(%rsp)\n" /* round toward zero */
        "  ldmxcsr 0(%rsp)\n"
        "  movw 12(%rsp), %ax\n  xorw $0x0c00, %ax\n  movw %ax, 4(%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  movabsq $0x1111111111111111, %rbx\n"
        "  movabsq $0x2222222222222222, %rbp\n"
        "  movabsq $0x3333333333333333, %r12\n"
        "  movabsq $0x4444444444444444, %r13\n"
        "  movabsq $0x5555555555555555, %r14\n"
        "  movabsq $0x6666666666666666, %r15\n"
        "  callq __morestack@PLT\n"
        "  xorl %eax, %eax\n"
        "  movabsq $0x1111111111111111, %rcx\n  cmpq %rcx, %rbx\n  je 1f\n  orl $1, %eax\n1:\n"
        "  movabsq $0x2222222222222222, %rcx\n  cmpq %rcx, %rbp\n  je 1f\n  orl $2, %eax\n1:\n"
        "  movabsq $0x3333333333333333, %rcx\n  cmpq %rcx, %r12\n  je 1f\n  orl $4, %eax\n1:\n"
        "  movabsq $0x4444444444444444, %rcx\n  cmpq %rcx, %r13\n  je 1f\n  orl $8, %eax\n1:\n"
        "  movabsq $0x5555555555555555, %rcx\n  cmpq %rcx, %r14\n  je 1f\n  orl $16, %eax\n1:\n"
        "  movabsq $0x6666666666666666, %rcx\n  cmpq %rcx, %r15\n  je 1f\n  orl $32, %eax\n1:\n"
        "  stmxcsr 16(%rsp)\n  movl 16(%rsp), %ecx\n  cmpl 0(%rsp), %ecx\n  je 1f\n  orl $64, %eax\n1:\n"
        "  fnstcw 16(%rsp)\n  movw 16(%rsp), %cx\n  cmpw 4(%rsp), %cx\n  je 1f\n  orl $128, %eax\n1:\n"
        "  ldmxcsr 8(%rsp)\n"
        "  fldcw 12(%rsp)\n"
        "  addq $24, %rsp\n  .cfi_adjust_cfa_offset -24\n"
        "  popq %r15\n  .cfi_adjust_cfa_offset -8\n"
        "  popq %r14\n  .cfi_adjust_cfa_offset -8\n"
        "  popq %r13\n  .cfi_adjust_cfa_offset -8\n"
        "  popq %r12\n  .cfi_adjust_cfa_offset -8\n"
        "  popq %rbx\n  .cfi_adjust_cfa_offset -8\n"
        "  popq %rbp\n  .cfi_adjust_cfa_offset -8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        "  .size grow_test_call_with_regs, .-grow_test_call_with_regs\n");

/* A thunk that uses every callee-saved register (and restores them, as
 * the ABI wants). */
static void busy_thunk(void *p)
{
    struct count_block *b = p;
    __asm__ volatile("movq $1, %%rbx\n movq $2, %%r12\n movq $3, %%r13\n movq $4, %%r14\n movq $5, %%r15"
                     ::: "rbx", "r12", "r13", "r14", "r15");
    b->n++;
}

static void *probe_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    uintptr_t lo = self->stack_lo, hi = self->stack_hi, limit = limit_read();
    unsigned depth = __capri_chunk_depth();
    struct probe_block b;
    memset(&b, 0, sizeof b);
    errno = 1234;
    __morestack(probe_thunk, &b, 2000);
    int errno_after = errno;
    /* Inside: the chunk's limit and bounds, one more chunk, errno as left. */
    CHECK_EQ(b.limit, limit_for_stack(b.lo));
    CHECK_EQ(b.own_limit, b.limit);
    CHECK(b.frame > b.lo && b.frame < b.hi);
    CHECK_EQ(b.hi % 16, 0);
    CHECK(b.hi - b.lo >= 2000 + (limit_for_stack(0) - 0));
    CHECK_EQ(b.frame % 16, 0); /* rsp was 16-byte aligned at the call */
    CHECK(b.lo != lo);
    CHECK_EQ(b.depth, depth + 1);
    CHECK_EQ(b.errno_in, 1234);
    CHECK_EQ(errno_after, 4321);
    uint32_t slot;
    void *chunk;
    unsigned cls;
    CHECK_EQ(chunk_pool_locate((void *)b.frame, &slot, &chunk, &cls), 1);
    CHECK_EQ((uintptr_t)chunk, b.lo);
    CHECK(chunk_slot_at(slot)->owner == (void *)self); /* the overflow report names it */
    /* After: everything back. */
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(self->limit, limit);
    CHECK_EQ(self->stack_lo, lo);
    CHECK_EQ(self->stack_hi, hi);
    CHECK_EQ(__capri_chunk_depth(), depth);
    /* Callee-saved registers and the floating-point control words, with a
     * thunk that uses them, on a small chunk and on a fresh big one. */
    struct count_block c = {0};
    CHECK_EQ(grow_test_call_with_regs(busy_thunk, &c, 100), 0);
    CHECK_EQ(grow_test_call_with_regs(busy_thunk, &c, 200000), 0);
    CHECK_EQ(c.n, 2);
    CHECK_EQ(limit_read(), limit);
    /* Nested: the second chunk's link leads back to the first. */
    return NULL;
}

static void test_inside_and_after(void) { join(spawn(probe_body, NULL)); }

/* ---- preemption ------------------------------------------------------------------ */

static volatile int other_ran;

static void *other_body(void *arg)
{
    (void)arg;
    other_ran = 1;
    return NULL;
}

struct preempt_block {
    int other_ran_before;
    unsigned depth;
};

static void preempt_thunk(void *p)
{
    struct preempt_block *b = p;
    b->other_ran_before = other_ran;
    b->depth = __capri_chunk_depth();
}

/* need: small (the region fits once the request is gone: the thunk runs
 * where it is) or larger than the thread's stack (a chunk, the yield on
 * it). */
static void *preempt_body(void *arg)
{
    uint64_t need = (uint64_t)(uintptr_t)arg;
    struct capri_thread *self = thread_current();
    uintptr_t limit = limit_read();
    unsigned depth = __capri_chunk_depth();
    other_ran = 0;
    capri_t other = spawn(other_body, NULL);
    limit_request_preempt(self->sched);
    CHECK_EQ(limit_read(), LIMIT_PREEMPT);
    struct preempt_block b = {0, 0};
    __morestack(preempt_thunk, &b, need);
    CHECK_EQ(b.other_ran_before, 1); /* it yielded before the thunk ran */
    CHECK_EQ(b.depth, need < 4096 ? depth : depth + 1);
    CHECK_EQ(self->preempt, 0);
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(self->limit, limit);
    join(other);
    return NULL;
}

static void test_preempt(void)
{
    join(spawn(preempt_body, (void *)(uintptr_t)512));
    join(spawn(preempt_body, (void *)(uintptr_t)(1u << 20)));
}

/* ---- longjmp out of five chunks, then resync ------------------------------------- */

static jmp_buf resync_jb;
static unsigned resync_depth_at_jump;

struct chain_block {
    int left;
};

static void chain_thunk(void *p)
{
    struct chain_block *b = p;
    if (b->left == 0) {
        resync_depth_at_jump = __capri_chunk_depth();
        longjmp(resync_jb, 1);
    }
    struct chain_block next = {b->left - 1};
    __morestack(chain_thunk, &next, 3000);
}

/* On any thread: setjmp at depth d, longjmp from d + 5. */
static void resync_case(struct capri_thread *self)
{
    if (self)
        capri_sleep_ns(1); /* no chunk cached on the thread */
    uintptr_t lo = self ? self->stack_lo : 0, hi = self ? self->stack_hi : 0;
    uintptr_t limit = limit_read(), own_limit = self ? self->limit : 0;
    uint64_t base = in_use_all();
    volatile unsigned depth0 = __capri_chunk_depth();
    if (setjmp(resync_jb) == 0) {
        struct chain_block b = {4};
        __morestack(chain_thunk, &b, 3000);
        CHECK(0); /* never returns */
        return;
    }
    CHECK_EQ(resync_depth_at_jump, depth0 + 5);
    /* The longjmp interposer put the chunk list back before jumping; the
     * chunk it ran on waits for the next growth or resync (and a capri
     * thread keeps one more cached). */
    CHECK_EQ(__capri_chunk_depth(), depth0);
    CHECK(in_use_all() - base <= 2);
    __capri_stack_resync(depth0); /* nothing left to undo */
    CHECK_EQ(__capri_chunk_depth(), depth0);
    CHECK_EQ(limit_read(), limit);
    if (self) {
        CHECK_EQ(self->limit, own_limit);
        CHECK_EQ(self->stack_lo, lo);
        CHECK_EQ(self->stack_hi, hi);
        CHECK(in_use_all() - base <= 1); /* one stays cached on the thread */
        capri_sleep_ns(1000);
    }
    CHECK_EQ(in_use_all(), base);
    /* The stack works as before: grow again. */
    struct count_block c = {0};
    __morestack(count_thunk, &c, 3000);
    CHECK_EQ(c.n, 1);
    CHECK_EQ(__capri_chunk_depth(), depth0);
}

static void *resync_body(void *arg)
{
    (void)arg;
    resync_case(thread_current());
    return NULL;
}

static void test_resync_after_longjmp(void) { join(spawn(resync_body, NULL)); }

/* grow_resync_to_sp, for the longjmp interposers (a setjmp the plugin did
 * not see): from the jump's target stack pointer alone, right before the
 * jump, on the chunk it releases (which waits for the next growth). */
static jmp_buf sp_jb;
static uintptr_t sp_target;

struct spchain_block {
    unsigned level, setjmp_at, jump_at;
    unsigned depth_after_jump;
    int jumped;
};

static void spchain_thunk(void *p);

__attribute__((noinline)) static void spchain_step(struct spchain_block *b)
{
    if (b->level == b->setjmp_at) {
        if (setjmp(sp_jb) != 0) {
            b->jumped = 1;
            b->depth_after_jump = __capri_chunk_depth();
            return;
        }
        sp_target = (uintptr_t)__builtin_frame_address(0);
    }
    if (b->level == b->jump_at) {
        grow_resync_to_sp(sp_target);
        longjmp(sp_jb, 1);
    }
    __morestack(spchain_thunk, b, 3000);
}

static void spchain_thunk(void *p)
{
    struct spchain_block *b = p;
    b->level++;
    spchain_step(b);
}

static void *resync_sp_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    for (unsigned from = 0; from <= 2; from += 2) {
        capri_sleep_ns(1); /* nothing cached */
        uintptr_t limit = limit_read(), lo = self->stack_lo, hi = self->stack_hi;
        uint64_t base = in_use_all();
        struct spchain_block b = {0, from, 5, 0, 0};
        spchain_step(&b);
        CHECK_EQ(b.jumped, 1);
        CHECK_EQ(b.depth_after_jump, from);
        CHECK_EQ(__capri_chunk_depth(), 0);
        CHECK_EQ(limit_read(), limit);
        CHECK_EQ(self->stack_lo, lo);
        CHECK_EQ(self->stack_hi, hi);
        /* The chunk the jump left from waits, and the hot case is off
         * meanwhile, until a crossing through the C half releases it: from
         * level 2, the returns through the two chunks still linked; from
         * level 0, the next growth. */
#ifdef CAPRI_TEST_SANITIZED
        unsigned hot_on = 0; /* the tools hear of every crossing */
#else
        unsigned hot_on = 1;
#endif
        CHECK_EQ(self->sched->grow_hot, from == 0 ? 0 : hot_on);
        struct count_block c = {0};
        __morestack(count_thunk, &c, 100);
        CHECK_EQ(self->sched->grow_hot, hot_on);
        capri_sleep_ns(1);
        CHECK_EQ(in_use_all(), base);
    }
    return NULL;
}

static void test_resync_to_sp(void) { join(spawn(resync_sp_body, NULL)); }

/* ---- the main thread and plain pthreads ---------------------------------------- */

struct where_block {
    uintptr_t frame, limit;
    unsigned depth, inner_depth;
    uintptr_t inner_frame;
};

static void where_inner_thunk(void *p)
{
    struct where_block *b = p;
    b->inner_depth = __capri_chunk_depth();
    b->inner_frame = (uintptr_t)__builtin_frame_address(0);
}

static void where_thunk(void *p)
{
    struct where_block *b = p;
    b->frame = (uintptr_t)__builtin_frame_address(0);
    b->limit = limit_read();
    b->depth = __capri_chunk_depth();
    __morestack(where_inner_thunk, b, 100);
}

/* Growth on whatever thread calls it; lo..hi is its own stack. */
static void where_case(uintptr_t lo, uintptr_t hi)
{
    uintptr_t limit = limit_read();
    unsigned depth = __capri_chunk_depth();
    struct where_block b;
    memset(&b, 0, sizeof b);
    __morestack(where_thunk, &b, 5000);
    CHECK(b.frame < lo || b.frame >= hi); /* not on its own stack */
    uint32_t slot;
    void *chunk;
    unsigned cls;
    CHECK_EQ(chunk_pool_locate((void *)b.frame, &slot, &chunk, &cls), 1);
    CHECK_EQ(b.limit, limit_for_stack((uintptr_t)chunk));
    CHECK_EQ(b.depth, depth + 1);
    CHECK_EQ(b.inner_depth, depth + 2);
    CHECK(b.inner_frame < (uintptr_t)chunk || b.inner_frame >= (uintptr_t)chunk + chunk_class_size(cls));
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(__capri_chunk_depth(), depth);
}

static void own_stack(uintptr_t *lo, uintptr_t *hi)
{
    pthread_attr_t attr;
    void *base = NULL;
    size_t size = 0;
    CHECK_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
    pthread_attr_getstack(&attr, &base, &size);
    pthread_attr_destroy(&attr);
    *lo = (uintptr_t)base;
    *hi = (uintptr_t)base + size;
}

static void test_main_thread(void)
{
    struct capri_thread *self = thread_current();
    CHECK(self->flags & THREAD_MAIN);
    uint64_t base = in_use_all();
    uintptr_t lo, hi;
    own_stack(&lo, &hi);
    where_case(lo, hi);
    resync_case(self);
    capri_sleep_ns(1000);
    CHECK_EQ(in_use_all(), base);
}

/* backtrace() from three chunks down: the return addresses into
 * __morestack and into the function that called it are all there. */
static uintptr_t bt_expect[2];
static int bt_found[2];

struct bt_block {
    int left;
};

static void bt_thunk(void *p)
{
    struct bt_block *b = p;
    if (b->left == 3) {
        /* The first thunk: into __morestack, and (the rbp chain) into
         * bt_outer, the frame on the thread's own stack. */
        bt_expect[0] = (uintptr_t)__builtin_return_address(0);
        const uintptr_t *fp = __builtin_frame_address(0);
        const uintptr_t *morestack_fp = (const uintptr_t *)fp[0];
        bt_expect[1] = morestack_fp[1];
    }
    if (b->left > 1) {
        struct bt_block next = {b->left - 1};
        __morestack(bt_thunk, &next, 20000);
        return;
    }
    void *frames[64];
    int n = backtrace(frames, 64);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if ((uintptr_t)frames[i] == bt_expect[k])
                bt_found[k] = 1;
}

__attribute__((noinline)) static void bt_outer(void)
{
    struct bt_block b = {3};
    __morestack(bt_thunk, &b, 20000);
    __asm__ volatile(""); /* not a tail call */
}

static void *plain_body(void *arg)
{
    (void)arg;
    uintptr_t lo, hi;
    own_stack(&lo, &hi);
    uint64_t base = in_use_all();
    where_case(lo, hi);
    CHECK_EQ(in_use_all(), base); /* straight back to the pool */
    resync_case(NULL);
    bt_outer();
    CHECK(bt_found[0]);
    CHECK(bt_found[1]);
    return (void *)(uintptr_t)0x600d;
}

static void test_plain_pthread(void)
{
    /* No CHECK in main while the thread runs: the counters are plain. */
    pthread_t p;
    void *r = NULL;
    int created = pthread_create(&p, NULL, plain_body, NULL);
    int joined = created == 0 ? pthread_join(p, &r) : -1;
    CHECK_EQ(created, 0);
    CHECK_EQ(joined, 0);
    CHECK_EQ((uintptr_t)r, 0x600d);
}

/* pthread_exit from two chunks down: the forced unwind goes through
 * __morestack's cleanups and the chunks come back. (The last chunk has
 * room for pthread_exit and the unwinder: glibc loads libgcc_s first.) */
static void exit_thunk(void *p)
{
    struct bt_block *b = p;
    if (b->left > 0) {
        struct bt_block next = {b->left - 1};
        __morestack(exit_thunk, &next, b->left == 1 ? 128 * 1024 : 3000);
        return;
    }
    pthread_exit((void *)(uintptr_t)0xe1);
}

static void *exiting_body(void *arg)
{
    (void)arg;
    struct bt_block b = {1};
    __morestack(exit_thunk, &b, 3000);
    return NULL;
}

static void test_forced_unwind(void)
{
    uint64_t base = in_use_all();
    pthread_t p;
    void *r = NULL;
    int created = pthread_create(&p, NULL, exiting_body, NULL);
    int joined = created == 0 ? pthread_join(p, &r) : -1;
    CHECK_EQ(created, 0);
    CHECK_EQ(joined, 0);
    CHECK_EQ((uintptr_t)r, 0xe1);
    CHECK_EQ(in_use_all(), base);
}

/* capri_exit from three chunks down (no unwinding: the thread just ends):
 * its reaping gives the whole chain back. */
static void capri_exit_thunk(void *p)
{
    struct bt_block *b = p;
    if (b->left > 0) {
        struct bt_block next = {b->left - 1};
        __morestack(capri_exit_thunk, &next, 3000);
        return;
    }
    capri_exit((void *)(uintptr_t)0xce);
}

static void *capri_exiting_body(void *arg)
{
    (void)arg;
    struct bt_block b = {3};
    __morestack(capri_exit_thunk, &b, 3000);
    return NULL;
}

static void test_capri_exit_on_chunks(void)
{
    uint64_t base = in_use_all();
    void *r = NULL;
    capri_t t = spawn(capri_exiting_body, NULL);
    CHECK_EQ(capri_join(t, &r), 0);
    CHECK_EQ((uintptr_t)r, 0xce);
    CHECK_EQ(in_use_all(), base);
}

/* An unwind caught in a capri thread: _Unwind_ForcedUnwind from three
 * chunks down, through __morestack's cleanups, stopped (longjmp) at the
 * frame that made the first growth, as a catch would. The chunk the
 * unwinder ran on last waits, and goes at the next growth.
 *
 * Under ASan the jump is __builtin_longjmp from an uninstrumented stop
 * function: ASan's longjmp (and any noreturn call it instruments) would
 * ask to unpoison the stack it knows, which is already the one the jump
 * goes to (the cleanup switched it back) while the unwinder still runs on
 * the chunk, and warn. (A C++ catch or glibc's cancellation makes no such
 * call.) */
#ifdef GROW_TEST_ASAN
static void *catch_jb[5];
#define CATCH_SETJMP() __builtin_setjmp(catch_jb)
#define CATCH_LONGJMP() __builtin_longjmp(catch_jb, 1)
#define CATCH_STOP_ATTR __attribute__((no_sanitize("address")))
#else
#define CATCH_STOP_ATTR
static jmp_buf catch_jb;
#define CATCH_SETJMP() setjmp(catch_jb)
#define CATCH_LONGJMP() longjmp(catch_jb, 1)
#endif
static uintptr_t catch_ip; /* the return address into catcher_grow */
static int catch_frames;   /* __morestack frames the unwind went through */

CATCH_STOP_ATTR static _Unwind_Reason_Code catch_stop(int version, _Unwind_Action actions,
                                      _Unwind_Exception_Class cls, struct _Unwind_Exception *exc,
                                      struct _Unwind_Context *ctx, void *param)
{
    (void)version;
    (void)actions;
    (void)cls;
    (void)exc;
    (void)param;
    uintptr_t ip = _Unwind_GetIP(ctx);
    if (ip == catch_ip)
        CATCH_LONGJMP();
    if (ip == bt_expect[0])
        catch_frames++;
    return _URC_NO_REASON;
}

static struct _Unwind_Exception catch_exc;

static void throw_thunk(void *p)
{
    struct bt_block *b = p;
    if (b->left == 3) {
        bt_expect[0] = (uintptr_t)__builtin_return_address(0);
        const uintptr_t *fp = __builtin_frame_address(0);
        catch_ip = ((const uintptr_t *)fp[0])[1];
    }
    if (b->left > 1) {
        struct bt_block next = {b->left - 1};
        __morestack(throw_thunk, &next, b->left == 2 ? 64 * 1024 : 3000);
        return;
    }
    memset(&catch_exc, 0, sizeof catch_exc);
    catch_exc.exception_class = 0x4341505254535400ull; /* "CAPRTST" */
    _Unwind_ForcedUnwind(&catch_exc, catch_stop, NULL);
    CHECK(0); /* not reached */
}

__attribute__((noinline)) static void catcher_grow(void)
{
    struct bt_block b = {3};
    __morestack(throw_thunk, &b, 3000);
    __asm__ volatile(""); /* not a tail call */
}

static void *catch_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    capri_sleep_ns(1); /* nothing cached */
    uintptr_t lo = self->stack_lo, hi = self->stack_hi, limit = limit_read();
    uint64_t base = in_use_all();
    catch_frames = 0;
    if (CATCH_SETJMP() == 0) {
        catcher_grow();
        CHECK(0);
        return NULL;
    }
    CHECK_EQ(catch_frames, 3);
    CHECK_EQ(__capri_chunk_depth(), 0);
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(self->limit, limit);
    CHECK_EQ(self->stack_lo, lo);
    CHECK_EQ(self->stack_hi, hi);
    CHECK_EQ(in_use_all() - base, 1); /* the last chunk the unwinder ran on */
    struct count_block c = {0};
    __morestack(count_thunk, &c, 100); /* releases it */
    CHECK_EQ(c.n, 1);
    capri_sleep_ns(1);
    CHECK_EQ(in_use_all(), base);
    return NULL;
}

static void test_unwind_caught(void) { join(spawn(catch_body, NULL)); }

/* ---- signal handlers ------------------------------------------------------------ */

#ifndef GROW_TEST_TSAN
struct sig_result {
    unsigned depth_in, depth_after;
    int where_outer, where_inner; /* chunk_pool_locate of the thunks' frames */
    unsigned cls_outer;
    uintptr_t limit_outer;
    void *chunk_outer;
    int ran;
};

static struct sig_result sig_res;

static void sig_inner_thunk(void *p)
{
    (void)p;
    uint32_t slot;
    void *chunk;
    unsigned cls;
    sig_res.where_inner = chunk_pool_locate(__builtin_frame_address(0), &slot, &chunk, &cls);
}

static void sig_outer_thunk(void *p)
{
    (void)p;
    uint32_t slot;
    unsigned cls = 99;
    sig_res.where_outer = chunk_pool_locate(__builtin_frame_address(0), &slot, &sig_res.chunk_outer, &cls);
    sig_res.cls_outer = cls;
    sig_res.limit_outer = limit_read();
    sig_res.depth_in = __capri_chunk_depth();
    /* Nested: the reserve is taken, so a mapping of its own. */
    __morestack(sig_inner_thunk, NULL, 1000);
}

static void usr1_handler(int sig)
{
    (void)sig;
    __morestack(sig_outer_thunk, NULL, 1000);
    sig_res.depth_after = __capri_chunk_depth();
    sig_res.ran = 1;
}

static void sig_case(int have_sched)
{
    struct capri_pool_stats before, after;
    capri_pool_stats(&before);
    unsigned depth = __capri_chunk_depth();
    uintptr_t limit = limit_read();
    memset(&sig_res, 0, sizeof sig_res);
    raise(SIGUSR1);
    capri_pool_stats(&after);
    CHECK_EQ(sig_res.ran, 1);
    CHECK_EQ(sig_res.depth_in, depth + 1);
    CHECK_EQ(sig_res.depth_after, depth);
    if (have_sched) {
        /* The scheduler's reserve: a 64 KiB pool chunk, no pool operation. */
        CHECK_EQ(sig_res.where_outer, 1);
        CHECK_EQ(sig_res.cls_outer, 4);
    } else {
        CHECK_EQ(sig_res.where_outer, 0); /* no scheduler: a mapping */
    }
    CHECK_EQ(sig_res.where_inner, 0);
    CHECK(memcmp(before.chunks_in_use, after.chunks_in_use, sizeof before.chunks_in_use) == 0);
    CHECK_EQ(before.depot_transfers, after.depot_transfers);
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(__capri_chunk_depth(), depth);
}

static void *sig_body(void *arg)
{
    sig_case((int)(uintptr_t)arg);
    return NULL;
}

/* A storm of timer signals, every 50 us, at this kernel thread while a
 * capri thread crosses boundaries (hot and cold, nested): the handler grows
 * too, at whatever instruction of __morestack and its C half it landed on,
 * and everything it sees must be consistent. */
static volatile unsigned storm_handled, storm_bad;

static void storm_handler_thunk(void *p)
{
    struct count_block *c = p;
    c->n++;
}

static void storm_handler(int sig)
{
    (void)sig;
    unsigned depth = __capri_chunk_depth();
    uintptr_t word = limit_read();
    struct count_block c = {0};
    __morestack(storm_handler_thunk, &c, 1000);
    if (c.n != 1 || __capri_chunk_depth() != depth || limit_read() != word)
        storm_bad++;
    storm_handled++;
}

struct storm_block {
    uint64_t n;
    unsigned expect_depth;
    unsigned bad;
};

static void storm_inner(void *p)
{
    struct storm_block *b = p;
    b->bad += __capri_chunk_depth() != b->expect_depth;
    b->n++;
}

static void storm_outer(void *p)
{
    struct storm_block *b = p;
    b->bad += __capri_chunk_depth() != b->expect_depth;
    b->expect_depth++;
    __morestack(storm_inner, b, (b->n & 1) ? 100 : 20000);
    b->expect_depth--;
}

static void *storm_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    uintptr_t limit = limit_read(), lo = self->stack_lo, hi = self->stack_hi;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGALRM;
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
        CHECK(0);
        return NULL;
    }
    struct itimerspec every = {{0, 50000}, {0, 50000}};
    timer_settime(timer, 0, &every, NULL);
    struct storm_block b = {0, 1, 0};
    uint64_t end = now_ns() + 300000000ull;
    while (now_ns() < end && b.n < 3000000) {
        for (int i = 0; i < 100; i++) {
            b.expect_depth = 1;
            __morestack(storm_outer, &b, (i & 7) ? 200 : 40000);
        }
    }
    timer_delete(timer);
    CHECK_EQ(b.bad, 0);
    CHECK_EQ(storm_bad, 0);
    CHECK(storm_handled > 100);
    fprintf(stderr, "  signal storm: %u handlers grew during %" PRIu64 " nested crossings\n", storm_handled, b.n);
    CHECK_EQ(__capri_chunk_depth(), 0);
    CHECK_EQ(limit_read(), limit);
    CHECK_EQ(self->stack_lo, lo);
    CHECK_EQ(self->stack_hi, hi);
    return NULL;
}

static void test_signal_storm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = storm_handler;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    uint64_t before = in_use_all();
    join(spawn(storm_body, NULL));
    signal(SIGALRM, SIG_DFL);
    CHECK_EQ(in_use_all(), before);
}

static void test_signal_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1_handler;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    join(spawn(sig_body, (void *)(uintptr_t)1));
    pthread_t p;
    int created = pthread_create(&p, NULL, sig_body, (void *)(uintptr_t)0);
    int joined = created == 0 ? pthread_join(p, NULL) : -1;
    CHECK_EQ(created, 0);
    CHECK_EQ(joined, 0);
    signal(SIGUSR1, SIG_DFL);
}

/* Every instruction of a crossing, the hot case and the C half: with the
 * trap flag set around one __morestack call, the kernel delivers SIGTRAP
 * after each instruction. At each, the handler (on the signal stack,
 * counted as a handler):
 *  - unwinds (libgcc's _Unwind_Backtrace, through the signal frame and the
 *    interrupted instruction's CFI) to the thread's entry, passing the
 *    frame that made the crossing on the way;
 *  - grows itself (the scheduler's reserve) and finds the depth and the
 *    limit word as before;
 *  - for the hot case (outside the sanitizers, where it is taken): finds
 *    the interrupted stack pointer on the thread's stack or on the cached
 *    chunk, never on the system stack.
 * The hot crossing is a few dozen instructions; the count is printed. */
void grow_test_trace_on(void);
void grow_test_trace_off(void);
__asm__(".text\n"
        ".globl grow_test_trace_on\n"
        ".type grow_test_trace_on,@function\n"
        "grow_test_trace_on:\n"
        "  .cfi_startproc\n"
        "  pushfq\n  .cfi_adjust_cfa_offset 8\n"
        "  orq $0x100, (%rsp)\n" /* TF: a trap after every instruction from the next on */
        "  popfq\n  .cfi_adjust_cfa_offset -8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        "  .size grow_test_trace_on, .-grow_test_trace_on\n"
        ".globl grow_test_trace_off\n"
        ".type grow_test_trace_off,@function\n"
        "grow_test_trace_off:\n"
        "  .cfi_startproc\n"
        "  pushfq\n  .cfi_adjust_cfa_offset 8\n"
        "  andq $-257, (%rsp)\n"
        "  popfq\n  .cfi_adjust_cfa_offset -8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        "  .size grow_test_trace_off, .-grow_test_trace_off\n");

static struct {
    volatile int active;    /* 1: the hot crossing, 2: the C half */
    uintptr_t ret;          /* the crossing function's return address */
    uintptr_t own_lo, own_hi, chunk_lo, chunk_hi;
    unsigned steps, bad_unwind, bad_growth, off_stack;
} step;

struct step_unwind {
    int found, frames;
};

static _Unwind_Reason_Code step_unwind_cb(struct _Unwind_Context *ctx, void *arg)
{
    struct step_unwind *u = arg;
    if (_Unwind_GetIP(ctx) == step.ret)
        u->found = 1;
    return ++u->frames > 200 ? _URC_NORMAL_STOP : _URC_NO_REASON;
}

static void step_handler(int sig, siginfo_t *info, void *ucv)
{
    (void)sig;
    (void)info;
    if (!step.active)
        return;
    ucontext_t *uc = ucv;
    step.steps++;
    struct step_unwind u = {0, 0};
    if (_Unwind_Backtrace(step_unwind_cb, &u) != _URC_END_OF_STACK || !u.found)
        step.bad_unwind++;
#ifndef CAPRI_TEST_SANITIZED
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (step.active == 1 && !(sp >= step.own_lo && sp < step.own_hi) &&
        !(sp >= step.chunk_lo && sp < step.chunk_hi))
        step.off_stack++;
#else
    (void)uc;
#endif
    unsigned depth = __capri_chunk_depth();
    uintptr_t word = limit_read();
    struct count_block c = {0};
    __morestack(storm_handler_thunk, &c, 1000);
    if (c.n != 1 || __capri_chunk_depth() != depth || limit_read() != word)
        step.bad_growth++;
}

__attribute__((noinline)) static void step_cross(struct count_block *c, uint64_t need)
{
    step.ret = (uintptr_t)__builtin_return_address(0);
    grow_test_trace_on();
    __morestack(count_thunk, c, need);
    grow_test_trace_off();
    __asm__ volatile(""); /* not a tail call */
}

static struct {
    unsigned hot_steps, hot_bad_unwind, hot_bad_growth, hot_off_stack;
    unsigned cold_steps, cold_bad_unwind, cold_bad_growth;
    uint64_t n;
    unsigned depth_after;
    int hot_cached_again;
} step_res;

static void *step_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    struct count_block c = {0};
    __morestack(count_thunk, &c, 512); /* a chunk cached */
    struct step_unwind u = {0, 0};
    _Unwind_Backtrace(step_unwind_cb, &u); /* the unwinder's first use, outside a handler */
    step.own_lo = self->stack_lo;
    step.own_hi = self->stack_hi;
    void *cached = self->cached_chunk;
    step.chunk_lo = (uintptr_t)cached;
    step.chunk_hi = step.chunk_lo + chunk_class_size(self->cached_cls);
    step.steps = step.bad_unwind = step.bad_growth = step.off_stack = 0;
    step.active = 1;
    step_cross(&c, 512);
    step.active = 0;
    step_res.hot_steps = step.steps;
    step_res.hot_bad_unwind = step.bad_unwind;
    step_res.hot_bad_growth = step.bad_growth;
    step_res.hot_off_stack = step.off_stack;
    step_res.hot_cached_again = self->cached_chunk == cached;
    /* A need the cached chunk cannot hold: the C half on the system stack. */
    step.steps = step.bad_unwind = step.bad_growth = 0;
    step.active = 2;
    step_cross(&c, 20000);
    step.active = 0;
    step_res.cold_steps = step.steps;
    step_res.cold_bad_unwind = step.bad_unwind;
    step_res.cold_bad_growth = step.bad_growth;
    step_res.n = c.n;
    step_res.depth_after = __capri_chunk_depth();
    return NULL;
}

static void test_every_instruction(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = step_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGTRAP, &sa, NULL), 0);
    uint64_t before = in_use_all();
    join(spawn(step_body, NULL));
    signal(SIGTRAP, SIG_DFL);
    fprintf(stderr, "  single-stepped: the hot crossing %u instructions, the C half's %u\n",
            step_res.hot_steps, step_res.cold_steps);
    CHECK_EQ(step_res.n, 3);
    CHECK_EQ(step_res.depth_after, 0);
    CHECK(step_res.hot_steps > 20);
    CHECK(step_res.cold_steps > step_res.hot_steps);
#ifndef CAPRI_TEST_SANITIZED
    CHECK(step_res.hot_steps < 200); /* no C */
#endif
    CHECK_EQ(step_res.hot_bad_unwind, 0);
    CHECK_EQ(step_res.hot_bad_growth, 0);
    CHECK_EQ(step_res.hot_off_stack, 0);
    CHECK(step_res.hot_cached_again);
    CHECK_EQ(step_res.cold_bad_unwind, 0);
    CHECK_EQ(step_res.cold_bad_growth, 0);
    CHECK_EQ(in_use_all(), before);
}
#endif

/* ---- overflow inside a grown chunk (a child) ------------------------------------- */

static volatile int stop_recursing;

__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    if (stop_recursing)
        return frame[0];
    return recurse(depth + 1) + (unsigned)frame[depth % sizeof frame];
}

static void overflow_thunk(void *p) { *(unsigned *)p = recurse(0); }

static void *overflow_body(void *arg)
{
    (void)arg;
    fprintf(stderr, "handle %" PRIu64 "\n", capri_self());
    fflush(stderr);
    unsigned r = 0;
    __morestack(overflow_thunk, &r, 4096);
    return (void *)(uintptr_t)r;
}

/* Growth before anything started the runtime (instrumented code in a
 * constructor, or in main before its first libcapri call): no pool yet,
 * so mappings of its own; the kernel thread's bookkeeping all the same. */
static int before_runtime(void)
{
    uintptr_t limit = limit_read();
    struct where_block b;
    memset(&b, 0, sizeof b);
    __morestack(where_thunk, &b, 5000);
    uintptr_t lo, hi;
    own_stack(&lo, &hi);
    int ok = b.depth == 1 && b.inner_depth == 2 && (b.frame < lo || b.frame >= hi) &&
             __capri_chunk_depth() == 0 && limit_read() == limit;
    fprintf(stderr, "before-runtime %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static int child(const char *which)
{
    alarm(60);
    if (strcmp(which, "before-runtime") == 0)
        return before_runtime();
    if (strcmp(which, "overflow") != 0)
        return 2;
    capri_attr_t attr;
    memset(&attr, 0, sizeof attr);
    attr.name = "deep";
    capri_t t;
    if (capri_spawn(&t, overflow_body, NULL, &attr) != 0)
        return 2;
    capri_join(t, NULL);
    fprintf(stderr, "child survived\n");
    return 0;
}

static void test_before_runtime(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)"rt_grow", (char *)"before-runtime", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_overflow_in_chunk(void)
{
    struct capri_pool_stats st;
    memset(&st, 0, sizeof st);
    if (capri_pool_stats(&st) != 0 || st.guard_mode == 0) {
        fprintf(stderr, "SKIP: no guard pages under the chunks\n");
        return;
    }
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        sanitizers_leave_segv_alone();
        char *argv[] = {(char *)"rt_grow", (char *)"overflow", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    CHECK(pid > 0);
    close(fds[1]);
    char err[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], err + len, sizeof err - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof err - 1)
            break;
    }
    err[len] = 0;
    close(fds[0]);
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int before = test_failures;
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    uint64_t handle = 0;
    const char *h = strstr(err, "handle ");
    CHECK(h && sscanf(h, "handle %" SCNu64, &handle) == 1 && handle != 0);
    char expect[96];
    snprintf(expect, sizeof expect, "capri: stack overflow in thread %" PRIu64 " \"deep\" at 0x", handle);
    CHECK_CONTAINS(err, expect);
    CHECK(!strstr(err, "child survived"));
    if (test_failures != before)
        fprintf(stderr, "  child status %#x, stderr:\n%s\n", status, err);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child(argv[1]);
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1); /* pool counters of one cache */
    /* No time slices: the checks read the limit word and chunk depths,
     * which a preemption request from the monitor would change at random
     * moments of the long loops (test_preempt makes its requests itself). */
    capri_config(CAPRI_CONFIG_TIME_SLICE_US, 0);
    capri_self();
    /* Main grows first: scheduler 0 takes its reserve chunk, so that the
     * counts below see growth chunks only. */
    struct count_block warm = {0};
    __morestack(count_thunk, &warm, 100);
    CHECK_EQ(warm.n, 1);
    /* And binds what threads on small chunks call (lazy binding's resolver
     * frame alone is kilobytes). */
    CHECK(thread_current() != NULL);
    CHECK_EQ(__capri_chunk_depth(), 0);
    CHECK(in_use_all() > 0);
    capri_sleep_ns(1);
    RUN(test_deep_recursion);
    RUN(test_capri_exit_on_chunks);
    RUN(test_hot_split);
    RUN(test_hot_case);
    RUN(test_hot_unrecorded);
    RUN(test_hot_preempt);
    RUN(test_inside_and_after);
    RUN(test_preempt);
    RUN(test_resync_after_longjmp);
    RUN(test_resync_to_sp);
    RUN(test_main_thread);
    RUN(test_plain_pthread);
    RUN(test_forced_unwind);
    RUN(test_unwind_caught);
#ifndef GROW_TEST_TSAN
    RUN(test_signal_handler);
    RUN(test_signal_storm);
    RUN(test_every_instruction);
#endif
    RUN(test_before_runtime);
    RUN(test_overflow_in_chunk);
    return test_summary("test_grow");
}
