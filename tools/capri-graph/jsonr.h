/*
 * A small JSON reader for capri-graph: the whole document becomes a tree
 * of values. Enough for the blocking-graph dump (objects, arrays, strings,
 * numbers, true/false/null), strict about syntax, with no limit but memory.
 */
#ifndef CAPRI_GRAPH_JSONR_H
#define CAPRI_GRAPH_JSONR_H

#include <stddef.h>

enum jv_kind { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv {
    enum jv_kind kind;
    double number;          /* JV_NUMBER, JV_BOOL (0 or 1) */
    char *string;           /* JV_STRING (NUL-terminated, unescaped) */
    struct jv *items;       /* JV_ARRAY, JV_OBJECT: the values */
    char **keys;            /* JV_OBJECT: the members' names */
    size_t count;
};

/* Parses text; NULL with a message in err on a syntax error. */
struct jv *jv_parse(const char *text, char *err, size_t errlen);
void jv_free(struct jv *v);

/* A member of an object, or NULL. */
const struct jv *jv_get(const struct jv *obj, const char *key);
/* A member's string ("" when absent or not a string) and number (0). */
const char *jv_str(const struct jv *obj, const char *key);
double jv_num(const struct jv *obj, const char *key);

#endif
