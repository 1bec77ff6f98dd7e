"""Observer RSS with 10,000 finished tasks, after every task has been listed and read once.

The tasks are written as the runner writes them (real checkpoint streams, task files). A real
`thermos_observer` discovers them; then every page of /j/task_ids/finished is fetched (each task's checkpoint
read and its row built) plus 500 task pages, and the observer's RSS is read from /proc. Comparator in the
same run: the RSS of an observer with no tasks at all (the interpreter, tornado and psutil). Goal <= 100 MB.
"""
from __future__ import annotations

import os
import tempfile
import time

import psutil

import benchlib
from tests.observer_helpers import Observer, synthetic_task

FINISHED = 10_000
GOAL_MB = 100.0


def rss_mb(observer: Observer) -> float:
    return psutil.Process(observer.proc.pid).memory_info().rss / (1 << 20)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="observer-bench-") as tmp:
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        baseline_observer = Observer("--root", empty)
        try:
            baseline_observer.get("/")
            baseline_observer.json("/j/task_ids")
            baseline = rss_mb(baseline_observer)
        finally:
            baseline_observer.stop()
        root, sandbox = os.path.join(tmp, "root"), os.path.join(tmp, "sandbox")
        now = time.time()
        started = time.monotonic()
        for i in range(FINISHED):
            synthetic_task(root, f"finished-{i:05d}", sandbox, "finished", launch_time=now - 100_000 + i,
                           mtime=now - 100_000 + i)
        written_s = time.monotonic() - started
        observer = Observer("--root", root)
        try:
            deadline = time.monotonic() + 120
            while observer.json("/j/task_id_count")["finished"] < FINISHED:
                if time.monotonic() > deadline:
                    raise TimeoutError("the observer did not discover every task")
                time.sleep(0.2)
            for offset in range(0, FINISHED, 100):
                assert len(observer.json(f"/j/task_ids/finished/{offset}/100")["tasks"]) == 100
            for i in range(0, FINISHED, FINISHED // 500):
                assert observer.get(f"/task/finished-{i:05d}").status == 200
            observer.get("/")
            value = rss_mb(observer)
            peak = observer.json("/vars.json")["process.rss_bytes"] / (1 << 20)
        finally:
            observer.stop()
    fig = benchlib.figure("observer_rss_10k_finished", value, "MB", "observer_no_tasks", baseline,
                          goal=f"<= {GOAL_MB:.0f} MB", met=value <= GOAL_MB, fmt="{:.1f}")
    benchlib.write_results("observer_memory", [fig], finished=FINISHED, baseline_mb=baseline, vars_rss_mb=peak,
                           write_tasks_s=written_s)


if __name__ == "__main__":
    main()
