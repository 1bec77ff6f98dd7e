"""What a Mesos TaskInfo carries for us: Aurora's AssignedTask, Thrift-binary, and what follows from it.

`TaskInfo.data` (base64 in the Mesos JSON API) is the Thrift TBinaryProtocol serialization of an AssignedTask
(thermos_executor/aurora_api/aurora.thrift), byte for byte what Aurora's scheduler writes, so this executor runs
under an Aurora scheduler and Aurora's executor under ours:

    AssignedTask{1 taskId, 2 slaveId, 3 slaveHost, 5 assignedPorts {name: port}, 6 instanceId,
                 4 task: TaskConfig{28 job: JobKey{role, environment, name}, 29 container, ...,
                                    25 executorConfig: {name "AuroraExecutor", data: <the job, JSON>}}}

`executorConfig.data` is the job as the client wrote it (`config.thrift.convert`): a pystachio MesosJob in JSON,
or, from old clients, a MesosTaskInstance (recognised, as Aurora does, by its `instance` key). As in Aurora's
executor, the task runs as the JobKey's role and is announced under role/environment/name; `{{mesos.instance}}`
is instanceId, `{{mesos.hostname}}` slaveHost, `{{thermos.ports[NAME]}}` the assigned ports (plus the
Announcer's portmap aliases) and `{{thermos.task_id}}` taskId.

`encode` and `decode` are the two directions of the wire form (the scheduler and `aurora-mesos-local launch`
encode; the executor decodes); `AssignedTask.from_task_info` decodes and checks everything the executor needs,
before any sandbox exists. The old JSON task data of our own is not read any more (docs/decisions.md).
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from pystachio import Ref
from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TException
from thrift.transport import TTransport

from thermos_executor import config
from thermos_executor.aurora_api.gen import ttypes
from thermos_executor.config import schema
from thermos_executor.config.spec import HealthCheckSpec, LifecycleSpec
from thermos_executor.config.templating import task_of_job
from thermos_executor.config.validation import check_fields
from thermos_executor.errors import ConfigError, ThermosError


class TaskDataError(ThermosError):
    """The TaskInfo's data is not a usable AssignedTask."""


def encode(assigned: ttypes.AssignedTask) -> bytes:
    """The TBinary serialization of `assigned`: TaskInfo.data before base64."""
    transport = TTransport.TMemoryBuffer()
    assigned.write(TBinaryProtocol.TBinaryProtocol(transport))
    return transport.getvalue()


def decode(data: bytes) -> ttypes.AssignedTask:
    """The AssignedTask that `data` serializes; TaskDataError (one line) for anything else, trailing bytes too.

    No string or container may claim more bytes than the data has, so garbage fails fast instead of allocating."""
    if data[:1] == b"{":
        raise TaskDataError("task data is JSON, not a Thrift-binary AssignedTask (the old JSON task data is no "
                            "longer read; see docs/executor.md)")
    transport = TTransport.TMemoryBuffer(data)
    protocol = TBinaryProtocol.TBinaryProtocol(transport, string_length_limit=len(data),
                                               container_length_limit=len(data))
    assigned = ttypes.AssignedTask()
    try:
        assigned.read(protocol)
    except EOFError:
        raise TaskDataError(f"task data is truncated: {len(data)} bytes end inside the AssignedTask") from None
    except (TException, ValueError, TypeError, OverflowError, RecursionError) as e:
        # UnicodeDecodeError is a ValueError; TypeError/OverflowError come from values of the wrong shape
        raise TaskDataError(f"task data is not a Thrift-binary AssignedTask: {_one_line(e)}") from None
    left = len(data) - transport.cstringio_buf.tell()
    if left:
        raise TaskDataError(f"task data is not a Thrift-binary AssignedTask: {left} bytes after its end")
    return assigned


