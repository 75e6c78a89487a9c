#!/usr/bin/env python3
"""Compile-time overhead of the capri plugin on Lua 5.4 (Debian's sources).

    bench/plugin-overhead.py BUILD_DIR [--runs N] [--callgrind FILE...]

Compiles every Lua source file at -O2 -g, serially, in three configurations:
  base     clang-19 -fstack-size-section
  plugin   the same with -fpass-plugin=CapriPlugin.so
  capri-cc the same through capri-cc (plugin + KCFI type ids)
and reports the median CPU time (user+sys of the compiler processes) over
N interleaved runs, with ratios to base. CPU time is less noisy than wall
time here; with --callgrind it also counts instructions of single compiles
under valgrind, which is exact.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def lua_sources(build):
    work = os.path.join(build, "lua")
    src = subprocess.run([os.path.join(ROOT, "scripts", "debian-source.sh"), "lua5.4",
                          os.path.join(work, "source")],
                         check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(src, "src", "lua5.4-deb-multiarch.h"), "w") as f:
        f.write('#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n')
    d = os.path.join(src, "src")
    files = sorted(os.path.join(d, f) for f in os.listdir(d)
                   if f.endswith(".c") and f not in ("onelua.c",))
    return files


def configs(build):
    clang = "/usr/lib/llvm-19/bin/clang"
    plugin = os.path.join(build, "lib", "CapriPlugin.so")
    common = ["-O2", "-g", "-DLUA_USE_LINUX", "-fstack-size-section"]
    return {
        "base": [clang] + common,
        "plugin": [clang] + common + ["-fpass-plugin=" + plugin],
        "capri-cc": [os.path.join(build, "bin", "capri-cc")] + common,
    }


def cpu_time(cmds):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for c in cmds:
        subprocess.run(c, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--callgrind", nargs="*", default=[])
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    files = lua_sources(build)
    cfgs = configs(build)
    out = tempfile.mkdtemp()
    times = {k: [] for k in cfgs}
    for _ in range(args.runs):
        for name, base in cfgs.items():  # interleaved: noise hits all alike
            cmds = [base + ["-c", f, "-o", os.path.join(out, name + os.path.basename(f) + ".o")]
                    for f in files]
            times[name].append(cpu_time(cmds))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"Lua 5.4: {len(files)} files at -O2 -g, median CPU seconds of {args.runs} runs")
    print("| configuration | CPU s (median) | min | max | ratio to base |")
    print("|---|---|---|---|---|")
    for k in cfgs:
        print(f"| {k} | {med[k]:.2f} | {min(times[k]):.2f} | {max(times[k]):.2f} | "
              f"{med[k] / med['base']:.3f} |")
    if args.callgrind:
        print()
        # valgrind 3.19 cannot read clang 19's DWARF 5 in the plugin: count
        # with a copy stripped of debug information (the code is the same).
        stripped = os.path.join(out, "CapriPlugin.so")
        subprocess.run(["/usr/lib/llvm-19/bin/llvm-strip", "--strip-debug",
                        os.path.join(build, "lib", "CapriPlugin.so"), "-o", stripped], check=True)
        cg_cfgs = dict(cfgs)
        cg_cfgs["plugin"] = [a if not a.startswith("-fpass-plugin=") else "-fpass-plugin=" + stripped
                             for a in cfgs["plugin"]]
        print("| file | base instructions | plugin instructions | ratio |")
        print("|---|---|---|---|")
        for name in args.callgrind:
            f = next(x for x in files if os.path.basename(x) == name)
            counts = {}
            for k in ("base", "plugin"):
                cg = os.path.join(out, f"cg.{k}.{name}.out")
                subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg]
                               + cg_cfgs[k] + ["-c", f, "-o", os.path.join(out, "cg.o")],
                               check=True, capture_output=True)
                with open(cg) as fh:
                    for line in fh:
                        if line.startswith("totals:") or line.startswith("summary:"):
                            counts[k] = int(line.split()[1])
            print(f"| {name} | {counts['base']:,} | {counts['plugin']:,} | "
                  f"{counts['plugin'] / counts['base']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
