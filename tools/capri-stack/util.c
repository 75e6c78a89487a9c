#include "util.h"

#include <stdio.h>
#include <stdlib.h>

int diag_quiet;

static void out_of_memory(void)
{
    fputs("capri-stack: out of memory\n", stderr);
    exit(EXIT_BAD_INPUT);
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory();
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            out_of_memory();
        n *= 2;
    }
    void **p = items;
    *p = xrealloc(*p, n * size);
    *cap = n;
}

int parse_size(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    uint64_t unit = 1;
    if (*p == 'K' || *p == 'k')
        unit = 1024, p++;
    else if (*p == 'M' || *p == 'm')
        unit = 1024 * 1024, p++;
    if (*p != '\0' || (v != 0 && unit > UINT64_MAX / v))
        return -1;
    *out = v * unit;
    return 0;
}

void sort_array(void *items, size_t count, size_t size, int (*cmp)(const void *, const void *))
{
    if (count > 1)
        qsort(items, count, size, cmp);
}

uint64_t hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void warnf(const char *fmt, ...)
{
    if (diag_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("capri-stack: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int errorf(struct error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return -1;
}

void name_list_init(struct name_list *l, size_t max, const char *lead)
{
    l->text[0] = '\0';
    l->len = 0;
    l->shown = 0;
    l->max = max;
    l->lead = lead;
}

void name_list_add(struct name_list *l, const char *name)
{
    if (l->shown >= l->max)
        return;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s%s",
                     l->shown ? ", " : l->lead, name);
    if (n < 0 || (size_t)n >= sizeof l->text - l->len) {
        l->text[l->len] = '\0'; /* drop a name that does not fit whole */
        l->max = l->shown;
        return;
    }
    l->len += (size_t)n;
    l->shown++;
}

void name_list_finish(struct name_list *l, size_t total)
{
    if (total > l->shown && l->len < sizeof l->text)
        snprintf(l->text + l->len, sizeof l->text - l->len, " and %zu more", total - l->shown);
}
