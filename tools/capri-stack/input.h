/*
 * What capri-stack reads from its input files: for every ELF object (a file
 * or an archive member) the capri metadata records, with their function
 * address slots already relocated, and the backend's frame sizes from
 * .stack_sizes, keyed by the same addresses.
 */
#ifndef CAPRI_STACK_INPUT_H
#define CAPRI_STACK_INPUT_H

#include "capri_metadata.h"
#include "util.h"

/* One .stack_sizes pair: a function address and its frame size. */
struct stack_size {
    uint64_t address;
    uint64_t size;
};

/* A capri_meta section's contents after relocation (a private copy). */
struct meta_blob {
    uint8_t *data;
    size_t size;
};

/* One ELF object: a whole file, or one member of an archive. */
struct object {
    char *name;        /* "prog", "libx.a(y.o)" */
    uint16_t elf_type; /* ET_REL, ET_EXEC or ET_DYN */
    uint16_t elf_machine; /* e_machine: picks the frame correction */
    struct meta_blob *blobs;
    size_t blob_count, blob_cap;
    /* The validated records, pointing into blobs. */
    struct capri_md_module *records;
    size_t record_count, record_cap;
    /* Sorted by address, one entry per address (the largest size wins). */
    struct stack_size *sizes;
    size_t size_count, size_cap;
    int has_stack_sizes; /* a .stack_sizes section was present (maybe empty) */
};

/* An input (a file, or an archive member) that carries no capri metadata. */
struct bare_input {
    char *name;  /* "asm.o", "lib.a(x.o)", or "lib.a" when no member has metadata */
    int archive; /* an archive none of whose members has metadata */
};

struct inputs {
    struct object *objects; /* only objects with capri records */
    size_t count, cap;
    struct bare_input *bare; /* inputs without metadata, in command-line order */
    size_t bare_count, bare_cap;
};

/*
 * Read a file (ELF object, executable, shared object, or ar archive) and
 * append its objects. On bad input returns -1 with a message naming the file.
 * A readable file (or archive member) without capri metadata is not an error
 * here: it is remembered in `bare`, and inputs_finish decides.
 */
int inputs_add_file(struct inputs *in, const char *path, struct error *err);
int inputs_add_buffer(struct inputs *in, const char *name, const uint8_t *data, size_t size,
                      struct error *err);

/*
 * Call once every input is added. When no input has capri metadata at all,
 * returns -1 with a message saying how to build them (a report without data
 * would only look reassuring). Otherwise warns once per input without
 * metadata (its functions are code without metadata) and returns 0.
 */
int inputs_finish(struct inputs *in, struct error *err);
void inputs_free(struct inputs *in);

/*
 * Append an object made of raw capri_meta bytes (copied) whose address slots
 * are final, with backend sizes for some addresses: what the ELF reader
 * produces, without an ELF file. Used by the unit tests.
 */
int inputs_add_records(struct inputs *in, const char *name, const uint8_t *meta, size_t size,
                       const struct stack_size *sizes, size_t size_count, struct error *err);

/* The backend frame size recorded for address, or -1 when there is none. */
int stack_size_find(const struct object *obj, uint64_t address, uint64_t *size);

/* Used by the ELF reader. */
int stack_sizes_parse(struct object *obj, const char *name, const uint8_t *data, size_t size,
                      struct error *err);
void stack_sizes_finish(struct object *obj);
int elf_read(const char *name, const uint8_t *data, size_t size, struct object *obj,
             struct error *err);
int elf_looks_like(const uint8_t *data, size_t size);

/* Called for every ordinary member of an archive. */
typedef int (*archive_member_fn)(void *ctx, const char *member, const uint8_t *data, size_t size,
                                 struct error *err);
int archive_looks_like(const uint8_t *data, size_t size);
int archive_walk(const char *name, const uint8_t *data, size_t size, archive_member_fn fn,
                 void *ctx, struct error *err);

/* The hint printed for files without metadata. */
extern const char *const capri_no_metadata_hint;
/* The message for LLVM bitcode inputs (after "NAME: "). */
extern const char *const capri_bitcode_message;

#endif
