/*
 * Preemption (runtime/src/preempt.c, docs/runtime.md "Preemption"):
 *  - __capri_loop_yield keeps every register but r11 and the vector state
 *    (it is called with the preserve_all convention from the middle of a
 *    loop) across a yield to a thread that clobbers them all;
 *  - a request made while a pthread lock is held waits (no yield, at a
 *    loop yield point or a checkpoint), and the unlock of the last lock
 *    puts it back in the limit word; the lock calls are counted;
 *  - a preempted thread runs after the threads that were ready;
 *  - a request does not outlive a switch.
 * The requests are made here (limit_request_preempt), not by the monitor:
 * time slices are off.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capri.h"
#include "grow.h"
#include "limit.h"
#include "rt_test.h"
#include "scheduler.h"
#include "thread.h"

void __capri_loop_yield(void);

/* run_regs(gpr_in, gpr_out, vec_in, vec_out, avx512): loads rax, rcx,
 * rdx, rsi, rdi, r8, r9, r10 from gpr_in, ymm0-15 from vec_in (and
 * zmm16-31 from vec_in + 512 when avx512), calls __capri_loop_yield as a
 * loop yield point does, and stores them all. */
__asm__(".text\n"
        ".globl run_regs\n"
        ".type run_regs,@function\n"
        "run_regs:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  sub $8, %rsp\n"
        "  mov %rsi, %r12\n  mov %rcx, %r13\n  mov %r8, %r14\n"
        "  vmovdqu 0(%rdx), %ymm0\n  vmovdqu 32(%rdx), %ymm1\n  vmovdqu 64(%rdx), %ymm2\n"
        "  vmovdqu 96(%rdx), %ymm3\n  vmovdqu 128(%rdx), %ymm4\n  vmovdqu 160(%rdx), %ymm5\n"
        "  vmovdqu 192(%rdx), %ymm6\n  vmovdqu 224(%rdx), %ymm7\n  vmovdqu 256(%rdx), %ymm8\n"
        "  vmovdqu 288(%rdx), %ymm9\n  vmovdqu 320(%rdx), %ymm10\n  vmovdqu 352(%rdx), %ymm11\n"
        "  vmovdqu 384(%rdx), %ymm12\n  vmovdqu 416(%rdx), %ymm13\n  vmovdqu 448(%rdx), %ymm14\n"
        "  vmovdqu 480(%rdx), %ymm15\n"
        "  test %r14, %r14\n  jz 1f\n"
        "  vmovdqu64 512(%rdx), %zmm16\n  vmovdqu64 576(%rdx), %zmm17\n  vmovdqu64 640(%rdx), %zmm18\n"
        "  vmovdqu64 704(%rdx), %zmm19\n  vmovdqu64 768(%rdx), %zmm20\n  vmovdqu64 832(%rdx), %zmm21\n"
        "  vmovdqu64 896(%rdx), %zmm22\n  vmovdqu64 960(%rdx), %zmm23\n  vmovdqu64 1024(%rdx), %zmm24\n"
        "  vmovdqu64 1088(%rdx), %zmm25\n  vmovdqu64 1152(%rdx), %zmm26\n  vmovdqu64 1216(%rdx), %zmm27\n"
        "  vmovdqu64 1280(%rdx), %zmm28\n  vmovdqu64 1344(%rdx), %zmm29\n  vmovdqu64 1408(%rdx), %zmm30\n"
        "  vmovdqu64 1472(%rdx), %zmm31\n"
        "1:\n"
        "  mov 0(%rdi), %rax\n  mov 8(%rdi), %rcx\n  mov 16(%rdi), %rdx\n  mov 24(%rdi), %rsi\n"
        "  mov 40(%rdi), %r8\n  mov 48(%rdi), %r9\n  mov 56(%rdi), %r10\n  mov 32(%rdi), %rdi\n"
        "  call *__capri_loop_yield@GOTPCREL(%rip)\n" /* as the plugin's trampoline: no lazy binding */
        "  mov %rax, 0(%r12)\n  mov %rcx, 8(%r12)\n  mov %rdx, 16(%r12)\n  mov %rsi, 24(%r12)\n"
        "  mov %rdi, 32(%r12)\n  mov %r8, 40(%r12)\n  mov %r9, 48(%r12)\n  mov %r10, 56(%r12)\n"
        "  vmovdqu %ymm0, 0(%r13)\n  vmovdqu %ymm1, 32(%r13)\n  vmovdqu %ymm2, 64(%r13)\n"
        "  vmovdqu %ymm3, 96(%r13)\n  vmovdqu %ymm4, 128(%r13)\n  vmovdqu %ymm5, 160(%r13)\n"
        "  vmovdqu %ymm6, 192(%r13)\n  vmovdqu %ymm7, 224(%r13)\n  vmovdqu %ymm8, 256(%r13)\n"
        "  vmovdqu %ymm9, 288(%r13)\n  vmovdqu %ymm10, 320(%r13)\n  vmovdqu %ymm11, 352(%r13)\n"
        "  vmovdqu %ymm12, 384(%r13)\n  vmovdqu %ymm13, 416(%r13)\n  vmovdqu %ymm14, 448(%r13)\n"
        "  vmovdqu %ymm15, 480(%r13)\n"
        "  test %r14, %r14\n  jz 2f\n"
        "  vmovdqu64 %zmm16, 512(%r13)\n  vmovdqu64 %zmm17, 576(%r13)\n  vmovdqu64 %zmm18, 640(%r13)\n"
        "  vmovdqu64 %zmm19, 704(%r13)\n  vmovdqu64 %zmm20, 768(%r13)\n  vmovdqu64 %zmm21, 832(%r13)\n"
        "  vmovdqu64 %zmm22, 896(%r13)\n  vmovdqu64 %zmm23, 960(%r13)\n  vmovdqu64 %zmm24, 1024(%r13)\n"
        "  vmovdqu64 %zmm25, 1088(%r13)\n  vmovdqu64 %zmm26, 1152(%r13)\n  vmovdqu64 %zmm27, 1216(%r13)\n"
        "  vmovdqu64 %zmm28, 1280(%r13)\n  vmovdqu64 %zmm29, 1344(%r13)\n  vmovdqu64 %zmm30, 1408(%r13)\n"
        "  vmovdqu64 %zmm31, 1472(%r13)\n"
        "2:\n"
        "  vzeroupper\n"
        "  add $8, %rsp\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
        "  ret\n"
        ".size run_regs, .-run_regs\n");
