#!/bin/sh
# run.sh BUILD_DIR [RUNS]
# The runtime's benchmarks side by side with their peers in one run (issue
# 3's targets): yield among 100 threads, spawn+join, uncontended mutex,
# channel ping-pong, and resident memory of a million idle threads. Builds
# every program (clang-19 -O2, BUILD_DIR/lib/libcapri.a), runs the whole set
# RUNS times interleaved (default 5), and prints medians and ratios as
# Markdown tables. README in this directory says what each program measures.
#
# The idle-memory programs measure page counts, which do not vary from run to
# run, and take seconds each: they run in the first IDLE_RUNS runs only
# (default 1). idle_capri runs once per stack hint in IDLE_STACKS (default
# "4096 8192 16384") as built (lazy binding), and once more at 4096 built
# with -Wl,-z,now (tag 4096_now: no lazy PLT resolution on the thread's
# stack); a hint that fails (a stack overflow) is reported as such, not
# fatal. Environment: IDLE_N (default 1000000) threads for idle_capri,
# IDLE_PTHREAD_N (default 10000) for idle_pthread, IDLE_PTH_N (default 2000:
# Pth's scheduler scans every waiting thread on each pass, so spawning N
# blocked threads costs N squared) for idle_pth and IDLE_ST_N (default 10000)
# for idle_st. The Go peer runs when `go` is installed; GNU Pth (libpth-dev)
# and State Threads (libst-dev) run when their headers are.
set -eu
build=$(cd "$1" && pwd)
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/runtime"
mkdir -p "$out"
idle_n=${IDLE_N:-1000000}
idle_stacks=${IDLE_STACKS:-4096 8192 16384}
idle_pthread_n=${IDLE_PTHREAD_N:-10000}
idle_runs=${IDLE_RUNS:-1}
idle_pth_n=${IDLE_PTH_N:-2000}
idle_st_n=${IDLE_ST_N:-10000}

if [ ! -f /usr/include/boost/context/detail/fcontext.hpp ]; then
    "$root/scripts/install-deps.sh" --bench
fi
cc=/usr/lib/llvm-19/bin/clang
cflags="-O2 -Wall -Wextra -I$root/runtime/include"
for p in yield_capri spawn_capri mutex chan_capri idle_capri; do
    "$cc" $cflags "$here/$p.c" "$build/lib/libcapri.a" -lpthread -ldl -o "$out/$p"
done
"$cc" $cflags "$here/idle_capri.c" "$build/lib/libcapri.a" -lpthread -ldl -Wl,-z,now -o "$out/idle_capri_now"
for p in yield_pthread spawn_pthread chan_pthread idle_pthread; do
    "$cc" $cflags "$here/$p.c" -lpthread -o "$out/$p"
done
# GNU Pth and State Threads: every program when the library is installed.
have_pth=0
if [ -f /usr/include/pth.h ]; then
    for p in yield_pth spawn_pth chan_pth idle_pth; do
        "$cc" $cflags -Werror "$here/$p.c" -lpth -o "$out/$p"
    done
    have_pth=1
fi
have_st=0
if [ -f /usr/include/st.h ]; then
    for p in yield_st spawn_st chan_st idle_st; do
        "$cc" $cflags -Werror "$here/$p.c" -lst -o "$out/$p"
    done
    have_st=1
fi
for p in yield_fcontext spawn_fcontext; do
    "$cc"++ $cflags "$here/$p.cpp" -lboost_context -o "$out/$p"
done
have_go=0
if command -v go >/dev/null 2>&1; then
    GOCACHE="$out/gocache" go build -o "$out/chan_go" "$here/chan_go.go" && have_go=1
fi

results="$out/results.txt"
: > "$results"
rm -f "$out"/idle_*.err
run() { "$out/$@" >> "$results"; }
# idle TAG PROGRAM ARGS...: a failure is recorded (its stderr kept), not fatal.
idle() {
    tag=$1
    shift
    if ! "$out/$@" >> "$results" 2> "$out/idle_$tag.err.tmp"; then
        echo "idle.capri_${tag}_failed 1" >> "$results"
        mv "$out/idle_$tag.err.tmp" "$out/idle_$tag.err"
    else
        rm -f "$out/idle_$tag.err.tmp"
    fi
}
i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    echo "run $i of $runs" >&2
    run yield_capri
    run yield_fcontext
    run yield_pthread
    run spawn_capri 1
    run spawn_fcontext
    run spawn_capri 0
    run spawn_pthread
    run mutex
    run chan_capri 1
    run chan_pthread cond 1 20000
    run chan_pthread pipe 1 20000
    run chan_capri 2 20000
    run chan_pthread cond 2 20000
    run chan_pthread pipe 2 20000
    if [ "$have_pth" = 1 ]; then
        run yield_pth 2000
        run spawn_pth
        run chan_pth cond 20000
        run chan_pth pipe 20000
    fi
    if [ "$have_st" = 1 ]; then
        run yield_st
        run spawn_st
        run chan_st cond
        run chan_st pipe 100000
    fi
    if [ "$have_go" = 1 ]; then
        GOMAXPROCS=1 "$out/chan_go" >> "$results"
        GOMAXPROCS=2 "$out/chan_go" 200000 >> "$results"
    fi
    if [ "$i" -le "$idle_runs" ]; then
        for s in $idle_stacks; do
            idle "$s" idle_capri "$idle_n" "$s"
        done
        idle 4096_now idle_capri_now "$idle_n" 4096 -1 4096_now
        run idle_pthread "$idle_pthread_n" 16384
        if [ "$have_pth" = 1 ]; then run idle_pth "$idle_pth_n" 16384; fi
        if [ "$have_st" = 1 ]; then run idle_st "$idle_st_n" 16384; fi
    fi
done

python3 "$here/report.py" "$results" "$runs" "$idle_n" "$idle_pthread_n" "$idle_stacks 4096_now" "$out" "$idle_pth_n" "$idle_st_n"
