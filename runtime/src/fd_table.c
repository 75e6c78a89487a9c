/*
 * The descriptor table (fd_table.h).
 */
#include "fd_table.h"

#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "graph.h"
#include "reactor.h"

static struct fd_entry *pages[FD_TABLE_MAX / FD_PAGE];

struct fd_entry *fd_entry(int fd, bool create)
{
    if (fd < 0 || (unsigned)fd >= FD_TABLE_MAX)
        return NULL;
    unsigned pi = (unsigned)fd / FD_PAGE;
    struct fd_entry *page = load_acquire(&pages[pi]);
    if (unlikely(!page)) {
        if (!create)
            return NULL;
        /* calloc, not mmap: a page is 128 KiB of entries that start as
         * zeros, and calloc takes them zeroed from the kernel. */
        struct fd_entry *fresh = calloc(FD_PAGE, sizeof *fresh);
        if (!fresh)
            return NULL;
        struct fd_entry *expected = NULL;
        if (cas_acq_rel(&pages[pi], &expected, fresh))
            page = fresh;
        else {
            free(fresh);
            page = expected;
        }
    }
    return &page[(unsigned)fd % FD_PAGE];
}

void fd_dir_push_locked(struct fd_dir *d, struct wait_node *n)
{
    n->next = NULL;
    n->prev = d->tail;
    if (d->tail)
        d->tail->next = n;
    else
        store_relaxed(&d->head, n); /* io_done reads it without the lock */
    d->tail = n;
    n->linked = 1;
}

void fd_dir_unlink_locked(struct fd_dir *d, struct wait_node *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        store_relaxed(&d->head, n->next);
    if (n->next)
        n->next->prev = n->prev;
    else
        d->tail = n->prev;
    n->next = n->prev = NULL;
    n->linked = 0;
}

void fd_dir_watch_locked(struct fd_dir *d, struct wait_node *n)
{
    n->prev = NULL;
    n->next = d->watchers;
    if (d->watchers)
        d->watchers->prev = n;
    d->watchers = n;
    n->linked = 1;
}

void fd_dir_unwatch_locked(struct fd_dir *d, struct wait_node *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        d->watchers = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->next = n->prev = NULL;
    n->linked = 0;
}

/* Wakes every watcher of d. A watcher whose wait has ended already (its
 * token moved on, or another of its watches won) is not woken: the wake
 * fails and the node stays until its thread unlinks it. */
static void dir_wake_watchers(struct fd_dir *d)
{
    for (struct wait_node *n = d->watchers; n; n = n->next)
        wait_wake(n->thread, n->token, WAKE_SIGNALED);
}

/* The first queued node, unlinked, or NULL. */
static struct wait_node *dir_pop(struct fd_dir *d)
{
    struct wait_node *n = d->head;
    if (n)
        fd_dir_unlink_locked(d, n);
    return n;
}

/* The owner, taken from its place, or NULL. */
static struct wait_node *dir_take_owner(struct fd_dir *d)
{
    struct wait_node *n = d->owner;
    d->owner = NULL;
    if (n)
        n->linked = 0;
    return n;
}

/* Every event and close moves the sequence: a thread that read the old
 * value before its try does not park (io_snapshot reads it unlocked). */
static void dir_bump(struct fd_dir *d) { store_release(&d->seq, d->seq + 1); }

void fd_dir_wake_next_locked(struct fd_dir *d)
{
    struct wait_node *n;
    while ((n = dir_pop(d)) != NULL)
        if (wait_wake(n->thread, n->token, WAKE_SIGNALED))
            return;
}

void fd_dir_ready_locked(struct fd_dir *d)
{
    dir_bump(d);
    if (unlikely(d->watchers != NULL))
        dir_wake_watchers(d);
    struct wait_node *n = dir_take_owner(d);
    if (n && wait_wake(n->thread, n->token, WAKE_SIGNALED))
        return;
    /* No owner, or its wait ended another way: the next in line looks. */
    fd_dir_wake_next_locked(d);
}

void fd_wake_all_locked(struct fd_entry *e)
{
    for (int d = 0; d < 2; d++) {
        struct fd_dir *dir = &e->dir[d];
        dir_bump(dir);
        dir_wake_watchers(dir);
        struct wait_node *n = dir_take_owner(dir);
        if (n)
            wait_wake(n->thread, n->token, WAKE_SIGNALED);
        while ((n = dir_pop(dir)) != NULL)
            wait_wake(n->thread, n->token, WAKE_SIGNALED);
    }
}

/* The flags are read without the lock (atomically) by the calls that use
 * the descriptor, so they are written atomically too. */
