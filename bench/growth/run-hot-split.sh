#!/bin/sh
# run-hot-split.sh BUILD_DIR [RUNS] [ITERATIONS] [BASE_BUILD_DIR]
# The hot split (hot_split.c): a small noinline call in a tight loop inside a
# capri thread, directly, behind the plugin's check, outlined (block and
# thunk) without a boundary, and through __morestack with every call
# crossing a chunk boundary onto the thread's cached chunk, side by side in
# one run. Builds hot_split (clang-19 -O2 against
# BUILD_DIR/lib/libcapri.a), runs it ROUNDS times (default 3, environment)
# with RUNS runs (default 11) of ITERATIONS calls per loop (default
# 10,000,000) each, then once under callgrind (100,000 calls per loop) when
# valgrind is installed, and prints a Markdown table: ns per call (medians
# of all runs) and instructions per call, and the differences against the
# direct call. With BASE_BUILD_DIR (another build's libcapri.a, e.g. of the
# previous commit) the same program is built against it too and the two
# alternate round by round: the table gets a column for each. Raw output:
# BUILD_DIR/bench/growth/hot_split*.txt and callgrind.out.*.
set -eu
build=$(cd "$1" && pwd)
runs=${2:-11}
iterations=${3:-10000000}
base=${4:-}
rounds=${ROUNDS:-3}
cg_iterations=100000
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$build/bench/growth"
mkdir -p "$out"
cc=/usr/lib/llvm-19/bin/clang
"$cc" -O2 -Wall -Wextra -I"$root/runtime/include" "$here/hot_split.c" "$build/lib/libcapri.a" \
    -lpthread -ldl -o "$out/hot_split"
tags=new
if [ -n "$base" ]; then
    base=$(cd "$base" && pwd)
    "$cc" -O2 -Wall -Wextra -I"$root/runtime/include" "$here/hot_split.c" "$base/lib/libcapri.a" \
        -lpthread -ldl -o "$out/hot_split_base"
    tags="base new"
fi
bin() { if [ "$1" = base ]; then echo "$out/hot_split_base"; else echo "$out/hot_split"; fi; }

for t in $tags; do : > "$out/hot_split_$t.txt"; done
i=0
while [ "$i" -lt "$rounds" ]; do
    i=$((i + 1))
    for t in $tags; do
        "$(bin "$t")" "$runs" "$iterations" >> "$out/hot_split_$t.txt"
    done
done
# median TAG METRIC: over every run of every round
median() {
    awk -v m="$2" '{ split($1, k, "."); if (k[1] ~ /^run/ && k[2] == m) print $2 }' "$out/hot_split_$1.txt" |
        sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# per-run differences split - direct, their median
median_diff() {
    awk '{ split($1, k, "."); if (k[1] !~ /^run/) next; if (k[2] == "direct_ns") d = $2; if (k[2] == "split_ns") print $2 - d }' \
        "$out/hot_split_$1.txt" |
        sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

have_cg=0
if command -v valgrind >/dev/null 2>&1; then
    have_cg=1
    for t in $tags; do
        rm -f "$out"/callgrind.out."$t"*
        valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.$t" \
            "$(bin "$t")" --callgrind "$cg_iterations" > /dev/null 2> "$out/callgrind.$t.log"
    done
fi
# ir TAG LOOP: instructions per call of one loop (its client-request dump)
ir() {
    for f in "$out"/callgrind.out."$1".*; do
        if grep -q "^desc: Trigger: Client Request: $2\$" "$f"; then
            awk -v n="$cg_iterations" '/^totals:/ {printf "%.1f", $2 / n}' "$f"
        fi
    done
}

n=$((rounds * runs))
echo "hot split: $rounds rounds of $runs runs, $iterations calls per loop; ns per call, medians of $n runs"
echo
head="| loop |"
rule="|---|"
for t in $tags; do
    name=$([ "$t" = base ] && echo "base" || echo "this build")
    head="$head ns ($name) |"
    rule="$rule---|"
    [ "$have_cg" = 1 ] && head="$head instructions ($name) |" && rule="$rule---|"
done
echo "$head"
echo "$rule"
row() { # row LABEL METRIC LOOP
    line="| $1 |"
    for t in $tags; do
        line="$line $(median "$t" "$2") |"
        [ "$have_cg" = 1 ] && line="$line $(ir "$t" "$3") |"
    done
    echo "$line"
}
row "direct call" direct_ns direct
row "behind the plugin's check (passes)" checked_ns checked
row "outlined: block and thunk, no boundary" thunk_ns thunk
row "through \`__morestack\`, cached chunk (every call crosses)" split_ns split
line="| split - direct (median of the per-run differences) |"
for t in $tags; do
    line="$line $(median_diff "$t") |"
    if [ "$have_cg" = 1 ]; then
        line="$line $(awk -v a="$(ir "$t" split)" -v b="$(ir "$t" direct)" 'BEGIN {printf "%.1f", a - b}') |"
    fi
done
echo "$line"
echo
d=$(median_diff new)
echo "target: split - direct <= 5 ns: $(awk -v x="$d" 'BEGIN {print (x <= 5) ? "met" : "NOT met"}') ($d ns)"
