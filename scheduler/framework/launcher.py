"""The Mesos TaskInfo of an ASSIGNED task, as Aurora's MesosTaskFactoryImpl builds it (v1 JSON).

* `task_id` = the Aurora task id; `name` = the job key `role/environment/name`; `agent_id` = the offer's agent;
  `data` = the AssignedTask in Thrift binary (`thermos_executor.executor.task_data.encode`), base64 for the
  JSON API; labels `org.apache.aurora.tier` and `org.apache.aurora.metadata.<key>`; DiscoveryInfo with
  -populate_discovery_info.
* resources: the task's own (cpus, mem, disk, gpus, and its assigned ports as single-port ranges) on the
  TaskInfo, the executor overhead (-thermos_executor_cpu / -thermos_executor_ram) on the ExecutorInfo, as
  Aurora's AcceptedOffer splits them; each takes the role of the offer's resources it is carved from.
* executor: id `thermos-<task id>`, name `aurora.task`, source and label `source` =
  `role.environment.name.instance`; command `[HOME=${MESOS_SANDBOX=.} ]${MESOS_SANDBOX=.}/<basename of
  -thermos_executor_path> <-thermos_executor_flags>`, fetching the executor and -thermos_executor_resources
  (executable); with -global_container_mounts, a MESOS ContainerInfo with those volumes.
"""
from __future__ import annotations

import base64
import os

from scheduler.scheduling.resources import task_demand
from thermos_executor.aurora_api.gen.ttypes import ScheduledTask
from thermos_executor.executor import task_data

from .settings import ExecutorSettings

EXECUTOR_PREFIX = "thermos-"
EXECUTOR_NAME = "aurora.task"
TIER_LABEL = "org.apache.aurora.tier"
METADATA_LABEL_PREFIX = "org.apache.aurora.metadata."
SANDBOX = "${MESOS_SANDBOX=.}"


def executor_id(task_id: str) -> str:
    return EXECUTOR_PREFIX + task_id


def command(settings: ExecutorSettings) -> dict:
    """The executor's CommandInfo."""
    path = settings.path or "thermos_executor"
    value = f"{SANDBOX}/{os.path.basename(path.rstrip('/'))}"
    if settings.flags:
        value += " " + settings.flags
    if settings.home_in_sandbox:
        value = f"HOME={SANDBOX} " + value
    uris = [{"value": uri, "executable": True} for uri in (path, *settings.resources)]
    return {"value": value, "shell": True, "uris": uris}


def task_info(task: ScheduledTask, agent_id: str, settings: ExecutorSettings, roles: dict | None = None) -> dict:
    """The TaskInfo launching `task` (ASSIGNED: host, agent and ports recorded) on agent `agent_id`.

    `roles` maps a resource name to the role the offer gave it under (default `*`)."""
    assigned = task.assignedTask
    config = assigned.task
    job = config.job
    roles = roles or {}
    source = f"{job.role}.{job.environment}.{job.name}.{assigned.instanceId}"
    demand = task_demand(config)
    resources = [_scalar("cpus", demand.cpus, roles), _scalar("mem", demand.ram_mb, roles)]
    if demand.disk_mb:
        resources.append(_scalar("disk", demand.disk_mb, roles))
    if demand.gpus:
        resources.append(_scalar("gpus", demand.gpus, roles))
    ports = sorted(set((assigned.assignedPorts or {}).values()))
    if ports:
        resources.append({"name": "ports", "type": "RANGES", "role": roles.get("ports", "*"),
                          "ranges": {"range": [{"begin": p, "end": p} for p in ports]}})
    executor = {
        "executor_id": {"value": executor_id(assigned.taskId)},
        "name": EXECUTOR_NAME,
        "source": source,
        "labels": {"labels": [{"key": "source", "value": source}]},
        "command": command(settings),
        "resources": [_scalar("cpus", settings.cpus, roles), _scalar("mem", settings.ram_mb, roles)],
    }
    if settings.mounts:
        executor["container"] = {"type": "MESOS", "mesos": {}, "volumes": [
            {"host_path": m.host_path, "container_path": m.container_path, "mode": m.mode} for m in settings.mounts]}
    labels = [{"key": TIER_LABEL, "value": config.tier or ""}]
    labels += [{"key": METADATA_LABEL_PREFIX + m.key, "value": m.value}
               for m in sorted(config.metadata or (), key=lambda m: (m.key, m.value))]
    info = {
        "name": f"{job.role}/{job.environment}/{job.name}",
        "task_id": {"value": assigned.taskId},
        "agent_id": {"value": agent_id},
        "resources": resources,
        "executor": executor,
        "data": base64.b64encode(task_data.encode(assigned)).decode("ascii"),
        "labels": {"labels": labels},
    }
    if settings.populate_discovery_info:
        info["discovery"] = {
            "visibility": "CLUSTER", "name": f"{job.name}.{job.environment}.{job.role}",
            "environment": job.environment, "location": settings.cluster_name,
            "ports": {"ports": [{"name": name, "number": number, "protocol": "TCP"}
                                for name, number in sorted((assigned.assignedPorts or {}).items())]}}
    return info


def _scalar(name: str, value: float, roles: dict) -> dict:
    return {"name": name, "type": "SCALAR", "role": roles.get(name, "*"), "scalar": {"value": value}}
