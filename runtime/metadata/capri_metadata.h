/*
 * capri metadata: the format the plugin writes into every instrumented
 * module and the parser that both the runtime and capri-stack use.
 *
 * The format is described in docs/metadata.md. This header is the single
 * source of its constants; the plugin (C++) includes it too.
 *
 * A module record is a self-delimiting, versioned blob. Records from many
 * modules are concatenated by the linker in the section "capri_meta". The
 * parser never trusts the input: every offset, count and string is checked
 * against the record's bounds before it is returned.
 */
#ifndef CAPRI_METADATA_H
#define CAPRI_METADATA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAPRI_MD_SECTION "capri_meta"
#define CAPRI_MD_MAGIC 0x49525043u /* "CPRI" little-endian */
#define CAPRI_MD_VERSION_MAJOR 1u
#define CAPRI_MD_VERSION_MINOR 3u
#define CAPRI_MD_HEADER_SIZE 48u
#define CAPRI_MD_ALIGN 8u

/* Header flags. */
#define CAPRI_MD_MODULE_LTO (1u << 0)          /* whole program placed at an LTO link */
#define CAPRI_MD_MODULE_TYPES_COARSE (1u << 1) /* no KCFI: type ids are IR-type hashes */
/* Sanitizers that instrument the module after the plugin ran (any of its
 * functions has the attribute): the plugin's frame estimates cannot see
 * what they add, so the module needs the backend's sizes (docs/runtime.md).
 * Written since the 1.2 plugin that added them; older records leave them
 * zero (their functions still carry CAPRI_MD_FN_SANITIZED). */
#define CAPRI_MD_MODULE_SANITIZE_ADDRESS (1u << 2)   /* AddressSanitizer */
#define CAPRI_MD_MODULE_SANITIZE_HWADDRESS (1u << 3) /* HWAddressSanitizer */
#define CAPRI_MD_MODULE_SANITIZE_THREAD (1u << 4)    /* ThreadSanitizer */
#define CAPRI_MD_MODULE_SANITIZE_MEMORY (1u << 5)    /* MemorySanitizer */
/* The record lists the module's yield sites (1.3): a function of it with
 * none never parks. Without the flag (older records, -capri-yield-sites=0)
 * nothing is known about parking. */
#define CAPRI_MD_MODULE_YIELD_SITES (1u << 6)
#define CAPRI_MD_MODULE_SANITIZERS                                                            \
    (CAPRI_MD_MODULE_SANITIZE_ADDRESS | CAPRI_MD_MODULE_SANITIZE_HWADDRESS |                   \
     CAPRI_MD_MODULE_SANITIZE_THREAD | CAPRI_MD_MODULE_SANITIZE_MEMORY)

/* Section tags. Readers skip tags they do not know (minor-version growth). */
#define CAPRI_MD_TAG_STRINGS 1u
#define CAPRI_MD_TAG_MODULE 2u
#define CAPRI_MD_TAG_FUNCTIONS 3u
#define CAPRI_MD_TAG_CALLS 4u
#define CAPRI_MD_TAG_REFERENCES 5u /* declared functions whose address the module takes */
#define CAPRI_MD_TAG_ALIASES 6u    /* other symbol names of defined functions (1.1) */
#define CAPRI_MD_TAG_CHECKPOINTS 7u /* instrumented call sites (1.2) */
#define CAPRI_MD_TAG_YIELD_SITES 8u /* calls that may park the thread (1.3) */

/* Function linkage. */
#define CAPRI_MD_LINK_EXTERNAL 0u /* strong global definition */
#define CAPRI_MD_LINK_INTERNAL 1u /* static: visible to its module only */
#define CAPRI_MD_LINK_WEAK 2u     /* weak/linkonce: another definition may win */

/* Function flags. */
#define CAPRI_MD_FN_DYNAMIC_ALLOCA (1u << 0) /* alloca of run-time size (VLA) */
#define CAPRI_MD_FN_INLINE_ASM (1u << 1)     /* contains inline asm: may touch the stack */
#define CAPRI_MD_FN_RETURNS_TWICE (1u << 2)  /* calls setjmp or another returns_twice */
#define CAPRI_MD_FN_VARIADIC (1u << 3)       /* variadic: register save area */
#define CAPRI_MD_FN_ADDRESS_TAKEN (1u << 4)  /* address escapes: may be called indirectly */
#define CAPRI_MD_FN_SANITIZED (1u << 5)      /* sanitizer passes will grow its frame */
#define CAPRI_MD_FN_RECURSION_BOUND (1u << 6)/* user declared a recursion depth */
#define CAPRI_MD_FN_OPTNONE (1u << 7)        /* compiled without optimisation */
#define CAPRI_MD_FN_TYPE_COARSE (1u << 8)    /* type_id is an IR-type hash */
#define CAPRI_MD_FN_LEAF (1u << 9)           /* makes no calls at all (red zone usable) */
#define CAPRI_MD_FN_NO_RED_ZONE (1u << 10)   /* compiled with -mno-red-zone */

