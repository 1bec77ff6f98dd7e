"""Memory: a task of 50 `sleep 1000` processes, once all are RUNNING (median of --samples readings).

Measured: total PSS (proportional set size: shared pages split between their sharers) of the runner, its
fork server and the 50 coordinators, not the sleep processes. Goal <= 100 MB. Also printed: the runner with
its fork server, and the average coordinator (its USS, the pages it alone owns, is in the JSON). Coordinators
are forked from the fork server, itself a fork of the runner, so most of their pages are shared copy-on-write;
PSS counts each such page once in total. Comparator: the RSS sum, which counts every shared page once per
process — what a naive `ps` sum would say.

Second figure: the same task where every process first failed at a random time and was restarted, so that
the coordinators were forked one at a time while the runner worked in between (when the runner forked them
itself, each then kept its own copy of the pages the runner wrote afterwards: 128 MB here).
"""
from __future__ import annotations

import argparse
import time

import benchlib
from benchlib import MB

PROCESSES = 50
GOAL_MB = 100.0


def sample(runners, coordinators) -> dict:
    runner_infos = [p.memory_full_info() for p in runners]
    runner_pss, runner_rss = sum(i.pss for i in runner_infos), sum(i.rss for i in runner_infos)
    infos = [p.memory_full_info() for p in coordinators]
    coord_pss = sum(i.pss for i in infos)
    return {"total_pss": (runner_pss + coord_pss) / MB, "runner_pss": runner_pss / MB,
            "coordinator_pss_avg": coord_pss / len(infos) / MB,
            "coordinator_uss_avg": sum(i.uss for i in infos) / len(infos) / MB,
            "coordinator_rss_avg": sum(i.rss for i in infos) / len(infos) / MB,
            "total_rss": (runner_rss + sum(i.rss for i in infos)) / MB, "runner_rss": runner_rss / MB}


def measure(samples: int, restarted: bool) -> dict:
    """Medians of `samples` readings of the idle task (see benchlib.idle_task for `restarted`)."""
    with benchlib.idle_task(PROCESSES, restarted) as (_, runners, coordinators):
        readings = []
        for _ in range(samples):
            readings.append(sample(runners, coordinators))
            time.sleep(0.5)
    return {key: benchlib.median([s[key] for s in readings]) for key in readings[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    m = measure(args.samples, restarted=False)
    r = measure(args.samples, restarted=True)
    figures = [
        benchlib.figure("memory_total_pss", m["total_pss"], "MB", "rss_sum", m["total_rss"],
                        goal=f"<= {GOAL_MB} MB", met=m["total_pss"] <= GOAL_MB, fmt="{:.1f}"),
        benchlib.figure("memory_runner_and_forker_pss", m["runner_pss"], "MB", "their rss", m["runner_rss"],
                        fmt="{:.1f}"),
        benchlib.figure("memory_coordinator_pss_avg", m["coordinator_pss_avg"], "MB", "coordinator_rss_avg",
                        m["coordinator_rss_avg"], fmt="{:.2f}"),
        benchlib.figure("memory_total_pss_restarted", r["total_pss"], "MB", "launched together", m["total_pss"],
                        goal=f"<= {GOAL_MB} MB", met=r["total_pss"] <= GOAL_MB, fmt="{:.1f}"),
    ]
    benchlib.write_results("memory", figures, processes=PROCESSES, medians=m, medians_restarted=r)


if __name__ == "__main__":
    main()
