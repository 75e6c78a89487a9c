#!/bin/sh
# run.sh BUILD_DIR [RUNS]
# The raw context switch, side by side in one run: capri_arch_switch against
# Boost.Context's fcontext (jump_fcontext), two contexts alternating on one
# kernel thread, 10 million round trips each, RUNS interleaved runs (default
# 7). Prints the medians and their ratio as a Markdown table.
set -eu
build=$(cd "$1" && pwd)
runs=${2:-7}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/switch"
mkdir -p "$out"
if [ ! -f /usr/include/boost/context/detail/fcontext.hpp ]; then
    "$root/scripts/install-deps.sh" --bench
fi
cc=/usr/lib/llvm-19/bin/clang
"$cc" -O2 -I"$root/runtime/src" "$here/switch_capri.c" "$build/lib/libcapri.a" -o "$out/switch_capri"
"$cc"++ -O2 "$here/switch_fcontext.cpp" -lboost_context -o "$out/switch_fcontext"

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
: > "$out/capri.txt"
: > "$out/fcontext.txt"
i=0
while [ $i -lt "$runs" ]; do
    "$out/switch_capri" >> "$out/capri.txt"
    "$out/switch_fcontext" >> "$out/fcontext.txt"
    i=$((i + 1))
done
c=$(median < "$out/capri.txt")
f=$(median < "$out/fcontext.txt")
echo "| switch (two contexts alternating) | ns per switch, median of $runs |"
echo "|---|---|"
echo "| capri_arch_switch | $c |"
echo "| Boost.Context fcontext | $f |"
echo "| ratio capri / fcontext | $(awk -v c="$c" -v f="$f" 'BEGIN {printf "%.2f", c / f}') |"