void run_regs(const uint64_t *gin, uint64_t *gout, const void *vin, void *vout, long avx512);

/* Fills every caller-saved register with junk (what another thread's code
 * may leave there). */
__asm__(".text\n"
        ".globl clobber_regs\n"
        ".type clobber_regs,@function\n"
        "clobber_regs:\n"
        "  mov $-1, %rax\n  mov %rax, %rcx\n  mov %rax, %rdx\n  mov %rax, %rsi\n  mov %rax, %r8\n"
        "  mov %rax, %r9\n  mov %rax, %r10\n  mov %rax, %r11\n"
        "  vpcmpeqd %ymm0, %ymm0, %ymm0\n  vmovdqa %ymm0, %ymm1\n  vmovdqa %ymm0, %ymm2\n"
        "  vmovdqa %ymm0, %ymm3\n  vmovdqa %ymm0, %ymm4\n  vmovdqa %ymm0, %ymm5\n  vmovdqa %ymm0, %ymm6\n"
        "  vmovdqa %ymm0, %ymm7\n  vmovdqa %ymm0, %ymm8\n  vmovdqa %ymm0, %ymm9\n  vmovdqa %ymm0, %ymm10\n"
        "  vmovdqa %ymm0, %ymm11\n  vmovdqa %ymm0, %ymm12\n  vmovdqa %ymm0, %ymm13\n  vmovdqa %ymm0, %ymm14\n"
        "  vmovdqa %ymm0, %ymm15\n"
        "  test %rdi, %rdi\n  jz 1f\n"
        "  vpternlogd $0xff, %zmm16, %zmm16, %zmm16\n  vmovdqa64 %zmm16, %zmm17\n  vmovdqa64 %zmm16, %zmm18\n"
        "  vmovdqa64 %zmm16, %zmm19\n  vmovdqa64 %zmm16, %zmm20\n  vmovdqa64 %zmm16, %zmm21\n"
        "  vmovdqa64 %zmm16, %zmm22\n  vmovdqa64 %zmm16, %zmm23\n  vmovdqa64 %zmm16, %zmm24\n"
        "  vmovdqa64 %zmm16, %zmm25\n  vmovdqa64 %zmm16, %zmm26\n  vmovdqa64 %zmm16, %zmm27\n"
        "  vmovdqa64 %zmm16, %zmm28\n  vmovdqa64 %zmm16, %zmm29\n  vmovdqa64 %zmm16, %zmm30\n"
        "  vmovdqa64 %zmm16, %zmm31\n"
        "1:\n"
        "  vzeroupper\n"
        "  mov $-1, %rdi\n"
        "  ret\n"
        ".size clobber_regs, .-clobber_regs\n");
