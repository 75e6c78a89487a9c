/*
 * Unit tests for the ELF and archive reader on real files built from
 * hand-made records (see CMakeLists.txt): every function's address slot must
 * resolve to the address .stack_sizes uses, in objects, executables, shared
 * objects, DT_RELR binaries, `ld -r` merges and archives. Then the reader is
 * fed every truncation and many mutations of those files, and hand-built
 * archives in GNU and BSD formats.
 */
#include "input.h"
#include "model.h"
#include "test.h"

#include <stdlib.h>

static const char *dir;

static uint8_t *slurp(const char *name, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        test_failures++;
        *size = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

/* Load a file and check every function got its backend size. */
static void check_file(const char *name, size_t objects, size_t records, size_t functions)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct inputs in;
    memset(&in, 0, sizeof in);
    struct error err;
    diag_quiet = 1;
    int rc = inputs_add_file(&in, path, &err);
    if (rc == 0)
        rc = inputs_finish(&in, &err);
    diag_quiet = 0;
    if (rc) {
        fprintf(stderr, "%s: %s\n", name, err.text);
        test_failures++;
        return;
    }
    CHECK_EQ(in.count, objects);
    size_t nrec = 0;
    for (size_t i = 0; i < in.count; i++) {
        nrec += in.objects[i].record_count;
        CHECK(in.objects[i].has_stack_sizes);
    }
    CHECK_EQ(nrec, records);
    struct model m;
    struct model_options mo = { DEFAULT_EXTERNAL_RESERVE, INDIRECT_C_TYPE };
    model_build(&m, &in, &mo);
    CHECK_EQ(m.function_count, functions);
    for (size_t i = 0; i < m.function_count; i++) {
        const struct function *f = &m.functions[i];
        if (!f->has_backend || f->address == 0)
            fprintf(stderr, "%s: %s has address 0x%llx and no backend size\n", name, f->name,
                    (unsigned long long)f->address);
        CHECK(f->address != 0);
        CHECK(f->has_backend);
        CHECK_EQ(f->source, SOURCE_BACKEND);
    }
    /* Each function's address is its own. */
    for (size_t i = 0; i < m.function_count; i++)
        for (size_t k = i + 1; k < m.function_count; k++)
            if (m.functions[i].module == m.functions[k].module)
                CHECK(m.functions[i].address != m.functions[k].address);
    model_free(&m);
    inputs_free(&in);
}

static void test_linked_and_objects(void)
{
    check_file("a.o", 1, 1, 3);
    check_file("b.o", 1, 1, 3);
    check_file("nopie", 1, 2, 6);
    check_file("pie", 1, 2, 6);
    check_file("relr", 1, 2, 6);
    check_file("lib.so", 1, 2, 6);
    check_file("ab.o", 1, 2, 6);
    check_file("lib.a", 2, 2, 6);
}

