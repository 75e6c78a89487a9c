/* A small program with the shapes capri-stack must understand: handlers
 * called through a table of function pointers, a callback handed to libc,
 * bounded and unbounded recursion across files, a VLA, a static helper with
 * the same name in two files. */
#ifndef SERVER_H
#define SERVER_H
#include <stddef.h>

struct request {
    int kind;
    int depth;
    const char *text;
};

typedef int (*handler_fn)(struct request *r);

extern const handler_fn handlers[3];
int handle_get(struct request *r);
int handle_put(struct request *r);
int handle_tree(struct request *r);
int walk_tree(int depth);
int count_words(const char *text);
int eval(int depth);
int apply(int depth);
#endif
