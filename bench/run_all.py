"""Run every benchmark in sequence (never in parallel: they would measure each other), then print a table.

`make bench` runs this. Each script prints its own lines and writes bench/results/<metric>.json; the table is
built from those files. --idle-seconds shortens the idle CPU window for a quick run (default 60).
Exit status 1 if a script failed; a missed goal is reported, not an error (a benchmark is not a test).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["launch_latency", "fanout", "idle_cpu", "memory", "replay", "log_throughput", "executor_launch",
           "executor_memory", "observer_latency", "observer_cpu", "observer_memory", "log_append", "log_http_append",
           "log_recovery"]


def fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    failed = []
    for name in SCRIPTS:
        extra = ["--seconds", str(args.idle_seconds)] if name in ("idle_cpu", "observer_cpu") else []
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, os.path.join(BENCH_DIR, f"{name}.py")] + extra).returncode:
            failed.append(name)
    rows = [("figure", "value", "unit", "floor/comparator", "floor", "ratio", "goal", "met")]
    for name in SCRIPTS:
        if name in failed:
            rows.append((name, "FAILED", "", "", "", "", "", ""))
            continue
        with open(os.path.join(BENCH_DIR, "results", f"{name}.json")) as f:
            for fig in json.load(f)["figures"]:
                met = {True: "yes", False: "NO", None: ""}[fig["met"]]
                ratio = "-" if fig["ratio"] is None else f"{fig['ratio']:.2f}x"
                rows.append((fig["name"], fmt(fig["value"]), fig["unit"], fig["floor_name"], fmt(fig["floor"]),
                             ratio, fig["goal"] or "", met))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print()
    for i, row in enumerate(rows):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
