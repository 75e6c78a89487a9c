#!/usr/bin/env python3
"""stack_marks.py REPORT.json: for every call a capri-stack JSON report
charges a measured mark (its "marked_calls"), print
`CALLEE CALLER mark=N table=M`, where M is the callee's figure in the
plugin's tables (passes/LibcStackMarks.def, passes/RuntimeStackMarks.def;
"none" when they do not list it). Tests check that the two agree without
repeating the measured figures, which change when the tables are measured
again."""
import json
import os
import re
import sys

PASSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "passes")


def table():
    marks = {}
    for name in ("LibcStackMarks.def", "RuntimeStackMarks.def"):
        with open(os.path.join(PASSES, name)) as f:
            for m in re.finditer(r"^CAPRI_(?:LIBC|RUNTIME)_MARK\((\w+), (\d+)\)", f.read(), re.M):
                marks[m.group(1)] = int(m.group(2))
    return marks


def main():
    with open(sys.argv[1]) as f:
        report = json.load(f)
    marks = table()
    for call in report["marked_calls"]:
        print(f'{call["callee"]} {call["caller"]} mark={call["mark"]} '
              f'table={marks.get(call["callee"], "none")}')


if __name__ == "__main__":
    main()
