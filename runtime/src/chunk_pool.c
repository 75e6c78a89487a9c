/*
 * Stack chunks (docs/runtime-design.md, "Stack chunks").
 *
 * Layout. One arena, reserved PROT_NONE at start-up and never unmapped, is
 * cut into 64 MiB slabs, each serving one size class; slab_cls[] holds the
 * class of every slab (plus one; 0 is "not carved"). In a slab of class c,
 * chunk i spans [i * stride, (i + 1) * stride) with stride = usable + 4 KiB:
 * the guard page at the bottom, the usable part above it, so a stack that
 * runs off its chunk's bottom lands in the guard. The smallest page-class
 * stride is 8 KiB, so a slab has at most 8192 chunks and slot = slab << 13
 * | i. From an address to its chunk is then arithmetic and one byte load,
 * which a SIGSEGV handler can afford.
 *
 * Dense classes (dense mode's first chunks) have no guard: their stride is
 * their size, 512 to 4032 bytes in steps of 64, so a page holds parts of
 * two or more chunks. A dense slab still holds 8192 chunks (2.5 to 31.5 MiB
 * of its 64 MiB: the rest is address space never touched), so slot numbers,
 * the slot table and the gdb script's walk keep their shape.
 *
 * Carving. A slab becomes read-write (with its 192 KiB of the slot table)
 * when its class first needs it; its chunks are carved a batch at a time
 * and their guards installed then, in one process_madvise. Carving lazily
 * keeps the mprotect fallback, which costs two mappings per chunk, from
 * spending them on chunks nobody asked for.
 *
 * Free lists. The links live in the slot table, never in the chunks: a free
 * chunk's memory may have been given back, and following a link inside it
 * would fault a zero page back in. Each scheduler has a cache (owner only,
 * LIFO so the warmest chunk goes first); the depot is shared, under a
 * spinlock. The depot holds batches: in the first slot of a batch, flags_
 * has the length and batch_tail_ the last slot, so moving a batch between
 * the depot and a cache is O(1) under the lock (the cache walks its own
 * list, outside the lock, to cut one).
 *
 * Decay. Memory stays warm when a chunk is given back, and goes back to
 * the kernel (MADV_DONTNEED; guards survive it) only when the chunk has sat
 * unused for a while. A cache tracks the fewest chunks it held per class
 * since its last decay: that many at the bottom of its LIFO were not
 * touched for a whole period, so they are released and moved to the
 * depot. The depot has three lists per class: hot (given since the last
 * period began), cold (already there a period ago) and released. Each
 * period releases the cold list and makes hot the new cold. A resident flag
 * per slot keeps released chunks from being released again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "atomic.h"
#include "chunk_pool.h"
#include "sys.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; Debian 12's headers predate it */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
/* Linux 6.15 lets process_madvise name the caller's own process without a
 * pidfd (so without an fd to keep open, or to reopen after fork). */
#define PIDFD_SELF_THREAD_GROUP_ (-10001)
#define PM_OFF (-1)

#define SLAB_SHIFT 26
#define SLAB_SIZE ((size_t)1 << SLAB_SHIFT)
#define SLAB_SLOTS_SHIFT 13
#define SLAB_SLOTS (1u << SLAB_SLOTS_SHIFT)
#define SLAB_SLOT_BYTES ((size_t)SLAB_SLOTS * sizeof(struct chunk_slot))
#define ARENA_MAX ((size_t)256 << 30)
#define ARENA_MIN ((size_t)1 << 30)
#define MAX_SLABS (ARENA_MAX >> SLAB_SHIFT)

#define USABLE(c) ((size_t)4096 << (c))
#define STRIDE(c) (USABLE(c) + CHUNK_GUARD_SIZE)
#define PER_SLAB(c) ((uint32_t)(SLAB_SIZE / STRIDE(c)))
#define DENSE_SIZE(k) (CHUNK_DENSE_MIN + (size_t)(k) * CHUNK_DENSE_STEP)

/* flags_: bit 0 says the memory may be resident; in the first slot of a
 * depot batch, bits 1.. hold the batch's length. */
#define FLAG_RESIDENT 1u
#define BATCH_SHIFT 1

#define CARVE_MAX 32  /* the largest batch */
#define RELEASE_IOV 32

_Static_assert(sizeof(struct chunk_slot) == 24, "slot table layout");
_Static_assert(SLAB_SLOT_BYTES % 4096 == 0, "a slab's slots are whole pages");
_Static_assert(SLAB_SIZE / STRIDE(0) == SLAB_SLOTS, "slot index width");
_Static_assert(CHUNK_CLASSES == 10, "class tables");
_Static_assert(DENSE_SIZE(CHUNK_DENSE_CLASSES - 1) < 4096 && SLAB_SIZE / DENSE_SIZE(CHUNK_DENSE_CLASSES - 1) >= SLAB_SLOTS,
               "dense classes are sub-page and fill 8192 slots of a slab");
_Static_assert(CHUNK_DENSE_STEP % 64 == 0 && CHUNK_DENSE_MIN % 64 == 0, "dense chunks keep cache-line alignment");
_Static_assert(CHUNK_ALL_CLASSES < 255, "slab_cls holds class + 1 in a byte");

static const uint32_t per_slab[CHUNK_CLASSES] = {
    PER_SLAB(0), PER_SLAB(1), PER_SLAB(2), PER_SLAB(3), PER_SLAB(4),
    PER_SLAB(5), PER_SLAB(6), PER_SLAB(7), PER_SLAB(8), PER_SLAB(9),
};

/* A cache keeps up to cap free chunks of a class (about 4 MiB of memory,
 * and no more than 64 for the small classes) and trades half a cap with
 * the depot at a time. */
static const uint16_t cache_cap[CHUNK_CLASSES] = {64, 64, 64, 64, 64, 32, 16, 8, 4, 2};
/* Dense chunks: 64 of them are at most 252 KiB. */
static inline uint32_t cap_of(unsigned c) { return c < CHUNK_CLASSES ? cache_cap[c] : 64u; }
#define BATCH(c) (cap_of(c) / 2)

