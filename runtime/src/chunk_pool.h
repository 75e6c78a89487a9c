/*
 * Stack chunks: one arena reserved once and never unmapped, carved into
 * slabs of one size class each; a guard page under every chunk; free lists
 * per scheduler (chunk_cache) and a shared depot; memory returned to the
 * kernel on a decay. Every chunk has a slot in the slot table, which also
 * holds thread-handle generations: a stale handle or a fault address is
 * always safe to look up.
 *
 * Geometry: class c < CHUNK_CLASSES has (4 KiB << c) usable bytes; its
 * stride in the slab is that plus one 4 KiB guard page *below* the usable
 * part. The dense classes (CHUNK_CLASSES + k, first chunks of dense mode
 * only) are sub-page sizes, 512 + 64k bytes, packed with no guard: their
 * stride is their size. A chunk is named by its lowest usable address.
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

/* Dense classes: CHUNK_DENSE_FIRST + k has CHUNK_DENSE_MIN + k *
 * CHUNK_DENSE_STEP bytes (512 to 4032). Stack growth never asks for them:
 * its classes are the page classes below CHUNK_CLASSES. */
#define CHUNK_DENSE_CLASSES CAPRI_DENSE_CLASSES
#define CHUNK_DENSE_FIRST CHUNK_CLASSES
#define CHUNK_DENSE_MIN 512u
#define CHUNK_DENSE_STEP 64u
#define CHUNK_ALL_CLASSES (CHUNK_CLASSES + CHUNK_DENSE_CLASSES)
/* The canary at the bottom of a chunk without a guard page (dense first
 * chunks): the stack starts CHUNK_CANARY_ROOM bytes above it, so that even
 * __morestack's pushes at a failing check stay off it. */
#define CHUNK_CANARY 0x63617072695f6c6full /* "capri_lo" */
#define CHUNK_CANARY_ROOM 16u

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
    uint16_t flags_;     /* the pool's own: resident bit, batch length */
    uint32_t batch_tail_; /* the pool's own: last slot of a free batch */
    void *owner;         /* the struct capri_thread using it, or NULL */
};

/* A scheduler's private free lists: touched by its owner only, no locks.
 * All zeroes is an empty cache, ready to use (count, not head, says whether
 * a list is empty: slot 0 is a real chunk). */
struct chunk_cache {
    uint32_t head[CHUNK_ALL_CLASSES];
    uint32_t count[CHUNK_ALL_CLASSES];
    uint64_t in_use[CHUNK_ALL_CLASSES]; /* taken minus given through this cache */
    uint64_t depot_transfers;
    uint64_t bytes_released;
    struct chunk_cache *next_registered_; /* the pool's list, for statistics */
    uint32_t low_[CHUNK_ALL_CLASSES]; /* the pool's own: fewest free since the last decay */
    uint64_t next_decay_;          /* the pool's own: when this cache decays next */
};

/* Decay (chunk_pool_decay): a free chunk's memory goes back to the kernel
 * once it has sat unused in a cache or the depot for CHUNK_DECAY_NS (it is
 * released between one and two periods after it was given back), or at
 * once when the depot holds more than CHUNK_DEPOT_RESIDENT_MAX bytes of
 * resident free chunks. */
#define CHUNK_DECAY_NS 1000000000ull
#define CHUNK_DEPOT_RESIDENT_MAX (64ull << 20)

/* Once, before any other call (the runtime's initialisation). guard: the
 * wanted mode (CHUNK_GUARD_MADVISE normally; CHUNK_GUARD_NONE for dense
 * mode). Falls back from madvise to mprotect to none (printing a warning
 * once when it ends at none without being asked to). 0 or -errno. A later
 * call returns 0 and changes nothing, except that CHUNK_GUARD_NONE turns
 * guards off for the chunks carved after it: stack growth can start the
 * pool before the runtime has read its settings (CAPRI_GUARD=0).
 *
 * Testing knob: CAPRI_GUARD_FORCE=mprotect in the environment skips
 * MADV_GUARD_INSTALL, CAPRI_GUARD_FORCE=none acts as if no guard could be
 * had (with the warning). The mode can also drop from madvise to mprotect
 * later, when MADV_GUARD_INSTALL starts failing (mlockall). */
