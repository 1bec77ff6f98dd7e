"""Launch latency: spawning `thermos run` -> its first process's RUNNING record (p50 of >= 15 runs).

The figure is `start_time` of the first run in the runner checkpoint minus the moment just before this script
spawned `thermos run` (both wall clock, same machine). Goal: p50 <= 100 ms.

Floor, measured in the same run: what no Python runner can avoid, i.e. starting the same venv interpreter and
importing the same CLI modules (`python -c 'import thermos_executor.cli.thermos'`, ended with os._exit so
that the interpreter's ~10 ms teardown, which a runner does not pay before its first process, is not
counted), plus one spawn of /bin/true (the process itself). The sum of the two medians is the floor; the
rest is the runner's own work (loading the config, taking the checkpoint lock, fsync'd records, forking the
coordinator). The JSON splits the latency at the runner header's launch_time, and gives the bare interpreter.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile

import benchlib

GOAL_MS = 100.0


def launch_once(config: str) -> dict:
    with benchlib.RunningTask(config) as task:
        task.wait()
        records = task.records()
    header = next(r["header"] for r in records if "header" in r)
    running = next(r["process_status"] for r in records
                   if "process_status" in r and r["process_status"]["state"] == "RUNNING")
    return {"latency": running["start_time"] - task.spawned_at,
            "to_header": header["launch_time"] - task.spawned_at,
            "header_to_running": running["start_time"] - header["launch_time"]}


def run(argv) -> float:
    """Seconds to run `argv` to its end."""
    return benchlib.timed(subprocess.run, argv, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thermos-bench-") as tmp:
        config = benchlib.task_file(tmp, 1, "true")
        launches, imports, spawns, bare = [], [], [], []
        for _ in range(args.runs):   # interleaved, so noise hits runner and floor alike
            launches.append(launch_once(config))
            imports.append(run([benchlib.PYTHON, "-c", "import thermos_executor.cli.thermos, os; os._exit(0)"]))
            spawns.append(run(["/bin/true"]))
            bare.append(run([benchlib.PYTHON, "-c", "import os; os._exit(0)"]))
    latency = [x["latency"] * 1000 for x in launches]
    p50 = benchlib.median(latency)
    floor = (benchlib.median(imports) + benchlib.median(spawns)) * 1000
    fig = benchlib.figure("launch_latency_p50", p50, "ms", "interpreter+imports+spawn", floor,
                          goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}")
    benchlib.write_results(
        "launch_latency", [fig], runs=args.runs, latency_ms=latency,
        p90_ms=benchlib.percentile(latency, 90),
        spawn_to_header_ms_p50=benchlib.median([x["to_header"] * 1000 for x in launches]),
        header_to_running_ms_p50=benchlib.median([x["header_to_running"] * 1000 for x in launches]),
        bare_interpreter_ms_p50=benchlib.median(bare) * 1000, import_ms_p50=benchlib.median(imports) * 1000,
        spawn_true_ms_p50=benchlib.median(spawns) * 1000)


if __name__ == "__main__":
    main()
