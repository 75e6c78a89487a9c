#include "server.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_kind(const void *a, const void *b) /* handed to qsort: a root */
{
    const struct request *x = a, *y = b;
    return x->kind - y->kind;
}

static int helper(int x) { return x * 3; } /* also a static "helper" in handlers.c */

int main(int argc, char **argv)
{
    struct request reqs[3] = { { 2, argc, "a b" }, { 0, 1, "c" }, { 1, 2, "d e f" } };
    qsort(reqs, 3, sizeof reqs[0], by_kind);
    int total = 0;
    for (int i = 0; i < 3; i++)
        total += handlers[reqs[i].kind](&reqs[i]);
    total += eval(argc);
    printf("%d %d\n", total, helper(argc));
    (void)argv;
    return 0;
}
