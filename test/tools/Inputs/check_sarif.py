#!/usr/bin/env python3
"""check_sarif.py FILE: check the parts of SARIF 2.1.0 that code-scanning
services rely on, then print one line per result for FileCheck."""
import json
import sys

LEVELS = {"none", "note", "warning", "error"}
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0", d.get("version")
assert d["$schema"].endswith("sarif-2.1.0.json")
assert len(d["runs"]) == 1
run = d["runs"][0]
driver = run["tool"]["driver"]
assert driver["name"] == "capri-stack"
rules = [r["id"] for r in driver["rules"]]
assert rules == ["recursion", "unresolved-indirect", "dynamic-alloca", "external", "stack-limit",
                 "dead-state", "live-state"], rules
for r in driver["rules"]:
    assert r["shortDescription"]["text"]
    assert r["defaultConfiguration"]["level"] in LEVELS
for res in run["results"]:
    assert res["ruleId"] in rules
    assert rules[res["ruleIndex"]] == res["ruleId"]
    assert res["level"] in LEVELS
    assert res["message"]["text"]
    locs = res["locations"]
    where = "-"
    for loc in locs + res.get("relatedLocations", []):
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"]
        if "region" in phys:
            assert phys["region"]["startLine"] >= 1
    if locs:
        phys = locs[0]["physicalLocation"]
        where = phys["artifactLocation"]["uri"] + ":" + str(phys.get("region", {}).get("startLine", "-"))
    print(f"result {res['ruleId']} {res['level']} {where} related={len(res.get('relatedLocations', []))}")
print("sarif ok")
