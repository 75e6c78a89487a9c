/*
 * The plugin's metadata records, handed over by each instrumented module's
 * constructor (__capri_register_module, called weakly at priority 1, before
 * libcapri's own constructors and long before the runtime starts) and read
 * by the runtime when it starts.
 *
 * Registration is passive and lock-free: the record's header has a word
 * for the runtime's list (`runtime_link`; records live in a writable
 * section), so a push needs no memory. Unregistration (module destructors,
 * at exit or dlclose) only marks the record dead in that word's low bit:
 * at exit other schedulers may still run the module's code, and the list
 * is never shortened under a reader.
 *
 * At start-up every record is validated with the shared parser (once: the
 * bounds pass has read most of them before main). A record
 * this libcapri cannot read (a newer major version, corrupt) stops the
 * program with a message naming the module: running instrumented code
 * with metadata the runtime misreads could place stacks wrongly.
 *
 * The bounds pass (bounds.c) reads the records before main and each one
 * registered later; both hooks below tell it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "atomic.h"
#include "bounds.h"
#include "capri_metadata.h"
#include "graph.h"
#include "log.h"
#include "modules.h"

#define LINK_DEAD ((uint64_t)1)

static struct capri_md_header *module_list;

static struct capri_md_header *header_of(void *record) { return record; }

void __capri_register_module(void *record);
void __capri_unregister_module(void *record);

void __capri_register_module(void *record)
{
    if (!record)
        return;
    struct capri_md_header *h = header_of(record);
    struct capri_md_header *old = load_relaxed(&module_list);
    do
        store_relaxed(&h->runtime_link, (uint64_t)(uintptr_t)old);
    while (!__atomic_compare_exchange_n(&module_list, &old, h, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    /* After the start-up pass (a dlopen'ed object): its bounds now. */
    bounds_registered(record);
}

void __capri_unregister_module(void *record)
{
    if (!record)
        return;
    struct capri_md_header *h = header_of(record);
    __atomic_fetch_or(&h->runtime_link, LINK_DEAD, __ATOMIC_RELEASE);
    bounds_unregistered(record);
    /* Its yield-site descriptors are about to be unmapped. */
    graph_purge(h, (const char *)h + h->record_size);
}

static struct capri_md_header *next_of(const struct capri_md_header *h)
{
    return (struct capri_md_header *)(uintptr_t)(load_acquire(&h->runtime_link) & ~LINK_DEAD);
}

struct capri_md_header *modules_first(void) { return load_acquire(&module_list); }

struct capri_md_header *modules_next(const struct capri_md_header *h) { return next_of(h); }

int modules_dead(const struct capri_md_header *h)
{
    return (load_acquire(&h->runtime_link) & LINK_DEAD) != 0;
}

int modules_load(void)
{
    unsigned count = 0;
    for (struct capri_md_header *h = load_acquire(&module_list); h; h = next_of(h)) {
        if (load_acquire(&h->runtime_link) & LINK_DEAD)
            continue;
        /* Records the bounds pass read before main were validated then. */
        if (bounds_record_valid(h)) {
            count++;
            continue;
        }
        /* The record's own size bounds the parse; the parser never reads
         * past it. A header too short to hold a size is caught too. */
        size_t size = h->record_size >= sizeof *h ? h->record_size : sizeof *h;
        size_t offset = 0;
        struct capri_md_module m;
        char err[160];
        enum capri_md_status st = capri_md_next((const uint8_t *)h, size, &offset, &m, err, sizeof err);
        if (st != CAPRI_MD_OK) {
            char msg[400];
            char *p = msg, *e = msg + sizeof msg - 1;
            p = log_append(p, e, "unreadable capri metadata record (");
            p = log_append(p, e, capri_md_status_name(st));
            p = log_append(p, e, "): ");
            p = log_append(p, e, err); /* names both versions and what to do */
            *p = 0;
            capri_fatal(msg);
        }
        count++;
    }
    return (int)count;
}
