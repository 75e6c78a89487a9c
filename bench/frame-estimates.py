#!/usr/bin/env python3
"""How tight the plugin's frame estimates are, on Lua 5.4 (Debian's sources).

    bench/frame-estimates.py BUILD_DIR [--opt O0 O2 ...]

Builds the Lua interpreter with capri-cc at each level, then compares every function's estimate with the
backend's corrected size (capri-stack verify and capri-stack --format json)
and prints Markdown tables: the per-function distribution of estimate over
corrected backend size, the sums, what the estimates are made of, where the
excess sits (leaf functions, which carry the red zone, against the rest),
and the functions with the largest excess.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def lua_source(build):
    src = subprocess.run([os.path.join(ROOT, "scripts", "debian-source.sh"), "lua5.4",
                          os.path.join(build, "lua", "source")],
                         check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(src, "src", "lua5.4-deb-multiarch.h"), "w") as f:
        f.write('#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n')
    return os.path.join(src, "src")


def build_level(build, src, opt):
    out = os.path.join(build, "lua", "estimates-" + opt)
    os.makedirs(out, exist_ok=True)
    cc = os.path.join(build, "bin", "capri-cc")
    objs = []
    for f in sorted(os.listdir(src)):
        if not f.endswith(".c") or f in ("luac.c", "onelua.c"):
            continue
        o = os.path.join(out, f[:-2] + ".o")
        subprocess.run([cc, "-" + opt, "-g", "-DLUA_USE_LINUX", "-c", os.path.join(src, f), "-o", o],
                       check=True)
        objs.append(o)
    exe = os.path.join(out, "lua")
    subprocess.run([cc, "-" + opt] + objs + ["-o", exe, "-lm"], check=True)
    return exe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--opt", nargs="+", default=["O0", "O2"])
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    stack = os.path.join(build, "bin", "capri-stack")
    src = lua_source(build)

    summary = ["| level | functions compared | underestimates | median | p90 | max | sum of estimates | sum of corrected backend sizes | sum ratio |",
               "|---|---|---|---|---|---|---|---|---|"]
    details = []
    for opt in args.opt:
        exe = build_level(build, src, opt)
        v = json.loads(subprocess.run([stack, "verify", "--format", "json", exe],
                                      capture_output=True, text=True).stdout)
        r = v["ratio"]
        summary.append(f"| -{opt} | {v['compared']} | {v['underestimate_count']} | {r['median']:.2f} | "
                       f"{r['p90']:.2f} | {r['max']:.2f} | {v['sum_estimates']:,} | "
                       f"{v['sum_corrected_backend']:,} | {v['sum_ratio']:.2f} |")
        rep = json.loads(subprocess.run([stack, "--format", "json", exe],
                                        capture_output=True, text=True).stdout)
        rows = [(fn, {"FrameBytes": fn["estimate"], "Allocas": fn["estimate_allocas"],
                      "Spills": fn["estimate_spills"]})
                for fn in rep["functions"] if fn["backend"] is not None]
        alloc = sum(p["Allocas"] for _, p in rows)
        spill = sum(p["Spills"] for _, p in rows)
        total = sum(p["FrameBytes"] for _, p in rows)
        corrected = sum(f["frame"] for f, _ in rows)
        leaf = [(f, p) for f, p in rows if f.get("leaf")]
        nonleaf = [(f, p) for f, p in rows if not f.get("leaf")]
        def excess(rs):
            return sum(p["FrameBytes"] - f["frame"] for f, p in rs)
        details.append(f"\n#### -{opt}\n")
        details.append(f"Estimates of {len(rows)} functions: {total:,} bytes, of which stack objects "
                       f"{alloc:,} ({100 * alloc / total:.0f}%), spills {spill:,} ({100 * spill / total:.0f}%), "
                       f"and fixed parts (return address, callee-saved registers, alignment, margin, "
                       f"stack arguments, varargs area, red zone of leaf functions) "
                       f"{total - alloc - spill:,} ({100 * (total - alloc - spill) / total:.0f}%). "
                       f"Corrected backend sizes: {corrected:,}.\n")
        details.append(f"Excess (estimate - corrected backend): {excess(rows):,} bytes in all; "
                       f"{len(nonleaf)} functions that call: {excess(nonleaf):,}; "
                       f"{len(leaf)} leaf functions: {excess(leaf):,}.\n")
        details.append("| function | estimate | allocas | spills | corrected backend | excess |")
        details.append("|---|---|---|---|---|---|")
        for f, p in sorted(rows, key=lambda fp: fp[1]["FrameBytes"] - fp[0]["frame"], reverse=True)[:8]:
            details.append(f"| {f['function']} | {p['FrameBytes']} | {p['Allocas']} | {p['Spills']} | "
                           f"{f['frame']} | {p['FrameBytes'] - f['frame']} |")
    print("\n".join(summary))
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
