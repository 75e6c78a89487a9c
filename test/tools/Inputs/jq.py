#!/usr/bin/env python3
"""jq.py FILE EXPR...: load FILE as JSON (it must parse) and print
`EXPR = value` for each Python expression over the document `d`."""
import json
import sys

with open(sys.argv[1]) as f:
    d = json.load(f)
for expr in sys.argv[2:]:
    print(f"{expr} = {json.dumps(eval(expr, {'d': d}))}")
