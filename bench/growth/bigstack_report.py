#!/usr/bin/env python3
"""bigstack_report.py RESULTS STACK ALT_STACK CACHE_BUF: run-bigstack.sh's
Markdown tables.

RESULTS holds lines written by run-bigstack.sh:
  meta KEY VALUE...
  IMPL STACK BUF N K bigstack.IMPL.METRIC VALUE   one run's metric
  IMPL STACK BUF N K failed 1                     a run that failed
Every figure is the median over the runs of its configuration."""
import statistics
import sys
from collections import defaultdict

MIB = 1 << 20
path, stack, alt_stack, cache_buf = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

meta = {}
vals = defaultdict(list)  # (impl, stack, buf, n, k, metric) -> [values]
failed = defaultdict(int)
for line in open(path):
    f = line.split()
    if not f:
        continue
    if f[0] == "meta":
        meta[f[1]] = " ".join(f[2:])
        continue
    impl, stk, buf, n, k = f[0], f[1], int(f[2]), int(f[3]), int(f[4])
    if f[5] == "failed":
        failed[(impl, stk, buf, n, k)] += 1
        continue
    metric = f[5].split(".", 2)[2]
    vals[(impl, stk, buf, n, k, metric)].append(float(f[6]))


def med(cfg, metric):
    x = vals.get(cfg + (metric,))
    return statistics.median(x) if x else None


def num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def capri_cfg(n, k, stk=stack, buf=MIB):
    return ("capri", stk, buf, n, k)


def pthread_cfg(n, k):
    return ("pthread", "default", MIB, n, k)


def why_missing(cfg):
    if failed.get(cfg):
        return f"failed ({failed[cfg]} of {meta.get('runs', '?')} runs)"
    if med(cfg, "skipped"):
        return (f"not started: its stacks would need ~{med(cfg, 'need_gib'):.0f} GiB resident, more than "
                f"{meta.get('mem_pct', '?')}% of MemAvailable ({med(cfg, 'budget_gib'):.1f} GiB)")
    at = med(cfg, "create_failed_at")
    if at is not None:
        return f"pthread_create failed at #{at:,.0f} (errno {med(cfg, 'create_errno'):.0f})"
    return None


def mem(cfg):
    rss = med(cfg, "rss_mib")
    if rss is None:
        return why_missing(cfg) or "-"
    return f"{rss:,.1f} ({med(cfg, 'rss_per_thread_kib'):,.1f})"


def spread(cfgs, metric):
    s = []
    for c in cfgs:
        x = vals.get(c + (metric,))
        if x and min(x) > 0:
            s.append(max(x) / min(x) - 1)
    return 100 * max(s) if s else 0


configs = sorted({(key[3], key[4]) for key in vals if key[0] == "capri" and key[1] == stack and key[2] == MIB} |
                 {(c[3], c[4]) for c in failed if c[0] == "capri" and c[1] == stack and c[2] == MIB})
ns = sorted({n for n, _ in configs})
ks = sorted({k for _, k in configs})

print(f"bigstack: commit {meta.get('commit', '?')}; {meta.get('cpus', '?')} CPUs, "
      f"{meta.get('mem_total_gib', '?')} GiB RAM, pid_max {meta.get('pid_max', '?')}; "
      f"medians of {meta.get('runs', '?')} runs, {meta.get('seconds', '?')} s windows")
print()
print(f"Throughput and resident memory: n threads, at most k inside the 1 MiB call at once "
      f"(capri: first chunk {stack} B; pthreads: 1 MiB + 64 KiB stacks). Memory: peak while "
      f"running minus before spawning, MiB (KiB per thread).")
