# Sourced by run_core.sh in a gdb stopped in gdb_capri_test: marks what the
# chunk pool has reserved but not handed out MADV_DONTDUMP, so that gcore
# writes megabytes, not the whole 256 GiB arena. The unused slabs and slot
# table pages, and the uncarved tail of the slab each class is carving
# (chunk_pool.c: 64 MiB slabs, 8192 slots of 24 bytes per slab).
import gdb

MADV_DONTDUMP = 16
pool = gdb.parse_and_eval("'chunk_pool.c'::pool")
carve = gdb.parse_and_eval("'chunk_pool.c'::carve")
base = int(pool["base"])
used = int(carve["slabs_used"])
ranges = [(base + (used << 26), int(pool["size"]) - (used << 26)),
          (int(pool["slots"]) + used * 8192 * 24, (int(pool["nslabs"]) - used) * 8192 * 24)]
for c in range(carve["cur"].type.range()[1] + 1):
    slab = int(carve["cur"][c])
    if slab >= used:
        continue
    start = base + (slab << 26) + int(carve["next"][c]) * ((4096 << c) + 4096)
    ranges.append((start, base + ((slab + 1) << 26) - start))
for start, length in ranges:
    if length > 0:
        r = int(gdb.parse_and_eval("(int)madvise((void *)%d, %dL, %d)" % (start, length, MADV_DONTDUMP)))
        if r != 0:
            print("dontdump.py: madvise(%#x, %d) failed" % (start, length))
