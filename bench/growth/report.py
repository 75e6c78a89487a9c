#!/usr/bin/env python3
"""report.py RESULTS: run.sh's tables (Markdown) of the cost of stack checks.

RESULTS holds lines written by run.sh:
  meta KEY VALUE...             runs, cg_runs, commit, input W WALL CG
  checks W VARIANT N            instructions reading %fs:0x70 in W's code
  time W VARIANT MICROSECONDS   one timed run: wall time
  cpu W VARIANT MICROSECONDS    the same run's CPU time (user + system)
  ir W VARIANT N                callgrind's total, the smaller input
  ir0 W VARIANT N               callgrind's total, the same program doing no work
Every figure is a median over the repeated runs; instruction counts are
ir - ir0 (the work, without start-up)."""
import math
import statistics
import sys
from collections import defaultdict

WORKLOADS = [("fib", "fib"), ("bt", "binary trees"), ("lua", "Lua 5.4, bench.lua")]
INPUT_NAME = {"fib": "N", "bt": "depth", "lua": "scale"}

meta = {}
inputs = {}
checks = {}
vals = defaultdict(list)
skipped = {}
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if f[0] == "meta":
        if f[1] == "input":
            inputs[f[2]] = (f[3], f[4])
        else:
            meta[f[1]] = " ".join(f[2:])
    elif f[0] == "skip":
        skipped[(f[1], f[2])] = " ".join(f[3:])
    elif f[0] == "checks":
        checks[(f[1], f[2])] = int(f[3])
    elif f[0] in ("time", "cpu", "ir", "ir0"):
        vals[(f[0], f[1], f[2])].append(float(f[3]))


def med(kind, w, v):
    x = vals.get((kind, w, v))
    return statistics.median(x) if x else None


def secs(w, v, kind="time"):
    m = med(kind, w, v)
    return None if m is None else m / 1e6


def work(w, v):
    a, b = med("ir", w, v), med("ir0", w, v)
    return None if a is None or b is None else a - b


def spread(w, kind="time"):
    """Largest max/min - 1 among the variants' times, in percent."""
    s = [max(x) / min(x) - 1 for (k, ww, _), x in vals.items() if k == kind and ww == w and min(x) > 0]
    return 100 * max(s) if s else None


def ratio(a, b):
    return a / b if a is not None and b else None


def geomean(xs):
    xs = [x for x in xs if x is not None]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fr(x, nd=3):
    return "n/a" if x is None else f"{x:.{nd}f}"


def fi(x):
    return "n/a" if x is None else f"{x:,.0f}"


def added(w, v, base):
    a, b = work(w, v), work(w, base)
    if a is None or b is None:
        return None, None
    return a - b, (a - b) / b * 100 if b else None


def fa(pair):
    n, pct = pair
    if n is None:
        return "n/a"
    return f"{n:+,.0f} ({pct:+.2f}%)"


def yes(c):
    return "n/a" if c is None else ("**yes**" if c else "**no**")


BUILDS = [  # variant, label, the variant it is compared with
    ("base", "clang -O2 (baseline)", None),
    ("capri", "capri-cc -O2", "base"),
    ("csplit", "clang -O2 -fsplit-stack, gold", "base"),
    ("gcc", "gcc -O2, gold (gcc split-stack's baseline)", None),
    ("split", "gcc -O2 -fsplit-stack, gold", "gcc"),
]
BASE_LABEL = {"base": "clang", "gcc": "gcc"}

runs, cg_runs = meta.get("runs", "?"), meta.get("cg_runs", "?")
capri_checks = sum(checks.get((w, "capri"), 0) for w, _ in WORKLOADS)


def inp(w, which):
    i = inputs.get(w)
    return "?" if i is None else i[0 if which == "wall" else 1]


print(f"Wall time: median of {runs} interleaved runs, seconds; ratio to the same compiler without checks "
      f"(inputs: fib {inp('fib', 'wall')}, binary trees depth {inp('bt', 'wall')}, Lua scale {inp('lua', 'wall')}).")
print()
print("| build | fib | ratio | binary trees | ratio | Lua | ratio | geo. mean, trees + Lua | geo. mean, all |")
print("|---|---|---|---|---|---|---|---|---|")
for v, label, b in BUILDS:
    cells = []
    rs = {}
    for w, _ in WORKLOADS:
        rs[w] = ratio(secs(w, v), secs(w, b)) if b else None
        cells += [fr(secs(w, v)), fr(rs[w]) if b else ""]
    g2 = fr(geomean([rs["bt"], rs["lua"]])) if b else ""
    g3 = fr(geomean(list(rs.values()))) if b else ""
    print(f"| {label} | {' | '.join(cells)} | {g2} | {g3} |")
print()
for kind, what in (("time", "wall"), ("cpu", "CPU (user + system)")):
    sp = ", ".join(f"{name} {spread(w, kind):.0f}%" for w, name in WORKLOADS if spread(w, kind) is not None)
    print(f"Run-to-run spread of {what} time (slowest / fastest run - 1, the largest among the builds): {sp}.")
print()
print("The same ratios from the fastest run of each build (noise only ever adds time) and from the median CPU "
      "time of the same runs:")
print()
print("| build | fastest wall: fib | trees | Lua | geo. mean, trees + Lua | median CPU: fib | trees | Lua | "
      "geo. mean, trees + Lua |")
print("|---|---|---|---|---|---|---|---|---|")


