/*
 * The architecture's context switch: what a context keeps across switches
 * (callee-saved registers, errno, the floating-point control words, the
 * stack-limit word at %fs:0x70) and what the resumed side learns (prev).
 */
#include "arch/arch.h"
#include "test.h"

#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>

static void *main_sp, *a_sp, *b_sp;
/* Distinct addresses that name who switched. */
static char tag_main, tag_a, tag_b, tag_a_done, tag_arg;
static void *a_prev_seen, *b_prev_seen;
static int a_errno_kept, b_errno_kept, a_round_kept, b_round_kept, limit_kept;
static uint64_t a_sum, b_sum;

static uint64_t read_limit(void)
{
    uint64_t v;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
    return v;
}

static void write_limit(uint64_t v)
{
    __asm__ volatile("movq %0, %%fs:0x70" : : "r"(v) : "memory");
}

enum { ROUNDS = 1000 };

/* Each context keeps values in locals across every switch (callee-saved
 * registers at -O2), sets its own errno, rounding mode and limit word, and
 * checks them after every switch. */
static void context_a(void *prev, void *x, void *y)
{
    (void)x;
    (void)y;
    a_prev_seen = prev;
    errno = 11;
    fesetround(FE_UPWARD);
    write_limit(0xa000);
    a_errno_kept = a_round_kept = limit_kept = 1;
    uint64_t s = 0, t = 1;
    for (int i = 0; i < ROUNDS; i++) {
        s += (uint64_t)i * 3;
        t ^= s << 1;
        void *from = capri_arch_switch(&a_sp, b_sp, (void *)&tag_a);
        if (from != (void *)&tag_b)
            a_prev_seen = NULL;
        a_errno_kept &= errno == 11;
        a_round_kept &= fegetround() == FE_UPWARD;
        limit_kept &= read_limit() == 0xa000;
    }
    a_sum = s ^ t;
    capri_arch_switch(&a_sp, main_sp, (void *)&tag_a_done);
    abort(); /* never resumed */
}

static void context_b(void *prev, void *x, void *y)
{
    (void)x;
    (void)y;
    b_prev_seen = prev;
    errno = 22;
    fesetround(FE_TOWARDZERO);
    write_limit(0xb000);
    b_errno_kept = b_round_kept = 1;
    uint64_t s = 7, t = 9;
    for (;;) {
        s = s * 31 + 1;
        t += s >> 3;
        b_sum = s + t;
        void *from = capri_arch_switch(&b_sp, a_sp, (void *)&tag_b);
        if (from != (void *)&tag_a)
            b_prev_seen = NULL;
        b_errno_kept &= errno == 22;
        b_round_kept &= fegetround() == FE_TOWARDZERO;
        limit_kept &= read_limit() == 0xb000;
    }
}

static void test_ping_pong(void)
{
    enum { STACK = 64 * 1024 };
    char *stack_a = malloc(STACK), *stack_b = malloc(STACK);
    a_sp = capri_arch_prepare(stack_a + STACK, context_a, NULL, NULL);
    b_sp = capri_arch_prepare(stack_b + STACK, context_b, NULL, NULL);

    errno = 33;
    write_limit(0);
    int round = fegetround();
    void *from = capri_arch_switch(&main_sp, a_sp, (void *)&tag_main);

    CHECK(from == (void *)&tag_a_done);
    CHECK(a_prev_seen == (void *)&tag_main);
    CHECK(b_prev_seen == (void *)&tag_a);
    CHECK(a_errno_kept && b_errno_kept);
    CHECK(a_round_kept && b_round_kept);
    CHECK(limit_kept);
    /* The main context got its own state back. */
    CHECK_EQ(errno, 33);
    CHECK(fegetround() == round);
    CHECK_EQ(read_limit(), 0);
    /* The loops computed what they compute without switching. */
    uint64_t s = 0, t = 1;
    for (int i = 0; i < ROUNDS; i++) {
        s += (uint64_t)i * 3;
        t ^= s << 1;
    }
    CHECK_EQ(a_sum, s ^ t);
    CHECK(b_sum != 0);
    free(stack_a);
    free(stack_b);
}

/* A new context starts 16-byte aligned as the ABI wants (an SSE spill of a
 * misaligned frame would fault), with errno 0, limit 0, default rounding. */
static int fresh_ok;
static void fresh(void *prev, void *x, void *y)
{
    (void)y;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    fresh_ok = (here % 16) == 0 && errno == 0 && read_limit() == 0 &&
               fegetround() == FE_TONEAREST && x == (void *)&tag_arg;
    capri_arch_switch(&a_sp, main_sp, prev);
    abort();
}

static void test_fresh_context(void)
{
    enum { STACK = 16 * 1024 };
    char *stack = malloc(STACK);
    errno = 5;
    void *sp = capri_arch_prepare(stack + STACK - 8, fresh, (void *)&tag_arg, NULL);
    void *back = capri_arch_switch(&main_sp, sp, (void *)&tag_main);
    CHECK(back == (void *)&tag_main);
    CHECK(fresh_ok);
    CHECK_EQ(errno, 5);
    free(stack);
}

int main(void)
{
    capri_arch_init();
    RUN(test_ping_pong);
    RUN(test_fresh_context);
    return test_summary("test_switch");
}