/* Frames agree between the objects and every linked form. */
static void test_same_frames(void)
{
    const char *files[] = { "nopie", "pie", "relr", "lib.so", "ab.o", "lib.a" };
    uint64_t want[6] = { 0 };
    for (size_t f = 0; f < 7; f++) {
        struct inputs in;
        memset(&in, 0, sizeof in);
        struct error err;
        char path[1024];
        int rc = 0;
        if (f == 0) {
            snprintf(path, sizeof path, "%s/a.o", dir);
            rc |= inputs_add_file(&in, path, &err);
            snprintf(path, sizeof path, "%s/b.o", dir);
            rc |= inputs_add_file(&in, path, &err);
        } else {
            snprintf(path, sizeof path, "%s/%s", dir, files[f - 1]);
            rc |= inputs_add_file(&in, path, &err);
        }
        CHECK_EQ(rc, 0);
        struct model m;
        struct model_options mo = { DEFAULT_EXTERNAL_RESERVE, INDIRECT_C_TYPE };
        model_build(&m, &in, &mo);
        CHECK_EQ(m.function_count, 6);
        for (size_t i = 0; i < 6 && i < m.function_count; i++) {
            if (f == 0)
                want[i] = m.functions[i].frame;
            else if (m.functions[i].frame != want[i]) {
                fprintf(stderr, "%s: %s frame %llu, objects say %llu\n", files[f - 1],
                        m.functions[i].name, (unsigned long long)m.functions[i].frame,
                        (unsigned long long)want[i]);
                test_failures++;
            }
        }
        /* leafy is a leaf: its figure includes the red zone. */
        uint32_t leafy = model_lookup(&m, "leafy");
        CHECK(leafy != NONE && m.functions[leafy].frame >= 128 + 8);
        model_free(&m);
        inputs_free(&in);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Read a buffer as capri-stack would, on an exact-size copy; all that matters is no crash. */
static int read_buffer(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct inputs in;
    memset(&in, 0, sizeof in);
    struct error err;
    int rc = inputs_add_buffer(&in, "buffer", copy, size, &err);
    if (rc == 0)
        rc = inputs_finish(&in, &err);
    if (rc == 0) {
        struct model m;
        struct model_options mo = { DEFAULT_EXTERNAL_RESERVE, INDIRECT_C_TYPE };
        model_build(&m, &in, &mo);
        model_free(&m);
    } else {
        CHECK(err.text[0] != '\0');
    }
    inputs_free(&in);
    free(copy);
    return rc;
}

static void test_truncations_and_mutations(void)
{
    const char *files[] = { "a.o", "b.o", "pie", "lib.a" };
    diag_quiet = 1;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t size;
        uint8_t *data = slurp(files[f], &size);
        if (!data)
            continue;
        CHECK_EQ(read_buffer(data, size), 0);
        /* Every proper prefix of an ELF file is an error (the section headers
         * come last); an archive cut at a member boundary is merely shorter. */
        size_t failed = 0, step = size > 8192 ? 7 : 1;
        for (size_t n = 0; n < size; n += step)
            failed += read_buffer(data, n) != 0;
        if (strcmp(files[f], "lib.a") != 0)
            CHECK_EQ(failed, (size - 1) / step + 1);
        /* Random byte, word and length mutations. */
        uint8_t *m = malloc(size);
        for (int i = 0; i < 3000; i++) {
            memcpy(m, data, size);
            int edits = 1 + (int)(next_random() % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = (size_t)(next_random() % size);
                switch (next_random() % 4) {
                case 0: m[at] = (uint8_t)next_random(); break;
                case 1: m[at] ^= (uint8_t)(1u << (next_random() % 8)); break;
                case 2:
                    if (at + 8 <= size) {
                        uint64_t v = next_random() % 3 == 0 ? UINT64_MAX : next_random() % 0x10000;
                        memcpy(m + at, &v, 8);
                    }
                    break;
                default:
                    if (at + 4 <= size)
                        memset(m + at, 0, 4);
                    break;
                }
            }
            read_buffer(m, size);
        }
        free(m);
        free(data);
    }
    diag_quiet = 0;
}

/* ---- Hand-built archives ---------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len;
};

static void put(struct buf *b, const void *data, size_t n)
{
    b->p = realloc(b->p, b->len + n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void member(struct buf *b, const char *name, const uint8_t *data, size_t size)
{
    char h[61];
    snprintf(h, sizeof h, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", name, "0", "0", "0", "644", size);
    put(b, h, 60);
    put(b, data, size);
    if (size & 1)
        put(b, "\n", 1);
}

struct names {
    char seen[4][256];
    int count;
};

static int collect(void *ctx, const char *name, const uint8_t *data, size_t size,
                   struct error *err)
{
    (void)data;
    (void)size;
    (void)err;
    struct names *n = ctx;
    if (n->count < 4)
        snprintf(n->seen[n->count], sizeof n->seen[0], "%s", name);
    n->count++;
    return 0;
}

static void test_archives(void)
{
    size_t size;
    uint8_t *obj = slurp("a.o", &size);
    if (!obj)
        return;
    struct error err;

    /* GNU: symbol index, long-name table, a short name, a long name, odd sizes. */
    struct buf gnu = { 0 };
    put(&gnu, "!<arch>\n", 8);
    member(&gnu, "/", (const uint8_t *)"\0\0\0\0", 4);
    const char *table = "a_rather_long_member_name.o/\nsecond_long_member_name.o/\n";
    member(&gnu, "//", (const uint8_t *)table, strlen(table));
    member(&gnu, "short.o/", obj, size);
    member(&gnu, "/29", (const uint8_t *)"xyz", 3); /* odd size: padded */
    member(&gnu, "/0", obj, size);
    struct names n = { 0 };
    CHECK_EQ(archive_walk("gnu.a", gnu.p, gnu.len, collect, &n, &err), 0);
    CHECK_EQ(n.count, 3);
    CHECK_STR(n.seen[0], "short.o");
    CHECK_STR(n.seen[1], "second_long_member_name.o");
    CHECK_STR(n.seen[2], "a_rather_long_member_name.o");
    /* As an input: two ELF members with metadata, one non-ELF member skipped. */
    struct inputs in;
    memset(&in, 0, sizeof in);
    diag_quiet = 1;
    CHECK_EQ(inputs_add_buffer(&in, "gnu.a", gnu.p, gnu.len, &err), 0);
    diag_quiet = 0;
    CHECK_EQ(in.count, 2);
    if (in.count == 2)
        CHECK_STR(in.objects[1].name, "gnu.a(a_rather_long_member_name.o)");
    inputs_free(&in);

    /* A long-name reference past the table. */
    struct buf bad = { 0 };
    put(&bad, "!<arch>\n", 8);
    member(&bad, "//", (const uint8_t *)table, strlen(table));
    member(&bad, "/999", obj, size);
    CHECK_EQ(archive_walk("bad.a", bad.p, bad.len, collect, &n, &err), -1);
    CHECK_CONTAINS(err.text, "long name that is not in the name table");
    /* A long-name reference without any table. */
    struct buf bad2 = { 0 };
    put(&bad2, "!<arch>\n", 8);
    member(&bad2, "/0", obj, size);
    CHECK_EQ(archive_walk("bad2.a", bad2.p, bad2.len, collect, &n, &err), -1);

    /* BSD: the name follows the header and counts in the size. */
    struct buf bsd = { 0 };
    put(&bsd, "!<arch>\n", 8);
    member(&bsd, "__.SYMDEF", (const uint8_t *)"\0\0\0\0\0\0\0\0", 8);
    uint8_t *named = malloc(size + 20);
    memcpy(named, "bsd_style_name_is_20", 20);
    memcpy(named + 20, obj, size);
    member(&bsd, "#1/20", named, size + 20);
    struct names nb = { 0 };
    CHECK_EQ(archive_walk("bsd.a", bsd.p, bsd.len, collect, &nb, &err), 0);
    CHECK_EQ(nb.count, 1);
    CHECK_STR(nb.seen[0], "bsd_style_name_is_20");
    memset(&in, 0, sizeof in);
    CHECK_EQ(inputs_add_buffer(&in, "bsd.a", bsd.p, bsd.len, &err), 0);
    CHECK_EQ(in.count, 1);
    inputs_free(&in);
    /* A BSD name longer than the member. */
    struct buf bsd2 = { 0 };
    put(&bsd2, "!<arch>\n", 8);
    member(&bsd2, "#1/99", (const uint8_t *)"abc", 3);
    CHECK_EQ(archive_walk("bsd2.a", bsd2.p, bsd2.len, collect, &nb, &err), -1);

    /* Every prefix of the GNU archive: an error or (at member boundaries) fewer members. */
    for (size_t cut = 8; cut < gnu.len; cut++) {
        uint8_t *c = malloc(cut);
        memcpy(c, gnu.p, cut);
        struct names nc = { 0 };
        archive_walk("cut.a", c, cut, collect, &nc, &err);
        free(c);
    }
    free(gnu.p);
    free(bad.p);
    free(bad2.p);
    free(bsd.p);
    free(bsd2.p);
    free(named);
    free(obj);
}