/* Call kinds. */
#define CAPRI_MD_CALL_LOCAL 0u    /* callee: index of a function in this module */
#define CAPRI_MD_CALL_NAMED 1u    /* callee: symbol name, linked across modules */
#define CAPRI_MD_CALL_INDIRECT 2u /* callee unknown: resolved by type identity */
#define CAPRI_MD_CALL_ASM 3u      /* call from inline asm: unknown target */

/* Call flags. */
#define CAPRI_MD_CALLF_TAIL (1u << 0)    /* tail call (may reuse the caller's frame) */
#define CAPRI_MD_CALLF_INVOKE (1u << 1)  /* invoke (may unwind) */
#define CAPRI_MD_CALLF_CALLBR (1u << 2)  /* callbr (asm goto) */
#define CAPRI_MD_CALLF_TYPE_COARSE (1u << 3) /* indirect resolved by IR type only */
#define CAPRI_MD_CALLF_CODEGEN (1u << 4) /* call introduced by code generation */
#define CAPRI_MD_CALLF_CAST (1u << 5)    /* function called through another type */
#define CAPRI_MD_CALLF_MUSTTAIL (1u << 6) /* musttail: cannot be outlined */
#define CAPRI_MD_CALLF_RETURNS_TWICE (1u << 7) /* setjmp and friends */

/* Call flags of the second byte, `flags2` (the first is full). Added to 1.2
 * without a version change: the byte was reserved and always written as
 * zero, and older readers ignore it, so a record without a bit reads as
 * before. */
#define CAPRI_MD_CALLF2_MARK (1u << 0) /* NAMED: external_region is a measured mark */

/* Checkpoint reasons (docs/stack-growth-design.md). */
#define CAPRI_MD_CP_CYCLE 0u       /* a back edge of a call-graph cycle */
#define CAPRI_MD_CP_MAXPATH 1u     /* the path from the caller would exceed MaxPath */
#define CAPRI_MD_CP_CROSS_FILE 2u  /* the callee is defined in another module */
#define CAPRI_MD_CP_EXTERNAL 3u    /* code without metadata (a measured mark or the reserve) */
#define CAPRI_MD_CP_INDIRECT 4u    /* an indirect call whose targets are not all known */
#define CAPRI_MD_CP_DYNAMIC_ALLOCA 5u
#define CAPRI_MD_CP_FORCED 6u      /* annotate("capri.checkpoint_all") */
#define CAPRI_MD_CP_REASONS 7u

/* Checkpoint flags. */
#define CAPRI_MD_CPF_SMALL (1u << 0) /* compared with the limit alone: no table slot */

/* Yield-site kinds (docs/yield-design.md). */
#define CAPRI_MD_YIELD_DIRECT 0u     /* a call to a yield primitive */
#define CAPRI_MD_YIELD_TRANSITIVE 1u /* a call to a function of this module that may park */
#define CAPRI_MD_YIELD_UNKNOWN 2u    /* indirect, or a callee defined in another module */
#define CAPRI_MD_YIELD_KINDS 3u

/* Yield-site flags. */
#define CAPRI_MD_YSF_STORED (1u << 0)       /* the site word is stored before the call */
#define CAPRI_MD_YSF_NO_LIFETIMES (1u << 1) /* no lifetime markers: every object counted live */
#define CAPRI_MD_YSF_INDIRECT (1u << 2)     /* the call is indirect */

/* No bounds-table slot. */
#define CAPRI_MD_NO_BOUND 0xffffffffu

/* On-disk entry layouts (little-endian, naturally aligned inside the record). */
struct capri_md_header {
    uint32_t magic;
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t record_size;    /* whole record, multiple of 8 */
    uint32_t header_size;    /* offset of the function address table */
    uint32_t flags;
    uint32_t function_count; /* entries in the address table and FUNCTIONS */
    uint64_t runtime_link;   /* zero in files; the runtime's list link */
    /* 1.2 (zero before): the module's bounds table (an array of u64 region
     * bounds the checkpoints load; relocated like the address table), its
     * entries, and the slack the plugin assumed for small regions. */
    uint64_t bounds_table;
    uint32_t bounds_count;
    uint32_t bounds_slack;
};

