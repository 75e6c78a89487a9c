/*
 * ELF64 little-endian reading: find capri_meta and .stack_sizes, and
 * relocate the function address slots in both into one address space per
 * object.
 *
 * Relocatable objects have no addresses yet, so every section gets a
 * synthetic base (its index << 40) and a symbol's address is that base plus
 * its value. The address slots of capri_meta and the address fields of
 * .stack_sizes are both R_*_64 relocations, against a function symbol or a
 * section symbol plus offset; either way they land on the same synthetic
 * address, which is all the matching needs.
 *
 * Executables and shared objects hold link-time addresses: .stack_sizes is
 * not allocated, so the linker resolved it completely. An address slot in
 * capri_meta holds its value in the file (non-PIE, or DT_RELR, which packs
 * only the location and keeps the value in place), or in the addend of a
 * dynamic relocation at the slot's address, which we apply to a copy.
 *
 * Nothing here trusts the file: every offset, size, count and index is
 * checked before use, and loads go through memcpy (util.h).
 */
#include "input.h"
#include "machine.h"

#include <stdlib.h>

#define ET_REL 1
#define ET_EXEC 2
#define ET_DYN 3

#define SHT_NOBITS 8
#define SHT_SYMTAB 2
#define SHT_RELA 4
#define SHT_REL 9
#define SHT_DYNSYM 11
#define SHT_SYMTAB_SHNDX 18
#define SHF_ALLOC 0x2

#define SHN_UNDEF 0
#define SHN_LORESERVE 0xff00
#define SHN_ABS 0xfff1
#define SHN_COMMON 0xfff2
#define SHN_XINDEX 0xffff

#define EHDR_SIZE 64
#define SHDR_SIZE 64
#define SYM_SIZE 24
#define RELA_SIZE 24

/* A section's synthetic base in a relocatable object. */
#define SECTION_BASE_SHIFT 40

struct shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t entsize;
};

struct elf {
    const char *name;
    const uint8_t *data;
    size_t size;
    uint16_t type;
    const struct machine *machine;
    uint64_t shoff;
    uint32_t shnum;
    uint32_t shentsize;
    struct shdr strtab; /* section names */
    /* Relocation sections by target: rela_first[t] is the first SHT_RELA
     * section for section t (0 if none), rela_next chains the others. In
     * linked files the chain at index 0 lists the allocated (dynamic) ones. */
    uint32_t *rela_first, *rela_next;
    uint32_t symtab_shndx;       /* the SHT_SYMTAB_SHNDX section, or 0 */
};

int elf_looks_like(const uint8_t *data, size_t size)
{
    return size >= 4 && memcmp(data, "\177ELF", 4) == 0;
}

static void read_shdr(const struct elf *e, uint32_t index, struct shdr *sh)
{
    /* elf_open checked that the whole table is inside the file. */
    const uint8_t *p = e->data + e->shoff + (uint64_t)index * e->shentsize;
    sh->name = le32(p);
    sh->type = le32(p + 4);
    sh->flags = le64(p + 8);
    sh->addr = le64(p + 16);
    sh->offset = le64(p + 24);
    sh->size = le64(p + 32);
    sh->link = le32(p + 40);
    sh->info = le32(p + 44);
    sh->entsize = le64(p + 56);
}

/* A section's name, or "" when its name offset is bad. */
static const char *section_name(const struct elf *e, const struct shdr *sh)
{
    if (!in_bounds(e->strtab.offset, e->strtab.size, e->size) || sh->name >= e->strtab.size)
        return "";
    const char *table = (const char *)e->data + e->strtab.offset;
    if (!memchr(table + sh->name, '\0', e->strtab.size - sh->name))
        return "";
    return table + sh->name;
}

/* A section's bytes, or -1 when they are not inside the file. */
static int section_bytes(const struct elf *e, const struct shdr *sh, const uint8_t **out,
                         struct error *err)
{
    if (sh->type == SHT_NOBITS) {
        *out = NULL;
        return errorf(err, "%s: section %s has no contents in the file (SHT_NOBITS)", e->name,
                      section_name(e, sh));
    }
    if (!in_bounds(sh->offset, sh->size, e->size))
        return errorf(err,
                      "%s: section %s at offset %llu size %llu lies outside the file "
                      "(%zu bytes); the file is truncated or corrupt",
                      e->name, section_name(e, sh), (unsigned long long)sh->offset,
                      (unsigned long long)sh->size, e->size);
    *out = e->data + sh->offset;
    return 0;
}

