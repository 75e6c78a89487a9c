/*
 * array_sum.c R: sums an array of 64 Ki longs (512 KiB, in the L2 cache)
 * R times, the tightest loop there is (it vectorises); prints the total.
 * The worst case for a check per iteration.
 */
#include <stdio.h>
#include <stdlib.h>

#define N (64 * 1024)

static long sum(const long *a, long n)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += a[i];
    return s;
}

int main(int argc, char **argv)
{
    long r = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (r < 0) {
        fprintf(stderr, "usage: array_sum R (>= 0)\n");
        return 2;
    }
    long *a = malloc(N * sizeof *a);
    if (!a)
        return 1;
    for (long i = 0; i < N; i++)
        a[i] = i % 1000;
    long total = 0;
    for (long k = 0; k < r; k++) {
        total += sum(a, N);
        __asm__ volatile("" ::: "memory"); /* one real pass per round */
    }
    printf("array_sum(%ld) = %ld\n", r, total);
    free(a);
    return 0;
}
