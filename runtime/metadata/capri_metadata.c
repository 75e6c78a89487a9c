/*
 * The capri metadata parser, shared by libcapri and capri-stack.
 *
 * It validates a whole record before it hands anything out, so the accessors
 * below can index without checks of their own beyond the entry index. It
 * never allocates and never calls stdio: the runtime runs it from a module
 * constructor, possibly before malloc is usable and with no stdout at all.
 * Every load from the input goes through memcpy, because records live inside
 * file buffers and sections that promise no alignment to a reader.
 */
#include "capri_metadata.h"

#include <string.h>

static uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- Error messages without stdio ----------------------------------------- */

struct msg {
    char *buf;
    size_t cap, len;
};

static void msg_str(struct msg *m, const char *s)
{
    while (*s && m->len + 1 < m->cap)
        m->buf[m->len++] = *s++;
    if (m->cap)
        m->buf[m->len] = '\0';
}

static void msg_u64(struct msg *m, uint64_t v)
{
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char text[21];
    for (size_t i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    text[n] = '\0';
    msg_str(m, text);
}

/* The common shape of a message: text, a number, more text. */
static enum capri_md_status fail(char *err, size_t errlen, enum capri_md_status status,
                                 const char *before, uint64_t value, const char *after)
{
    struct msg m = { err, errlen, 0 };
    if (errlen == 0)
        return status;
    err[0] = '\0';
    msg_str(&m, before);
    if (after) {
        msg_u64(&m, value);
        msg_str(&m, after);
    }
    return status;
}

const char *capri_md_status_name(enum capri_md_status status)
{
    switch (status) {
    case CAPRI_MD_OK: return "ok";
    case CAPRI_MD_END: return "end of records";
    case CAPRI_MD_BAD_MAGIC: return "bad magic";
    case CAPRI_MD_TRUNCATED: return "truncated";
    case CAPRI_MD_NEWER_VERSION: return "newer version";
    case CAPRI_MD_CORRUPT: return "corrupt";
    }
    return "unknown status";
}

/* ---- Sections ---------------------------------------------------------------- */

/* A FUNCTIONS/CALLS/REFERENCES/ALIASES payload: u32 entry_size, u32 count, entries. */
struct table {
    const uint8_t *entries;
    uint32_t entry_size, count;
};

static enum capri_md_status parse_table(const uint8_t *payload, uint32_t size, uint32_t min_entry,
                                        const char *what, struct table *out, char *err,
                                        size_t errlen)
{
    struct msg m = { err, errlen, 0 };
    if (size < 8) {
        msg_str(&m, what);
        msg_str(&m, " section is shorter than its 8-byte header");
        return CAPRI_MD_CORRUPT;
    }
    out->entry_size = load32(payload);
    out->count = load32(payload + 4);
    out->entries = payload + 8;
    if (out->entry_size < min_entry) {
        msg_str(&m, what);
        msg_str(&m, " entry_size ");
        msg_u64(&m, out->entry_size);
        msg_str(&m, " is below the minimum of ");
        msg_u64(&m, min_entry);
        return CAPRI_MD_CORRUPT;
    }
    /* 64-bit product: a huge count times a huge size must not wrap. */
    if ((uint64_t)out->entry_size * out->count > (uint64_t)size - 8) {
        msg_str(&m, what);
        msg_str(&m, ": ");
        msg_u64(&m, out->count);
        msg_str(&m, " entries of ");
        msg_u64(&m, out->entry_size);
        msg_str(&m, " bytes do not fit in the section's ");
        msg_u64(&m, size - 8);
        msg_str(&m, " bytes");
        return CAPRI_MD_CORRUPT;
    }
    return CAPRI_MD_OK;
}

static int string_ok(const struct capri_md_module *mod, uint32_t offset)
{
    /* Offset 0 is the empty string even in a record without STRINGS. */
    return offset == 0 || offset < mod->strings_size;
}

static enum capri_md_status bad_string(char *err, size_t errlen, const char *what, uint32_t index,
                                       uint32_t offset)
{
    struct msg m = { err, errlen, 0 };
    msg_str(&m, what);
    msg_str(&m, " ");
    msg_u64(&m, index);
    msg_str(&m, ": string offset ");
    msg_u64(&m, offset);
    msg_str(&m, " is outside the string table");
    return CAPRI_MD_CORRUPT;
}

/* Cross-checks between sections, done once so accessors stay simple. */
static enum capri_md_status check_entries(const struct capri_md_module *mod, char *err,
                                          size_t errlen)
{
    struct msg m = { err, errlen, 0 };
    if (!string_ok(mod, mod->module.source_file) || !string_ok(mod, mod->module.producer) ||
        !string_ok(mod, mod->module.triple))
        return fail(err, errlen, CAPRI_MD_CORRUPT,
                    "MODULE section: string offset outside the string table", 0, NULL);

    for (uint32_t i = 0; i < mod->function_count; i++) {
        struct capri_md_function_entry f;
        capri_md_function(mod, i, &f);
        if (!string_ok(mod, f.name))
            return bad_string(err, errlen, "function", i, f.name);
        if (!string_ok(mod, f.file))
            return bad_string(err, errlen, "function", i, f.file);
        if (f.linkage > CAPRI_MD_LINK_WEAK)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "function ", i, ": unknown linkage");
        if (f.log2_max_align >= CAPRI_MD_MAX_LOG2_ALIGN)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "function ", i,
                        ": log2_max_align out of range");
        if ((uint64_t)f.first_call + f.call_count > mod->call_count) {
            msg_str(&m, "function ");
            msg_u64(&m, i);
            msg_str(&m, ": calls ");
            msg_u64(&m, f.first_call);
            msg_str(&m, "+");
            msg_u64(&m, f.call_count);
            msg_str(&m, " run past the ");
            msg_u64(&m, mod->call_count);
            msg_str(&m, " entries of CALLS");
            return CAPRI_MD_CORRUPT;
        }
    }
    for (uint32_t i = 0; i < mod->call_count; i++) {
        struct capri_md_call_entry c;
        capri_md_call(mod, i, &c);
        if (!string_ok(mod, c.file))
            return bad_string(err, errlen, "call", i, c.file);
        switch (c.kind) {
        case CAPRI_MD_CALL_LOCAL:
            if (c.callee >= mod->function_count) {
                msg_str(&m, "call ");
                msg_u64(&m, i);
                msg_str(&m, ": LOCAL callee ");
                msg_u64(&m, c.callee);
                msg_str(&m, " is not one of the record's ");
                msg_u64(&m, mod->function_count);
                msg_str(&m, " functions");
                return CAPRI_MD_CORRUPT;
            }
            break;
        case CAPRI_MD_CALL_NAMED:
            if (!string_ok(mod, c.callee) || c.callee == 0)
                return bad_string(err, errlen, "call", i, c.callee);
            break;
        case CAPRI_MD_CALL_INDIRECT:
        case CAPRI_MD_CALL_ASM:
            break;
        default:
            /* A kind this reader cannot interpret would silently drop an
             * edge from the call graph, and a stack bound built on a
             * dropped edge is wrong, so refuse instead. */
            return fail(err, errlen, CAPRI_MD_CORRUPT, "call ", i, ": unknown call kind");
        }
    }
    for (uint32_t i = 0; i < mod->reference_count; i++) {
        struct capri_md_reference_entry r;
        capri_md_reference(mod, i, &r);
        if (!string_ok(mod, r.name) || r.name == 0)
            return bad_string(err, errlen, "reference", i, r.name);
    }
    for (uint32_t i = 0; i < mod->alias_count; i++) {
        struct capri_md_alias_entry a;
        capri_md_alias(mod, i, &a);
        if (!string_ok(mod, a.name) || a.name == 0)
            return bad_string(err, errlen, "alias", i, a.name);
        if (a.function >= mod->function_count) {
            msg_str(&m, "alias ");
            msg_u64(&m, i);
            msg_str(&m, ": function ");
            msg_u64(&m, a.function);
            msg_str(&m, " is not one of the record's ");
            msg_u64(&m, mod->function_count);
            msg_str(&m, " functions");
            return CAPRI_MD_CORRUPT;
        }
        if (a.linkage > CAPRI_MD_LINK_WEAK)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "alias ", i, ": unknown linkage");
    }
    for (uint32_t i = 0; i < mod->checkpoint_count; i++) {
        struct capri_md_checkpoint_entry c;
        capri_md_checkpoint(mod, i, &c);
        if (c.function >= mod->function_count)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "checkpoint ", i,
                        ": function outside FUNCTIONS");
        struct capri_md_function_entry f;
        capri_md_function(mod, c.function, &f);
        if (c.call < f.first_call || c.call - f.first_call >= f.call_count)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "checkpoint ", i,
                        ": call outside its function's calls");
        if (c.reason >= CAPRI_MD_CP_REASONS)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "checkpoint ", i, ": unknown reason");
        if (c.bound != CAPRI_MD_NO_BOUND ? c.bound >= mod->bounds_count
                                          : !(c.flags & CAPRI_MD_CPF_SMALL))
            return fail(err, errlen, CAPRI_MD_CORRUPT, "checkpoint ", i,
                        ": bounds-table slot out of range");
    }
    for (uint32_t i = 0; i < mod->yield_site_count; i++) {
        struct capri_md_yield_site_entry y;
        capri_md_yield_site(mod, i, &y);
        if (y.function >= mod->function_count)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "yield site ", i,
                        ": function outside FUNCTIONS");
        struct capri_md_function_entry f;
        capri_md_function(mod, y.function, &f);
        if (y.call < f.first_call || y.call - f.first_call >= f.call_count)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "yield site ", i,
                        ": call outside its function's calls");
        if (y.kind >= CAPRI_MD_YIELD_KINDS)
            return fail(err, errlen, CAPRI_MD_CORRUPT, "yield site ", i, ": unknown kind");
        if (!string_ok(mod, y.file))
            return bad_string(err, errlen, "yield site", i, y.file);
        if (!string_ok(mod, y.primitive))
            return bad_string(err, errlen, "yield site", i, y.primitive);
        if (!string_ok(mod, y.dead_objects))
            return bad_string(err, errlen, "yield site", i, y.dead_objects);
    }
    return CAPRI_MD_OK;
}

