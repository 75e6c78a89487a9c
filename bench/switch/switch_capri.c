/*
 * Two contexts alternating through capri_arch_switch: ns per switch.
 *
 * Both contexts run the same function, so every switch is called from the
 * same place, as in the runtime (threads suspend through the same calls):
 * the switch's `ret` then finds its return predicted. Given a second
 * argument "jump", it measures capri_arch_switch_jump instead (the ending
 * used for a context's first start and an ending thread's last switch).
 */
#include "arch/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *main_sp, *sp[2];
static long rounds;
static int use_jump;

static void body(void *prev, void *x, void *y)
{
    (void)prev, (void)y;
    long me = (long)x, other = 1 - me;
    for (long i = 0; i < rounds; i++) {
        if (use_jump)
            capri_arch_switch_jump(&sp[me], sp[other], NULL);
        else
            capri_arch_switch(&sp[me], sp[other], NULL);
    }
    if (me == 0)
        capri_arch_switch_jump(&sp[me], main_sp, NULL);
    capri_arch_switch_jump(&sp[me], sp[other], NULL); /* let the other finish */
    abort();
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 10000000;
    use_jump = argc > 2 && strcmp(argv[2], "jump") == 0;
    enum { STACK = 64 * 1024 };
    capri_arch_init();
    sp[0] = capri_arch_prepare((char *)malloc(STACK) + STACK, body, (void *)0L, NULL);
    sp[1] = capri_arch_prepare((char *)malloc(STACK) + STACK, body, (void *)1L, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    capri_arch_switch_jump(&main_sp, sp[0], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    printf("%.2f\n", ns / (2.0 * rounds)); /* two switches per round */
    return 0;
}