static inline size_t class_usable(unsigned c)
{
    return c < CHUNK_CLASSES ? USABLE(c) : DENSE_SIZE(c - CHUNK_DENSE_FIRST);
}
static inline size_t class_guard(unsigned c) { return c < CHUNK_CLASSES ? CHUNK_GUARD_SIZE : 0; }
static inline size_t class_stride(unsigned c) { return class_usable(c) + class_guard(c); }
static inline uint32_t slab_chunks(unsigned c) { return c < CHUNK_CLASSES ? per_slab[c] : SLAB_SLOTS; }

static struct {
    char *base;
    size_t size;   /* 0 until initialised: then nothing is in the arena */
    uint32_t nslabs;
    struct chunk_slot *slots;
    uint32_t init_state; /* 0, 1 (running), 2 (done) */
    uint32_t guard;      /* enum chunk_guard_mode; may drop from madvise to mprotect */
} pool;

static uint8_t slab_cls[MAX_SLABS];

/* Carving is the slow path: its lock is held across the system calls that
 * make a slab writable and install guards, so it is not the depot's. */
static struct {
    unsigned lock;
    uint32_t slabs_used;
    uint32_t cur[CHUNK_ALL_CLASSES];  /* slab being carved, or CHUNK_SLOT_NONE */
    uint32_t next[CHUNK_ALL_CLASSES]; /* its first uncarved chunk */
    uint32_t mprotect_guards;
    uint32_t mprotect_max;
    struct iovec iov[CARVE_MAX];  /* static: take may run on a 4 KiB stack */
} carve;

struct flist {
    uint32_t head; /* meaningful only when count > 0 */
    uint32_t count;
};

static struct {
    _Alignas(CACHE_LINE) unsigned lock;
    struct flist hot[CHUNK_ALL_CLASSES], cold[CHUNK_ALL_CLASSES], rel[CHUNK_ALL_CLASSES];
    uint64_t nfree[CHUNK_ALL_CLASSES];  /* all three lists, and batches being released */
    uint64_t in_use[CHUNK_ALL_CLASSES]; /* through no cache, and unregistered caches */
    uint64_t transfers;
    uint64_t released;
    uint64_t resident_bytes; /* usable bytes in hot and cold */
    uint64_t next_decay;
    struct chunk_cache *caches;
} depot;

/* One decayer of the depot at a time: it drops the depot lock around the
 * madvise calls. */
static unsigned decay_lock;

static int pm_fd = PIDFD_SELF_THREAD_GROUP_;
static long pm_pid;

/* ---- system calls -------------------------------------------------------- */

