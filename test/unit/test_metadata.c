/*
 * Unit tests for the metadata parser (runtime/metadata/capri_metadata.c):
 * valid records, every class of corruption, versions, padding between
 * records, shorter and longer entries, and every truncation and many
 * single-byte mutations of a valid record (run under ASan in the sanitizer
 * build, so an out-of-bounds read fails the test).
 */
#include "md_builder.h"
#include "test.h"

#include <stdlib.h>

static void set32(uint8_t *rec, size_t off, uint32_t v)
{
    memcpy(rec + off, &v, 4);
}

static void set16(uint8_t *rec, size_t off, uint16_t v)
{
    memcpy(rec + off, &v, 2);
}

static enum capri_md_status parse_one(const uint8_t *data, size_t size, struct capri_md_module *m,
                                      char *err, size_t errlen)
{
    size_t off = 0;
    return capri_md_next(data, size, &off, m, err, errlen);
}

/* main (calls: LOCAL helper, NAMED printf, INDIRECT 0x11/0x22), helper (static, ASM), cb;
 * aliases: cb_alias (weak) of cb, helper_alias (static) of helper. */
static uint8_t *sample(size_t *size)
{
    struct mdb b;
    mdb_init(&b);
    b.source = "sample.c";
    uint32_t main_fn = mdb_fn(&b, "main", 64);
    uint32_t helper = mdb_fn(&b, "helper", 48);
    uint32_t cb = mdb_fn(&b, "cb", 32);
    mdb_fn_at(&b, helper)->linkage = CAPRI_MD_LINK_INTERNAL;
    mdb_fn_at(&b, cb)->flags = CAPRI_MD_FN_ADDRESS_TAKEN;
    mdb_fn_at(&b, cb)->type_id = 0x11;
    mdb_fn_at(&b, cb)->ir_type_id = 0x22;
    mdb_fn_at(&b, cb)->bound = 7;
    mdb_fn_at(&b, main_fn)->address = 0x1000;
    mdb_fn_at(&b, helper)->address = 0x2000;
    mdb_fn_at(&b, cb)->address = 0x3000;
    mdb_local(&b, main_fn, helper);
    mdb_named(&b, main_fn, "printf");
    mdb_indirect(&b, main_fn, 0x11, 0x22, CAPRI_MD_CALLF_CAST);
    mdb_asm(&b, helper);
    mdb_ref(&b, "qsort_cb", 0x33, 0x44);
    mdb_alias(&b, "cb_alias", cb, CAPRI_MD_LINK_WEAK);
    mdb_alias(&b, "helper_alias", helper, CAPRI_MD_LINK_INTERNAL);
    uint8_t *rec = mdb_build(&b, size);
    mdb_free(&b);
    return rec;
}

