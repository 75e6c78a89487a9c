#!/usr/bin/env python3
"""Formats bench/memory/run.sh's results.txt as a Markdown table (bytes per
thread). Lines are "metric value" from memory_capri and idle_pthread, plus
run.sh's own "LABEL wall_s S max_rss_kib K" and "LABEL skipped: ..." lines.
A peer's lines (idle.pthread_*, idle.pth_*, idle.st_*, idle.go_*) belong to
the run whose "PEER N wall_s" line follows them."""
import re
import sys


def main(path):
    metrics = {}
    notes = []
    peers = {}  # (peer, n) -> {metric: value}
    pending = {}
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^idle\.(pthread|pth|st|go)_(\w+) (-?[0-9.]+)$", line)
        if m:
            pending[m.group(2)] = float(m.group(3))
        m = re.match(r"^(pthread|pth|st|go) ([0-9]+) wall_s", line)
        if m:
            if pending:
                peers[(m.group(1), int(m.group(2)))] = pending
            pending = {}
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
    if peers:
        names = {"pthread": "pthreads", "pth": "GNU Pth", "st": "State Threads", "go": "Go goroutines"}
        print()
        print("| peer (16 KiB stacks; Go grows its own) | threads | VmRSS | VmPTE | RSS + PTE | smaps_rollup Rss"
              " | kernel stack | kernel slab |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for (peer, n), v in sorted(peers.items(), key=lambda kv: (list(names).index(kv[0][0]), kv[0][1])):
            kernel = ("%.0f | %.0f" % (v.get("kstack", 0), v.get("slab", 0))) if peer == "pthread" else "| "
            print("| %s | %s | %.0f | %.1f | %.0f | %.0f | %s |" % (
                names[peer], "{:,}".format(n), v.get("rss", 0), v.get("pte", 0), v.get("total", 0),
                v.get("rollup", 0), kernel.strip()))
    for n in notes:
        print()
        print(n)


if __name__ == "__main__":
    main(sys.argv[1])
