#include "server.h"
#include <capri.h>
#include <string.h>

const handler_fn handlers[3] = { handle_get, handle_put, handle_tree };

static int helper(int x) { return x + 1; }

int handle_get(struct request *r)
{
    char copy[256];
    strncpy(copy, r->text, sizeof copy - 1);
    copy[sizeof copy - 1] = 0;
    return count_words(copy) + helper(r->kind);
}

int handle_put(struct request *r)
{
    char buf[r->depth + 16]; /* a VLA: the frame has no static bound */
    memset(buf, 'x', sizeof buf);
    return buf[r->depth] + helper(r->kind);
}

int handle_tree(struct request *r)
{
    return walk_tree(r->depth);
}

CAPRI_RECURSION_BOUND(16) int walk_tree(int depth)
{
    volatile char node[48];
    node[0] = (char)depth;
    return depth <= 0 ? node[0] : walk_tree(depth - 1) + walk_tree(depth - 2);
}

int count_words(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == ' ';
    return n + 1;
}
