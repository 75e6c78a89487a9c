/*
 * The JSON reader (jsonr.h): recursive descent over the text, one value at
 * a time. Depth is bounded so a hostile file cannot exhaust the stack.
 */
#include "jsonr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct parser {
    const char *p;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parser *ps, const char *what)
{
    if (!ps->failed)
        snprintf(ps->err, ps->errlen, "%s near \"%.20s\"", what, ps->p);
    ps->failed = 1;
}

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static void *grow(void *a, size_t n, size_t size)
{
    /* Capacity doubles at powers of two: n items fit in the next one. */
    if (n && (n & (n - 1)))
        return a;
    return realloc(a, (n ? 2 * n : 1) * size);
}

static void put_utf8(char **o, unsigned c)
{
    if (c < 0x80) {
        *(*o)++ = (char)c;
    } else if (c < 0x800) {
        *(*o)++ = (char)(0xc0 | (c >> 6));
        *(*o)++ = (char)(0x80 | (c & 0x3f));
    } else {
        *(*o)++ = (char)(0xe0 | (c >> 12));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *(*o)++ = (char)(0x80 | (c & 0x3f));
    }
}

static char *parse_string(struct parser *ps)
{
    if (*ps->p != '"') {
        fail(ps, "expected a string");
        return NULL;
    }
    const char *s = ++ps->p;
    size_t len = 0;
    while (s[len] && s[len] != '"')
        len += s[len] == '\\' && s[len + 1] ? 2 : 1;
    if (!s[len]) {
        fail(ps, "unterminated string");
        return NULL;
    }
    char *out = malloc(len + 1), *o = out;
    if (!out) {
        fail(ps, "out of memory");
        return NULL;
    }
    for (const char *q = s; q < s + len; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned c = 0;
            int k = 0;
            for (; k < 4 && q[1]; k++, q++) {
                char h = q[1];
                c = c * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
            }
            put_utf8(&o, c); /* \u escapes take at most 3 bytes: len allowed 6 */
            break;
        }
        default: *o++ = *q; break;
        }
    }
    *o = 0;
    ps->p = s + len + 1;
    return out;
}

static int parse_value(struct parser *ps, struct jv *v, int depth);

static int parse_container(struct parser *ps, struct jv *v, int depth, int object)
{
    char close = object ? '}' : ']';
    v->kind = object ? JV_OBJECT : JV_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        char *key = NULL;
        if (object) {
            if (!(key = parse_string(ps)))
                return -1;
            skip_ws(ps);
            if (*ps->p != ':') {
                free(key);
                fail(ps, "expected ':'");
                return -1;
            }
            ps->p++;
            char **keys = grow(v->keys, v->count, sizeof *keys);
            if (!keys) {
                free(key);
                fail(ps, "out of memory");
                return -1;
            }
            v->keys = keys;
            v->keys[v->count] = key;
        }
        struct jv *items = grow(v->items, v->count, sizeof *items);
        if (!items) {
            fail(ps, "out of memory");
            if (object)
                free(key);
            return -1;
        }
        v->items = items;
        memset(&v->items[v->count], 0, sizeof *items);
        v->count++;
        if (parse_value(ps, &v->items[v->count - 1], depth + 1) != 0)
            return -1;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        return -1;
    }
}

static int parse_value(struct parser *ps, struct jv *v, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(ps, "nested too deeply");
        return -1;
    }
    skip_ws(ps);
    char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, v, depth, c == '{');
    if (c == '"') {
        v->kind = JV_STRING;
        return (v->string = parse_string(ps)) ? 0 : -1;
    }
    if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
        v->kind = JV_BOOL;
        v->number = c == 't';
        ps->p += c == 't' ? 4 : 5;
        return 0;
    }
    if (strncmp(ps->p, "null", 4) == 0) {
        v->kind = JV_NULL;
        ps->p += 4;
        return 0;
    }
    char *end;
    v->number = strtod(ps->p, &end);
    if (end == ps->p || (c != '-' && (c < '0' || c > '9'))) {
        fail(ps, "expected a value");
        return -1;
    }
    v->kind = JV_NUMBER;
    ps->p = end;
    return 0;
}

static void jv_release(struct jv *v)
{
    for (size_t i = 0; i < v->count; i++) {
        jv_release(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

void jv_free(struct jv *v)
{
    if (v) {
        jv_release(v);
        free(v);
    }
}

struct jv *jv_parse(const char *text, char *err, size_t errlen)
{
    struct parser ps = {text, err, errlen, 0};
    struct jv *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_value(&ps, v, 0) == 0) {
        skip_ws(&ps);
        if (*ps.p)
            fail(&ps, "text after the document");
    }
    if (ps.failed) {
        jv_free(v);
        return NULL;
    }
    return v;
}

const struct jv *jv_get(const struct jv *obj, const char *key)
{
    if (!obj || obj->kind != JV_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

const char *jv_str(const struct jv *obj, const char *key)
{
    const struct jv *v = jv_get(obj, key);
    return v && v->kind == JV_STRING ? v->string : "";
}

double jv_num(const struct jv *obj, const char *key)
{
    const struct jv *v = jv_get(obj, key);
    return v && (v->kind == JV_NUMBER || v->kind == JV_BOOL) ? v->number : 0;
}
