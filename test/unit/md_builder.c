#include "md_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grow_array(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    p = realloc(p, n * elem);
    if (!p) {
        fputs("md_builder: out of memory\n", stderr);
        exit(2);
    }
    *cap = n;
    return p;
}

void mdb_init(struct mdb *b)
{
    memset(b, 0, sizeof *b);
    b->major = CAPRI_MD_VERSION_MAJOR;
    b->minor = CAPRI_MD_VERSION_MINOR;
    b->source = "test.c";
}

void mdb_free(struct mdb *b)
{
    free(b->fns);
    free(b->calls);
    free(b->refs);
    free(b->aliases);
    free(b->checkpoints);
    free(b->yield_sites);
    memset(b, 0, sizeof *b);
}

uint32_t mdb_fn(struct mdb *b, const char *name, uint32_t frame)
{
    b->fns = grow_array(b->fns, &b->fn_cap, b->fn_count + 1, sizeof *b->fns);
    struct mdb_fn *f = &b->fns[b->fn_count];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->file = b->source;
    f->line = (uint32_t)b->fn_count + 1;
    f->frame = frame;
    return (uint32_t)b->fn_count++;
}

struct mdb_fn *mdb_fn_at(struct mdb *b, uint32_t i)
{
    return &b->fns[i];
}

static struct mdb_call *add_call(struct mdb *b, uint32_t caller, uint8_t kind)
{
    b->calls = grow_array(b->calls, &b->call_cap, b->call_count + 1, sizeof *b->calls);
    struct mdb_call *c = &b->calls[b->call_count++];
    memset(c, 0, sizeof *c);
    c->caller = caller;
    c->kind = kind;
    c->file = b->source;
    c->line = 1000 + (uint32_t)b->call_count;
    return c;
}

uint32_t mdb_local(struct mdb *b, uint32_t caller, uint32_t callee)
{
    add_call(b, caller, CAPRI_MD_CALL_LOCAL)->callee = callee;
    return (uint32_t)b->call_count - 1;
}

uint32_t mdb_named(struct mdb *b, uint32_t caller, const char *callee)
{
    add_call(b, caller, CAPRI_MD_CALL_NAMED)->callee_name = callee;
    return (uint32_t)b->call_count - 1;
}

uint32_t mdb_indirect(struct mdb *b, uint32_t caller, uint32_t type_id, uint32_t ir_type_id,
                      uint8_t flags)
{
    struct mdb_call *c = add_call(b, caller, CAPRI_MD_CALL_INDIRECT);
    c->type_id = type_id;
    c->ir_type_id = ir_type_id;
    c->flags = flags;
    return (uint32_t)b->call_count - 1;
}

uint32_t mdb_asm(struct mdb *b, uint32_t caller)
{
    add_call(b, caller, CAPRI_MD_CALL_ASM);
    return (uint32_t)b->call_count - 1;
}

struct mdb_call *mdb_call_at(struct mdb *b, uint32_t i)
{
    return &b->calls[i];
}

uint32_t mdb_checkpoint(struct mdb *b, uint32_t call, uint8_t reason, uint32_t region,
                        uint32_t stack_args, int small)
{
    b->checkpoints = grow_array(b->checkpoints, &b->checkpoint_cap, b->checkpoint_count + 1,
                                sizeof *b->checkpoints);
    uint32_t slot = 0;
    for (size_t i = 0; i < b->checkpoint_count; i++)
        slot += !b->checkpoints[i].small;
    b->checkpoints[b->checkpoint_count++] =
        (struct mdb_checkpoint){ call, reason, small, region, stack_args, 2000 + call };
    return small ? CAPRI_MD_NO_BOUND : slot;
}

struct mdb_yield_site *mdb_yield_site(struct mdb *b, uint32_t call, uint8_t kind,
                                      const char *primitive)
{
    b->yield_sites = grow_array(b->yield_sites, &b->yield_site_cap, b->yield_site_count + 1,
                                sizeof *b->yield_sites);
    struct mdb_yield_site *y = &b->yield_sites[b->yield_site_count++];
    memset(y, 0, sizeof *y);
    y->call = call;
    y->kind = kind;
    y->primitive = primitive;
    y->line = 3000 + call;
    return y;
}

void mdb_ref(struct mdb *b, const char *name, uint32_t type_id, uint32_t ir_type_id)
{
    b->refs = grow_array(b->refs, &b->ref_cap, b->ref_count + 1, sizeof *b->refs);
    b->refs[b->ref_count++] = (struct mdb_ref){ name, type_id, ir_type_id, 0 };
}

void mdb_alias(struct mdb *b, const char *name, uint32_t function, uint8_t linkage)
{
    b->aliases = grow_array(b->aliases, &b->alias_cap, b->alias_count + 1, sizeof *b->aliases);
    b->aliases[b->alias_count++] = (struct mdb_alias){ name, function, linkage };
}

