/*
 * Unit tests for the whole-program model and the analysis, on records built
 * in memory: linking rules (aliases too), frame correction, indirect-call
 * resolution (the orphan rule too),
 * recursion with and without bounds, roots, findings, verify's statistics,
 * and graphs deep enough (50,000 functions) to overflow any recursive walk.
 */
#include "analysis.h"
#include "md_builder.h"
#include "report.h"
#include "test.h"
#include "verify.h"

#include <stdlib.h>

struct world {
    struct inputs in;
    struct model m;
    struct analysis a;
    struct model_options mo;
    struct analysis_options ao;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->mo.external_reserve = 1000;
    w->mo.indirect = INDIRECT_C_TYPE;
}

static void world_add(struct world *w, struct mdb *b, const char *name,
                      const struct stack_size *sizes, size_t n)
{
    size_t size;
    uint8_t *rec = mdb_build(b, &size);
    struct error err;
    int rc = inputs_add_records(&w->in, name, rec, size, sizes, n, &err);
    if (rc)
        fprintf(stderr, "world_add: %s\n", err.text);
    CHECK_EQ(rc, 0);
    free(rec);
}

static int world_run(struct world *w)
{
    struct error err;
    model_build(&w->m, &w->in, &w->mo);
    int rc = analysis_run(&w->a, &w->m, &w->ao, &err);
    if (rc)
        fprintf(stderr, "analysis: %s\n", err.text);
    return rc;
}

static void world_free(struct world *w)
{
    analysis_free(&w->a);
    model_free(&w->m);
    inputs_free(&w->in);
}

static uint32_t fn(const struct model *m, const char *name)
{
    for (uint32_t i = 0; i < m->function_count; i++)
        if (strcmp(m->functions[i].name, name) == 0)
            return i;
    return NONE;
}

static const struct root *root(const struct analysis *a, const char *name)
{
    for (size_t i = 0; i < a->root_count; i++)
        if (strcmp(a->model->functions[a->roots[i].function].name, name) == 0)
            return &a->roots[i];
    return NULL;
}

static uint64_t worst(const struct world *w, const char *name)
{
    uint32_t f = fn(&w->m, name);
    return f == NONE ? UINT64_MAX : w->a.results[f].worst;
}

