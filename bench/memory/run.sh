#!/bin/sh
# run.sh BUILD_DIR
# Resident memory per blocked thread (make bench-memory): memory_capri.c,
# built with BUILD_DIR's capri-cc, for every mode, shape and thread count
# below, one process at a time, and bench/runtime/idle_pthread.c as the
# peer. Prints the results as a Markdown table (bytes per thread).
#
# Environment:
#   NS          thread counts (default "100000 1000000")
#   BIG_N       the dense mode's big run (default 10000000; 0 skips it):
#               the touched shape with BIG_STACK-byte first chunks
#   BIG_STACK   default 1472 (the smallest first chunk that runs the touched
#               shape; also run at every count in NS)
#   PTHREAD_N   pthreads with 16 KiB stacks (default 20000: the machine's
#               pid_max of 32,768 bounds threads per process)
#   PTHREAD_NS  the pthread counts (default PTHREAD_N), one run each
#   PTH_NS      GNU Pth threads with 16 KiB stacks (default "1000 2000": Pth
#               scans every waiting thread on each scheduler pass, so N
#               blocked threads take N squared to spawn); runs when
#               libpth-dev is installed; "" skips
#   ST_NS       State Threads threads with 16 KiB stacks (default "10000
#               30000": one mapping per stack, under vm.max_map_count);
#               runs when libst-dev is installed; "" skips
#   GO_NS       goroutines (default "100000 1000000"); runs when go is
#               installed; "" skips
# The peers run bench/runtime's idle_pthread, idle_pth, idle_st and idle_go.
#   WAIT_N      threads for the runs blocked in capri_chan_recv and in
#               capri_cond_timedwait instead of capri_sem_wait (default
#               100000; 0 skips them)
# A run whose estimated memory exceeds 80% of MemAvailable is skipped with
# a note, rather than woken by the OOM killer (no swap here).
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/memory"
mkdir -p "$out"
ns=${NS:-100000 1000000}
big_n=${BIG_N:-10000000}
big_stack=${BIG_STACK:-1472}
pthread_n=${PTHREAD_N:-20000}
wait_n=${WAIT_N:-100000}
pthread_ns=${PTHREAD_NS:-$pthread_n}
pth_ns=${PTH_NS-1000 2000}
st_ns=${ST_NS-10000 30000}
go_ns=${GO_NS-100000 1000000}

"$build/bin/capri-cc" -O2 -g -Wall -Wextra -Werror "$here/memory_capri.c" -o "$out/memory_capri"
/usr/lib/llvm-19/bin/clang -O2 -Wall -Wextra "$root/bench/runtime/idle_pthread.c" -lpthread -o "$out/idle_pthread"
if [ -f /usr/include/pth.h ]; then
    /usr/lib/llvm-19/bin/clang -O2 -Wall -Wextra -Werror "$root/bench/runtime/idle_pth.c" -lpth -o "$out/idle_pth"
else
    pth_ns=
fi
if [ -f /usr/include/st.h ]; then
    /usr/lib/llvm-19/bin/clang -O2 -Wall -Wextra -Werror "$root/bench/runtime/idle_st.c" -lst -o "$out/idle_st"
else
    st_ns=
fi
if command -v go >/dev/null 2>&1; then
    GOCACHE="$out/gocache" go build -o "$out/idle_go" "$root/bench/runtime/idle_go.go"
else
    go_ns=
fi

results="$out/results.txt"
: > "$results"
avail_kib() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
# run LABEL N EST_BYTES_PER_THREAD PROGRAM ARGS...
run() {
    label=$1 n=$2 est=$3
    shift 3
    need=$((n * est / 1024))
    have=$(avail_kib)
    if [ $((need * 10)) -gt $((have * 8)) ]; then
        echo "$label skipped: needs about $((need / 1024)) MiB, MemAvailable $((have / 1024)) MiB" | tee -a "$results" >&2
        return
    fi
    echo "$label" >&2
    /usr/bin/time -f "$label wall_s %e max_rss_kib %M" "$@" >> "$results" 2>> "$results.err" ||
        echo "$label failed (see $results.err)" | tee -a "$results" >&2
    grep "^$label wall_s" "$results.err" | tail -1 >> "$results" || true
}
for n in $ns; do
    run "guard live $n" "$n" 4600 "$out/memory_capri" "$n" guard live
    run "guard touched $n" "$n" 4600 "$out/memory_capri" "$n" guard touched
    run "dense live $n" "$n" 6400 "$out/memory_capri" "$n" dense live
    run "dense live 2752 $n" "$n" 3200 "$out/memory_capri" "$n" dense live 2752
    run "dense touched $n" "$n" 2300 "$out/memory_capri" "$n" dense touched
    run "dense touched $big_stack $n" "$n" 2000 "$out/memory_capri" "$n" dense touched "$big_stack"
done
if [ "$wait_n" -gt 0 ]; then
    for w in chan timedwait; do
        run "guard live $w $wait_n" "$wait_n" 4600 "$out/memory_capri" "$wait_n" guard live 0 "$w"
        run "guard touched $w $wait_n" "$wait_n" 4600 "$out/memory_capri" "$wait_n" guard touched 0 "$w"
        run "dense touched $w $wait_n" "$wait_n" 2300 "$out/memory_capri" "$wait_n" dense touched 0 "$w"
    done
fi
if [ "$big_n" -gt 0 ]; then
    run "dense touched $big_stack $big_n" "$big_n" 1700 "$out/memory_capri" "$big_n" dense touched "$big_stack"
fi
for n in $pthread_ns; do
    run "pthread $n" "$n" 40000 "$out/idle_pthread" "$n" 16384
done
for n in $pth_ns; do
    run "pth $n" "$n" 20000 "$out/idle_pth" "$n" 16384
done
for n in $st_ns; do
    run "st $n" "$n" 20000 "$out/idle_st" "$n" 16384
done
for n in $go_ns; do
    run "go $n" "$n" 16000 "$out/idle_go" "$n"
done
python3 "$here/report.py" "$results"