static void *sys_mmap_anon(size_t len, int prot, int extra)
{
    long r = sys_call6(SYS_mmap, 0, (long)len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
    return r < 0 ? NULL : (void *)r;
}

static void sys_munmap(void *p, size_t len) { sys_call6(SYS_munmap, (long)p, (long)len, 0, 0, 0, 0); }

static long sys_getpid_(void) { return sys_call6(SYS_getpid, 0, 0, 0, 0, 0, 0); }

static void pm_open(void)
{
    /* A kernel before 6.15: a pidfd of our own. Whoever wins the exchange
     * opens it; the others use plain madvise meanwhile. */
    int expected = PIDFD_SELF_THREAD_GROUP_;
    if (!cas_acq_rel(&pm_fd, &expected, PM_OFF))
        return;
    long pid = sys_getpid_();
    long fd = sys_call6(SYS_pidfd_open, pid, 0, 0, 0, 0, 0);
    if (fd >= 0) {
        store_relaxed(&pm_pid, pid);
        store_release(&pm_fd, (int)fd);
    }
}

static long pm_call(const struct iovec *iov, unsigned n, int advice)
{
    for (;;) {
        int fd = load_acquire(&pm_fd);
        if (fd == PM_OFF)
            return -ENOSYS;
        /* A pidfd names the process that opened it: after a fork that
         * bypassed our hook it would name the parent. */
        if (fd >= 0 && load_relaxed(&pm_pid) != sys_getpid_())
            return -ENOSYS;
        long r = sys_call6(SYS_process_madvise, fd, (long)iov, (long)n, advice, 0, 0);
        if (r == -EBADF && fd == PIDFD_SELF_THREAD_GROUP_) {
            pm_open();
            continue;
        }
        return r;
    }
}

/* Applies advice to n ranges, in one process_madvise when it works, else
 * one madvise each. Returns how many leading ranges succeeded; when fewer
 * than n, *err is the failing range's -errno. */
static unsigned advise_ranges(const struct iovec *iov, unsigned n, int advice, long *err)
{
    unsigned done = 0;
    long pm = -ENOSYS;
    if (n > 1) {
        pm = pm_call(iov, n, advice);
        if (pm >= 0) {
            size_t left = (size_t)pm;
            while (done < n && left >= iov[done].iov_len)
                left -= iov[done++].iov_len;
        }
    }
    for (unsigned i = done; i < n; i++) {
        long r = sys_madvise(iov[i].iov_base, iov[i].iov_len, advice);
        if (r < 0) {
            *err = r;
            return i;
        }
        /* process_madvise refused what madvise does (a kernel before 6.13
         * takes few advices there): stop asking it. */
        if (i == 0 && pm < 0 && pm != -ENOSYS)
            store_relaxed(&pm_fd, PM_OFF);
    }
    return n;
}

/* ---- geometry ------------------------------------------------------------ */

/* off / stride with constant divisors for the page classes (a multiply,
 * not a divide); dense classes divide. */
static inline uint32_t div_stride(size_t off, unsigned cls)
{
    switch (cls) {
    case 0: return (uint32_t)(off / STRIDE(0));
    case 1: return (uint32_t)(off / STRIDE(1));
    case 2: return (uint32_t)(off / STRIDE(2));
    case 3: return (uint32_t)(off / STRIDE(3));
    case 4: return (uint32_t)(off / STRIDE(4));
    case 5: return (uint32_t)(off / STRIDE(5));
    case 6: return (uint32_t)(off / STRIDE(6));
    case 7: return (uint32_t)(off / STRIDE(7));
    case 8: return (uint32_t)(off / STRIDE(8));
    case 9: return (uint32_t)(off / STRIDE(9));
    default: return (uint32_t)(off / class_stride(cls));
    }
}

static inline char *chunk_addr(uint32_t slot, unsigned cls)
{
    return pool.base + ((size_t)(slot >> SLAB_SLOTS_SHIFT) << SLAB_SHIFT) +
           (size_t)(slot & (SLAB_SLOTS - 1)) * class_stride(cls) + class_guard(cls);
}

static inline struct chunk_slot *slot_ptr(uint32_t slot) { return &pool.slots[slot]; }

static _Noreturn void pool_corrupt(const char *what)
{
    static const char head[] = "capri: chunk pool: ";
    sys_write(2, head, sizeof head - 1);
    sys_write(2, what, strlen(what));
    sys_write(2, "\n", 1);
    __builtin_trap();
}

/* The slot of a chunk handed out as class cls; anything else is a bug in
 * the caller, and a corrupted free list would be much harder to find. */
static inline uint32_t slot_of_chunk(const void *chunk, unsigned cls)
{
    size_t off = (uintptr_t)chunk - (uintptr_t)pool.base;
    if (unlikely(cls >= CHUNK_ALL_CLASSES || off >= pool.size))
        pool_corrupt("chunk given back is not in the arena");
    size_t slab = off >> SLAB_SHIFT, in = off & (SLAB_SIZE - 1);
    uint32_t i = div_stride(in, cls);
    if (unlikely(load_relaxed(&slab_cls[slab]) != cls + 1 || i >= slab_chunks(cls) ||
                 (size_t)i * class_stride(cls) + class_guard(cls) != in))
        pool_corrupt("chunk given back is not a chunk of its class");
    return (uint32_t)slab << SLAB_SLOTS_SHIFT | i;
}

unsigned chunk_class_for(size_t bytes)
{
    if (bytes <= USABLE(0))
        return 0;
    unsigned c = (unsigned)(64 - __builtin_clzll((unsigned long long)(bytes - 1))) - CHUNK_MIN_SHIFT;
    return c < CHUNK_CLASSES ? c : CHUNK_CLASSES;
}

unsigned chunk_dense_class_for(size_t bytes)
{
    if (bytes <= CHUNK_DENSE_MIN)
        return CHUNK_DENSE_FIRST;
    size_t k = (bytes - CHUNK_DENSE_MIN + CHUNK_DENSE_STEP - 1) / CHUNK_DENSE_STEP;
    return k < CHUNK_DENSE_CLASSES ? CHUNK_DENSE_FIRST + (unsigned)k : chunk_class_for(bytes);
}

size_t chunk_class_size(unsigned cls) { return cls < CHUNK_ALL_CLASSES ? class_usable(cls) : 0; }

struct chunk_slot *chunk_slot_at(uint32_t slot)
{
    uint32_t slab = slot >> SLAB_SLOTS_SHIFT;
    if (slab >= load_acquire(&pool.nslabs))
        return NULL;
    unsigned c = load_acquire(&slab_cls[slab]);
    if (!c || (slot & (SLAB_SLOTS - 1)) >= slab_chunks(c - 1))
        return NULL;
    return slot_ptr(slot);
}

void *chunk_of_slot(uint32_t slot)
{
    if (!chunk_slot_at(slot))
        return NULL;
    return chunk_addr(slot, load_relaxed(&slab_cls[slot >> SLAB_SLOTS_SHIFT]) - 1u);
}

int chunk_pool_locate(const void *addr, uint32_t *slot, void **chunk, unsigned *cls)
{
    size_t off = (uintptr_t)addr - (uintptr_t)pool.base;
    if (off >= load_acquire(&pool.size))
        return 0;
    size_t slab = off >> SLAB_SHIFT, in = off & (SLAB_SIZE - 1);
    unsigned c = load_acquire(&slab_cls[slab]);
    if (!c--)
        return 0;
    uint32_t i = div_stride(in, c);
    if (i >= slab_chunks(c))
        return 0; /* the slab's unused tail */
    size_t bottom = (size_t)i * class_stride(c);
    *slot = (uint32_t)slab << SLAB_SLOTS_SHIFT | i;
    *chunk = pool.base + (slab << SLAB_SHIFT) + bottom + class_guard(c);
    *cls = c;
    return in - bottom < class_guard(c) ? 2 : 1;
}

/* ---- initialisation ------------------------------------------------------ */

static char *append(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *append_num(char *p, char *end, unsigned long v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && p < end)
        *p++ = digits[--n];
    return p;
}

/* write(2), not stdio: this may run before the program's stdio is usable,
 * and must not allocate. */
static void warn_no_guard(const char *why, long madvise_err, long mprotect_err)
{
    char buf[256], *p = buf, *end = buf + sizeof buf - 1;
    p = append(p, end, "capri: warning: stack chunks have no guard pages (");
    p = append(p, end, why);
    if (madvise_err) {
        p = append(p, end, "MADV_GUARD_INSTALL: error ");
        p = append_num(p, end, (unsigned long)-madvise_err);
        p = append(p, end, ", ");
    }
    if (mprotect_err) {
        p = append(p, end, "mprotect: error ");
        p = append_num(p, end, (unsigned long)-mprotect_err);
    }
    p = append(p, end, ")\n");
    sys_write(2, buf, (size_t)(p - buf));
}

/* Which guard works here, tried on a scratch mapping (a mapping made now
 * is locked if mlockall(MCL_FUTURE) is in effect, like the slabs will be). */
static enum chunk_guard_mode guard_probe(enum chunk_guard_mode want)
{
    if (want == CHUNK_GUARD_NONE)
        return CHUNK_GUARD_NONE;
    const char *force = getenv("CAPRI_GUARD_FORCE");
    if (force && strcmp(force, "none") == 0) {
        warn_no_guard("CAPRI_GUARD_FORCE=none", 0, 0);
        return CHUNK_GUARD_NONE;
    }
    if (force && strcmp(force, "mprotect") == 0)
        want = CHUNK_GUARD_MPROTECT;
    else if (force && *force) {
        static const char msg[] = "capri: warning: ignoring CAPRI_GUARD_FORCE (want mprotect or none)\n";
        sys_write(2, msg, sizeof msg - 1);
    }
    char *p = sys_mmap_anon(2 * 4096, PROT_READ | PROT_WRITE, 0);
    if (!p)
        return want; /* cannot tell; carving falls back if it must */
    enum chunk_guard_mode got = CHUNK_GUARD_NONE;
    long em = 0, ep = 0;
    if (want == CHUNK_GUARD_MADVISE && (em = sys_madvise(p, 4096, MADV_GUARD_INSTALL)) == 0)
        got = CHUNK_GUARD_MADVISE;
    else if ((ep = sys_mprotect(p, 4096, PROT_NONE)) == 0)
        got = CHUNK_GUARD_MPROTECT;
    sys_munmap(p, 2 * 4096);
    if (got == CHUNK_GUARD_NONE)
        warn_no_guard("", em, ep);
    return got;
}

/* vm.max_map_count, for the mprotect fallback (two mappings per chunk):
 * it stops a few thousand mappings short of the limit, which the rest of
 * the process (malloc, thread stacks, dlopen) needs too. */
static uint32_t mprotect_guard_limit(void)
{
    unsigned long max = 65530;
    long fd = sys_call6(SYS_openat, AT_FDCWD, (long)"/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd >= 0) {
        char buf[24];
        long n = sys_call6(SYS_read, fd, (long)buf, sizeof buf, 0, 0, 0);
        sys_call6(SYS_close, fd, 0, 0, 0, 0, 0);
        if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
            max = 0;
            for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
                max = max * 10 + (unsigned long)(buf[i] - '0');
        }
    }
    const unsigned long headroom = 4096;
    unsigned long guards = max > 2 * headroom ? (max - headroom) / 2 : max / 4;
    return guards > UINT32_MAX ? UINT32_MAX : (uint32_t)guards;
}

