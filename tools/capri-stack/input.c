/*
 * Input files: load them, tell ELF files from archives, read every ELF
 * object, and validate its capri records. Inputs without any capri metadata
 * are remembered; inputs_finish makes that an error when no input has any
 * (nothing was built with the plugin, and a stack report without data would
 * only look reassuring) and a warning otherwise (code without metadata, like
 * a hand-written assembly file next to compiled C).
 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CAPRI_STACK_PLUGIN_PATH
#define CAPRI_STACK_PLUGIN_PATH "build/lib/CapriPlugin.so"
#endif
#ifndef CAPRI_STACK_CC_PATH
#define CAPRI_STACK_CC_PATH "build/bin/capri-cc"
#endif

const char *const capri_no_metadata_hint =
    "it was not compiled with the capri plugin. Compile with " CAPRI_STACK_CC_PATH
    " (clang with the plugin and the flags capri needs), or with plain clang adding "
    "-fpass-plugin=" CAPRI_STACK_PLUGIN_PATH " -Xclang -load -Xclang " CAPRI_STACK_PLUGIN_PATH
    " -fstack-size-section -fstack-clash-protection -fsanitize=kcfi "
    "-fno-sanitize=function (without -fsanitize=kcfi indirect calls are matched coarsely, by "
    "IR type); under -flto the plugin must also be given at the link: "
    "-Wl,--load-pass-plugin=" CAPRI_STACK_PLUGIN_PATH;

const char *const capri_bitcode_message =
    "LLVM bitcode (from -flto or -emit-llvm), not native code: capri-stack needs the linked "
    "binary or native objects (compile with -c, without -emit-llvm). Under -flto the capri "
    "records are written at the link, so run capri-stack on the linked program";

static void object_free(struct object *obj)
{
    for (size_t i = 0; i < obj->blob_count; i++)
        free(obj->blobs[i].data);
    free(obj->blobs);
    free(obj->records);
    free(obj->sizes);
    free(obj->name);
    memset(obj, 0, sizeof *obj);
}

void inputs_free(struct inputs *in)
{
    for (size_t i = 0; i < in->count; i++)
        object_free(&in->objects[i]);
    free(in->objects);
    for (size_t i = 0; i < in->bare_count; i++)
        free(in->bare[i].name);
    free(in->bare);
    memset(in, 0, sizeof *in);
}

static void add_bare(struct inputs *in, const char *name, int archive)
{
    GROW(in->bare, in->bare_cap, in->bare_count + 1);
    in->bare[in->bare_count++] = (struct bare_input){ xstrdup(name), archive };
}

/* Parse every record of every capri_meta section of obj. */
static int load_records(struct object *obj, struct error *err)
{
    for (size_t b = 0; b < obj->blob_count; b++) {
        const struct meta_blob *blob = &obj->blobs[b];
        size_t offset = 0;
        for (;;) {
            struct capri_md_module mod;
            char msg[256];
            enum capri_md_status st =
                capri_md_next(blob->data, blob->size, &offset, &mod, msg, sizeof msg);
            if (st == CAPRI_MD_END)
                break;
            if (st != CAPRI_MD_OK)
                return errorf(err, "%s: capri_meta record at offset %zu: %s", obj->name, offset,
                              msg);
            GROW(obj->records, obj->record_cap, obj->record_count + 1);
            obj->records[obj->record_count++] = mod;
        }
    }
    return 0;
}

static int is_bitcode(const uint8_t *data, size_t size)
{
    static const uint8_t raw[4] = { 'B', 'C', 0xc0, 0xde };
    static const uint8_t wrapper[4] = { 0xde, 0xc0, 0x17, 0x0b };
    return size >= 4 && (memcmp(data, raw, 4) == 0 || memcmp(data, wrapper, 4) == 0);
}

/*
 * Read one ELF object and append it. Returns 1 (and appends nothing) when it
 * has no capri records, 0 when appended, -1 on bad input.
 */
static int add_elf(struct inputs *in, const char *name, const uint8_t *data, size_t size,
                   struct error *err)
{
    struct object obj;
    memset(&obj, 0, sizeof obj);
    obj.name = xstrdup(name);
    if (elf_read(obj.name, data, size, &obj, err) || load_records(&obj, err)) {
        object_free(&obj);
        return -1;
    }
    if (obj.record_count == 0) {
        object_free(&obj);
        return 1;
    }
    GROW(in->objects, in->cap, in->count + 1);
    in->objects[in->count++] = obj;
    return 0;
}

