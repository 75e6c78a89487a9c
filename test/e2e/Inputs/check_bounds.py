"""check_bounds.py REPORT.json ESTIMATES REWRITTEN [early] [sanitized]

ESTIMATES and REWRITTEN are the outputs of a program that prints its table
slots (bounds_dump.h) under CAPRI_BOUNDS=estimates and by default; REPORT is
capri-stack's JSON report of the program (the backend's corrected frames).
ESTIMATES may be the word `early`: the slots REWRITTEN printed before
libcapri's constructor then stand for the plugin's bounds (a sanitized
program refuses CAPRI_BOUNDS=estimates).
With `early`, the slots printed before libcapri's constructor must still hold
the plugin's bounds in both runs. With `sanitized` (a program built with
ASan), rewritten slots may be above the plugin's: a sanitizer's runtime calls
inside a callee are charged the external reserve, which the plugin's
cross-file reserve did not count."""
import json
import re
import sys

report, est_path, rew_path, *opts = sys.argv[1:]
functions = {}
for f in json.load(open(report))["functions"]:
    functions.setdefault(f["function"], []).append(f)

LINE = re.compile(r"(\w+) slot (\S+) (\S+) -> (\S+) region (\d+) args (\d+) table (\d+) "
                  r"(same|changed)$")


def slots(path, tag):
    out = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if m and m.group(1) == tag:
            out[m.group(2)] = dict(caller=m.group(3), callee=m.group(4), region=int(m.group(5)),
                                   args=int(m.group(6)), table=int(m.group(7)))
    return out


failures = []
if est_path == "early":
    est_path, est_tag = rew_path, "early"
else:
    est_tag = "main"
est = slots(est_path, est_tag)
rew = slots(rew_path, "main")
if not est or est.keys() != rew.keys():
    failures.append(f"slot sets differ: {sorted(est)} vs {sorted(rew)}")
for key, s in est.items():
    if s["table"] != min(s["region"], 1 << 40):
        failures.append(f"estimates: {key} holds {s['table']}, the plugin said {s['region']}")
if "early" in opts:
    for path in (est_path, rew_path):
        for key, s in slots(path, "early").items():
            if s["table"] != min(s["region"], 1 << 40):
                failures.append(f"{path}: {key} was {s['table']} before the rewrite")
if not failures:
    print("estimates: every slot holds the plugin's bound")

seen = set()
lower = 0
for key, s in rew.items():
    callee = s["callee"]
    defs = functions.get(callee, [])
    if not defs:
        if s["table"] != s["region"]:
            failures.append(f"{key} {s['caller']} -> {callee}: no metadata, yet {s['table']} "
                            f"replaced {s['region']}")
        seen.add(callee)
        continue
    frame = max(d["frame"] for d in defs)
    if any(d["source"] != "backend" for d in defs):
        failures.append(f"{callee} has no backend frame in the report")
    truth = frame + s["args"]
    if s["table"] < truth:
        failures.append(f"{key} {s['caller']} -> {callee}: {s['table']} is below the backend's "
                        f"{truth}")
    if s["table"] > s["region"] and "sanitized" not in opts:
        failures.append(f"{key} {s['caller']} -> {callee}: {s['table']} is above the plugin's "
                        f"{s['region']}")
    if all(d["calls"] == 0 for d in defs) and s["table"] != truth:
        failures.append(f"{key} {s['caller']} -> {callee}: leaf callee, {s['table']} != {truth}")
    if callee == "other_args" and s["args"] != 16:
        failures.append(f"other_args passes {s['args']} bytes on the stack, not 16")
    lower += s["table"] < s["region"]
    seen.add(callee)
want = {"other_leaf", "other_chain", "other_args", "printf"}
if not want <= seen:
    failures.append(f"no table slot for {sorted(want - seen)}")
if lower == 0 and "sanitized" not in opts:
    failures.append("no slot was rewritten lower")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("rewritten: other_leaf exact, other_chain at least its frame, other_args with its stack "
      "arguments, printf kept")
print(f"ok: {len(rew)} slots, {lower} lower")
