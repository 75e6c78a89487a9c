/*
 * Small helpers every part of capri-stack uses: allocation that cannot
 * return NULL, growable arrays, little-endian loads from file buffers, size
 * arguments, and diagnostics.
 */
#ifndef CAPRI_STACK_UTIL_H
#define CAPRI_STACK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CAPRI_STACK_VERSION "0.1.0"

/* Exit codes of the tool. */
enum {
    EXIT_CLEAN = 0,    /* no selected finding */
    EXIT_FINDINGS = 1, /* a finding selected with --fail-on (or an underestimate in verify) */
    EXIT_BAD_INPUT = 2 /* bad usage or an input capri-stack cannot read */
};

/* Out of memory is fatal: capri-stack has nothing sensible to fall back to. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Grow *items so it holds at least `need` elements of `size` bytes; *cap
 * tracks the allocation. Doubling keeps appends amortised O(1).
 */
void grow(void *items, size_t *cap, size_t need, size_t size);
#define GROW(arr, cap, need) grow(&(arr), &(cap), (need), sizeof *(arr))

/* Loads from byte buffers that promise no alignment. */
static inline uint16_t le16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

/* Does [offset, offset+len) fit in size bytes? Written so nothing can wrap. */
static inline int in_bounds(uint64_t offset, uint64_t len, uint64_t size)
{
    return offset <= size && len <= size - offset;
}

/* Saturating arithmetic for stack figures: overflow means "too large to matter". */
static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}
static inline uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

/* Parse "4096", "64K", "2M" (K and M are 1024-based). Returns 0 on success. */
int parse_size(const char *text, uint64_t *out);

/* qsort that accepts an empty (possibly NULL) array, which qsort itself does not. */
void sort_array(void *items, size_t count, size_t size, int (*cmp)(const void *, const void *));

/* FNV-1a, for the hash tables. */
uint64_t hash_bytes(const void *data, size_t len);

/* Diagnostics on stderr, prefixed "capri-stack: ". Quiet mode (the fuzzers) drops warnings. */
extern int diag_quiet;
/* A bounded list of names for a message: "lead a, b, c and N more". */
struct name_list {
    char text[512];
    size_t len;   /* bytes used in text */
    size_t shown; /* names in text */
    size_t max;   /* names to show at most */
    const char *lead;
};
void name_list_init(struct name_list *l, size_t max, const char *lead);
void name_list_add(struct name_list *l, const char *name);
/* Appends " and N more" when total exceeds the names shown. */
void name_list_finish(struct name_list *l, size_t total);

void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * An error message being returned up the call chain. Readers fill it and
 * return -1; main prints it and exits 2.
 */
struct error {
    char text[4096];
};
int errorf(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
