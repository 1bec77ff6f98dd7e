"""What a Mesos TaskInfo carries for us: the AssignedTask (JSON, in `TaskInfo.data`), and what follows from it.

`data` (base64 in the Mesos JSON API) decodes to a JSON object:

    {"task_id": "www-data-prod-hello-0-...",     # also the Mesos task id
     "agent_host": "agent1.example.com",         # the agent's host name ({{mesos.hostname}}, announcements)
     "instance_id": 0,                           # {{mesos.instance}}, the ServerSet shard
     "assigned_ports": {"http": 31001},          # ports the scheduler reserved for this task
     "job": {"role": "www-data", "environment": "prod", "name": "hello"},
     "config": {...}}                            # the job: pystachio Job/Service JSON (`Job.json_dumps()`)

docs/executor.md documents it for the scheduler that produces it; `encode` produces it (for
`aurora-mesos-local launch`, and the scheduler), `AssignedTask.from_task_info` reads it.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from pystachio import Ref

from thermos_executor import config
from thermos_executor.config import schema
from thermos_executor.config.spec import HealthCheckSpec, LifecycleSpec
from thermos_executor.config.templating import task_of_job
from thermos_executor.config.validation import check_fields
from thermos_executor.errors import ConfigError, ThermosError


class TaskDataError(ThermosError):
    """The TaskInfo's data is not a usable AssignedTask."""


@dataclass
class AssignedTask:
    """The task data, decoded and checked: what the executor runs and how it checks, announces and stops it."""
    task_id: str
    agent_host: str
    instance_id: int
    assigned_ports: dict
    role: str
    environment: str
    name: str
    job: object                         # schema.Job
    health_check: HealthCheckSpec
    lifecycle: LifecycleSpec | None     # the HTTP lifecycle; None: stop with signals only
    announce: dict | None               # Announcer data, defaults filled in; None: not announced
    ports: dict[str, int]               # assigned ports plus the Announcer's portmap aliases

    @classmethod
    def from_task_info(cls, task_info: dict) -> AssignedTask:
        """Raises TaskDataError when the data is not an AssignedTask, ConfigError when its job is invalid."""
        raw = task_info.get("data")
        if not raw:
            raise TaskDataError("task data is empty: expected a JSON AssignedTask")
        try:
            data = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError) as e:
            raise TaskDataError(f"task data is not base64-encoded JSON: {e}") from None
        if not isinstance(data, dict):
            raise TaskDataError("task data must be a JSON object (an AssignedTask)")
        missing = [k for k in ("task_id", "instance_id", "job", "config") if k not in data]
        if missing:
            raise TaskDataError(f"task data lacks {', '.join(missing)}")
        if not isinstance(data["task_id"], str) or not data["task_id"]:
            raise TaskDataError("task data: task_id must be a non-empty string")
        job_key = data["job"]
        if not isinstance(job_key, dict) or not all(isinstance(job_key.get(k), str)
                                                    for k in ("role", "environment", "name")):
            raise TaskDataError("task data: job must be {role, environment, name}")
        ports = data.get("assigned_ports") or {}
        if not isinstance(ports, dict) or not all(_is_int(p) for p in ports.values()):
            raise TaskDataError("task data: assigned_ports must map names to port numbers")
        if not _is_int(data["instance_id"]) or data["instance_id"] < 0 or not isinstance(data["config"], dict):
            raise TaskDataError("task data: instance_id must be an integer >= 0 and config a JSON job")
        try:
            job = schema.Job.json_loads(json.dumps(data["config"]))
        except (ValueError, TypeError, AttributeError) as e:
            raise TaskDataError(f"task data: the job config is not a valid job: {e}") from None
        if not job.has_task():
            raise TaskDataError("the job config has no task")
        announce = _plain(job, "announce")
        return cls(task_id=data["task_id"], agent_host=str(data.get("agent_host") or ""),
                   instance_id=data["instance_id"], assigned_ports=ports, role=job_key["role"],
                   environment=job_key["environment"], name=job_key["name"], job=job,
                   health_check=HealthCheckSpec.from_config(_plain(job, "health_check_config"),
                                                            schema.HttpHealthChecker().get()),
                   lifecycle=LifecycleSpec.from_config(_plain(job, "lifecycle")), announce=announce,
                   ports=_task_ports(announce, ports))

    @property
    def uses_container_image(self) -> bool:
        container = self.job.container() if self.job.has_container() else None
        return container is not None and container.get() not in ({}, {"volumes": []})

    def thermos_task(self, ports: dict, user: str):
        """The job's task, validated and interpolated for this instance (raises ConfigError)."""
        task = task_of_job(self.job)
        bindings = {"mesos.instance": str(self.instance_id)}
        return config.interpolate(task, task_id=self.task_id, ports=ports, user=user, bindings=bindings,
                                  hostname=self.agent_host or None)


def encode(task_id: str, job, instance_id: int, assigned_ports: dict[str, int], agent_host: str) -> bytes:
    """The AssignedTask JSON (TaskInfo.data before base64) that runs instance `instance_id` of `job`, a
    schema.Job whose bound values (`-E` bindings, `{{role}}` ...) are interpolated into it; what is left unbound
    (`{{thermos.ports[http]}}`, `{{mesos.instance}}`) the executor binds."""
    job, _ = job.interpolate()
    key = {field: str(getattr(job, field)().get()) for field in ("role", "environment", "name")}
    return json.dumps({"task_id": task_id, "agent_host": agent_host, "instance_id": instance_id,
                       "assigned_ports": assigned_ports, "job": key,
                       "config": json.loads(job.json_dumps())}).encode()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(job, field: str):
    """A job field as plain data, the schema's defaults filled in; None when unset. Raises ConfigError for a
    missing required field, a value of the wrong type, or a template variable nothing binds."""
    if not getattr(job, "has_" + field)():
        return None
    value = job.find(Ref.from_address(field))          # not job.<field>(), which coerces before we can check
    check_fields(value, field)
    value, refs = value.interpolate()
    if refs:
        raise ConfigError(f"{field}: unbound template variables {', '.join(sorted({str(ref) for ref in refs}))}")
    return value.get()


def _task_ports(announce: dict | None, assigned: dict) -> dict[str, int]:
    """Assigned ports plus the Announcer's portmap aliases (`aurora` -> `http` -> 31001)."""
    portmap = {}
    if announce is not None:
        portmap = {k: v.replace("{{primary_port}}", announce["primary_port"]) for k, v in announce["portmap"].items()}
    return resolve_ports(portmap, assigned)


def resolve_ports(portmap: dict, assigned: dict) -> dict[str, int]:
    """Follow alias chains (name -> name -> number) over the portmap overlaid with the assigned ports.

    Names that never reach a number are dropped; a cycle is an error.
    """
    table = {**portmap, **assigned}
    resolved = {}
    for name in table:
        seen, value = [name], table[name]
        while not isinstance(value, int) and not (isinstance(value, str) and value.isdigit()):
            if value not in table:
                value = None
                break
            if value in seen:
                raise TaskDataError(f"port aliases form a cycle: {' -> '.join(seen + [value])}")
            seen.append(value)
            value = table[value]
        if value is not None:
            resolved[name] = int(value)
    return resolved
