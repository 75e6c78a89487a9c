/*
 * Bounds at start-up, the computation (bounds_compute on hand-made records,
 * with frames given as the ELF side would give them) and the spawn side:
 * libcapri's own frames on a first chunk stay within SPAWN_ENTRY_FRAMES
 * (measured: the depth at which the entry function starts, and how deep
 * thread_exit goes after it returns, on a painted chunk), and a chunk for
 * an entry region leaves that region above the limit.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "capri.h"
#include "chunk_pool.h"
#include "limit.h"
#include "md_builder.h"
#include "test.h"
#include "thread.h"

/* ---- The computation --------------------------------------------------------- */

struct built {
    uint8_t *bytes;
    struct bounds_record r;
    uint64_t table[64];
};

/* Parse a builder's record into a bounds_record whose table holds the
 * checkpoints' regions, as the plugin writes them. */
static void build(struct built *out, struct mdb *b)
{
    memset(out, 0, sizeof *out);
    size_t size;
    out->bytes = mdb_build(b, &size);
    size_t off = 0;
    char err[160];
    if (capri_md_next(out->bytes, size, &off, &out->r.m, err, sizeof err) != CAPRI_MD_OK) {
        fprintf(stderr, "bad test record: %s\n", err);
        exit(2);
    }
    for (uint32_t i = 0; i < out->r.m.checkpoint_count; i++) {
        struct capri_md_checkpoint_entry cp;
        capri_md_checkpoint(&out->r.m, i, &cp);
        if (cp.bound != CAPRI_MD_NO_BOUND)
            out->table[cp.bound] = cp.region;
    }
    out->r.table = out->r.m.bounds_count ? out->table : NULL;
    out->r.rewrite = 1;
}

static void unbuild(struct built *b) { free(b->bytes); }

/* One record: f -(checkpoint)-> g -> h (unchecked), frames from the backend. */
static void test_local_chain(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 64);
    uint32_t g = mdb_fn(&b, "g", 900);
    uint32_t h = mdb_fn(&b, "h", 700);
    uint32_t c = mdb_local(&b, f, g);
    mdb_local(&b, g, h);
    uint32_t slot = mdb_checkpoint(&b, c, CAPRI_MD_CP_MAXPATH, 1600 + 16, 16, 0);
    CHECK_EQ(slot, 0);
    struct built r;
    build(&r, &b);
    uint32_t frames[3] = { 48, 500, 300 };
    r.r.frames = frames;
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 16 + 500 + 300); /* stack arguments + longest(g) */
    CHECK_EQ(st.slots, 1);
    CHECK_EQ(st.lower, 1);
    CHECK_EQ(st.backend_frames, 3);

    /* Without backend frames the estimates count. */
    r.table[0] = 1616;
    r.r.frames = NULL;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 1616);
    CHECK_EQ(st.same, 1);

    /* A function missing from .stack_sizes keeps its estimate; an
     * underestimate is raised. */
    uint32_t partial[3] = { 48, BOUNDS_NO_FRAME, 2000 };
    r.r.frames = partial;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 16 + 900 + 2000);
    CHECK_EQ(st.higher, 1);

    /* The figures are .stack_sizes': corrected for x86-64 (the return
     * address; the red zone of a leaf). */
    mdb_free(&b);
    mdb_init(&b);
    f = mdb_fn(&b, "f", 64);
    g = mdb_fn(&b, "g", 900);
    h = mdb_fn(&b, "h", 700);
    mdb_fn_at(&b, h)->flags = CAPRI_MD_FN_LEAF;
    c = mdb_local(&b, f, g);
    mdb_local(&b, g, h);
    mdb_checkpoint(&b, c, CAPRI_MD_CP_MAXPATH, 1600, 0, 0);
    struct built x;
    build(&x, &b);
    uint32_t raw[3] = { 40, 492, 164 };
    x.r.frames = raw;
    x.r.machine = 62; /* EM_X86_64 */
    CHECK_EQ(bounds_compute(&x.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(x.table[0], (492 + 8) + (164 + 8 + 128));
    unbuild(&x);

    /* Not to be rewritten: untouched. */
    r.table[0] = 12345;
    r.r.rewrite = 0;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 12345);
    CHECK_EQ(st.slots, 0);
    unbuild(&r);
    mdb_free(&b);
}

/* A checkpointed call inside the target adds nothing; an unchecked call into
 * code without metadata adds what the plugin charged it. */