static void test_valid(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    struct capri_md_module m;
    char err[256];
    size_t off = 0;
    CHECK_EQ(capri_md_next(rec, size, &off, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(off, size);
    CHECK_EQ(m.record_size, size);
    CHECK_EQ(m.version_major, CAPRI_MD_VERSION_MAJOR);
    CHECK_EQ(m.version_minor, CAPRI_MD_VERSION_MINOR);
    CHECK_EQ(m.function_count, 3);
    CHECK_EQ(m.call_count, 4);
    CHECK_EQ(m.reference_count, 1);
    CHECK_EQ(m.alias_count, 2);
    CHECK_EQ(m.alias_entry_size, 12);
    CHECK_EQ(m.function_entry_size, sizeof(struct capri_md_function_entry));
    CHECK_EQ(m.call_entry_size, sizeof(struct capri_md_call_entry));
    CHECK_STR(capri_md_string(&m, m.module.source_file), "sample.c");
    CHECK_STR(capri_md_string(&m, m.module.producer), "mdb");

    struct capri_md_function_entry f;
    capri_md_function(&m, 0, &f);
    CHECK_STR(capri_md_string(&m, f.name), "main");
    CHECK_EQ(f.frame_estimate, 64);
    CHECK_EQ(f.first_call, 0);
    CHECK_EQ(f.call_count, 3);
    capri_md_function(&m, 1, &f);
    CHECK_STR(capri_md_string(&m, f.name), "helper");
    CHECK_EQ(f.linkage, CAPRI_MD_LINK_INTERNAL);
    CHECK_EQ(f.first_call, 3);
    CHECK_EQ(f.call_count, 1);
    capri_md_function(&m, 2, &f);
    CHECK_EQ(f.recursion_bound, 7);
    CHECK(f.flags & CAPRI_MD_FN_RECURSION_BOUND);
    CHECK(f.flags & CAPRI_MD_FN_ADDRESS_TAKEN);
    CHECK_EQ(f.type_id, 0x11);

    struct capri_md_call_entry c;
    capri_md_call(&m, 0, &c);
    CHECK_EQ(c.kind, CAPRI_MD_CALL_LOCAL);
    CHECK_EQ(c.callee, 1);
    capri_md_call(&m, 1, &c);
    CHECK_EQ(c.kind, CAPRI_MD_CALL_NAMED);
    CHECK_STR(capri_md_string(&m, c.callee), "printf");
    CHECK_STR(capri_md_string(&m, c.file), "sample.c");
    capri_md_call(&m, 2, &c);
    CHECK_EQ(c.kind, CAPRI_MD_CALL_INDIRECT);
    CHECK_EQ(c.flags, CAPRI_MD_CALLF_CAST);
    CHECK_EQ(c.type_id, 0x11);
    CHECK_EQ(c.ir_type_id, 0x22);
    capri_md_call(&m, 3, &c);
    CHECK_EQ(c.kind, CAPRI_MD_CALL_ASM);

    struct capri_md_reference_entry r;
    capri_md_reference(&m, 0, &r);
    CHECK_STR(capri_md_string(&m, r.name), "qsort_cb");
    CHECK_EQ(r.type_id, 0x33);

    struct capri_md_alias_entry al;
    capri_md_alias(&m, 0, &al);
    CHECK_STR(capri_md_string(&m, al.name), "cb_alias");
    CHECK_EQ(al.function, 2);
    CHECK_EQ(al.linkage, CAPRI_MD_LINK_WEAK);
    capri_md_alias(&m, 1, &al);
    CHECK_STR(capri_md_string(&m, al.name), "helper_alias");
    CHECK_EQ(al.function, 1);
    CHECK_EQ(al.linkage, CAPRI_MD_LINK_INTERNAL);

    CHECK_EQ(capri_md_address_slot(&m, 0), 0x1000);
    CHECK_EQ(capri_md_address_slot(&m, 2), 0x3000);
    /* Out-of-range requests are harmless. */
    CHECK_EQ(capri_md_address_slot(&m, 3), 0);
    capri_md_function(&m, 3, &f);
    CHECK_EQ(f.name, 0);
    capri_md_call(&m, 99, &c);
    CHECK_EQ(c.kind, 0);
    capri_md_reference(&m, 1, &r);
    CHECK_EQ(r.name, 0);
    capri_md_alias(&m, 2, &al);
    CHECK_EQ(al.name, 0);
    CHECK_EQ(al.function, 0);
    CHECK_STR(capri_md_string(&m, m.strings_size), "");
    CHECK_STR(capri_md_string(&m, UINT32_MAX), "");
    CHECK_STR(capri_md_string(&m, 0), "");

    CHECK_EQ(capri_md_next(rec, size, &off, &m, err, sizeof err), CAPRI_MD_END);
    free(rec);
}

static void test_empty_input(void)
{
    struct capri_md_module m;
    char err[64];
    size_t off = 0;
    CHECK_EQ(capri_md_next(NULL, 0, &off, &m, err, sizeof err), CAPRI_MD_END);
    uint8_t zeros[40] = { 0 };
    off = 0;
    CHECK_EQ(capri_md_next(zeros, sizeof zeros, &off, &m, err, sizeof err), CAPRI_MD_END);
    CHECK_EQ(off, sizeof zeros);
    uint8_t odd[13] = { 0 };
    off = 0;
    CHECK_EQ(capri_md_next(odd, sizeof odd, &off, &m, err, sizeof err), CAPRI_MD_END);
}

/* Build the sample, apply a corruption, expect a status and a message fragment. */
static void expect(void (*corrupt)(uint8_t *rec, size_t *size), enum capri_md_status want,
                   const char *fragment, int line)
{
    size_t size;
    uint8_t *rec = sample(&size);
    corrupt(rec, &size);
    struct capri_md_module m;
    char err[256];
    enum capri_md_status st = parse_one(rec, size, &m, err, sizeof err);
    if (st != want || !strstr(err, fragment)) {
        fprintf(stderr, "test_metadata.c:%d: got status %d (%s) message \"%s\"; want %d and "
                "\"%s\"\n", line, st, capri_md_status_name(st), err, want, fragment);
        test_failures++;
    }
    test_checks++;
    CHECK_EQ(m.record, NULL); /* nothing handed out on failure */
    free(rec);
}
#define EXPECT(fn, status, fragment) expect(fn, status, fragment, __LINE__)

static size_t fns_entry(const uint8_t *rec, size_t size, uint32_t i)
{
    return mdb_section_offset(rec, size, CAPRI_MD_TAG_FUNCTIONS) + 16 + sizeof(struct capri_md_function_entry) * (size_t)i;
}

static size_t calls_entry(const uint8_t *rec, size_t size, uint32_t i)
{
    return mdb_section_offset(rec, size, CAPRI_MD_TAG_CALLS) + 16 + sizeof(struct capri_md_call_entry) * (size_t)i;
}

static void c_magic(uint8_t *r, size_t *s) { (void)s; r[0] ^= 1; }
static void c_short_header(uint8_t *r, size_t *s) { (void)r; *s = 40; }
static void c_tiny(uint8_t *r, size_t *s) { (void)r; *s = 6; }
static void c_record_size_odd(uint8_t *r, size_t *s) { set32(r, 8, (uint32_t)*s - 4); }
static void c_record_size_big(uint8_t *r, size_t *s) { set32(r, 8, (uint32_t)*s + 8); }
static void c_record_size_huge(uint8_t *r, size_t *s) { (void)s; set32(r, 8, 0xfffffff8u); }
static void c_header_small(uint8_t *r, size_t *s) { (void)s; set32(r, 12, 40); }
static void c_header_unaligned(uint8_t *r, size_t *s) { (void)s; set32(r, 12, 52); }
static void c_header_big(uint8_t *r, size_t *s) { set32(r, 12, (uint32_t)*s + 8); }
static void c_addresses_past(uint8_t *r, size_t *s) { (void)s; set32(r, 20, 0x40000000u); }
static void c_function_count(uint8_t *r, size_t *s) { (void)s; set32(r, 20, 2); }
static void c_major_newer(uint8_t *r, size_t *s) { (void)s; set16(r, 4, 2); set16(r, 6, 3); }
static void c_major_zero(uint8_t *r, size_t *s) { (void)s; set16(r, 4, 0); }

static void c_section_past(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_STRINGS) + 4, 0x7fffffffu);
}
static void c_strings_unterminated(uint8_t *r, size_t *s)
{
    size_t off = mdb_section_offset(r, *s, CAPRI_MD_TAG_STRINGS);
    uint32_t n;
    memcpy(&n, r + off + 4, 4);
    r[off + 8 + n - 1] = 'x';
}
static void c_strings_first(uint8_t *r, size_t *s)
{
    r[mdb_section_offset(r, *s, CAPRI_MD_TAG_STRINGS) + 8] = 'x';
}
static void c_fn_entry_small(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_FUNCTIONS) + 8, 40);
}
static void c_fn_entry_overflow(uint8_t *r, size_t *s)
{
    size_t off = mdb_section_offset(r, *s, CAPRI_MD_TAG_FUNCTIONS);
    set32(r, off + 8, 0xffffffffu);
    set32(r, off + 12, 0xffffffffu);
}
static void c_fn_count(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_FUNCTIONS) + 12, 2);
}
static void c_calls_overflow(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_CALLS) + 12, 0x10000000u);
}
static void c_name(uint8_t *r, size_t *s) { set32(r, fns_entry(r, *s, 0), 0xffff); }
static void c_file(uint8_t *r, size_t *s) { set32(r, fns_entry(r, *s, 1) + 4, 0x7fffffffu); }
static void c_linkage(uint8_t *r, size_t *s) { r[fns_entry(r, *s, 0) + 12] = 3; }
static void c_align(uint8_t *r, size_t *s) { r[fns_entry(r, *s, 0) + 13] = 40; }
static void c_call_slice(uint8_t *r, size_t *s) { set32(r, fns_entry(r, *s, 1) + 40, 2); }
static void c_call_slice_wrap(uint8_t *r, size_t *s)
{
    set32(r, fns_entry(r, *s, 1) + 36, 0xffffffffu);
    set32(r, fns_entry(r, *s, 1) + 40, 2);
}
static void c_local_callee(uint8_t *r, size_t *s) { set32(r, calls_entry(r, *s, 0) + 4, 3); }
static void c_named_callee(uint8_t *r, size_t *s) { set32(r, calls_entry(r, *s, 1) + 4, 9999); }
static void c_named_empty(uint8_t *r, size_t *s) { set32(r, calls_entry(r, *s, 1) + 4, 0); }
static void c_call_file(uint8_t *r, size_t *s) { set32(r, calls_entry(r, *s, 2) + 16, 9999); }
static void c_call_kind(uint8_t *r, size_t *s) { r[calls_entry(r, *s, 3)] = 9; }
static void c_ref_name(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_REFERENCES) + 16, 9999);
}
static size_t aliases_entry(const uint8_t *rec, size_t size, uint32_t i)
{
    return mdb_section_offset(rec, size, CAPRI_MD_TAG_ALIASES) + 16 + 12 * (size_t)i;
}
static void c_alias_name(uint8_t *r, size_t *s) { set32(r, aliases_entry(r, *s, 1), 9999); }
static void c_alias_name_empty(uint8_t *r, size_t *s) { set32(r, aliases_entry(r, *s, 0), 0); }
static void c_alias_function(uint8_t *r, size_t *s) { set32(r, aliases_entry(r, *s, 0) + 4, 3); }
static void c_alias_function_huge(uint8_t *r, size_t *s)
{
    set32(r, aliases_entry(r, *s, 1) + 4, 0xffffffffu);
}
static void c_alias_linkage(uint8_t *r, size_t *s) { r[aliases_entry(r, *s, 0) + 8] = 3; }
static void c_alias_entry_small(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_ALIASES) + 8, CAPRI_MD_ALIAS_ENTRY_MIN - 1);
}
static void c_alias_count(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_ALIASES) + 12, 3);
}
static void c_alias_duplicate(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_REFERENCES), CAPRI_MD_TAG_ALIASES);
}
static void c_module_string(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_MODULE) + 8 + 4, 9999);
}
static void c_module_short(uint8_t *r, size_t *s)
{
    /* Shrink MODULE to 8 bytes and turn the rest into an unknown section. */
    size_t off = mdb_section_offset(r, *s, CAPRI_MD_TAG_MODULE);
    set32(r, off + 4, 8);
    set32(r, off + 16, 77);
    set32(r, off + 20, 0);
}
static void c_duplicate(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_REFERENCES), CAPRI_MD_TAG_CALLS);
}
static void c_no_functions(uint8_t *r, size_t *s)
{
    set32(r, mdb_section_offset(r, *s, CAPRI_MD_TAG_FUNCTIONS), 99);
}
static void test_corruption(void)
{
    EXPECT(c_magic, CAPRI_MD_BAD_MAGIC, "magic");
    EXPECT(c_short_header, CAPRI_MD_TRUNCATED, "truncated");
    EXPECT(c_tiny, CAPRI_MD_TRUNCATED, "truncated");
    EXPECT(c_record_size_odd, CAPRI_MD_CORRUPT, "multiple of 8");
    EXPECT(c_record_size_big, CAPRI_MD_TRUNCATED, "runs past the end");
    EXPECT(c_record_size_huge, CAPRI_MD_TRUNCATED, "runs past the end");
    EXPECT(c_header_small, CAPRI_MD_CORRUPT, "header_size 40");
    EXPECT(c_header_unaligned, CAPRI_MD_CORRUPT, "header_size 52");
    EXPECT(c_header_big, CAPRI_MD_CORRUPT, "larger than the record");
    EXPECT(c_addresses_past, CAPRI_MD_CORRUPT, "address table");
    EXPECT(c_function_count, CAPRI_MD_CORRUPT, "FUNCTIONS has 3 entries but the header says 2");
    /* The messages name this reader's version: the header's constants. */
    char newer[128], zero[128];
    snprintf(newer, sizeof newer, "version 2.3 is newer than this reader's version %u.%u",
             CAPRI_MD_VERSION_MAJOR, CAPRI_MD_VERSION_MINOR);
    snprintf(zero, sizeof zero, "version 0.%u is not known to this reader (version %u.%u)",
             CAPRI_MD_VERSION_MINOR, CAPRI_MD_VERSION_MAJOR, CAPRI_MD_VERSION_MINOR);
    EXPECT(c_major_newer, CAPRI_MD_NEWER_VERSION, newer);
    EXPECT(c_major_zero, CAPRI_MD_CORRUPT, zero);
    EXPECT(c_section_past, CAPRI_MD_CORRUPT, "run past the record end");
    EXPECT(c_strings_unterminated, CAPRI_MD_CORRUPT, "STRINGS");
    EXPECT(c_strings_first, CAPRI_MD_CORRUPT, "STRINGS");
    EXPECT(c_fn_entry_small, CAPRI_MD_CORRUPT, "entry_size 40 is below the minimum of 44");
    EXPECT(c_fn_entry_overflow, CAPRI_MD_CORRUPT, "do not fit");
    EXPECT(c_fn_count, CAPRI_MD_CORRUPT, "FUNCTIONS has 2 entries");
    EXPECT(c_calls_overflow, CAPRI_MD_CORRUPT, "CALLS");
    EXPECT(c_name, CAPRI_MD_CORRUPT, "function 0: string offset 65535");
    EXPECT(c_file, CAPRI_MD_CORRUPT, "function 1: string offset");
    EXPECT(c_linkage, CAPRI_MD_CORRUPT, "linkage");
    EXPECT(c_align, CAPRI_MD_CORRUPT, "log2_max_align");
    EXPECT(c_call_slice, CAPRI_MD_CORRUPT, "run past the 4 entries of CALLS");
    EXPECT(c_call_slice_wrap, CAPRI_MD_CORRUPT, "entries of CALLS");
    EXPECT(c_local_callee, CAPRI_MD_CORRUPT, "LOCAL callee 3");
    EXPECT(c_named_callee, CAPRI_MD_CORRUPT, "call 1: string offset 9999");
    EXPECT(c_named_empty, CAPRI_MD_CORRUPT, "call 1: string offset 0");
    EXPECT(c_call_file, CAPRI_MD_CORRUPT, "call 2: string offset 9999");
    EXPECT(c_call_kind, CAPRI_MD_CORRUPT, "unknown call kind");
    EXPECT(c_ref_name, CAPRI_MD_CORRUPT, "reference 0");
    EXPECT(c_alias_name, CAPRI_MD_CORRUPT, "alias 1: string offset 9999");
    EXPECT(c_alias_name_empty, CAPRI_MD_CORRUPT, "alias 0: string offset 0");
    EXPECT(c_alias_function, CAPRI_MD_CORRUPT,
           "alias 0: function 3 is not one of the record's 3 functions");
    EXPECT(c_alias_function_huge, CAPRI_MD_CORRUPT, "alias 1: function 4294967295");
    EXPECT(c_alias_linkage, CAPRI_MD_CORRUPT, "alias 0: unknown linkage");
    EXPECT(c_alias_entry_small, CAPRI_MD_CORRUPT, "ALIASES entry_size 8 is below the minimum of 9");
    EXPECT(c_alias_count, CAPRI_MD_CORRUPT, "ALIASES: 3 entries of 12 bytes do not fit");
    EXPECT(c_alias_duplicate, CAPRI_MD_CORRUPT, "section tag 6 appears twice");
    EXPECT(c_module_string, CAPRI_MD_CORRUPT, "MODULE");
    EXPECT(c_module_short, CAPRI_MD_CORRUPT, "MODULE section has 8 bytes");
    EXPECT(c_duplicate, CAPRI_MD_CORRUPT, "appears twice");
    EXPECT(c_no_functions, CAPRI_MD_CORRUPT, "no FUNCTIONS section");
}

