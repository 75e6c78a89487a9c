/*
 * Bounds at start-up: the records' bounds tables rewritten from the
 * backend's frame sizes (bounds.h says what and why; bounds_compute.c
 * computes).
 *
 * The unit of work is a loaded object (the executable or a shared
 * object). For each object holding records, dl_iterate_phdr gives its load
 * bias, its segments and its file name; the file on disk (/proc/self/exe
 * for the executable) gives `.stack_sizes`, which is not loaded, and the
 * place of the object's capri_meta section, whose records (all of them,
 * registered yet or not) are the object's. The file must be the one
 * loaded: its GNU build-id note must equal the one in memory, else the
 * object keeps the plugin's values (with a warning).
 *
 * When: a constructor after the records' (they register at priority 1)
 * and before main rewrites every object whose records have registered. A
 * record that registers later, a dlopen'ed object's or, when libcapri.so
 * was initialised before the executable, the executable's own, has its
 * whole object rewritten at once, under a lock (dlopen runs constructors
 * with the loader's lock held; this lock is only taken inside ours and
 * while the pass runs, which calls dl_iterate_phdr, whose lock dlopen does
 * not hold meanwhile). An unregistered record (its object's destructors
 * ran: dlclose or exit) is dropped from later passes without being read:
 * its memory may be gone.
 *
 * The same pass refuses records that assumed a larger slack than this
 * libcapri keeps (design revision 2), applies CAPRI_FAULT_SHRINK_BOUNDS,
 * and publishes the sorted entry-region table capri_spawn searches.
 */
#include "bounds.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "atomic.h"
#include "limit.h"
#include "log.h"
#include "modules.h"
#include "sys.h"
#include "thread.h"

/* ---- Reading the file ----------------------------------------------------------- */

#define SHT_NOTE_ 7
#define SHT_NOBITS_ 8
#define PT_LOAD_ 1
#define PT_NOTE_ 4
#define PF_W_ 2
#define NT_GNU_BUILD_ID_ 3
#define BUILD_ID_MAX 64
/* Refuse absurd sizes rather than allocate them. */
#define SECTION_TABLE_MAX ((uint64_t)16 << 20)
#define STACK_SIZES_MAX ((uint64_t)1 << 30)
#define NOTES_MAX ((uint64_t)1 << 20)

struct file_info {
    uint16_t machine;
    uint8_t build_id[BUILD_ID_MAX];
    uint32_t build_id_len;
    bool has_meta;
    uint64_t meta_addr, meta_size;
    bool split_stack_note; /* .note.GNU-split-stack: gold keeps it in shared objects */
    /* .stack_sizes, mapped from the file (not loaded: the loader leaves
     * it out), or NULL. */
    const uint8_t *stack_sizes;
    size_t stack_sizes_size;
    void *map;
    size_t map_size;
};

static void file_unmap(struct file_info *fi)
{
    if (fi->map)
        sys_call6(SYS_munmap, (long)fi->map, (long)fi->map_size, 0, 0, 0, 0);
    fi->map = NULL;
    fi->stack_sizes = NULL;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* All of [off, off+len) or -1. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        long n = sys_call6(SYS_pread64, fd, (long)((char *)buf + done), (long)(len - done),
                           (long)(off + done), 0, 0);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void *read_alloc(int fd, uint64_t off, uint64_t len, uint64_t max)
{
    if (len > max)
        return NULL;
    void *p = malloc(len ? len : 1);
    if (p && read_at(fd, p, len, off)) {
        free(p);
        return NULL;
    }
    return p;
}

/* The GNU build-id among the notes in [p, p+size), aligned to `align`. */
static bool find_build_id(const uint8_t *p, size_t size, size_t align, uint8_t *out,
                          uint32_t *out_len)
{
    if (align != 8)
        align = 4;
    size_t pos = 0;
    while (pos <= size && size - pos >= 12) {
        uint32_t namesz = rd32(p + pos), descsz = rd32(p + pos + 4), type = rd32(p + pos + 8);
        size_t name = pos + 12;
        if (namesz > size - name)
            return false;
        size_t desc = name + ((namesz + align - 1) & ~(align - 1));
        if (desc > size || descsz > size - desc)
            return false;
        if (type == NT_GNU_BUILD_ID_ && namesz == 4 && memcmp(p + name, "GNU", 4) == 0 &&
            descsz > 0 && descsz <= BUILD_ID_MAX) {
            memcpy(out, p + desc, descsz);
            *out_len = descsz;
            return true;
        }
        pos = desc + ((descsz + align - 1) & ~(align - 1));
        if (pos > size)
            return false;
    }
    return false;
}

/* Section headers of the file: capri_meta's place, .stack_sizes, the
 * build-id. On failure *why says what went wrong. */
static int file_read(const char *path, struct file_info *fi, const char **why)
{
    memset(fi, 0, sizeof *fi);
    long fd = sys_call6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0) {
        *why = "cannot open it";
        return -1;
    }
    int rc = -1;
    uint8_t *shdrs = NULL, *names = NULL;
    uint8_t eh[64];
    *why = "not a readable ELF64 little-endian file";
    if (read_at((int)fd, eh, sizeof eh, 0) || memcmp(eh, "\177ELF", 4) != 0 || eh[4] != 2 ||
        eh[5] != 1)
        goto out;
    fi->machine = rd16(eh + 18);
    uint64_t shoff = rd64(eh + 40);
    uint32_t shentsize = rd16(eh + 58), shnum = rd16(eh + 60), shstrndx = rd16(eh + 62);
    if (shoff == 0 || shentsize < 64) {
        *why = "it has no section headers";
        goto out;
    }
    if (shnum == 0 || shstrndx == 0xffff) {
        uint8_t zero[64];
        if (read_at((int)fd, zero, sizeof zero, shoff))
            goto out;
        if (shnum == 0)
            shnum = rd64(zero + 32) > UINT32_MAX ? UINT32_MAX : (uint32_t)rd64(zero + 32);
        if (shstrndx == 0xffff)
            shstrndx = rd32(zero + 40);
    }
    if (shstrndx >= shnum)
        goto out;
    shdrs = read_alloc((int)fd, shoff, (uint64_t)shnum * shentsize, SECTION_TABLE_MAX);
    if (!shdrs)
        goto out;
    const uint8_t *ss = shdrs + (size_t)shstrndx * shentsize;
    uint64_t names_size = rd64(ss + 32);
    names = read_alloc((int)fd, rd64(ss + 24), names_size, SECTION_TABLE_MAX);
    if (!names || names_size == 0)
        goto out;
    names[names_size - 1] = 0;
    bool have_id = false;
    for (uint32_t i = 1; i < shnum; i++) {
        const uint8_t *sh = shdrs + (size_t)i * shentsize;
        uint32_t name = rd32(sh), type = rd32(sh + 4);
        uint64_t addr = rd64(sh + 16), off = rd64(sh + 24), size = rd64(sh + 32);
        uint64_t align = rd64(sh + 48);
        const char *sname = name < names_size ? (const char *)names + name : "";
        if (type == SHT_NOTE_ && !have_id) {
            uint8_t *notes = read_alloc((int)fd, off, size, NOTES_MAX);
            if (notes)
                have_id = find_build_id(notes, size, (size_t)align, fi->build_id,
                                        &fi->build_id_len);
            free(notes);
        } else if (strcmp(sname, ".note.GNU-split-stack") == 0) {
            fi->split_stack_note = true;
        } else if (strcmp(sname, CAPRI_MD_SECTION) == 0 && type != SHT_NOBITS_) {
            fi->has_meta = true;
            fi->meta_addr = addr;
            fi->meta_size = size;
        } else if (strcmp(sname, ".stack_sizes") == 0 && type != SHT_NOBITS_ && !fi->map &&
                   size > 0) {
            /* Mapped, not read: no copy, and the page cache's pages come
             * in many at a fault. */
            uint64_t page = off & ~(uint64_t)4095;
            long p = size > STACK_SIZES_MAX ? -ENOMEM
                     : sys_call6(SYS_mmap, 0, (long)(size + (off - page)), PROT_READ, MAP_PRIVATE,
                                 fd, (long)page);
            if (p < 0 && p > -4096) {
                *why = "its .stack_sizes section cannot be read";
                goto out;
            }
            fi->map = (void *)p;
            fi->map_size = size + (off - page);
            fi->stack_sizes = (const uint8_t *)p + (off - page);
            fi->stack_sizes_size = size;
        }
    }
    rc = 0;
out:
    free(shdrs);
    free(names);
    sys_call6(SYS_close, fd, 0, 0, 0, 0, 0);
    if (rc)
        file_unmap(fi);
    return rc;
}