struct capri_md_section_header {
    uint32_t tag;
    uint32_t size; /* payload bytes; the next section starts 4-aligned */
};

struct capri_md_module_entry {
    uint32_t source_file; /* string offsets */
    uint32_t producer;
    uint32_t triple;
    uint32_t reserved;
};

struct capri_md_function_entry {
    uint32_t name; /* symbol name */
    uint32_t file;
    uint32_t line;
    uint8_t linkage;
    uint8_t log2_max_align; /* largest alignment of a stack object or spilled vector */
    uint16_t flags;
    uint32_t frame_estimate;  /* upper bound of the frame, return address included */
    uint32_t estimate_allocas;/* of which: static stack objects */
    uint32_t estimate_spills; /* of which: register spills */
    uint32_t type_id;         /* KCFI type hash (or IR-type hash when coarse) */
    uint32_t ir_type_id;      /* IR function-type hash, always */
    uint32_t first_call;      /* index into CALLS */
    uint32_t call_count;
    uint32_t recursion_bound; /* declared depth, 0 when none */
    /* 1.2: the most the function uses from its entry to its first
     * checkpoints (its frame plus its deepest unchecked call), as placed;
     * 0 when unknown. capri_spawn sizes a first chunk with it. */
    uint32_t entry_region;
};

struct capri_md_call_entry {
    uint8_t kind;
    uint8_t flags;    /* CAPRI_MD_CALLF_* */
    uint8_t flags2;   /* CAPRI_MD_CALLF2_* (zero in older records) */
    uint8_t reserved;
    uint32_t callee;     /* LOCAL: function index; NAMED: string offset */
    uint32_t type_id;    /* INDIRECT: expected type hash */
    uint32_t ir_type_id; /* IR type hash of the call */
    uint32_t file;       /* string offset of the call's source file */
    uint32_t line;
    /* 1.2: what the plugin charged for a call into code it cannot see
     * (NAMED: the measured mark, flagged CAPRI_MD_CALLF2_MARK, or the
     * external reserve; INDIRECT, ASM: the reserve); 0 for LOCAL calls. */
    uint32_t external_region;
};

/* One instrumented call site (1.2): a check of the stack pointer against
 * the thread's limit before the call. Several sites may share a call entry
 * (the calls to one callee from one function). */
struct capri_md_checkpoint_entry {
    uint32_t function;  /* index in FUNCTIONS: the caller */
    uint32_t call;      /* index in CALLS, within the caller's slice */
    uint8_t reason;     /* CAPRI_MD_CP_* */
    uint8_t flags;      /* CAPRI_MD_CPF_* */
    uint16_t reserved;
    uint32_t region;    /* the plugin's bound: bytes below the caller's stack pointer */
    uint32_t bound;     /* slot in the bounds table, or CAPRI_MD_NO_BOUND (small) */
    uint32_t stack_args;/* of the region: arguments the call passes on the stack */
    uint32_t line;      /* of the call site (0 without debug info) */
};

/* One yield site (1.3): a call that may park the calling capri thread.
 * The entry's address inside the loaded record is the site's identity:
 * the plugin stores it in the thread-local word `__capri_yield_site`
 * before the call. */
struct capri_md_yield_site_entry {
    uint32_t function;  /* index in FUNCTIONS: the caller */
    uint32_t call;      /* index in CALLS, within the caller's slice */
    uint8_t kind;       /* CAPRI_MD_YIELD_* */
    uint8_t flags;      /* CAPRI_MD_YSF_* */
    uint16_t reserved;
    uint32_t file;      /* string offset: the call's source file */
    uint32_t line;      /* 0 without debug info */
    uint32_t column;
    uint32_t frame;     /* the caller's frame bound (coloured), bytes */
    uint32_t live;      /* bytes live across the call (objects and values) */
    uint32_t primitive; /* string offset: the yield primitive reached ("" when unknown) */
    uint32_t dead;      /* bytes of the named stack objects dead at the call */
    uint32_t dead_objects; /* string offset: "name=bytes;..." largest first ("" when none) */
};

/* A function declared (not defined) in the module whose address the module
 * takes: the definition elsewhere becomes a possible indirect-call target. */
