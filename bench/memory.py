"""Memory: a task of 50 `sleep 1000` processes, once all are RUNNING (median of --samples readings).

Measured: total PSS (proportional set size: shared pages split between their sharers) of the runner plus its
50 coordinators, not the sleep processes. Goal <= 100 MB. Also printed: the runner alone and the average
coordinator (its USS, the pages it alone owns, is in the JSON). Coordinators are forked from the runner, so
most of their pages are shared copy-on-write with it; PSS counts each such page once in total. Comparator:
the RSS sum, which counts every shared page once per process — what a naive `ps` sum would say.
"""
from __future__ import annotations

import argparse
import time

import benchlib
from benchlib import MB

PROCESSES = 50
GOAL_MB = 100.0


def sample(runner, coordinators) -> dict:
    runner_info = runner.memory_full_info()
    infos = [p.memory_full_info() for p in coordinators]
    coord_pss = sum(i.pss for i in infos)
    return {"total_pss": (runner_info.pss + coord_pss) / MB, "runner_pss": runner_info.pss / MB,
            "coordinator_pss_avg": coord_pss / len(infos) / MB,
            "coordinator_uss_avg": sum(i.uss for i in infos) / len(infos) / MB,
            "coordinator_rss_avg": sum(i.rss for i in infos) / len(infos) / MB,
            "total_rss": (runner_info.rss + sum(i.rss for i in infos)) / MB, "runner_rss": runner_info.rss / MB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with benchlib.idle_task(PROCESSES) as (_, runner, coordinators):
        samples = []
        for _ in range(args.samples):
            samples.append(sample(runner, coordinators))
            time.sleep(0.5)
    m = {key: benchlib.median([s[key] for s in samples]) for key in samples[0]}
    figures = [
        benchlib.figure("memory_total_pss", m["total_pss"], "MB", "rss_sum", m["total_rss"],
                        goal=f"<= {GOAL_MB} MB", met=m["total_pss"] <= GOAL_MB, fmt="{:.1f}"),
        benchlib.figure("memory_runner_pss", m["runner_pss"], "MB", "runner_rss", m["runner_rss"], fmt="{:.1f}"),
        benchlib.figure("memory_coordinator_pss_avg", m["coordinator_pss_avg"], "MB", "coordinator_rss_avg",
                        m["coordinator_rss_avg"], fmt="{:.2f}"),
    ]
    benchlib.write_results("memory", figures, processes=PROCESSES, samples=samples, medians=m)


if __name__ == "__main__":
    main()