/* ---- .stack_sizes, sorted by address -------------------------------------------- */

struct frame_size {
    uint64_t address; /* link-time */
    uint64_t size;
};

static int by_address(const void *a, const void *b)
{
    const struct frame_size *x = a, *y = b;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return x->size < y->size ? -1 : x->size > y->size;
}

/* Decoded, sorted, one entry per address (the largest frame: identical
 * code folding and duplicate copies of inline functions share one). */
static struct frame_size *sizes_decode(const uint8_t *data, size_t size, size_t *count)
{
    size_t n = 0, pos = 0;
    uint64_t a, f;
    int rc;
    while ((rc = capri_md_stack_size_next(data, size, &pos, &a, &f)) == 1)
        n++;
    /* A malformed tail: use what decoded (every entry is independent). */
    struct frame_size *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    pos = 0;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        capri_md_stack_size_next(data, size, &pos, &v[i].address, &v[i].size);
        if (i && v[i].address <= v[i - 1].address)
            sorted = false;
    }
    if (!sorted) {
        qsort(v, n, sizeof *v, by_address);
        size_t out = 0;
        for (size_t i = 0; i < n; i++) {
            if (out && v[out - 1].address == v[i].address)
                v[out - 1].size = v[i].size; /* sorted: the larger */
            else
                v[out++] = v[i];
        }
        n = out;
    }
    *count = n;
    return v;
}

/* ---- The model: objects and records ------------------------------------------- */

#define MAX_SEGMENTS 16

struct object {
    uintptr_t bias;
    char *name; /* as dl_iterate_phdr gives it; "" for the executable */
    uintptr_t seg_lo[MAX_SEGMENTS], seg_hi[MAX_SEGMENTS];
    bool seg_w[MAX_SEGMENTS];
    unsigned nseg;
    uint8_t build_id[BUILD_ID_MAX];
    uint32_t build_id_len;
    bool verified; /* its file is the one loaded: backend frames known */
    const char *unverified; /* else why not (a static string), for refusals */
};

/* The entry-region table capri_spawn searches: replaced whole by each
 * pass (a spawn may be reading the old one: old tables are kept). */
struct entry {
    uint64_t address;
    uint32_t region;
};

struct record {
    struct capri_md_header *h;
    struct bounds_record b;
    uint32_t *frames; /* owned; b.frames */
    /* Where a thread may start in the record's code: its entries for
     * capri_spawn (owned). */
    struct entry *entries;
    uint32_t entry_count;
    int object; /* index into objects, or -1 */
    bool registered, dead;
    bool fresh; /* not through a pass yet */
};

enum bounds_mode { MODE_BACKEND, MODE_ESTIMATES };

static struct {
    pthread_mutex_t lock;
    uint32_t started; /* the start-up pass ran (or is running) */
    enum bounds_mode mode;
    bool shrink, stats;
    struct object *objects;
    size_t object_count, object_cap;
    struct record *records;
    size_t record_count, record_cap;
    /* Live records by header address: indices + 1 (0: empty). */
    uint32_t *index;
    size_t index_cap;
} B = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct entry_table {
    size_t count;
    struct entry_table *older;
    struct entry e[];
};
static struct entry_table *entry_table;

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static const char *object_label(const struct object *o)
{
    return o->name[0] ? o->name : "the executable";
}

static size_t index_slot(const void *h)
{
    uintptr_t x = (uintptr_t)h >> 3;
    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20);
}

/* The index of live records by address, rebuilt (records move when the
 * array grows or is compacted). */
static bool index_rebuild(void)
{
    size_t cap = 64;
    while (cap < B.record_count * 2 + 2)
        cap *= 2;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return false;
    for (size_t i = 0; i < B.record_count; i++) {
        if (B.records[i].dead)
            continue;
        size_t k = index_slot(B.records[i].h) & (cap - 1);
        while (idx[k])
            k = (k + 1) & (cap - 1);
        idx[k] = (uint32_t)i + 1;
    }
    free(B.index);
    B.index = idx;
    B.index_cap = cap;
    return true;
}

