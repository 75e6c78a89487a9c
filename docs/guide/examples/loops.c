/* Loop yield points: build with -Rpass=capri-loop-yield to see them. */
#include <stdio.h>
#include <stdlib.h>

static long total(const long *a, long n) /* counted, no calls */
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += a[i];
    return s;
}

static long steps(long x) /* trip count unknown */
{
    long k = 0;
    while (x != 1) {
        x = x % 2 ? 3 * x + 1 : x / 2;
        k++;
    }
    return k;
}

static void fill(long *a, long n) /* a call on every iteration */
{
    for (long i = 0; i < n; i++)
        a[i] = random() % 1000 + 1;
}

int main(void)
{
    static long a[100000];
    fill(a, 100000);
    printf("%ld %ld\n", total(a, 100000), steps(a[0] + 26));
    return 0;
}
