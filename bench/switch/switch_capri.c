/* Two contexts alternating through capri_arch_switch: ns per switch. */
#include "arch/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *main_sp, *a_sp, *b_sp;
static long rounds;

static void ping(void *prev, void *x, void *y)
{
    (void)prev, (void)x, (void)y;
    for (long i = 0; i < rounds; i++)
        capri_arch_switch(&a_sp, b_sp, NULL);
    capri_arch_switch(&a_sp, main_sp, NULL);
    abort();
}

static void pong(void *prev, void *x, void *y)
{
    (void)prev, (void)x, (void)y;
    for (;;)
        capri_arch_switch(&b_sp, a_sp, NULL);
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atol(argv[1]) : 10000000;
    enum { STACK = 64 * 1024 };
    capri_arch_init();
    a_sp = capri_arch_prepare((char *)malloc(STACK) + STACK, ping, NULL, NULL);
    b_sp = capri_arch_prepare((char *)malloc(STACK) + STACK, pong, NULL, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    capri_arch_switch(&main_sp, a_sp, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    printf("%.2f\n", ns / (2.0 * rounds)); /* two switches per round */
    return 0;
}