static struct record *record_find(const struct capri_md_header *h)
{
    if (!B.index)
        return NULL;
    for (size_t k = index_slot(h) & (B.index_cap - 1); B.index[k];
         k = (k + 1) & (B.index_cap - 1)) {
        struct record *r = &B.records[B.index[k] - 1];
        if (r->h == h && !r->dead)
            return r;
    }
    return NULL;
}

/* Parse and check one record (fatal when its slack is larger than ours);
 * returns its index, -1 without memory, -2 when it cannot be read: the
 * runtime stops the program for that when it starts (modules_load), and
 * a record unregistered before then is not held against it. */
static long record_add(struct capri_md_header *h, bool registered)
{
    size_t size = h->record_size >= sizeof *h ? h->record_size : sizeof *h;
    size_t offset = 0;
    struct capri_md_module m;
    if (capri_md_next((const uint8_t *)h, size, &offset, &m, NULL, 0) != CAPRI_MD_OK)
        return -2;
    if (m.bounds_slack > LIMIT_SLACK) {
        char msg[400];
        char *p = msg, *e = msg + sizeof msg - 1;
        p = log_append(p, e, "module ");
        const char *src = capri_md_string(&m, m.module.source_file);
        p = log_append(p, e, src[0] ? src : "(unnamed)");
        p = log_append(p, e, " was instrumented for a slack of ");
        p = log_append_u64(p, e, m.bounds_slack);
        p = log_append(p, e, " bytes, but this libcapri keeps ");
        p = log_append_u64(p, e, LIMIT_SLACK);
        p = log_append(p, e, " below each stack limit: its small checks would not cover their "
                             "regions; rebuild it with -mllvm -capri-slack=");
        p = log_append_u64(p, e, LIMIT_SLACK);
        p = log_append(p, e, " or use the libcapri of its plugin");
        *p = 0;
        capri_fatal(msg);
    }
    if (!grow((void **)&B.records, &B.record_cap, B.record_count + 1, sizeof *B.records))
        return -1;
    struct record *r = &B.records[B.record_count];
    memset(r, 0, sizeof *r);
    r->h = h;
    r->b.m = m;
    uint64_t table;
    memcpy(&table, (const uint8_t *)h + m.bounds_table_offset, 8);
    r->b.table = m.bounds_count ? (uint64_t *)(uintptr_t)table : NULL;
    r->object = -1;
    r->registered = registered;
    r->fresh = true;
    B.record_count++;
    if (B.record_count * 2 + 2 > B.index_cap) {
        if (!index_rebuild())
            return -1;
    } else {
        size_t k = index_slot(h) & (B.index_cap - 1);
        while (B.index[k])
            k = (k + 1) & (B.index_cap - 1);
        B.index[k] = (uint32_t)B.record_count;
    }
    return (long)B.record_count - 1;
}

/* Drop the records of unloaded objects, and objects with no record left. */
static bool compact(void)
{
    size_t live = 0;
    for (size_t i = 0; i < B.record_count; i++)
        live += !B.records[i].dead;
    if (live == B.record_count)
        return true;
    int *remap = malloc((B.object_count ? B.object_count : 1) * sizeof *remap);
    if (!remap)
        return false;
    for (size_t o = 0; o < B.object_count; o++)
        remap[o] = -1;
    size_t nr = 0;
    for (size_t i = 0; i < B.record_count; i++) {
        struct record *r = &B.records[i];
        if (!r->dead) {
            if (r->object >= 0)
                remap[r->object] = 0; /* still used */
            B.records[nr++] = *r;
        }
    }
    B.record_count = nr;
    size_t no = 0;
    for (size_t o = 0; o < B.object_count; o++) {
        if (remap[o] < 0) {
            free(B.objects[o].name);
            continue;
        }
        remap[o] = (int)no;
        B.objects[no++] = B.objects[o];
    }
    B.object_count = no;
    for (size_t i = 0; i < B.record_count; i++)
        if (B.records[i].object >= 0)
            B.records[i].object = remap[B.records[i].object];
    free(remap);
    return index_rebuild();
}

/* ---- Objects --------------------------------------------------------------------- */

static bool object_contains(const struct object *o, uintptr_t lo, uintptr_t hi, bool writable)
{
    for (unsigned i = 0; i < o->nseg; i++)
        if (lo >= o->seg_lo[i] && hi <= o->seg_hi[i] && hi >= lo && (!writable || o->seg_w[i]))
            return true;
    return false;
}

static void object_from_phdr(struct object *o, const struct dl_phdr_info *info)
{
    memset(o, 0, sizeof *o);
    o->bias = info->dlpi_addr;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD_ && o->nseg < MAX_SEGMENTS) {
            o->seg_lo[o->nseg] = info->dlpi_addr + ph->p_vaddr;
            o->seg_hi[o->nseg] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            o->seg_w[o->nseg] = (ph->p_flags & PF_W_) != 0;
            o->nseg++;
        } else if (ph->p_type == PT_NOTE_ && o->build_id_len == 0) {
            find_build_id((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz,
                          ph->p_align, o->build_id, &o->build_id_len);
        }
    }
}

/* ---- gcc split-stack code ------------------------------------------------------- */

/*
 * gcc's -fsplit-stack prologues compare the stack pointer with %fs:0x70,
 * the word capri's checks use, and call __morestack with gcc's convention
 * (frame size in r10, argument size in r11, a return to the caller's caller
 * with the `ret` after the call): capri's __morestack takes a thunk, a block
 * and a size, and libgcc's own (linked into shared objects) rewrites the
 * word under capri's threads. Either way stacks are corrupted at the first
 * split, so an object with such code stops the program before main.
 *
 * What survives linking (docs/stack-growth-design.md, "As built: gcc
 * split-stack code"): the objects' .note.GNU-split-stack is dropped from
 * executables by ld.bfd, gold and lld, and from shared objects by ld.bfd
 * and lld (gold keeps it); a shared object linked from split-stack objects
 * carries libgcc's split-stack runtime, whose __splitstack_* functions are
 * exported; and only split-stack code imports __morestack_non_split or
 * __morestack_allocate_stack_space. A strong import of __morestack alone
 * proves nothing: code that calls capri's own __morestack by hand (its
 * tests) has one too.
 */
static const char *object_path(const char *name, char *buf, size_t len)
{
    if (name[0])
        return name;
    long n = sys_call6(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)buf,
                       (long)(len - 1), 0, 0);
    if (n <= 0)
        return "the executable";
    buf[n] = 0;
    return buf;
}

