"""Waiting for a job's instances to reach a state (Aurora's JobMonitor), with progress for a person.

    JobMonitor(proxy, jobkey).wait_until(running_or_finished, instances={0, 1})

Polls getTasksWithoutConfigs, starting at MIN_POLL_INTERVAL and backing off to MAX_POLL_INTERVAL; every
instance asked for must have a task whose status satisfies the predicate (its newest task, the one with
the latest event). `progress(line)` hears one line whenever the picture changes (default: stderr).
"""
from __future__ import annotations

import sys
import time
from collections import Counter

from thermos_executor.aurora_api.gen.constants import TERMINAL_STATES
from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus, TaskQuery

MIN_POLL_INTERVAL = 0.5
MAX_POLL_INTERVAL = 5.0
KILL_TIMEOUT = 600.0        # Aurora's JobMonitor with_timeout


def terminal(status) -> bool:
    return status in TERMINAL_STATES


def running_or_finished(status) -> bool:
    return status in (ScheduleStatus.RUNNING, ScheduleStatus.FINISHED)


def newest_by_instance(tasks) -> dict:
    """instance id -> its most recent task (latest event timestamp)."""
    newest = {}
    for task in tasks:
        when = max((e.timestamp for e in task.taskEvents or []), default=0)
        instance = task.assignedTask.instanceId
        if instance not in newest or when >= newest[instance][0]:
            newest[instance] = (when, task)
    return {i: t for i, (_, t) in newest.items()}


class JobMonitor:
    def __init__(self, proxy, jobkey, *, clock=time, progress=None):
        self._proxy, self._key, self._clock = proxy, jobkey, clock
        self._progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))

    def tasks(self) -> list:
        reply = self._proxy.getTasksWithoutConfigs(TaskQuery(jobKeys={self._key.to_thrift()}))
        return (reply.result.scheduleStatusResult.tasks or []) if reply.result else []

    def wait_until(self, predicate, instances=None, timeout: float | None = None, what: str = "") -> bool:
        """True once every instance (default: every instance the job has) satisfies `predicate`;
        False if `timeout` seconds pass first."""
        wanted = set(instances) if instances is not None else None
        start, interval, last = self._clock.monotonic(), MIN_POLL_INTERVAL, None
        while True:
            newest = newest_by_instance(self.tasks())
            ids = wanted if wanted is not None else set(newest)
            states = Counter(ScheduleStatus._VALUES_TO_NAMES[newest[i].status] if i in newest else "NONE"
                             for i in ids)
            done = sum(1 for i in ids if i in newest and predicate(newest[i].status))
            if ids and done == len(ids):
                return True
            picture = ", ".join(f"{s}: {n}" for s, n in sorted(states.items()))
            if picture != last and what:
                self._progress(f"Waiting for {len(ids)} instance(s) of {self._key} to be {what}: "
                               f"{done}/{len(ids)} ({picture})")
                last = picture
            if timeout is not None and self._clock.monotonic() - start + interval > timeout:
                return False
            self._clock.sleep(interval)
            interval = min(interval * 2, MAX_POLL_INTERVAL)