static int elf_open(struct elf *e, const char *name, const uint8_t *data, size_t size,
                    struct error *err)
{
    memset(e, 0, sizeof *e);
    e->name = name;
    e->data = data;
    e->size = size;
    if (size < EHDR_SIZE)
        return errorf(err, "%s: truncated ELF header (%zu bytes)", name, size);
    if (data[4] != 2)
        return errorf(err, "%s: not a 64-bit ELF file (ELF class %u); capri-stack reads ELF64",
                      name, data[4]);
    if (data[5] != 1)
        return errorf(err, "%s: not a little-endian ELF file; capri-stack reads little-endian "
                      "ELF64", name);
    e->type = le16(data + 16);
    uint16_t machine = le16(data + 18);
    if (e->type != ET_REL && e->type != ET_EXEC && e->type != ET_DYN)
        return errorf(err, "%s: ELF type %u is not an object, executable or shared object",
                      name, e->type);
    e->machine = machine_find(machine);
    if (!e->machine)
        return errorf(err, "%s: ELF machine %u is not supported (capri-stack reads x86-64)",
                      name, machine);
    e->shoff = le64(data + 40);
    e->shentsize = le16(data + 58);
    e->shnum = le16(data + 60);
    uint32_t shstrndx = le16(data + 62);
    if (e->shoff == 0)
        return errorf(err, "%s: no section headers (was it stripped with sstrip?)", name);
    if (e->shentsize < SHDR_SIZE)
        return errorf(err, "%s: section header size %u is too small", name, e->shentsize);
    if (!in_bounds(e->shoff, e->shentsize, size))
        return errorf(err,
                      "%s: section header table at offset %llu lies outside the file (%zu "
                      "bytes); the file is truncated or corrupt",
                      name, (unsigned long long)e->shoff, size);
    /* Extended numbering: counts that do not fit in 16 bits live in section 0. */
    struct shdr zero;
    read_shdr(e, 0, &zero);
    if (e->shnum == 0)
        e->shnum = zero.size > UINT32_MAX ? UINT32_MAX : (uint32_t)zero.size;
    if (shstrndx == SHN_XINDEX)
        shstrndx = zero.link;
    if (!in_bounds(e->shoff, (uint64_t)e->shnum * e->shentsize, size))
        return errorf(err, "%s: %u section headers at offset %llu run past the end of the "
                      "file; the file is truncated or corrupt",
                      name, e->shnum, (unsigned long long)e->shoff);
    if (shstrndx >= e->shnum)
        return errorf(err, "%s: section name table index %u is out of range", name, shstrndx);
    read_shdr(e, shstrndx, &e->strtab);
    if (!in_bounds(e->strtab.offset, e->strtab.size, size))
        return errorf(err,
                      "%s: section name table lies outside the file; the file is truncated or "
                      "corrupt",
                      name);
    return 0;
}

/* ---- Symbols ---------------------------------------------------------------- */

struct symtab {
    const uint8_t *syms;
    uint64_t count;
    const uint8_t *shndx; /* SHT_SYMTAB_SHNDX contents, for SHN_XINDEX */
    uint64_t shndx_count;
};

static int symtab_open(const struct elf *e, uint32_t index, struct symtab *st, struct error *err)
{
    memset(st, 0, sizeof *st);
    if (index == 0)
        return 0; /* no symbol table: only symbol 0 can be used */
    if (index >= e->shnum)
        return errorf(err, "%s: relocation section names symbol table %u, out of range",
                      e->name, index);
    struct shdr sh;
    read_shdr(e, index, &sh);
    if (sh.type != SHT_SYMTAB && sh.type != SHT_DYNSYM)
        return errorf(err, "%s: relocation section links to section %u, not a symbol table",
                      e->name, index);
    if (section_bytes(e, &sh, &st->syms, err))
        return -1;
    st->count = sh.size / SYM_SIZE;
    if (e->symtab_shndx) {
        struct shdr x;
        read_shdr(e, e->symtab_shndx, &x);
        if (x.link == index) {
            if (section_bytes(e, &x, &st->shndx, err))
                return -1;
            st->shndx_count = x.size / 4;
        }
    }
    return 0;
}

/*
 * The address of symbol i: synthetic for relocatable objects, the link-time
 * value otherwise. Returns 0 with *defined = 0 for undefined symbols.
 */
static int symbol_address(const struct elf *e, const struct symtab *st, uint64_t i,
                          uint64_t *address, int *defined, struct error *err)
{
    *address = 0;
    *defined = 0;
    if (i == 0)
        return 0;
    if (i >= st->count)
        return errorf(err, "%s: relocation names symbol %llu, but the symbol table has %llu",
                      e->name, (unsigned long long)i, (unsigned long long)st->count);
    const uint8_t *s = st->syms + i * SYM_SIZE;
    uint32_t shndx = le16(s + 6);
    uint64_t value = le64(s + 8);
    if (shndx == SHN_XINDEX) {
        if (i >= st->shndx_count)
            return errorf(err, "%s: symbol %llu has an extended section index but there is no "
                          "SHT_SYMTAB_SHNDX entry for it", e->name, (unsigned long long)i);
        shndx = le32(st->shndx + i * 4);
    } else if (shndx >= SHN_LORESERVE) {
        if (shndx == SHN_ABS) {
            *address = value;
            *defined = 1;
        }
        return 0; /* SHN_COMMON and others: not a function address */
    }
    if (shndx == SHN_UNDEF)
        return 0;
    if (shndx >= e->shnum)
        return errorf(err, "%s: symbol %llu is in section %u, out of range", e->name,
                      (unsigned long long)i, shndx);
    *defined = 1;
    if (e->type == ET_REL)
        *address = ((uint64_t)shndx << SECTION_BASE_SHIFT) + value;
    else
        *address = value;
    return 0;
}

