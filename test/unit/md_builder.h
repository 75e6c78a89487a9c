/*
 * Build capri metadata records in memory, for the unit tests. Functions and
 * calls are added in any order; mdb_build groups the calls by caller and
 * writes a valid record of the header's version (which tests then corrupt
 * on purpose).
 */
#ifndef CAPRI_TEST_MD_BUILDER_H
#define CAPRI_TEST_MD_BUILDER_H

#include "capri_metadata.h"

#include <stddef.h>
#include <stdint.h>

struct mdb_fn {
    const char *name;
    const char *file;
    uint32_t line;
    uint8_t linkage;
    uint8_t log2_align;
    uint16_t flags;
    uint32_t frame;
    uint32_t type_id, ir_type_id;
    uint32_t bound;
    uint64_t address;
    uint32_t entry_region; /* 1.2 */
};

struct mdb_call {
    uint32_t caller;
    uint8_t kind;
    uint8_t flags;
    uint8_t flags2;          /* CAPRI_MD_CALLF2_* */
    uint32_t callee;         /* LOCAL: function index */
    const char *callee_name; /* NAMED */
    uint32_t type_id, ir_type_id;
    const char *file;
    uint32_t line;
    uint32_t external_region; /* 1.2 */
};

/* A checkpoint (1.2) on a call, named by the call's index in the builder
 * (the order calls were added: mdb_local and friends return it). */
struct mdb_checkpoint {
    uint32_t call;
    uint8_t reason;
    int small; /* no table slot */
    uint32_t region, stack_args, line;
};

/* A yield site (1.3) on a call, named by the call's builder index. */
struct mdb_yield_site {
    uint32_t call;
    uint8_t kind, flags;
    uint32_t line, column, frame, live, dead;
    const char *primitive;
    const char *dead_objects;
};

struct mdb_ref {
    const char *name;
    uint32_t type_id, ir_type_id, flags;
};

struct mdb_alias {
    const char *name;
    uint32_t function; /* index of an mdb_fn */
    uint8_t linkage;
};

struct mdb {
    struct mdb_fn *fns;
    size_t fn_count, fn_cap;
    struct mdb_call *calls;
    size_t call_count, call_cap;
    struct mdb_ref *refs;
    size_t ref_count, ref_cap;
    struct mdb_alias *aliases;
    size_t alias_count, alias_cap;
    struct mdb_checkpoint *checkpoints;
    size_t checkpoint_count, checkpoint_cap;
    struct mdb_yield_site *yield_sites;
    size_t yield_site_count, yield_site_cap;
    uint32_t yield_site_entry_size; /* 0: sizeof(struct capri_md_yield_site_entry) */
    uint32_t flags;
    uint16_t major, minor;
    const char *source;
    uint32_t fn_entry_size, call_entry_size; /* 0: the sizes of the header's structs */
    uint32_t alias_entry_size;                /* 0: sizeof(struct capri_md_alias_entry) */
    /* 1.2 header: the bounds table's address (slots are numbered in the
     * order table checkpoints were added; bounds_count is their number)
     * and the slack the module assumed. */
    uint64_t bounds_table;
    uint32_t bounds_slack;
};

void mdb_init(struct mdb *b);
void mdb_free(struct mdb *b);
/* Returns the new function's index. */
uint32_t mdb_fn(struct mdb *b, const char *name, uint32_t frame);
struct mdb_fn *mdb_fn_at(struct mdb *b, uint32_t i);
/* The call adders return the call's builder index (for mdb_checkpoint). */
uint32_t mdb_local(struct mdb *b, uint32_t caller, uint32_t callee);
uint32_t mdb_named(struct mdb *b, uint32_t caller, const char *callee);
uint32_t mdb_indirect(struct mdb *b, uint32_t caller, uint32_t type_id, uint32_t ir_type_id,
                      uint8_t flags);
uint32_t mdb_asm(struct mdb *b, uint32_t caller);
struct mdb_call *mdb_call_at(struct mdb *b, uint32_t i);
/* A checkpoint on call `call`; returns its table slot, or CAPRI_MD_NO_BOUND
 * for a small one. */
uint32_t mdb_checkpoint(struct mdb *b, uint32_t call, uint8_t reason, uint32_t region,
                        uint32_t stack_args, int small);
/* A yield site on call `call`; returns its index in YIELD_SITES. */
struct mdb_yield_site *mdb_yield_site(struct mdb *b, uint32_t call, uint8_t kind,
                                      const char *primitive);
void mdb_ref(struct mdb *b, const char *name, uint32_t type_id, uint32_t ir_type_id);
/* Another name for function `function` (ALIASES; the section is written when there is one). */
void mdb_alias(struct mdb *b, const char *name, uint32_t function, uint8_t linkage);
/* A malloc'd record; *size is its length (a multiple of 8). */
uint8_t *mdb_build(const struct mdb *b, size_t *size);

/* Offsets inside a built record, for corrupting it. */
size_t mdb_section_offset(const uint8_t *rec, size_t size, uint32_t tag);

#endif