_Noreturn static void refuse_split_stack(const char *name, const char *evidence)
{
    char path[256], msg[512];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, object_path(name, path, sizeof path));
    p = log_append(p, e, " contains gcc split-stack code (");
    p = log_append(p, e, evidence);
    p = log_append(p, e, "): it checks the stack limit word capri's checks use and grows "
                         "stacks with another __morestack, which corrupts capri's stacks; "
                         "rebuild it without -fsplit-stack");
    *p = 0;
    capri_fatal(msg);
}

/* [p, p+len) if it lies in one of the object's segments, else NULL. */
static const uint8_t *mapped(const struct object *o, uintptr_t p, uint64_t len)
{
    if (len > UINTPTR_MAX - p || !object_contains(o, p, p + (uintptr_t)len, false))
        return NULL;
    return (const uint8_t *)p;
}

/* An address from the dynamic section: glibc relocates the entries in
 * place unless the section is read-only (the vDSO's), so one below the
 * bias is still a link-time address. */
static const uint8_t *dyn_ptr(const struct object *o, uint64_t v, uint64_t len)
{
    uintptr_t p = (uintptr_t)v;
    if (o->bias && p < o->bias)
        p += o->bias;
    return mapped(o, p, len);
}

struct dynsyms {
    const struct object *o;
    const uint8_t *symtab, *strtab;
    uint64_t strsz;
};

/* Symbol i, or false when it is not mapped. */
static bool dynsym_at(const struct dynsyms *d, uint64_t i, ElfW(Sym) *out)
{
    if (i > (UINTPTR_MAX - (uintptr_t)d->symtab) / sizeof *out)
        return false;
    const uint8_t *p = mapped(d->o, (uintptr_t)d->symtab + i * sizeof *out, sizeof *out);
    if (!p)
        return false;
    memcpy(out, p, sizeof *out);
    return true;
}

static bool dynsym_named(const struct dynsyms *d, const ElfW(Sym) *sym, const char *name)
{
    size_t n = strlen(name);
    return sym->st_name < d->strsz && d->strsz - sym->st_name > n &&
           memcmp(d->strtab + sym->st_name, name, n + 1) == 0;
}

/* Is `name` defined among the symbols a DT_GNU_HASH table hashes? */
static bool gnu_hash_defines(const struct dynsyms *d, const uint8_t *hdr, const char *name)
{
    uint32_t h = 5381;
    for (const char *c = name; *c; c++)
        h = h * 33 + (uint8_t)*c;
    uint32_t nbuckets = rd32(hdr), symoffset = rd32(hdr + 4), bloom_words = rd32(hdr + 8);
    if (nbuckets == 0)
        return false;
    uintptr_t buckets = (uintptr_t)hdr + 16 + (uintptr_t)bloom_words * sizeof(ElfW(Addr));
    const uint8_t *bucket = mapped(d->o, buckets + (uintptr_t)(h % nbuckets) * 4, 4);
    if (!bucket)
        return false;
    uint32_t i = rd32(bucket);
    if (i == 0 || i < symoffset)
        return false;
    uintptr_t chains = buckets + (uintptr_t)nbuckets * 4;
    for (;; i++) {
        /* The chain ends at an entry with its low bit set. */
        const uint8_t *c = mapped(d->o, chains + (uintptr_t)(i - symoffset) * 4, 4);
        if (!c)
            return false;
        uint32_t ch = rd32(c);
        ElfW(Sym) sym;
        if ((ch | 1) == (h | 1) && dynsym_at(d, i, &sym) && sym.st_shndx != SHN_UNDEF &&
            dynsym_named(d, &sym, name))
            return true;
        if ((ch & 1) || i == UINT32_MAX)
            return false;
    }
}

/* What in the object's dynamic symbols shows split-stack code, or NULL. */
static const char *split_stack_symbols(const struct object *o, const struct dl_phdr_info *info)
{
    static const char *const imports[][2] = {
        { "__morestack_non_split", "it imports __morestack_non_split" },
        { "__morestack_allocate_stack_space", "it imports __morestack_allocate_stack_space" },
    };
    static const char runtime_symbol[] = "__splitstack_find";
    const uint8_t *dyn = NULL;
    uint64_t dyn_size = 0;
    for (unsigned i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
            dyn_size = info->dlpi_phdr[i].p_memsz;
            dyn = mapped(o, info->dlpi_addr + info->dlpi_phdr[i].p_vaddr, dyn_size);
        }
    if (!dyn)
        return NULL; /* linked statically: no dynamic symbols */
    struct dynsyms d = { o, NULL, NULL, 0 };
    uint64_t symtab = 0, strtab = 0, gnu_hash = 0, sysv_hash = 0;
    for (uint64_t off = 0; off + sizeof(ElfW(Dyn)) <= dyn_size; off += sizeof(ElfW(Dyn))) {
        ElfW(Dyn) e;
        memcpy(&e, dyn + off, sizeof e);
        if (e.d_tag == DT_NULL)
            break;
        if (e.d_tag == DT_SYMTAB)
            symtab = e.d_un.d_ptr;
        else if (e.d_tag == DT_STRTAB)
            strtab = e.d_un.d_ptr;
        else if (e.d_tag == DT_STRSZ)
            d.strsz = e.d_un.d_val;
        else if (e.d_tag == DT_GNU_HASH)
            gnu_hash = e.d_un.d_ptr;
        else if (e.d_tag == DT_HASH)
            sysv_hash = e.d_un.d_ptr;
    }
    d.symtab = dyn_ptr(o, symtab, sizeof(ElfW(Sym)));
    d.strtab = dyn_ptr(o, strtab, d.strsz);
    if (!d.symtab || !d.strtab || d.strsz == 0)
        return NULL;
    /* Undefined symbols come before the first one a GNU hash table hashes
     * (linkers put the unhashed ones first); DT_HASH counts them all. */
    const uint8_t *gnu = gnu_hash ? dyn_ptr(o, gnu_hash, 16) : NULL;
    const uint8_t *sysv = !gnu && sysv_hash ? dyn_ptr(o, sysv_hash, 8) : NULL;
    uint64_t count = gnu ? rd32(gnu + 4) : sysv ? rd32(sysv + 4) : 0;
    bool runtime = false;
    for (uint64_t i = 1; i < count; i++) {
        ElfW(Sym) sym;
        if (!dynsym_at(&d, i, &sym))
            break;
        /* Every name looked for starts with "__". */
        if (sym.st_name >= d.strsz || d.strsz - sym.st_name < 3 ||
            d.strtab[sym.st_name] != '_' || d.strtab[sym.st_name + 1] != '_')
            continue;
        if (sym.st_shndx == SHN_UNDEF) {
            for (size_t k = 0; k < sizeof imports / sizeof imports[0]; k++)
                if (dynsym_named(&d, &sym, imports[k][0]))
                    return imports[k][1];
        } else if (dynsym_named(&d, &sym, runtime_symbol)) {
            runtime = true;
        }
    }
    if (gnu && gnu_hash_defines(&d, gnu, runtime_symbol))
        runtime = true;
    return runtime ? "it exports __splitstack_find, from libgcc's split-stack runtime" : NULL;
}