struct capri_md_reference_entry {
    uint32_t name;       /* string offset */
    uint32_t type_id;    /* KCFI type hash (or IR-type hash when coarse) */
    uint32_t ir_type_id;
    uint32_t flags;      /* CAPRI_MD_FN_TYPE_COARSE when type_id is an IR hash */
};

/* Another name for a function the module defines (a GlobalAlias): calls by
 * that name reach the function. Linkage as for functions: an internal alias
 * is visible in its module only, a weak one may be replaced at link time. */
struct capri_md_alias_entry {
    uint32_t name;     /* string offset */
    uint32_t function; /* index in FUNCTIONS */
    uint8_t linkage;   /* CAPRI_MD_LINK_* */
    uint8_t reserved[3];
};

/* ---- Parser ---------------------------------------------------------------- */

/* A validated view of one module record. Pointers point into the input. */
struct capri_md_module {
    const uint8_t *record;
    uint32_t record_size;
    uint16_t version_major, version_minor;
    uint32_t flags;
    uint32_t function_count;
    uint32_t call_count;
    size_t addresses_offset; /* offset of the address table in the record */
    const char *strings;
    uint32_t strings_size;
    const uint8_t *functions; /* function_count entries of function_entry_size */
    uint32_t function_entry_size;
    const uint8_t *calls;
    uint32_t call_entry_size;
    struct capri_md_module_entry module; /* zeroed when absent */
    const uint8_t *references; /* reference_count entries of reference_entry_size */
    uint32_t reference_entry_size;
    uint32_t reference_count;
    const uint8_t *aliases; /* alias_count entries of alias_entry_size (1.1) */
    uint32_t alias_entry_size;
    uint32_t alias_count;
    const uint8_t *checkpoints; /* checkpoint_count entries (1.2) */
    uint32_t checkpoint_entry_size;
    uint32_t checkpoint_count;
    const uint8_t *yield_sites; /* yield_site_count entries (1.3) */
    uint32_t yield_site_entry_size;
    uint32_t yield_site_count;
    uint32_t bounds_count; /* 1.2 header fields (zero before) */
    uint32_t bounds_slack;
    size_t bounds_table_offset; /* offset of the bounds_table slot in the record */
};

/*
 * The shortest entries the parser accepts (zero-extending the rest). An
 * entry must at least reach the last field a reader cannot do without:
 * a function's call slice (first_call, call_count), a call's ir_type_id,
 * a reference's ir_type_id, an alias's linkage (read as external when
 * absent it would turn a static alias into a global name). Fields after
 * these read as zero when absent.
 */
#define CAPRI_MD_FUNCTION_ENTRY_MIN 44u
#define CAPRI_MD_CALL_ENTRY_MIN 16u
#define CAPRI_MD_REFERENCE_ENTRY_MIN 12u
#define CAPRI_MD_ALIAS_ENTRY_MIN 9u
#define CAPRI_MD_CHECKPOINT_ENTRY_MIN 20u
#define CAPRI_MD_YIELD_SITE_ENTRY_MIN 12u /* function, call, kind */
/* log2_max_align must be below this (alignments up to 2 GiB). */
#define CAPRI_MD_MAX_LOG2_ALIGN 32u

enum capri_md_status {
    CAPRI_MD_OK = 0,
    CAPRI_MD_END,             /* no more records */
    CAPRI_MD_BAD_MAGIC,
    CAPRI_MD_TRUNCATED,
    CAPRI_MD_NEWER_VERSION,   /* a major version this parser does not know */
    CAPRI_MD_CORRUPT,
};

/*
 * Parse the record starting at data[*offset], skipping zero padding.
 * On CAPRI_MD_OK fills *out and advances *offset past the record.
 * On failure writes a message to err (if errlen > 0) and leaves *offset at
 * the start of the offending record (after any padding), zeroing *out.
 * The whole record is validated before CAPRI_MD_OK: bounds of every
 * section and table, string offsets, call slices, LOCAL callee indices,
 * alias function indices and linkages.
 * It never allocates and never reads outside data[0, size).
 */
enum capri_md_status capri_md_next(const uint8_t *data, size_t size, size_t *offset,
                                   struct capri_md_module *out, char *err, size_t errlen);

/* A string of the module, or "" when the offset is out of range. */
const char *capri_md_string(const struct capri_md_module *m, uint32_t offset);

/* Copy out entry i (zero-extending older, shorter entries). */
void capri_md_function(const struct capri_md_module *m, uint32_t i,
                       struct capri_md_function_entry *out);
