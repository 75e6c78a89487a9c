#!/bin/sh
# The start-up bounds pass on a generated program of 50,000 functions
# (bench/bounds/gen.py): build it with capri-cc, then run it RUNS times with
# CAPRI_BOUNDS_STATS=1 and report the pass's own time (what libcapri
# measures from its constructor's entry to its exit: the median of each
# phase, and the median and range of the whole), and the whole process's
# wall time with the rewrite and with CAPRI_BOUNDS=estimates, alternating.
#
#   bench/bounds/run.sh BUILD_DIR [FUNCTIONS] [FILES]
#
# Environment: RUNS (default 21), OPT (default -O2), WORK (default a
# directory under /tmp, kept).
set -eu
build=${1:?usage: run.sh BUILD_DIR [FUNCTIONS] [FILES]}
functions=${2:-50000}
files=${3:-100}
runs=${RUNS:-21}
opt=${OPT:--O2}
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-/tmp/capri-bench-bounds-$functions}
cc="$build/bin/capri-cc"

mkdir -p "$work"
# The program is generated (and compiled) again only when asked for another size.
if [ "$(cat "$work/params" 2>/dev/null)" != "$functions $files" ]; then
    rm -rf "$work/src" "$work"/*.o
    python3 "$here/gen.py" "$work/src" --functions "$functions" --files "$files"
    echo "$functions $files" > "$work/params"
fi
jobs=$(nproc 2>/dev/null || echo 2)
# Compile in parallel, one object per file.
ls "$work/src"/*.c | xargs -P "$jobs" -I{} sh -c \
    'o="$2/$(basename "$1" .c).o"; [ "$o" -nt "$1" ] || "$3" '"$opt"' -w -c "$1" -o "$o"' \
    _ {} "$work" "$cc"
objs=$(ls "$work"/*.o)
# shellcheck disable=SC2086 # a list of objects
"$cc" $objs -o "$work/prog"
python3 - "$work/prog" "$runs" <<'PY'
import os
import re
import statistics
import subprocess
import sys
import time

prog, runs = sys.argv[1], int(sys.argv[2])
line = re.compile(r"capri: bounds: (.*); files (\d+) us, records (\d+) us, names (\d+) us, "
                  r"walk (\d+) us, slots (\d+) us; (\d+) us$")
PHASES = ["files", "records", "names", "walk", "slots", "total"]


def run(env_extra):
    env = dict(os.environ, **env_extra)
    t0 = time.perf_counter()
    p = subprocess.run([prog], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return wall, [m for m in map(line.match, p.stderr.splitlines()) if m]


phases = {k: [] for k in PHASES}
walls, est_walls = [], []
summary = ""
for _ in range(runs):
    wall, passes = run({"CAPRI_BOUNDS_STATS": "1"})
    walls.append(wall)
    for k, name in enumerate(PHASES):
        phases[name].append(sum(int(m.group(k + 2)) for m in passes))
    summary = "; ".join(m.group(1) for m in passes)
    wall, _ = run({"CAPRI_BOUNDS": "estimates"})
    est_walls.append(wall)
print(f"program: {prog}")
print(f"pass: {summary}")
print(f"start-up bounds pass over {runs} runs (us): " + ", ".join(
    f"{name} {statistics.median(v):.0f}" for name, v in phases.items() if name != "total"))
t = phases["total"]
print(f"  whole pass: median {statistics.median(t):.0f} us, min {min(t)} us, max {max(t)} us")
print(f"process wall time: median {statistics.median(walls) * 1e3:.2f} ms with the rewrite, "
      f"{statistics.median(est_walls) * 1e3:.2f} ms with CAPRI_BOUNDS=estimates "
      f"(min {min(walls) * 1e3:.2f} and {min(est_walls) * 1e3:.2f})")
PY
