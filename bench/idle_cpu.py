"""Idle CPU: a task of 50 `sleep 1000` processes, once all are RUNNING, over --seconds (default 60).

Measured: CPU seconds (user + system, children excluded) used by the runner plus all 50 coordinators over the
window, as a percentage of one core. Goal <= 0.5 %. Floor: 0 — nothing happens, so an event-driven runner
(docs/decisions.md, decision 5) should sleep in `select` and its coordinators in `waitpid`; anything above 0 is
polling or timers (the JSON also counts voluntary wake-ups in the window). No ratio: one to 0 means nothing.
"""
from __future__ import annotations

import argparse
import time

import benchlib

PROCESSES = 50
GOAL_PERCENT = 0.5


def wakeups(procs) -> int:
    return sum(p.num_ctx_switches().voluntary for p in procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with benchlib.idle_task(PROCESSES) as (_, runners, coordinators):
        start_runner, start_coord = benchlib.cpu_seconds(*runners), benchlib.cpu_seconds(*coordinators)
        start_wakeups = wakeups(runners + coordinators)
        start = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - start
        used_runner = benchlib.cpu_seconds(*runners) - start_runner
        used_coord = benchlib.cpu_seconds(*coordinators) - start_coord
        woke = wakeups(runners + coordinators) - start_wakeups
    percent = (used_runner + used_coord) / elapsed * 100
    fig = benchlib.figure("idle_cpu", percent, "%core", "floor", 0.0, goal=f"<= {GOAL_PERCENT} %",
                          met=percent <= GOAL_PERCENT, fmt="{:.3f}")
    benchlib.write_results("idle_cpu", [fig], seconds=elapsed, processes=PROCESSES, runner_cpu_s=used_runner,
                           coordinators_cpu_s=used_coord, voluntary_wakeups_in_window=woke,
                           cpu_times_resolution_s=0.01)


if __name__ == "__main__":
    main()