void clobber_regs(long avx512);

static int have_avx512;
static volatile int other_ran;

static void *clobberer(void *arg)
{
    (void)arg;
    clobber_regs(have_avx512);
    other_ran = 1;
    return NULL;
}

#define VEC_BYTES (512 + 16 * 64)

static void fill(unsigned char *v, uint64_t *g, unsigned seed)
{
    for (int i = 0; i < VEC_BYTES; i++)
        v[i] = (unsigned char)(i * 7 + seed);
    for (int i = 0; i < 8; i++)
        g[i] = 0x0101010101010101ull * (uint64_t)(i + 1) + seed;
}

/* The loop yield point's call, with a request: the clobberer runs in
 * between (so the thread did yield), and every register comes back. */
static void *registers_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    static unsigned char vin[VEC_BYTES], vout[VEC_BYTES];
    uint64_t gin[8], gout[8];
    for (unsigned round = 0; round < 3; round++) {
        fill(vin, gin, round);
        memset(vout, 0, sizeof vout);
        memset(gout, 0, sizeof gout);
        other_ran = 0;
        capri_t other = spawn(clobberer, NULL);
        uintptr_t limit = limit_read();
        limit_request_preempt(self->sched);
        CHECK_EQ(limit_read(), LIMIT_PREEMPT);
        run_regs(gin, gout, vin, vout, have_avx512);
        for (int i = 0; i < 8; i++)
            if (gin[i] != gout[i])
                fprintf(stderr, "  round %u, register %d: %#llx, was %#llx\n", round, i,
                        (unsigned long long)gout[i], (unsigned long long)gin[i]);
        CHECK_EQ(other_ran, 1); /* it yielded */
        CHECK_EQ(memcmp(gin, gout, sizeof gin), 0);
        CHECK_EQ(memcmp(vin, vout, have_avx512 ? VEC_BYTES : 512), 0);
        CHECK_EQ(limit_read(), limit);
        CHECK_EQ(self->preempt, 0);
        join(other);
    }
    /* Without a request (a spurious call): nothing changes, nobody runs. */
    fill(vin, gin, 9);
    other_ran = 0;
    capri_t other = spawn(clobberer, NULL);
    run_regs(gin, gout, vin, vout, have_avx512);
    for (int i = 0; i < 8; i++)
        if (gin[i] != gout[i])
            fprintf(stderr, "  register %d: %#llx, was %#llx\n", i, (unsigned long long)gout[i],
                    (unsigned long long)gin[i]);
    CHECK_EQ(memcmp(gin, gout, sizeof gin), 0);
    CHECK_EQ(memcmp(vin, vout, have_avx512 ? VEC_BYTES : 512), 0);
    CHECK_EQ(other_ran, 0);
    join(other);
    return NULL;
}

static void test_registers(void) { join(spawn(registers_body, NULL)); }

/* ---- pthread locks --------------------------------------------------------------- */

static void loop_point(void)
{
    static unsigned char v[VEC_BYTES], w[VEC_BYTES];
    uint64_t g[8] = {0}, h[8];
    run_regs(g, h, v, w, 0);
}

struct thunk_block {
    int other_ran_before;
};

static void note_thunk(void *p) { ((struct thunk_block *)p)->other_ran_before = other_ran; }

