"""Resource use of the active tasks: one sampler for all of them, not a thread per task.

Every `process_interval` seconds the sampler reads the process table once (pid -> parent), then for each
RUNNING process of each active task sums its process tree (the descendants of its coordinator, verified by
pid and start time): CPU rate, RSS, VMS, threads, user/system seconds. The CPU rate is the growth of
user+system over the pids present now (a new pid counts from 0) divided by the wall time since the last sample.
Sandbox disk use is measured on its own, slower interval, in one background thread (a walk like `du`,
counting each inode once and following no links), so a deep tree never stalls the web server.

Each active task keeps one hour of history (a ring of `3600 / process_interval` points) for the charts (a
point's disk is None until the sandbox was first measured);
a task's history goes when the task finishes, so memory does not grow with finished tasks.
"""
from __future__ import annotations

import collections
import logging
import os
import stat
import time
from dataclasses import dataclass, field

import psutil

from thermos_executor.runner import process_tree
from thermos_executor.runner.state import ProcessState

log = logging.getLogger(__name__)
HISTORY_SECONDS = 3600


def empty_sample() -> dict:
    """Aurora's ProcessSample dict (plus `procs`): what inactive tasks and processes show."""
    return {"cpu": 0.0, "ram": 0, "user": 0.0, "system": 0.0, "rss": 0, "vms": 0, "nice": 0, "status": "None",
            "threads": 0, "procs": 0}


def add_samples(samples) -> dict:
    total = empty_sample()
    for sample in samples:
        for key in ("cpu", "ram", "user", "system", "rss", "vms", "threads", "procs"):
            total[key] += sample[key]
        if sample["status"] != "None":
            total["status"], total["nice"] = sample["status"], sample["nice"]
    return total


@dataclass
class _RunTracker:
    """The CPU totals of the pids of one process run at the last sample (to compute a rate)."""
    cpu_by_pid: dict = field(default_factory=dict)
    at: float = 0.0


@dataclass
class TaskSamples:
    """What we know of one active task's resource use."""
    processes: dict = field(default_factory=dict)          # name -> latest sample dict
    history: collections.deque = None                       # (time, cpu, rss, disk or None: not measured yet)
    disk: int | None = None                                 # None until the sandbox was first measured
    sandbox: str | None = None
    runs: dict = field(default_factory=dict)               # (name, run) -> _RunTracker

    def total(self) -> dict:
        sample = add_samples(self.processes.values())
        sample["disk"] = self.disk or 0                     # Aurora's shape: an int
        return sample


def disk_usage(path: str, limit_entries: int = 2_000_000) -> int:
    """Bytes allocated under `path` (like `du -s`): no links followed, each inode once, no other filesystem."""
    total, seen, count = 0, set(), 0
    try:
        root_dev = os.lstat(path).st_dev
    except OSError:
        return 0
    stack = [path]
    while stack and count < limit_entries:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    count += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if st.st_dev != root_dev:
                        continue
                    if st.st_nlink > 1:
                        if (st.st_ino in seen):
                            continue
                        seen.add(st.st_ino)
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


