#!/usr/bin/env python3
"""gen.py DIR [--functions N] [--files K] [--seed S]

Writes a C program of N functions in K files (plus main.c) for measuring
libcapri's start-up bounds pass (bench/bounds/run.sh). Each function has a
frame of its own (a volatile array of 16 to 1200 bytes) and calls one to
three others: mostly later functions of its file (chains long enough for
MaxPath checkpoints), some in other files (cross-file checkpoints, which the
pass resolves by name), some earlier ones (cycles), a few libc functions.
A third of each file's functions are static. Nothing runs: main calls into
the graph only when given more than 100 arguments, so the run measures
start-up alone."""
import argparse
import os
import random

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--functions", type=int, default=50000)
ap.add_argument("--files", type=int, default=100)
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()
rng = random.Random(args.seed)
os.makedirs(args.dir, exist_ok=True)

per_file = args.functions // args.files
names = [[f"f{k}_{i}" for i in range(per_file)] for k in range(args.files)]
static = [[i % 3 == 2 for i in range(per_file)] for k in range(args.files)]

for k in range(args.files):
    lines = ["#include <stdio.h>", "#include <string.h>", ""]
    # Every global function of every file, declared (cross-file calls).
    for i in range(per_file):
        lines.append(f"{'static ' if static[k][i] else ''}int {names[k][i]}(int x);")
    others = [(kk, i) for kk in rng.sample(range(args.files), min(8, args.files)) if kk != k
              for i in range(per_file) if not static[kk][i]]
    for kk, i in others:
        lines.append(f"int {names[kk][i]}(int x);")
    lines.append("")
    for i in range(per_file):
        size = rng.choice([16, 32, 64, 128, 256, 400, 600, 900, 1200])
        calls = []
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.70 and i + 1 < per_file:
                calls.append(names[k][rng.randint(i + 1, min(per_file - 1, i + 40))])
            elif r < 0.88 and others:
                kk, j = rng.choice(others)
                calls.append(names[kk][j])
            elif r < 0.96 and i > 0:
                calls.append(names[k][rng.randint(max(0, i - 40), i - 1)])
            else:
                calls.append(rng.choice(["(int)strlen(&\"abc\"[x & 1])", "puts(\"x\")"]))
        attrs = "__attribute__((noinline, used)) static" if static[k][i] else "__attribute__((noinline))"
        body = [f"{attrs} int {names[k][i]}(int x)", "{",
                f"    volatile char buf[{size}];",
                f"    buf[x % {size}] = (char)x;",
                f"    int r = buf[(x + 1) % {size}];",
                "    if (x <= 0)",
                "        return r;"]
        for c in calls:
            body.append(f"    r += {c if '(' in c else c + '(x - 1)'};")
        body += ["    return r;", "}", ""]
        lines += body
    with open(os.path.join(args.dir, f"file{k}.c"), "w") as f:
        f.write("\n".join(lines))

with open(os.path.join(args.dir, "main.c"), "w") as f:
    f.write("int f0_0(int x);\n\nint main(int argc, char **argv)\n{\n    (void)argv;\n"
            "    return argc > 100 ? f0_0(argc) : 0;\n}\n")
print(f"{args.files * per_file} functions in {args.files} files")