/* Extended section numbering: e_shnum = 0 and the count in section 0's sh_size. */
static void test_extended_numbering(void)
{
    size_t size;
    uint8_t *obj = slurp("b.o", &size);
    if (!obj)
        return;
    uint64_t shoff;
    uint16_t shnum, shstrndx;
    memcpy(&shoff, obj + 40, 8);
    memcpy(&shnum, obj + 60, 2);
    memcpy(&shstrndx, obj + 62, 2);
    uint64_t count = shnum;
    uint16_t zero = 0, xindex = 0xffff;
    uint32_t link = shstrndx;
    memcpy(obj + 60, &zero, 2);
    memcpy(obj + shoff + 32, &count, 8); /* section 0 sh_size */
    memcpy(obj + 62, &xindex, 2);
    memcpy(obj + shoff + 40, &link, 4); /* section 0 sh_link */
    struct inputs in;
    memset(&in, 0, sizeof in);
    struct error err;
    CHECK_EQ(inputs_add_buffer(&in, "ext.o", obj, size, &err), 0);
    CHECK_EQ(in.count, 1);
    if (in.count == 1)
        CHECK_EQ(in.objects[0].record_count, 1);
    inputs_free(&in);
    free(obj);
}

/* Rename every "capri_meta" section of an object, so it has no metadata. */
static void hide_metadata(uint8_t *data, size_t size)
{
    for (size_t i = 0; i + sizeof CAPRI_MD_SECTION <= size; i++)
        if (memcmp(data + i, CAPRI_MD_SECTION, sizeof CAPRI_MD_SECTION) == 0)
            data[i] = 'X';
}

