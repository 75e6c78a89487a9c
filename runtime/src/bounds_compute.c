/*
 * The bounds computation (bounds.h): rebuild each checkpoint's region from
 * frames, across all records.
 *
 *   region(checkpoint) = stack_args + max over the call's targets of
 *                        longest(target)
 *   longest(f)         = frame(f) + max over f's calls that are not
 *                        checkpoints of: longest(callee) for a callee with
 *                        metadata, else what the plugin charged the call
 *                        (external_region)
 *   frame(f)           = the corrected backend frame, else frame_estimate
 *
 * which is what placement computed in the plugin (a checkpointed call adds
 * nothing to its caller's path: its region is checked at the call), with
 * the backend's frames and with calls into other records resolved. A NAMED
 * call reaches every definition of its name: an internal one of the
 * caller's record, or any global one (the largest counts; the dynamic
 * linker may bind either). A checkpoint whose call has no target with
 * metadata (NAMED into code without metadata, INDIRECT, ASM) keeps the
 * plugin's value, and so does one whose targets reach a cycle with no
 * checkpoint on it (the walk cannot bound it).
 *
 * Unchecked indirect calls in an LTO record (the whole program placed at
 * once, where placement knew every target of an indirect call) reach the
 * record's address-taken functions of the call's type, as placement's call
 * graph matched them; elsewhere, and with no candidate, they count as
 * their external_region.
 *
 * Speed: a program of 50,000 functions should take a couple of
 * milliseconds (bench/bounds). Fresh memory is the dearest part (every new
 * page is a fault), so the scratch space is two populated mappings, sized
 * up front and small: a function is 17 bytes (frame, call slice, longest
 * path, state), a call 4 (its target, or its charge, and whether it is
 * checked), a global name 16. The records are read in order, a few times.
 * Names: only global definitions can be what a NAMED call reaches (a
 * module has one symbol per name, so a call to one of its own internal
 * functions is LOCAL), so those go into a hash table; a NAMED call to its
 * own record's function is found by string offset (each string is written
 * once per record), the others look their name up, in batches whose table
 * slots are prefetched together (the lookups are independent, so their
 * misses overlap). A name defined twice sends its calls to a second look
 * when walked (they reach the largest definition). Names are
 * compared by a 64-bit hash and their length, not character by character
 * (which would touch every definition's string again): a false match
 * needs two names of one program with the same length and hash, odds of
 * about 10^-10 for 100,000 names. The walk runs over the compact arrays,
 * with an explicit stack (call chains are as deep as the program's).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bounds.h"
#include "sys.h"

#define NONE UINT32_MAX

/*
 * A call, in 32 bits: T_CHECKED when a checkpoint sits on it; then either
 * T_EXT with the charge for code without metadata in the low bits (EXT_HUGE:
 * read the entry), or a target: a function index, T_MULTI (a NAMED call
 * with several definitions: looked up again) or T_LTO (an indirect call in
 * an LTO record: its candidates).
 */
#define T_CHECKED 0x80000000u
#define T_EXT 0x40000000u
#define T_VALUE 0x3fffffffu
#define EXT_HUGE T_VALUE
#define T_MULTI 0x3ffffffeu
#define T_LTO 0x3ffffffdu
#define MAX_FUNCTIONS 0x3ffffff0u

/* Function state, and whether a thread may start in it (bit 7). */
enum { ST_NEW = 0, ST_ON_STACK, ST_DONE, ST_BAD };
#define ST_MASK 3u
#define ST_DUPLICATE 0x40u /* its global name has another definition too */
#define ST_ADDRESS_TAKEN 0x80u

/* Longest paths saturate: HUGE stands for 4 GiB or more (which the slots
 * clamp to 2^40 anyway). */
#define HUGE UINT32_MAX

struct fninfo {
    uint32_t frame;
    uint32_t first; /* global index of its first call */
    uint32_t count;
};

/* A global definition: a function's name, or an alias's. */
struct def {
    uint64_t hash; /* 0: an empty slot (name_hash never returns 0) */
    uint32_t fn;
    uint32_t len;
};

/* An address-taken function of an LTO record, keyed like placement's
 * ByType: (coarse << 32) | type id. */
struct cand {
    uint64_t key;
    uint32_t fn;
};