int chunk_pool_init(enum chunk_guard_mode guard);
enum chunk_guard_mode chunk_pool_guard_mode(void);

/* The smallest page class with at least `bytes` usable; CHUNK_CLASSES if
 * none. */
unsigned chunk_class_for(size_t bytes);
/* The smallest dense class with at least `bytes`, else chunk_class_for. */
unsigned chunk_dense_class_for(size_t bytes);
/* Usable bytes of any class; 0 out of range. */
size_t chunk_class_size(unsigned cls);
static inline int chunk_class_is_dense(unsigned cls)
{
    return cls >= CHUNK_DENSE_FIRST && cls < CHUNK_ALL_CLASSES;
}

/* Adds a cache to the statistics (once; again is harmless). Unregister
 * flushes it to the depot and keeps its counters in the pool's totals, so
 * its memory may then be reused. */
void chunk_cache_register(struct chunk_cache *cache);
void chunk_cache_unregister(struct chunk_cache *cache);

/* Takes a chunk of class cls (any class, dense ones included): from the cache (cache may be NULL: foreign
 * threads use the depot under its lock), refilled from the depot in
 * batches, or carved from a new slab. Returns its lowest usable address
 * and its slot, or NULL when no memory or mapping can be had (ENOMEM). The
 * chunk's slot has state CHUNK_STACK and owner NULL; the caller sets them.
 * The memory may hold old data. */
void *chunk_pool_take(struct chunk_cache *cache, unsigned cls, uint32_t *slot);
/* Gives a chunk back (its memory is kept warm; decay releases it later).
 * Sets its slot state to CHUNK_FREE and owner NULL; keeps the generation.
 * Any cache may take back a chunk another took out. A chunk given twice, or
 * an address that is not a chunk of class cls, traps (a bug in the caller:
 * a corrupted free list would surface much later). */
void chunk_pool_give(struct chunk_cache *cache, void *chunk, unsigned cls);
/* Moves everything in a cache to the depot (a scheduler that stops). */
void chunk_cache_flush(struct chunk_cache *cache);
/* Releases memory of chunks that stayed free for a while (MADV_DONTNEED,
 * batched). Called by an idle scheduler; cheap when there is nothing to do.
 * madvise works on pages: of a dense chunk only the pages it covers alone,
 * or together with free neighbours released in the same batch, go back;
 * a page shared with a chunk in use (or one released in another batch)
 * stays resident. */
void chunk_pool_decay(struct chunk_cache *cache, uint64_t now_ns);
/* When an idle scheduler must wake up for chunk_pool_decay to give memory
 * back (UINT64_MAX: no free chunk is resident in its cache or the depot),
 * so that a process gone quiet after a burst of stack growth shrinks. */
uint64_t chunk_pool_decay_deadline(const struct chunk_cache *cache);

/* take, give, flush and decay are not async-signal-safe (the depot is a
 * spinlock); chunk_slot_at, chunk_of_slot and chunk_pool_locate are. */

/* The slot table entry for a slot, or NULL out of range. */
struct chunk_slot *chunk_slot_at(uint32_t slot);
/* The chunk (lowest usable address) of a slot, or NULL. */
void *chunk_of_slot(uint32_t slot);

/* Where addr lies, async-signal-safe (arithmetic and loads only):
 * 0: not in the arena; 1: in a chunk's usable part; 2: in a chunk's guard
 * page (dense chunks have none). For 1 and 2 fills the chunk's slot, usable
 * base and class. */
int chunk_pool_locate(const void *addr, uint32_t *slot, void **chunk, unsigned *cls);

void chunk_pool_stats_collect(struct capri_pool_stats *out);
void chunk_pool_dense_stats_collect(struct capri_pool_dense_stats *out);

/* fork: prepare takes the depot lock (and the carving lock), parent
 * releases them, child resets them
 * and forgets the caches of schedulers that do not exist in the child: their
 * free chunks are leaked, not walked (as are the chunks of the threads that
 * do not exist in the child), and the statistics restart from the
 * survivor's own counters. */
void chunk_pool_atfork_prepare(void);
void chunk_pool_atfork_parent(void);
void chunk_pool_atfork_child(struct chunk_cache *survivor);

#endif