@dataclass
class AssignedTask:
    """The task data, decoded and checked: what the executor runs and how it checks, announces and stops it."""
    task_id: str
    agent_host: str                     # slaveHost: {{mesos.hostname}}, the host announced
    instance_id: int
    assigned_ports: dict[str, int]
    role: str                           # the JobKey's: the run-as user (as root) and the ServerSet path
    environment: str
    name: str
    config: object                      # schema.MesosJob or schema.MesosTaskInstance, the mesos context bound
    health_check: HealthCheckSpec
    lifecycle: LifecycleSpec | None     # the HTTP lifecycle; None: stop with signals only
    announce: dict | None               # Announcer data, defaults filled in; None: not announced
    ports: dict[str, int]               # assigned ports plus the Announcer's portmap aliases
    uses_container_image: bool          # a Docker container, or a Mesos one with an image or volumes
    thrift: ttypes.AssignedTask         # as decoded

    @classmethod
    def from_task_info(cls, task_info: dict) -> AssignedTask:
        """Raises TaskDataError when the data is not an AssignedTask for Thermos, ConfigError when its job is
        invalid."""
        raw = task_info.get("data")
        if not raw:
            raise TaskDataError("task data is empty: expected a Thrift-binary AssignedTask")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as e:
            raise TaskDataError(f"task data is not base64: {e}") from None
        return cls.from_thrift(decode(data))

    @classmethod
    def from_thrift(cls, assigned: ttypes.AssignedTask) -> AssignedTask:
        task_id, instance, ports, key = _checked(assigned)
        host = assigned.slaveHost or ""
        mesos = schema.MesosContext(instance=instance, hostname=host or os.uname().nodename)
        source = _job_config(assigned.task.executorConfig).bind(mesos=mesos)
        announce = _plain(source, "announce")
        task_ports = _task_ports(announce, ports)
        # a shell health check may name the task's ports and id, as in Aurora (the run-as user is not known yet)
        checks = source.bind(thermos=schema.ThermosContext(task_id=task_id, ports=task_ports))
        lifecycle = _plain(checks, "lifecycle")
        container = assigned.task.container
        return cls(task_id=task_id, agent_host=host, instance_id=instance, assigned_ports=ports, role=key.role,
                   environment=key.environment, name=key.name, config=source,
                   health_check=HealthCheckSpec.from_config(_plain(checks, "health_check_config"),
                                                            schema.HttpHealthChecker().get()),
                   lifecycle=None if lifecycle is None else LifecycleSpec.from_config(lifecycle), announce=announce,
                   ports=task_ports,
                   uses_container_image=container is not None and _uses_image(container), thrift=assigned)

    def thermos_task(self, ports: dict, user: str):
        """The task, validated and interpolated for this instance (raises ConfigError)."""
        return config.interpolate(task_of_job(self.config), task_id=self.task_id, ports=ports, user=user,
                                  bindings={"mesos.instance": str(self.instance_id)},
                                  hostname=self.agent_host or None)


def _checked(assigned: ttypes.AssignedTask):
    """The fields the executor cannot do without, checked: (taskId, instanceId, assignedPorts, JobKey)."""
    if not isinstance(assigned.taskId, str) or not assigned.taskId:
        raise TaskDataError("the AssignedTask has no taskId")
    if not isinstance(assigned.instanceId, int) or assigned.instanceId < 0:
        raise TaskDataError(f"the AssignedTask's instanceId must be 0 or more, got {assigned.instanceId}")
    ports = assigned.assignedPorts or {}
    for name, port in ports.items():
        if not isinstance(port, int) or not 0 < port < 65536:
            raise TaskDataError(f"the AssignedTask's assignedPorts: {name} is {port}, not a port from 1 to 65535")
    task = assigned.task
    if task is None:
        raise TaskDataError("the AssignedTask has no task (TaskConfig)")
    key = task.job
    if key is None or not all(isinstance(v, str) and v for v in (key.role, key.environment, key.name)):
        raise TaskDataError("the AssignedTask's task has no job key (role, environment, name)")
    return assigned.taskId, assigned.instanceId, dict(ports), key


def _job_config(executor_config: ttypes.ExecutorConfig | None):
    """executorConfig.data as Aurora's executor reads it: a MesosTaskInstance when it has `instance`, else a
    MesosJob."""
    if executor_config is None or not executor_config.data:
        raise TaskDataError("the AssignedTask's task has no executorConfig data: it is not a Thermos task")
    try:
        blob = json.loads(executor_config.data)
    except ValueError as e:
        raise TaskDataError(f"executorConfig.data is not JSON: {e}") from None
    if not isinstance(blob, dict):
        raise TaskDataError("executorConfig.data is not a job: expected a JSON object (a MesosJob)")
    kind = schema.MesosTaskInstance if "instance" in blob else schema.MesosJob
    try:
        source = kind.json_loads(executor_config.data)
    except (ValueError, TypeError, AttributeError) as e:
        raise TaskDataError(f"executorConfig.data is not a valid job: {_one_line(e)}") from None
    if not source.has_task():
        raise TaskDataError("the job config has no task")
    return source


def _uses_image(container: ttypes.Container) -> bool:
    mesos = container.mesos
    return container.docker is not None or (mesos is not None and (mesos.image is not None or bool(mesos.volumes)))


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _plain(source, field: str):
    """A field of the job as plain data, the schema's defaults filled in; None when unset. Raises ConfigError for
    a missing required field, a value of the wrong type, or a template variable nothing binds."""
    if not getattr(source, "has_" + field)():
        return None
    value = source.find(Ref.from_address(field))     # not source.<field>(), which coerces before we can check
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