/* ---- Relocation --------------------------------------------------------------- */

/*
 * Apply, to a private copy of section `target`, the relocations that affect
 * it. In relocatable objects those are the SHT_RELA sections whose sh_info
 * names the target; in linked files the allocated (dynamic) ones whose
 * offsets fall inside the target's address range.
 */
static int relocate(const struct elf *e, uint32_t target, const struct shdr *tsh, uint8_t *copy,
                    struct error *err)
{
    int linked = e->type != ET_REL;
    for (uint32_t i = e->rela_first[linked ? 0 : target]; i != 0; i = e->rela_next[i]) {
        struct shdr rs;
        read_shdr(e, i, &rs);
        const uint8_t *relas;
        struct symtab st;
        if (section_bytes(e, &rs, &relas, err) || symtab_open(e, rs.link, &st, err))
            return -1;
        for (uint64_t r = 0; r + RELA_SIZE <= rs.size; r += RELA_SIZE) {
            const uint8_t *p = relas + r;
            uint64_t offset = le64(p);
            uint64_t info = le64(p + 8);
            uint64_t addend = le64(p + 16);
            uint32_t type = (uint32_t)info;
            uint64_t sym = info >> 32;
            if (linked) {
                if (offset < tsh->addr || offset - tsh->addr >= tsh->size)
                    continue;
                offset -= tsh->addr;
            }
            if (!in_bounds(offset, 8, tsh->size))
                return errorf(err, "%s: relocation at offset %llu runs past the end of %s",
                              e->name, (unsigned long long)offset, section_name(e, tsh));
            enum reloc_action action =
                linked ? e->machine->dynamic_reloc(type) : e->machine->object_reloc(type);
            uint64_t s = 0;
            int defined = 0;
            switch (action) {
            case RELOC_IGNORE:
                break;
            case RELOC_RELATIVE:
                put64(copy + offset, addend); /* link-time address: load bias 0 */
                break;
            case RELOC_SYMBOL:
                if (symbol_address(e, &st, sym, &s, &defined, err))
                    return -1;
                /* An undefined symbol has no address here: leave the slot
                 * zero, so the function is matched with no backend size. */
                put64(copy + offset, defined ? s + addend : 0);
                break;
            case RELOC_UNSUPPORTED:
                return errorf(err, "%s: relocation type %u (%s) in %s is not supported",
                              e->name, type, e->machine->name, section_name(e, tsh));
            }
        }
    }
    return 0;
}

/* Index the relocation sections once; objects can have tens of thousands of sections. */
static int index_relocations(struct elf *e, struct error *err)
{
    e->rela_first = xcalloc(e->shnum, sizeof *e->rela_first);
    e->rela_next = xcalloc(e->shnum, sizeof *e->rela_next);
    /* Walk backwards so each chain lists its sections in file order. */
    for (uint32_t i = e->shnum - 1; i >= 1 && i < e->shnum; i--) {
        struct shdr sh;
        read_shdr(e, i, &sh);
        if (sh.type == SHT_SYMTAB_SHNDX)
            e->symtab_shndx = i;
        if (sh.type == SHT_REL && e->type == ET_REL && sh.info < e->shnum) {
            struct shdr t;
            read_shdr(e, sh.info, &t);
            if (strcmp(section_name(e, &t), CAPRI_MD_SECTION) == 0 ||
                strcmp(section_name(e, &t), ".stack_sizes") == 0)
                return errorf(err, "%s: SHT_REL relocations for %s are not supported", e->name,
                              section_name(e, &t));
        }
        if (sh.type != SHT_RELA)
            continue;
        uint32_t key;
        if (e->type == ET_REL) {
            if (sh.info == 0 || sh.info >= e->shnum)
                continue;
            key = sh.info;
        } else {
            if (!(sh.flags & SHF_ALLOC))
                continue; /* --emit-relocs leftovers: already applied */
            key = 0;
        }
        e->rela_next[i] = e->rela_first[key];
        e->rela_first[key] = i;
    }
    return 0;
}