def fastest(w, v):
    x = vals.get(("time", w, v))
    return min(x) if x else None


for v, label, b in BUILDS:
    if not b:
        continue
    fa_ = {w: ratio(fastest(w, v), fastest(w, b)) for w, _ in WORKLOADS}
    cp = {w: ratio(secs(w, v, "cpu"), secs(w, b, "cpu")) for w, _ in WORKLOADS}
    cells = [fr(fa_[w]) for w, _ in WORKLOADS] + [fr(geomean([fa_["bt"], fa_["lua"]]))]
    cells += [fr(cp[w]) for w, _ in WORKLOADS] + [fr(geomean([cp["bt"], cp["lua"]]))]
    print(f"| {label} | {' | '.join(cells)} |")
print()

print(f"Instructions (callgrind, median of {cg_runs} runs; inputs: fib {inp('fib', 'cg')}, binary trees depth "
      f"{inp('bt', 'cg')}, Lua scale {inp('lua', 'cg')}), without start-up: each count is the program's total "
      "minus the same program's total doing no work. Added: against the same compiler without checks. Checks: "
      "instructions reading the limit word %fs:0x70 in the workload's own object files (fib / binary trees / Lua).")
print()
print("| build | checks | fib | added | binary trees | added | Lua | added | geo. mean added |")
print("|---|---|---|---|---|---|---|---|---|")
for v, label, b in BUILDS:
    ck = " / ".join(str(checks.get((w, v), "n/a")) for w, _ in WORKLOADS)
    cells = []
    rs = []
    for w, _ in WORKLOADS:
        cells += [fi(work(w, v)), fa(added(w, v, b)) if b else ""]
        rs.append(ratio(work(w, v), work(w, b)) if b else None)
    g = geomean(rs) if b else None
    print(f"| {label} | {ck} | {' | '.join(cells)} | {'' if g is None else f'{(g - 1) * 100:+.2f}%'} |")
print()

startup = ", ".join(f"{v} {fi(med('ir0', 'fib', v))}" for v, _, _ in BUILDS)
print(f"Start-up alone (fib 0), instructions: {startup}.")
print()

# Targets: split-stack is gcc's, as the issue says; clang's in brackets.
print("| target | measured | met |")
print("|---|---|---|")
per = []
every = True
for w, name in WORKLOADS:
    ca, sa, cs = added(w, "capri", "base")[0], added(w, "split", "gcc")[0], added(w, "csplit", "base")[0]
    if ca is None or sa is None:
        every = None
        continue
    per.append(f"{name}: capri {ca:+,.0f}, split-stack {sa:+,.0f} (clang's {fi(cs) if cs is None else f'{cs:+,.0f}'})")
    if every is not None:
        every = every and ca <= sa
print(f"| added instructions: capri no more than gcc's split-stack on every workload | {'; '.join(per)} | "
      f"{yes(every)} |")
ca, sa = added("lua", "capri", "base")[0], added("lua", "split", "gcc")[0]
print(f"| added instructions: capri fewer than split-stack on Lua | {fi(ca)} vs {fi(sa)} | "
      f"{yes(None if ca is None or sa is None else ca < sa)} |")
g = geomean([ratio(secs(w, "capri"), secs(w, "base")) for w in ("bt", "lua")])
print(f"| wall time: geometric mean of capri / clang on binary trees and Lua at most 1.02 | {fr(g)} | "
      f"{yes(None if g is None else g <= 1.02)} |")
try:
    n = int(inputs["fib"][1])
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    calls = 2 * a - 1  # calls of fib(n) in the source: 2 F(n+1) - 1
except (KeyError, ValueError):
    calls = None
ca, sa, cs = added("fib", "capri", "base")[0], added("fib", "split", "gcc")[0], added("fib", "csplit", "base")[0]
base_fib, gcc_fib = work("fib", "base"), work("fib", "gcc")
if calls and None not in (ca, sa, cs, base_fib, gcc_fib):
    m = (f"per call of fib in the source ({calls:,} calls): capri {ca / calls:+.2f} instructions, clang's "
         f"split-stack {cs / calls:+.2f} (clang: {base_fib / calls:.2f} per call); gcc's split-stack "
         f"{sa / calls:+.2f} (gcc: {gcc_fib / calls:.2f} per call)")
else:
    m = "n/a"
print(f"| fib: the worst case, reported | {m} | report |")
print()
print("fib is the worst case: every call is a recursive call, so it is a call-graph cycle's edge and is checked "
      "(capri's cycle checkpoint, split-stack's check in every prologue), and a call does almost nothing else (a "
      "compare, a call, an add), so whatever a check costs per call (its own instructions, and what it costs the "
      "code around it: registers, frame) is the largest share of the work any program can have. gcc makes far "
      "fewer real calls (it inlines fib into itself), so its split-stack checks fewer times.")
for (w, v), why in sorted(skipped.items()):
    print()
    label = next(l for vv, l, _ in BUILDS if vv == v)
    name = next(n for ww, n in WORKLOADS if ww == w)
    print(f"{label}: no {name} build ({why.rstrip('.')}).")
if capri_checks == 0:
    print()
    print("No check in capri's builds: this plugin inserts no checkpoints yet, so capri's rows measure only what "
          "capri-cc and libcapri add besides them.")
print()
print(f"Built from commit {meta.get('commit', 'unknown')}; libcapri {meta.get('capri_runtime', 'n/a')}.")