static void test_checked_and_external(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 64);
    uint32_t g = mdb_fn(&b, "g", 100);
    uint32_t huge = mdb_fn(&b, "huge", 60000);
    uint32_t c1 = mdb_local(&b, f, g);
    uint32_t c2 = mdb_local(&b, g, huge);
    uint32_t c3 = mdb_named(&b, g, "memcpy");
    mdb_call_at(&b, c3)->external_region = 280;
    mdb_checkpoint(&b, c1, CAPRI_MD_CP_MAXPATH, 5000, 0, 0);
    mdb_checkpoint(&b, c2, CAPRI_MD_CP_MAXPATH, 60000, 0, 0);
    struct built r;
    build(&r, &b);
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 100 + 280);
    CHECK_EQ(r.table[1], 60000);
    unbuild(&r);
    mdb_free(&b);
}

/* Targets without metadata (NAMED nobody defines, INDIRECT, ASM) keep the
 * plugin's value, and so does a target on a cycle without a checkpoint. */
static void test_kept(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 64);
    uint32_t g = mdb_fn(&b, "g", 100);
    uint32_t h = mdb_fn(&b, "h", 100);
    uint32_t c1 = mdb_named(&b, f, "printf");
    uint32_t c2 = mdb_indirect(&b, f, 0x1234, 0x5678, 0);
    uint32_t c3 = mdb_asm(&b, f);
    uint32_t c4 = mdb_local(&b, f, g);
    mdb_local(&b, g, h);
    mdb_local(&b, h, g); /* g <-> h, unchecked */
    mdb_checkpoint(&b, c1, CAPRI_MD_CP_EXTERNAL, 16384, 0, 0);
    mdb_checkpoint(&b, c2, CAPRI_MD_CP_INDIRECT, 16384, 0, 0);
    mdb_checkpoint(&b, c3, CAPRI_MD_CP_EXTERNAL, 16384, 0, 0);
    mdb_checkpoint(&b, c4, CAPRI_MD_CP_MAXPATH, 777, 0, 0);
    struct built r;
    build(&r, &b);
    uint32_t frames[3] = { 8, 8, 8 };
    r.r.frames = frames;
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], 16384);
    CHECK_EQ(r.table[1], 16384);
    CHECK_EQ(r.table[2], 16384);
    CHECK_EQ(r.table[3], 777);
    CHECK_EQ(st.kept_unknown, 3);
    CHECK_EQ(st.kept_cycle, 1);
    unbuild(&r);
    mdb_free(&b);
}

/* NAMED calls across records: global definitions anywhere (the largest of
 * several), aliases too; never an internal function (a module has one
 * symbol per name: a call to its own internal function is LOCAL, and
 * another record's is invisible), even one of the caller's record (a
 * record no module makes, here to show it is not looked at). */
static void test_named(void)
{
    struct mdb a, bb, c;
    mdb_init(&a);
    mdb_init(&bb);
    mdb_init(&c);
    uint32_t f = mdb_fn(&a, "f", 64);
    uint32_t own_x = mdb_fn(&a, "x", 500);
    mdb_fn_at(&a, own_x)->linkage = CAPRI_MD_LINK_INTERNAL;
    uint32_t cx = mdb_named(&a, f, "x");
    uint32_t cy = mdb_named(&a, f, "y");
    uint32_t cz = mdb_named(&a, f, "z_alias");
    uint32_t cw = mdb_named(&a, f, "w");
    mdb_checkpoint(&a, cx, CAPRI_MD_CP_CROSS_FILE, 16384, 0, 0);
    mdb_checkpoint(&a, cy, CAPRI_MD_CP_CROSS_FILE, 16384, 8, 0);
    mdb_checkpoint(&a, cz, CAPRI_MD_CP_CROSS_FILE, 16384, 0, 0);
    mdb_checkpoint(&a, cw, CAPRI_MD_CP_CROSS_FILE, 16384, 0, 0);

    uint32_t bx = mdb_fn(&bb, "x", 3000); /* internal to its record: invisible to a */
    mdb_fn_at(&bb, bx)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_fn(&bb, "y", 200);
    uint32_t z = mdb_fn(&bb, "z", 320);
    mdb_alias(&bb, "z_alias", z, CAPRI_MD_LINK_EXTERNAL);
    uint32_t w_weak = mdb_fn(&bb, "w", 90);
    mdb_fn_at(&bb, w_weak)->linkage = CAPRI_MD_LINK_WEAK;

    /* Calls to its own record's functions (found by string offset): one
     * defined only here, one also defined in c (both count). */
    uint32_t caller_b = mdb_fn(&bb, "caller_b", 16);
    uint32_t cy_b = mdb_named(&bb, caller_b, "y");
    uint32_t cw_b = mdb_named(&bb, caller_b, "w");
    mdb_checkpoint(&bb, cy_b, CAPRI_MD_CP_MAXPATH, 999, 0, 0);
    mdb_checkpoint(&bb, cw_b, CAPRI_MD_CP_MAXPATH, 999, 0, 0);

    mdb_fn(&c, "x", 10);
    mdb_fn(&c, "w", 150);

    struct built ra, rb, rc;
    build(&ra, &a);
    build(&rb, &bb);
    build(&rc, &c);
    struct bounds_record v[3] = { ra.r, rb.r, rc.r };
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(v, 3, LIMIT_SLACK, &st), 0);
    CHECK_EQ(ra.table[0], 10); /* c's global x */
    CHECK_EQ(ra.table[1], 8 + 200);
    CHECK_EQ(ra.table[2], 320);
    CHECK_EQ(ra.table[3], 150); /* weak 90 in b, strong 150 in c: the larger */
    CHECK_EQ(rb.table[0], 200);
    CHECK_EQ(rb.table[1], 150); /* its own weak w (90) and c's (150) */
    unbuild(&ra);
    unbuild(&rb);
    unbuild(&rc);
    mdb_free(&a);
    mdb_free(&bb);
    mdb_free(&c);
}

