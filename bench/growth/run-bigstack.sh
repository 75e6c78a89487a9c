#!/bin/sh
# run-bigstack.sh BUILD_DIR [RUNS]
#
# Capriccio's "bigstack" test, capri threads against pthreads in one run:
# n threads each repeatedly call a function with a 1 MiB stack buffer
# (touched: one word per page, checked after a yield inside the call) and
# block outside it, at most k inside at once (a semaphore of k permits
# around the call). bigstack.c (capri-cc -O2, libcapri linked) and
# bigstack_pthread.c (clang-19 -O2, plain pthreads with 1 MiB + 64 KiB
# stacks) measure calls per second, VmRSS and VmPTE sampled while running,
# and for capri the pool's chunks in use per class, also once every thread
# has blocked outside the call. Their header comments say what each metric
# is and what they check.
#
# Configurations, every one run RUNS times (default 3), interleaved (capri
# then pthreads per configuration, configurations in turn), medians:
#   main:   n in NS (default "1000 10000 100000") x k in KS ("1 4 16"),
#           capri on a first chunk of STACK bytes (default 4096) with its
#           default schedulers (one per CPU), pthreads, and capri again on
#           one scheduler (no handoffs between kernel threads: with k = 1
#           at most one thread is runnable, and with two schedulers every
#           other permit wakes a thread on the other one);
#   first:  capri with a first chunk of ALT_STACK bytes (default 32768:
#           room for the 16 KiB the plugin charges a call into libcapri
#           that has no stack mark, such as capri_sem_wait), k = 4;
#   cache:  capri with a 40 KiB buffer instead of 1 MiB (a 64 KiB chunk,
#           a class the thread chunk cache keeps) on ALT_STACK first
#           chunks, n = 10000, k = 4: the chunks threads hold once all of
#           them have blocked outside the call.
# pthreads at a given n run only when n x (touched buffer + 64 KiB) fits in
# PTHREAD_MEM_PCT percent (default 60) of MemAvailable; otherwise the table
# says "not started" with the figures (100,000 threads would need about
# 104 GiB resident). Environment: RUNS can also be given as the second
# argument; WINDOW (default 2) is each run's measured window in seconds.
#
# Prints Markdown tables (bigstack_report.py). Raw values:
# BUILD_DIR/bench/growth/bigstack-results.txt; a failing run's stderr:
# BUILD_DIR/bench/growth/bigstack-*.err.
set -eu
build=$(cd "$1" && pwd)
runs=${2:-${RUNS:-3}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/growth"
mkdir -p "$out"
ns=${NS:-1000 10000 100000}
ks=${KS:-1 4 16}
stack=${STACK:-4096}
alt_stack=${ALT_STACK:-32768}
window=${WINDOW:-2}
mem_pct=${PTHREAD_MEM_PCT:-60}
mib=1048576
cache_buf=40960

clang=/usr/lib/llvm-19/bin/clang
capri_cc="$build/bin/capri-cc"
"$capri_cc" -O2 -Wall -Wextra "$here/bigstack.c" -o "$out/bigstack"
"$capri_cc" -O2 -Wall -Wextra -DBIGSTACK_BUF=$cache_buf "$here/bigstack.c" -o "$out/bigstack_40k"
"$clang" -O2 -Wall -Wextra "$here/bigstack_pthread.c" -lpthread -o "$out/bigstack_pthread"

results="$out/bigstack-results.txt"
: > "$results"
rm -f "$out"/bigstack-*.err
srcdir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
commit=$(git -C "${srcdir:-$root}" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")
if [ -n "$(git -C "${srcdir:-$root}" status --porcelain -- passes runtime 2>/dev/null)" ]; then
    commit="$commit with uncommitted changes in passes/ or runtime/"
fi
{
    echo "meta commit $commit"
    echo "meta runs $runs"
    echo "meta seconds $window"
    echo "meta cpus $(nproc)"
    echo "meta mem_total_gib $(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)"
    echo "meta pid_max $(cat /proc/sys/kernel/pid_max)"
    echo "meta mem_pct $mem_pct"
} >> "$results"

# one IMPL STACK BUF N K PROGRAM ARGS...: one run, its lines tagged with the
# configuration; a failure is recorded (stderr kept), not fatal.
one() {
    tag="$1 $2 $3 $4 $5"
    prog=$6
    shift 6
    err="$out/bigstack-$(echo "$tag" | tr ' ' '-').err"
    if "$out/$prog" "$@" > "$out/bigstack.tmp" 2> "$err.tmp"; then
        sed "s/^/$tag /" "$out/bigstack.tmp" >> "$results"
        if [ -s "$err.tmp" ]; then mv "$err.tmp" "$err"; else rm -f "$err.tmp"; fi
    else
        echo "$tag failed 1" >> "$results"
        mv "$err.tmp" "$err"
        echo "run-bigstack.sh: $prog $* failed:" >&2
        cat "$err" >&2
    fi
    rm -f "$out/bigstack.tmp"
}

i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    for n in $ns; do
        for k in $ks; do
            echo "run $i of $runs: n=$n k=$k" >&2
            one capri "$stack" $mib "$n" "$k" bigstack n="$n" k="$k" stack="$stack" seconds="$window"
            one pthread default $mib "$n" "$k" bigstack_pthread n="$n" k="$k" seconds="$window" mem_pct="$mem_pct"
            one capri-1 "$stack" $mib "$n" "$k" bigstack n="$n" k="$k" stack="$stack" seconds="$window" scheds=1
        done
        echo "run $i of $runs: n=$n k=4, first chunk $alt_stack" >&2
        one capri "$alt_stack" $mib "$n" 4 bigstack n="$n" k=4 stack="$alt_stack" seconds="$window"
    done
    echo "run $i of $runs: 40 KiB buffer" >&2
    one capri "$alt_stack" $cache_buf 10000 4 bigstack_40k n=10000 k=4 stack="$alt_stack" seconds="$window"
done

python3 "$here/bigstack_report.py" "$results" "$stack" "$alt_stack" "$cache_buf"
