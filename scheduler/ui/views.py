"""What each page shows, computed from the leader's in-memory state: pure functions, no tornado, no I/O.

Every function takes the store (`scheduler.storage.store.Store`, read only) and whatever else the page needs
(a pending-reason function, held offers, tiers) and returns plain values the templates print; the templates
escape every one of them. Summaries the Thrift API also answers come from the modules that answer them, never
from a second copy here: job stats, role summaries and config groups from `scheduler.api.summaries`, quota
consumption from `scheduler.api.quota`.

`NotFound` is raised for a role, job or update the store does not know, so the page answers 404.
Large jobs are paged (`Page`): a job page of thousands of tasks renders one page of rows, while its counts
cover every task.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import quote
from dataclasses import dataclass, field

from scheduler.api import cron as cron_api
from scheduler.api import quota, summaries
from scheduler.api.maintenance import active_on, mode_of
from scheduler.state import cron as cron_schedule
from scheduler.state.status import ACTIVE, ScheduleStatus
from thermos_executor.aurora_api.gen.ttypes import (CronCollisionPolicy, JobUpdateAction, JobUpdateStatus,
                                                    MaintenanceMode, TaskQuery)

S = ScheduleStatus
OBSERVER_PORT = 1338
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class NotFound(LookupError):
    """The page names something the scheduler does not know (404); the message says what."""


# -- formatting ----------------------------------------------------------------------------------------------
def fmt_ms(ms: int | None) -> str:
    """Epoch milliseconds as UTC `YYYY-MM-DD HH:MM:SS`, "" when unset."""
    if not ms:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def status_name(status) -> str:
    try:
        return S(status).name
    except ValueError:
        return str(status)


def enum_name(enum, value) -> str:
    return enum._VALUES_TO_NAMES.get(value, str(value)) if value is not None else ""


def fmt_mb(mb: float | int | None) -> str:
    mb = mb or 0
    return f"{mb / 1024:g} GiB" if mb >= 1024 and mb % 1024 == 0 else f"{mb:g} MiB"


def resources(config) -> dict:
    """cpus, ram, disk, ports (names), gpus of a TaskConfig, printable."""
    found = {"cpus": 0.0, "ram": 0, "disk": 0, "gpus": 0, "ports": []}
    for r in config.resources or ():
        if r.numCpus is not None:
            found["cpus"] += r.numCpus
        elif r.ramMb is not None:
            found["ram"] += r.ramMb
        elif r.diskMb is not None:
            found["disk"] += r.diskMb
        elif r.numGpus is not None:
            found["gpus"] += r.numGpus
        elif r.namedPort is not None:
            found["ports"].append(r.namedPort)
    return {"cpus": f"{found['cpus']:g}", "ram": fmt_mb(found["ram"]), "disk": fmt_mb(found["disk"]),
            "gpus": found["gpus"], "ports": sorted(found["ports"])}


def ranges_text(ranges) -> str:
    """Instance ranges as `0-9, 12`."""
    parts = sorted((r.first, r.last) for r in ranges or ())
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def instances_of(ranges) -> list[int]:
    return sorted({i for r in ranges or () for i in range(r.first, r.last + 1)})


# -- paging --------------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of `total` rows: rows [offset, offset + size)."""
    offset: int
    size: int
    total: int
    rows: list = field(default_factory=list)

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    @property
    def previous(self) -> int | None:
        return max(0, self.offset - self.size) if self.offset > 0 else None

    @property
    def next(self) -> int | None:
        return self.offset + self.size if self.offset + self.size < self.total else None


def page(rows: list, offset: int, size: int) -> Page:
    return Page(offset, size, len(rows), rows[offset:offset + size])


