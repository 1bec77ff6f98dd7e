"""Realistic stored tasks for the storage benchmarks (not a benchmark itself).

A job's TaskConfig is shaped as Aurora clients send one: resources, a constraint, metadata, and an executor
config carrying the Thermos task as JSON (~1.5 KB), shared by all of the job's instances as in the scheduler.
"""
from __future__ import annotations

import json

from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Constraint, ExecutorConfig, Identity, JobKey, LimitConstraint, Metadata, Resource, ScheduledTask,
    ScheduleStatus, TaskConfig, TaskConstraint, TaskEvent)

T0_MS = 1_700_000_000_000


def config(role: str, name: str) -> TaskConfig:
    processes = [{"name": f"proc_{i}", "cmdline": f"exec ./bin/server --port={{{{thermos.ports[http]}}}} --shard {i}",
                  "max_failures": 1, "daemon": False, "ephemeral": False, "min_duration": 5, "final": False}
                 for i in range(4)]
    task = {"name": name, "processes": processes, "resources": {"cpu": 1.0, "ram": 134217728, "disk": 268435456},
            "constraints": [{"order": [p["name"] for p in processes]}], "max_failures": 1,
            "finalization_wait": 30, "max_concurrency": 0, "user": role}
    return TaskConfig(
        job=JobKey(role=role, environment="prod", name=name), owner=Identity(user=role), isService=True,
        priority=0, maxTaskFailures=1, production=False, tier="preferred",
        resources={Resource(numCpus=1.0), Resource(ramMb=128), Resource(diskMb=256), Resource(namedPort="http")},
        constraints={Constraint(name="host", constraint=TaskConstraint(limit=LimitConstraint(limit=1)))},
        metadata={Metadata(key="owner-team", value="web")}, contactEmail=f"{role}@example.com",
        executorConfig=ExecutorConfig(name="AuroraExecutor", data=json.dumps({"task": task, "cluster": "devcluster",
                                                                              "role": role, "environment": "prod",
                                                                              "name": name})))


def pending(cfg: TaskConfig, instance: int, suffix: str = "0") -> ScheduledTask:
    job = cfg.job
    return ScheduledTask(
        assignedTask=AssignedTask(taskId=f"{job.role}-{job.environment}-{job.name}-{instance}-{suffix}",
                                  task=cfg, instanceId=instance, assignedPorts={}),
        status=ScheduleStatus.PENDING, failureCount=0, timesPartitioned=0,
        taskEvents=[TaskEvent(timestamp=T0_MS, status=ScheduleStatus.PENDING, scheduler="scheduler-1")])


def running(task: ScheduledTask, host: int, at_ms: int) -> ScheduledTask:
    """`task` placed on agent `host` and running, with the events Aurora records on the way."""
    a = task.assignedTask
    assigned = AssignedTask(taskId=a.taskId, task=a.task, instanceId=a.instanceId, slaveId=f"agent-{host}-S0",
                            slaveHost=f"agent-{host}.example.com", assignedPorts={"http": 31000 + a.instanceId % 1000})
    events = [*task.taskEvents, *(TaskEvent(timestamp=at_ms + i, status=s, scheduler="scheduler-1")
                                  for i, s in enumerate((ScheduleStatus.ASSIGNED, ScheduleStatus.STARTING,
                                                         ScheduleStatus.RUNNING)))]
    return ScheduledTask(assignedTask=assigned, status=ScheduleStatus.RUNNING, failureCount=task.failureCount,
                         timesPartitioned=0, taskEvents=events)
