"""A client-driven rolling restart (Aurora's api/restarter.py + instance_watcher.py).

Instances are restarted in batches of `batch_size` with restartShards; after each batch the watcher
polls every `health_check_interval_seconds` until each restarted instance has a new task that has stayed
RUNNING for `watch_secs` (success) or has ended or not come up within `restart_threshold` (a failure).
A failed instance is restarted again while its failures stay within `max_per_instance_failures`; each
instance that runs out of retries counts once towards `max_total_failures`, and exceeding that stops the
restart. Time is injected (`clock`: monotonic + sleep).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES, TERMINAL_STATES
from thermos_executor.aurora_api.gen.ttypes import ResponseCode, ScheduleStatus, TaskQuery

from .monitor import newest_by_instance


@dataclass(frozen=True)
class RestartSettings:
    batch_size: int = 1
    watch_secs: int = 30
    max_per_instance_failures: int = 0
    max_total_failures: int = 0
    health_check_interval_seconds: int = 3
    restart_threshold: int = 60


class RestartError(Exception):
    pass


class Restarter:
    def __init__(self, proxy, jobkey, settings: RestartSettings, *, clock=time, log=print):
        self._proxy, self._key, self._settings, self._clock, self._log = proxy, jobkey, settings, clock, log

    def _tasks(self, statuses=None):
        reply = self._proxy.getTasksWithoutConfigs(TaskQuery(jobKeys={self._key.to_thrift()}, statuses=statuses))
        if reply.responseCode != ResponseCode.OK:
            raise RestartError(", ".join(d.message for d in reply.details or []) or "query failed")
        return reply.result.scheduleStatusResult.tasks or []

    def restart(self, instances=None) -> None:
        active = {t.assignedTask.instanceId for t in self._tasks(set(ACTIVE_STATES))}
        if instances:
            for instance in instances:
                if instance not in active:
                    raise RestartError(f"Instance {instance} not active")
            todo = sorted(instances)
        else:
            todo = sorted(active)
        if not todo:
            raise RestartError(f"No instances specified, and no active instances found in job {self._key}")
        self._log(f"Performing rolling restart of job {self._key} (instances: {todo})")
        failures: dict[int, int] = {}
        total_failed = 0
        while todo:
            batch, todo = todo[:self._settings.batch_size], todo[self._settings.batch_size:]
            self._log(f"Restarting instances: {batch}")
            before = {i: t.assignedTask.taskId for i, t in newest_by_instance(self._tasks()).items()}
            reply = self._proxy.restartShards(self._key.to_thrift(), set(batch))
            if reply.responseCode != ResponseCode.OK:
                raise RestartError(", ".join(d.message for d in reply.details or []) or "restartShards failed")
            for instance in self._watch(batch, before):
                failures[instance] = failures.get(instance, 0) + 1
                if failures[instance] <= self._settings.max_per_instance_failures:
                    todo.append(instance)           # retried in a later batch
                else:
                    total_failed += 1
                    if total_failed > self._settings.max_total_failures:
                        raise RestartError(f"Restart failed: instance {instance} did not stay RUNNING for "
                                           f"{self._settings.watch_secs} s; more than "
                                           f"{self._settings.max_total_failures} instance(s) failed")

    def _watch(self, batch, before) -> list[int]:
        """The instances of `batch` that failed to come back healthy."""
        s = self._settings
        start = self._clock.monotonic()
        running_since: dict[int, float] = {}
        pending = set(batch)
        failed = []
        while pending:
            now = self._clock.monotonic()
            newest = newest_by_instance(self._tasks())
            for instance in sorted(pending):
                task = newest.get(instance)
                replaced = task is not None and task.assignedTask.taskId != before.get(instance)
                if replaced and task.status == ScheduleStatus.RUNNING:
                    since = running_since.setdefault(instance, now)
                    if now - since >= s.watch_secs:
                        pending.discard(instance)
                    continue
                if instance in running_since or (replaced and task.status in TERMINAL_STATES) \
                        or now - start > s.restart_threshold:
                    failed.append(instance)
                    pending.discard(instance)
            if pending:
                self._clock.sleep(min(max(s.health_check_interval_seconds, 0.2), 1.0) if s.watch_secs < 3
                                  else s.health_check_interval_seconds)
        return failed