# -- roles and jobs ------------------------------------------------------------------------------------------
def roles(store) -> list[dict]:
    """/scheduler: every role with a job or a cron job: its job counts and task counts."""
    by_role: dict[str, list] = {}
    for task in store.tasks:
        by_role.setdefault(task.assignedTask.task.job.role, []).append(task)
    rows = []
    for summary in summaries.role_summaries(store.tasks.job_keys(), store.cron_jobs):
        stats = summaries.job_stats(by_role.get(summary.role, ()))
        rows.append({"role": summary.role, "jobs": summary.jobCount, "cron_jobs": summary.cronJobCount,
                     "tasks": len(by_role.get(summary.role, ())), "stats": stats})
    return sorted(rows, key=lambda r: r["role"])


def role_jobs(store, role: str, env: str | None = None) -> list[dict]:
    """/scheduler/<role>[/<env>]: the jobs (with tasks, or cron templates) with their task counts."""
    tasks = summaries.by_job(store.tasks.fetch(TaskQuery(role=role, environment=env)))
    keys = set(tasks) | {k for k in store.cron_jobs if k[0] == role and (env is None or k[1] == env)}
    if not keys:
        raise NotFound(f"no jobs in {role}/{env}" if env is not None else f"no jobs of role {role}")
    rows = []
    for key in sorted(keys):
        job_tasks = tasks.get(key, [])
        cron = store.cron_jobs.get(key)
        config = summaries.latest_active(job_tasks).assignedTask.task if job_tasks else cron.taskConfig
        rows.append({"role": key[0], "env": key[1], "name": key[2], "stats": summaries.job_stats(job_tasks),
                     "kind": "cron" if cron is not None else "service" if config.isService else "job",
                     "tier": config.tier or "", "production": bool(config.production),
                     "cron_schedule": cron.cronSchedule if cron is not None else ""})
    return rows


def job_page(store, key: tuple[str, str, str], pending_reason, *, active_offset: int = 0,
             finished_offset: int = 0, size: int = PAGE_SIZE, tz=None, now_ms: int | None = None) -> dict:
    """/scheduler/<role>/<env>/<job>: counts over every task, then one page of active tasks (by instance)
    and one of finished tasks (latest first), the config groups of the active tasks, the cron template and
    the job's updates. `pending_reason(task_config)` says why PENDING tasks of that config wait. When the
    active tasks run more than one config, `diffs` holds, for each config group after the first (by first
    instance), the fields where it differs from the first. `tz` and `now_ms` give a cron job's next run."""
    role, env, name = key
    tasks = store.tasks.fetch(TaskQuery(role=role, environment=env, jobName=name))
    cron = store.cron_jobs.get(key)
    updates = [u for k, u in store.job_updates.items() if k[0] == key]
    if not tasks and cron is None and not updates:
        raise NotFound(f"no job {role}/{env}/{name}")
    active = sorted((t for t in tasks if t.status in ACTIVE), key=lambda t: t.assignedTask.instanceId)
    finished = sorted((t for t in tasks if t.status not in ACTIVE), key=summaries.latest_event_ms, reverse=True)
    reasons: dict[int, str] = {}

    def reason(config) -> str:
        found = reasons.get(id(config))
        if found is None:
            found = reasons[id(config)] = pending_reason(config) or "not yet tried"
        return found

    active_page = page(active, active_offset, size)
    finished_page = page(finished, finished_offset, size)
    active_page.rows = [task_row(t, reason) for t in active_page.rows]
    finished_page.rows = [task_row(t, reason) for t in finished_page.rows]
    groups = sorted(summaries.config_groups(active), key=lambda g: min(r.first for r in g.instances))
    first = groups[0] if groups else None
    return {"role": role, "env": env, "name": name, "stats": summaries.job_stats(tasks),
            "active": active_page, "finished": finished_page,
            "configs": [config_summary(g.config, ranges_text(g.instances)) for g in groups],
            "diffs": [diff_view(f"instances {ranges_text(first.instances)}", first.config,
                                f"instances {ranges_text(g.instances)}", g.config) for g in groups[1:]],
            "cron": cron_row(key, cron, store, tz, now_ms) if cron is not None else None,
            "updates": sorted((update_row(u) for u in updates), key=lambda r: r["modified_ms"], reverse=True)}