/* dl_iterate_phdr: the objects that hold records without an object yet. */
struct scan {
    bool oom;
    size_t first_new; /* objects from here on were made by this scan */
};

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct scan *sc = arg;
    struct object o;
    object_from_phdr(&o, info);
    const char *split = split_stack_symbols(&o, info);
    if (split)
        refuse_split_stack(info->dlpi_name ? info->dlpi_name : "", split);
    long idx = -1;
    for (size_t i = 0; i < B.record_count; i++) {
        struct record *r = &B.records[i];
        if (r->dead || r->object >= 0)
            continue;
        uintptr_t at = (uintptr_t)r->h;
        if (!object_contains(&o, at, at + sizeof *r->h, false))
            continue;
        if (idx < 0) {
            /* An object already known (its earlier records are live) keeps its entry. */
            for (size_t k = 0; k < B.object_count && idx < 0; k++) {
                const struct object *old = &B.objects[k];
                if (old->bias != o.bias || strcmp(old->name, info->dlpi_name ? info->dlpi_name : "") != 0)
                    continue;
                for (size_t j = 0; j < B.record_count; j++)
                    if (B.records[j].object == (int)k && !B.records[j].dead)
                        idx = (long)k;
            }
        }
        if (idx < 0) {
            if (!grow((void **)&B.objects, &B.object_cap, B.object_count + 1, sizeof *B.objects)) {
                sc->oom = true;
                return 1;
            }
            const char *name = info->dlpi_name ? info->dlpi_name : "";
            o.name = malloc(strlen(name) + 1);
            if (!o.name) {
                sc->oom = true;
                return 1;
            }
            strcpy(o.name, name);
            B.objects[B.object_count] = o;
            idx = (long)B.object_count++;
        }
        r->object = (int)idx;
    }
    return 0;
}

static void warn_object(const struct object *o, const char *what, const char *consequence)
{
    char msg[512];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, object_label(o));
    p = log_append(p, e, ": ");
    p = log_append(p, e, what);
    p = log_append(p, e, consequence);
    *p = 0;
    capri_warn(msg);
}

static const char *const KEEP = ": its checkpoints keep the plugin's bounds";

static int by_header(const void *a, const void *b)
{
    const struct record *x = *(struct record *const *)a, *y = *(struct record *const *)b;
    return x->h < y->h ? -1 : x->h > y->h;
}

/* A .stack_sizes figure as kept (the computation corrects it). */
static uint32_t figure(uint64_t backend)
{
    return backend < BOUNDS_NO_FRAME ? (uint32_t)backend : BOUNDS_NO_FRAME - 1;
}

/*
 * Every record of object oi gets its functions' .stack_sizes figures (the
 * computation corrects them for the machine). The records, in
 * section order, and their functions, in record order, follow the code's
 * order (the linker places sections as it meets them), and so does
 * .stack_sizes: one merge of the two streams, with nothing decoded into
 * memory. When either goes back (a linker script, a sorted .text) the
 * figures are decoded, sorted and searched instead.
 */
static int object_frames(size_t oi, const struct file_info *fi)
{
    const struct object *o = &B.objects[oi];
    size_t n = 0;
    for (size_t i = 0; i < B.record_count; i++)
        n += B.records[i].object == (int)oi && !B.records[i].dead && !B.records[i].frames;
    if (n == 0)
        return 0;
    struct record **order = malloc(n * sizeof *order);
    if (!order)
        return -1;
    n = 0;
    for (size_t i = 0; i < B.record_count; i++) {
        struct record *r = &B.records[i];
        if (r->object != (int)oi || r->dead || r->frames)
            continue;
        order[n++] = r;
        r->frames = malloc((r->b.m.function_count ? r->b.m.function_count : 1) *
                           sizeof *r->frames);
        if (!r->frames) {
            free(order);
            return -1;
        }
        for (uint32_t k = 0; k < r->b.m.function_count; k++)
            r->frames[k] = BOUNDS_NO_FRAME;
        r->b.frames = r->frames;
        r->b.machine = fi->machine;
    }
    qsort(order, n, sizeof *order, by_header);
    const uint8_t *data = fi->stack_sizes;
    size_t size = fi->stack_sizes_size;
    if (!data) {
        free(order);
        return 0; /* no .stack_sizes: the estimates stand */
    }
    /* The merge, while both streams ascend: every figure decoded once. */
    bool merged = true;
    size_t pos = 0;
    uint64_t a = 0, f = 0;
    bool have = capri_md_stack_size_next(data, size, &pos, &a, &f) == 1;
    uint64_t last = 0;
    for (size_t i = 0; i < n && merged; i++) {
        struct record *r = order[i];
        for (uint32_t k = 0; k < r->b.m.function_count; k++) {
            uint64_t slot = capri_md_address_slot(&r->b.m, k);
            if (slot == 0)
                continue;
            uint64_t want = slot - o->bias;
            if (want < last) {
                merged = false; /* back: search instead */
                break;
            }
            last = want;
            while (have && a < want) {
                uint64_t before = a;
                have = capri_md_stack_size_next(data, size, &pos, &a, &f) == 1;
                if (have && a < before) {
                    merged = false; /* .stack_sizes is not in order */
                    break;
                }
            }
            if (!merged)
                break;
            if (!have || a != want)
                continue; /* no figure: a dynamic alloca, say */
            /* Folded copies share an address: the largest figure. */
            uint64_t biggest = f;
            while ((have = capri_md_stack_size_next(data, size, &pos, &a, &f) == 1) && a == want)
                biggest = f > biggest ? f : biggest;
            if (have && a < want)
                merged = false;
            r->frames[k] = figure(biggest);
        }
    }
    if (!merged) {
        size_t nsizes = 0;
        struct frame_size *sizes = sizes_decode(data, size, &nsizes);
        if (!sizes) {
            free(order);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            struct record *r = order[i];
            for (uint32_t k = 0; k < r->b.m.function_count; k++) {
                uint64_t slot = capri_md_address_slot(&r->b.m, k);
                if (slot == 0)
                    continue;
                uint64_t want = slot - o->bias;
                size_t lo = 0, hi = nsizes;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (sizes[mid].address < want)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                r->frames[k] = lo < nsizes && sizes[lo].address == want
                                   ? figure(sizes[lo].size)
                                   : BOUNDS_NO_FRAME;
            }
        }
        free(sizes);
    }
    free(order);
    return 0;
}