static void test_chain_and_externals(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    uint32_t main_fn = mdb_fn(&b, "main", 100);
    uint32_t a = mdb_fn(&b, "a", 20);
    uint32_t c = mdb_fn(&b, "c", 3);
    mdb_local(&b, main_fn, a);
    mdb_local(&b, a, c);
    mdb_named(&b, c, "printf");
    mdb_named(&b, main_fn, "puts");
    world_add(&w, &b, "one.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(worst(&w, "main"), 100 + 20 + 3 + 1000);
    CHECK_EQ(w.a.root_count, 1);
    const struct root *r = root(&w.a, "main");
    CHECK(r && r->worst == 1123 && r->unbounded == 0);
    CHECK_EQ(w.a.external_count, 2);
    CHECK_EQ(finding_count(&w.a, FINDING_EXTERNAL), 2);
    CHECK_EQ(finding_count(&w.a, FINDING_RECURSION), 0);

    struct path_step *steps;
    size_t n = analysis_path(&w.a, fn(&w.m, "main"), &steps);
    CHECK_EQ(n, 4);
    if (n == 4) {
        CHECK_STR(node_label(&w.m, steps[0].node), "main");
        CHECK_STR(node_label(&w.m, steps[1].node), "a");
        CHECK_STR(node_label(&w.m, steps[2].node), "c");
        CHECK_STR(node_label(&w.m, steps[3].node), "printf");
        CHECK_EQ(steps[0].via_site, NONE);
        CHECK_EQ(w.m.nodes[steps[3].node].source, SOURCE_RESERVE);
        CHECK_STR(w.m.sites[steps[3].via_site].callee_name, "printf");
    }
    free(steps);
    world_free(&w);

    /* A different reserve moves the figure. */
    world_init(&w);
    w.mo.external_reserve = 0;
    mdb_init(&b);
    mdb_named(&b, mdb_fn(&b, "main", 8), "printf");
    world_add(&w, &b, "two.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(worst(&w, "main"), 8);
    world_free(&w);
}

static void test_frame_correction(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    const char *names[] = { "plain", "leaf", "leaf_nrz", "aligned", "nobackend", "small_align" };
    for (int i = 0; i < 6; i++)
        mdb_fn_at(&b, mdb_fn(&b, names[i], 999))->address = 0x100 * (uint64_t)(i + 1);
    mdb_fn_at(&b, 1)->flags = CAPRI_MD_FN_LEAF;
    mdb_fn_at(&b, 2)->flags = CAPRI_MD_FN_LEAF | CAPRI_MD_FN_NO_RED_ZONE;
    mdb_fn_at(&b, 3)->log2_align = 6;
    mdb_fn_at(&b, 5)->log2_align = 4;
    struct stack_size sizes[] = { { 0x100, 40 }, { 0x200, 40 }, { 0x300, 40 },
                                  { 0x400, 40 }, { 0x600, 40 }, { 0x600, 24 } };
    world_add(&w, &b, "frames.o", sizes, 6);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    const struct model *m = &w.m;
    CHECK_EQ(m->functions[0].frame, 48);
    CHECK_EQ(m->functions[0].source, SOURCE_BACKEND);
    CHECK_EQ(m->functions[1].frame, 40 + 8 + 128);
    CHECK_EQ(m->functions[2].frame, 48);
    CHECK_EQ(m->functions[3].frame, 40 + 8 + 64);
    CHECK_EQ(m->functions[4].frame, 999);
    CHECK_EQ(m->functions[4].source, SOURCE_ESTIMATE);
    CHECK_EQ(m->functions[5].frame, 48); /* 16-byte alignment needs no realignment; max of dups */
    CHECK_STR(frame_source_name(m->functions[4].source), "estimate");
    world_free(&w);
}

static void test_linking(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;

    /* one.o: main calls f, g (static here), h; defines static g. */
    mdb_init(&b);
    uint32_t main_fn = mdb_fn(&b, "main", 10);
    uint32_t g1 = mdb_fn(&b, "g", 1);
    mdb_fn_at(&b, g1)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_named(&b, main_fn, "f");
    mdb_named(&b, main_fn, "g");
    mdb_named(&b, main_fn, "h");
    world_add(&w, &b, "one.o", NULL, 0);
    mdb_free(&b);

    /* two.o: weak f (small), static g (huge, must not be linked from one.o), k calls g. */
    mdb_init(&b);
    uint32_t f_weak = mdb_fn(&b, "f", 5);
    mdb_fn_at(&b, f_weak)->linkage = CAPRI_MD_LINK_WEAK;
    uint32_t g2 = mdb_fn(&b, "g", 50000);
    mdb_fn_at(&b, g2)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_named(&b, mdb_fn(&b, "k", 1), "g");
    world_add(&w, &b, "two.o", NULL, 0);
    mdb_free(&b);

    /* three.o: strong f (wins over the weak one), strong h. four.o: strong h again. */
    mdb_init(&b);
    mdb_fn(&b, "f", 200);
    mdb_fn(&b, "h", 7);
    world_add(&w, &b, "three.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_fn(&b, "h", 9000);
    world_add(&w, &b, "four.o", NULL, 0);
    mdb_free(&b);

    diag_quiet = 1; /* the duplicate h warns */
    CHECK_EQ(world_run(&w), 0);
    diag_quiet = 0;
    const struct model *m = &w.m;
    uint32_t f_strong = 5; /* one.o: main g; two.o: f g k; three.o: f h; four.o: h */
    CHECK_STR(m->functions[f_strong].name, "f");
    CHECK_EQ(model_lookup(m, "f"), f_strong);
    CHECK(m->functions[2].overridden);  /* the weak f */
    CHECK_EQ(model_lookup(m, "h"), 6);   /* first strong h */
    CHECK(m->functions[7].overridden);  /* the second strong h */
    CHECK_EQ(model_lookup(m, "g"), NONE); /* statics are not global */
    /* main: 10 + max(f 200, g 1, h 7) */
    CHECK_EQ(worst(&w, "main"), 210);
    /* k in two.o links to two.o's static g */
    CHECK_EQ(worst(&w, "k"), 50001);
    CHECK_EQ(w.a.external_count, 0);
    world_free(&w);
}

static void test_indirect(void)
{
    struct world w;
    struct mdb b;
    for (int mode = 0; mode < 2; mode++) {
        world_init(&w);
        w.mo.indirect = mode ? INDIRECT_IR_TYPE : INDIRECT_C_TYPE;
        mdb_init(&b);
        uint32_t main_fn = mdb_fn(&b, "main", 10);
        uint32_t cb_a = mdb_fn(&b, "cb_a", 100);  /* C type 1, IR type 9 */
        uint32_t cb_b = mdb_fn(&b, "cb_b", 300);  /* C type 2, IR type 9 */
        uint32_t lonely = mdb_fn(&b, "lonely", 7); /* C type 3, IR type 8 */
        uint32_t plain = mdb_fn(&b, "plain", 5000); /* not address-taken */
        for (uint32_t i = cb_a; i <= lonely; i++)
            mdb_fn_at(&b, i)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, cb_a)->type_id = 1;
        mdb_fn_at(&b, cb_b)->type_id = 2;
        mdb_fn_at(&b, lonely)->type_id = 3;
        mdb_fn_at(&b, cb_a)->ir_type_id = mdb_fn_at(&b, cb_b)->ir_type_id = 9;
        mdb_fn_at(&b, lonely)->ir_type_id = 8;
        mdb_fn_at(&b, plain)->type_id = 1;
        mdb_fn_at(&b, plain)->ir_type_id = 9;
        mdb_indirect(&b, main_fn, 1, 9, 0);    /* C type 1 */
        mdb_indirect(&b, main_fn, 77, 66, 0);  /* nothing matches */
        world_add(&w, &b, "ind.o", NULL, 0);
        mdb_free(&b);
        CHECK_EQ(world_run(&w), 0);
        if (mode == 0)
            CHECK_EQ(worst(&w, "main"), 10 + 1000); /* cb_a 100 < unresolved 1000 */
        else
            CHECK_EQ(worst(&w, "main"), 10 + 1000);
        CHECK_EQ(w.a.unresolved_count, 1);
        CHECK(w.m.functions[fn(&w.m, "cb_a")].indirect_target);
        CHECK_EQ(w.m.functions[fn(&w.m, "cb_b")].indirect_target, mode == 1);
        CHECK(!w.m.functions[fn(&w.m, "plain")].indirect_target);
        /* lonely is reached by nothing: a root (it may be a callback from outside). */
        CHECK(root(&w.a, "lonely") != NULL);
        CHECK_EQ(root(&w.a, "cb_b") != NULL, mode == 0);
        CHECK(root(&w.a, "cb_a") == NULL);
        world_free(&w);
    }

    /* CAST calls match by IR type too; TYPE_COARSE calls and coarse modules only by IR type. */
    world_init(&w);
    w.mo.external_reserve = 0;
    mdb_init(&b);
    uint32_t cast_caller = mdb_fn(&b, "cast_caller", 1);
    uint32_t coarse_caller = mdb_fn(&b, "coarse_caller", 1);
    uint32_t precise = mdb_fn(&b, "precise", 10);
    uint32_t other = mdb_fn(&b, "other", 20);
    mdb_fn_at(&b, precise)->flags = mdb_fn_at(&b, other)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&b, precise)->type_id = 5;
    mdb_fn_at(&b, other)->type_id = 6;
    mdb_fn_at(&b, precise)->ir_type_id = mdb_fn_at(&b, other)->ir_type_id = 50;
    mdb_indirect(&b, cast_caller, 5, 50, CAPRI_MD_CALLF_CAST);
    mdb_indirect(&b, coarse_caller, 12345, 50, CAPRI_MD_CALLF_TYPE_COARSE);
    world_add(&w, &b, "cast.o", NULL, 0);
    mdb_free(&b);
    /* A coarse module: its function matches C-typed calls by IR type. */
    mdb_init(&b);
    b.flags = CAPRI_MD_MODULE_TYPES_COARSE;
    uint32_t legacy = mdb_fn(&b, "legacy", 400);
    mdb_fn_at(&b, legacy)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&b, legacy)->type_id = 0xdead; /* an IR hash in a coarse module */
    mdb_fn_at(&b, legacy)->ir_type_id = 60;
    world_add(&w, &b, "legacy.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_indirect(&b, mdb_fn(&b, "modern", 1), 7, 60, 0);
    world_add(&w, &b, "modern.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(worst(&w, "cast_caller"), 21);
    CHECK_EQ(worst(&w, "coarse_caller"), 21);
    CHECK_EQ(worst(&w, "modern"), 401);
    CHECK_EQ(w.a.unresolved_count, 0);
    world_free(&w);
}

/* A record's step in a root's path by function name, or NULL. */
static const struct path_step *step_to(const struct world *w, struct path_step *steps, size_t n,
                                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(node_label(&w->m, steps[i].node), name) == 0)
            return &steps[i];
    return NULL;
}

/*
 * ALIASES: a NAMED call by an alias name reaches the aliased function; an
 * alias defines its name under the linkage rules of functions (a static
 * alias only within its record, strong beats weak, of two strong the first).
 */
static void test_aliases(void)
{
    struct world w;
    struct mdb b;

    /* impl.o: real_impl (4000) with a weak alias alias_name and a static alias
     * hidden_alias, which inner (same record) calls. main.o calls both names. */
    world_init(&w);
    mdb_init(&b);
    uint32_t real = mdb_fn(&b, "real_impl", 4000);
    uint32_t inner = mdb_fn(&b, "inner", 10);
    mdb_named(&b, inner, "hidden_alias");
    mdb_alias(&b, "alias_name", real, CAPRI_MD_LINK_WEAK);
    mdb_alias(&b, "hidden_alias", real, CAPRI_MD_LINK_INTERNAL);
    world_add(&w, &b, "impl.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    uint32_t main_fn = mdb_fn(&b, "main", 100);
    mdb_named(&b, main_fn, "alias_name");
    mdb_named(&b, main_fn, "hidden_alias"); /* not visible here: code without metadata */
    world_add(&w, &b, "main.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.m.alias_count, 2);
    CHECK_EQ(model_lookup(&w.m, "alias_name"), fn(&w.m, "real_impl"));
    CHECK_EQ(model_lookup(&w.m, "hidden_alias"), NONE);
    CHECK(w.m.functions[fn(&w.m, "real_impl")].alias_winner);
    CHECK_EQ(worst(&w, "inner"), 4010);
    CHECK_EQ(worst(&w, "main"), 100 + 4000); /* 4000 > the 1000 reserve of hidden_alias */
    CHECK_EQ(w.a.external_count, 1);
    if (w.a.external_count == 1)
        CHECK_STR(node_label(&w.m, w.a.externals[0].node), "hidden_alias");
    struct path_step *steps;
    size_t n = analysis_path(&w.a, fn(&w.m, "main"), &steps);
    const struct path_step *st = step_to(&w, steps, n, "real_impl");
    CHECK(st != NULL);
    if (st) {
        CHECK_STR(w.m.sites[st->via_site].callee_name, "alias_name");
        CHECK_EQ(w.m.sites[st->via_site].resolution, SITE_DIRECT);
    }
    free(steps);
    analysis_free(&w.a);
    /* --root by an alias name. */
    const char *roots[] = { "alias_name" };
    w.ao.roots = roots;
    w.ao.root_count = 1;
    struct error err;
    CHECK_EQ(analysis_run(&w.a, &w.m, &w.ao, &err), 0);
    CHECK_EQ(w.a.root_count, 1);
    CHECK(root(&w.a, "real_impl") != NULL);
    analysis_free(&w.a);
    const char *static_roots[] = { "hidden_alias" };
    w.ao.roots = static_roots;
    CHECK_EQ(analysis_run(&w.a, &w.m, &w.ao, &err), 0);
    CHECK(root(&w.a, "real_impl") != NULL);
    world_free(&w);

    /* A strong function beats a weak alias of that name, whichever comes first;
     * a strong alias beats a weak function. */
    for (int order = 0; order < 2; order++) {
        world_init(&w);
        for (int k = 0; k < 2; k++) {
            mdb_init(&b);
            if ((k == 0) == (order == 0)) {
                uint32_t r = mdb_fn(&b, "real_impl", 4000);
                mdb_alias(&b, "alias_name", r, CAPRI_MD_LINK_WEAK);
                mdb_alias(&b, "weak_loser", r, CAPRI_MD_LINK_EXTERNAL);
                mdb_named(&b, mdb_fn(&b, "main", 100), "alias_name");
            } else {
                mdb_fn(&b, "alias_name", 50); /* strong */
                uint32_t wl = mdb_fn(&b, "weak_loser", 7);
                mdb_fn_at(&b, wl)->linkage = CAPRI_MD_LINK_WEAK;
                mdb_named(&b, mdb_fn(&b, "other", 1), "weak_loser");
            }
            world_add(&w, &b, k == 0 ? "first.o" : "second.o", NULL, 0);
            mdb_free(&b);
        }
        CHECK_EQ(world_run(&w), 0);
        uint32_t strong = model_lookup(&w.m, "alias_name");
        CHECK(strong != NONE && w.m.functions[strong].entry.frame_estimate == 50);
        CHECK_EQ(worst(&w, "main"), 150);
        CHECK_EQ(model_lookup(&w.m, "weak_loser"), fn(&w.m, "real_impl"));
        CHECK_EQ(worst(&w, "other"), 4001);
        CHECK(w.m.functions[fn(&w.m, "weak_loser")].overridden);
        CHECK(!w.m.functions[fn(&w.m, "real_impl")].overridden);
        for (size_t i = 0; i < w.m.alias_count; i++)
            CHECK_EQ(w.m.aliases[i].overridden, strcmp(w.m.aliases[i].name, "alias_name") == 0);
        world_free(&w);
    }

    /* Two strong definitions, a function and an alias: the first wins, with a warning. */
    world_init(&w);
    mdb_init(&b);
    mdb_fn(&b, "dup", 10);
    world_add(&w, &b, "one.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_alias(&b, "dup", mdb_fn(&b, "big", 9000), CAPRI_MD_LINK_EXTERNAL);
    mdb_named(&b, mdb_fn(&b, "main", 1), "dup");
    world_add(&w, &b, "two.o", NULL, 0);
    mdb_free(&b);
    diag_quiet = 1;
    CHECK_EQ(world_run(&w), 0);
    diag_quiet = 0;
    CHECK_EQ(worst(&w, "main"), 11);
    CHECK(w.m.aliases[0].overridden);
    world_free(&w);

    /* A library: a static function exported only through a global alias is a
     * root; a weak function that lost its name but whose alias won stays a
     * live indirect-call candidate. */
    world_init(&w);
    mdb_init(&b);
    uint32_t impl = mdb_fn(&b, "impl", 30);
    mdb_fn_at(&b, impl)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_alias(&b, "api", impl, CAPRI_MD_LINK_EXTERNAL);
    uint32_t wf = mdb_fn(&b, "wf", 60);
    mdb_fn_at(&b, wf)->linkage = CAPRI_MD_LINK_WEAK;
    mdb_fn_at(&b, wf)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&b, wf)->type_id = 7;
    mdb_fn_at(&b, wf)->ir_type_id = 8;
    mdb_alias(&b, "wf_alias", wf, CAPRI_MD_LINK_EXTERNAL);
    world_add(&w, &b, "lib.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_fn(&b, "wf", 5); /* strong: wins the name wf */
    mdb_indirect(&b, mdb_fn(&b, "caller", 1), 7, 8, 0);
    world_add(&w, &b, "strong.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK(root(&w.a, "impl") != NULL);
    uint32_t weak_wf = fn(&w.m, "wf"); /* lib.o's comes first */
    CHECK(w.m.functions[weak_wf].overridden);
    CHECK(function_live(&w.m.functions[weak_wf]));
    CHECK(w.m.functions[weak_wf].indirect_target);
    CHECK_EQ(worst(&w, "caller"), 61);
    world_free(&w);
}

/*
 * The orphan rule (--indirect c-type): a function whose pointer is cast to
 * another C type, and whose own C type no indirect call has, is reached by
 * C-typed calls of its IR type; callbacks whose C types have calls stay apart.
 */
static void test_orphans(void)
{
    struct world w;
    struct mdb b;
    for (int mode = 0; mode < 2; mode++) {
        world_init(&w);
        w.mo.indirect = mode ? INDIRECT_C_TYPE_STRICT : INDIRECT_C_TYPE;
        /* things.o: void free_thing(struct thing *) stored as dtor_fn
         * (void (*)(void *)) and called through it: C types 0x10 and 0x20,
         * IR type 0x50 both. int_cb/point_cb: same IR type 0x60, C types 1
         * and 2, each with its own call; point_cb_impl calls run_int_cb, so
         * confusing them would make a cycle. */
        mdb_init(&b);
        uint32_t main_fn = mdb_fn(&b, "main", 100);
        uint32_t free_thing = mdb_fn(&b, "free_thing", 4000);
        mdb_fn_at(&b, free_thing)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, free_thing)->type_id = 0x10;
        mdb_fn_at(&b, free_thing)->ir_type_id = 0x50;
        uint32_t destroy = mdb_fn(&b, "destroy", 20);
        mdb_local(&b, main_fn, destroy);
        mdb_indirect(&b, destroy, 0x20, 0x50, 0);
        uint32_t run_int = mdb_fn(&b, "run_int_cb", 30);
        uint32_t run_point = mdb_fn(&b, "run_point_cb", 40);
        uint32_t int_impl = mdb_fn(&b, "int_cb_impl", 50);
        uint32_t point_impl = mdb_fn(&b, "point_cb_impl", 60);
        mdb_fn_at(&b, int_impl)->flags = mdb_fn_at(&b, point_impl)->flags =
            CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, int_impl)->type_id = 1;
        mdb_fn_at(&b, point_impl)->type_id = 2;
        mdb_fn_at(&b, int_impl)->ir_type_id = mdb_fn_at(&b, point_impl)->ir_type_id = 0x60;
        mdb_indirect(&b, run_int, 1, 0x60, 0);
        mdb_indirect(&b, run_point, 2, 0x60, 0);
        mdb_local(&b, point_impl, run_int);
        mdb_local(&b, main_fn, run_point);
        /* A signal handler (C 3, IR 0x70) no call matches even by IR type. */
        uint32_t handler = mdb_fn(&b, "handler", 70);
        mdb_fn_at(&b, handler)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
        mdb_fn_at(&b, handler)->type_id = 3;
        mdb_fn_at(&b, handler)->ir_type_id = 0x70;
        /* libc_dtor: referenced under C 0x30, IR 0x50, defined nowhere. */
        mdb_ref(&b, "libc_dtor", 0x30, 0x50);
        world_add(&w, &b, "things.o", NULL, 0);
        mdb_free(&b);
        /* dead.o: a weak copy that loses to strong.o's: its call with free_thing's
         * C type never runs, so free_thing stays an orphan. */
        mdb_init(&b);
        uint32_t dead = mdb_fn(&b, "dead", 1);
        mdb_fn_at(&b, dead)->linkage = CAPRI_MD_LINK_WEAK;
        mdb_indirect(&b, dead, 0x10, 0x50, 0);
        world_add(&w, &b, "dead.o", NULL, 0);
        mdb_free(&b);
        mdb_init(&b);
        mdb_fn(&b, "dead", 1);
        world_add(&w, &b, "strong.o", NULL, 0);
        mdb_free(&b);
        CHECK_EQ(world_run(&w), 0);

        const struct model *m = &w.m;
        CHECK_EQ(m->functions[fn(m, "free_thing")].orphan, mode == 0);
        CHECK_EQ(m->functions[fn(m, "handler")].orphan, mode == 0);
        CHECK(!m->functions[fn(m, "int_cb_impl")].orphan);
        CHECK(!m->functions[fn(m, "point_cb_impl")].orphan);
        CHECK_EQ(m->orphan_count, mode == 0 ? 3u : 0u); /* free_thing, handler, libc_dtor */
        /* The cast is found: destroy -> {free_thing 4000, libc_dtor reserve 1000}. */
        CHECK_EQ(worst(&w, "destroy"), mode == 0 ? 4020u : 1020u);
        CHECK_EQ(w.a.unresolved_count, mode == 0 ? 0u : 1u);
        /* libc_dtor has no metadata: an external finding for destroy's call
         * (and for dead's, which findings still list). */
        size_t from_destroy = 0;
        for (size_t i = 0; i < w.a.external_count; i++)
            if (strcmp(m->functions[m->sites[w.a.externals[i].site].caller].name, "destroy") ==
                0) {
                from_destroy++;
                CHECK(w.a.externals[i].indirect);
                CHECK_STR(node_label(m, w.a.externals[i].node), "libc_dtor");
            }
        CHECK_EQ(from_destroy, mode == 0 ? 1u : 0u);
        /* The callbacks of one IR type but two C types stay apart: no cycle. */
        CHECK_EQ(w.a.cycle_count, 0);
        CHECK_EQ(worst(&w, "run_point_cb"), 40 + 60 + 30 + 50);
        /* Orphans keep their roots: the orphan edge is a guess. */
        CHECK(root(&w.a, "free_thing") != NULL);
        CHECK(root(&w.a, "handler") != NULL);
        CHECK(!m->functions[fn(m, "free_thing")].indirect_target);
        CHECK_EQ(root(&w.a, "main")->worst, mode == 0 ? 100u + 4020 : 100u + 1020);
        if (mode == 0) {
            struct path_step *steps;
            size_t n = analysis_path(&w.a, fn(m, "main"), &steps);
            const struct path_step *st = step_to(&w, steps, n, "free_thing");
            CHECK(st && st->indirect && st->orphan);
            free(steps);
        }
        world_free(&w);
    }

    /* What the rule does not count: a call by IR type only (a coarse module)
     * does not stop an orphan, a reference is not a call, and a REFERENCES
     * entry under a called C type makes the function a plain candidate. */
    world_init(&w);
    mdb_init(&b);
    uint32_t cast_me = mdb_fn(&b, "cast_me", 300);
    mdb_fn_at(&b, cast_me)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&b, cast_me)->type_id = 0x11;
    mdb_fn_at(&b, cast_me)->ir_type_id = 0x55;
    uint32_t named_later = mdb_fn(&b, "named_later", 500); /* not flagged here */
    mdb_fn_at(&b, named_later)->type_id = 0x12;
    mdb_fn_at(&b, named_later)->ir_type_id = 0x55;
    mdb_indirect(&b, mdb_fn(&b, "c_caller", 1), 0x99, 0x55, 0);
    world_add(&w, &b, "a.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    b.flags = CAPRI_MD_MODULE_TYPES_COARSE;
    mdb_indirect(&b, mdb_fn(&b, "coarse_caller", 1), 0x11, 0x55, 0);
    world_add(&w, &b, "coarse.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_ref(&b, "cast_me", 0x13, 0x55);     /* another C type: still an orphan */
    mdb_ref(&b, "named_later", 0x99, 0x55); /* the called C type */
    world_add(&w, &b, "refs.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK(w.m.functions[fn(&w.m, "cast_me")].orphan);
    CHECK(!w.m.functions[fn(&w.m, "named_later")].orphan);
    CHECK(w.m.functions[fn(&w.m, "named_later")].indirect_target);
    CHECK_EQ(worst(&w, "c_caller"), 501);
    CHECK_EQ(worst(&w, "coarse_caller"), 501);
    CHECK(w.m.functions[fn(&w.m, "cast_me")].indirect_target); /* by the coarse call */
    world_free(&w);
}

static void test_references_and_asm(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    uint32_t main_fn = mdb_fn(&b, "main", 10);
    mdb_indirect(&b, main_fn, 4, 40, 0);
    mdb_asm(&b, mdb_fn(&b, "asmfn", 3));
    mdb_ref(&b, "handler", 4, 40);   /* defined in two.o, not marked there */
    mdb_ref(&b, "libc_func", 4, 40); /* defined nowhere: code without metadata */
    world_add(&w, &b, "one.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    uint32_t h = mdb_fn(&b, "handler", 77);
    mdb_fn_at(&b, h)->type_id = 4;
    mdb_fn_at(&b, h)->ir_type_id = 40;
    world_add(&w, &b, "two.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK(w.m.functions[fn(&w.m, "handler")].address_taken);
    CHECK(w.m.functions[fn(&w.m, "handler")].indirect_target);
    /* main -> {handler 77, libc_func reserve 1000} */
    CHECK_EQ(worst(&w, "main"), 1010);
    CHECK_EQ(w.a.unresolved_count, 1); /* the asm call */
    CHECK_STR(site_kind(&w.m.sites[w.a.unresolved_sites[0]]), "asm");
    CHECK_EQ(worst(&w, "asmfn"), 1003);
    /* The indirect call may reach libc_func, which has no metadata: an external finding. */
    CHECK_EQ(w.a.external_count, 1);
    if (w.a.external_count == 1) {
        CHECK(w.a.externals[0].indirect);
        CHECK_STR(node_label(&w.m, w.a.externals[0].node), "libc_func");
        CHECK_STR(w.m.functions[w.m.sites[w.a.externals[0].site].caller].name, "main");
    }
    world_free(&w);

    /* A cast call matched both by C type and by IR type lists the candidate once;
     * a NAMED call to the same function is a finding of its own. */
    world_init(&w);
    mdb_init(&b);
    main_fn = mdb_fn(&b, "main", 10);
    mdb_indirect(&b, main_fn, 4, 40, CAPRI_MD_CALLF_CAST);
    mdb_named(&b, main_fn, "libc_func");
    mdb_ref(&b, "libc_func", 4, 40);
    world_add(&w, &b, "one.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.external_count, 2);
    if (w.a.external_count == 2) {
        CHECK(w.a.externals[0].indirect);
        CHECK(!w.a.externals[1].indirect);
        CHECK_EQ(w.a.externals[0].node, w.a.externals[1].node);
    }
    CHECK_EQ(finding_count(&w.a, FINDING_EXTERNAL), 2);
    world_free(&w);
}

static void test_recursion(void)
{
    struct world w;
    world_init(&w);
    w.mo.external_reserve = 0;
    struct mdb b;
    mdb_init(&b);
    /* self: unbounded self-recursion. */
    uint32_t self = mdb_fn(&b, "self", 10);
    mdb_local(&b, self, self);
    /* bself: bounded self-recursion, bound 4 -> (4+1) * 10. */
    uint32_t bself = mdb_fn(&b, "bself", 10);
    mdb_fn_at(&b, bself)->bound = 4;
    mdb_local(&b, bself, bself);
    /* pa <-> pb, only pa bounded (3): removing pa breaks the cycle -> (3+1)*(2+5) + exit. */
    uint32_t pa = mdb_fn(&b, "pa", 2);
    uint32_t pb = mdb_fn(&b, "pb", 5);
    uint32_t leafy = mdb_fn(&b, "leafy", 100);
    mdb_fn_at(&b, pa)->bound = 3;
    mdb_local(&b, pa, pb);
    mdb_local(&b, pb, pa);
    mdb_local(&b, pb, leafy);
    /* qa -> qb -> qc -> qb, qb -> qa; qa bounded: qb<->qc stays a cycle -> unbounded. */
    uint32_t qa = mdb_fn(&b, "qa", 1);
    uint32_t qb = mdb_fn(&b, "qb", 1);
    uint32_t qc = mdb_fn(&b, "qc", 1);
    mdb_fn_at(&b, qa)->bound = 9;
    mdb_local(&b, qa, qb);
    mdb_local(&b, qb, qc);
    mdb_local(&b, qc, qb);
    mdb_local(&b, qb, qa);
    /* top calls all of them. */
    uint32_t top = mdb_fn(&b, "top", 1);
    mdb_local(&b, top, self);
    mdb_local(&b, top, bself);
    mdb_local(&b, top, pa);
    /* tail: a tail self-call is still recursion. */
    uint32_t tail = mdb_fn(&b, "tail", 4);
    mdb_local(&b, tail, tail);
    b.calls[b.call_count - 1].flags = CAPRI_MD_CALLF_TAIL;
    world_add(&w, &b, "rec.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    const struct analysis *a = &w.a;
    CHECK_EQ(a->cycle_count, 5);
    CHECK_EQ(a->unbounded_cycles, 3); /* self, q*, tail */
    CHECK_EQ(worst(&w, "bself"), 50);
    CHECK_EQ(worst(&w, "pa"), 4 * 7 + 100);
    CHECK_EQ(worst(&w, "pb"), 4 * 7 + 100);
    CHECK(a->results[fn(&w.m, "self")].unbounded & UNBOUNDED_RECURSION);
    CHECK(!(a->results[fn(&w.m, "bself")].unbounded & UNBOUNDED_RECURSION));
    CHECK(a->results[fn(&w.m, "qa")].unbounded & UNBOUNDED_RECURSION);
    CHECK(a->results[fn(&w.m, "top")].unbounded & UNBOUNDED_RECURSION);
    /* An unbounded node's path leads into the unbounded recursion (self, one
     * trip: 10), not to its largest bounded figure (pa: 128); its figure is
     * that path's lower bound. */
    CHECK_EQ(worst(&w, "top"), 1 + 10);
    {
        uint32_t e = a->results[fn(&w.m, "top")].next_edge;
        CHECK(e != NONE);
        if (e != NONE)
            CHECK_EQ(w.m.edges[e].to, fn(&w.m, "self"));
    }
    for (size_t i = 0; i < a->cycle_count; i++) {
        const struct cycle *cy = &a->cycles[i];
        if (cy->count == 2 && strcmp(w.m.functions[cy->functions[0]].name, "pa") == 0) {
            CHECK(cy->bounded);
            CHECK_EQ(cy->bound_sum, 3);
            CHECK_EQ(cy->frame_sum, 7);
            CHECK_EQ(cy->charge, 28);
        }
        if (cy->count == 3)
            CHECK(!cy->bounded);
    }
    /* Without main the roots are the uncalled globals: top, qa? (called by qb), tail? */
    CHECK(root(a, "top") != NULL);
    CHECK(root(a, "tail") == NULL); /* calls itself, so it is called */
    CHECK_EQ(a->roots[0].unbounded != 0, 1);
    world_free(&w);
}

static void test_findings_follow_roots(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    uint32_t one = mdb_fn(&b, "one", 1), two = mdb_fn(&b, "two", 2);
    uint32_t loop = mdb_fn(&b, "loop", 3), other = mdb_fn(&b, "other", 4);
    mdb_local(&b, one, loop);
    mdb_local(&b, loop, loop);
    mdb_named(&b, two, "puts");
    mdb_local(&b, other, other);
    world_add(&w, &b, "f.o", NULL, 0);
    mdb_free(&b);
    const char *roots[] = { "one" };
    w.ao.roots = roots;
    w.ao.root_count = 1;
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.cycle_count, 1);
    CHECK_EQ(w.a.unbounded_cycles, 1);
    CHECK_EQ(w.a.cycles[0].functions[0], loop);
    CHECK_EQ(w.a.results[loop].cycle, 0);
    CHECK_EQ(w.a.results[other].cycle, NONE);
    CHECK_EQ(w.a.external_count, 0);
    analysis_free(&w.a);
    w.ao.root_count = 0; /* the whole program */
    struct error err;
    CHECK_EQ(analysis_run(&w.a, &w.m, &w.ao, &err), 0);
    CHECK_EQ(w.a.cycle_count, 2);
    CHECK_EQ(w.a.external_count, 1);
    world_free(&w);
}

static void test_recursion_across_records(void)
{
    struct world w;
    world_init(&w);
    w.mo.external_reserve = 0;
    struct mdb b;
    mdb_init(&b);
    mdb_named(&b, mdb_fn(&b, "main", 1), "ping");
    mdb_named(&b, mdb_fn(&b, "ping", 10), "pong");
    world_add(&w, &b, "a.o", NULL, 0);
    mdb_free(&b);
    mdb_init(&b);
    mdb_named(&b, mdb_fn(&b, "pong", 20), "ping");
    world_add(&w, &b, "b.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.unbounded_cycles, 1);
    CHECK_EQ(w.a.cycles[0].count, 2);
    CHECK_EQ(w.a.root_count, 1);
    CHECK(w.a.roots[0].unbounded & UNBOUNDED_RECURSION);
    CHECK_EQ(w.a.roots[0].worst, 31);
    world_free(&w);
}

static void test_roots_and_findings(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    uint32_t main_fn = mdb_fn(&b, "main", 10);
    uint32_t vla = mdb_fn(&b, "vla", 30);
    uint32_t unused = mdb_fn(&b, "unused", 5);
    uint32_t st = mdb_fn(&b, "local_helper", 7);
    mdb_fn_at(&b, vla)->flags = CAPRI_MD_FN_DYNAMIC_ALLOCA;
    mdb_fn_at(&b, st)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_local(&b, main_fn, vla);
    (void)unused;
    world_add(&w, &b, "r.o", NULL, 0);
    mdb_free(&b);
    w.ao.has_stack_limit = 1;
    w.ao.stack_limit = 20;
    CHECK_EQ(world_run(&w), 0);
    /* With main, uncalled functions are not roots. */
    CHECK_EQ(w.a.root_count, 1);
    CHECK(w.a.roots[0].unbounded & UNBOUNDED_DYNAMIC);
    CHECK_EQ(w.a.roots[0].worst, 40);
    CHECK_EQ(w.a.dynamic_count, 1);
    CHECK_EQ(w.a.over_limit_count, 1);
    CHECK_EQ(finding_count(&w.a, FINDING_DYNAMIC_ALLOCA), 1);
    CHECK_EQ(finding_count(&w.a, FINDING_STACK_LIMIT), 1);
    CHECK_STR(unbounded_reason(w.a.roots[0].unbounded), "dynamic-alloca");
    struct report r = { &w.in, &w.m, &w.a, 1u << FINDING_DYNAMIC_ALLOCA, 0 };
    CHECK(report_fails(&r, FINDING_DYNAMIC_ALLOCA));
    CHECK(!report_fails(&r, FINDING_EXTERNAL));
    analysis_free(&w.a);

    /* Chosen roots, a static one among them; an unknown one is an error. */
    const char *names[] = { "unused", "local_helper" };
    w.ao.roots = names;
    w.ao.root_count = 2;
    w.ao.has_stack_limit = 0;
    struct error err;
    CHECK_EQ(analysis_run(&w.a, &w.m, &w.ao, &err), 0);
    CHECK_EQ(w.a.root_count, 2);
    CHECK_EQ(w.a.over_limit_count, 0);
    CHECK_EQ(w.a.dynamic_count, 0); /* vla is not reachable from these roots */
    CHECK_STR(w.m.functions[w.a.roots[0].function].name, "local_helper"); /* 7 > 5 */
    analysis_free(&w.a);
    const char *bad[] = { "nonexistent" };
    w.ao.roots = bad;
    w.ao.root_count = 1;
    CHECK_EQ(analysis_run(&w.a, &w.m, &w.ao, &err), -1);
    CHECK_CONTAINS(err.text, "nonexistent");
    world_free(&w);

    /* A library without main: uncalled globals are roots, statics are not. */
    world_init(&w);
    mdb_init(&b);
    uint32_t api = mdb_fn(&b, "api", 10);
    uint32_t inner = mdb_fn(&b, "inner", 10);
    uint32_t hidden = mdb_fn(&b, "hidden", 10);
    mdb_fn_at(&b, hidden)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_local(&b, api, inner);
    world_add(&w, &b, "lib.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.root_count, 1);
    CHECK(root(&w.a, "api") != NULL);
    world_free(&w);

    /* Everything in one cycle: one root per entry component. */
    world_init(&w);
    mdb_init(&b);
    uint32_t x = mdb_fn(&b, "x", 1), y = mdb_fn(&b, "y", 2);
    mdb_local(&b, x, y);
    mdb_local(&b, y, x);
    world_add(&w, &b, "cyc.o", NULL, 0);
    mdb_free(&b);
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.root_count, 1);
    world_free(&w);
}

/* A call chain and a cycle of 50,000 functions each: recursion-free walks only. */
static void test_deep_graphs(void)
{
    enum { N = 50000 };
    static char names[2 * N][16];
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "c%u", i);
        mdb_fn(&b, names[i], 2);
        if (i > 0)
            mdb_local(&b, i - 1, i);
    }
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[N + i], sizeof names[N + i], "r%u", i);
        mdb_fn(&b, names[N + i], 1);
        mdb_local(&b, N + i, N + (i + 1) % N);
    }
    mdb_local(&b, N - 1, N); /* the chain ends in the cycle */
    mdb_fn_at(&b, N)->bound = 2;
    world_add(&w, &b, "deep.o", NULL, 0);
    mdb_free(&b);
    w.mo.external_reserve = 0;
    CHECK_EQ(world_run(&w), 0);
    CHECK_EQ(w.a.cycle_count, 1);
    CHECK(w.a.cycles[0].bounded);
    CHECK_EQ(w.a.cycles[0].count, N);
    /* chain 2*N + cycle (2+1)*N */
    CHECK_EQ(worst(&w, "c0"), 2 * N + 3 * N);
    CHECK_EQ(w.a.root_count, 1);
    struct path_step *steps;
    size_t n = analysis_path(&w.a, fn(&w.m, "c0"), &steps);
    CHECK_EQ(n, N + 1);
    free(steps);
    /* Every report walks the same graph without recursion either. */
    FILE *null = fopen("/dev/null", "w");
    struct report r = { &w.in, &w.m, &w.a, ~0u, 1 };
    report_text(null, &r);
    report_json(null, &r);
    report_sarif(null, &r);
    report_dot(null, &r);
    fclose(null);
    world_free(&w);
}

static void test_verify_summary(void)
{
    struct world w;
    world_init(&w);
    struct mdb b;
    mdb_init(&b);
    /* Estimates against backend sizes (corrected +8): ratios 0.5, 1, 2, 4; one without
     * backend, one without estimate. */
    uint32_t est[] = { 24, 48, 96, 192, 10, 0 };
    for (int i = 0; i < 6; i++) {
        char *name = malloc(8);
        snprintf(name, 8, "v%d", i);
        uint32_t f = mdb_fn(&b, name, est[i]);
        mdb_fn_at(&b, f)->address = 0x10 * (uint64_t)(i + 1);
    }
    struct stack_size sizes[] = { { 0x10, 40 }, { 0x20, 40 }, { 0x30, 40 }, { 0x40, 40 },
                                  { 0x60, 40 } };
    world_add(&w, &b, "v.o", sizes, 5);
    for (size_t i = 0; i < b.fn_count; i++)
        free((char *)b.fns[i].name);
    mdb_free(&b);
    model_build(&w.m, &w.in, &w.mo);
    struct verify_summary s;
    verify_summarise(&s, &w.m);
    CHECK_EQ(s.functions, 6);
    CHECK_EQ(s.compared, 4);
    CHECK_EQ(s.without_backend, 1);
    CHECK_EQ(s.without_estimate, 1);
    CHECK_EQ(s.under_count, 1);
    CHECK(s.median > 1.49 && s.median < 1.51);
    CHECK(s.p90 > 3.99 && s.p90 < 4.01);
    CHECK(s.max > 3.99 && s.max < 4.01);
    CHECK(s.min > 0.49 && s.min < 0.51);
    CHECK_EQ(s.sum_estimates, 24 + 48 + 96 + 192);
    CHECK_EQ(s.sum_corrected, 4 * 48);
    free(s.under);
    FILE *null = fopen("/dev/null", "w");
    struct error err;
    CHECK_EQ(verify_run(null, &w.m, 0, &err), EXIT_FINDINGS);
    CHECK_EQ(verify_run(null, &w.m, 1, &err), EXIT_FINDINGS);
    fclose(null);
    world_free(&w);
}

int main(void)
{
    RUN(test_chain_and_externals);
    RUN(test_frame_correction);
    RUN(test_linking);
    RUN(test_indirect);
    RUN(test_aliases);
    RUN(test_orphans);
    RUN(test_references_and_asm);
    RUN(test_recursion);
    RUN(test_recursion_across_records);
    RUN(test_findings_follow_roots);
    RUN(test_roots_and_findings);
    RUN(test_deep_graphs);
    RUN(test_verify_summary);
    return test_summary("test_model");
}
