/*
 * Bounds at start-up (docs/stack-growth-design.md, "Bounds at start-up").
 *
 * A checkpoint that asks for more than the slack loads its bound from its
 * module's bounds table (`.data.capri.bounds`, writable). The plugin fills
 * the table with regions built from its own frame estimates; before main
 * libcapri rewrites every slot whose region it can rebuild from the
 * backend's frame sizes (`.stack_sizes`, read from the executable and the
 * loaded shared objects on disk, corrected as docs/metadata.md says), so a
 * checkpoint asks for what its path needs. Objects dlopen'ed later are
 * rewritten when their records register. The same pass checks every
 * record's slack against the runtime's and builds the table capri_spawn
 * sizes first chunks with.
 *
 * Environment: CAPRI_BOUNDS=estimates keeps the plugin's values,
 * CAPRI_BOUNDS_STATS=1 prints what each pass did and how long it took,
 * CAPRI_FAULT_SHRINK_BOUNDS=1 (fault injection, for tests) sets every slot
 * to 0. docs/runtime.md describes them.
 */
#ifndef CAPRI_BOUNDS_H
#define CAPRI_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capri_metadata.h"

/*
 * What libcapri itself keeps on a new thread's first chunk besides the
 * entry function's region: the entry trampoline and thread_start's frame
 * (and the sanitizers' fiber hooks) before the call, and thread_exit's
 * calls after it returns. Measured by test/unit/runtime/test_bounds.c,
 * which fails when the figure no longer covers them (48 and 176 bytes in
 * the plain build; under ASan 80 and 304, up to 2416 with libcapri.so;
 * under TSan 96 and 720).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPAWN_ENTRY_FRAMES 4096u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPAWN_ENTRY_FRAMES 4096u
#endif
#endif
#ifndef SPAWN_ENTRY_FRAMES
#define SPAWN_ENTRY_FRAMES 1024u
#endif

/*
 * The entry region of the function at `fn` (its frame and its deepest
 * unchecked path, from the backend's frames when the start-up pass could
 * rebuild it, else the plugin's entry_region); 0 when no record knows the
 * address (code without metadata, COMDAT functions, which have no address
 * in their record) or the region is unknown. O(log n), lock-free.
 */
uint32_t bounds_entry_region(const void *fn);

/* The bytes a first chunk needs for a thread whose entry region is
 * `region`: the region, libcapri's own frames, the limit's room and the
 * thread struct at the chunk's top. */
size_t bounds_spawn_bytes(uint32_t region);

/* modules.c's registration hooks: a record registered after the start-up
 * pass (a dlopen'ed object, or a program whose libcapri.so started before
 * its records registered) is rewritten at once, with its whole object; an
 * unregistered one is forgotten. */
void bounds_registered(void *record);
void bounds_unregistered(void *record);

/* Whether the bounds pass has already read `record` with the shared parser
 * and found it valid: modules_load then need not parse it again (the
 * check costs about 30 instructions an entry, 1.5 ms for a program of
 * 50,000 functions). */
bool bounds_record_valid(const void *record);

/* ---- The computation, for the unit tests ----------------------------------- */

/* A record as the computation sees it. */
struct bounds_record {
    struct capri_md_module m; /* validated by capri_md_next */
    /* The record's bounds table (m.bounds_count slots), or NULL. */
    uint64_t *table;
    /* Per function: the backend's .stack_sizes figure, or BOUNDS_NO_FRAME
     * (the plugin's estimate is used); NULL when the record has none at
     * all. The computation corrects the figures for `machine` (the object's
     * e_machine) with capri_md_backend_frame. */
    const uint32_t *frames;
    uint16_t machine;
    int rewrite; /* write this record's slots */
    /* Per function, filled in by bounds_compute when non-NULL: for a
     * function a thread may start in (its address is taken, here or by
     * name in another record's REFERENCES) the entry region, rebuilt from
     * frames when `rewrite` is set and the walk bounds it, else the
     * plugin's entry_region; 0 for the others. */
    uint32_t *entry_regions;
};

#define BOUNDS_NO_FRAME UINT32_MAX

/* Entry readers: a fixed-size copy the compiler inlines when the record's
 * entries are at least as long as this reader's structs (always, for
 * records of this minor version), the parser's zero-extending copy else.
 * The pass reads every entry a few times: a library memcpy call per read
 * would be most of its time. */
static inline void fn_read(const struct capri_md_module *m, uint32_t i,
                           struct capri_md_function_entry *f)
{
    if (m->function_entry_size >= sizeof *f && i < m->function_count)
        memcpy(f, m->functions + (size_t)i * m->function_entry_size, sizeof *f);
    else
        capri_md_function(m, i, f);
}

static inline void call_read(const struct capri_md_module *m, uint32_t i,
                             struct capri_md_call_entry *c)
{
    if (m->call_entry_size >= sizeof *c && i < m->call_count)
        memcpy(c, m->calls + (size_t)i * m->call_entry_size, sizeof *c);
    else
        capri_md_call(m, i, c);
}

static inline void checkpoint_read(const struct capri_md_module *m, uint32_t i,
                                   struct capri_md_checkpoint_entry *c)
{
    if (m->checkpoint_entry_size >= sizeof *c && i < m->checkpoint_count)
        memcpy(c, m->checkpoints + (size_t)i * m->checkpoint_entry_size, sizeof *c);
    else
        capri_md_checkpoint(m, i, c);
}


struct bounds_stats {
    uint64_t records, functions, backend_frames;
    uint64_t slots;          /* table slots of the records rewritten */
    uint64_t lower, higher, same; /* rewritten, compared with the plugin's value */
    uint64_t kept_unknown;   /* a target without metadata, indirect or asm */
    uint64_t kept_cycle;     /* a target on an unchecked cycle */
    uint64_t small_over;     /* small checkpoints whose rebuilt region exceeds the slack */
    /* Where the time went (CLOCK_MONOTONIC ns): reading the records into
     * compact arrays, resolving names, walking, rebuilding the slots and
     * entry regions. */
    uint64_t ns_read, ns_names, ns_walk, ns_slots;
};

/*
 * Rebuild the table slots of every record with `rewrite` set, resolving
 * calls across all `count` records (a NAMED call reaches every definition
 * of its name: the record's own internal one, or any global one; the
 * largest counts). Returns 0, or -1 when memory ran out (nothing written).
 * `slack` is the runtime's, for small_over.
 */
int bounds_compute(struct bounds_record *records, size_t count, uint32_t slack,
                   struct bounds_stats *stats);

#endif