/* Walk the sections between the address table and the end of the record. */
static enum capri_md_status parse_sections(const uint8_t *rec, uint32_t start, uint32_t end,
                                           struct capri_md_module *mod, char *err,
                                           size_t errlen)
{
    struct msg m = { err, errlen, 0 };
    int have_functions = 0;
    int have_calls = 0;
    int have_references = 0;
    int have_aliases = 0;
    int have_checkpoints = 0;
    int have_yield_sites = 0;
    int have_strings = 0;
    int have_module = 0;
    uint32_t pos = start;

    while (pos < end) {
        if (end - pos < 8) {
            /* Record padding to 8 bytes after a 4-aligned section. */
            for (uint32_t i = pos; i < end; i++)
                if (rec[i] != 0)
                    return fail(err, errlen, CAPRI_MD_CORRUPT,
                                "non-zero bytes after the last section at offset ", pos, "");
            break;
        }
        uint32_t tag = load32(rec + pos);
        uint32_t size = load32(rec + pos + 4);
        const uint8_t *payload = rec + pos + 8;
        if (size > end - pos - 8) {
            msg_str(&m, "section tag ");
            msg_u64(&m, tag);
            msg_str(&m, " at offset ");
            msg_u64(&m, pos);
            msg_str(&m, ": ");
            msg_u64(&m, size);
            msg_str(&m, " bytes run past the record end at ");
            msg_u64(&m, end);
            return CAPRI_MD_CORRUPT;
        }
        int *seen = NULL;
        struct table t;
        enum capri_md_status st;
        switch (tag) {
        case CAPRI_MD_TAG_STRINGS:
            seen = &have_strings;
            if (size == 0 || payload[size - 1] != '\0' || payload[0] != '\0')
                return fail(err, errlen, CAPRI_MD_CORRUPT,
                            "STRINGS must start with the empty string and end with a NUL", 0,
                            NULL);
            mod->strings = (const char *)payload;
            mod->strings_size = size;
            break;
        case CAPRI_MD_TAG_MODULE:
            seen = &have_module;
            if (size < sizeof(struct capri_md_module_entry))
                return fail(err, errlen, CAPRI_MD_CORRUPT, "MODULE section has ", size,
                            " bytes, fewer than 16");
            mod->module.source_file = load32(payload);
            mod->module.producer = load32(payload + 4);
            mod->module.triple = load32(payload + 8);
            mod->module.reserved = load32(payload + 12);
            break;
        case CAPRI_MD_TAG_FUNCTIONS:
            seen = &have_functions;
            st = parse_table(payload, size, CAPRI_MD_FUNCTION_ENTRY_MIN, "FUNCTIONS", &t, err,
                             errlen);
            if (st != CAPRI_MD_OK)
                return st;
            if (t.count != mod->function_count) {
                msg_str(&m, "FUNCTIONS has ");
                msg_u64(&m, t.count);
                msg_str(&m, " entries but the header says ");
                msg_u64(&m, mod->function_count);
                return CAPRI_MD_CORRUPT;
            }
            mod->functions = t.entries;
            mod->function_entry_size = t.entry_size;
            break;
        case CAPRI_MD_TAG_CALLS:
            seen = &have_calls;
            st = parse_table(payload, size, CAPRI_MD_CALL_ENTRY_MIN, "CALLS", &t, err, errlen);
            if (st != CAPRI_MD_OK)
                return st;
            mod->calls = t.entries;
            mod->call_entry_size = t.entry_size;
            mod->call_count = t.count;
            break;
        case CAPRI_MD_TAG_REFERENCES:
            seen = &have_references;
            st = parse_table(payload, size, CAPRI_MD_REFERENCE_ENTRY_MIN, "REFERENCES", &t, err,
                             errlen);
            if (st != CAPRI_MD_OK)
                return st;
            mod->references = t.entries;
            mod->reference_entry_size = t.entry_size;
            mod->reference_count = t.count;
            break;
        case CAPRI_MD_TAG_ALIASES:
            seen = &have_aliases;
            st = parse_table(payload, size, CAPRI_MD_ALIAS_ENTRY_MIN, "ALIASES", &t, err, errlen);
            if (st != CAPRI_MD_OK)
                return st;
            mod->aliases = t.entries;
            mod->alias_entry_size = t.entry_size;
            mod->alias_count = t.count;
            break;
        case CAPRI_MD_TAG_CHECKPOINTS:
            seen = &have_checkpoints;
            st = parse_table(payload, size, CAPRI_MD_CHECKPOINT_ENTRY_MIN, "CHECKPOINTS", &t, err,
                             errlen);
            if (st != CAPRI_MD_OK)
                return st;
            mod->checkpoints = t.entries;
            mod->checkpoint_entry_size = t.entry_size;
            mod->checkpoint_count = t.count;
            break;
        case CAPRI_MD_TAG_YIELD_SITES:
            seen = &have_yield_sites;
            st = parse_table(payload, size, CAPRI_MD_YIELD_SITE_ENTRY_MIN, "YIELD_SITES", &t, err,
                             errlen);
            if (st != CAPRI_MD_OK)
                return st;
            mod->yield_sites = t.entries;
            mod->yield_site_entry_size = t.entry_size;
            mod->yield_site_count = t.count;
            break;
        default:
            break; /* a later minor version's section: skip it */
        }
        if (seen) {
            if (*seen)
                return fail(err, errlen, CAPRI_MD_CORRUPT, "section tag ", tag,
                            " appears twice");
            *seen = 1;
        }
        /* Next section on a 4-byte boundary; size <= end - pos - 8 keeps this in range. */
        pos += 8 + size;
        pos += (4 - pos % 4) % 4;
        if (pos > end)
            pos = end; /* padding of the last section may be cut by the record end */
    }
    if (mod->function_count > 0 && !have_functions)
        return fail(err, errlen, CAPRI_MD_CORRUPT, "the header lists ", mod->function_count,
                    " functions but there is no FUNCTIONS section");
    return CAPRI_MD_OK;
}

