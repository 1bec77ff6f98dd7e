"""Observer CPU with 50 active tasks at its default intervals, over --seconds (default 60).

The 50 active tasks are written as the runner writes them, each with one RUNNING process whose coordinator
is a real live process tree (`sh` with a `sleep` child), so the sampler really walks and samples 50 process
trees every 20 s and measures 50 sandboxes every 60 s, and discovery scans every second. No HTTP requests.
Measured: the observer's user+system CPU seconds over the window, as a percentage of one core.
Goal <= 2 %. Floor 0: an idle observer could sleep between timers (no ratio against 0).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

import psutil

import benchlib
from tests.observer_helpers import Observer
from thermos_executor.runner import ckpt
from thermos_executor.runner.paths import TaskPath
from thermos_executor.runner.state import process_record

TASKS = 50
GOAL_PERCENT = 2.0


def active_task(root: str, task_id: str, sandbox: str, coordinator: psutil.Process, child: psutil.Process):
    paths = TaskPath(root, task_id)
    os.makedirs(paths.checkpoint_dir, exist_ok=True)
    os.makedirs(os.path.join(sandbox, ".logs", "main", "0"), exist_ok=True)
    with open(os.path.join(sandbox, "data"), "wb") as f:
        f.write(os.urandom(256 * 1024))
    t = coordinator.create_time()
    writer = ckpt.Writer(paths.runner_checkpoint, durable_name=False)
    writer.write({"task_status": {"state": "ACTIVE", "timestamp": t, "runner_pid": 1, "runner_uid": 0}}, sync=False)
    writer.write({"header": {"task_id": task_id, "launch_time": t, "sandbox": sandbox,
                             "log_dir": os.path.join(sandbox, ".logs"), "hostname": "bench", "user": "root", "uid": 0,
                             "ports": {}}}, sync=False)
    writer.write(process_record("main", "WAITING", 0), sync=False)
    writer.write(process_record("main", "FORKED", 1, coordinator_pid=coordinator.pid, fork_time=t), sync=False)
    writer.write(process_record("main", "RUNNING", 2, pid=child.pid, start_time=child.create_time()), sync=False)
    writer.close()
    os.makedirs(os.path.dirname(paths.task_file("active")), exist_ok=True)
    with open(paths.task_file("active"), "w") as f:
        f.write('{"name": "cpu-bench", "processes": [{"name": "main", "cmdline": "sleep 1000"}]}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    trees = []
    with tempfile.TemporaryDirectory(prefix="observer-bench-") as tmp:
        root = os.path.join(tmp, "root")
        try:
            for i in range(TASKS):
                sh = subprocess.Popen(["sh", "-c", "sleep 1000 & wait"], start_new_session=True)
                trees.append(sh)
                proc = psutil.Process(sh.pid)
                child = benchlib_wait_child(proc)
                active_task(root, f"active-{i:03d}", os.path.join(tmp, "sandboxes", f"active-{i:03d}"), proc, child)
            observer = Observer("--root", root)
            try:
                observer.wait_task("active-000", "active", timeout=60)
                benchlib_wait_sampled(observer)
                me = psutil.Process(observer.proc.pid)
                start_cpu, start = sum(me.cpu_times()[:2]), time.monotonic()
                time.sleep(args.seconds)
                used, elapsed = sum(me.cpu_times()[:2]) - start_cpu, time.monotonic() - start
                sampled = observer.json("/vars.json")
            finally:
                observer.stop()
        finally:
            for sh in trees:
                os.killpg(sh.pid, 9)
                sh.wait()
    percent = used / elapsed * 100
    fig = benchlib.figure("observer_cpu", percent, "%core", "floor", 0.0, goal=f"<= {GOAL_PERCENT} %",
                          met=percent <= GOAL_PERCENT, fmt="{:.3f}")
    benchlib.write_results("observer_cpu", [fig], seconds=elapsed, tasks=TASKS, cpu_s=used,
                           last_process_collection_ms=sampled["observer.sampler.last_process_collection_ms"],
                           last_disk_collection_ms=sampled["observer.sampler.last_disk_collection_ms"],
                           last_scan_ms=sampled["observer.discovery.last_scan_ms"])


def benchlib_wait_child(proc: psutil.Process) -> psutil.Process:
    """Set-up only (nothing measured yet): until the shell has started its sleep."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = proc.children()
        if children:
            return children[0]
        time.sleep(0.01)
    raise TimeoutError("sh did not start its child")


def benchlib_wait_sampled(observer: Observer) -> None:
    """Set-up only: until the first samples of all tasks are in (rss > 0 for every active task)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = observer.json(f"/j/task_ids/active/0/{TASKS}")["tasks"]
        if len(rows) == TASKS and all(r["rss"] > 0 for r in rows):
            return
        time.sleep(0.2)
    raise TimeoutError("the observer did not sample all tasks")


if __name__ == "__main__":
    main()