static void *locks_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_spinlock_t sl;
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_spin_init(&sl, PTHREAD_PROCESS_PRIVATE);
    uintptr_t limit = limit_read();

    /* Counting. */
    CHECK_EQ(self->plocks, 0);
    pthread_mutex_lock(&m);
    CHECK_EQ(self->plocks, 1);
    CHECK_EQ(pthread_mutex_trylock(&m), EBUSY); /* a failed try counts nothing */
    CHECK_EQ(self->plocks, 1);
    pthread_spin_lock(&sl);
    pthread_rwlock_rdlock(&rw);
    CHECK_EQ(self->plocks, 3);
    pthread_rwlock_unlock(&rw);
    pthread_spin_unlock(&sl);
    CHECK_EQ(self->plocks, 1);

    /* A request while one is held: the loop yield point does not yield. */
    other_ran = 0;
    capri_t other = spawn(clobberer, NULL);
    limit_request_preempt(self->sched);
    loop_point();
    CHECK_EQ(other_ran, 0);
    CHECK_EQ(self->preempt, 1); /* it waits */
    CHECK_EQ(limit_read(), limit);
    /* Nor a checkpoint whose request arrives then. */
    limit_write(LIMIT_PREEMPT);
    struct thunk_block b = {-1};
    __morestack(note_thunk, &b, 256);
    CHECK_EQ(b.other_ran_before, 0);
    CHECK_EQ(limit_read(), limit);
    /* The last unlock puts the request back for the next check. */
    pthread_mutex_unlock(&m);
    CHECK_EQ(self->plocks, 0);
    CHECK_EQ(limit_read(), LIMIT_PREEMPT);
    loop_point();
    CHECK_EQ(other_ran, 1);
    CHECK_EQ(self->preempt, 0);
    CHECK_EQ(limit_read(), limit);
    join(other);

    /* With the lock taken by a try and by a write lock, likewise. */
    CHECK_EQ(pthread_mutex_trylock(&m), 0);
    CHECK_EQ(pthread_rwlock_wrlock(&rw), 0);
    CHECK_EQ(self->plocks, 2);
    other_ran = 0;
    other = spawn(clobberer, NULL);
    limit_request_preempt(self->sched);
    loop_point();
    CHECK_EQ(other_ran, 0);
    pthread_rwlock_unlock(&rw);
    CHECK_EQ(limit_read(), limit); /* one is still held */
    pthread_mutex_unlock(&m);
    CHECK_EQ(limit_read(), LIMIT_PREEMPT);
    loop_point();
    CHECK_EQ(other_ran, 1);
    join(other);
    pthread_spin_destroy(&sl);
    return NULL;
}

static void test_locks(void) { join(spawn(locks_body, NULL)); }

/* ---- the preempted queue ---------------------------------------------------------- */

static char order[8];
static int order_n;

static void *mark_body(void *arg)
{
    order[order_n++] = (char)(uintptr_t)arg;
    return NULL;
}

static void *queue_body(void *arg)
{
    (void)arg;
    struct capri_thread *self = thread_current();
    order_n = 0;
    capri_t c = spawn(mark_body, (void *)(uintptr_t)'c');
    capri_t d = spawn(mark_body, (void *)(uintptr_t)'d');
    limit_request_preempt(self->sched);
    loop_point();
    order[order_n++] = 'a';
    order[order_n] = 0;
    CHECK_EQ(strcmp(order, "cda"), 0);
    join(c);
    join(d);

    /* A request made for a run that ended is gone after the switch: the
     * thread parks (a sleep) before any check. */
    limit_request_preempt(self->sched);
    capri_sleep_ns(1000000);
    CHECK_EQ(self->preempt, 0);
    CHECK_EQ(limit_read(), self->limit);
    return NULL;
}

static void test_queue(void) { join(spawn(queue_body, NULL)); }

int main(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    capri_config(CAPRI_CONFIG_TIME_SLICE_US, 0);
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) {
        printf("SKIP: no AVX\n");
        return 0;
    }
    have_avx512 = __builtin_cpu_supports("avx512f");
    capri_self();
    RUN(test_registers);
    RUN(test_locks);
    RUN(test_queue);
    return test_summary("test_preempt");
}