def task_row(task, pending_reason) -> dict:
    """One task: status, host with its observer link, ports, resources, last event, every event."""
    a = task.assignedTask
    events = [{"time": fmt_ms(e.timestamp), "status": status_name(e.status), "message": e.message or "",
               "scheduler": e.scheduler or ""} for e in task.taskEvents or ()]
    host = a.slaveHost or ""
    last = events[-1] if events else {"time": "", "message": ""}
    return {"instance": a.instanceId, "task_id": a.taskId, "status": status_name(task.status), "host": host,
            "observer": f"http://{host}:{OBSERVER_PORT}/task/{quote(a.taskId, safe='')}" if host else "",
            "ports": sorted((a.assignedPorts or {}).items()), "resources": resources(a.task),
            "last_time": last["time"], "last_message": last["message"], "events": events,
            "failures": task.failureCount or 0, "ancestor": task.ancestorId or "",
            "pending_reason": pending_reason(a.task) if task.status == S.PENDING else ""}


def config_summary(config, instances: str) -> dict:
    """What a TaskConfig asks for, printable: resources, tier, constraints, metadata, the processes of its
    Thermos task (names and command lines, from the executor data)."""
    return {"instances": instances, "resources": resources(config), "tier": config.tier or "",
            "production": bool(config.production), "service": bool(config.isService),
            "priority": config.priority or 0, "max_failures": config.maxTaskFailures,
            "owner": config.owner.user if config.owner else "", "contact": config.contactEmail or "",
            "constraints": sorted(_constraint_text(c) for c in config.constraints or ()),
            "metadata": sorted((m.key, m.value) for m in config.metadata or ()),
            "processes": processes(config)}


def processes(config) -> list[tuple[str, str]]:
    """(name, cmdline) of each process in the Thermos task of the executor data; [] if it has none."""
    data = config.executorConfig.data if config.executorConfig else None
    try:
        task = json.loads(data or "{}").get("task") or {}
        return [(str(p.get("name", "")), str(p.get("cmdline", ""))) for p in task.get("processes") or ()
                if isinstance(p, dict)]
    except (ValueError, AttributeError, TypeError):
        return []


def _constraint_text(c) -> str:
    value = _constraint_value(c)
    return f"{c.name} {value}" if value else c.name


def _constraint_value(c) -> str:
    if c.constraint is None:
        return ""
    if c.constraint.limit is not None:
        return f"limit:{c.constraint.limit.limit}"
    value = c.constraint.value
    if value is None:
        return ""
    return f"{'!' if value.negated else ''}{','.join(sorted(value.values or ()))}"


# -- config diff ---------------------------------------------------------------------------------------------
# Keys of the executor data (the Thermos job, JSON) that repeat a TaskConfig field shown on its own, or that
# are the same for every instance of a job: left out of the diff so a change shows once.
_DATA_SHOWN = frozenset({"task", "name", "role", "cluster", "environment", "service", "production", "priority",
                         "max_task_failures", "metadata", "tier", "contact", "constraints", "executor_config",
                         "instances", "update_config"})
_TASK_SHOWN = frozenset({"processes", "resources"})
# TaskConfig fields compared generically (flattened), after the ones compared by name above them.
_OTHER_FIELDS = ("container", "taskLinks", "mesosFetcherUris", "partitionPolicy", "slaPolicy")