/* Find the per-function frames of one object's records from the file, and
 * add the records of its capri_meta section that have not registered yet. */
static int object_load(size_t oi)
{
    struct object *o = &B.objects[oi];
    const char *path = o->name[0] ? o->name : "/proc/self/exe";
    struct file_info fi;
    const char *why = "";
    if (o->build_id_len == 0) {
        warn_object(o, "has no build-id, so the file on disk cannot be checked against the "
                       "one loaded", KEEP);
        o->unverified = "it has no build-id to check its file against";
        return 0;
    }
    if (file_read(path, &fi, &why)) {
        warn_object(o, why, KEEP);
        o->unverified = why;
        return 0;
    }
    if (fi.build_id_len != o->build_id_len ||
        memcmp(fi.build_id, o->build_id, o->build_id_len) != 0) {
        warn_object(o, "the file on disk is not the one loaded (build-ids differ)", KEEP);
        o->unverified = "the file on disk is not the one loaded";
        file_unmap(&fi);
        return 0;
    }
    if (fi.split_stack_note)
        refuse_split_stack(o->name, "its file has a .note.GNU-split-stack section");
    o->verified = true;
    /* Every record of the object's capri_meta, registered or not (when
     * libcapri.so started first, the executable's register one by one).
     * Records already read (registered) are stepped over by their size. */
    if (fi.has_meta) {
        const uint8_t *meta = (const uint8_t *)(o->bias + fi.meta_addr);
        if (object_contains(o, (uintptr_t)meta, (uintptr_t)meta + fi.meta_size, false)) {
            size_t off = 0;
            while (off < fi.meta_size) {
                while (off < fi.meta_size && meta[off] == 0)
                    off++;
                off &= ~(size_t)(CAPRI_MD_ALIGN - 1); /* records are 8-aligned */
                if (off >= fi.meta_size || fi.meta_size - off < sizeof(struct capri_md_header))
                    break;
                struct capri_md_header *h = (struct capri_md_header *)(uintptr_t)(meta + off);
                if (record_find(h) && h->record_size >= sizeof *h &&
                    h->record_size <= fi.meta_size - off) {
                    off += h->record_size;
                    continue;
                }
                struct capri_md_module m;
                if (capri_md_next(meta, fi.meta_size, &off, &m, NULL, 0) != CAPRI_MD_OK)
                    break; /* a bad one is fatal when it registers */
                long ri = record_add(h, false);
                if (ri == -2)
                    break;
                if (ri < 0) {
                    file_unmap(&fi);
                    return -1;
                }
                B.records[ri].object = (int)oi;
            }
        }
    }
    int rc = object_frames(oi, &fi);
    file_unmap(&fi);
    return rc;
}

/* ---- The pass ------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int by_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return x->address < y->address ? -1 : x->address > y->address;
}

/* A new table of every live record's entries, published for spawns. */
static void entries_publish(void)
{
    size_t n = 0;
    for (size_t i = 0; i < B.record_count; i++)
        if (!B.records[i].dead)
            n += B.records[i].entry_count;
    struct entry_table *t = malloc(sizeof *t + (n ? n : 1) * sizeof t->e[0]);
    if (!t)
        return; /* the old one stays */
    size_t k = 0;
    bool sorted = true;
    for (size_t i = 0; i < B.record_count; i++) {
        const struct record *r = &B.records[i];
        if (r->dead)
            continue;
        for (uint32_t e = 0; e < r->entry_count; e++) {
            t->e[k] = r->entries[e];
            if (k && t->e[k].address < t->e[k - 1].address)
                sorted = false;
            k++;
        }
    }
    if (!sorted)
        qsort(t->e, k, sizeof t->e[0], by_entry);
    t->count = k;
    t->older = load_relaxed(&entry_table);
    store_release(&entry_table, t);
}

/* A record's entries from per-function regions (0: none). */
static bool entries_keep(struct record *r, const uint32_t *regions)
{
    uint32_t n = 0;
    for (uint32_t f = 0; f < r->b.m.function_count; f++)
        n += regions[f] != 0;
    free(r->entries);
    r->entries = malloc((n ? n : 1) * sizeof *r->entries);
    r->entry_count = 0;
    if (!r->entries)
        return false;
    for (uint32_t f = 0; f < r->b.m.function_count; f++)
        if (regions[f])
            r->entries[r->entry_count++] =
                (struct entry){ capri_md_address_slot(&r->b.m, f), regions[f] };
    return true;
}

/* Without a rebuild: the plugin's entry regions of the record's
 * address-taken functions (with an address). */
static bool entries_plugin(struct record *r)
{
    uint32_t n = r->b.m.function_count;
    uint32_t *regions = calloc(n ? n : 1, sizeof *regions);
    if (!regions)
        return false;
    for (uint32_t f = 0; f < n; f++) {
        struct capri_md_function_entry e;
        fn_read(&r->b.m, f, &e);
        if ((e.flags & CAPRI_MD_FN_ADDRESS_TAKEN) && capri_md_address_slot(&r->b.m, f) != 0)
            regions[f] = e.entry_region;
    }
    bool ok = entries_keep(r, regions);
    free(regions);
    return ok;
}

static char *put_kv(char *p, char *e, const char *key, uint64_t v)
{
    p = log_append(p, e, key);
    return log_append_u64(p, e, v);
}

/* One line per pass, for CAPRI_BOUNDS_STATS=1: the objects read, what the
 * pass resolved across, what became of the slots it owned, and the time. */
