#!/bin/sh
# run.sh BUILD_DIR
#
# What loop yield points cost (docs/benchmarks.md, "Loop yield points"):
# four compute benchmarks, each built twice with BUILD_DIR's capri-cc -O2,
# with loop yield points (the default) and without them
# (-mllvm -capri-loop-yield-points=0), so the difference is the loop checks
# alone (both builds have the checkpoints and libcapri):
#
#   fib          ../growth/fib.c: recursion, no loops (the control)
#   binary_trees ../growth/binary_trees.c: recursion and malloc, few loops
#   matmul       naive i-k-j matrix multiply (the inner loop vectorised)
#   array_sum    a 512 KiB array summed again and again: the tightest loop
#
# Each program runs RUNS times (default 7), interleaved and in rotating
# order, for wall time (median); then once under valgrind --tool=callgrind
# with a smaller input for its instruction count, minus the count of the
# same program doing no work (input 0), so that start-up is not counted.
# The outputs of the two builds must agree. Prints a Markdown table.
#
# Environment: RUNS; inputs FIB_N (40) FIB_N_CG (27), BT_DEPTH (17)
# BT_DEPTH_CG (12), MM_N (400) MM_N_CG (120), SUM_R (20000) SUM_R_CG (200).
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out="$build/bench/loops"
mkdir -p "$out"
runs=${RUNS:-7}
capri_cc="$build/bin/capri-cc"
timeit="$here/../growth/timeit.py"

# name source input input_cg
set -- \
    "fib $here/../growth/fib.c ${FIB_N:-40} ${FIB_N_CG:-27}" \
    "binary_trees $here/../growth/binary_trees.c ${BT_DEPTH:-17} ${BT_DEPTH_CG:-12}" \
    "matmul $here/matmul.c ${MM_N:-400} ${MM_N_CG:-120}" \
    "array_sum $here/array_sum.c ${SUM_R:-20000} ${SUM_R_CG:-200}"

for w in "$@"; do
    set -- $w
    "$capri_cc" -O2 "$2" -o "$out/$1.on"
    "$capri_cc" -O2 -mllvm -capri-loop-yield-points=0 "$2" -o "$out/$1.off"
done

results="$out/results.txt"
: > "$results"
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "commit $commit runs $runs" >> "$results"
for w in "fib $here/../growth/fib.c ${FIB_N:-40} ${FIB_N_CG:-27}" \
    "binary_trees $here/../growth/binary_trees.c ${BT_DEPTH:-17} ${BT_DEPTH_CG:-12}" \
    "matmul $here/matmul.c ${MM_N:-400} ${MM_N_CG:-120}" \
    "array_sum $here/array_sum.c ${SUM_R:-20000} ${SUM_R_CG:-200}"; do
    set -- $w
    name=$1 input=$3 input_cg=$4
    checks_on=$(objdump -d --no-show-raw-insn "$out/$name.on" | grep -c 'testb.*\$0x40,%fs:0x77' || true)
    echo "checks $name $checks_on" >> "$results"
    i=0
    while [ $i -lt "$runs" ]; do
        # Rotate which build goes first.
        if [ $((i % 2)) -eq 0 ]; then order="on off"; else order="off on"; fi
        for v in $order; do
            t=$(python3 "$timeit" "$out/$name.$v.out" "$out/$name.$v" "$input")
            echo "wall $name $v $t" >> "$results"
        done
        cmp -s "$out/$name.on.out" "$out/$name.off.out" || { echo "outputs differ: $name" >&2; exit 1; }
        i=$((i + 1))
    done
    for v in on off; do
        for n in "$input_cg" 0; do
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$out/$name.$v" "$n" \
                > /dev/null 2> "$out/$name.$v.cg"
            ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$name.$v.cg")
            echo "ir $name $v $n $ir" >> "$results"
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
wall, ir, checks, meta = {}, {}, {}, ""
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "commit":
        meta = line.strip()
    elif f[0] == "checks":
        checks[f[1]] = int(f[2])
    elif f[0] == "wall":
        wall.setdefault((f[1], f[2]), []).append(int(f[3]))
    elif f[0] == "ir":
        ir[(f[1], f[2], f[3])] = int(f[4])
print(meta)
print()
print("| benchmark | loop checks | instructions, without | with | added | wall median, without (s) | with (s) | ratio |")
print("|---|---|---|---|---|---|---|---|")
for name in ["fib", "binary_trees", "matmul", "array_sum"]:
    def work(v):
        k = [key for key in ir if key[0] == name and key[1] == v]
        cg = [key for key in k if key[2] != "0"][0]
        return ir[cg] - ir[(name, v, "0")]
    off, on = work("off"), work("on")
    woff = statistics.median(wall[(name, "off")]) / 1e6
    won = statistics.median(wall[(name, "on")]) / 1e6
    print(f"| {name} | {checks[name]} | {off:,} | {on:,} | {on - off:+,} ({(on - off) / off * 100:+.2f}%) "
          f"| {woff:.3f} | {won:.3f} | {won / woff:.3f} |")
PY