/* Slots are clamped to 2^40. */
static void test_clamp(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t first = mdb_fn(&b, "root", 64);
    uint32_t prev = first;
    uint32_t call0 = 0;
    for (int i = 0; i < 300; i++) {
        uint32_t next = mdb_fn(&b, "chain", 0xfffffff0u);
        uint32_t k = mdb_local(&b, prev, next);
        if (i == 0)
            call0 = k;
        prev = next;
    }
    mdb_checkpoint(&b, call0, CAPRI_MD_CP_MAXPATH, 0xffffffffu, 0, 0);
    struct built r;
    build(&r, &b);
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(r.table[0], CAPRI_MD_MAX_REGION_BOUND);
    unbuild(&r);
    mdb_free(&b);
}

/* A small checkpoint whose rebuilt region is above the slack is counted. */
static void test_small_over(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 64);
    uint32_t g = mdb_fn(&b, "g", 200);
    uint32_t c = mdb_local(&b, f, g);
    CHECK_EQ(mdb_checkpoint(&b, c, CAPRI_MD_CP_CYCLE, 200, 0, 1), CAPRI_MD_NO_BOUND);
    struct built r;
    build(&r, &b);
    uint32_t frames[2] = { 64, LIMIT_SLACK + 8 };
    r.r.frames = frames;
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
    CHECK_EQ(st.small_over, 1);
    CHECK_EQ(st.slots, 0);
    unbuild(&r);
    mdb_free(&b);
}

/* In an LTO record an unchecked indirect call reaches the record's
 * address-taken functions of its type (placement's rule); elsewhere it
 * counts as its external_region. */
static void test_lto_indirect(void)
{
    for (int lto = 0; lto <= 1; lto++) {
        struct mdb b;
        mdb_init(&b);
        if (lto)
            b.flags |= CAPRI_MD_MODULE_LTO;
        uint32_t f = mdb_fn(&b, "f", 64);
        uint32_t g = mdb_fn(&b, "g", 100);
        uint32_t t1 = mdb_fn(&b, "t1", 400);
        uint32_t t2 = mdb_fn(&b, "t2", 900); /* another type */
        mdb_fn_at(&b, t1)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, t1)->type_id = 0xaa;
        mdb_fn_at(&b, t2)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, t2)->type_id = 0xbb;
        uint32_t c = mdb_local(&b, f, g);
        uint32_t k = mdb_indirect(&b, g, 0xaa, 0x11, 0);
        mdb_call_at(&b, k)->external_region = 16384;
        mdb_checkpoint(&b, c, CAPRI_MD_CP_MAXPATH, 600, 0, 0);
        struct built r;
        build(&r, &b);
        struct bounds_stats st;
        CHECK_EQ(bounds_compute(&r.r, 1, LIMIT_SLACK, &st), 0);
        CHECK_EQ(r.table[0], lto ? 100 + 400 : 100 + 16384);
        unbuild(&r);
        mdb_free(&b);
    }
}

/* Entry regions for capri_spawn: functions whose address is taken (here or
 * by another record's REFERENCES) with an address; rebuilt when rewriting,
 * the plugin's otherwise. */