/* A growable byte buffer. */
struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *o, const void *data, size_t n)
{
    o->p = grow_array(o->p, &o->cap, o->len + n, 1);
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void put32(struct buf *o, uint32_t v)
{
    put(o, &v, 4);
}

static void pad(struct buf *o, size_t align)
{
    static const uint8_t zeros[8];
    put(o, zeros, (align - o->len % align) % align);
}

/* The string table: linear search is fine for test sizes, but the deep
 * tests intern 50,000 distinct names, so remember the last offset too. */
static uint32_t intern(struct buf *strings, const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = strlen(s) + 1;
    if (strings->len < 4096)
        for (size_t i = 1; i + n <= strings->len; i++)
            if (memcmp(strings->p + i, s, n) == 0 && strings->p[i - 1] == '\0')
                return (uint32_t)i;
    uint32_t off = (uint32_t)strings->len;
    put(strings, s, n);
    return off;
}

static void section(struct buf *rec, uint32_t tag, const struct buf *payload)
{
    put32(rec, tag);
    put32(rec, (uint32_t)payload->len);
    put(rec, payload->p, payload->len);
    pad(rec, 4);
}

static void entry(struct buf *table, const void *e, size_t have, size_t want)
{
    static const uint8_t zeros[64];
    put(table, e, have < want ? have : want);
    if (want > have)
        put(table, zeros, want - have);
}

uint8_t *mdb_build(const struct mdb *b, size_t *size)
{
    struct buf strings = { 0 }, fns = { 0 }, calls = { 0 }, refs = { 0 }, mod = { 0 };
    struct buf aliases = { 0 }, cps = { 0 }, ys = { 0 };
    struct buf rec = { 0 };
    uint8_t zero = 0;
    put(&strings, &zero, 1);
    uint32_t fsize = b->fn_entry_size ? b->fn_entry_size : sizeof(struct capri_md_function_entry);
    uint32_t csize = b->call_entry_size ? b->call_entry_size : sizeof(struct capri_md_call_entry);
    put32(&fns, fsize);
    put32(&fns, (uint32_t)b->fn_count);
    put32(&calls, csize);
    put32(&calls, (uint32_t)b->call_count);
    put32(&refs, sizeof(struct capri_md_reference_entry));
    put32(&refs, (uint32_t)b->ref_count);
    uint32_t asize = b->alias_entry_size ? b->alias_entry_size
                                         : sizeof(struct capri_md_alias_entry);
    put32(&aliases, asize);
    put32(&aliases, (uint32_t)b->alias_count);
    uint32_t next_call = 0;
    /* Calls grouped by caller, in the order they were added (counting sort). */
    size_t *start = calloc(b->fn_count + 1, sizeof *start);
    size_t *order = malloc((b->call_count + 1) * sizeof *order);
    for (size_t k = 0; k < b->call_count; k++)
        start[b->calls[k].caller + 1]++;
    for (size_t i = 0; i < b->fn_count; i++)
        start[i + 1] += start[i];
    size_t *final = malloc((b->call_count + 1) * sizeof *final); /* builder index -> record index */
    size_t *fill = malloc((b->fn_count + 1) * sizeof *fill);
    memcpy(fill, start, (b->fn_count + 1) * sizeof *fill);
    for (size_t k = 0; k < b->call_count; k++)
        order[fill[b->calls[k].caller]++] = k;
    free(fill);
    for (size_t i = 0; i < b->fn_count; i++) {
        const struct mdb_fn *f = &b->fns[i];
        struct capri_md_function_entry e;
        memset(&e, 0, sizeof e);
        e.name = intern(&strings, f->name);
        e.file = intern(&strings, f->file);
        e.line = f->line;
        e.linkage = f->linkage;
        e.log2_max_align = f->log2_align;
        e.flags = f->flags;
        e.frame_estimate = f->frame;
        e.type_id = f->type_id;
        e.ir_type_id = f->ir_type_id;
        e.recursion_bound = f->bound;
        e.entry_region = f->entry_region;
        if (f->bound)
            e.flags |= CAPRI_MD_FN_RECURSION_BOUND;
        e.first_call = next_call;
        for (size_t j = start[i]; j < start[i + 1]; j++) {
            const struct mdb_call *c = &b->calls[order[j]];
            struct capri_md_call_entry ce;
            memset(&ce, 0, sizeof ce);
            ce.kind = c->kind;
            ce.flags = c->flags;
            ce.flags2 = c->flags2;
            ce.callee = c->kind == CAPRI_MD_CALL_NAMED ? intern(&strings, c->callee_name)
                                                       : c->callee;
            ce.type_id = c->type_id;
            ce.ir_type_id = c->ir_type_id;
            ce.file = intern(&strings, c->file);
            ce.line = c->line;
            ce.external_region = c->external_region;
            final[order[j]] = next_call;
            entry(&calls, &ce, sizeof ce, csize);
            next_call++;
        }
        e.call_count = next_call - e.first_call;
        entry(&fns, &e, sizeof e, fsize);
    }
    put32(&cps, sizeof(struct capri_md_checkpoint_entry));
    put32(&cps, (uint32_t)b->checkpoint_count);
    uint32_t slots = 0;
    for (size_t i = 0; i < b->checkpoint_count; i++) {
        const struct mdb_checkpoint *k = &b->checkpoints[i];
        struct capri_md_checkpoint_entry ce;
        memset(&ce, 0, sizeof ce);
        ce.function = b->calls[k->call].caller;
        ce.call = (uint32_t)final[k->call];
        ce.reason = k->reason;
        ce.flags = k->small ? CAPRI_MD_CPF_SMALL : 0;
        ce.region = k->region;
        ce.bound = k->small ? CAPRI_MD_NO_BOUND : slots++;
        ce.stack_args = k->stack_args;
        ce.line = k->line;
        put(&cps, &ce, sizeof ce);
    }
    uint32_t ysize = b->yield_site_entry_size ? b->yield_site_entry_size
                                              : sizeof(struct capri_md_yield_site_entry);
    put32(&ys, ysize);
    put32(&ys, (uint32_t)b->yield_site_count);
    for (size_t i = 0; i < b->yield_site_count; i++) {
        const struct mdb_yield_site *y = &b->yield_sites[i];
        struct capri_md_yield_site_entry ye;
        memset(&ye, 0, sizeof ye);
        ye.function = b->calls[y->call].caller;
        ye.call = (uint32_t)final[y->call];
        ye.kind = y->kind;
        ye.flags = y->flags;
        ye.file = intern(&strings, b->source);
        ye.line = y->line;
        ye.column = y->column;
        ye.frame = y->frame;
        ye.live = y->live;
        ye.primitive = intern(&strings, y->primitive);
        ye.dead = y->dead;
        ye.dead_objects = intern(&strings, y->dead_objects);
        entry(&ys, &ye, sizeof ye, ysize);
    }
    free(final);
    free(start);
    free(order);
    for (size_t i = 0; i < b->ref_count; i++) {
        struct capri_md_reference_entry r = { intern(&strings, b->refs[i].name),
                                              b->refs[i].type_id, b->refs[i].ir_type_id,
                                              b->refs[i].flags };
        put(&refs, &r, sizeof r);
    }
    for (size_t i = 0; i < b->alias_count; i++) {
        struct capri_md_alias_entry a;
        memset(&a, 0, sizeof a);
        a.name = intern(&strings, b->aliases[i].name);
        a.function = b->aliases[i].function;
        a.linkage = b->aliases[i].linkage;
        entry(&aliases, &a, sizeof a, asize);
    }
    struct capri_md_module_entry me = { intern(&strings, b->source), intern(&strings, "mdb"),
                                        intern(&strings, "x86_64-pc-linux-gnu"), 0 };
    put(&mod, &me, sizeof me);

    struct capri_md_header h;
    memset(&h, 0, sizeof h);
    h.magic = CAPRI_MD_MAGIC;
    h.version_major = b->major;
    h.version_minor = b->minor;
    h.header_size = CAPRI_MD_HEADER_SIZE;
    h.flags = b->flags;
    h.function_count = (uint32_t)b->fn_count;
    h.bounds_table = b->bounds_table;
    h.bounds_count = slots;
    h.bounds_slack = b->bounds_slack;
    put(&rec, &h, sizeof h);
    for (size_t i = 0; i < b->fn_count; i++)
        put(&rec, &b->fns[i].address, 8);
    section(&rec, CAPRI_MD_TAG_STRINGS, &strings);
    section(&rec, CAPRI_MD_TAG_MODULE, &mod);
    section(&rec, CAPRI_MD_TAG_FUNCTIONS, &fns);
    if (b->call_count)
        section(&rec, CAPRI_MD_TAG_CALLS, &calls);
    if (b->ref_count)
        section(&rec, CAPRI_MD_TAG_REFERENCES, &refs);
    if (b->alias_count)
        section(&rec, CAPRI_MD_TAG_ALIASES, &aliases);
    if (b->checkpoint_count)
        section(&rec, CAPRI_MD_TAG_CHECKPOINTS, &cps);
    if (b->yield_site_count)
        section(&rec, CAPRI_MD_TAG_YIELD_SITES, &ys);
    pad(&rec, 8);
    uint32_t record_size = (uint32_t)rec.len;
    memcpy(rec.p + 8, &record_size, 4);
    free(strings.p);
    free(fns.p);
    free(calls.p);
    free(refs.p);
    free(aliases.p);
    free(cps.p);
    free(ys.p);
    free(mod.p);
    *size = rec.len;
    return rec.p;
}

size_t mdb_section_offset(const uint8_t *rec, size_t size, uint32_t tag)
{
    uint32_t header_size, count;
    memcpy(&header_size, rec + 12, 4);
    memcpy(&count, rec + 20, 4);
    size_t pos = header_size + 8 * (size_t)count;
    while (pos + 8 <= size) {
        uint32_t t, n;
        memcpy(&t, rec + pos, 4);
        memcpy(&n, rec + pos + 4, 4);
        if (t == tag)
            return pos;
        pos += 8 + n;
        pos += (4 - pos % 4) % 4;
    }
    return 0;
}
