#!/usr/bin/env python3
"""suite.py BUILD_DIR [--parts a,b,...] [--no-docs]: the whole benchmark suite
side by side with its peers in one run (make bench).

Runs every comparison's own script (bench/*/run.sh and friends, which do the
measuring and print their Markdown tables), one after the other, with
settings that fit the whole suite in about 30 minutes on a 2-CPU machine;
QUICK=1 (or SUITE_SCALE=quick) picks tiny settings for a smoke run of a few
minutes. For every part it prints the time it took, keeps its Markdown
output (BUILD_DIR/bench/suite/PART.md) and collects its figures from the
script's raw results file as JSON (BUILD_DIR/bench/suite/PART.json, and all
of them in results.json). Then it draws the plots (SVG, docs/bench/) and
writes the generated section of docs/benchmarks.md, between the markers
<!-- make bench: begin --> and <!-- make bench: end -->: tables of ratios
(capri against each peer), the plots, the date, the commit and the command.
A part that fails is reported as failed in the section; the others still
run. bench/README.md describes the parts and the knobs.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import svgplot  # noqa: E402

BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"

# Per part: the script (relative to bench/), its arguments after BUILD_DIR,
# and its environment, at full scale and quick.
PARTS = {
    "switch": {
        "cmd": ["switch/run.sh"], "args": {"full": ["7"], "quick": ["1"]}, "env": {"full": {}, "quick": {}},
    },
    "runtime": {
        "cmd": ["runtime/run.sh"], "args": {"full": ["5"], "quick": ["1"]},
        "env": {"full": {"IDLE_N": "1000000", "IDLE_PTHREAD_N": "10000", "IDLE_PTH_N": "2000", "IDLE_ST_N": "10000"},
                "quick": {"IDLE_N": "20000", "IDLE_STACKS": "4096", "IDLE_PTHREAD_N": "1000", "IDLE_PTH_N": "200",
                          "IDLE_ST_N": "1000"}},
    },
    "memory": {
        "cmd": ["memory/run.sh"], "args": {"full": [], "quick": []},
        "env": {"full": {"NS": "1000 10000 100000 1000000", "BIG_N": "10000000", "WAIT_N": "100000",
                         "PTHREAD_NS": "1000 10000 20000", "PTH_NS": "1000 2000", "ST_NS": "1000 10000 30000",
                         "GO_NS": "1000 10000 100000 1000000"},
                "quick": {"NS": "1000 10000", "BIG_N": "0", "WAIT_N": "0", "PTHREAD_NS": "1000", "PTH_NS": "1000",
                          "ST_NS": "1000", "GO_NS": "1000 10000"}},
    },
    "growth": {
        "cmd": ["growth/run.sh"], "args": {"full": [], "quick": []},
        "env": {"full": {"RUNS": "3", "CG_RUNS": "1", "FIB_N": "40", "FIB_N_CG": "27", "BT_DEPTH": "17",
                         "BT_DEPTH_CG": "12", "LUA_SCALE": "50", "LUA_SCALE_CG": "1"},
                "quick": {"RUNS": "1", "CG_RUNS": "1", "FIB_N": "30", "FIB_N_CG": "18", "BT_DEPTH": "12",
                          "BT_DEPTH_CG": "8", "LUA_SCALE": "1", "LUA_SCALE_CG": "1"}},
    },
    "loops": {
        "cmd": ["loops/run.sh"], "args": {"full": [], "quick": []},
        "env": {"full": {"RUNS": "5"},
                "quick": {"RUNS": "1", "FIB_N": "28", "FIB_N_CG": "18", "BT_DEPTH": "12", "BT_DEPTH_CG": "8",
                          "MM_N": "120", "MM_N_CG": "40", "SUM_R": "500", "SUM_R_CG": "20"}},
    },
    "hot-split": {
        "cmd": ["growth/run-hot-split.sh"], "args": {"full": ["7", "10000000"], "quick": ["1", "1000000"]},
        "env": {"full": {"ROUNDS": "1"}, "quick": {"ROUNDS": "1"}},
    },
    "bounds": {
        "cmd": ["bounds/run.sh"], "args": {"full": ["50000", "100"], "quick": ["2000", "10"]},
        "env": {"full": {"RUNS": "11"}, "quick": {"RUNS": "3"}},
    },
    "bigstack": {
        "cmd": ["growth/run-bigstack.sh"], "args": {"full": ["1"], "quick": ["1"]},
        "env": {"full": {"NS": "1000 10000", "KS": "1 4", "WINDOW": "1"},
                "quick": {"NS": "1000", "KS": "4", "WINDOW": "0.5"}},
    },
    "knot": {
        "cmd": ["knot/run.sh"], "args": {"full": [], "quick": []},
        "env": {"full": {"CONNS": "100 1000 5000 10000", "FILES": "file1k.bin", "DURATION": "5", "ROUNDS": "3"},
                "quick": {"CONNS": "50 500", "FILES": "file1k.bin", "DURATION": "1", "ROUNDS": "1"}},
    },
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fnum(x, nd=0):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def fratio(x):
    return "n/a" if x is None else f"{x:.2f}"


def metric_lines(path):
    """"metric value" lines of a results file -> {metric: [values]}."""
    vals = {}
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) == 2:
                try:
                    vals.setdefault(f[0], []).append(float(f[1]))
                except ValueError:
                    pass
    return vals


# Collectors: the raw results file of each part -> a JSON-able dict.
def collect_switch(out, md):
    d = {}
    for name in ("capri", "fcontext"):
        p = os.path.join(out, "switch", f"{name}.txt")
        if os.path.exists(p):
            d[name + "_ns"] = med([float(x) for x in open(p).read().split()])
    return d


def collect_runtime(out, md):
    vals = metric_lines(os.path.join(out, "runtime", "results.txt"))
    return {"medians": {k: med(v) for k, v in vals.items()}, "runs": {k: len(v) for k, v in vals.items()}}


def collect_memory(out, md):
    capri, peers, pending = [], [], {}
    path = os.path.join(out, "memory", "results.txt")
    rows = {}
    for line in open(path) if os.path.exists(path) else []:
        m = re.match(r"^memory\.(guard|dense)_(\S+?)_(auto|[0-9]+)_([0-9]+)_(\w+) (-?[0-9.]+)$", line)
        if m:
            rows.setdefault((m.group(1), m.group(2), m.group(3), int(m.group(4))), {})[m.group(5)] = float(m.group(6))
            continue
        m = re.match(r"^idle\.(pthread|pth|st|go)_(\w+) (-?[0-9.]+)$", line)
        if m:
            pending[m.group(2)] = float(m.group(3))
            continue
        m = re.match(r"^(pthread|pth|st|go) ([0-9]+) wall_s", line)
        if m:
            if pending:
                peers.append(dict(peer=m.group(1), threads=int(m.group(2)), **pending))
            pending = {}
    for (mode, shape, stack, n), v in sorted(rows.items()):
        capri.append(dict(mode=mode, shape=shape, stack=stack, threads=n, **v))
    return {"capri": capri, "peers": peers}


def collect_growth(out, md):
    d = {"time": {}, "ir": {}, "ir0": {}, "checks": {}}
    vals = {}
    path = os.path.join(out, "growth", "results.txt")
    for line in open(path) if os.path.exists(path) else []:
        f = line.split()
        if len(f) == 4 and f[0] in ("time", "cpu", "ir", "ir0"):
            vals.setdefault((f[0], f[1], f[2]), []).append(float(f[3]))
        elif len(f) == 4 and f[0] == "checks":
            d["checks"][f"{f[1]}.{f[2]}"] = int(f[3])
    for (kind, w, v), x in vals.items():
        if kind in d:
            d[kind][f"{w}.{v}"] = med(x)
    return d


def collect_loops(out, md):
    d = {"wall": {}, "ir": {}, "checks": {}}
    wall = {}
    path = os.path.join(out, "loops", "results.txt")
    for line in open(path) if os.path.exists(path) else []:
        f = line.split()
        if f and f[0] == "wall":
            wall.setdefault(f"{f[1]}.{f[2]}", []).append(int(f[3].split()[0]))
        elif f and f[0] == "ir" and len(f) == 5:
            d["ir"][f"{f[1]}.{f[2]}.{'0' if f[3] == '0' else 'work'}"] = int(f[4])
        elif f and f[0] == "checks":
            d["checks"][f[1]] = int(f[2])
    d["wall"] = {k: med(v) for k, v in wall.items()}
    return d


def collect_hot_split(out, md):
    d = {}
    for label, key in (("direct call", "direct"), ("behind the plugin's check", "checked"),
                       ("outlined: block and thunk", "thunk"), ("through `__morestack`", "split")):
        m = re.search(r"^\| " + re.escape(label) + r"[^|]*\| ([0-9.]+) \|(?: ([0-9.]+) \|)?", md, re.M)
        if m:
            d[key + "_ns"] = float(m.group(1))
            if m.group(2):
                d[key + "_instructions"] = float(m.group(2))
    return d


def collect_bounds(out, md):
    d = {}
    m = re.search(r"whole pass: median (\d+) us", md)
    if m:
        d["pass_us"] = int(m.group(1))
    m = re.search(r"median ([0-9.]+) ms with the rewrite, ([0-9.]+) ms with CAPRI_BOUNDS=estimates", md)
    if m:
        d["wall_ms_rewrite"], d["wall_ms_estimates"] = float(m.group(1)), float(m.group(2))
    return d


def collect_bigstack(out, md):
    vals = {}
    path = os.path.join(out, "growth", "bigstack-results.txt")
    for line in open(path) if os.path.exists(path) else []:
        f = line.rsplit(None, 1)
        if len(f) == 2 and not line.startswith("meta"):
            try:
                vals.setdefault(f[0], []).append(float(f[1]))
            except ValueError:
                pass
    return {"medians": {k: med(v) for k, v in vals.items()}}


def collect_knot(out, md):
    rows = []
    path = os.path.join(out, "knot", "results.tsv")
    for line in open(path) if os.path.exists(path) else []:
        f = line.rstrip("\n").split("\t")
        if len(f) >= 11:
            rows.append(dict(round=int(f[0]), server=f[1], file=f[2], conns=int(f[3]), rps=float(f[4]),
                             p50=f[5], p90=f[6], p99=f[7], cpu_us=float(f[8]), errors=int(f[9])))
    groups = {}
    for r in rows:
        groups.setdefault((r["file"], r["conns"], r["server"]), []).append(r)
    summary = [dict(file=f, conns=c, server=s, rps=med([r["rps"] for r in g]), cpu_us=med([r["cpu_us"] for r in g]),
                    errors=sum(r["errors"] for r in g), runs=len(g)) for (f, c, s), g in sorted(groups.items())]
    return {"runs": rows, "medians": summary}


COLLECT = {"switch": collect_switch, "runtime": collect_runtime, "memory": collect_memory, "growth": collect_growth,
           "loops": collect_loops, "hot-split": collect_hot_split, "bounds": collect_bounds,
           "bigstack": collect_bigstack, "knot": collect_knot}


def run_part(name, scale, build, suite_dir):
    spec = PARTS[name]
    cmd = [os.path.join(HERE, spec["cmd"][0]), build] + spec["args"][scale]
    env = dict(os.environ, **spec["env"][scale])
    if name == "knot":
        env.setdefault("WORK", os.path.join(build, "bench", "knot"))
    if name == "bounds":
        env.setdefault("WORK", os.path.join(build, "bench", "bounds"))
    shown = " ".join(f"{k}='{v}'" for k, v in spec["env"][scale].items())
    print(f"== {name}: {shown} bench/{spec['cmd'][0]} BUILD {' '.join(spec['args'][scale])}", flush=True)
    t0 = time.monotonic()
    md_path = os.path.join(suite_dir, f"{name}.md")
    with open(md_path, "w") as md_file:
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        for line in p.stdout:
            md_file.write(line)
            sys.stdout.write(line)
        rc = p.wait()
    seconds = time.monotonic() - t0
    md = open(md_path).read()
    try:
        data = COLLECT[name](os.path.join(build, "bench"), md)
    except Exception as e:  # a results file in an unexpected shape
        data = {"collect_error": repr(e)}
    result = {"part": name, "scale": scale, "status": rc, "seconds": round(seconds, 1), "env": spec["env"][scale],
              "args": spec["args"][scale], "data": data}
    with open(os.path.join(suite_dir, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"== {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {seconds:.0f} s", flush=True)
    return result


# The generated section.
def runtime_tables(r, lines):
    m = r["data"].get("medians", {})
    g = m.get
    peers = [("Boost fcontext", {"yield": "yield.fcontext", "spawn": "spawn.fcontext"}),
             ("pthreads", {"yield": "yield.pthread", "spawn": "spawn.pthread", "chan": "chan.pthread_cond_1cpu",
                           "pipe": "chan.pthread_pipe_1cpu"}),
             ("GNU Pth", {"yield": "yield.pth", "spawn": "spawn.pth", "chan": "chan.pth_cond", "pipe": "chan.pth_pipe"}),
             ("State Threads", {"yield": "yield.st", "spawn": "spawn.st", "chan": "chan.st_cond",
                                "pipe": "chan.st_pipe"}),
             ("Go 1.19", {"chan": "chan.go_1proc"})]
    rows = [("yield among 100 threads, ns per switch", "yield", g("yield.capri")),
            ("spawn + join one at a time, ns", "spawn", g("spawn.capri_1sched")),
            ("ping-pong on one kernel thread, ns per message (peer: its condition variable or channel)", "chan",
             g("chan.capri_1sched")),
            ("ping-pong, peer through a pipe pair, ns per message", "pipe", g("chan.capri_1sched"))]
    lines.append("| benchmark | capri | " + " | ".join(p for p, _ in peers) + " |")
    lines.append("|---|---:|" + "---:|" * len(peers))
    for label, key, c in rows:
        cells = []
        for _, keys in peers:
            v = g(keys[key]) if key in keys else None
            cells.append("" if v is None else f"{fnum(v, 1)} ({fratio(ratio(c, v))})")
        lines.append(f"| {label} | {fnum(c, 1)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Each cell: the peer's median, and in brackets capri / peer (below 1: capri is faster). "
                 "State Threads has no yield: its figure is a token ring over `st_cond` among 100 threads. "
                 "GNU Pth and pthreads run on one CPU as capri does (one scheduler).")


def memory_series(r):
    d = r["data"]
    series = {}
    # capri's live shape: guard mode on the chunk the plugin sizes; dense
    # mode on the 2752-byte first chunk that holds the live frame (the
    # plugin's region alone makes the dense thread grow a second chunk).
    for row in d.get("capri", []):
        if row["shape"] == "live" and row["mode"] == "guard" and row["stack"] == "auto":
            series.setdefault("capri guard", []).append((row["threads"], row.get("total")))
    for row in d.get("capri", []):
        if row["shape"] == "live" and row["mode"] == "dense" and row["stack"] == "2752":
            series.setdefault("capri dense", []).append((row["threads"], row.get("total")))
    for row in d.get("capri", []):
        if row["mode"] == "dense" and row["shape"] == "touched" and row["stack"] not in ("auto", "2752"):
            series.setdefault(f"capri dense, touched, {row['stack']} B chunk", []).append(
                (row["threads"], row.get("total")))
    names = {"pthread": "pthreads (16 KiB stacks)", "pth": "GNU Pth (16 KiB)", "st": "State Threads (16 KiB)",
             "go": "Go goroutines"}
    for row in d.get("peers", []):
        series.setdefault(names[row["peer"]], []).append((row["threads"], row.get("total")))
    return series


def memory_tables(r, lines, svg_dir):
    series = memory_series(r)
    counts = sorted({n for pts in series.values() for n, _ in pts})
    lines.append("| bytes per blocked thread (VmRSS + VmPTE) | " + " | ".join(f"{n:,}" for n in counts) + " |")
    lines.append("|---|" + "---:|" * len(counts))
    for label, pts in series.items():
        d = dict(pts)
        lines.append(f"| {label} | " + " | ".join(fnum(d.get(n)) for n in counts) + " |")
    lines.append("")
    guard = dict(series.get("capri guard", []))
    dense = dict(series.get("capri dense", []))
    lines.append("| peer | threads | peer bytes/thread | capri guard / peer | capri dense / peer |")
    lines.append("|---|---:|---:|---:|---:|")
    for label, pts in series.items():
        if label.startswith("capri"):
            continue
        for n, v in sorted(pts):
            lines.append(f"| {label} | {n:,} | {fnum(v)} | {fratio(ratio(guard.get(n), v))} | "
                         f"{fratio(ratio(dense.get(n), v))} |")
    lines.append("")
    lines.append("Each thread is blocked 3 calls deep with 1 KiB live in its frame; capri's first chunk is sized by "
                 "the plugin (`capri-cc`) in guard mode; dense mode runs on 2,752-byte first chunks, the smallest that hold the live frame (bench-memory's table has the other shapes and sizes). A ratio is n/a where capri did not run at that count. pthreads also cost "
                 "a kernel stack and slab per thread (bench-memory's table), not counted here.")
    svgplot.line_chart(os.path.join(svg_dir, "memory.svg"), "Resident memory per blocked thread",
                       "threads (log)", "bytes per thread (VmRSS + VmPTE)", list(series.items()), xlog=True)
    return "memory.svg"


def overhead_rows(parts):
    rows = []  # (workload, what, wall ratio, instruction ratio)
    g = parts.get("growth", {}).get("data", {})
    t, ir, ir0 = g.get("time", {}), g.get("ir", {}), g.get("ir0", {})

    def work(w, v):
        a, b = ir.get(f"{w}.{v}"), ir0.get(f"{w}.{v}")
        return None if a is None or b is None else a - b
    for w, name in (("fib", "fib"), ("bt", "binary trees"), ("lua", "Lua 5.4")):
        for v, base, what in (("capri", "base", "capri-cc checkpoints / clang"),
                              ("csplit", "base", "clang -fsplit-stack / clang"),
                              ("split", "gcc", "gcc -fsplit-stack / gcc")):
            rows.append((name, what, ratio(t.get(f"{w}.{v}"), t.get(f"{w}.{base}")),
                         ratio(work(w, v), work(w, base))))
    lp = parts.get("loops", {}).get("data", {})
    for w in ("fib", "binary_trees", "matmul", "array_sum"):
        def lwork(v):
            a, b = lp.get("ir", {}).get(f"{w}.{v}.work"), lp.get("ir", {}).get(f"{w}.{v}.0")
            return None if a is None or b is None else a - b
        rows.append((w.replace("_", " "), "loop yield points on / off",
                     ratio(lp.get("wall", {}).get(f"{w}.on"), lp.get("wall", {}).get(f"{w}.off")),
                     ratio(lwork("on"), lwork("off"))))
    hs = parts.get("hot-split", {}).get("data", {})
    rows.append(("hot split call", "`__morestack` onto the cached chunk / direct call",
                 ratio(hs.get("split_ns"), hs.get("direct_ns")),
                 ratio(hs.get("split_instructions"), hs.get("direct_instructions"))))
    rows.append(("hot split call", "behind the plugin's check / direct call",
                 ratio(hs.get("checked_ns"), hs.get("direct_ns")),
                 ratio(hs.get("checked_instructions"), hs.get("direct_instructions"))))
    b = parts.get("bounds", {}).get("data", {})
    rows.append(("start-up, generated program", "bounds rewrite / CAPRI_BOUNDS=estimates (process wall)",
                 ratio(b.get("wall_ms_rewrite"), b.get("wall_ms_estimates")), None))
    return [r for r in rows if r[2] is not None or r[3] is not None]


def overhead_tables(parts, lines, svg_dir):
    rows = overhead_rows(parts)
    lines.append("| workload | ratio | wall time | instructions (callgrind) |")
    lines.append("|---|---|---:|---:|")
    for w, what, wall, ins in rows:
        lines.append(f"| {w} | {what} | {fratio(wall) if wall is None else f'{wall:.3f}'} | "
                     f"{fratio(ins) if ins is None else f'{ins:.3f}'} |")
    lines.append("")
    lines.append("Wall time: medians of the interleaved runs; instructions: callgrind, each program's count minus the "
                 "same program doing no work (the scripts' method). 1.000 is no overhead.")
    bars = []
    for w, what, wall, ins in rows:
        group = ("checkpoints" if "capri-cc" in what else "split-stack" if "split-stack" in what
                 else "loop yield points" if "loop" in what else "growth and start-up")
        v = ins if ins is not None else wall
        bars.append((f"{w}: {what.split(' / ')[0]}".replace("`", ""), v, group))
    svgplot.ratio_bars(os.path.join(svg_dir, "overhead.svg"), "Overhead per workload", bars,
                       xlabel="ratio to the build without it (instructions where counted, else wall time)")
    return "overhead.svg"


def knot_tables(r, lines, svg_dir):
    ms = r["data"].get("medians", [])
    files = sorted({m["file"] for m in ms})
    plots = []
    for f in files:
        sel = [m for m in ms if m["file"] == f]
        servers = [s for s in ("knot", "nginx", "go") if any(m["server"] == s for m in sel)]
        conns = sorted({m["conns"] for m in sel})
        get = {(m["conns"], m["server"]): m for m in sel}
        lines.append(f"| {f}: connections | " + " | ".join(f"{s} requests/s" for s in servers) +
                     " | knot / nginx | knot / go | server CPU us/request (" + ", ".join(servers) + ") | errors |")
        lines.append("|---:|" + "---:|" * len(servers) + "---:|---:|---|---:|")
        for c in conns:
            rps = {s: get.get((c, s), {}).get("rps") for s in servers}
            cpu = ", ".join(fnum(get.get((c, s), {}).get("cpu_us"), 2) for s in servers)
            err = sum(get.get((c, s), {}).get("errors", 0) for s in servers)
            lines.append(f"| {c:,} | " + " | ".join(fnum(rps[s]) for s in servers) +
                         f" | {fratio(ratio(rps.get('knot'), rps.get('nginx')))} | "
                         f"{fratio(ratio(rps.get('knot'), rps.get('go')))} | {cpu} | {err} |")
        lines.append("")
        name = f"knot-{f.split('.')[0]}.svg"
        svgplot.line_chart(os.path.join(svg_dir, name), f"Knot, nginx, Go net/http: {f}", "connections (log)",
                           "requests per second",
                           [(s, [(c, get.get((c, s), {}).get("rps")) for c in conns]) for s in servers], xlog=True)
        plots.append(name)
    lines.append("Each server pinned to CPU 0 with one scheduler / worker / GOMAXPROCS=1, wrk on CPU 1; requests/s "
                 "are medians over the rounds.")
    return plots


def section(parts, scale, build, cmdline, svg_rel, svg_dir, total_s):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "passes", "runtime", "tools", "bench"],
                           capture_output=True, text=True).stdout.strip()
    lines = [BEGIN, "## The suite side by side with its peers (generated by `make bench`)", ""]
    if scale == "quick":
        lines += ["**Smoke run (QUICK=1): tiny inputs and one run each; these numbers check the pipeline and "
                  "measure nothing.**", ""]
    lines += [f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from commit {commit}"
              f"{' (with uncommitted changes)' if dirty else ''}, command: `{cmdline}` "
              f"({'quick' if scale == 'quick' else 'full'} settings, {total_s / 60:.1f} minutes; "
              f"{os.cpu_count()} CPUs). Raw figures: `BUILD/bench/suite/*.json`; each part's own Markdown: "
              "`BUILD/bench/suite/*.md`. bench/README.md says what runs and with which settings.", ""]
    lines += ["| part | status | seconds |", "|---|---|---:|"]
    for name, r in parts.items():
        lines.append(f"| {name} | {'ok' if r['status'] == 0 else 'failed (exit %d)' % r['status']} | {r['seconds']:.0f} |")
    lines.append("")
    if "switch" in parts:
        d = parts["switch"]["data"]
        lines += ["### Context switch", "",
                  "| two contexts alternating, ns per switch | capri | Boost.Context fcontext | capri / fcontext |",
                  "|---|---:|---:|---:|",
                  f"| median | {fnum(d.get('capri_ns'), 2)} | {fnum(d.get('fcontext_ns'), 2)} | "
                  f"{fratio(ratio(d.get('capri_ns'), d.get('fcontext_ns')))} |", ""]
    if "runtime" in parts:
        lines += ["### Runtime against Boost.Context, pthreads, GNU Pth, State Threads and Go", ""]
        runtime_tables(parts["runtime"], lines)
        lines.append("")
    if "memory" in parts:
        lines += ["### Memory per thread", ""]
        svg = memory_tables(parts["memory"], lines, svg_dir)
        lines += ["", f"![thread count against resident memory per thread]({svg_rel}/{svg})", ""]
    if any(p in parts for p in ("growth", "loops", "hot-split", "bounds")):
        lines += ["### Overhead per workload", ""]
        svg = overhead_tables(parts, lines, svg_dir)
        lines += ["", f"![overhead per workload]({svg_rel}/{svg})", ""]
    if "bigstack" in parts:
        lines += ["### Bigstack: capri against pthreads", "",
                  "bench/growth/run-bigstack.sh's tables, as it prints them:", ""]
        md = open(os.path.join(build, "bench", "suite", "bigstack.md")).read().strip()
        lines += [md, ""]
    if "knot" in parts:
        lines += ["### Knot against nginx and Go's net/http", ""]
        for svg in knot_tables(parts["knot"], lines, svg_dir):
            lines += ["", f"![connections against requests per second]({svg_rel}/{svg})"]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def write_docs(doc, text):
    s = open(doc).read()
    if BEGIN in s and END in s:
        a, b = s.index(BEGIN), s.index(END) + len(END)
        s = s[:a] + text + s[b:]
    else:
        first = s.index("\n## ")
        s = s[:first] + "\n" + text + "\n" + s[first:]
    with open(doc, "w") as f:
        f.write(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated, of: " + ", ".join(PARTS))
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md and docs/bench/")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: write the section and plots from the parts' JSON of an earlier run")
    a = ap.parse_args()
    scale = "quick" if os.environ.get("QUICK", "0") not in ("", "0") or \
        os.environ.get("SUITE_SCALE") == "quick" else "full"
    build = os.path.abspath(a.build)
    suite_dir = os.path.join(build, "bench", "suite")
    os.makedirs(suite_dir, exist_ok=True)
    names = [p for p in a.parts.split(",") if p]
    for p in names:
        if p not in PARTS:
            ap.error(f"unknown part {p}")
    t0 = time.monotonic()
    parts = {}
    for name in names:
        if a.report_only:
            path = os.path.join(suite_dir, f"{name}.json")
            if os.path.exists(path):
                parts[name] = json.load(open(path))
        else:
            parts[name] = run_part(name, scale, build, suite_dir)
    total = time.monotonic() - t0
    if a.report_only:
        total = sum(r["seconds"] for r in parts.values())
    with open(os.path.join(suite_dir, "results.json"), "w") as f:
        json.dump({"scale": scale, "seconds": round(total, 1), "parts": parts}, f, indent=1)
    if a.report_only:  # the scale the parts ran at
        scale = "quick" if any(r.get("scale") == "quick" for r in parts.values()) else "full"
    print("== times: " + ", ".join(f"{n} {r['seconds']:.0f} s" for n, r in parts.items()) +
          f"; total {total / 60:.1f} min", flush=True)
    cmdline = ("QUICK=1 " if scale == "quick" else "") + "make bench"
    if a.parts != ",".join(PARTS):
        cmdline = f"{'QUICK=1 ' if scale == 'quick' else ''}python3 bench/suite.py BUILD --parts {a.parts}"
    svg_dir = os.path.join(suite_dir, "svg") if a.no_docs else os.path.join(ROOT, "docs", "bench")
    os.makedirs(svg_dir, exist_ok=True)
    text = section(parts, scale, build, cmdline, "bench", svg_dir, total)
    with open(os.path.join(suite_dir, "section.md"), "w") as f:
        f.write(text + "\n")
    if not a.no_docs:
        write_docs(os.path.join(ROOT, "docs", "benchmarks.md"), text)
        print("== wrote docs/benchmarks.md's generated section and docs/bench/*.svg")
    else:
        print(f"== section: {os.path.join(suite_dir, 'section.md')}")
    return 0 if all(r["status"] == 0 for r in parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