/* Where the last section of a built record ends (4-aligned). */
static size_t sections_end(const uint8_t *rec, size_t size)
{
    size_t pos = 48 + 8 * 3;
    while (pos + 8 <= size) {
        uint32_t tag, n;
        memcpy(&tag, rec + pos, 4);
        memcpy(&n, rec + pos + 4, 4);
        if (tag == 0)
            break;
        pos += 8 + n;
        pos += (4 - pos % 4) % 4;
    }
    return pos;
}

static void test_trailing_bytes(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    size_t end = sections_end(rec, size);
    uint8_t *big = calloc(1, size + 32);
    struct capri_md_module m;
    char err[256];

    /* An unknown, empty section after the known ones is skipped. */
    memcpy(big, rec, end);
    set32(big, end, 77);
    size_t grown = (end + 8 + 7) / 8 * 8;
    set32(big, 8, (uint32_t)grown);
    CHECK_EQ(parse_one(big, grown, &m, err, sizeof err), CAPRI_MD_OK);

    /* Fewer than 8 non-zero bytes after the last section are corrupt. */
    memset(big, 0, size + 32);
    memcpy(big, rec, end);
    size_t tail = end;
    if (tail % 8 == 0) { /* make the tail 4 bytes long with a 4-byte unknown section */
        set32(big, tail, 77);
        set32(big, tail + 4, 4);
        tail += 12;
    }
    memcpy(big + tail, "abcd", 4);
    set32(big, 8, (uint32_t)(tail + 4));
    CHECK_EQ(parse_one(big, tail + 4, &m, err, sizeof err), CAPRI_MD_CORRUPT);
    CHECK_CONTAINS(err, "non-zero bytes after the last section");

    /* The same tail in zeros is padding. */
    memset(big + tail, 0, 4);
    CHECK_EQ(parse_one(big, tail + 4, &m, err, sizeof err), CAPRI_MD_OK);
    free(big);
    free(rec);
}

