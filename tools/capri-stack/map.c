#include "map.h"
#include "util.h"

#include <stdlib.h>

static uint64_t name_hash(uint32_t scope, const char *name)
{
    return hash_bytes(name, strlen(name)) ^ ((uint64_t)scope * 0x9e3779b97f4a7c15ull);
}

static size_t strmap_find(const struct strmap *m, uint64_t hash, uint32_t scope,
                          const char *name)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        const struct strmap_entry *e = &m->slots[i];
        if (!e->name || (e->hash == hash && e->scope == scope && strcmp(e->name, name) == 0))
            return i;
    }
}

uint32_t strmap_get(const struct strmap *m, uint32_t scope, const char *name)
{
    if (m->cap == 0)
        return MAP_MISSING;
    const struct strmap_entry *e = &m->slots[strmap_find(m, name_hash(scope, name), scope, name)];
    return e->name ? e->value : MAP_MISSING;
}

static void strmap_rehash(struct strmap *m)
{
    struct strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        const struct strmap_entry *e = &old.slots[i];
        if (e->name)
            m->slots[strmap_find(m, e->hash, e->scope, e->name)] = *e;
    }
    free(old.slots);
}

void strmap_put(struct strmap *m, uint32_t scope, const char *name, uint32_t value)
{
    if ((m->count + 1) * 2 > m->cap)
        strmap_rehash(m);
    uint64_t hash = name_hash(scope, name);
    struct strmap_entry *e = &m->slots[strmap_find(m, hash, scope, name)];
    if (!e->name)
        m->count++;
    *e = (struct strmap_entry){ name, hash, scope, value };
}

void strmap_free(struct strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t idmap_find(const struct idmap *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    uint64_t h = hash_bytes(&key, sizeof key);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const struct idmap_entry *e = &m->slots[i];
        if (e->value == MAP_MISSING || e->key == key)
            return i;
    }
}

uint32_t idmap_get(const struct idmap *m, uint64_t key)
{
    if (m->cap == 0)
        return MAP_MISSING;
    return m->slots[idmap_find(m, key)].value;
}

static void idmap_rehash(struct idmap *m)
{
    struct idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->slots = xmalloc(m->cap * sizeof *m->slots);
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i] = (struct idmap_entry){ 0, MAP_MISSING };
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].value != MAP_MISSING)
            m->slots[idmap_find(m, old.slots[i].key)] = old.slots[i];
    free(old.slots);
}

void idmap_put(struct idmap *m, uint64_t key, uint32_t value)
{
    if ((m->count + 1) * 2 > m->cap)
        idmap_rehash(m);
    struct idmap_entry *e = &m->slots[idmap_find(m, key)];
    if (e->value == MAP_MISSING)
        m->count++;
    *e = (struct idmap_entry){ key, value };
}

void idmap_free(struct idmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
