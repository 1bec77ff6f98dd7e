"""Executor launch latency, against the Mesos-API stand-in: from the scheduler's ACCEPT to the TASK_RUNNING it
receives, for a one-process task without a health check (so RUNNING is sent as soon as the runner has the
task). Goal: p50 <= 300 ms.

Comparator, in the same run and alternated with ours: the stand-in's trivial pymesos echo executor, which sends
TASK_RUNNING the moment it gets the task. The difference is what the Thermos executor costs on top of
"start a Python executor and talk to the agent": the runner's own start, its checkpoint, the first process.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import benchlib  # also puts the repository on sys.path, for the imports below
from scheduler.mesos_standin.local import LocalMesos
from tests.mesos_framework import TestFramework, echo_command, task_info
from tests.task_data import encoded
from thermos_executor.config import schema

ROUNDS = 11
GOAL_MS = 300.0
EXECUTOR = os.path.join(os.path.dirname(sys.executable), "thermos_executor")


class TimedFramework(TestFramework):
    """Stamps when each task was accepted and when each of its updates arrived."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.stamps = {}
        launch = self.driver.launchTasks

        def timed_launch(offer_id, tasks, *rest):
            for task in tasks:
                self.stamps[(task["task_id"]["value"], "ACCEPT")] = time.monotonic()
            return launch(offer_id, tasks, *rest)

        self.driver.launchTasks = timed_launch

    def statusUpdate(self, driver, update):  # noqa: N802 - pymesos' name
        self.stamps.setdefault((update["task_id"]["value"], update["state"]), time.monotonic())
        super().statusUpdate(driver, update)


def thermos_data(task_id: str) -> bytes:
    """The Thrift-binary AssignedTask a scheduler sends."""
    task = schema.Task(name="bench", processes=[schema.Process(name="p", cmdline="exec sleep 1000")],
                       resources=schema.Resources(cpu=0.1, ram=schema.MB, disk=schema.MB))
    job = schema.Service(cluster="local", role="bench", environment="test", name="bench", task=task)
    return encoded(job, task_id=task_id, host="127.0.0.1")


def one(framework: TimedFramework, task_id: str, command: str, data: bytes) -> float:
    framework.launch([task_info(task_id, command, data, {"cpus": 0.1, "mem": 32})])
    framework.wait_for_state(task_id, "TASK_RUNNING", timeout=60)
    elapsed = framework.stamps[(task_id, "TASK_RUNNING")] - framework.stamps[(task_id, "ACCEPT")]
    framework.kill(task_id)
    framework.wait_for_state(task_id, "TASK_KILLED", timeout=120)
    return elapsed * 1000


def main() -> int:
    ours, echo = [], []
    with tempfile.TemporaryDirectory() as work:
        mesos = LocalMesos(os.path.join(work, "mesos"), hostname="127.0.0.1").start()
        framework = TimedFramework(mesos.master_address).start()
        try:
            for i in range(ROUNDS):
                ours.append(one(framework, f"thermos-{i}", f"{EXECUTOR} --nosetuid", thermos_data(f"thermos-{i}")))
                echo.append(one(framework, f"echo-{i}", echo_command(), b"{}"))
        finally:
            framework.stop()
            mesos.stop()
    p50, echo_p50 = benchlib.median(ours), benchlib.median(echo)
    figures = [benchlib.figure("executor_accept_to_running_p50 (against the Mesos-API stand-in)", p50, "ms",
                               "echo executor", echo_p50, goal=f"<= {GOAL_MS:g} ms", met=p50 <= GOAL_MS)]
    benchlib.write_results("executor_launch", figures, ours_ms=ours, echo_ms=echo,
                           p90_ms=benchlib.percentile(ours, 90))
    return 0


if __name__ == "__main__":
    sys.exit(main())