print()
print("| threads | k | capri calls/s | pthreads calls/s | capri calls per CPU s | pthreads calls per CPU s | "
      "capri: entries after another kernel thread's | capri VmRSS | pthreads VmRSS | capri VmPTE MiB | "
      "pthreads VmPTE MiB |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
notes = {}


def cell(cfg, metric, digits=0):
    v = med(cfg, metric)
    if v is not None:
        return num(v, digits)
    why = why_missing(cfg)
    if why is None:
        return "-"
    label = why.split(":")[0]
    notes.setdefault((cfg[0], cfg[3]), f"{'pthreads' if cfg[0] == 'pthread' else cfg[0]}, {cfg[3]:,} threads: {why}")
    return label


def pct(v):
    return "-" if v is None else f"{v:.1f}%"


def memcell(cfg):
    return mem(cfg) if med(cfg, "rss_mib") is not None else cell(cfg, "rss_mib")


for n, k in configs:
    c, p = capri_cfg(n, k), pthread_cfg(n, k)
    print(f"| {n:,} | {k} | {cell(c, 'calls_per_s')} | {cell(p, 'calls_per_s')} | "
          f"{cell(c, 'calls_per_cpu_s')} | {cell(p, 'calls_per_cpu_s')} | {pct(med(c, 'cross_pct'))} | "
          f"{memcell(c)} | {memcell(p)} | "
          f"{cell(c, 'pte_mib', 1)} | {cell(p, 'pte_mib', 1)} |")
print()
for note in notes.values():
    print(f"* {note}")
if notes:
    print()
cs = [capri_cfg(n, k) for n, k in configs]
ps = [pthread_cfg(n, k) for n, k in configs]
for metric, what in (("calls_per_s", "calls/s"), ("calls_per_cpu_s", "calls per CPU second")):
    if not any(vals.get(c + (metric,)) for c in cs):
        continue
    print(f"Largest spread of {what} between runs of one configuration: capri {spread(cs, metric):.0f}%, "
          f"pthreads {spread(ps, metric):.0f}%.")
# Runs where consecutive entries mostly came from different kernel threads
# (every permit a wake-up on the other scheduler) against the others.
split = {True: [], False: []}
for c in cs:
    x, y = vals.get(c + ("cross_pct",), []), vals.get(c + ("calls_per_cpu_s",), [])
    for a, b in zip(x, y):
        split[a > 10].append(b)
if split[True]:
    print(f"capri runs in which over 10% of the entries followed one on another kernel thread: "
          f"{len(split[True])} of {len(split[True]) + len(split[False])}, median "
          f"{num(statistics.median(split[True]))} calls per CPU s; the others "
          f"{num(statistics.median(split[False])) if split[False] else '-'}.")
for k in ks:
    parts = []
    for metric, what in (("calls_per_s", "calls/s"), ("calls_per_cpu_s", "per CPU second")):
        row = [med(capri_cfg(n, k), metric) for n in ns]
        if all(r is not None for r in row) and len(row) > 1:
            parts.append(f"{what} {row[-1] / row[0]:.2f}")
    if parts:
        print(f"capri, k = {k}, at {ns[-1]:,} threads / at {ns[0]:,}: {', '.join(parts)}.")
print()

one = [(n, k) for n, k in configs if med(("capri-1", stack, MIB, n, k), "calls_per_s") is not None]
if one:
    print("capri on one scheduler (same runs otherwise; the memory is the same as above):")
    print()
    print("| threads | k | calls/s | calls per CPU s |")
    print("|---:|---:|---:|---:|")
    for n, k in one:
        c = ("capri-1", stack, MIB, n, k)
        print(f"| {n:,} | {k} | {num(med(c, 'calls_per_s'))} | {num(med(c, 'calls_per_cpu_s'))} |")
    print()
    c1 = [("capri-1", stack, MIB, n, k) for n, k in one]
    print(f"Largest spread between runs of one configuration: calls/s {spread(c1, 'calls_per_s'):.0f}%, "
          f"per CPU second {spread(c1, 'calls_per_cpu_s'):.0f}%.")
    for k in ks:
        parts = []
        for metric, what in (("calls_per_s", "calls/s"), ("calls_per_cpu_s", "per CPU second")):
            row = [med(("capri-1", stack, MIB, n, k), metric) for n in ns]
            if all(r is not None for r in row) and len(row) > 1:
                parts.append(f"{what} {row[-1] / row[0]:.2f}")
        if parts:
            print(f"One scheduler, k = {k}, at {ns[-1]:,} threads / at {ns[0]:,}: {', '.join(parts)}.")
    print()

print("capri's chunk pool during those runs (capri_pool_stats). The big call runs on a chunk of the "
      "class shown; \"all blocked\": every thread stopped outside the call, blocked in capri_sem_wait.")
print()
print("| threads | k | big call's chunk | in use, peak | in use, all blocked | free in the pool, all blocked | "
      "other chunks beyond the first, all blocked | most inside at once (capri / pthreads) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for n, k in configs:
    c, p = capri_cfg(n, k), pthread_cfg(n, k)
    if med(c, "big_kib") is None:
        continue
    other = med(c, "grown_blocked") - med(c, "big_blocked")
    res = med(c, "reserve_blocked")
    print(f"| {n:,} | {k} | {med(c, 'big_kib') / 1024:g} MiB | {num(med(c, 'big_peak'))} | "
          f"{num(med(c, 'big_blocked'))} | {num(med(c, 'big_free_blocked'))} | "
          f"{num(other - res)} + {num(res)} signal reserves | "
          f"{num(med(c, 'inside_max'))} / {num(med(p, 'inside_max'))} |")
print()

alt = [n for n in ns if med(capri_cfg(n, 4, alt_stack), "calls_per_s") is not None
       or failed.get(capri_cfg(n, 4, alt_stack))]
if alt:
    print(f"capri's first chunk, k = 4: {stack} B against {alt_stack} B. \"Held while blocked\": chunks "
          "beyond the first (and the signal reserves) in use once every thread is blocked in capri_sem_wait.")
    print()
    print("| threads | first chunk | calls/s | calls per CPU s | VmRSS MiB (KiB per thread) | VmPTE MiB | "
          "held while blocked |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in alt:
        for stk in (stack, alt_stack):
            c = capri_cfg(n, 4, stk)
            if med(c, "calls_per_s") is None:
                print(f"| {n:,} | {stk} | {why_missing(c) or '-'} | | | | |")
                continue
            held = med(c, "grown_blocked") - med(c, "big_blocked") - med(c, "reserve_blocked")
            print(f"| {n:,} | {int(stk) // 1024} KiB | {num(med(c, 'calls_per_s'))} | "
                  f"{num(med(c, 'calls_per_cpu_s'))} | {mem(c)} | "
                  f"{num(med(c, 'pte_mib'), 1)} | {num(held)} |")
    print()

cc = capri_cfg(10000, 4, alt_stack, cache_buf)
if med(cc, "big_kib") is not None:
    print(f"Thread chunk cache: a {cache_buf // 1024} KiB buffer (a {med(cc, 'big_kib'):g} KiB chunk, a class "
          f"the cache keeps), 10,000 threads, k = 4, first chunk {int(alt_stack) // 1024} KiB: "
          f"{med(cc, 'big_kib'):g} KiB chunks in use at peak {num(med(cc, 'big_peak'))}, "
          f"once all threads blocked {num(med(cc, 'big_blocked'))} (of which signal reserves, one per "
          f"scheduler that grew: up to {meta.get('cpus', '?')}); {num(med(cc, 'calls_per_s'))} calls/s, "
          f"{num(med(cc, 'calls_per_cpu_s'))} per CPU second.")
elif failed.get(cc):
    print(f"Thread chunk cache check: failed ({failed[cc]} runs).")
