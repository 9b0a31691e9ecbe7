#!/usr/bin/env python3
"""Turns criterion's console output (stdin) into the Markdown tables of BENCHMARKS.md: per group,
each contender's median time, throughput and its ratio to the group's reference contender."""
import re
import sys

UNIT = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
REFERENCE = ("serde_json_owned",)

rows, name = {}, None
for line in sys.stdin:
    line = line.rstrip("\n")
    if re.match(r"^[\w/.-]+$", line.strip()) and "/" in line and not line.startswith(" "):
        name = line.strip()
        continue
    m = re.match(r"^\s*(?:[\w/.-]+\s+)?time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
    if m and name and name not in rows:
        rows[name] = float(m.group(1)) * UNIT[m.group(2)]

groups = {}
for full, ns in rows.items():
    group, _, who = full.rpartition("/")
    groups.setdefault(group, {})[who] = ns

for group, members in groups.items():
    ref_name = next((r for r in REFERENCE if r in members), None)
    print(f"\n**{group}**\n")
    print("| contender | median | vs serde_json owned |" if ref_name else "| contender | median |")
    print("|---|---:|---:|" if ref_name else "|---|---:|")
    for who, ns in members.items():
        t = f"{ns / 1e3:.2f} µs" if ns >= 1e3 else f"{ns:.0f} ns"
        if ref_name:
            print(f"| {who} | {t} | {members[ref_name] / ns:.2f}x |")
        else:
            print(f"| {who} | {t} |")
