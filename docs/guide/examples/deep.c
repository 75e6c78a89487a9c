/* A thread whose recursion needs 200 frames of 3,900 bytes: its stack grows
 * at the checkpoint on each call. limits.md breaks its bounds on purpose. */
#include <capri.h>
#include <stdint.h>
#include <stdio.h>

long recurse(long n)
{
    volatile char frame[3900];
    frame[0] = (char)n;
    frame[sizeof frame - 1] = (char)n;
    if (n == 0)
        return 0;
    return recurse(n - 1) + 1 + (frame[n % sizeof frame] & 0);
}

static void *run(void *arg) { return (void *)recurse((intptr_t)arg); }

int main(void)
{
    capri_attr_t attr = {.name = "deep"};
    capri_t t;
    void *result;
    if (capri_spawn(&t, run, (void *)200, &attr) || capri_join(t, &result))
        return 1;
    printf("result %ld\n", (long)(intptr_t)result);
    return 0;
}