def config_fields(config) -> dict[str, str]:
    """A TaskConfig as ordered (field, printable value) pairs, what the config diff compares: resources, kind,
    owner, each constraint, each metadata key, each Thermos process (its command line, then its other
    settings) and every other value of the executor data, the container and the remaining TaskConfig fields
    (flattened: `container.docker.image`). Absent and empty print alike ("")."""
    r = resources(config)
    fields = {"cpus": r["cpus"], "ram": r["ram"], "disk": r["disk"], "gpus": str(r["gpus"]) if r["gpus"] else "",
              "ports": ", ".join(r["ports"]), "tier": config.tier or "",
              "production": _text(bool(config.production)), "service": _text(bool(config.isService)),
              "priority": str(config.priority or 0),
              "max failures": str(config.maxTaskFailures) if config.maxTaskFailures is not None else "",
              "owner": config.owner.user or "" if config.owner else "", "contact": config.contactEmail or ""}
    for c in sorted(config.constraints or (), key=lambda c: c.name or ""):
        fields[f"constraint {c.name}"] = _constraint_value(c) or "(set)"
    metadata: dict[str, list[str]] = {}
    for m in config.metadata or ():
        metadata.setdefault(m.key or "", []).append(m.value or "")
    for k in sorted(metadata):
        fields[f"metadata {k}"] = ", ".join(sorted(metadata[k]))
    executor = config.executorConfig
    if executor is not None:
        fields["executor"] = executor.name or ""
        _executor_fields(executor.data, fields)
    for name in _OTHER_FIELDS:
        _flatten(name, getattr(config, name, None), fields)
    return fields


def _executor_fields(data: str | None, fields: dict[str, str]) -> None:
    try:
        parsed = json.loads(data or "null")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        fields["executor data"] = data or ""
        return
    task = parsed.get("task") if isinstance(parsed.get("task"), dict) else {}
    processes = task.get("processes") if isinstance(task.get("processes"), list) else []
    for p in processes:
        if not isinstance(p, dict):
            continue
        name = str(p.get("name", ""))
        fields[f"process {name}"] = str(p.get("cmdline", ""))
        for k in sorted(p):
            if k not in ("name", "cmdline"):
                _flatten(f"process {name} {k}", p[k], fields)
    _flatten("task", {k: v for k, v in task.items() if k not in _TASK_SHOWN}, fields)
    _flatten("", {k: v for k, v in parsed.items() if k not in _DATA_SHOWN}, fields)


