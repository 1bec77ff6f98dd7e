"""`aurora job diff`: the TaskConfig a config would create (populateJobConfig) against the active tasks'.

Each side is rendered as sorted JSON, one block per instance (the executor data parsed), and compared by
`diff` or $DIFF_VIEWER, as Aurora's client did before its update-based diff; an instance-count change shows
as blocks present on one side only. Exit 0 whether or not they differ (Aurora's behaviour).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
from thermos_executor.aurora_api.gen.ttypes import TaskQuery

from . import exits
from .exits import CommandError
from .jobkeys import AuroraJobKey
from .render import simple_json


def _normalize(value):
    """Thrift sets arrive as lists in no particular order: sort them so that equal configs print equally."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_normalize(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def render_task(task, instance: int) -> str:
    data = _normalize(simple_json(task))
    executor = data.get("executorConfig") or {}
    try:
        executor["data"] = json.loads(executor.get("data") or "null")
    except ValueError:
        pass
    return f"# instance {instance}\n" + json.dumps(data, indent=2, sort_keys=True) + "\n"


def job_diff(context) -> int:
    o = context.options
    jobkey, instances = o.instance_spec
    config = context.get_job_config(jobkey, o.config_file)
    target = jobkey
    if o.rename_from:
        try:
            target = AuroraJobKey.from_path(o.rename_from)
        except ValueError as e:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, str(e)) from None
    api = context.get_api(target.cluster)
    reply = api.populateJobConfig(config.thrift)
    context.log_response_and_raise(reply, err_code=exits.EXIT_INVALID_CONFIGURATION,
                                   err_msg="Error loading configuration")
    local_task = reply.result.populateJobResult.taskConfig
    reply = api.getTasksStatus(TaskQuery(jobKeys={target.to_thrift()}, statuses=set(ACTIVE_STATES)))
    context.log_response_and_raise(reply, err_code=exits.EXIT_INVALID_PARAMETER,
                                   err_msg="Could not find job to diff against")
    remote = {t.assignedTask.instanceId: t.assignedTask.task for t in reply.result.scheduleStatusResult.tasks or []}
    local = dict.fromkeys(range(config.instances), local_task)
    wanted = set(instances) if instances is not None else set(local) | set(remote)
    viewer = os.environ.get("DIFF_VIEWER", "diff")
    with tempfile.NamedTemporaryFile("w", suffix=".remote") as remote_file, \
            tempfile.NamedTemporaryFile("w", suffix=".local") as local_file:
        for instance in sorted(wanted):
            if instance in remote:
                remote_file.write(render_task(remote[instance], instance))
            if instance in local:
                local_file.write(render_task(local[instance], instance))
        remote_file.flush()
        local_file.flush()
        try:
            result = subprocess.call([*viewer.split(), remote_file.name, local_file.name])
        except OSError as e:
            raise CommandError(exits.EXIT_COMMAND_FAILURE, f"Error running diff command: {e}") from None
    if result not in (0, 1):
        raise CommandError(exits.EXIT_COMMAND_FAILURE, "Error running diff command")
    return exits.EXIT_OK