static void test_padding_between_records(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    size_t total = 16 + size + 24 + size + 8 + 5;
    uint8_t *data = calloc(1, total);
    memcpy(data + 16, rec, size);
    memcpy(data + 16 + size + 24, rec, size);
    struct capri_md_module m;
    char err[256];
    size_t off = 0;
    CHECK_EQ(capri_md_next(data, total, &off, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(off, 16 + size);
    CHECK_EQ(m.record, data + 16);
    CHECK_EQ(capri_md_next(data, total, &off, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.record, data + 16 + size + 24);
    CHECK_EQ(m.function_count, 3);
    CHECK_EQ(capri_md_next(data, total, &off, &m, err, sizeof err), CAPRI_MD_END);
    CHECK_EQ(off, total);

    /* A non-zero byte inside a padding word: the word is not a record. */
    data[16 + size + 9] = 7;
    off = 16 + size;
    CHECK_EQ(capri_md_next(data, total, &off, &m, err, sizeof err), CAPRI_MD_BAD_MAGIC);
    CHECK_EQ(off, 16 + size + 8);
    free(data);
    free(rec);
}

static void test_entry_sizes(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 10);
    mdb_fn_at(&b, f)->bound = 5;
    mdb_named(&b, f, "g");
    mdb_fn_at(&b, mdb_fn(&b, "g", 20))->line = 42;
    struct capri_md_module m;
    char err[256];
    size_t size;
    uint8_t *rec;

    /* The minimum sizes: zero-extended. */
    b.fn_entry_size = CAPRI_MD_FUNCTION_ENTRY_MIN;
    b.call_entry_size = CAPRI_MD_CALL_ENTRY_MIN;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    struct capri_md_function_entry fe;
    capri_md_function(&m, 0, &fe);
    CHECK_EQ(fe.recursion_bound, 0); /* beyond the short entry */
    CHECK_EQ(fe.call_count, 1);
    capri_md_function(&m, 1, &fe);
    CHECK_EQ(fe.line, 42);
    struct capri_md_call_entry ce;
    capri_md_call(&m, 0, &ce);
    CHECK_STR(capri_md_string(&m, ce.callee), "g");
    CHECK_EQ(ce.line, 0);
    CHECK_EQ(ce.file, 0);
    free(rec);

    /* Longer entries from a later minor version: extra fields ignored. */
    b.fn_entry_size = 64;
    b.call_entry_size = 32;
    b.minor = 7;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.version_minor, 7);
    capri_md_function(&m, 0, &fe);
    CHECK_EQ(fe.recursion_bound, 5);
    capri_md_function(&m, 1, &fe);
    CHECK_EQ(fe.frame_estimate, 20);
    capri_md_call(&m, 0, &ce);
    CHECK_STR(capri_md_string(&m, ce.callee), "g");
    free(rec);

    /* ALIASES at its minimum (name, function, linkage): the reserved bytes read as 0. */
    mdb_alias(&b, "g_alias", 1, CAPRI_MD_LINK_WEAK);
    b.fn_entry_size = 48;
    b.call_entry_size = 24;
    b.alias_entry_size = CAPRI_MD_ALIAS_ENTRY_MIN;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.alias_entry_size, CAPRI_MD_ALIAS_ENTRY_MIN);
    struct capri_md_alias_entry ae;
    memset(&ae, 0xee, sizeof ae);
    capri_md_alias(&m, 0, &ae);
    CHECK_STR(capri_md_string(&m, ae.name), "g_alias");
    CHECK_EQ(ae.function, 1);
    CHECK_EQ(ae.linkage, CAPRI_MD_LINK_WEAK);
    CHECK_EQ(ae.reserved[0], 0);
    CHECK_EQ(ae.reserved[2], 0);
    free(rec);

    /* A longer alias entry (a later minor version): the known fields still read. */
    b.alias_entry_size = 20;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    capri_md_alias(&m, 0, &ae);
    CHECK_STR(capri_md_string(&m, ae.name), "g_alias");
    CHECK_EQ(ae.function, 1);
    free(rec);

    /* One byte short of the alias minimum: no linkage, so corrupt. */
    b.alias_entry_size = CAPRI_MD_ALIAS_ENTRY_MIN - 1;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_CORRUPT);
    CHECK_CONTAINS(err, "ALIASES entry_size 8 is below the minimum of 9");
    free(rec);
    b.alias_entry_size = 0;

    /* One byte below the minimum call entry. */
    b.fn_entry_size = 48;
    b.call_entry_size = CAPRI_MD_CALL_ENTRY_MIN - 4;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_CORRUPT);
    CHECK_CONTAINS(err, "CALLS entry_size 12");
    free(rec);
    mdb_free(&b);
}

