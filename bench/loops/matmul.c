/*
 * matmul.c N: C = A * B for N x N matrices of doubles, the naive i-k-j
 * triple loop (the inner loop runs over a row of B and C, and vectorises);
 * prints a checksum of C.
 */
#include <stdio.h>
#include <stdlib.h>

static void matmul(int n, const double *a, const double *b, double *c)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double aik = a[(long)i * n + k];
            for (int j = 0; j < n; j++)
                c[(long)i * n + j] += aik * b[(long)k * n + j];
        }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 0 || n > 4096) {
        fprintf(stderr, "usage: matmul N (0..4096)\n");
        return 2;
    }
    size_t cells = (size_t)n * (size_t)n;
    double *a = malloc(cells * sizeof *a + 1), *b = malloc(cells * sizeof *b + 1);
    double *c = calloc(cells + 1, sizeof *c);
    if (!a || !b || !c)
        return 1;
    for (size_t i = 0; i < cells; i++) {
        a[i] = (double)(i % 7) - 3.0;
        b[i] = (double)(i % 5) * 0.5;
    }
    matmul(n, a, b, c);
    double sum = 0;
    for (size_t i = 0; i < cells; i++)
        sum += c[i];
    printf("matmul(%d) = %.1f\n", n, sum);
    free(a);
    free(b);
    free(c);
    return 0;
}