static void stats_print(const struct bounds_stats *st, size_t objects, uint64_t files_ns,
                        uint64_t ns)
{
    char msg[512];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, "capri: bounds: ");
    if (B.mode == MODE_ESTIMATES)
        p = log_append(p, e, "CAPRI_BOUNDS=estimates; ");
    p = put_kv(p, e, "objects ", objects);
    p = put_kv(p, e, ", records ", st->records);
    p = put_kv(p, e, ", functions ", st->functions);
    p = put_kv(p, e, " (backend frames ", st->backend_frames);
    p = put_kv(p, e, "); slots ", st->slots);
    p = put_kv(p, e, ": rewritten ", st->lower + st->higher + st->same);
    p = put_kv(p, e, " (lower ", st->lower);
    p = put_kv(p, e, ", higher ", st->higher);
    p = put_kv(p, e, ", same ", st->same);
    p = put_kv(p, e, "), kept ", st->kept_unknown + st->kept_cycle);
    p = put_kv(p, e, " (no metadata ", st->kept_unknown);
    p = put_kv(p, e, ", cycle ", st->kept_cycle);
    p = put_kv(p, e, "); small checks over the slack ", st->small_over);
    p = put_kv(p, e, "; files ", files_ns / 1000);
    p = put_kv(p, e, " us, records ", st->ns_read / 1000);
    p = put_kv(p, e, " us, names ", st->ns_names / 1000);
    p = put_kv(p, e, " us, walk ", st->ns_walk / 1000);
    p = put_kv(p, e, " us, slots ", st->ns_slots / 1000);
    p = put_kv(p, e, " us; ", ns / 1000);
    p = log_append(p, e, " us\n");
    sys_write(2, msg, (size_t)(p - msg));
}

/* Fault injection: every table check now passes until the stack pointer
 * is at the limit itself, so frames run into guard pages. */
static void shrink(struct record *r)
{
    if (!r->b.table || r->object < 0 ||
        !object_contains(&B.objects[r->object], (uintptr_t)r->b.table,
                         (uintptr_t)(r->b.table + r->b.m.bounds_count), true))
        return;
    for (uint32_t s = 0; s < r->b.m.bounds_count; s++)
        __atomic_store_n(&r->b.table[s], 0, __ATOMIC_RELAXED);
}

/*
 * A module that a sanitizer instrumented after the plugin ran needs the
 * backend's frame sizes: the sanitizers grow frames (redzones, shadow
 * values, spills around their calls) in ways the plugin's estimates only
 * model, so without the backend's figures its bounds are not known to hold.
 * Such a record stops the program when it has none (docs/runtime.md).
 * Returns why a record has no backend frames and sets *fix to what gives it
 * some, or returns NULL when it has some (or could not have any: no function
 * with an address to match).
 */
static const char *backend_missing(const struct record *r, const char **fix)
{
    *fix = "run the file that was built, linked with --build-id (capri-cc adds it)";
    if (B.mode == MODE_ESTIMATES) {
        *fix = "unset CAPRI_BOUNDS";
        return "CAPRI_BOUNDS=estimates is set";
    }
    if (r->object < 0)
        return "its object is not among the loaded ones";
    const struct object *o = &B.objects[r->object];
    if (!o->verified)
        return o->unverified ? o->unverified : "its file was not read";
    bool addressed = false;
    for (uint32_t k = 0; k < r->b.m.function_count; k++) {
        if (r->frames && r->frames[k] != BOUNDS_NO_FRAME)
            return NULL;
        addressed = addressed || capri_md_address_slot(&r->b.m, k) != 0;
    }
    *fix = "keep .stack_sizes (build with capri-cc, which adds -fstack-size-section; do not "
           "remove it: llvm-strip and objcopy --remove-section do)";
    return addressed ? "its file has no .stack_sizes for it" : NULL;
}

static void refuse_sanitized(const struct record *r)
{
    const char *fix;
    const char *why = backend_missing(r, &fix);
    if (!why)
        return;
    uint32_t sanitizers = capri_md_sanitizers(&r->b.m);
    if (!sanitizers)
        return;
    char path[256], msg[512];
    char *p = msg, *e = msg + sizeof msg - 1;
    p = log_append(p, e, r->object >= 0 ? object_path(B.objects[r->object].name, path, sizeof path)
                                        : "a loaded object");
    p = log_append(p, e, ": module ");
    const char *src = capri_md_string(&r->b.m, r->b.m.module.source_file);
    p = log_append(p, e, src[0] ? src : "(unnamed)");
    p = log_append(p, e, " is instrumented by ");
    p = log_append(p, e, capri_md_sanitizer_name(sanitizers));
    p = log_append(p, e, " but has no backend frame sizes (");
    p = log_append(p, e, why);
    p = log_append(p, e, "), and the plugin's estimates do not cover the sanitizer's frames: ");
    p = log_append(p, e, fix);
    *p = 0;
    capri_fatal(msg);
}

/*
 * The fresh records: those of verified objects (backend mode) have their
 * slots rebuilt, resolving calls across every live record; the others get
 * the plugin's entry regions. Then the entry table is published.
 */
