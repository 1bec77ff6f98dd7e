"""Executor memory, against the Mesos-API stand-in: total PSS of the Thermos executor, its runner and the
runner's coordinator for a running one-process task (the task's own process excluded). Goal: <= 64 MB.

Comparators in the same run: Aurora's reservation of 128 MB per executor, and the stand-in's trivial pymesos
echo executor (a Python process that only talks to the agent), the floor of any Python executor.
"""
from __future__ import annotations

import os
import sys
import tempfile

import benchlib  # also puts the repository on sys.path, for the imports below
import psutil
from executor_launch import EXECUTOR, TimedFramework, thermos_data
from scheduler.mesos_standin.local import LocalMesos
from tests.mesos_framework import echo_command, task_info

GOAL_MB = 64.0
AURORA_RESERVATION_MB = 128.0
SAMPLES = 5


def tree_pss(pid: int, exclude_name: str | None = None) -> float:
    """PSS in MB of a process and its descendants, skipping processes named `exclude_name`."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root] + root.children(recursive=True):
        try:
            if exclude_name and proc.name() == exclude_name:
                continue
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total / benchlib.MB


def measure(mesos, framework, task_id, command, data, exclude=None) -> float:
    """Median PSS of the executor's process tree (runner and coordinator are its descendants) while running."""
    framework.launch([task_info(task_id, command, data, {"cpus": 0.1, "mem": 32})])
    framework.wait_for_state(task_id, "TASK_RUNNING", timeout=60)
    pid = mesos.executor_pid(f"{task_id}-executor")
    samples = [tree_pss(pid, exclude) for _ in range(SAMPLES)]
    framework.kill(task_id)
    framework.wait_for_state(task_id, "TASK_KILLED", timeout=120)
    return benchlib.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        mesos = LocalMesos(os.path.join(work, "mesos"), hostname="127.0.0.1").start()
        framework = TimedFramework(mesos.master_address).start()
        try:
            ours = measure(mesos, framework, "mem-thermos", f"{EXECUTOR} --nosetuid", thermos_data("mem-thermos"),
                           exclude="sleep")
            echo = measure(mesos, framework, "mem-echo", echo_command(), b"{}")
        finally:
            framework.stop()
            mesos.stop()
    figures = [
        benchlib.figure("executor_runner_pss (against the Mesos-API stand-in)", ours, "MB",
                        "aurora_reservation", AURORA_RESERVATION_MB, goal=f"<= {GOAL_MB:g} MB", met=ours <= GOAL_MB),
        benchlib.figure("executor_runner_pss (against the Mesos-API stand-in)", ours, "MB",
                        "echo_executor_pss", echo),
    ]
    benchlib.write_results("executor_memory", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
