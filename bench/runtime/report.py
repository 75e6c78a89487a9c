#!/usr/bin/env python3
"""report.py RESULTS RUNS IDLE_N IDLE_PTHREAD_N "TAGS" OUT [IDLE_PTH_N IDLE_ST_N]: run.sh's tables.

RESULTS holds "metric value" lines from RUNS interleaved runs; every figure
printed is the median of a metric's values (upper median for even counts,
as bench/switch/run.sh takes it)."""
import sys
from collections import defaultdict

import os

results, runs, idle_n, idle_pn, stacks, out = sys.argv[1:7]
idle_pth_n = sys.argv[7] if len(sys.argv) > 7 else "0"
idle_st_n = sys.argv[8] if len(sys.argv) > 8 else "0"
vals = defaultdict(list)
for line in open(results):
    k, v = line.split()
    vals[k].append(float(v))


def med(k):
    v = sorted(vals.get(k, []))
    return v[(len(v) + 1) // 2 - 1] if v else None


def f(x, nd=2):
    if x is None:
        return "n/a"
    return f"{x:,.{nd}f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def yes(c):
    return "n/a" if c is None else ("**yes**" if c else "**no**")


print(f"| benchmark (ns, median of {runs} runs) | capri | peer | peer ns | capri / peer | target | met |")
print("|---|---|---|---|---|---|---|")
yc, yf, yp = med("yield.capri"), med("yield.fcontext"), med("yield.pthread")
ok = None if yc is None or yf is None else (yc <= 15 and yc <= 2 * yf)
print(f"| yield, 100 threads, 1 scheduler (per switch) | {f(yc)} | Boost fcontext, 100 contexts round robin | {f(yf)} | {ratio(yc, yf)} | <= 15 ns and <= 2x fcontext | {yes(ok)} |")
sw = med("yield.pthread_switched_pct")
print(f"| | | pthreads sched_yield, 100 threads on 1 CPU ({f(sw, 0)}% switched) | {f(yp, 0)} | {ratio(yc, yp)} | report | |")
if "yield.pth" in vals:
    print(f"| | | GNU Pth pth_yield, 100 threads | {f(med('yield.pth'), 0)} | {ratio(yc, med('yield.pth'))} | report | |")
if "yield.st" in vals:
    print(f"| | | State Threads token ring over st_cond, 100 threads (ST has no yield) | {f(med('yield.st'))} | {ratio(yc, med('yield.st'))} | report | |")
for tag, label in (("1sched", "1 scheduler"), ("default", "default schedulers (2)")):
    c = med(f"spawn.capri_{tag}")
    ok = None if c is None else c <= 100
    stolen = med("spawn.capri_default_stolen_pct") if tag == "default" else None
    note = f" ({f(stolen, 1)}% ran on the other scheduler)" if stolen is not None else ""
    print(f"| spawn+join one at a time, {label}, warm pool{note} | {f(c)} | fcontext make+run on a pooled stack | {f(med('spawn.fcontext'))} | {ratio(c, med('spawn.fcontext'))} | <= 100 ns | {yes(ok)} |")
    print(f"| | | pthread_create+join | {f(med('spawn.pthread'), 0)} | {ratio(c, med('spawn.pthread'))} | | |")
    if "spawn.pth" in vals:
        print(f"| | | GNU Pth pth_spawn+pth_join, 64 KiB stack | {f(med('spawn.pth'), 0)} | {ratio(c, med('spawn.pth'))} | | |")
    if "spawn.st" in vals:
        print(f"| | | State Threads create+join, 64 KiB stack (stack free list warm) | {f(med('spawn.st'))} | {ratio(c, med('spawn.st'))} | | |")
mc, mp = med("mutex.capri"), med("mutex.pthread")
ok = None if mc is None or mp is None else mc <= mp * 1.02
print(f"| uncontended mutex lock+unlock | {f(mc)} | pthread_mutex (default), same run | {f(mp)} | {ratio(mc, mp)} | no slower than pthreads | {yes(ok)} |")
c1, c2 = med("chan.capri_1sched"), med("chan.capri_2sched")
ok = None if c1 is None else c1 <= 50
print(f"| channel ping-pong, 1 scheduler (per message) | {f(c1)} | pthreads mutex+cond, 1 CPU | {f(med('chan.pthread_cond_1cpu'), 0)} | {ratio(c1, med('chan.pthread_cond_1cpu'))} | <= 50 ns | {yes(ok)} |")
print(f"| | | pthreads pipe pair, 1 CPU | {f(med('chan.pthread_pipe_1cpu'), 0)} | {ratio(c1, med('chan.pthread_pipe_1cpu'))} | | |")
for key, label in (("chan.pth_cond", "GNU Pth pth_mutex+pth_cond"), ("chan.pth_pipe", "GNU Pth pipe pair (pth_read/pth_write)"),
                   ("chan.st_cond", "State Threads st_cond"), ("chan.st_pipe", "State Threads pipe pair (st_read/st_write)")):
    if key in vals:
        print(f"| | | {label} | {f(med(key))} | {ratio(c1, med(key))} | | |")
if "chan.go_1proc" in vals:
    print(f"| | | Go 1.19 unbuffered chan, GOMAXPROCS=1 | {f(med('chan.go_1proc'))} | {ratio(c1, med('chan.go_1proc'))} | | |")
print(f"| channel ping-pong, 2 schedulers (per message) | {f(c2)} | pthreads mutex+cond, 2 CPUs | {f(med('chan.pthread_cond_2cpu'), 0)} | {ratio(c2, med('chan.pthread_cond_2cpu'))} | report | |")
print(f"| | | pthreads pipe pair, 2 CPUs | {f(med('chan.pthread_pipe_2cpu'), 0)} | {ratio(c2, med('chan.pthread_pipe_2cpu'))} | | |")
if "chan.go_2proc" in vals:
    print(f"| | | Go 1.19 unbuffered chan, GOMAXPROCS=2 | {f(med('chan.go_2proc'))} | {ratio(c2, med('chan.go_2proc'))} | | |")

print()
print(f"| idle threads, 1 KiB touched 3 calls deep, blocked (bytes per thread) | threads | chunk (usable) | VmRSS | VmPTE | RSS + PTE | smaps_rollup Rss | spawn to blocked, ns/thread | target <= 8 KiB |")
print("|---|---|---|---|---|---|---|---|---|")
for tag in stacks.split():
    label = f"capri, attr.stack_size = {tag}"
    if tag.endswith("_now"):
        label = f"capri, attr.stack_size = {tag[:-4]}, linked -z now"
    if tag == "0":
        tag = "default"
    k = lambda x: med(f"idle.capri_{tag}_{x}")
    if f"idle.capri_{tag}_failed" in vals:
        why = ""
        err = os.path.join(out, f"idle_{tag}.err")
        if os.path.exists(err):
            lines = [l.strip() for l in open(err) if l.strip()]
            why = "; ".join(lines[:2]).replace("|", "/")
        print(f"| {label} | {int(idle_n):,} | | failed: {why} | | | | | **no** |")
        continue
    tot = k("total")
    ok = None if tot is None else tot <= 8192
    print(f"| {label} | {int(idle_n):,} | {f(k('chunk_kib'), 0)} KiB | {f(k('rss'), 0)} | {f(k('pte'), 0)} | {f(tot, 0)} | {f(k('rollup'), 0)} | {f(k('spawn_ns'), 0)} | {yes(ok)} |")
p = lambda x: med(f"idle.pthread_{x}")
print(f"| pthreads, 16 KiB stacks | {int(idle_pn):,} | 16 KiB + guard | {f(p('rss'), 0)} | {f(p('pte'), 0)} | {f(p('total'), 0)} | {f(p('rollup'), 0)} | | (kernel: +{f(p('kstack'), 0)} kernel stack, +{f(p('slab'), 0)} slab) |")
for peer, label, n in (("pth", "GNU Pth, 16 KiB stacks", idle_pth_n), ("st", "State Threads, 16 KiB stacks", idle_st_n)):
    q = lambda x: med(f"idle.{peer}_{x}")
    if q("total") is not None:
        print(f"| {label} | {int(n):,} | 16 KiB | {f(q('rss'), 0)} | {f(q('pte'), 0)} | {f(q('total'), 0)} | {f(q('rollup'), 0)} | {f(q('spawn_ns'), 0)} | |")
