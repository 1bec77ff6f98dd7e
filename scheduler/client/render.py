"""Text and JSON renderings of scheduler answers, as Aurora's client prints them (status, quota, inspect,
update list and info)."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from thrift.protocol import TJSONProtocol
from thrift.TSerialization import serialize

from thermos_executor.aurora_api.gen.ttypes import JobUpdateAction, JobUpdateStatus, ScheduleStatus

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


# -- job updates (Aurora's client/cli/update.py)

UPDATE_COLUMNS = (("JOB", 47), ("UPDATE ID", 36), ("STATUS", 15), ("CREATED BY", 11), ("STARTED", 19),
                  ("LAST MODIFIED", 19))
UPDATE_ROW = " ".join(f"{{{i}:{width}}}" for i, (_, width) in enumerate(UPDATE_COLUMNS))


def format_timestamp(stamp_ms) -> str:
    """Milliseconds since the epoch as UTC ISO 8601 to the second (Aurora's format_timestamp)."""
    return datetime.fromtimestamp(int(stamp_ms or 0) // 1000, tz=UTC).replace(tzinfo=None).isoformat()


def update_status_name(status) -> str:
    return JobUpdateStatus._VALUES_TO_NAMES.get(status, str(status))


def _update_job_path(cluster: str, job) -> str:
    return f"{cluster}/{job.role}/{job.environment}/{job.name}"


def updates_table(cluster: str, summaries) -> str:
    """`aurora update list`: a header, then one row per update."""
    rows = [UPDATE_ROW.format(*(name for name, _ in UPDATE_COLUMNS))]
    for s in summaries:
        rows.append(UPDATE_ROW.format(_update_job_path(cluster, s.key.job), s.key.id,
                                      update_status_name(s.state.status), s.user or "",
                                      format_timestamp(s.state.createdTimestampMs),
                                      format_timestamp(s.state.lastModifiedTimestampMs)))
    return "\n".join(rows)


def updates_json(cluster: str, summaries) -> str:
    return json.dumps([{"job": _update_job_path(cluster, s.key.job), "id": s.key.id, "user": s.user,
                        "started": format_timestamp(s.state.createdTimestampMs),
                        "last_modified": format_timestamp(s.state.lastModifiedTimestampMs),
                        "status": update_status_name(s.state.status)} for s in summaries],
                      indent=2, separators=(",", ": "))


def _sorted_metadata(summary) -> list:
    return sorted(summary.metadata or (), key=lambda m: (m.key, m.value))


def update_info_pretty(jobkey, details) -> list[tuple[int, str]]:
    """`aurora update info`: [(indent, line)]."""
    summary = details.update.summary
    out = [(0, f"Job: {jobkey}, UpdateID: {summary.key.id}"),
           (0, f"Started {format_timestamp(summary.state.createdTimestampMs)}, "
               f"last activity: {format_timestamp(summary.state.lastModifiedTimestampMs)}"),
           (0, f"Current status: {update_status_name(summary.state.status)}")]
    if details.updateEvents:
        out.append((0, "Update events:"))
        for event in details.updateEvents:
            out.append((2, f"Status: {update_status_name(event.status)} at {format_timestamp(event.timestampMs)}"))
            if event.message:
                out.append((4, f"  message: {event.message}"))
    if details.instanceEvents:
        out.append((0, "Instance events:"))
        for event in details.instanceEvents:
            action = JobUpdateAction._VALUES_TO_NAMES.get(event.action, str(event.action))
            out.append((2, f"Instance {event.instanceId} at {format_timestamp(event.timestampMs)}: {action}"))
    if summary.metadata is not None:
        out.append((0, "Metadata:"))
        out += [(2, f"{m.key}: {m.value}") for m in _sorted_metadata(summary)]
    return out


def update_info_json(jobkey, details) -> str:
    summary = details.update.summary
    result = {"updateId": f"{summary.key.id}", "job": str(jobkey), "started": summary.state.createdTimestampMs,
              "last_modified": format_timestamp(summary.state.lastModifiedTimestampMs),
              "status": update_status_name(summary.state.status), "update_events": [],
              "instance_update_events": []}
    if summary.metadata is not None:
        result["metadata"] = [{m.key: m.value} for m in _sorted_metadata(summary)]
    for event in details.updateEvents or ():
        entry = {"status": update_status_name(event.status), "timestampMs": event.timestampMs}
        if event.message:
            entry["message"] = event.message
        result["update_events"].append(entry)
    for event in details.instanceEvents or ():
        result["instance_update_events"].append({
            "instance": event.instanceId, "timestamp": event.timestampMs,
            "action": JobUpdateAction._VALUES_TO_NAMES.get(event.action, str(event.action))})
    return json.dumps(result, indent=2, separators=(",", ": "))
