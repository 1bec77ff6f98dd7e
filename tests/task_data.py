"""Task data as a scheduler sends it: the job converted as Aurora's client does (`config.thrift.convert`), in a
Thrift-binary AssignedTask (`executor.task_data.encode`)."""
from __future__ import annotations

import base64
import json

from thermos_executor.aurora_api.gen import ttypes
from thermos_executor.config.thrift import convert
from thermos_executor.executor import task_data


def assigned_task(job, task_id: str = "t-1", instance: int = 0, ports: dict | None = None,
                  host: str = "127.0.0.1") -> ttypes.AssignedTask:
    """Instance `instance` of `job` (a schema.Job) assigned to `host` with `ports`."""
    return ttypes.AssignedTask(taskId=task_id, slaveId="agent-1", slaveHost=host, task=convert(job).taskConfig,
                               assignedPorts=dict(ports or {}), instanceId=instance)


def encoded(job, **kw) -> bytes:
    """TaskInfo.data before base64."""
    return task_data.encode(assigned_task(job, **kw))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_job_json(data: bytes, change) -> bytes:
    """`data` (an encoded AssignedTask) with its executorConfig.data JSON changed by `change(blob)` (in place)."""
    assigned = task_data.decode(data)
    blob = json.loads(assigned.task.executorConfig.data)
    change(blob)
    assigned.task.executorConfig.data = json.dumps(blob)
    return task_data.encode(assigned)