struct frame_state {
    uint32_t fn;
    uint32_t k, end; /* the next call, and the end of the slice (global indices) */
    uint32_t j;      /* the next target of a call with several */
    uint32_t frame, acc;
    bool bad;
};

struct ctx {
    struct bounds_record *recs;
    size_t nrec;
    uint32_t *fn_base;   /* per record, its first global function index; [nrec] = total */
    uint32_t *call_base; /* per record, its first global call index; [nrec] = total */
    uint32_t nfn, ncall;
    /* The scratch mappings: compact arrays, then the names. */
    void *map, *map2;
    size_t map_size, map2_size;
    struct fninfo *fns;
    uint32_t *calls;
    uint32_t *longest;
    uint32_t *name_off; /* per function: its global name's string offset, 0 when none */
    uint8_t *state;
    /* Global names: an open-addressing table of definitions. */
    struct def *defs;
    uint32_t def_mask;
    struct cand **cands; /* per record (LTO ones with indirect calls), sorted by key */
    uint32_t *ncands;
    struct frame_state *stack;
    size_t depth, stack_cap;
};

static uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t load32u(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A 64-bit hash of a name (never 0) and its length: eight bytes at a
 * time, so that hashing every name of a large program stays cheap. */
static uint64_t name_hash(const char *s, uint32_t *len)
{
    size_t n = strlen(s);
    *len = (uint32_t)n;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n > 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    /* The last 1 to 8 bytes: two overlapping words, or three bytes. */
    uint64_t w = 0;
    if (n >= 4)
        w = load32u(s) << 32 | load32u(s + n - 4);
    else if (n > 0)
        w = (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n >> 1] << 8 |
            (uint8_t)s[n - 1];
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h ? h : 1;
}

/* The record of a global function (or call, with call_base) index. */
static uint32_t owner(const uint32_t *base, size_t nrec, uint32_t index)
{
    size_t lo = 0, hi = nrec;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (base[mid] <= index)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

static uint32_t sat_add32(uint32_t a, uint64_t b)
{
    uint64_t s = (uint64_t)a + b;
    return s >= HUGE ? HUGE : (uint32_t)s;
}

/* One populated anonymous mapping for the scratch arrays. */
static void *scratch_map(size_t size)
{
    long p = sys_call6(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p < 0 && p > -4096 ? NULL : (void *)p;
}

static void *carve(char **at, size_t bytes)
{
    void *p = *at;
    *at += (bytes + 15) & ~(size_t)15;
    return p;
}

/* ---- Names ------------------------------------------------------------------------- */

#define BATCH 32

struct pending {
    uint64_t hash;
    uint32_t len, who;
};

static void def_insert(struct ctx *c, const struct pending *p)
{
    uint32_t s = (uint32_t)p->hash & c->def_mask;
    for (; c->defs[s].hash; s = (s + 1) & c->def_mask)
        if (c->defs[s].hash == p->hash && c->defs[s].len == p->len) {
            /* A second definition (a weak one and another, or one per
             * shared object): calls by the name look it up again. */
            c->state[c->defs[s].fn] |= ST_DUPLICATE;
            c->state[p->who] |= ST_DUPLICATE;
        }
    c->defs[s] = (struct def){ p->hash, p->who, p->len };
}

static void def_batch(struct ctx *c, const struct pending *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        __builtin_prefetch(&c->defs[(uint32_t)p[i].hash & c->def_mask], 1);
    for (unsigned i = 0; i < n; i++)
        def_insert(c, &p[i]);
}

/* The n-th definition of a name, or NONE; *more (when not NULL) says
 * whether another one follows. */
static uint32_t def_nth(const struct ctx *c, uint64_t h, uint32_t len, uint32_t n, bool *more)
{
    uint32_t found = NONE;
    if (more)
        *more = false;
    for (uint32_t s = (uint32_t)h & c->def_mask; c->defs[s].hash; s = (s + 1) & c->def_mask) {
        const struct def *d = &c->defs[s];
        if (d->hash != h || d->len != len)
            continue;
        if (found != NONE) {
            if (more)
                *more = true;
            break;
        }
        if (n-- == 0) {
            found = d->fn;
            if (!more)
                break;
        }
    }
    return found;
}

/* A batch of NAMED calls (who: the global call) or REFERENCES (who:
 * NONE, the thread-entry mark goes to every definition). */
static void want_batch(struct ctx *c, const struct pending *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        __builtin_prefetch(&c->defs[(uint32_t)p[i].hash & c->def_mask]);
    for (unsigned i = 0; i < n; i++) {
        if (p[i].who == NONE) {
            for (uint32_t k = 0;; k++) {
                uint32_t fn = def_nth(c, p[i].hash, p[i].len, k, NULL);
                if (fn == NONE)
                    break;
                c->state[fn] |= ST_ADDRESS_TAKEN;
            }
            continue;
        }
        bool more;
        uint32_t fn = def_nth(c, p[i].hash, p[i].len, 0, &more);
        if (fn == NONE)
            continue; /* code without metadata: the charge stays */
        uint32_t *t = &c->calls[p[i].who];
        *t = (*t & T_CHECKED) | (more ? T_MULTI : fn);
    }
}

/* ---- LTO records' indirect calls ------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->fn < y->fn ? -1 : x->fn > y->fn;
}

/* The candidates of an LTO record's indirect calls (placement's ByType). */
static int build_candidates(struct ctx *c, uint32_t r)
{
    const struct capri_md_module *m = &c->recs[r].m;
    size_t n = 0;
    for (uint32_t i = 0; i < m->function_count; i++) {
        struct capri_md_function_entry f;
        fn_read(m, i, &f);
        if (f.flags & CAPRI_MD_FN_ADDRESS_TAKEN)
            n += (f.flags & CAPRI_MD_FN_TYPE_COARSE) ? 1 : 2;
    }
    struct cand *list = malloc((n ? n : 1) * sizeof *list);
    if (!list)
        return -1;
    n = 0;
    for (uint32_t i = 0; i < m->function_count; i++) {
        struct capri_md_function_entry f;
        fn_read(m, i, &f);
        if (!(f.flags & CAPRI_MD_FN_ADDRESS_TAKEN))
            continue;
        uint32_t fn = c->fn_base[r] + i;
        bool coarse = (f.flags & CAPRI_MD_FN_TYPE_COARSE) != 0;
        list[n++] = (struct cand){ ((uint64_t)coarse << 32) | f.type_id, fn };
        if (!coarse) /* coarse calls match by IR type */
            list[n++] = (struct cand){ ((uint64_t)1 << 32) | f.ir_type_id, fn };
    }
    qsort(list, n, sizeof *list, by_key);
    c->cands[r] = list;
    c->ncands[r] = (uint32_t)n;
    return 0;
}

/* The j-th function an indirect call of an LTO record reaches, or NONE. */
static uint32_t candidate(const struct ctx *c, uint32_t r, const struct capri_md_call_entry *e,
                          uint32_t j)
{
    const struct cand *list = c->cands[r];
    if (!list)
        return NONE;
    uint64_t key = ((uint64_t)((e->flags & CAPRI_MD_CALLF_TYPE_COARSE) != 0) << 32) | e->type_id;
    size_t lo = 0, hi = c->ncands[r];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo + j;
    return i < c->ncands[r] && list[i].key == key ? list[i].fn : NONE;
}

/* The j-th target with metadata of global call `call`, or NONE. */
static uint32_t target(const struct ctx *c, uint32_t call, uint32_t j)
{
    uint32_t t = c->calls[call] & ~T_CHECKED;
    if (t & T_EXT)
        return NONE;
    if (t < T_LTO)
        return j == 0 ? t : NONE;
    uint32_t r = owner(c->call_base, c->nrec, call);
    if (t == T_LTO) {
        struct capri_md_call_entry e;
        call_read(&c->recs[r].m, call - c->call_base[r], &e);
        return candidate(c, r, &e, j);
    }
    /* T_MULTI: the name again (rare: a weak definition and another). */
    struct capri_md_call_entry e;
    call_read(&c->recs[r].m, call - c->call_base[r], &e);
    uint32_t len;
    uint64_t h = name_hash(capri_md_string(&c->recs[r].m, e.callee), &len);
    return def_nth(c, h, len, j, NULL);
}

/* What a call into code without metadata was charged. */
static uint32_t charge(const struct ctx *c, uint32_t call)
{
    uint32_t t = c->calls[call] & ~T_CHECKED;
    if ((t & T_EXT) && (t & T_VALUE) != EXT_HUGE)
        return t & T_VALUE;
    uint32_t r = owner(c->call_base, c->nrec, call);
    struct capri_md_call_entry e;
    call_read(&c->recs[r].m, call - c->call_base[r], &e);
    return e.external_region;
}

/* ---- The walk --------------------------------------------------------------------------- */

static int push(struct ctx *c, uint32_t fn)
{
    if (c->depth == c->stack_cap) {
        size_t cap = c->stack_cap ? c->stack_cap * 2 : 256;
        struct frame_state *s = realloc(c->stack, cap * sizeof *s);
        if (!s)
            return -1;
        c->stack = s;
        c->stack_cap = cap;
    }
    const struct fninfo *f = &c->fns[fn];
    c->stack[c->depth++] = (struct frame_state){
        .fn = fn, .k = f->first, .end = f->first + f->count, .frame = f->frame,
    };
    c->state[fn] = (uint8_t)((c->state[fn] & ~ST_MASK) | ST_ON_STACK);
    return 0;
}

static void set_state(struct ctx *c, uint32_t fn, unsigned st)
{
    c->state[fn] = (uint8_t)((c->state[fn] & ~ST_MASK) | st);
}

/* longest(root) into c->longest, or root marked ST_BAD (it reaches an
 * unchecked cycle). Returns -1 when memory ran out. */
static int walk(struct ctx *c, uint32_t root)
{
    if ((c->state[root] & ST_MASK) != ST_NEW)
        return 0;
    if (push(c, root))
        return -1;
    while (c->depth) {
        struct frame_state *top = &c->stack[c->depth - 1];
        if (top->k == top->end) {
            uint32_t fn = top->fn;
            bool bad = top->bad;
            if (bad) {
                set_state(c, fn, ST_BAD);
            } else {
                c->longest[fn] = sat_add32(top->frame, top->acc);
                set_state(c, fn, ST_DONE);
            }
            c->depth--;
            if (c->depth) {
                struct frame_state *parent = &c->stack[c->depth - 1];
                if (bad)
                    parent->bad = true;
                else if (c->longest[fn] > parent->acc)
                    parent->acc = c->longest[fn];
            }
            continue;
        }
        uint32_t k = top->k;
        uint32_t tgt = c->calls[k];
        uint32_t t;
        if (tgt & T_CHECKED) {
            top->k++;
            continue;
        }
        if (!(tgt & T_EXT) && tgt < T_LTO) {
            t = tgt;
            top->k++;
        } else {
            t = target(c, k, top->j);
            if (t == NONE) {
                if (top->j == 0) {
                    uint32_t ext = charge(c, k); /* code without metadata */
                    if (ext > top->acc)
                        top->acc = ext;
                }
                top->k++;
                top->j = 0;
                continue;
            }
            top->j++;
        }
        switch (c->state[t] & ST_MASK) {
        case ST_DONE:
            if (c->longest[t] > top->acc)
                top->acc = c->longest[t];
            break;
        case ST_NEW:
            if (push(c, t))
                return -1;
            break;
        default: /* on the stack (an unchecked cycle), or reaching one */
            top->bad = true;
            break;
        }
    }
    return 0;
}

/* longest(fn) without the walk's stack when every callee is done already
 * (the usual case in the pass from the last function); false when the
 * walk must do it. */
static bool quick(struct ctx *c, uint32_t fn)
{
    if ((c->state[fn] & ST_MASK) != ST_NEW)
        return true;
    const struct fninfo *f = &c->fns[fn];
    uint32_t acc = 0;
    for (uint32_t k = f->first, end = f->first + f->count; k < end; k++) {
        uint32_t t = c->calls[k];
        if (t & T_CHECKED)
            continue;
        if (t & T_EXT) {
            if ((t & T_VALUE) == EXT_HUGE)
                return false;
            if ((t & T_VALUE) > acc)
                acc = t & T_VALUE;
            continue;
        }
        if (t >= T_LTO || (c->state[t] & ST_MASK) != ST_DONE)
            return false;
        if (c->longest[t] > acc)
            acc = c->longest[t];
    }
    c->longest[fn] = sat_add32(f->frame, acc);
    c->state[fn] = (uint8_t)((c->state[fn] & ~ST_MASK) | ST_DONE);
    return true;
}

enum slot_result { SLOT_OK, SLOT_UNKNOWN, SLOT_CYCLE, SLOT_NOMEM };

/* A checkpoint's rebuilt region. */
static enum slot_result region_of(struct ctx *c, uint32_t r,
                                  const struct capri_md_checkpoint_entry *cp, uint64_t *out)
{
    uint32_t call = c->call_base[r] + cp->call;
    uint32_t tgt = c->calls[call] & ~T_CHECKED;
    if ((tgt & T_EXT) || tgt == T_LTO)
        return SLOT_UNKNOWN; /* indirect, asm, or a name nobody defines */
    uint32_t best = 0;
    uint32_t j = 0;
    for (;; j++) {
        uint32_t t = tgt < T_LTO ? (j == 0 ? tgt : NONE) : target(c, call, j);
        if (t == NONE)
            break;
        if ((c->state[t] & ST_MASK) == ST_NEW && walk(c, t))
            return SLOT_NOMEM;
        if ((c->state[t] & ST_MASK) != ST_DONE)
            return SLOT_CYCLE;
        if (c->longest[t] > best)
            best = c->longest[t];
    }
    if (j == 0)
        return SLOT_UNKNOWN;
    uint64_t v = best == HUGE ? CAPRI_MD_MAX_REGION_BOUND : (uint64_t)best + cp->stack_args;
    *out = v < CAPRI_MD_MAX_REGION_BOUND ? v : CAPRI_MD_MAX_REGION_BOUND;
    return SLOT_OK;
}

/* ---- Reading the records --------------------------------------------------------------- */

/*
 * Phase 1, the functions, once each: the compact function array (frames
 * corrected here), thread-entry marks, and each global function's name
 * offset, which the calls of its record are matched with (the plugin
 * writes each string once per record, so a NAMED call to a function of its
 * own record, the usual case, has that function's name offset and needs no
 * hashing). Counts the global names.
 */
static size_t read_functions(struct ctx *c, struct bounds_stats *stats)
{
    size_t globals = 0;
    for (size_t r = 0; r < c->nrec; r++) {
        const struct bounds_record *rec = &c->recs[r];
        const struct capri_md_module *m = &rec->m;
        uint32_t fb = c->fn_base[r], cb = c->call_base[r];
        for (uint32_t i = 0; i < m->function_count; i++) {
            struct capri_md_function_entry f;
            fn_read(m, i, &f);
            uint64_t frame = f.frame_estimate;
            if (rec->frames && rec->frames[i] != BOUNDS_NO_FRAME) {
                frame = capri_md_backend_frame(rec->frames[i], &f, rec->machine);
                stats->backend_frames++;
            }
            c->fns[fb + i] = (struct fninfo){ frame < HUGE ? (uint32_t)frame : HUGE,
                                              cb + f.first_call, f.call_count };
            if (f.flags & CAPRI_MD_FN_ADDRESS_TAKEN)
                c->state[fb + i] = ST_ADDRESS_TAKEN;
            bool global = f.name != 0 && f.linkage != CAPRI_MD_LINK_INTERNAL;
            c->name_off[fb + i] = global ? f.name : 0;
            globals += global;
        }
        globals += m->alias_count;
    }
    return globals;
}

/* Record r's i-th global name (its functions', then its aliases'): the
 * string offset, 0 when none (an internal one), and the function it names. */
static uint32_t global_name(const struct ctx *c, size_t r, uint32_t i, uint32_t *fn)
{
    const struct capri_md_module *m = &c->recs[r].m;
    uint32_t fb = c->fn_base[r];
    if (i < m->function_count) {
        *fn = fb + i;
        return c->name_off[fb + i];
    }
    struct capri_md_alias_entry a;
    capri_md_alias(m, i - m->function_count, &a);
    *fn = fb + a.function;
    return a.linkage == CAPRI_MD_LINK_INTERNAL ? 0 : a.name;
}

/* Phase 2, the global names: hashed from the offsets phase 1 kept, into
 * the table (a name defined twice marks both definitions). */
static void read_names(struct ctx *c)
{
    struct pending batch[BATCH];
    unsigned nb = 0;
    for (size_t r = 0; r < c->nrec; r++) {
        const struct capri_md_module *m = &c->recs[r].m;
        for (uint32_t i = 0; i < m->function_count + m->alias_count; i++) {
            uint32_t fn, name = global_name(c, r, i, &fn);
            if (name == 0)
                continue;
            struct pending *p = &batch[nb++];
            p->hash = name_hash(capri_md_string(m, name), &p->len);
            p->who = fn;
            if (nb == BATCH) {
                def_batch(c, batch, nb);
                nb = 0;
            }
        }
    }
    def_batch(c, batch, nb);
}

/* A record's own global names by string offset (functions' from phase 1,
 * aliases'); returns the table's mask, 0 when it does not fit. */
static uint32_t local_names(const struct ctx *c, uint32_t r, uint64_t *table, uint32_t cap)
{
    const struct capri_md_module *m = &c->recs[r].m;
    uint32_t size = 16;
    while (size < (m->function_count + m->alias_count) * 2)
        size *= 2;
    if (size > cap)
        return 0;
    memset(table, 0, (size_t)size * sizeof *table);
    uint32_t mask = size - 1;
    for (uint32_t i = 0; i < m->function_count + m->alias_count; i++) {
        uint32_t fn, name = global_name(c, r, i, &fn);
        if (name == 0)
            continue;
        uint32_t k = (name * 0x9e3779b1u) & mask;
        while (table[k])
            k = (k + 1) & mask;
        table[k] = (uint64_t)name << 32 | ((uint64_t)fn + 1);
    }
    return mask;
}

static uint32_t local_find(const uint64_t *table, uint32_t mask, uint32_t name)
{
    if (!mask)
        return NONE;
    for (uint32_t k = (name * 0x9e3779b1u) & mask; table[k]; k = (k + 1) & mask)
        if ((uint32_t)(table[k] >> 32) == name)
            return (uint32_t)table[k] - 1;
    return NONE;
}

/*
 * Phase 3, the calls, once each: targets and charges into the compact
 * call array; a NAMED call is matched in its own record by name offset,
 * else looked up in the table (in batches whose slots are prefetched
 * together: the lookups are independent, so their misses overlap); a name
 * defined twice sends its calls to a second look when walked (they reach
 * the largest definition). Then which calls are checked, and the
 * REFERENCES (functions a thread may start in).
 */
static int read_calls(struct ctx *c)
{
    uint32_t most = 0;
    for (size_t r = 0; r < c->nrec; r++)
        if (c->recs[r].m.function_count + c->recs[r].m.alias_count > most)
            most = c->recs[r].m.function_count + c->recs[r].m.alias_count;
    /* One local table, as large as the largest record needs (huge LTO
     * records fall back to hashing every name). */
    uint32_t cap = 16;
    while (cap < most * 2 && cap < (1u << 16))
        cap *= 2;
    uint64_t *local = malloc((size_t)cap * sizeof *local);
    struct pending batch[BATCH];
    unsigned nb = 0;
    int rc = -1;
    for (size_t r = 0; r < c->nrec; r++) {
        const struct capri_md_module *m = &c->recs[r].m;
        uint32_t fb = c->fn_base[r], cb = c->call_base[r];
        uint32_t mask = local ? local_names(c, (uint32_t)r, local, cap) : 0;
        bool lto = (m->flags & CAPRI_MD_MODULE_LTO) != 0, lto_indirect = false;
        for (uint32_t i = 0; i < m->call_count; i++) {
            struct capri_md_call_entry e;
            call_read(m, i, &e);
            uint32_t *t = &c->calls[cb + i];
            *t = T_EXT | (e.external_region < EXT_HUGE ? e.external_region : EXT_HUGE);
            if (e.kind == CAPRI_MD_CALL_LOCAL) {
                *t = fb + e.callee;
            } else if (e.kind == CAPRI_MD_CALL_INDIRECT && lto) {
                *t = T_LTO;
                lto_indirect = true;
            } else if (e.kind == CAPRI_MD_CALL_NAMED) {
                uint32_t fn = local_find(local, mask, e.callee);
                if (fn != NONE) {
                    *t = (c->state[fn] & ST_DUPLICATE) ? T_MULTI : fn;
                    continue;
                }
                struct pending *p = &batch[nb++];
                p->hash = name_hash(capri_md_string(m, e.callee), &p->len);
                p->who = cb + i;
                if (nb == BATCH) {
                    want_batch(c, batch, nb);
                    nb = 0;
                }
            }
        }
        for (uint32_t i = 0; i < m->reference_count; i++) {
            struct capri_md_reference_entry ref;
            capri_md_reference(m, i, &ref);
            struct pending *p = &batch[nb++];
            p->hash = name_hash(capri_md_string(m, ref.name), &p->len);
            p->who = NONE;
            if (nb == BATCH) {
                want_batch(c, batch, nb);
                nb = 0;
            }
        }
        if (lto_indirect && build_candidates(c, (uint32_t)r))
            goto out;
    }
    want_batch(c, batch, nb);
    /* Checked calls last: a NAMED call's lookup rewrites its word. */
    for (size_t r = 0; r < c->nrec; r++) {
        const struct capri_md_module *m = &c->recs[r].m;
        for (uint32_t i = 0; i < m->checkpoint_count; i++) {
            struct capri_md_checkpoint_entry cp;
            checkpoint_read(m, i, &cp);
            c->calls[c->call_base[r] + cp.call] |= T_CHECKED;
        }
    }
    rc = 0;
out:
    free(local);
    return rc;
}

/* ---- The whole computation --------------------------------------------------------- */

static void ctx_free(struct ctx *c)
{
    if (c->map)
        sys_call6(SYS_munmap, (long)c->map, (long)c->map_size, 0, 0, 0, 0);
    if (c->map2)
        sys_call6(SYS_munmap, (long)c->map2, (long)c->map2_size, 0, 0, 0, 0);
    free(c->fn_base);
    free(c->call_base);
    if (c->cands)
        for (size_t r = 0; r < c->nrec; r++)
            free(c->cands[r]);
    free(c->cands);
    free(c->ncands);
    free(c->stack);
}

/* The slots of the records to rewrite: computed for all first and written
 * after, so that running out of memory writes nothing. */
static int rewrite_slots(struct ctx *c, uint32_t slack, struct bounds_stats *stats)
{
    size_t nslots = 0;
    for (size_t r = 0; r < c->nrec; r++)
        if (c->recs[r].rewrite && c->recs[r].table)
            nslots += c->recs[r].m.bounds_count;
    uint64_t *values = malloc((nslots ? nslots : 1) * sizeof *values);
    int rc = -1;
    if (!values)
        goto out;
    /* UINT64_MAX: not rebuilt (no slot holds it: slots are clamped). */
    for (size_t i = 0; i < nslots; i++)
        values[i] = UINT64_MAX;
    size_t base = 0;
    for (size_t r = 0; r < c->nrec; r++) {
        struct bounds_record *rec = &c->recs[r];
        if (!rec->rewrite)
            continue;
        for (uint32_t i = 0; i < rec->m.checkpoint_count; i++) {
            struct capri_md_checkpoint_entry cp;
            checkpoint_read(&rec->m, i, &cp);
            bool small = cp.bound == CAPRI_MD_NO_BOUND;
            if (!small && !rec->table)
                continue;
            uint64_t v = 0;
            enum slot_result res = region_of(c, (uint32_t)r, &cp, &v);
            if (res == SLOT_NOMEM)
                goto out;
            if (small) {
                if (res == SLOT_OK && v > slack)
                    stats->small_over++;
            } else if (res == SLOT_UNKNOWN) {
                stats->kept_unknown++;
            } else if (res == SLOT_CYCLE) {
                stats->kept_cycle++;
            } else {
                values[base + cp.bound] = v;
            }
        }
        if (rec->table)
            base += rec->m.bounds_count;
    }
    base = 0;
    for (size_t r = 0; r < c->nrec; r++) {
        struct bounds_record *rec = &c->recs[r];
        if (!rec->rewrite || !rec->table)
            continue;
        for (uint32_t s = 0; s < rec->m.bounds_count; s++) {
            stats->slots++;
            uint64_t v = values[base + s];
            if (v == UINT64_MAX)
                continue;
            uint64_t old = __atomic_load_n(&rec->table[s], __ATOMIC_RELAXED);
            if (v < old)
                stats->lower++;
            else if (v > old)
                stats->higher++;
            else
                stats->same++;
            /* Other threads may run the module's checks meanwhile (a
             * dlopen'ed object's code runs once its constructors have):
             * one aligned 8-byte store each. */
            __atomic_store_n(&rec->table[s], v, __ATOMIC_RELAXED);
        }
        base += rec->m.bounds_count;
    }
    rc = 0;
out:
    free(values);
    return rc;
}

/* Entry regions for capri_spawn: functions whose address is taken, here
 * or (by name) in another record's REFERENCES. */
static int entry_regions(struct ctx *c)
{
    for (size_t r = 0; r < c->nrec; r++) {
        struct bounds_record *rec = &c->recs[r];
        if (!rec->entry_regions)
            continue;
        for (uint32_t i = 0; i < rec->m.function_count; i++) {
            uint32_t fn = c->fn_base[r] + i;
            rec->entry_regions[i] = 0;
            if (!(c->state[fn] & ST_ADDRESS_TAKEN) || capri_md_address_slot(&rec->m, i) == 0)
                continue;
            struct capri_md_function_entry f;
            fn_read(&rec->m, i, &f);
            rec->entry_regions[i] = f.entry_region;
            if (!rec->rewrite)
                continue;
            if (walk(c, fn))
                return -1;
            if ((c->state[fn] & ST_MASK) == ST_DONE)
                rec->entry_regions[i] = c->longest[fn];
        }
    }
    return 0;
}

int bounds_compute(struct bounds_record *records, size_t count, uint32_t slack,
                   struct bounds_stats *stats)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    memset(stats, 0, sizeof *stats);
    c.recs = records;
    c.nrec = count;
    stats->records = count;
    if (count == 0)
        return 0;
    int rc = -1;
    uint64_t t0 = clock_ns();
    c.fn_base = malloc((count + 1) * sizeof *c.fn_base);
    c.call_base = malloc((count + 1) * sizeof *c.call_base);
    c.cands = calloc(count, sizeof *c.cands);
    c.ncands = calloc(count, sizeof *c.ncands);
    if (!c.fn_base || !c.call_base || !c.cands || !c.ncands)
        goto out;
    uint64_t nfn = 0, ncall = 0;
    for (size_t r = 0; r < count; r++) {
        c.fn_base[r] = (uint32_t)nfn;
        c.call_base[r] = (uint32_t)ncall;
        nfn += records[r].m.function_count;
        ncall += records[r].m.call_count;
        if (nfn >= MAX_FUNCTIONS || ncall >= T_EXT)
            goto out;
    }
    c.fn_base[count] = (uint32_t)nfn;
    c.call_base[count] = (uint32_t)ncall;
    c.nfn = (uint32_t)nfn;
    c.ncall = (uint32_t)ncall;
    stats->functions = nfn;
    /* The scratch space, in one populated mapping. */
    size_t size = nfn * sizeof *c.fns + ncall * sizeof *c.calls + nfn * sizeof *c.longest +
                  nfn * sizeof *c.name_off + nfn + 5 * 16;
    char *at = scratch_map(size);
    if (!at)
        goto out;
    c.map = at;
    c.map_size = size;
    c.fns = carve(&at, nfn * sizeof *c.fns);
    c.calls = carve(&at, ncall * sizeof *c.calls);
    c.longest = carve(&at, nfn * sizeof *c.longest);
    c.name_off = carve(&at, nfn * sizeof *c.name_off);
    c.state = carve(&at, nfn); /* zero: ST_NEW */
    size_t globals = read_functions(&c, stats);
    /* The global names' table: a second mapping, now that their number is
     * known. */
    size_t cap = 16;
    while (cap < globals + globals / 2) /* at most two thirds full */
        cap *= 2;
    c.defs = scratch_map(cap * sizeof *c.defs);
    if (!c.defs)
        goto out;
    c.map2 = c.defs;
    c.map2_size = cap * sizeof *c.defs;
    c.def_mask = (uint32_t)cap - 1;
    uint64_t t1 = clock_ns();
    read_names(&c);
    if (read_calls(&c))
        goto out;
    uint64_t t2 = clock_ns();
    /* Every function, from the last: callees mostly come after their
     * callers in a record (the plugin writes functions in module order), so
     * most walks find their callees done and go one level deep, in memory
     * order. */
    for (uint32_t fn = c.nfn; fn-- > 0;)
        if (!quick(&c, fn) && walk(&c, fn))
            goto out;
    uint64_t t3 = clock_ns();
    if (rewrite_slots(&c, slack, stats))
        goto out;
    for (size_t r = 0; r < count; r++)
        if (records[r].entry_regions) {
            if (entry_regions(&c))
                goto out;
            break;
        }
    stats->ns_read = t1 - t0;
    stats->ns_names = t2 - t1;
    stats->ns_walk = t3 - t2;
    stats->ns_slots = clock_ns() - t3;
    rc = 0;
out:
    ctx_free(&c);
    return rc;
}
