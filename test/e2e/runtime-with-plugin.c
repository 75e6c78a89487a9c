// A program built with the plugin and linked with libcapri: every module's
// constructor registers its metadata record, the runtime validates them at
// start-up, and the threads run.
// RUN: %capri-cc -O1 -c %s -o %t.o
// RUN: %capri-cc -O1 -DSECOND -c %s -o %t2.o
// RUN: %capri-cc %t.o %t2.o %capri-rt-link -o %t
// RUN: %t | FileCheck %s
// CHECK: sum 4950
// CHECK: done

#include <capri.h>
#include <stdint.h>
#include <stdio.h>

#ifdef SECOND
void *add_range(void *arg)
{
    intptr_t n = (intptr_t)arg, s = 0;
    for (intptr_t i = 0; i < n; i++) {
        s += i;
        if (i % 10 == 0)
            capri_yield();
    }
    return (void *)s;
}
#else
void *add_range(void *arg);

int main(void)
{
    capri_t t;
    void *r;
    if (capri_spawn(&t, add_range, (void *)100, NULL) != 0 || capri_join(t, &r) != 0)
        return 1;
    printf("sum %ld\n", (long)(intptr_t)r);
    printf("done\n");
    return 0;
}
#endif