static void test_unknown_section_and_no_functions(void)
{
    struct mdb b;
    mdb_init(&b);
    size_t size;
    uint8_t *rec = mdb_build(&b, &size);
    struct capri_md_module m;
    char err[256];
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.function_count, 0);
    CHECK_EQ(m.call_count, 0);
    set32(rec, mdb_section_offset(rec, size, CAPRI_MD_TAG_MODULE), 1234);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.module.source_file, 0);
    free(rec);
    mdb_free(&b);
}

static void test_small_error_buffers(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    set16(rec, 4, 9);
    struct capri_md_module m;
    char err[8];
    memset(err, 'z', sizeof err);
    CHECK_EQ(parse_one(rec, size, &m, err, 5), CAPRI_MD_NEWER_VERSION);
    CHECK_EQ(strlen(err), 4);
    CHECK_EQ(err[5], 'z');
    CHECK_EQ(parse_one(rec, size, &m, err, 1), CAPRI_MD_NEWER_VERSION);
    CHECK_EQ(err[0], '\0');
    CHECK_EQ(parse_one(rec, size, &m, NULL, 0), CAPRI_MD_NEWER_VERSION);
    free(rec);
}

/* Every prefix of a valid record fails cleanly (an exact-size buffer each time). */
static void test_every_truncation(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    for (size_t n = 1; n < size; n++) {
        uint8_t *cut = malloc(n);
        memcpy(cut, rec, n);
        struct capri_md_module m;
        char err[128];
        enum capri_md_status st = parse_one(cut, n, &m, err, sizeof err);
        CHECK(st == CAPRI_MD_TRUNCATED);
        free(cut);
    }
    free(rec);
}