enum capri_md_status capri_md_next(const uint8_t *data, size_t size, size_t *offset,
                                   struct capri_md_module *out, char *err, size_t errlen)
{
    struct msg m = { err, errlen, 0 };
    size_t pos = *offset;
    if (errlen)
        err[0] = '\0';
    memset(out, 0, sizeof *out);

    /* Linkers may pad between records with zeros; a record never starts
     * with a zero word because of the magic. */
    while (pos < size && data[pos] == 0)
        pos++;
    if (pos >= size) {
        *offset = size;
        return CAPRI_MD_END;
    }
    /* Records are 8-aligned: step back to the word the non-zero byte is in. */
    pos -= (pos - *offset) % 8;
    *offset = pos;

    size_t avail = size - pos;
    const uint8_t *rec = data + pos;
    if (avail >= 4 && load32(rec) != CAPRI_MD_MAGIC)
        return fail(err, errlen, CAPRI_MD_BAD_MAGIC, "not a capri metadata record (bad magic)",
                    0, NULL);
    if (avail < 8)
        return fail(err, errlen, CAPRI_MD_TRUNCATED, "record header truncated: ", avail,
                    " bytes left");
    uint16_t major = load16(rec + 4);
    uint16_t minor = load16(rec + 6);
    if (major != CAPRI_MD_VERSION_MAJOR) {
        msg_str(&m, "capri metadata version ");
        msg_u64(&m, major);
        msg_str(&m, ".");
        msg_u64(&m, minor);
        if (major > CAPRI_MD_VERSION_MAJOR) {
            msg_str(&m, " is newer than this reader's version ");
        } else {
            msg_str(&m, " is not known to this reader (version ");
        }
        msg_u64(&m, CAPRI_MD_VERSION_MAJOR);
        msg_str(&m, ".");
        msg_u64(&m, CAPRI_MD_VERSION_MINOR);
        if (major > CAPRI_MD_VERSION_MAJOR) {
            msg_str(&m, "; use a capri built from the same release as the plugin");
            return CAPRI_MD_NEWER_VERSION;
        }
        msg_str(&m, ")");
        return CAPRI_MD_CORRUPT;
    }
    if (avail < CAPRI_MD_HEADER_SIZE)
        return fail(err, errlen, CAPRI_MD_TRUNCATED, "record header truncated: ", avail,
                    " bytes left");

