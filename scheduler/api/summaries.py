"""What the read-only calls compute from stored tasks, pure (Aurora's ReadOnlySchedulerImpl helpers, Jobs,
Tasks.getLatestActiveTask, Numbers.toRanges).

Jobs are not stored apart from their tasks (cron templates aside): a job's JobConfiguration is synthesized from
its latest active task (or latest task if none is active) with instanceCount = the number of its tasks.
"""
from __future__ import annotations

from thermos_executor.aurora_api import job_key

from collections import defaultdict
from collections.abc import Iterable, Mapping

from scheduler.api.config import DEDICATED_ATTRIBUTE
from scheduler.state import job_diff
from scheduler.state.status import ScheduleStatus
from thermos_executor.aurora_api.gen.ttypes import (ConfigGroup, JobConfiguration, JobKey, JobStats, Resource,
                                                    ResourceAggregate, RoleSummary, ScheduledTask, TaskConfig)

S = ScheduleStatus

# Tasks.ORDERED_TASK_STATUSES: terminal statuses, then active ones, each in api.thrift's declaration order.
_RANK = {s: i for i, s in enumerate([
    S.FINISHED, S.FAILED, S.KILLED, S.LOST,
    S.THROTTLED, S.PENDING, S.ASSIGNED, S.STARTING, S.RUNNING, S.PREEMPTING, S.RESTARTING, S.DRAINING, S.KILLING,
    S.PARTITIONED])}
_PENDING = {S.INIT, S.PENDING, S.THROTTLED}
_FINISHED = {S.KILLED, S.FINISHED}
_FAILED = {S.LOST, S.FAILED}


def key_of(task: ScheduledTask) -> tuple[str, str, str]:
    return job_key(task.assignedTask.task.job)


def by_job(tasks: Iterable[ScheduledTask]) -> dict[tuple[str, str, str], list[ScheduledTask]]:
    jobs = defaultdict(list)
    for task in tasks:
        jobs[key_of(task)].append(task)
    return dict(jobs)


def latest_active(tasks: Iterable[ScheduledTask]) -> ScheduledTask:
    """The task in the most active status, the latest event breaking ties."""
    return max(tasks, key=lambda t: (_RANK.get(t.status, -1), latest_event_ms(t)))


def synthesized_job(key: tuple[str, str, str], tasks: list[ScheduledTask]) -> JobConfiguration:
    config = latest_active(tasks).assignedTask.task
    return JobConfiguration(key=JobKey(*key), owner=config.owner, taskConfig=config, instanceCount=len(tasks))


def job_stats(tasks: Iterable[ScheduledTask]) -> JobStats:
    """Jobs.getJobStats: pending (incl. THROTTLED), active, finished (FINISHED, KILLED), failed (FAILED, LOST)."""
    stats = JobStats(activeTaskCount=0, finishedTaskCount=0, failedTaskCount=0, pendingTaskCount=0)
    for task in tasks:
        if task.status in _PENDING:
            stats.pendingTaskCount += 1
        elif task.status in _FINISHED:
            stats.finishedTaskCount += 1
        elif task.status in _FAILED:
            stats.failedTaskCount += 1
        else:
            stats.activeTaskCount += 1
    return stats


def role_summaries(job_keys: Iterable[tuple[str, str, str]], cron_keys: Iterable[tuple[str, str, str]]
                   ) -> set[RoleSummary]:
    jobs, crons = defaultdict(set), defaultdict(set)
    for role, env, name in job_keys:
        jobs[role].add((env, name))
    for role, env, name in cron_keys:
        crons[role].add((env, name))
    return {RoleSummary(role=r, jobCount=len(jobs[r]), cronJobCount=len(crons[r])) for r in set(jobs) | set(crons)}


def config_groups(tasks: Iterable[ScheduledTask]) -> set[ConfigGroup]:
    """One group per distinct TaskConfig, with the instance ranges running it."""
    instances = defaultdict(set)
    for task in tasks:
        instances[task.assignedTask.task].add(task.assignedTask.instanceId)
    return {ConfigGroup(config=config, instances=set(ranges(ids))) for config, ids in instances.items()}


def groups_of(configs: Mapping[int, TaskConfig]) -> set[ConfigGroup]:
    """Instances by config (instance id -> TaskConfig) as one group per distinct config, with its instance
    ranges (ReadOnlySchedulerImpl.instancesToConfigGroups)."""
    instances = defaultdict(set)
    for instance, config in configs.items():
        instances[config].add(instance)
    return {ConfigGroup(config=config, instances=set(ranges(ids))) for config, ids in instances.items()}


ranges = job_diff.to_ranges  # Numbers.toRanges


def resource_totals(configs: Iterable) -> dict[str, float | int]:
    """The CPUs, RAM and disk (MB) of these TaskConfigs, summed (QuotaManager's ResourceBag)."""
    totals = {"numCpus": 0.0, "ramMb": 0, "diskMb": 0}
    for config in configs:
        for resource in config.resources or ():
            for kind in totals:
                if getattr(resource, kind) is not None:
                    totals[kind] += getattr(resource, kind)
    return totals


def aggregate(cpus: float, ram_mb: int, disk_mb: int) -> ResourceAggregate:
    return ResourceAggregate(resources={Resource(numCpus=float(cpus)), Resource(ramMb=ram_mb),
                                        Resource(diskMb=disk_mb)})


def is_dedicated(config) -> bool:
    return any(c.name == DEDICATED_ATTRIBUTE for c in config.constraints or ())


def latest_event_ms(task: ScheduledTask) -> int:
    """The timestamp of the task's latest event, 0 if it has none."""
    return task.taskEvents[-1].timestamp if task.taskEvents else 0