void capri_md_call(const struct capri_md_module *m, uint32_t i,
                   struct capri_md_call_entry *out);

void capri_md_reference(const struct capri_md_module *m, uint32_t i,
                        struct capri_md_reference_entry *out);
void capri_md_alias(const struct capri_md_module *m, uint32_t i,
                    struct capri_md_alias_entry *out);
void capri_md_checkpoint(const struct capri_md_module *m, uint32_t i,
                         struct capri_md_checkpoint_entry *out);
void capri_md_yield_site(const struct capri_md_module *m, uint32_t i,
                         struct capri_md_yield_site_entry *out);

/*
 * The index of the yield site whose entry starts at `address`, when the
 * module was parsed from the loaded record (the value a thread found in
 * `__capri_yield_site`); UINT32_MAX when the address is not the start of
 * one of the module's entries. A runtime finds the module first (the
 * record whose bytes [record, record + record_size) hold the address).
 */
uint32_t capri_md_yield_site_at(const struct capri_md_module *m, const void *address);

/* The raw 64-bit address slot i as stored (before any relocation). */
uint64_t capri_md_address_slot(const struct capri_md_module *m, uint32_t i);

/* A short name for a status ("truncated", "corrupt", ...). */
const char *capri_md_status_name(enum capri_md_status status);

/*
 * The sanitizers that instrument the module: the header's
 * CAPRI_MD_MODULE_SANITIZE_* bits, or, for a record written before those
 * bits (none set, but a function flagged CAPRI_MD_FN_SANITIZED),
 * CAPRI_MD_SANITIZE_UNNAMED. 0 when nothing is sanitized. Reads every
 * function entry when no bit is set: call it where the answer matters.
 */
#define CAPRI_MD_SANITIZE_UNNAMED (1u << 31) /* never in a header */
uint32_t capri_md_sanitizers(const struct capri_md_module *m);

/* "AddressSanitizer", "HWAddressSanitizer", "ThreadSanitizer",
 * "MemorySanitizer", or "a sanitizer" (CAPRI_MD_SANITIZE_UNNAMED): the
 * name of the lowest bit set in `sanitizers`; "" when none is. */
const char *capri_md_sanitizer_name(uint32_t sanitizers);

/* ---- The backend's frame sizes (.stack_sizes) ------------------------------ */

/* The largest value a bounds-table slot holds (the plugin's clamp, and the
 * runtime's when it rewrites a slot): stacks lie above it, so one
 * `sub; cmp; jb` never wraps (docs/stack-growth-design.md, revision 9). */
#define CAPRI_MD_MAX_REGION_BOUND ((uint64_t)1 << 40)

/*
 * Decode the .stack_sizes entry at data[*pos] (-fstack-size-section: an
 * 8-byte function address, then the frame size as ULEB128) and advance
 * *pos past it. Returns 1 for an entry, 0 at the end of the data, -1 when
 * the entry is truncated or its size is wider than 64 bits (*pos is then
 * left at the entry's start). Never reads outside data[0, size). Inline:
 * libcapri decodes every entry of a large program at start-up.
 */
static inline int capri_md_stack_size_next(const uint8_t *data, size_t size, size_t *pos,
                                           uint64_t *address, uint64_t *frame)
{
    size_t p = *pos;
    if (p >= size)
        return 0;
    if (size - p < 8)
        return -1;
    uint64_t a;
    memcpy(&a, data + p, 8);
    p += 8;
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (p >= size)
            return -1;
        uint8_t byte = data[p++];
        if (shift >= 64 || (shift == 63 && (byte & 0x7e)))
            return -1;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
    }
    *address = a;
    *frame = v;
    *pos = p;
    return 1;
}

/*
 * A function's frame from the backend's .stack_sizes figure, which counts
 * neither what the call pushes nor the red zone nor realignment: adds the
 * return address (8 on x86-64), the red zone (128) for a LEAF function not
 * built with NO_RED_ZONE, and 2^log2_max_align when the frame is realigned
 * above 16 bytes (the realigning `and` can discard up to that much). On a
 * machine this file does not know (e_machine other than x86-64) only the
 * realignment is added. Saturates at UINT64_MAX. libcapri and capri-stack
 * both correct with this (docs/metadata.md).
 */
uint64_t capri_md_backend_frame(uint64_t backend, const struct capri_md_function_entry *f,
                                uint16_t e_machine);

#ifdef __cplusplus
}
#endif

#endif