    uint32_t record_size = load32(rec + 8);
    uint32_t header_size = load32(rec + 12);
    if (record_size % CAPRI_MD_ALIGN != 0)
        return fail(err, errlen, CAPRI_MD_CORRUPT, "record_size ", record_size,
                    " is not a multiple of 8");
    if (record_size > avail) {
        msg_str(&m, "record_size ");
        msg_u64(&m, record_size);
        msg_str(&m, " runs past the end of the data (");
        msg_u64(&m, avail);
        msg_str(&m, " bytes left)");
        return CAPRI_MD_TRUNCATED;
    }
    if (header_size < CAPRI_MD_HEADER_SIZE || header_size % CAPRI_MD_ALIGN != 0)
        return fail(err, errlen, CAPRI_MD_CORRUPT, "header_size ", header_size,
                    " is below 48 or not a multiple of 8");
    if (header_size > record_size)
        return fail(err, errlen, CAPRI_MD_CORRUPT, "header_size ", header_size,
                    " is larger than the record");

    out->record = rec;
    out->record_size = record_size;
    out->version_major = major;
    out->version_minor = minor;
    out->flags = load32(rec + 16);
    out->function_count = load32(rec + 20);
    out->addresses_offset = header_size;
    /* 1.2 header fields: zero in older records (reserved then). */
    out->bounds_table_offset = offsetof(struct capri_md_header, bounds_table);
    out->bounds_count = load32(rec + offsetof(struct capri_md_header, bounds_count));
    out->bounds_slack = load32(rec + offsetof(struct capri_md_header, bounds_slack));