def _flatten(prefix: str, value, out: dict[str, str]) -> None:
    """Leaves of a JSON value or Thrift struct as `a.b[0].c` -> text; lists of plain values as one line (a
    set's sorted), None and empty containers as nothing."""
    if value is None:
        return
    if hasattr(value, "thrift_spec"):
        for spec in value.thrift_spec or ():
            if spec:
                _flatten(_join(prefix, spec[2]), getattr(value, spec[2], None), out)
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            _flatten(_join(prefix, str(k)), value[k], out)
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if isinstance(value, set | frozenset):
            items.sort(key=repr)
        if all(not isinstance(v, dict | list | tuple | set | frozenset) and not hasattr(v, "thrift_spec")
               for v in items):
            if items:
                out[prefix] = ", ".join(_text(v) for v in items)
        else:
            for i, item in enumerate(items):
                _flatten(f"{prefix}[{i}]", item, out)
    else:
        out[prefix] = _text(value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def config_diff(before, after) -> list[tuple[str, str, str]]:
    """(field, value before, value after) of each field (`config_fields`) where two TaskConfigs differ, in
    the order the fields are shown; [] when they print alike."""
    a, b = config_fields(before), config_fields(after)
    keys = list(a) + [k for k in b if k not in a]
    return [(k, a.get(k, ""), b.get(k, "")) for k in keys if a.get(k, "") != b.get(k, "")]


def diff_view(before_label: str, before, after_label: str, after) -> dict:
    """One config diff as the pages print it (templates/diff.html): two column titles and the rows."""
    return {"before": before_label, "after": after_label, "rows": config_diff(before, after)}


# -- pending tasks -------------------------------------------------------------------------------------------
def pending(store, pending_reason) -> list[dict]:
    """/pendingtasks: PENDING tasks grouped by job and config (one reason per group, as placement judges a
    group), largest groups first."""
    rows = []
    for key, tasks in summaries.by_job(store.tasks.fetch(TaskQuery(statuses={S.PENDING}))).items():
        for group in summaries.config_groups(tasks):
            count = sum(r.last - r.first + 1 for r in group.instances)
            rows.append({"role": key[0], "env": key[1], "name": key[2], "count": count,
                         "instances": ranges_text(group.instances),
                         "reason": pending_reason(group.config) or "not yet tried",
                         "resources": resources(group.config)})
    return sorted(rows, key=lambda r: (-r["count"], r["role"], r["env"], r["name"]))


# -- updates -------------------------------------------------------------------------------------------------
_ACTION_CLASS = {JobUpdateAction.INSTANCE_UPDATED: "updated", JobUpdateAction.INSTANCE_ROLLED_BACK: "rolled-back",
                 JobUpdateAction.INSTANCE_UPDATING: "updating", JobUpdateAction.INSTANCE_ROLLING_BACK: "rolling-back",
                 JobUpdateAction.INSTANCE_UPDATE_FAILED: "failed",
                 JobUpdateAction.INSTANCE_ROLLBACK_FAILED: "failed"}
_BOX_CLASSES = ("pending", "updating", "updated", "rolling-back", "rolled-back", "failed", "removed")


def update_row(details) -> dict:
    s = details.update.summary
    state = s.state
    desired = details.update.instructions.desiredState if details.update.instructions else None
    return {"role": s.key.job.role, "env": s.key.job.environment, "name": s.key.job.name, "id": s.key.id,
            "user": s.user or "", "status": enum_name(JobUpdateStatus, state.status if state else None),
            "created": fmt_ms(state.createdTimestampMs if state else None),
            "modified": fmt_ms(state.lastModifiedTimestampMs if state else None),
            "modified_ms": (state.lastModifiedTimestampMs or 0) if state else 0,
            "instances": ranges_text(desired.instances) if desired else ""}


def updates(store, offset: int = 0, size: int = PAGE_SIZE) -> Page:
    """/updates: every stored update, latest change first."""
    rows = sorted((update_row(u) for u in store.job_updates.values()), key=lambda r: r["modified_ms"],
                  reverse=True)
    return page(rows, offset, size)


def update_page(store, key: tuple[str, str, str], update_id: str) -> dict:
    """/scheduler/<role>/<env>/<job>/update/<id>: the update, one coloured box per instance of its scope (its
    latest instance action: pending, updating, updated, rolling back, rolled back, failed, or removed for an
    instance the update took away), the config diff of each initial config group against the desired config,
    its settings and its events."""
    details = store.job_updates.get((key, update_id))
    if details is None:
        raise NotFound(f"no update {update_id} of {'/'.join(key)}")
    instructions = details.update.instructions
    desired = instructions.desiredState if instructions else None
    initial_groups = sorted((instructions.initialState if instructions else None) or (),
                            key=lambda g: min((r.first for r in g.instances or ()), default=0))
    settings = instructions.settings if instructions else None
    latest: dict[int, object] = {}
    for event in sorted(details.instanceEvents or (), key=lambda e: e.timestampMs or 0):
        latest[event.instanceId] = event
    desired_ids = set(instances_of(desired.instances) if desired else ())
    initial_ids = {i for g in initial_groups for i in instances_of(g.instances)}
    # The instances the updater works on (scheduler.state.updates.new_updater), and any that has an event.
    if settings is not None and settings.updateOnlyTheseInstances:
        scope = set(instances_of(settings.updateOnlyTheseInstances))
    else:
        scope = desired_ids | initial_ids
    boxes = []
    for i in sorted(scope | set(latest)):
        event = latest.get(i)
        if event is None:
            css, action = "pending", "PENDING"
        elif event.action == JobUpdateAction.INSTANCE_UPDATED and i in initial_ids and i not in desired_ids:
            css, action = "removed", "INSTANCE_UPDATED (removed)"     # as Aurora's UI: an instance taken away
        else:
            css, action = _ACTION_CLASS.get(event.action, "pending"), enum_name(JobUpdateAction, event.action)
        boxes.append({"instance": i, "class": css, "action": action,
                      "time": fmt_ms(event.timestampMs) if event else ""})
    counts = {c: sum(b["class"] == c for b in boxes) for c in _BOX_CLASSES}
    config = config_summary(desired.task, ranges_text(desired.instances)) if desired and desired.task else None
    diffs = []
    for group in initial_groups:
        if desired is not None and desired.task is not None and group.task is not None:
            diffs.append(diff_view(f"before: instances {ranges_text(group.instances)}", group.task,
                                   f"desired: instances {ranges_text(desired.instances)}", desired.task))
    return {**update_row(details), "boxes": boxes, "counts": counts,
            "done": counts["updated"] + counts["rolled-back"] + counts["removed"], "failed": counts["failed"],
            "config": config, "diffs": diffs,
            "added": ranges_text(summaries.ranges(desired_ids - initial_ids)) if desired else "",
            "removed": ranges_text(summaries.ranges(initial_ids - desired_ids)) if initial_groups else "",
            "settings": _settings_rows(settings),
            "metadata": sorted((m.key, m.value) for m in details.update.summary.metadata or ()),
            "events": [{"time": fmt_ms(e.timestampMs), "status": enum_name(JobUpdateStatus, e.status),
                        "user": e.user or "", "message": e.message or ""} for e in details.updateEvents or ()],
            "instance_events": [{"time": fmt_ms(e.timestampMs), "instance": e.instanceId,
                                 "action": enum_name(JobUpdateAction, e.action), "message": e.message or ""}
                                for e in details.instanceEvents or ()]}


def _settings_rows(settings) -> list[tuple[str, str]]:
    if settings is None:
        return []
    names = ("updateGroupSize", "maxPerInstanceFailures", "maxFailedInstances", "minWaitInInstanceRunningMs",
             "rollbackOnFailure", "waitForBatchCompletion", "blockIfNoPulsesAfterMs", "slaAware")
    rows = [(n, _text(getattr(settings, n))) for n in names if getattr(settings, n) is not None]
    if settings.updateOnlyTheseInstances:
        rows.append(("updateOnlyTheseInstances", ranges_text(settings.updateOnlyTheseInstances)))
    strategy = _strategy_text(settings.updateStrategy)
    if strategy:
        rows.append(("updateStrategy", strategy))
    return rows


def _strategy_text(strategy) -> str:
    """JobUpdateStrategy: `queue, group size 2`, `batch, group size 3, autopause after each batch`,
    `variable batch, group sizes 1, 2, 5`; "" when unset (the legacy updateGroupSize applies)."""
    if strategy is None:
        return ""
    if strategy.queueStrategy is not None:
        return f"queue, group size {strategy.queueStrategy.groupSize}"
    autopause = ", autopause after each batch"
    if strategy.batchStrategy is not None:
        b = strategy.batchStrategy
        return f"batch, group size {b.groupSize}" + (autopause if b.autopauseAfterBatch else "")
    if strategy.varBatchStrategy is not None:
        v = strategy.varBatchStrategy
        return (f"variable batch, group sizes {', '.join(map(str, v.groupSizes or ()))}"
                + (autopause if v.autopauseAfterBatch else ""))
    return ""


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# -- cluster pages -------------------------------------------------------------------------------------------
def cron_row(key, job, store=None, tz=None, now_ms: int | None = None) -> dict:
    """A cron job: schedule, policy, instances, owner; with `store`, `tz` (-cron_timezone) and `now_ms` also
    its next run, its last run and whether a run is in flight (`cron_times`)."""
    row = {"role": key[0], "env": key[1], "name": key[2], "schedule": job.cronSchedule or "",
           "policy": enum_name(CronCollisionPolicy, job.cronCollisionPolicy), "instances": job.instanceCount,
           "owner": job.owner.user if job.owner else ""}
    if store is not None and tz is not None and now_ms is not None:
        row.update(cron_times(store, key, job, tz, now_ms))
    return row


def cron_times(store, key, job, tz, now_ms: int) -> dict:
    """When a cron job runs next (getJobSummary's nextCronRunMs, in -cron_timezone), when it last ran (the
    stored lastRunMs: the latest run handled, fired or skipped by CANCEL_NEW; a lastRunMs off the schedule
    is the moment the schedule was saved, so no run of it yet), and its active tasks (a run in flight)."""
    next_ms = cron_api.next_run_ms(job, tz, now_ms)
    last_ms = store.cron_last_run.get(key)
    ran = False
    if last_ms is not None:
        try:
            ran = cron_schedule.parse(job.cronSchedule, tz).next_after(last_ms - 1) == last_ms
        except cron_schedule.CronError:
            ran = False
    active = store.tasks.fetch(TaskQuery(role=key[0], environment=key[1], jobName=key[2], statuses=set(ACTIVE)))
    return {"next_run": fmt_ms_tz(next_ms, tz) if next_ms is not None else "",
            "last_run": fmt_ms_tz(last_ms, tz) if ran else "",
            "saved": fmt_ms_tz(last_ms, tz) if last_ms is not None and not ran else "",
            "active": len(active), "zone": zone_name(tz)}


def fmt_ms_tz(ms: int, tz) -> str:
    """Epoch milliseconds as `YYYY-MM-DD HH:MM:SS <zone abbreviation>` in the time zone `tz`."""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def zone_name(tz) -> str:
    return getattr(tz, "key", None) or str(tz)


def cron_jobs(store, tz=None, now_ms: int | None = None) -> list[dict]:
    """/cron: the stored cron templates, with their next and last runs (see `cron_row`)."""
    return [cron_row(key, job, store, tz, now_ms) for key, job in sorted(store.cron_jobs.items())]


def quotas(store) -> list[dict]:
    """/quotas: each role with a quota or active tasks: its quota and getQuota's consumptions
    (scheduler.api.quota.role_info, so cron templates and job updates count as getQuota counts them)."""
    active = store.tasks.fetch(TaskQuery(statuses=set(ACTIVE)))
    rows = []
    for role in sorted(set(store.quotas) | {t.assignedTask.task.job.role for t in active}):
        info = quota.role_info(store, role)
        rows.append({"role": role, "quota": _bag_text(info.quota) if role in store.quotas else None,
                     "prod_shared": _bag_text(info.prod_shared), "nonprod_shared": _bag_text(info.non_prod_shared),
                     "prod_dedicated": _bag_text(info.prod_dedicated),
                     "nonprod_dedicated": _bag_text(info.non_prod_dedicated)})
    return rows


def _bag_text(bag: quota.Bag) -> dict:
    return {"cpus": f"{bag.cpus:g}", "ram": fmt_mb(bag.ram_mb), "disk": fmt_mb(bag.disk_mb)}


def agents(store) -> list[dict]:
    """/agents: every host the scheduler has attributes of: agent id, mode, attributes, active tasks."""
    rows = []
    for host, attributes in sorted(store.host_attributes.items()):
        active = active_on(store, host)
        rows.append({"host": host, "agent_id": attributes.slaveId or "",
                     "mode": enum_name(MaintenanceMode, mode_of(attributes)),
                     "attributes": sorted((a.name, ",".join(sorted(a.values or ())))
                                          for a in attributes.attributes or ()),
                     "active_tasks": len(active)})
    return rows


def maintenance(store) -> dict[str, list[dict]]:
    """/maintenance: hosts in each maintenance mode but NONE; a draining host lists the tasks still on it."""
    modes: dict[str, list[dict]] = {"SCHEDULED": [], "DRAINING": [], "DRAINED": []}
    for host, attributes in sorted(store.host_attributes.items()):
        mode = enum_name(MaintenanceMode, mode_of(attributes))
        if mode not in modes:
            continue
        tasks = []
        if mode == "DRAINING":
            tasks = sorted(t.assignedTask.taskId for t in active_on(store, host))
        request = store.maintenance.get(host)
        modes[mode].append({"host": host, "tasks": tasks,
                            "requested": fmt_ms(request.createdTimestampMs) if request else "",
                            "timeout": f"{request.timeoutSecs} s" if request and request.timeoutSecs else ""})
    return modes


# -- JSON variants (Aurora's /cron, /maintenance and /quotas answered JSON) ----------------------------------
def cron_json(store) -> dict:
    """Aurora's /cron: {"scheduled": {"role/env/job": "<cron schedule>"}}."""
    return {"scheduled": {"/".join(key): job.cronSchedule or "" for key, job in sorted(store.cron_jobs.items())}}


def maintenance_json(store) -> dict:
    """Aurora's /maintenance: hosts DRAINED and SCHEDULED, and DRAINING hosts with the ids of the active tasks
    still on them (as Aurora's, a draining host with none left is not listed)."""
    modes: dict[str, list[str]] = {"SCHEDULED": [], "DRAINING": [], "DRAINED": []}
    for host, attributes in sorted(store.host_attributes.items()):
        mode = enum_name(MaintenanceMode, mode_of(attributes))
        if mode in modes:
            modes[mode].append(host)
    draining = {}
    for host in modes["DRAINING"]:
        ids = sorted(t.assignedTask.taskId for t in active_on(store, host))
        if ids:
            draining[host] = ids
    return {"DRAINED": modes["DRAINED"], "SCHEDULED": modes["SCHEDULED"], "DRAINING": draining}


def quotas_json(store, role: str | None = None) -> dict:
    """Aurora's /quotas[?role=R]: each stored quota as {"cpu_cores", "ram_mb", "disk_mb"}."""
    roles = sorted(store.quotas) if role is None else [role] if role in store.quotas else []
    result = {}
    for r in roles:
        bag = quota.Bag.of([store.quotas[r]])
        result[r] = {"cpu_cores": bag.cpus, "ram_mb": int(bag.ram_mb), "disk_mb": int(bag.disk_mb)}
    return result


def offers(held) -> list[dict]:
    """/offers: the offers the scheduler holds (scheduler.framework.offers.HeldOffer), from their Mesos JSON."""
    rows = []
    for offer in sorted(held, key=lambda h: (h.hostname, h.offer_id)):
        raw = offer.raw or {}
        rows.append({"id": offer.offer_id, "host": offer.hostname, "agent_id": offer.agent_id,
                     "resources": [_mesos_resource(r) for r in raw.get("resources") or ()],
                     "attributes": [_mesos_attribute(a) for a in raw.get("attributes") or ()]})
    return rows


def _mesos_resource(r: dict) -> str:
    name = r.get("name", "?")
    role = r.get("role") or (r.get("reservations") or [{}])[-1].get("role")
    suffix = f" ({role})" if role and role != "*" else ""
    if "scalar" in r:
        return f"{name}: {r['scalar'].get('value', 0):g}{suffix}"
    if "ranges" in r:
        spans = ", ".join(f"{x.get('begin')}-{x.get('end')}" for x in r["ranges"].get("range") or ())
        return f"{name}: [{spans}]{suffix}"
    if "set" in r:
        return f"{name}: {{{', '.join(r['set'].get('item') or ())}}}{suffix}"
    return name + suffix


def _mesos_attribute(a: dict) -> str:
    name = a.get("name", "?")
    if "text" in a:
        return f"{name}: {a['text'].get('value', '')}"
    if "scalar" in a:
        return f"{name}: {a['scalar'].get('value', 0):g}"
    return name


def tiers(tiers_) -> dict:
    """/tiers: the default tier and each tier's settings (scheduler.api.settings.Tiers)."""
    return {"default": tiers_.default,
            "tiers": [{"name": n, "preemptible": t.preemptible, "revocable": t.revocable} for n, t in tiers_.tiers]}