int chunk_pool_init(enum chunk_guard_mode guard)
{
    uint32_t state = 0;
    if (!cas_acq_rel(&pool.init_state, &state, 1u)) {
        while ((state = load_acquire(&pool.init_state)) == 1)
            cpu_relax();
        if (state == 2 && guard == CHUNK_GUARD_NONE)
            store_relaxed(&pool.guard, (uint32_t)CHUNK_GUARD_NONE);
        return state == 2 ? 0 : -ENOMEM;
    }
    /* Address space only (PROT_NONE, NORESERVE): slabs become writable as
     * they are carved, so only those count against overcommit, and
     * mlockall(MCL_CURRENT) has nothing to populate in the rest. */
    size_t size = ARENA_MAX;
    char *base = NULL;
    for (; size >= ARENA_MIN; size >>= 1)
        if ((base = sys_mmap_anon(size, PROT_NONE, MAP_NORESERVE)) != NULL)
            break;
    if (!base) {
        store_release(&pool.init_state, 0u);
        return -ENOMEM;
    }
    /* Huge pages would make a 4 KiB stack cost 2 MiB. Core dumps skip the
     * reservation (hundreds of GiB of address space); slabs are marked for
     * dumping again as they are carved. */
    sys_madvise(base, size, MADV_NOHUGEPAGE);
    sys_madvise(base, size, MADV_DONTDUMP);
    uint32_t nslabs = (uint32_t)(size >> SLAB_SHIFT);
    struct chunk_slot *slots = sys_mmap_anon(nslabs * SLAB_SLOT_BYTES, PROT_NONE, MAP_NORESERVE);
    if (!slots) {
        sys_munmap(base, size);
        store_release(&pool.init_state, 0u);
        return -ENOMEM;
    }
    sys_madvise(slots, nslabs * SLAB_SLOT_BYTES, MADV_DONTDUMP);
    for (unsigned c = 0; c < CHUNK_ALL_CLASSES; c++)
        carve.cur[c] = CHUNK_SLOT_NONE;
    carve.mprotect_max = mprotect_guard_limit();
    store_relaxed(&pool.guard, (uint32_t)guard_probe(guard));
    pool.base = base;
    pool.slots = slots;
    store_release(&pool.nslabs, nslabs);
    store_release(&pool.size, size);
    store_release(&pool.init_state, 2u);
    return 0;
}

enum chunk_guard_mode chunk_pool_guard_mode(void) { return (enum chunk_guard_mode)load_relaxed(&pool.guard); }

/* ---- carving ------------------------------------------------------------- */

/* Under carve.lock. */
static uint32_t slab_new(unsigned cls)
{
    uint32_t s = carve.slabs_used;
    if (s >= pool.nslabs)
        return CHUNK_SLOT_NONE;
    if (sys_mprotect(pool.base + ((size_t)s << SLAB_SHIFT), SLAB_SIZE, PROT_READ | PROT_WRITE) < 0 ||
        sys_mprotect((char *)pool.slots + s * SLAB_SLOT_BYTES, SLAB_SLOT_BYTES, PROT_READ | PROT_WRITE) < 0)
        return CHUNK_SLOT_NONE;
    /* Carved memory belongs in core dumps (thread stacks, the slot table). */
    sys_madvise(pool.base + ((size_t)s << SLAB_SHIFT), SLAB_SIZE, MADV_DODUMP);
    sys_madvise((char *)pool.slots + s * SLAB_SLOT_BYTES, SLAB_SLOT_BYTES, MADV_DODUMP);
    /* Published after the memory is writable: locate and chunk_slot_at
     * trust a slab whose class byte is set. */
    store_release(&slab_cls[s], (uint8_t)(cls + 1));
    store_relaxed(&carve.slabs_used, s + 1);
    carve.cur[cls] = s;
    carve.next[cls] = 0;
    return s;
}

