"""check_path.py REPORT.json BINARY ROOT F1 F2 ...

Hand computation of a worst path: the stack of ROOT must be the sum of the
corrected backend frames of F1..Fn (each .stack_sizes figure + 8 for the
return address, + 128 for the last, a leaf that may use the red zone), the
report's path must be exactly F1..Fn, and each step must come from the
source file the report names."""
import json
import re
import subprocess
import sys

report, binary, root, *path = sys.argv[1:]
data = json.load(open(report))
out = subprocess.run(["llvm-readobj", "--stack-sizes", binary],
                     check=True, capture_output=True, text=True).stdout
sizes = {m.group(1): int(m.group(2), 0)
         for m in re.finditer(r"Functions: \[(\S+)\]\s+Size: (0x[0-9a-fA-F]+|\d+)", out)}
expected = sum(sizes[f] + 8 for f in path) + 128
r = next(r for r in data["roots"] if r["function"] == root)
got_path = [step["function"] for step in r["path"]]
files = [step["file"].rsplit("/", 1)[-1] for step in r["path"]]
print(f"path {' -> '.join(got_path)} in {', '.join(files)}")
print(f"stack {r['stack']} expected {expected}")
ok = got_path == path and r["stack"] == expected and all(s["source"] == "backend" for s in r["path"])
print("match" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
