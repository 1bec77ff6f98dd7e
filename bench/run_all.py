"""Run every benchmark in sequence (never in parallel: they would measure each other), then print a table.

`make bench` runs this. Each script prints its own lines and writes bench/results/<metric>.json
(benchlib.write_results); the table is built from those files, and always printed. A script that exits non-zero,
or leaves no results file of that shape (an older one is removed first), is a FAILED row, and the exit status is 1;
a missed goal is reported, not an error (a benchmark is not a test). Two benchmarks are long by nature, and
each has a flag to shorten it for a quick run: --idle-seconds, the idle CPU windows (default 60), and
--cron-minutes, the minutes of cron_failover (default 10, about 11.5 minutes of wall time; at least 3).
`make bench BENCH_FLAGS="--idle-seconds 10 --cron-minutes 3"` passes them.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import benchlib

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["launch_latency", "fanout", "idle_cpu", "memory", "replay", "log_throughput", "executor_launch",
           "executor_memory", "observer_latency", "observer_cpu", "observer_memory", "log_append", "log_http_append",
           "log_recovery", "storage_create", "storage_replay", "api_create_job", "scheduler_create_job",
           "scheduler_failover", "scheduling_placement", "scheduler_placement", "scheduler_launch", "update_rollout",
           "ui_job_page", "client_startup", "client_status", "cron_failover", "cluster_local"]


def fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--cron-minutes", type=int, default=10)
    args = parser.parse_args()
    rows = [("figure", "value", "unit", "floor/comparator", "floor", "ratio", "goal", "met")]
    failed = []
    for name in SCRIPTS:
        extra = {"idle_cpu": ["--seconds", str(args.idle_seconds)],
                 "observer_cpu": ["--seconds", str(args.idle_seconds)],
                 "cluster_local": ["--seconds", str(args.idle_seconds)],
                 "cron_failover": ["--minutes", str(args.cron_minutes)]}.get(name, [])
        print(f"== {name}", flush=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(benchlib.results_path(name))
        code = subprocess.run([sys.executable, os.path.join(BENCH_DIR, f"{name}.py")] + extra).returncode
        try:
            if code:
                raise benchlib.ResultsError(f"exited with status {code}")
            figures = benchlib.read_results(name)
        except benchlib.ResultsError as e:
            print(f"{name}: FAILED: {e}", flush=True)
            failed.append(name)
            rows.append((name, "FAILED", "", "", "", "", "", ""))
            continue
        for fig in figures:
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