    uint64_t table_end = (uint64_t)header_size + 8 * (uint64_t)out->function_count;
    if (table_end > record_size) {
        msg_str(&m, "address table of ");
        msg_u64(&m, out->function_count);
        msg_str(&m, " functions runs past the record end at ");
        msg_u64(&m, record_size);
        memset(out, 0, sizeof *out);
        return CAPRI_MD_CORRUPT;
    }
    enum capri_md_status st =
        parse_sections(rec, (uint32_t)table_end, record_size, out, err, errlen);
    if (st == CAPRI_MD_OK)
        st = check_entries(out, err, errlen);
    if (st != CAPRI_MD_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    *offset = pos + record_size;
    return CAPRI_MD_OK;
}

const char *capri_md_string(const struct capri_md_module *m, uint32_t offset)
{
    if (!m->strings || offset >= m->strings_size)
        return "";
    return m->strings + offset; /* NUL-terminated: the table ends with a NUL */
}

/* Copy entry i of a table (count entries of entry_size bytes) into a struct
 * of `want` bytes, zero-extending older, shorter entries; an index out of
 * range (or no table) gives all zeros. */
static void copy_entry(void *out, size_t want, const uint8_t *table, uint32_t count,
                       uint32_t entry_size, uint32_t i)
{
    memset(out, 0, want);
    if (!table || i >= count)
        return;
    memcpy(out, table + (size_t)i * entry_size, entry_size < want ? entry_size : want);
}

/* Entries at least as long as this reader's structs (every record of this
 * minor version) take a fixed-size copy the compiler inlines: the runtime
 * reads every entry at start-up, and a library call per entry would be
 * most of that time. */
void capri_md_function(const struct capri_md_module *m, uint32_t i,
                       struct capri_md_function_entry *out)
{
    if (m->functions && i < m->function_count && m->function_entry_size >= sizeof *out) {
        memcpy(out, m->functions + (size_t)i * m->function_entry_size, sizeof *out);
        return;
    }
    copy_entry(out, sizeof *out, m->functions, m->function_count, m->function_entry_size, i);
}

void capri_md_call(const struct capri_md_module *m, uint32_t i, struct capri_md_call_entry *out)
{
    if (m->calls && i < m->call_count && m->call_entry_size >= sizeof *out) {
        memcpy(out, m->calls + (size_t)i * m->call_entry_size, sizeof *out);
        return;
    }
    copy_entry(out, sizeof *out, m->calls, m->call_count, m->call_entry_size, i);
}

void capri_md_reference(const struct capri_md_module *m, uint32_t i,
                        struct capri_md_reference_entry *out)
{
    copy_entry(out, sizeof *out, m->references, m->reference_count, m->reference_entry_size, i);
}

void capri_md_alias(const struct capri_md_module *m, uint32_t i, struct capri_md_alias_entry *out)
{
    copy_entry(out, sizeof *out, m->aliases, m->alias_count, m->alias_entry_size, i);
}

void capri_md_checkpoint(const struct capri_md_module *m, uint32_t i,
                         struct capri_md_checkpoint_entry *out)
{
    if (m->checkpoints && i < m->checkpoint_count && m->checkpoint_entry_size >= sizeof *out) {
        memcpy(out, m->checkpoints + (size_t)i * m->checkpoint_entry_size, sizeof *out);
        return;
    }
    copy_entry(out, sizeof *out, m->checkpoints, m->checkpoint_count, m->checkpoint_entry_size, i);
}

void capri_md_yield_site(const struct capri_md_module *m, uint32_t i,
                         struct capri_md_yield_site_entry *out)
{
    if (m->yield_sites && i < m->yield_site_count && m->yield_site_entry_size >= sizeof *out) {
        memcpy(out, m->yield_sites + (size_t)i * m->yield_site_entry_size, sizeof *out);
        return;
    }
    copy_entry(out, sizeof *out, m->yield_sites, m->yield_site_count, m->yield_site_entry_size,
               i);
}

uint32_t capri_md_yield_site_at(const struct capri_md_module *m, const void *address)
{
    if (!m->yield_sites || m->yield_site_count == 0 || m->yield_site_entry_size == 0)
        return UINT32_MAX;
    /* Integer arithmetic: the address may belong to another object. */
    uintptr_t a = (uintptr_t)address;
    uintptr_t first = (uintptr_t)m->yield_sites;
    if (a < first)
        return UINT32_MAX;
    uintptr_t delta = a - first;
    if (delta % m->yield_site_entry_size != 0)
        return UINT32_MAX;
    uintptr_t i = delta / m->yield_site_entry_size;
    return i < m->yield_site_count ? (uint32_t)i : UINT32_MAX;
}

uint64_t capri_md_address_slot(const struct capri_md_module *m, uint32_t i)
{
    if (i >= m->function_count)
        return 0;
    return load64(m->record + m->addresses_offset + (size_t)i * 8);
}

uint32_t capri_md_sanitizers(const struct capri_md_module *m)
{
    uint32_t bits = m->flags & CAPRI_MD_MODULE_SANITIZERS;
    if (bits)
        return bits;
    /* A record from before the header bits: its functions say. */
    for (uint32_t i = 0; i < m->function_count; i++) {
        struct capri_md_function_entry f;
        capri_md_function(m, i, &f);
        if (f.flags & CAPRI_MD_FN_SANITIZED)
            return CAPRI_MD_SANITIZE_UNNAMED;
    }
    return 0;
}

const char *capri_md_sanitizer_name(uint32_t sanitizers)
{
    if (sanitizers & CAPRI_MD_MODULE_SANITIZE_ADDRESS)
        return "AddressSanitizer";
    if (sanitizers & CAPRI_MD_MODULE_SANITIZE_HWADDRESS)
        return "HWAddressSanitizer";
    if (sanitizers & CAPRI_MD_MODULE_SANITIZE_THREAD)
        return "ThreadSanitizer";
    if (sanitizers & CAPRI_MD_MODULE_SANITIZE_MEMORY)
        return "MemorySanitizer";
    if (sanitizers & CAPRI_MD_SANITIZE_UNNAMED)
        return "a sanitizer";
    return "";
}

/* ---- .stack_sizes -------------------------------------------------------------- */

#define CAPRI_MD_EM_X86_64 62

static uint64_t sat_add64(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t capri_md_backend_frame(uint64_t backend, const struct capri_md_function_entry *f,
                                uint16_t e_machine)
{
    uint64_t size = backend;
    if (e_machine == CAPRI_MD_EM_X86_64) {
        size = sat_add64(size, 8); /* the return address the call pushes */
        if ((f->flags & CAPRI_MD_FN_LEAF) && !(f->flags & CAPRI_MD_FN_NO_RED_ZONE))
            size = sat_add64(size, 128); /* the red zone below the stack pointer */
    }
    if (f->log2_max_align > 4 && f->log2_max_align < 64)
        size = sat_add64(size, (uint64_t)1 << f->log2_max_align);
    return size;
}
