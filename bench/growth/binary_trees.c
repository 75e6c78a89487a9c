/*
 * binary_trees.c DEPTH: the binary-trees benchmark.
 *
 * Builds complete binary trees of many depths with malloc, walks each to
 * compute a check sum (its node count), and frees it: first a "stretch"
 * tree one level deeper than DEPTH, then a long-lived tree of DEPTH that
 * stays allocated throughout, then for every even depth d from 4 up to
 * DEPTH, 2^(DEPTH - d + 4) trees of depth d. Recursion is shallow (at most
 * DEPTH + 2 frames) but every node costs a recursive call to build, to
 * check and to free, with a malloc or free call inside. DEPTH 0 does
 * nothing (a run that measures start-up alone).
 */
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *left;
    struct node *right;
};

static struct node *tree_make(int depth)
{
    struct node *n = malloc(sizeof *n);
    if (!n) {
        perror("malloc");
        exit(1);
    }
    if (depth > 0) {
        n->left = tree_make(depth - 1);
        n->right = tree_make(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long tree_check(const struct node *n)
{
    if (!n->left)
        return 1;
    return 1 + tree_check(n->left) + tree_check(n->right);
}

static void tree_free(struct node *n)
{
    if (n->left) {
        tree_free(n->left);
        tree_free(n->right);
    }
    free(n);
}

enum { MIN_DEPTH = 4 };

int main(int argc, char **argv)
{
    int max_depth = argc > 1 ? atoi(argv[1]) : 16;
    if (argc > 1 && max_depth == 0)
        return 0;
    if (max_depth < MIN_DEPTH + 2)
        max_depth = MIN_DEPTH + 2;
    if (max_depth > 30) {
        fprintf(stderr, "usage: binary_trees DEPTH (at most 30)\n");
        return 2;
    }

    struct node *stretch = tree_make(max_depth + 1);
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, tree_check(stretch));
    tree_free(stretch);

    struct node *long_lived = tree_make(max_depth);

    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + MIN_DEPTH);
        long check = 0;
        for (long i = 0; i < iterations; i++) {
            struct node *t = tree_make(d);
            check += tree_check(t);
            tree_free(t);
        }
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
    }

    printf("long lived tree of depth %d\t check: %ld\n", max_depth, tree_check(long_lived));
    tree_free(long_lived);
    return 0;
}