/* Under carve.lock: guards for chunks first..first+k-1 of a slab. Returns
 * how many got one (the rest stay uncarved, to be tried again later). */
static uint32_t guards_install(unsigned cls, uint32_t slab, uint32_t first, uint32_t k)
{
    uint32_t mode = load_relaxed(&pool.guard), done = 0;
    char *g = pool.base + ((size_t)slab << SLAB_SHIFT) + (size_t)first * class_stride(cls);
    if (mode == CHUNK_GUARD_NONE || !class_guard(cls))
        return k;
    if (mode == CHUNK_GUARD_MADVISE) {
        for (uint32_t i = 0; i < k; i++)
            carve.iov[i] = (struct iovec){g + (size_t)i * class_stride(cls), CHUNK_GUARD_SIZE};
        long err = 0;
        done = advise_ranges(carve.iov, k, MADV_GUARD_INSTALL, &err);
        if (done == k || err != -EINVAL)
            return done;
        /* Refused from now on: mlockall since start-up. mprotect still
         * works on locked memory. */
        store_relaxed(&pool.guard, (uint32_t)CHUNK_GUARD_MPROTECT);
    }
    for (; done < k; done++) {
        if (carve.mprotect_guards >= carve.mprotect_max ||
            sys_mprotect(g + (size_t)done * class_stride(cls), CHUNK_GUARD_SIZE, PROT_NONE) < 0)
            break;
        carve.mprotect_guards++;
    }
    return done;
}

/* Carves up to `want` new chunks of class cls, linked in address order.
 * Returns the first slot (CHUNK_SLOT_NONE when none can be had), the last
 * one and the count. */
static uint32_t carve_batch(unsigned cls, uint32_t want, uint32_t *tail, uint32_t *n)
{
    spin_lock(&carve.lock);
    uint32_t slab = carve.cur[cls];
    if (slab == CHUNK_SLOT_NONE || carve.next[cls] >= slab_chunks(cls))
        slab = slab_new(cls);
    uint32_t first = 0, k = 0;
    if (slab != CHUNK_SLOT_NONE) {
        first = carve.next[cls];
        k = slab_chunks(cls) - first < want ? slab_chunks(cls) - first : want;
        k = guards_install(cls, slab, first, k);
        carve.next[cls] = first + k;
    }
    spin_unlock(&carve.lock);
    if (!k)
        return CHUNK_SLOT_NONE;
    /* These slots were never used (all zero: free, generation 0, not
     * resident), and nobody else can reach them yet. */
    uint32_t head = slab << SLAB_SLOTS_SHIFT | first;
    for (uint32_t s = head; s < head + k; s++) {
        struct chunk_slot *e = slot_ptr(s);
        e->next_free = s + 1;
        store_relaxed(&e->cls, (uint8_t)cls);
    }
    *tail = head + k - 1;
    *n = k;
    return head;
}

/* ---- depot lists (under depot.lock) -------------------------------------- */

static inline uint32_t batch_len(uint32_t head) { return slot_ptr(head)->flags_ >> BATCH_SHIFT; }

static inline void batch_mark(uint32_t head, uint32_t tail, uint32_t n)
{
    struct chunk_slot *e = slot_ptr(head);
    e->flags_ = (uint16_t)((e->flags_ & FLAG_RESIDENT) | n << BATCH_SHIFT);
    e->batch_tail_ = tail;
}

/* The links of a chain of batches (each already marked) may be built
 * outside the lock; pushing it is O(1). */
struct chain {
    uint32_t head, tail, n;
};

static void chain_add(struct chain *ch, uint32_t head, uint32_t tail, uint32_t n)
{
    batch_mark(head, tail, n);
    if (ch->n)
        slot_ptr(ch->tail)->next_free = head;
    else
        ch->head = head;
    ch->tail = tail;
    ch->n += n;
}

static void list_push(struct flist *l, const struct chain *ch)
{
    slot_ptr(ch->tail)->next_free = l->head;
    l->head = ch->head;
    l->count += ch->n;
}

static uint32_t list_pop_batch(struct flist *l, uint32_t *tail, uint32_t *n)
{
    if (!l->count)
        return CHUNK_SLOT_NONE;
    uint32_t head = l->head;
    *tail = slot_ptr(head)->batch_tail_;
    *n = batch_len(head);
    l->head = slot_ptr(*tail)->next_free;
    l->count -= *n;
    return head;
}

/* One chunk onto the head batch while it has room, so that chunks given
 * one at a time still leave in batches. */
static void list_push_one(struct flist *l, uint32_t s, unsigned cls)
{
    uint32_t n = l->count ? batch_len(l->head) : BATCH(cls);
    slot_ptr(s)->next_free = l->head;
    if (n < BATCH(cls))
        batch_mark(s, slot_ptr(l->head)->batch_tail_, n + 1);
    else
        batch_mark(s, s, 1);
    l->head = s;
    l->count++;
}

static uint32_t list_pop_one(struct flist *l)
{
    if (!l->count)
        return CHUNK_SLOT_NONE;
    uint32_t s = l->head, n = batch_len(s);
    l->head = slot_ptr(s)->next_free;
    if (n > 1)
        batch_mark(l->head, slot_ptr(s)->batch_tail_, n - 1);
    l->count--;
    return s;
}

static inline void resident_add(unsigned cls, uint32_t n, bool add)
{
    uint64_t bytes = (uint64_t)n * class_usable(cls);
    store_relaxed(&depot.resident_bytes, add ? depot.resident_bytes + bytes : depot.resident_bytes - bytes);
}

/* Warmest first: hot, then cold, then released memory. */
static uint32_t depot_pop_batch(unsigned cls, uint32_t *tail, uint32_t *n)
{
    uint32_t head = list_pop_batch(&depot.hot[cls], tail, n);
    if (head == CHUNK_SLOT_NONE)
        head = list_pop_batch(&depot.cold[cls], tail, n);
    if (head != CHUNK_SLOT_NONE)
        resident_add(cls, *n, false);
    else if ((head = list_pop_batch(&depot.rel[cls], tail, n)) == CHUNK_SLOT_NONE)
        return head;
    depot.nfree[cls] -= *n;
    return head;
}