struct archive_ctx {
    struct inputs *in;
    const char *archive;
    size_t with_metadata;
};

static int add_member(void *ctxp, const char *member, const uint8_t *data, size_t size,
                      struct error *err)
{
    struct archive_ctx *ctx = ctxp;
    char *name = xasprintf("%s(%s)", ctx->archive, member);
    int rc = 0;
    if (is_bitcode(data, size)) {
        rc = errorf(err, "%s: %s", name, capri_bitcode_message);
    } else if (!elf_looks_like(data, size)) {
        warnf("%s: not an ELF object; skipped", name);
    } else {
        rc = add_elf(ctx->in, name, data, size, err);
        if (rc == 1) {
            add_bare(ctx->in, name, 0);
            rc = 0;
        } else if (rc == 0) {
            ctx->with_metadata++;
        }
    }
    free(name);
    return rc;
}

int inputs_add_buffer(struct inputs *in, const char *name, const uint8_t *data, size_t size,
                      struct error *err)
{
    if (archive_looks_like(data, size)) {
        size_t bare_before = in->bare_count;
        struct archive_ctx ctx = { in, name, 0 };
        if (archive_walk(name, data, size, add_member, &ctx, err))
            return -1;
        if (ctx.with_metadata == 0) {
            /* One entry for the whole archive rather than one per member. */
            while (in->bare_count > bare_before)
                free(in->bare[--in->bare_count].name);
            add_bare(in, name, 1);
        }
        return 0;
    }
    if (is_bitcode(data, size))
        return errorf(err, "%s: %s", name, capri_bitcode_message);
    if (!elf_looks_like(data, size))
        return errorf(err, "%s: not an ELF file or ar archive", name);
    int rc = add_elf(in, name, data, size, err);
    if (rc == 1) {
        add_bare(in, name, 0);
        rc = 0;
    }
    return rc;
}

/* At most this many names in the error listing inputs without metadata. */
#define BARE_NAMES 4

int inputs_finish(struct inputs *in, struct error *err)
{
    if (in->count == 0) {
        if (in->bare_count == 1)
            return errorf(err, "%s: %s capri metadata (section %s): %s", in->bare[0].name,
                          in->bare[0].archive ? "no member has" : "no", CAPRI_MD_SECTION,
                          capri_no_metadata_hint);
        struct name_list names;
        name_list_init(&names, BARE_NAMES, "");
        for (size_t i = 0; i < in->bare_count; i++)
            name_list_add(&names, in->bare[i].name);
        name_list_finish(&names, in->bare_count);
        return errorf(err, "no input has capri metadata (section %s): %s: %s", CAPRI_MD_SECTION,
                      names.text, capri_no_metadata_hint);
    }
    for (size_t i = 0; i < in->bare_count; i++)
        warnf("%s: %s capri metadata (section %s); its functions are treated as code without "
              "metadata (calls into them are charged the external reserve)", in->bare[i].name,
              in->bare[i].archive ? "no member has" : "no", CAPRI_MD_SECTION);
    return 0;
}

int inputs_add_records(struct inputs *in, const char *name, const uint8_t *meta, size_t size,
                       const struct stack_size *sizes, size_t size_count, struct error *err)
{
    struct object obj;
    memset(&obj, 0, sizeof obj);
    obj.name = xstrdup(name);
    obj.elf_type = 1; /* ET_REL */
    obj.elf_machine = 62; /* EM_X86_64 */
    GROW(obj.blobs, obj.blob_cap, 1);
    obj.blobs[0].data = xmalloc(size);
    memcpy(obj.blobs[0].data, meta, size);
    obj.blobs[0].size = size;
    obj.blob_count = 1;
    obj.has_stack_sizes = sizes != NULL;
    for (size_t i = 0; i < size_count; i++) {
        GROW(obj.sizes, obj.size_cap, obj.size_count + 1);
        obj.sizes[obj.size_count++] = sizes[i];
    }
    stack_sizes_finish(&obj);
    if (load_records(&obj, err)) {
        object_free(&obj);
        return -1;
    }
    GROW(in->objects, in->cap, in->count + 1);
    in->objects[in->count++] = obj;
    return 0;
}

int inputs_add_file(struct inputs *in, const char *path, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errorf(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return errorf(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errorf(err, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return errorf(err, "%s: empty file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return errorf(err, "%s: cannot map: %s", path, strerror(errno));
    /* Everything kept is copied out, so the mapping can go right after. */
    int rc = inputs_add_buffer(in, path, map, size, err);
    munmap(map, size);
    return rc;
}
