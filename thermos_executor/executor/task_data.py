"""What a Mesos TaskInfo carries for us: the AssignedTask (JSON, in `TaskInfo.data`), and what follows from it.

`data` (base64 in the Mesos JSON API) decodes to a JSON object:

    {"task_id": "www-data-prod-hello-0-...",     # also the Mesos task id
     "agent_host": "agent1.example.com",         # the agent's host name ({{mesos.hostname}}, announcements)
     "instance_id": 0,                           # {{mesos.instance}}, the ServerSet shard
     "assigned_ports": {"http": 31001},          # ports the scheduler reserved for this task
     "job": {"role": "www-data", "environment": "prod", "name": "hello"},
     "config": {...}}                            # the job: pystachio Job/Service JSON (`Job.json_dumps()`)

docs/executor.md documents it for the scheduler that produces it.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from thermos_executor import config
from thermos_executor.config import schema
from thermos_executor.config.templating import task_of_job
from thermos_executor.errors import ThermosError


class TaskDataError(ThermosError):
    """The TaskInfo's data is not a usable AssignedTask."""


@dataclass
class AssignedTask:
    task_id: str
    agent_host: str
    instance_id: int
    assigned_ports: dict
    role: str
    environment: str
    name: str
    job: object          # schema.Job

    @classmethod
    def from_task_info(cls, task_info: dict) -> AssignedTask:
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
        job_key = data["job"]
        if not isinstance(job_key, dict) or not all(isinstance(job_key.get(k), str)
                                                    for k in ("role", "environment", "name")):
            raise TaskDataError("task data: job must be {role, environment, name}")
        ports = data.get("assigned_ports") or {}
        if not isinstance(ports, dict) or not all(isinstance(p, int) for p in ports.values()):
            raise TaskDataError("task data: assigned_ports must map names to port numbers")
        if not isinstance(data["instance_id"], int) or not isinstance(data["config"], dict):
            raise TaskDataError("task data: instance_id must be an integer and config a JSON job")
        try:
            job = schema.Job.json_loads(json.dumps(data["config"]))
        except (ValueError, TypeError, AttributeError) as e:
            raise TaskDataError(f"task data: the job config is not a valid job: {e}") from None
        return cls(task_id=str(data["task_id"]), agent_host=str(data.get("agent_host") or ""),
                   instance_id=data["instance_id"], assigned_ports=ports, role=job_key["role"],
                   environment=job_key["environment"], name=job_key["name"], job=job)

    # ---- what the job says ---------------------------------------------------------------------------
    def _get(self, field):
        """A job field's value as plain data, or None when unset."""
        if not getattr(self.job, "has_" + field)():
            return None
        return getattr(self.job, field)().get()

    @property
    def announce(self) -> dict | None:
        return self._get("announce")

    @property
    def health_check(self) -> dict:
        return self._get("health_check_config") or schema.HealthCheckConfig().get()

    @property
    def lifecycle_http(self) -> dict | None:
        return (self._get("lifecycle") or {}).get("http")

    @property
    def uses_container_image(self) -> bool:
        container = self.job.container() if self.job.has_container() else None
        return container is not None and container.get() not in ({}, {"volumes": []})

    def ports(self) -> dict[str, int]:
        """Assigned ports plus the Announcer's portmap aliases (`aurora` -> `http` -> 31001)."""
        portmap = dict((self.announce or {}).get("portmap", {}))
        if self.announce is not None:
            primary = self.announce.get("primary_port", "http")
            portmap = {k: v.replace("{{primary_port}}", primary) for k, v in portmap.items()}
        return resolve_ports(portmap, self.assigned_ports)

    def thermos_task(self, ports: dict, user: str):
        """The job's task, validated and interpolated for this instance (raises ConfigError)."""
        task = task_of_job(self.job)
        bindings = {"mesos.instance": str(self.instance_id)}
        return config.interpolate(task, task_id=self.task_id, ports=ports, user=user, bindings=bindings,
                                  hostname=self.agent_host or None)


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
