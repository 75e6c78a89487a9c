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
    if (chunk)
        store_relaxed(&chunk_slot_at(*slot)->owner, (void *)t);
    return chunk;
}

void thread_chunk_release(struct capri_thread *t, void *chunk, uint32_t slot, unsigned cls)
{
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
