/*
 * fib.c N: the naive doubly recursive Fibonacci number of N, printed.
 *
 * The worst case for stack checks: every call is a recursive call (a call
 * graph cycle, so a checkpoint for capri and a prologue check for
 * -fsplit-stack), and a call does almost no work besides calling, so the
 * check's fixed cost is the largest share of it anywhere.
 */
#include <stdio.h>
#include <stdlib.h>

long fib(long n)
{
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 30;
    if (n < 0 || n > 90) {
        fprintf(stderr, "usage: fib N (0..90)\n");
        return 2;
    }
    printf("fib(%ld) = %ld\n", n, fib(n));
    return 0;
}