static void reset_locked(struct fd_entry *e)
{
    store_release(&e->gen, e->gen + 1);
    fd_wake_all_locked(e);
    store_relaxed(&e->kind, (uint8_t)FD_UNKNOWN);
    store_relaxed(&e->created, (uint8_t)0);
    store_relaxed(&e->capri_nonblock, (uint8_t)0);
    store_relaxed(&e->user_nonblock, (uint8_t)0);
    store_relaxed(&e->user_nonblock_known, (uint8_t)0);
    store_relaxed(&e->timeouts_known, (uint8_t)0);
    store_relaxed(&e->shared, (uint8_t)0);
    store_relaxed(&e->in_stdio, (uint8_t)0);
    store_relaxed(&e->exported, (uint8_t)0);
    store_relaxed(&e->flag_unsure, (uint8_t)0);
    store_relaxed(&e->sock_type_known, (uint8_t)0);
    store_relaxed(&e->dir[FD_READ].ended, (uint8_t)0);
    store_relaxed(&e->dir[FD_READ].drained, (uint8_t)0);
    store_relaxed(&e->direct, (uint8_t)0);
    store_relaxed(&e->direct_known, (uint8_t)0);
    store_relaxed(&e->registered, (uint8_t)0);
    store_relaxed(&e->rcvtimeo_ns, (uint64_t)0);
    store_relaxed(&e->sndtimeo_ns, (uint64_t)0);
}

void fd_created(int fd, enum fd_kind kind, bool created_here, bool user_nonblock)
{
    struct fd_entry *e = fd_entry(fd, true);
    if (!e)
        return;
    spin_lock(&e->lock);
    reset_locked(e);
    store_relaxed(&e->kind, (uint8_t)kind);
    store_relaxed(&e->created, (uint8_t)created_here);
    store_relaxed(&e->user_nonblock, (uint8_t)user_nonblock);
    store_relaxed(&e->user_nonblock_known, (uint8_t)1);
    spin_unlock(&e->lock);
    if (created_here)
        graph_resource_changed(GRAPH_RES_FDS, 1); /* the resource policy's count */
}

void fd_closing(int fd)
{
    struct fd_entry *e = fd_entry(fd, false);
    if (!e)
        return;
    spin_lock(&e->lock);
    /* A description only this number holds leaves the epoll sets with its
     * last reference, at the close itself: no system call needed. */
    bool registered = load_relaxed(&e->registered) &&
                      (load_relaxed(&e->shared) || !load_relaxed(&e->created));
    uint32_t reactor = load_relaxed(&e->reactor), reactor_gen = load_relaxed(&e->reactor_gen);
    bool counted = load_relaxed(&e->created);
    reset_locked(e);
    spin_unlock(&e->lock);
    if (counted)
        graph_resource_changed(GRAPH_RES_FDS, -1);
    /* The registration is keyed by the number and the description: if a
     * dup keeps the description open, it would outlive this number and
     * report a later descriptor of the same number. Events that still
     * arrive carry the old generation and are dropped. */
    if (registered)
        reactor_forget(reactor, reactor_gen, fd);
}

void fd_closing_range(unsigned first, unsigned last)
{
    if (first >= FD_TABLE_MAX)
        return;
    if (last >= FD_TABLE_MAX)
        last = FD_TABLE_MAX - 1;
    for (unsigned pi = first / FD_PAGE; pi <= last / FD_PAGE; pi++) {
        if (!load_acquire(&pages[pi]))
            continue; /* no entry of this page was ever made */
        unsigned lo = pi == first / FD_PAGE ? first : pi * FD_PAGE;
        unsigned hi = pi == last / FD_PAGE ? last : pi * FD_PAGE + FD_PAGE - 1;
        for (unsigned fd = lo; fd <= hi; fd++)
            fd_closing((int)fd);
    }
}

void fd_table_each_flaggable(void (*fn)(int fd, struct fd_entry *e))
{
    for (size_t pi = 0; pi < FD_TABLE_MAX / FD_PAGE; pi++) {
        struct fd_entry *page = load_acquire(&pages[pi]);
        if (!page)
            continue;
        for (unsigned i = 0; i < FD_PAGE; i++)
            if ((load_relaxed(&page[i].capri_nonblock) || load_relaxed(&page[i].created)) &&
                !load_relaxed(&page[i].exported))
                fn((int)(pi * FD_PAGE + i), &page[i]);
    }
}

void fd_table_reset_after_fork(void)
{
    /* Only the forking thread survives: no waiter is left, and the locks
     * may have been held by threads that are gone. */
    for (size_t pi = 0; pi < FD_TABLE_MAX / FD_PAGE; pi++) {
        struct fd_entry *page = pages[pi];
        if (!page)
            continue;
        for (unsigned i = 0; i < FD_PAGE; i++) {
            struct fd_entry *e = &page[i];
            uint32_t gen = e->gen + 1;
            uint8_t kind = e->kind, created = e->created, user_nb = e->user_nonblock,
                    user_known = e->user_nonblock_known, capri_nb = e->capri_nonblock;
            uint8_t tk = e->timeouts_known, exported = e->exported, in_stdio = e->in_stdio,
                    unsure = e->flag_unsure;
            uint64_t rt = e->rcvtimeo_ns, st = e->sndtimeo_ns;
            memset(e, 0, sizeof *e);
            e->gen = gen;
            e->kind = kind;
            e->created = created;
            e->user_nonblock = user_nb;
            e->user_nonblock_known = user_known;
            e->capri_nonblock = capri_nb;
            e->timeouts_known = tk;
            e->exported = exported; /* the parent still holds the description */
            e->flag_unsure = unsure;
            e->in_stdio = in_stdio;
            e->rcvtimeo_ns = rt;
            e->sndtimeo_ns = st;
        }
    }
}