/* A private, relocated copy of a section. */
static int relocated_copy(const struct elf *e, uint32_t index, const struct shdr *sh,
                          uint8_t **out, struct error *err)
{
    const uint8_t *bytes;
    *out = NULL;
    if (section_bytes(e, sh, &bytes, err))
        return -1;
    uint8_t *copy = xmalloc(sh->size);
    memcpy(copy, bytes, sh->size);
    if (relocate(e, index, sh, copy, err)) {
        free(copy);
        return -1;
    }
    *out = copy;
    return 0;
}

/* ---- The object ---------------------------------------------------------------- */

static int split_stack_error(const struct elf *e, const char *evidence, struct error *err)
{
    return errorf(err,
                  "%s: contains gcc split-stack code (%s); it uses the same thread-control-block "
                  "word as capri's stack checks, so it cannot be mixed with capri code: rebuild "
                  "without -fsplit-stack",
                  e->name, evidence);
}

/*
 * Split-stack code in a linked file whose objects' notes the linker dropped
 * (ld.bfd and lld drop them, gold keeps them only in shared objects): the
 * split-stack runtime libgcc links in with it exports __splitstack_find, and
 * only split-stack code imports __morestack_non_split or
 * __morestack_allocate_stack_space. The evidence, or NULL.
 */
static const char *split_stack_dynsym(const struct elf *e, const struct shdr *dynsym)
{
    if (dynsym->link == 0 || dynsym->link >= e->shnum ||
        !in_bounds(dynsym->offset, dynsym->size, e->size))
        return NULL;
    struct shdr strtab;
    read_shdr(e, dynsym->link, &strtab);
    if (strtab.type == SHT_NOBITS || strtab.size == 0 ||
        !in_bounds(strtab.offset, strtab.size, e->size))
        return NULL;
    const uint8_t *syms = e->data + dynsym->offset, *names = e->data + strtab.offset;
    for (uint64_t i = 1; i < dynsym->size / SYM_SIZE; i++) {
        const uint8_t *s = syms + i * SYM_SIZE;
        uint32_t name = le32(s);
        if (name >= strtab.size || !memchr(names + name, '\0', strtab.size - name))
            continue;
        const char *n = (const char *)names + name;
        int defined = le16(s + 6) != SHN_UNDEF;
        if (defined && strcmp(n, "__splitstack_find") == 0)
            return "it exports __splitstack_find, from libgcc's split-stack runtime";
        if (!defined && strcmp(n, "__morestack_non_split") == 0)
            return "it imports __morestack_non_split";
        if (!defined && strcmp(n, "__morestack_allocate_stack_space") == 0)
            return "it imports __morestack_allocate_stack_space";
    }
    return NULL;
}

static int read_sections(struct elf *e, struct object *obj, struct error *err)
{
    for (uint32_t i = 1; i < e->shnum; i++) {
        struct shdr sh;
        read_shdr(e, i, &sh);
        const char *sname = section_name(e, &sh);
        if (strcmp(sname, ".note.GNU-split-stack") == 0)
            return split_stack_error(e, ".note.GNU-split-stack", err);
        if (sh.type == SHT_DYNSYM) {
            const char *evidence = split_stack_dynsym(e, &sh);
            if (evidence)
                return split_stack_error(e, evidence, err);
        }
        if (strcmp(sname, CAPRI_MD_SECTION) == 0) {
            uint8_t *copy;
            if (relocated_copy(e, i, &sh, &copy, err))
                return -1;
            GROW(obj->blobs, obj->blob_cap, obj->blob_count + 1);
            obj->blobs[obj->blob_count++] = (struct meta_blob){ copy, sh.size };
        } else if (strcmp(sname, ".stack_sizes") == 0) {
            obj->has_stack_sizes = 1;
            if (e->type == ET_REL) {
                uint8_t *copy;
                if (relocated_copy(e, i, &sh, &copy, err))
                    return -1;
                int rc = stack_sizes_parse(obj, e->name, copy, sh.size, err);
                free(copy);
                if (rc)
                    return -1;
            } else {
                /* Not allocated, so the linker left fully resolved addresses. */
                const uint8_t *bytes;
                if (section_bytes(e, &sh, &bytes, err) ||
                    stack_sizes_parse(obj, e->name, bytes, sh.size, err))
                    return -1;
            }
        }
    }
    return 0;
}

int elf_read(const char *name, const uint8_t *data, size_t size, struct object *obj,
             struct error *err)
{
    struct elf e;
    if (elf_open(&e, name, data, size, err))
        return -1;
    obj->elf_type = e.type;
    obj->elf_machine = e.machine->e_machine;
    int rc = index_relocations(&e, err);
    if (rc == 0)
        rc = read_sections(&e, obj, err);
    free(e.rela_first);
    free(e.rela_next);
    stack_sizes_finish(obj);
    return rc;
}