/* ---- take and give ------------------------------------------------------- */

static inline void hand_out(struct chunk_slot *e)
{
    store_relaxed(&e->owner, (void *)NULL);
    store_release(&e->state, (uint8_t)CHUNK_STACK);
}

static void *depot_take_one(unsigned cls, uint32_t *slot)
{
    spin_lock(&depot.lock);
    uint32_t s = list_pop_one(&depot.hot[cls]);
    if (s == CHUNK_SLOT_NONE)
        s = list_pop_one(&depot.cold[cls]);
    if (s != CHUNK_SLOT_NONE)
        resident_add(cls, 1, false);
    else
        s = list_pop_one(&depot.rel[cls]);
    if (s == CHUNK_SLOT_NONE) {
        spin_unlock(&depot.lock);
        uint32_t tail, n;
        if ((s = carve_batch(cls, BATCH(cls), &tail, &n)) == CHUNK_SLOT_NONE)
            return NULL;
        spin_lock(&depot.lock);
        if (n > 1) {
            /* The rest of the batch: never touched, so "released". */
            struct chain rest = {0};
            chain_add(&rest, slot_ptr(s)->next_free, tail, n - 1);
            list_push(&depot.rel[cls], &rest);
            depot.nfree[cls] += n - 1;
        }
    } else {
        depot.nfree[cls]--;
    }
    store_relaxed(&depot.in_use[cls], depot.in_use[cls] + 1);
    spin_unlock(&depot.lock);
    hand_out(slot_ptr(s));
    *slot = s;
    return chunk_addr(s, cls);
}

/* The cache is empty: a batch from the depot, else a new one carved. */
static uint32_t cache_refill(struct chunk_cache *cache, unsigned cls)
{
    uint32_t head, tail, n;
    spin_lock(&depot.lock);
    head = depot_pop_batch(cls, &tail, &n);
    spin_unlock(&depot.lock);
    if (head != CHUNK_SLOT_NONE)
        store_relaxed(&cache->depot_transfers, cache->depot_transfers + 1);
    else if ((head = carve_batch(cls, BATCH(cls), &tail, &n)) == CHUNK_SLOT_NONE)
        return 0;
    cache->head[cls] = head;
    store_relaxed(&cache->count[cls], n);
    return n;
}

void *chunk_pool_take(struct chunk_cache *cache, unsigned cls, uint32_t *slot)
{
    if (unlikely(cls >= CHUNK_ALL_CLASSES))
        return NULL;
    if (unlikely(!cache))
        return depot_take_one(cls, slot);
    uint32_t n = cache->count[cls];
    if (unlikely(n == 0) && (n = cache_refill(cache, cls)) == 0)
        return NULL;
    uint32_t s = cache->head[cls];
    struct chunk_slot *e = slot_ptr(s);
    cache->head[cls] = e->next_free;
    store_relaxed(&cache->count[cls], --n);
    if (n < cache->low_[cls])
        cache->low_[cls] = n;
    store_relaxed(&cache->in_use[cls], cache->in_use[cls] + 1);
    hand_out(e);
    *slot = s;
    return chunk_addr(s, cls);
}

/* Over the cap: the newest batch goes to the depot (still warm, so another
 * scheduler's next spawn gets warm memory). */
static void cache_overflow(struct chunk_cache *cache, unsigned cls)
{
    uint32_t b = BATCH(cls), head = cache->head[cls], tail = head;
    for (uint32_t i = 1; i < b; i++)
        tail = slot_ptr(tail)->next_free;
    cache->head[cls] = slot_ptr(tail)->next_free;
    uint32_t n = cache->count[cls] - b;
    store_relaxed(&cache->count[cls], n);
    if (n < cache->low_[cls])
        cache->low_[cls] = n;
    struct chain ch = {0};
    chain_add(&ch, head, tail, b);
    spin_lock(&depot.lock);
    list_push(&depot.hot[cls], &ch);
    depot.nfree[cls] += b;
    resident_add(cls, b, true);
    spin_unlock(&depot.lock);
    store_relaxed(&cache->depot_transfers, cache->depot_transfers + 1);
}

void chunk_pool_give(struct chunk_cache *cache, void *chunk, unsigned cls)
{
    uint32_t s = slot_of_chunk(chunk, cls);
    struct chunk_slot *e = slot_ptr(s);
    if (unlikely(load_relaxed(&e->state) == CHUNK_FREE))
        pool_corrupt("chunk given back twice");
    store_relaxed(&e->owner, (void *)NULL);
    store_release(&e->state, (uint8_t)CHUNK_FREE);
    e->flags_ |= FLAG_RESIDENT;
    if (unlikely(!cache)) {
        spin_lock(&depot.lock);
        list_push_one(&depot.hot[cls], s, cls);
        depot.nfree[cls]++;
        resident_add(cls, 1, true);
        store_relaxed(&depot.in_use[cls], depot.in_use[cls] - 1);
        spin_unlock(&depot.lock);
        return;
    }
    e->next_free = cache->head[cls];
    cache->head[cls] = s;
    uint32_t n = cache->count[cls] + 1;
    store_relaxed(&cache->count[cls], n);
    store_relaxed(&cache->in_use[cls], cache->in_use[cls] - 1);
    if (unlikely(n > cap_of(cls)))
        cache_overflow(cache, cls);
}

