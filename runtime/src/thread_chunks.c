/*
 * A thread's extra stack chunks (the chunks stack growth links in), with
 * the per-thread cache that fixes the "hot split": Go and Rust dropped
 * segmented stacks because a call at a chunk boundary inside a hot loop
 * allocated and freed a chunk on every iteration. Here the chunk released
 * last stays on the thread, so the next crossing reuses it with no pool
 * operation and no system call. The cache is given back when the thread
 * blocks (a blocked thread holds no spare memory) or ends, and big classes
 * are never cached.
 */
#include "chunk_pool.h"
#include "grow.h"
#include "log.h"
#include "scheduler.h"
#include "thread.h"

static struct chunk_cache *pool_cache_here(void)
{
    struct capri_sched *s = sched_here();
    return s ? &s->chunks : NULL;
}

void *thread_chunk_take(struct capri_thread *t, unsigned cls, uint32_t *slot)
{
    if (t->cached_chunk && t->cached_cls == cls) {
        void *chunk = t->cached_chunk;
        *slot = t->cached_slot;
        t->cached_chunk = NULL;
        return chunk;
    }
    void *chunk = chunk_pool_take(pool_cache_here(), cls, slot);
    if (chunk) {
        store_relaxed(&chunk_slot_at(*slot)->owner, (void *)t);
        /* No link record at its top until a growth writes one for t (what
         * was there is another owner's): __morestack's hot case checks the
         * record's chunk field before it reuses the record (thread.h). */
        struct grow_link *top = (struct grow_link *)((char *)chunk + ((size_t)1 << (CHUNK_MIN_SHIFT + cls))) - 1;
        top->chunk = NULL;
    }
    return chunk;
}

/* (Called by grow.c's chunk_back for t's link on this chunk: its record
 * stays at the chunk's top for __morestack's hot case, thread.h. A
 * scheduler's own context grows as its kernel thread does, never from a
 * cache: the hot case takes a cached chunk as proof of a capri thread.) */
void thread_chunk_release(struct capri_thread *t, void *chunk, uint32_t slot, unsigned cls)
{
    if (unlikely(t->flags & THREAD_SCHED_CTX))
        capri_fatal("thread_chunk_release: a scheduler's own context has no chunk cache");
    if (!t->cached_chunk && cls <= THREAD_CACHED_CLASS_MAX) {
        t->cached_chunk = chunk;
        t->cached_slot = slot;
        t->cached_cls = cls;
        return;
    }
    chunk_pool_give(pool_cache_here(), chunk, cls);
}

void thread_chunk_flush(struct capri_thread *t)
{
    if (!t->cached_chunk)
        return;
    void *chunk = t->cached_chunk;
    t->cached_chunk = NULL;
    chunk_pool_give(pool_cache_here(), chunk, t->cached_cls);
}
