"""Text and JSON renderings of scheduler answers, as Aurora's client prints them (status, quota, inspect)."""
from __future__ import annotations

import json
from datetime import datetime

from thrift.protocol import TJSONProtocol
from thrift.TSerialization import serialize

from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus

# (Resource field, display name, unit), in Aurora's ResourceType order.
RESOURCE_TYPES = (("numCpus", "CPU", " core(s)"), ("ramMb", "RAM", " MB"), ("diskMb", "Disk", " MB"),
                  ("numGpus", "GPU", " GPU(s)"))


def resource_details(resources) -> list[tuple[str, object, str]]:
    """[(display name, value, unit)] of a set of Resource unions (scalars only, Aurora's order)."""
    values = {}
    for resource in resources or ():
        for attr, _, _ in RESOURCE_TYPES:
            value = getattr(resource, attr, None)
            if value is not None:
                values[attr] = values.get(attr, 0) + value
    return [(name, values[attr], unit) for attr, name, unit in RESOURCE_TYPES if attr in values]


def status_name(status) -> str:
    return ScheduleStatus._VALUES_TO_NAMES.get(status, str(status))


def task_pretty(scheduled) -> str:
    assigned = scheduled.assignedTask
    task = assigned.task
    lines = [f"\tTask role: {task.job.role}, env: {task.job.environment}, name: {task.job.name}, "
             f"instance: {assigned.instanceId}, status: {status_name(scheduled.status)} on {assigned.slaveHost}"]
    lines.append("\t  " + ", ".join(f"{n}: {v}{u}" for n, v, u in resource_details(task.resources)))
    if assigned.assignedPorts:
        lines.append(f"\t  assigned ports: {assigned.assignedPorts}")
        lines.append(f"\t  failure count: {scheduled.failureCount} (max {task.maxTaskFailures})")
    lines.append("\t  events:")
    for event in sorted(scheduled.taskEvents or [], key=lambda e: e.timestamp):
        lines.append(f"\t   {datetime.fromtimestamp(event.timestamp / 1000)} {status_name(event.status)}: "
                     f"{event.message}")
    if task.metadata:
        lines.append("\t  metadata:")
        for md in sorted(task.metadata, key=lambda m: (m.key, m.value)):
            lines.append(f"\t\t  (key: '{md.key}', value: '{md.value}')")
    lines.append("")
    return "\n".join(lines)


def tasks_pretty(active, inactive) -> str:
    parts = [f"Active tasks ({len(active)}):\n"]
    parts += [task_pretty(t) for t in active]
    parts.append(f"Inactive tasks ({len(inactive)}):\n")
    parts += [task_pretty(t) for t in inactive]
    return "".join(parts)


def simple_json(struct) -> dict:
    return json.loads(serialize(struct, protocol_factory=TJSONProtocol.TSimpleJSONProtocolFactory()))


def task_json(scheduled) -> dict:
    task = simple_json(scheduled)
    task["status"] = status_name(task["status"])
    task["taskEvents"] = sorted(task.get("taskEvents", []), key=lambda e: e["timestamp"])
    for event in task["taskEvents"]:
        event["status"] = status_name(event["status"])
    config = task["assignedTask"]["task"]
    config["isService"] = bool(config.get("isService"))
    if "production" in config:
        config["production"] = bool(config["production"])
    return task


def tasks_json(jobkey, active, inactive) -> dict:
    return {"job": str(jobkey), "active": [task_json(t) for t in active],
            "inactive": [task_json(t) for t in inactive]}


def quota_pretty(result) -> str:
    def lines(aggregate):
        return [f"  {n}: {v}{u}" for n, v, u in resource_details(aggregate.resources)]
    out = ["Allocated:"] + lines(result.quota)
    for title, aggregate in (("Production shared pool resources consumed:", result.prodSharedConsumption),
                             ("Production dedicated pool resources consumed:", result.prodDedicatedConsumption),
                             ("Non-production shared pool resources consumed:", result.nonProdSharedConsumption),
                             ("Non-production dedicated pool resources consumed:",
                              result.nonProdDedicatedConsumption)):
        if aggregate is not None and aggregate.resources:
            out.append(title)
            out += lines(aggregate)
    return "\n".join(out)


def inspect_pretty(config) -> list[tuple[int, str]]:
    """Aurora's `job inspect` text: [(indent, line)]."""
    job, thrift = config.job, config.thrift
    out = [(0, "Job level information"), (2, f"name:       '{job.name()}'"), (2, f"role:       '{job.role()}'")]
    if job.has_contact():
        out.append((2, f"contact:    '{job.contact()}'"))
    out += [(2, f"cluster:    '{job.cluster()}'"), (2, f"instances:  '{job.instances()}'")]
    if job.has_cron_schedule():
        out += [(2, "cron:"), (4, f"schedule: '{job.cron_schedule()}'"),
                (4, f"policy:   '{job.cron_collision_policy()}'")]
    if job.has_constraints():
        out.append((2, "constraints:"))
        for constraint, value in job.constraints().get().items():
            out.append((4, f"'{constraint}': '{value}'"))
    if job.has_partition_policy():
        out += [(2, "partition_policy:"), (4, f"reschedule: {job.partition_policy().reschedule()}"),
                (4, f"delay_secs: '{job.partition_policy().delay_secs()}'")]
    out += [(2, f"service:    {thrift.taskConfig.isService}"), (2, f"production: {bool(job.production().get())}"),
            (0, "")]
    task = job.task()
    out += [(0, "Task level information"), (2, f"name: '{task.name()}'")]
    if task.has_constraints() and len(task.constraints().get()) > 0:
        out.append((2, "constraints:"))
        for constraint in task.constraints():
            out.append((2, " < ".join(str(p.get()) for p in constraint.order() or [])))
    out.append((0, ""))
    for process in task.processes():
        out.append((0, f"Process '{process.name()}':"))
        for flag in ("daemon", "ephemeral", "final"):
            if getattr(process, flag)().get():
                out.append((2, flag))
        out.append((2, "cmdline:"))
        for line in str(process.cmdline()).splitlines():
            out.append((4, line))
        out.append((0, ""))
    return out
