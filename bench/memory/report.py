#!/usr/bin/env python3
"""Formats bench/memory/run.sh's results.txt as a Markdown table (bytes per
thread). Lines are "metric value" from memory_capri and idle_pthread, plus
run.sh's own "LABEL wall_s S max_rss_kib K" and "LABEL skipped: ..." lines."""
import re
import sys


def main(path):
    metrics = {}
    notes = []
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^(memory|idle)\.(\S+) (-?[0-9.]+)$", line)
        if m:
            metrics[m.group(1) + "." + m.group(2)] = float(m.group(3))
        elif "skipped" in line or "failed" in line:
            notes.append(line)
    rows = {}
    for key in metrics:
        m = re.match(r"^memory\.(guard|dense)_((?:live|touched)(?:-chan|-timedwait)?)_(auto|[0-9]+)_([0-9]+)_(\w+)$", key)
        if m:
            rows.setdefault((m.group(1), m.group(2), m.group(3), int(m.group(4))), {})[m.group(5)] = metrics[key]
    print("| mode | shape | stack_size | threads | first chunk (bytes) | VmRSS | VmPTE | RSS + PTE | smaps_rollup Rss"
          " | threads holding a grown chunk | spawn to blocked, ns/thread | woke intact |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (mode, shape, stack, n), v in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3])):
        print("| %s | %s | %s | %s | %d | %.0f | %.1f | %.0f | %.0f | %d | %.0f | %s |" % (
            mode, shape, "plugin's region" if stack == "auto" else stack, "{:,}".format(n), v.get("chunk", 0), v.get("rss", 0), v.get("pte", 0),
            v.get("total", 0), v.get("rollup", 0), v.get("grown", 0), v.get("spawn_ns", 0),
            "yes" if v.get("checked") else "not reached"))
    if "idle.pthread_total" in metrics:
        print()
        print("| pthreads, 16 KiB stacks | VmRSS | VmPTE | RSS + PTE | kernel stack | kernel slab |")
        print("|---|---:|---:|---:|---:|---:|")
        print("| per thread | %.0f | %.1f | %.0f | %.0f | %.0f |" % (
            metrics.get("idle.pthread_rss", 0), metrics.get("idle.pthread_pte", 0),
            metrics.get("idle.pthread_total", 0), metrics.get("idle.pthread_kstack", 0),
            metrics.get("idle.pthread_slab", 0)))
    for n in notes:
        print()
        print(n)


if __name__ == "__main__":
    main(sys.argv[1])
