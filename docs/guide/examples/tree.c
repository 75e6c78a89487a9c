/* The subject of the call-graph picture in analysis.md. */
#include <capri.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct node { struct node *left, *right; long value; };

static long sum(struct node *n) /* unbounded recursion */
{
    return n ? n->value + sum(n->left) + sum(n->right) : 0;
}

CAPRI_RECURSION_BOUND(16) static long depth(struct node *n) /* bounded */
{
    if (!n) return 0;
    long l = depth(n->left), r = depth(n->right);
    return 1 + (l > r ? l : r);
}

static struct node *build(int levels)
{
    struct node *n = calloc(1, sizeof *n);
    n->value = levels;
    if (levels > 1) { n->left = build(levels - 1); n->right = build(levels - 1); }
    return n;
}

static void show(const char *what, long v)
{
    char line[2048]; /* a big frame: MaxPath puts a checkpoint on the call */
    int len = snprintf(line, sizeof line, "%s %ld\n", what, v);
    write(1, line, len);
}

static long (*const measures[])(struct node *) = {sum, depth};

static void *worker(void *arg)
{
    struct node *root = build(10);
    for (int i = 0; i < 2; i++)
        show(i ? "depth" : "sum", measures[i](root)); /* indirect call */
    return arg;
}

int main(void)
{
    capri_t t;
    capri_spawn(&t, worker, NULL, NULL);
    return capri_join(t, NULL);
}