class Sampler:
    """Samples all active tasks. `sample_processes(states)` and `sample_disk()` are called by the app's timers."""

    def __init__(self, process_interval: float = 20.0, disk_interval: float = 60.0, enabled: bool = True):
        self.process_interval = process_interval
        self.disk_interval = disk_interval
        self.enabled = enabled
        self.tasks: dict[str, TaskSamples] = {}
        self.last_process_seconds = 0.0
        self.last_disk_seconds = 0.0
        self._maxlen = min(10_000, max(2, int(HISTORY_SECONDS / max(0.1, min(process_interval, disk_interval)))))

    def retain(self, active_ids) -> None:
        for task_id in [t for t in self.tasks if t not in active_ids]:
            del self.tasks[task_id]

    def _task(self, task_id: str) -> TaskSamples:
        samples = self.tasks.get(task_id)
        if samples is None:
            samples = self.tasks[task_id] = TaskSamples(history=collections.deque(maxlen=self._maxlen))
        return samples

    def sample_processes(self, states: dict) -> None:
        """`states`: task_id -> RunnerState of every active task."""
        if not self.enabled:
            return
        started = time.monotonic()
        children = collections.defaultdict(list)
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info["ppid"]
            if ppid:
                children[ppid].append(proc)
        now = time.time()
        self.retain(states)
        for task_id, state in states.items():
            samples = self._task(task_id)
            samples.sandbox = (state.header or {}).get("sandbox")
            current = {}
            for name, runs in state.processes.items():
                run = runs[-1] if runs else None
                if run is None or run.state not in ProcessState.LIVE:
                    continue
                tracker = samples.runs.get((name, run.run))
                if tracker is None:
                    tracker = samples.runs[(name, run.run)] = _RunTracker(at=now)
                current[name] = self._sample_run(run, children, tracker, now)
            samples.runs = {k: v for k, v in samples.runs.items() if k[0] in current}
            samples.processes = current
            total = samples.total()
            samples.history.append((now, total["cpu"], total["rss"], samples.disk))
        self.last_process_seconds = time.monotonic() - started

    @staticmethod
    def _sample_run(run, children, tracker: _RunTracker, now: float) -> dict:
        procs = []
        top = process_tree.coordinator(run)            # the coordinator's descendants, not the coordinator itself
        if top is None:
            top = process_tree.find(run.pid, run.start_time)    # no coordinator: the process and its descendants
            if top is not None:
                procs.append(top)
        if top is not None:
            stack = list(children.get(top.pid, ()))
            while stack:
                proc = stack.pop()
                procs.append(proc)
                stack.extend(children.get(proc.pid, ()))
        sample = empty_sample()
        cpu_now = {}
        for proc in procs:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    mem = proc.memory_info()
                    sample["threads"] += proc.num_threads()
                    if sample["status"] == "None":
                        sample["status"], sample["nice"] = proc.status(), proc.nice()
            except psutil.Error:
                continue
            sample["user"] += times.user
            sample["system"] += times.system
            sample["rss"] += mem.rss
            sample["vms"] += mem.vms
            sample["procs"] += 1
            cpu_now[proc.pid] = times.user + times.system
        sample["ram"] = sample["rss"]
        elapsed = now - tracker.at
        if tracker.cpu_by_pid and elapsed > 0:
            grown = sum(total - tracker.cpu_by_pid.get(pid, 0.0) for pid, total in cpu_now.items())
            sample["cpu"] = max(0.0, grown / elapsed)
        tracker.cpu_by_pid, tracker.at = cpu_now, now
        return sample

    def disk_jobs(self, only: set | None = None) -> list[tuple[str, str]]:
        """(task id, sandbox) to measure: every active task's, or those of `only`."""
        return [(task_id, s.sandbox) for task_id, s in self.tasks.items()
                if s.sandbox and (only is None or task_id in only)]

    def record_disk(self, results: dict, seconds: float | None) -> None:
        """Store measured usage; `seconds`, the time a walk of every sandbox took, if this was one."""
        for task_id, used in results.items():
            if task_id in self.tasks:
                self.tasks[task_id].disk = used
        if seconds is not None:
            self.last_disk_seconds = seconds

    def task_sample(self, task_id: str) -> dict:
        samples = self.tasks.get(task_id)
        if samples is None:
            sample = empty_sample()
            sample["disk"] = 0
            return sample
        return samples.total()

    def process_sample(self, task_id: str, process: str) -> dict:
        samples = self.tasks.get(task_id)
        return dict(samples.processes.get(process, empty_sample())) if samples else empty_sample()

    def disk(self, task_id: str) -> int | None:
        """The sandbox's last measured size; None before the first measurement (or for an inactive task)."""
        samples = self.tasks.get(task_id)
        return samples.disk if samples else None

    def history(self, task_id: str) -> list:
        samples = self.tasks.get(task_id)
        return list(samples.history) if samples else []