void chunk_cache_flush(struct chunk_cache *cache)
{
    for (unsigned c = 0; c < CHUNK_ALL_CLASSES; c++) {
        uint32_t n = cache->count[c];
        if (!n)
            continue;
        struct chain ch = {0};
        uint32_t s = cache->head[c], batches = 0;
        while (n) {
            uint32_t b = n < BATCH(c) ? n : BATCH(c), head = s, tail = s;
            for (uint32_t i = 1; i < b; i++)
                tail = slot_ptr(tail)->next_free;
            s = slot_ptr(tail)->next_free;
            chain_add(&ch, head, tail, b);
            n -= b;
            batches++;
        }
        spin_lock(&depot.lock);
        list_push(&depot.hot[c], &ch);
        depot.nfree[c] += ch.n;
        resident_add(c, ch.n, true);
        spin_unlock(&depot.lock);
        store_relaxed(&cache->count[c], 0u);
        cache->low_[c] = 0;
        store_relaxed(&cache->depot_transfers, cache->depot_transfers + batches);
    }
}

/* ---- decay --------------------------------------------------------------- */

struct release {
    struct iovec iov[RELEASE_IOV];
    size_t usable[RELEASE_IOV]; /* of each range, without the guards inside it */
    unsigned n;
    uint64_t bytes;
};

static void release_flush(struct release *r)
{
    /* Only whole pages can go: a range of dense chunks shrinks to the pages
     * inside it (page-class chunks are whole pages already). What is left
     * of a page shares it with another chunk, maybe one in use. */
    unsigned k = 0;
    for (unsigned j = 0; j < r->n; j++) {
        uintptr_t lo = ((uintptr_t)r->iov[j].iov_base + 4095) & ~(uintptr_t)4095;
        uintptr_t hi = ((uintptr_t)r->iov[j].iov_base + r->iov[j].iov_len) & ~(uintptr_t)4095;
        if (hi <= lo)
            continue;
        if (hi - lo != r->iov[j].iov_len)
            r->usable[j] = hi - lo; /* dense: no guard inside */
        r->iov[k] = (struct iovec){(void *)lo, hi - lo};
        r->usable[k++] = r->usable[j];
    }
    r->n = k;
    unsigned i = 0;
    while (i < r->n) {
        long err = 0;
        unsigned done = advise_ranges(r->iov + i, r->n - i, MADV_DONTNEED, &err);
        for (unsigned j = i; j < i + done; j++)
            r->bytes += r->usable[j];
        /* A range that fails (locked memory: EINVAL) is skipped; its chunks
         * count as released anyway, so they are not tried every period. */
        i += done + 1;
    }
    r->n = 0;
}

/* Queues a chunk's usable memory; the caller owns the chunk (it is in no
 * list), and must flush before publishing it. Neighbours in the arena
 * merge into one range across the guard between them (guards survive
 * MADV_DONTNEED, and a PROT_NONE guard is a separate mapping madvise
 * walks over). */
static void release_add(struct release *r, uint32_t s, unsigned cls)
{
    struct chunk_slot *e = slot_ptr(s);
    if (!(e->flags_ & FLAG_RESIDENT))
        return;
    e->flags_ &= (uint16_t)~FLAG_RESIDENT;
    char *p = chunk_addr(s, cls);
    size_t len = class_usable(cls), guard = class_guard(cls);
    if (r->n) {
        struct iovec *last = &r->iov[r->n - 1];
        char *lb = last->iov_base;
        if (lb + last->iov_len + guard == p || p + len + guard == lb) {
            if (p < lb)
                last->iov_base = p;
            last->iov_len += guard + len;
            r->usable[r->n - 1] += len;
            return;
        }
        if (r->n == RELEASE_IOV)
            release_flush(r);
    }
    r->iov[r->n] = (struct iovec){p, len};
    r->usable[r->n++] = len;
}

/* The chunks at the bottom of each LIFO that stayed there for the whole
 * period go back to the kernel and to the depot. */
static void cache_decay(struct chunk_cache *cache, uint64_t now)
{
    struct release r;
    r.n = 0;
    r.bytes = 0;
    cache->next_decay_ = now + CHUNK_DECAY_NS;
    for (unsigned c = 0; c < CHUNK_ALL_CLASSES; c++) {
        uint32_t n = cache->count[c], idle = cache->low_[c] < n ? cache->low_[c] : n;
        uint32_t keep = n - idle;
        cache->low_[c] = keep;
        if (!idle)
            continue;
        uint32_t s = cache->head[c];
        if (keep) {
            for (uint32_t i = 1; i < keep; i++)
                s = slot_ptr(s)->next_free;
            s = slot_ptr(s)->next_free;
        }
        store_relaxed(&cache->count[c], keep);
        struct chain ch = {0};
        while (idle) {
            uint32_t b = idle < BATCH(c) ? idle : BATCH(c), head = s, tail = s;
            release_add(&r, s, c);
            for (uint32_t i = 1; i < b; i++) {
                tail = slot_ptr(tail)->next_free;
                release_add(&r, tail, c);
            }
            s = slot_ptr(tail)->next_free;
            chain_add(&ch, head, tail, b);
            idle -= b;
        }
        release_flush(&r);
        spin_lock(&depot.lock);
        list_push(&depot.rel[c], &ch);
        depot.nfree[c] += ch.n;
        spin_unlock(&depot.lock);
        store_relaxed(&cache->depot_transfers, cache->depot_transfers + 1);
    }
    store_relaxed(&cache->bytes_released, cache->bytes_released + r.bytes);
}

/* Once a period: the cold lists are released and the hot ones become
 * cold. Between periods, only when the depot holds too much resident
 * memory: then the coldest goes first, the largest classes first. */