/* Deterministic single-byte mutations: any status, but never a bad read. */
static void test_mutations(void)
{
    size_t size;
    uint8_t *rec = sample(&size);
    static const uint8_t values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    size_t ok = 0;
    for (size_t i = 0; i < size; i++)
        for (size_t v = 0; v < sizeof values; v++) {
            uint8_t *copy = malloc(size);
            memcpy(copy, rec, size);
            copy[i] = values[v];
            size_t off = 0;
            struct capri_md_module m;
            char err[128];
            for (int guard = 0; guard < 4; guard++) {
                if (capri_md_next(copy, size, &off, &m, err, sizeof err) != CAPRI_MD_OK)
                    break;
                ok++;
                for (uint32_t f = 0; f < m.function_count; f++) {
                    struct capri_md_function_entry fe;
                    capri_md_function(&m, f, &fe);
                    (void)capri_md_string(&m, fe.name);
                    (void)capri_md_address_slot(&m, f);
                }
                for (uint32_t c = 0; c < m.call_count; c++) {
                    struct capri_md_call_entry ce;
                    capri_md_call(&m, c, &ce);
                    (void)capri_md_string(&m, ce.file);
                }
                for (uint32_t k = 0; k < m.alias_count; k++) {
                    struct capri_md_alias_entry ae;
                    capri_md_alias(&m, k, &ae);
                    (void)capri_md_string(&m, ae.name);
                    CHECK(ae.function < m.function_count);
                }
            }
            free(copy);
        }
    CHECK(ok > 0); /* many mutations (addresses, frames) leave a valid record */
    free(rec);
}

/* Which sanitizers instrumented a module: the header's bits (written since
 * they were added), or, for an older record that has none, its functions'
 * SANITIZED flag; a record with neither is not sanitized. */