static void test_entry_regions(void)
{
    struct mdb a, bb;
    mdb_init(&a);
    mdb_init(&bb);
    uint32_t w = mdb_fn(&a, "worker", 64);
    mdb_fn_at(&a, w)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&a, w)->address = 0x1000;
    mdb_fn_at(&a, w)->entry_region = 5000;
    uint32_t helper = mdb_fn(&a, "helper", 300);
    mdb_fn_at(&a, helper)->address = 0x1100;
    mdb_fn_at(&a, helper)->entry_region = 300;
    uint32_t comdat = mdb_fn(&a, "inline_fn", 32);
    mdb_fn_at(&a, comdat)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&a, comdat)->entry_region = 32; /* address 0: COMDAT */
    uint32_t ext = mdb_fn(&a, "exported", 48);
    mdb_fn_at(&a, ext)->address = 0x1200;
    mdb_fn_at(&a, ext)->entry_region = 48;
    mdb_local(&a, w, helper);
    mdb_ref(&bb, "exported", 1, 2); /* another module takes its address */
    mdb_fn(&bb, "other", 16);

    struct built ra, rb;
    build(&ra, &a);
    build(&rb, &bb);
    uint32_t entries_a[4], entries_b[1];
    uint32_t frames[4] = { 80, 200, 32, 40 };
    ra.r.frames = frames;
    ra.r.entry_regions = entries_a;
    rb.r.entry_regions = entries_b;
    struct bounds_record v[2] = { ra.r, rb.r };
    struct bounds_stats st;
    CHECK_EQ(bounds_compute(v, 2, LIMIT_SLACK, &st), 0);
    CHECK_EQ(entries_a[0], 80 + 200);
    CHECK_EQ(entries_a[1], 0); /* not a thread entry */
    CHECK_EQ(entries_a[2], 0); /* no address */
    CHECK_EQ(entries_a[3], 40);
    CHECK_EQ(entries_b[0], 0);
    v[0].rewrite = 0;
    CHECK_EQ(bounds_compute(v, 2, LIMIT_SLACK, &st), 0);
    CHECK_EQ(entries_a[0], 5000);
    unbuild(&ra);
    unbuild(&rb);
    mdb_free(&a);
    mdb_free(&bb);
}

/* ---- libcapri's own frames on a first chunk ----------------------------------- */

static volatile int measured;
static uintptr_t m_lo, m_hi, m_sp;

static void *paint_and_return(void *arg)
{
    (void)arg;
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    struct capri_thread *t = thread_current();
    m_lo = t->stack_lo;
    m_hi = t->stack_hi;
    m_sp = sp;
    /* Paint everything below this frame, without a call (a call would
     * write below the stack pointer). */
    for (volatile uint8_t *p = (volatile uint8_t *)m_lo; (uintptr_t)p < sp - 16; p++)
        *p = 0xa5;
    measured = 1;
    return NULL;
}

static void test_entry_frames(void)
{
    capri_config(CAPRI_CONFIG_SCHEDULERS, 1);
    capri_t t;
    measured = 0;
    CHECK_EQ(capri_spawn(&t, paint_and_return, NULL, NULL), 0);
    /* One scheduler: the thread runs to its end (thread_exit switches
     * away) before this one runs again; its chunk stays until the join. */
    while (!measured)
        capri_yield();
    capri_yield();
    uintptr_t low = m_lo;
    while (low < m_sp && *(volatile uint8_t *)low == 0xa5)
        low++;
    size_t before_entry = m_hi - m_sp; /* from the chunk's top to inside the entry */
    size_t at_exit = m_hi - low;       /* the deepest thread_exit went */
    fprintf(stderr, "  libcapri's frames: %zu bytes above the entry function, %zu at exit "
            "(SPAWN_ENTRY_FRAMES %u)\n", before_entry, at_exit, SPAWN_ENTRY_FRAMES);
    CHECK(before_entry <= SPAWN_ENTRY_FRAMES);
    CHECK(at_exit <= SPAWN_ENTRY_FRAMES);
    CHECK_EQ(capri_join(t, NULL), 0);
}

/* A chunk sized for a region keeps the region, libcapri's frames and the
 * limit's room below the thread struct. */
static void test_spawn_bytes(void)
{
    uint32_t regions[] = { 1, 200, 3000, 3500, 4000, 60000, 1u << 20 };
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        size_t bytes = bounds_spawn_bytes(regions[i]);
        unsigned cls = chunk_class_for(bytes);
        if (cls >= CHUNK_CLASSES)
            continue;
        size_t size = chunk_class_size(cls);
        /* The lowest the struct can sit: three cache lines of stagger and
         * alignment down to a line. */
        size_t struct_low = size - 3 * CACHE_LINE - sizeof(struct capri_thread) - CACHE_LINE;
        CHECK(struct_low >= (size_t)limit_for_stack(0) + SPAWN_ENTRY_FRAMES + regions[i]);
    }
    if (SPAWN_ENTRY_FRAMES <= 1024) /* a small entry: 4 KiB (sanitizers need more) */
        CHECK_EQ(chunk_class_for(bounds_spawn_bytes(200)), 0);
}

int main(void)
{
    RUN(test_local_chain);
    RUN(test_checked_and_external);
    RUN(test_kept);
    RUN(test_named);
    RUN(test_clamp);
    RUN(test_small_over);
    RUN(test_lto_indirect);
    RUN(test_entry_regions);
    RUN(test_spawn_bytes);
    RUN(test_entry_frames);
    return test_summary("test_bounds");
}