static void depot_decay(uint64_t now)
{
    if (!spin_trylock(&decay_lock))
        return; /* another scheduler is at it */
    struct release r;
    r.n = 0;
    r.bytes = 0;
    spin_lock(&depot.lock);
    bool timed = now >= depot.next_decay;
    if (timed)
        store_relaxed(&depot.next_decay, now + CHUNK_DECAY_NS);
    for (unsigned c = CHUNK_ALL_CLASSES; c-- > 0;) {
        for (;;) {
            bool over = depot.resident_bytes > CHUNK_DEPOT_RESIDENT_MAX;
            if (!depot.cold[c].count) {
                if (!over || !depot.hot[c].count)
                    break;
                depot.cold[c] = depot.hot[c];
                depot.hot[c].count = 0;
            }
            if (!timed && !over)
                break;
            struct chain ch = {0};
            uint32_t tail, n, head = list_pop_batch(&depot.cold[c], &tail, &n);
            resident_add(c, n, false);
            /* The batch is ours while it is in no list: release it
             * without the lock. */
            spin_unlock(&depot.lock);
            for (uint32_t s = head;; s = slot_ptr(s)->next_free) {
                release_add(&r, s, c);
                if (s == tail)
                    break;
            }
            release_flush(&r);
            chain_add(&ch, head, tail, n);
            spin_lock(&depot.lock);
            list_push(&depot.rel[c], &ch);
        }
        if (timed) {
            depot.cold[c] = depot.hot[c];
            depot.hot[c].count = 0;
        }
    }
    store_relaxed(&depot.released, depot.released + r.bytes);
    spin_unlock(&depot.lock);
    spin_unlock(&decay_lock);
}

void chunk_pool_decay(struct chunk_cache *cache, uint64_t now_ns)
{
    if (cache && now_ns >= cache->next_decay_)
        cache_decay(cache, now_ns);
    if (now_ns >= load_relaxed(&depot.next_decay) ||
        load_relaxed(&depot.resident_bytes) > CHUNK_DEPOT_RESIDENT_MAX)
        depot_decay(now_ns);
}

uint64_t chunk_pool_decay_deadline(const struct chunk_cache *cache)
{
    uint64_t when = UINT64_MAX;
    if (cache)
        for (unsigned c = 0; c < CHUNK_ALL_CLASSES; c++)
            if (load_relaxed(&cache->count[c])) {
                when = cache->next_decay_;
                break;
            }
    if (load_relaxed(&depot.resident_bytes)) {
        uint64_t d = load_relaxed(&depot.next_decay);
        if (d < when)
            when = d;
    }
    return when;
}

/* ---- registration, statistics, fork -------------------------------------- */

void chunk_cache_register(struct chunk_cache *cache)
{
    spin_lock(&depot.lock);
    struct chunk_cache *k = depot.caches;
    while (k && k != cache)
        k = k->next_registered_;
    if (!k) {
        cache->next_registered_ = depot.caches;
        depot.caches = cache;
    }
    spin_unlock(&depot.lock);
}

void chunk_cache_unregister(struct chunk_cache *cache)
{
    chunk_cache_flush(cache);
    spin_lock(&depot.lock);
    for (struct chunk_cache **p = &depot.caches; *p; p = &(*p)->next_registered_) {
        if (*p != cache)
            continue;
        *p = cache->next_registered_;
        for (unsigned c = 0; c < CHUNK_ALL_CLASSES; c++)
            store_relaxed(&depot.in_use[c], depot.in_use[c] + cache->in_use[c]);
        depot.transfers += cache->depot_transfers;
        store_relaxed(&depot.released, depot.released + cache->bytes_released);
        break;
    }
    spin_unlock(&depot.lock);
}

/* Chunks in use and free of classes first..first+n-1, added to in_use[0..n)
 * and nfree[0..n) (under depot.lock). No arrays of every class on the
 * stack: capri_pool_stats has a measured stack mark the plugin uses. */
static void count_classes(unsigned first, unsigned n, uint64_t *in_use, uint64_t *nfree)
{
    for (struct chunk_cache *k = depot.caches; k; k = k->next_registered_)
        for (unsigned i = 0; i < n; i++) {
            in_use[i] += load_relaxed(&k->in_use[first + i]);
            nfree[i] += load_relaxed(&k->count[first + i]);
        }
    for (unsigned i = 0; i < n; i++) {
        in_use[i] += depot.in_use[first + i];
        nfree[i] += depot.nfree[first + i];
    }
}

void chunk_pool_dense_stats_collect(struct capri_pool_dense_stats *out)
{
    memset(out, 0, sizeof *out);
    spin_lock(&depot.lock);
    count_classes(CHUNK_DENSE_FIRST, CHUNK_DENSE_CLASSES, out->in_use, out->free);
    spin_unlock(&depot.lock);
}

void chunk_pool_stats_collect(struct capri_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    spin_lock(&depot.lock);
    count_classes(0, CHUNK_CLASSES, out->chunks_in_use, out->chunks_free);
    for (struct chunk_cache *k = depot.caches; k; k = k->next_registered_) {
        out->depot_transfers += load_relaxed(&k->depot_transfers);
        out->bytes_released += load_relaxed(&k->bytes_released);
    }
    out->depot_transfers += depot.transfers;
    out->bytes_released += depot.released;
    spin_unlock(&depot.lock);
    out->bytes_reserved = load_acquire(&pool.size);
    out->bytes_mapped = (uint64_t)load_relaxed(&carve.slabs_used) << SLAB_SHIFT;
    out->guard_mode = (int)load_relaxed(&pool.guard);
}

void chunk_pool_atfork_prepare(void)
{
    spin_lock(&carve.lock);
    spin_lock(&depot.lock);
}

void chunk_pool_atfork_parent(void)
{
    spin_unlock(&depot.lock);
    spin_unlock(&carve.lock);
}

void chunk_pool_atfork_child(struct chunk_cache *survivor)
{
    /* A batch another thread was releasing at the fork is in no list: it
     * is leaked too (still counted free). */
    carve.lock = 0;
    depot.lock = 0;
    decay_lock = 0;
    depot.caches = survivor;
    if (survivor) {
        survivor->next_registered_ = NULL;
        survivor->depot_transfers = 0;
        survivor->bytes_released = 0;
    }
    memset(depot.in_use, 0, sizeof depot.in_use);
    depot.transfers = 0;
    depot.released = 0;
    /* Our pidfd names the parent. */
    if (pm_fd >= 0) {
        sys_call6(SYS_close, pm_fd, 0, 0, 0, 0, 0);
        pm_fd = PIDFD_SELF_THREAD_GROUP_;
    }
}