static void pass(size_t objects, uint64_t started_ns, uint64_t files_ns)
{
    struct bounds_stats st;
    memset(&st, 0, sizeof st);
    size_t rewrite = 0;
    for (size_t i = 0; i < B.record_count; i++)
        if (!B.records[i].dead && B.records[i].fresh)
            refuse_sanitized(&B.records[i]);
    for (size_t i = 0; i < B.record_count; i++) {
        struct record *r = &B.records[i];
        r->b.rewrite = !r->dead && r->fresh && B.mode == MODE_BACKEND && r->object >= 0 &&
                       B.objects[r->object].verified;
        /* A table must lie in a writable segment of its object. */
        if (r->b.rewrite && r->b.table &&
            !object_contains(&B.objects[r->object], (uintptr_t)r->b.table,
                             (uintptr_t)(r->b.table + r->b.m.bounds_count), true)) {
            warn_object(&B.objects[r->object], "a record's bounds table is not in a writable "
                        "segment", KEEP);
            r->b.rewrite = false;
        }
        rewrite += r->b.rewrite;
    }
    if (rewrite) {
        struct bounds_record *v = malloc(B.record_count * sizeof *v);
        struct record **back = malloc(B.record_count * sizeof *back);
        uint32_t **regions = calloc(B.record_count, sizeof *regions);
        size_t n = 0;
        bool ok = v && back && regions;
        for (size_t i = 0; ok && i < B.record_count; i++) {
            struct record *r = &B.records[i];
            if (r->dead)
                continue;
            v[n] = r->b;
            v[n].entry_regions = NULL;
            if (r->fresh) {
                regions[n] = calloc(r->b.m.function_count ? r->b.m.function_count : 1,
                                    sizeof *regions[n]);
                ok = regions[n] != NULL;
                v[n].entry_regions = regions[n];
            }
            back[n++] = r;
        }
        if (ok && bounds_compute(v, n, LIMIT_SLACK, &st) == 0) {
            /* The counts below are the fresh records' (the computation's
             * are of every record it resolved across). */
            st.records = st.functions = st.backend_frames = 0;
            for (size_t i = 0; i < n; i++)
                if (regions[i] && !entries_keep(back[i], regions[i]))
                    ok = false;
        } else {
            ok = false;
        }
        if (!ok)
            capri_warn("out of memory rewriting the bounds tables: the plugin's bounds stay");
        for (size_t i = 0; regions && i < n; i++)
            free(regions[i]);
        free(regions);
        free(v);
        free(back);
    }
    for (size_t i = 0; i < B.record_count; i++) {
        struct record *r = &B.records[i];
        if (r->dead || !r->fresh)
            continue;
        if (!r->b.rewrite && !entries_plugin(r))
            capri_warn("out of memory: a record's functions start threads on default stacks");
        if (B.shrink)
            shrink(r);
        st.records++;
        st.functions += r->b.m.function_count;
        if (r->frames)
            for (uint32_t f = 0; f < r->b.m.function_count; f++)
                st.backend_frames += r->frames[f] != BOUNDS_NO_FRAME;
        r->fresh = false;
    }
    entries_publish();
    if (B.stats)
        stats_print(&st, objects, files_ns, now_ns() - started_ns);
}

/* Give every fresh record an object, read new objects, and rewrite what
 * is fresh. Called with the lock held. */
static void run(uint64_t started_ns)
{
    if (!compact()) {
        capri_warn("out of memory reading the loaded objects: the plugin's bounds stay");
        return;
    }
    size_t first = B.object_count;
    struct scan sc = { false, first };
    dl_iterate_phdr(scan_object, &sc);
    if (sc.oom) {
        capri_warn("out of memory reading the loaded objects: the plugin's bounds stay");
        return;
    }
    uint64_t t0 = now_ns();
    if (B.mode == MODE_BACKEND)
        for (size_t i = first; i < B.object_count; i++)
            if (object_load(i)) {
                capri_warn("out of memory reading the backend's frame sizes: the plugin's "
                           "bounds stay");
                return;
            }
    pass(B.object_count - first, started_ns, now_ns() - t0);
}

static void read_environment(void)
{
    const char *mode = getenv("CAPRI_BOUNDS");
    B.mode = MODE_BACKEND;
    if (mode && mode[0]) {
        if (strcmp(mode, "estimates") == 0)
            B.mode = MODE_ESTIMATES;
        else if (strcmp(mode, "backend") != 0)
            capri_warn("ignoring CAPRI_BOUNDS: use backend (the default) or estimates");
    }
    const char *shrink = getenv("CAPRI_FAULT_SHRINK_BOUNDS");
    B.shrink = shrink && strcmp(shrink, "1") == 0;
    const char *stats = getenv("CAPRI_BOUNDS_STATS");
    B.stats = stats && strcmp(stats, "1") == 0;
}

/* After the records' constructors (priority 1) and libcapri's own (101),
 * before every constructor of the program's (default priority) and main. */
__attribute__((constructor(102))) static void bounds_startup(void)
{
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&B.lock);
    read_environment();
    store_release(&B.started, 1u);
    struct capri_md_header *h;
    for (h = modules_first(); h; h = modules_next(h)) {
        if (modules_dead(h) || record_find(h))
            continue;
        if (record_add(h, true) == -1) {
            capri_warn("out of memory reading the capri records: the plugin's bounds stay");
            break;
        }
    }
    run(t0);
    pthread_mutex_unlock(&B.lock);
}

void bounds_registered(void *record)
{
    if (!load_acquire(&B.started) || !record)
        return;
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&B.lock);
    struct record *r = record_find(record);
    long added = 0;
    if (r)
        r->registered = true; /* read with its object already */
    else if ((added = record_add(record, true)) >= 0)
        run(t0);
    else if (added == -1)
        capri_warn("out of memory reading a capri record: the plugin's bounds stay");
    pthread_mutex_unlock(&B.lock);
}

void bounds_unregistered(void *record)
{
    if (!load_acquire(&B.started) || !record)
        return;
    pthread_mutex_lock(&B.lock);
    struct record *r = record_find(record);
    if (r) {
        /* Never read again: its object is being unloaded. */
        r->dead = true;
        free(r->frames);
        free(r->entries);
        r->frames = NULL;
        r->entries = NULL;
        r->entry_count = 0;
        r->b.frames = NULL;
    }
    pthread_mutex_unlock(&B.lock);
}

bool bounds_record_valid(const void *record)
{
    if (!load_acquire(&B.started))
        return false;
    pthread_mutex_lock(&B.lock);
    const struct record *r = record_find(record);
    bool valid = r && !r->dead;
    pthread_mutex_unlock(&B.lock);
    return valid;
}

/* ---- capri_spawn's side --------------------------------------------------------- */

uint32_t bounds_entry_region(const void *fn)
{
    const struct entry_table *t = load_acquire(&entry_table);
    if (!t || !fn)
        return 0;
    uint64_t a = (uint64_t)(uintptr_t)fn;
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].address < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Duplicates (aliases, folded code): the largest. */
    uint32_t best = 0;
    for (size_t i = lo; i < t->count && t->e[i].address == a; i++)
        if (t->e[i].region > best)
            best = t->e[i].region;
    return best;
}

size_t bounds_spawn_bytes(uint32_t region)
{
    /* The struct sits at the chunk's top, staggered by up to three cache
     * lines and aligned down to one (thread.c: struct_place); the limit
     * keeps LIMIT_ABOVE_LO above the chunk's bottom. */
    return (size_t)region + SPAWN_ENTRY_FRAMES + LIMIT_ABOVE_LO +
           sizeof(struct capri_thread) + 4 * CACHE_LINE;
}