static void test_sanitizers(void)
{
    struct {
        uint32_t header;
        uint16_t fn_flags;
        uint32_t want;
        const char *name;
    } cases[] = {
        { 0, 0, 0, "" },
        { 0, CAPRI_MD_FN_SANITIZED, CAPRI_MD_SANITIZE_UNNAMED, "a sanitizer" },
        { CAPRI_MD_MODULE_SANITIZE_ADDRESS, CAPRI_MD_FN_SANITIZED,
          CAPRI_MD_MODULE_SANITIZE_ADDRESS, "AddressSanitizer" },
        { CAPRI_MD_MODULE_SANITIZE_HWADDRESS | CAPRI_MD_MODULE_LTO, CAPRI_MD_FN_SANITIZED,
          CAPRI_MD_MODULE_SANITIZE_HWADDRESS, "HWAddressSanitizer" },
        { CAPRI_MD_MODULE_SANITIZE_THREAD, 0, CAPRI_MD_MODULE_SANITIZE_THREAD,
          "ThreadSanitizer" },
        { CAPRI_MD_MODULE_SANITIZE_MEMORY | CAPRI_MD_MODULE_TYPES_COARSE, CAPRI_MD_FN_SANITIZED,
          CAPRI_MD_MODULE_SANITIZE_MEMORY, "MemorySanitizer" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mdb b;
        mdb_init(&b);
        b.flags = cases[i].header;
        mdb_fn(&b, "plain", 32);
        uint32_t f = mdb_fn(&b, "checked", 64);
        mdb_fn_at(&b, f)->flags = cases[i].fn_flags;
        size_t size;
        uint8_t *rec = mdb_build(&b, &size);
        mdb_free(&b);
        struct capri_md_module m;
        char err[128];
        CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
        CHECK_EQ(capri_md_sanitizers(&m), cases[i].want);
        CHECK_STR(capri_md_sanitizer_name(capri_md_sanitizers(&m)), cases[i].name);
        free(rec);
    }
    /* The first of several, in a fixed order. */
    CHECK_STR(capri_md_sanitizer_name(CAPRI_MD_MODULE_SANITIZE_MEMORY |
                                      CAPRI_MD_MODULE_SANITIZE_THREAD),
              "ThreadSanitizer");
}

/* Call flags: the parser hands both bytes out as written, bits it does not
 * know included (a later plugin's flags must not make a record unreadable);
 * a call without flags2 bits reads zero, as every record before the byte
 * had a meaning (it was reserved, written as zero). */
static void test_call_flags(void)
{
    struct mdb b;
    mdb_init(&b);
    uint32_t f = mdb_fn(&b, "f", 32);
    uint32_t marked = mdb_named(&b, f, "memcpy");
    mdb_call_at(&b, marked)->flags = CAPRI_MD_CALLF_CODEGEN;
    mdb_call_at(&b, marked)->flags2 = CAPRI_MD_CALLF2_MARK;
    mdb_call_at(&b, marked)->external_region = 8;
    uint32_t unknown = mdb_named(&b, f, "future");
    mdb_call_at(&b, unknown)->flags = 0xff;
    mdb_call_at(&b, unknown)->flags2 = 0xfe;
    mdb_named(&b, f, "printf");
    size_t size;
    uint8_t *rec = mdb_build(&b, &size);
    mdb_free(&b);
    struct capri_md_module m;
    char err[128];
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    struct capri_md_call_entry c;
    capri_md_call(&m, 0, &c);
    CHECK_STR(capri_md_string(&m, c.callee), "memcpy");
    CHECK_EQ(c.flags, CAPRI_MD_CALLF_CODEGEN);
    CHECK_EQ(c.flags2, CAPRI_MD_CALLF2_MARK);
    CHECK_EQ(c.external_region, 8);
    capri_md_call(&m, 1, &c);
    CHECK_EQ(c.flags, 0xff);
    CHECK_EQ(c.flags2, 0xfe);
    capri_md_call(&m, 2, &c);
    CHECK_EQ(c.flags2, 0);
    CHECK_EQ(c.reserved, 0);
    free(rec);
}

/* YIELD_SITES (1.3): fields, validation, shorter entries, address lookup. */
static uint8_t *yield_record(struct mdb *b, size_t *size)
{
    mdb_init(b);
    uint32_t f = mdb_fn(b, "serve", 8192);
    uint32_t g = mdb_fn(b, "wait_more", 64);
    uint32_t c_read = mdb_named(b, f, "read");
    mdb_local(b, f, g);
    uint32_t c_g = mdb_named(b, g, "capri_yield");
    struct mdb_yield_site *y = mdb_yield_site(b, c_read, CAPRI_MD_YIELD_DIRECT, "read");
    y->flags = CAPRI_MD_YSF_STORED;
    y->column = 9;
    y->frame = 8248;
    y->live = 312;
    y->dead = 4096;
    y->dead_objects = "buf=4096";
    mdb_yield_site(b, c_g, CAPRI_MD_YIELD_DIRECT, "capri_yield")->live = 8;
    return mdb_build(b, size);
}

static void test_yield_sites(void)
{
    struct mdb b;
    size_t size;
    uint8_t *rec = yield_record(&b, &size);
    struct capri_md_module m;
    char err[256];
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    CHECK_EQ(m.yield_site_count, 2);
    CHECK_EQ(m.yield_site_entry_size, sizeof(struct capri_md_yield_site_entry));
    struct capri_md_yield_site_entry y;
    capri_md_yield_site(&m, 0, &y);
    CHECK_EQ(y.function, 0);
    CHECK_EQ(y.call, 0);
    CHECK_EQ(y.kind, CAPRI_MD_YIELD_DIRECT);
    CHECK_EQ(y.flags, CAPRI_MD_YSF_STORED);
    CHECK_EQ(y.column, 9);
    CHECK_EQ(y.frame, 8248);
    CHECK_EQ(y.live, 312);
    CHECK_EQ(y.dead, 4096);
    CHECK_STR(capri_md_string(&m, y.primitive), "read");
    CHECK_STR(capri_md_string(&m, y.dead_objects), "buf=4096");
    CHECK_STR(capri_md_string(&m, y.file), "test.c");
    capri_md_yield_site(&m, 1, &y);
    CHECK_EQ(y.function, 1);
    CHECK_EQ(y.call, 2);
    CHECK_STR(capri_md_string(&m, y.primitive), "capri_yield");
    capri_md_yield_site(&m, 2, &y); /* out of range: zeros */
    CHECK_EQ(y.line, 0);

    /* A descriptor's address maps back to its index; others do not. */
    CHECK_EQ(capri_md_yield_site_at(&m, m.yield_sites), 0);
    CHECK_EQ(capri_md_yield_site_at(&m, m.yield_sites + m.yield_site_entry_size), 1);
    CHECK_EQ(capri_md_yield_site_at(&m, m.yield_sites + 4), UINT32_MAX);
    CHECK_EQ(capri_md_yield_site_at(&m, m.yield_sites + 2 * m.yield_site_entry_size),
             UINT32_MAX);
    CHECK_EQ(capri_md_yield_site_at(&m, rec), UINT32_MAX);

    /* Corruption: each field the parser checks. */
    size_t sec = mdb_section_offset(rec, size, CAPRI_MD_TAG_YIELD_SITES);
    size_t e0 = sec + 16; /* tag, size, entry_size, count */
    struct {
        size_t field;
        uint32_t value;
        const char *message;
    } bad[] = {
        { 0, 2, "yield site 0: function outside FUNCTIONS" },
        { 4, 99, "yield site 0: call outside its function's calls" },
        { 4, 2, "yield site 0: call outside its function's calls" },
        { 8, 3, "yield site 0: unknown kind" },
        { 12, 9999, "yield site 0: string offset 9999" },
        { 32, 9999, "yield site 0: string offset 9999" },
        { 40, 9999, "yield site 0: string offset 9999" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, rec, size);
        if (bad[i].field == 8)
            copy[e0 + 8] = (uint8_t)bad[i].value;
        else
            set32(copy, e0 + bad[i].field, bad[i].value);
        CHECK_EQ(parse_one(copy, size, &m, err, sizeof err), CAPRI_MD_CORRUPT);
        CHECK_CONTAINS(err, bad[i].message);
        free(copy);
    }
    free(rec);

    /* The minimum entry (function, call, kind): the rest reads as zero. */
    b.yield_site_entry_size = CAPRI_MD_YIELD_SITE_ENTRY_MIN;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    capri_md_yield_site(&m, 1, &y);
    CHECK_EQ(y.call, 2);
    CHECK_EQ(y.kind, CAPRI_MD_YIELD_DIRECT);
    CHECK_EQ(y.live, 0);
    CHECK_EQ(y.primitive, 0);
    CHECK_EQ(capri_md_yield_site_at(&m, m.yield_sites + CAPRI_MD_YIELD_SITE_ENTRY_MIN), 1);
    free(rec);
    b.yield_site_entry_size = CAPRI_MD_YIELD_SITE_ENTRY_MIN - 1;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_CORRUPT);
    CHECK_CONTAINS(err, "YIELD_SITES entry_size 11 is below the minimum of 12");
    free(rec);
    /* A longer entry (a later minor version). */
    b.yield_site_entry_size = 56;
    rec = mdb_build(&b, &size);
    CHECK_EQ(parse_one(rec, size, &m, err, sizeof err), CAPRI_MD_OK);
    capri_md_yield_site(&m, 0, &y);
    CHECK_EQ(y.live, 312);
    CHECK_STR(capri_md_string(&m, y.dead_objects), "buf=4096");
    free(rec);
    mdb_free(&b);
}

int main(void)
{
    RUN(test_valid);
    RUN(test_empty_input);
    RUN(test_corruption);
    RUN(test_trailing_bytes);
    RUN(test_padding_between_records);
    RUN(test_entry_sizes);
    RUN(test_unknown_section_and_no_functions);
    RUN(test_small_error_buffers);
    RUN(test_every_truncation);
    RUN(test_mutations);
    RUN(test_sanitizers);
    RUN(test_call_flags);
    RUN(test_yield_sites);
    return test_summary("test_metadata");
}
