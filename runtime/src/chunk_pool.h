/*
 * Stack chunks: one arena reserved once and never unmapped, carved into
 * slabs of one size class each; a guard page under every chunk; free lists
 * per scheduler (chunk_cache) and a shared depot; memory returned to the
 * kernel on a decay. Every chunk has a slot in the slot table, which also
 * holds thread-handle generations: a stale handle or a fault address is
 * always safe to look up.
 *
 * Geometry: class c has (4 KiB << c) usable bytes; its stride in the slab
 * is that plus one 4 KiB guard page *below* the usable part. A chunk is
 * named by its lowest usable address.
 */
#ifndef CAPRI_CHUNK_POOL_H
#define CAPRI_CHUNK_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "capri.h"

#define CHUNK_MIN_SHIFT 12
#define CHUNK_CLASSES CAPRI_CHUNK_CLASSES
#define CHUNK_GUARD_SIZE 4096u
#define CHUNK_SLOT_NONE UINT32_MAX

enum chunk_guard_mode { CHUNK_GUARD_NONE = 0, CHUNK_GUARD_MPROTECT = 1, CHUNK_GUARD_MADVISE = 2 };

enum chunk_state {
    CHUNK_FREE = 0,   /* in a free list (or never handed out) */
    CHUNK_THREAD = 1, /* a thread's first chunk: the thread struct is at its top */
    CHUNK_STACK = 2,  /* any other chunk in use (stack growth, altstacks) */
};

/* One per chunk, in the slot table (outside the chunks: the links of free
 * chunks must not fault released pages back in). */
struct chunk_slot {
    uint32_t next_free;  /* free-list link (slot index) */
    uint32_t generation; /* thread-handle generation; bumped when a thread is reaped */
    uint8_t state;       /* enum chunk_state */
    uint8_t cls;
    uint16_t flags_;     /* the pool's own */
    uint32_t released_at_; /* the pool's own (decay clock) */
    void *owner;         /* the struct capri_thread using it, or NULL */
};

/* A scheduler's private free lists: touched by its owner only, no locks. */
struct chunk_cache {
    uint32_t head[CHUNK_CLASSES];
    uint32_t count[CHUNK_CLASSES];
    uint64_t in_use[CHUNK_CLASSES]; /* taken minus given through this cache */
    uint64_t depot_transfers;
    uint64_t bytes_released;
    struct chunk_cache *next_registered_; /* the pool's list, for statistics */
};

/* Once, before any other call (the runtime's initialisation). guard: the
 * wanted mode (CHUNK_GUARD_MADVISE normally; CHUNK_GUARD_NONE for dense
 * mode). Falls back from madvise to mprotect to none (printing a warning
 * once when it ends at none without being asked to). 0 or -errno. */
int chunk_pool_init(enum chunk_guard_mode guard);
enum chunk_guard_mode chunk_pool_guard_mode(void);

/* The smallest class with at least `bytes` usable; CHUNK_CLASSES if none. */
unsigned chunk_class_for(size_t bytes);
size_t chunk_class_size(unsigned cls);

void chunk_cache_register(struct chunk_cache *cache);

/* Takes a chunk of class cls: from the cache (cache may be NULL: foreign
 * threads use the depot under its lock), refilled from the depot in
 * batches, or carved from a new slab. Returns its lowest usable address
 * and its slot, or NULL when no memory or mapping can be had (ENOMEM). The
 * chunk's slot has state CHUNK_STACK and owner NULL; the caller sets them.
 * The memory may hold old data. */
void *chunk_pool_take(struct chunk_cache *cache, unsigned cls, uint32_t *slot);
/* Gives a chunk back (its memory is kept warm; decay releases it later).
 * Sets its slot state to CHUNK_FREE and owner NULL; keeps the generation. */
void chunk_pool_give(struct chunk_cache *cache, void *chunk, unsigned cls);
/* Moves everything in a cache to the depot (a scheduler that stops). */
void chunk_cache_flush(struct chunk_cache *cache);
/* Releases memory of chunks that stayed free for a while (MADV_DONTNEED,
 * batched). Called by an idle scheduler; cheap when there is nothing to do. */
void chunk_pool_decay(struct chunk_cache *cache, uint64_t now_ns);

/* The slot table entry for a slot, or NULL out of range. */
struct chunk_slot *chunk_slot_at(uint32_t slot);
/* The chunk (lowest usable address) of a slot, or NULL. */
void *chunk_of_slot(uint32_t slot);

/* Where addr lies, async-signal-safe (arithmetic and loads only):
 * 0: not in the arena; 1: in a chunk's usable part; 2: in a chunk's guard
 * page. For 1 and 2 fills the chunk's slot, usable base and class. */
int chunk_pool_locate(const void *addr, uint32_t *slot, void **chunk, unsigned *cls);

void chunk_pool_stats_collect(struct capri_pool_stats *out);

/* fork: prepare takes the depot lock, parent releases it, child resets it
 * and forgets the caches of schedulers that do not exist in the child. */
void chunk_pool_atfork_prepare(void);
void chunk_pool_atfork_parent(void);
void chunk_pool_atfork_child(struct chunk_cache *survivor);

#endif
