/*
 * Two small open-addressing hash maps: symbol names (within a scope) to
 * indices, and 64-bit keys to indices. Keys are not copied: names must
 * outlive the map (they point into metadata records).
 */
#ifndef CAPRI_STACK_MAP_H
#define CAPRI_STACK_MAP_H

#include <stddef.h>
#include <stdint.h>

#define MAP_MISSING UINT32_MAX

/* Scope of a global name; otherwise the scope is a record index (static functions). */
#define SCOPE_GLOBAL UINT32_MAX

struct strmap_entry {
    const char *name; /* NULL: empty slot */
    uint64_t hash;
    uint32_t scope;
    uint32_t value;
};

struct strmap {
    struct strmap_entry *slots;
    size_t cap, count;
};

uint32_t strmap_get(const struct strmap *m, uint32_t scope, const char *name);
/* Insert or overwrite. */
void strmap_put(struct strmap *m, uint32_t scope, const char *name, uint32_t value);
void strmap_free(struct strmap *m);

struct idmap_entry {
    uint64_t key;
    uint32_t value; /* MAP_MISSING: empty slot */
};

struct idmap {
    struct idmap_entry *slots;
    size_t cap, count;
};

uint32_t idmap_get(const struct idmap *m, uint64_t key);
void idmap_put(struct idmap *m, uint64_t key, uint32_t value);
void idmap_free(struct idmap *m);

#endif