/*
 * An input without metadata next to one with metadata is code without
 * metadata (a warning); alone it is an error. An archive none of whose
 * members has metadata counts as one such input.
 */
static void test_inputs_without_metadata(void)
{
    size_t asize, bsize;
    uint8_t *a = slurp("a.o", &asize), *b = slurp("b.o", &bsize);
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    hide_metadata(b, bsize);
    struct inputs in;
    struct error err;
    memset(&in, 0, sizeof in);
    CHECK_EQ(inputs_add_buffer(&in, "bare.o", b, bsize, &err), 0);
    CHECK_EQ(in.count, 0);
    CHECK_EQ(in.bare_count, 1);
    CHECK_EQ(inputs_finish(&in, &err), -1);
    CHECK(strstr(err.text, "bare.o: no capri metadata (section capri_meta)") == err.text);
    CHECK(strstr(err.text, "capri-cc") != NULL);
    CHECK(strstr(err.text, "-fsanitize=kcfi -fno-sanitize=function") != NULL);
    CHECK_EQ(inputs_add_buffer(&in, "second.o", b, bsize, &err), 0);
    CHECK_EQ(inputs_finish(&in, &err), -1);
    CHECK(strstr(err.text, "no input has capri metadata (section capri_meta): bare.o, second.o:") ==
          err.text);
    CHECK_EQ(inputs_add_buffer(&in, "a.o", a, asize, &err), 0);
    diag_quiet = 1;
    CHECK_EQ(inputs_finish(&in, &err), 0);
    diag_quiet = 0;
    CHECK_EQ(in.count, 1);
    CHECK_EQ(in.bare_count, 2);
    inputs_free(&in);
    free(a);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_reader DIR\n");
        return 2;
    }
    dir = argv[1];
    RUN(test_linked_and_objects);
    RUN(test_same_frames);
    RUN(test_truncations_and_mutations);
    RUN(test_archives);
    RUN(test_extended_numbering);
    RUN(test_inputs_without_metadata);
    return test_summary("test_reader");
}
