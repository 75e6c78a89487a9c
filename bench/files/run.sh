#!/bin/sh
# run.sh BUILD_DIR [RUNS]
# Regular-file reads on capri threads against plain pthreads
# (docs/benchmarks.md, "Regular-file reads"): 64 threads doing 4 KiB random
# preads of an uncached 256 MiB file, capri on one scheduler (io_uring,
# then the pool with CAPRI_IO_URING=0) against 64 pthreads; then the cost
# of a cached pread (RWF_NOWAIT answered by the page cache) on a capri
# thread against libc's on a pthread. RUNS rounds, interleaved (default
# 5); prints each figure's median. Last, once, why file writes stay
# blocking (ring_write.c: a buffered write by pwrite and by io_uring).
# The file is made once under bench/work/.
# Environment: THREADS (64), READS (16384), FILE_MB (256).
set -eu
build=$(cd "$1" && pwd)
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
threads=${THREADS:-64}
reads=${READS:-16384}
mb=${FILE_MB:-256}
work="$root/bench/work/files"
mkdir -p "$work"
bin="$work/random_read"
/usr/lib/llvm-19/bin/clang -O2 -Wall -Wextra -I"$root/runtime/include" "$here/random_read.c" \
    "$build/lib/libcapri.a" -lpthread -ldl -o "$bin"
/usr/lib/llvm-19/bin/clang -O2 -Wall -Wextra "$here/ring_write.c" -o "$work/ring_write"
data="$work/data-$mb"
if [ ! -f "$data" ]; then
    head -c "$((mb * 1024 * 1024))" /dev/urandom > "$data.tmp"
    sync "$data.tmp"
    mv "$data.tmp" "$data"
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: > "$work/pthread.txt"; : > "$work/capri.txt"; : > "$work/pool.txt"
: > "$work/cached-pthread.txt"; : > "$work/cached-capri.txt"
i=0
while [ "$i" -lt "$runs" ]; do
    "$bin" pthread "$data" "$threads" "$reads" | awk '{ print $1 }' >> "$work/pthread.txt"
    "$bin" capri "$data" "$threads" "$reads" | awk '{ print $1 }' >> "$work/capri.txt"
    CAPRI_IO_URING=0 "$bin" capri "$data" "$threads" "$reads" | awk '{ print $1 }' >> "$work/pool.txt"
    "$bin" cached-pthread "$data" >> "$work/cached-pthread.txt"
    "$bin" cached-capri "$data" >> "$work/cached-capri.txt"
    i=$((i + 1))
done
p=$(median < "$work/pthread.txt")
c=$(median < "$work/capri.txt")
q=$(median < "$work/pool.txt")
echo "uncached 4 KiB random preads, $threads threads, $reads reads, median of $runs:"
echo "| | reads/s | against pthreads |"
echo "|---|---|---|"
echo "| $threads pthreads (libc pread) | $p | 1.00 |"
echo "| $threads capri threads, 1 scheduler, io_uring | $c | $(echo "$c $p" | awk '{ printf "%.2f", $1 / $2 }') |"
echo "| $threads capri threads, 1 scheduler, pool (CAPRI_IO_URING=0) | $q | $(echo "$q $p" | awk '{ printf "%.2f", $1 / $2 }') |"
echo "cached pread, ns per call, median of $runs:"
echo "| | 4 KiB | 64 bytes |"
echo "|---|---|---|"
echo "| pthread (libc pread) | $(awk '{ print $1 }' "$work/cached-pthread.txt" | median) | $(awk '{ print $7 }' "$work/cached-pthread.txt" | median) |"
echo "| capri thread (preadv2 RWF_NOWAIT) | $(awk '{ print $1 }' "$work/cached-capri.txt" | median) | $(awk '{ print $7 }' "$work/cached-capri.txt" | median) |"
echo "buffered writes (once):"
"$work/ring_write" "$work/ring_write.tmp"
