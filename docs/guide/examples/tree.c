/* The subject of the call-graph picture in ../analysis.md. */
#include <capri.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct node { struct node *left, *right; long value; };

static long sum(struct node *n) /* unbounded recursion */
{
    return n ? n->value + sum(n->left) + sum(n->right) : 0;
}

CAPRI_RECURSION_BOUND(16) static long depth(struct node *n) /* declared bound */
{
    if (!n) return 0;
    long l = depth(n->left), r = depth(n->right);
    return 1 + (l > r ? l : r);
}

static struct node *build(int levels) /* unbounded recursion too */
{
    struct node *n = calloc(1, sizeof *n);
    n->value = levels;
    if (levels > 1) { n->left = build(levels - 1); n->right = build(levels - 1); }
    return n;
}

static void show(const char *what, long v)
{
    char line[2048]; /* 2 KiB: more than MaxPath by itself */
    int len = snprintf(line, sizeof line, "%s %ld\n", what, v);
    write(1, line, len);
}

static long (*const measures[])(struct node *) = {sum, depth};
static const char *const names[] = {"sum", "depth"};

static void *worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    show(names[i], measures[i](build(10))); /* an indirect call */
    return NULL;
}

int main(void)
{
    capri_t t[2];
    for (intptr_t i = 0; i < 2; i++)
        capri_spawn(&t[i], worker, (void *)i, NULL);
    for (int i = 0; i < 2; i++)
        capri_join(t[i], NULL);
    return 0;
}
