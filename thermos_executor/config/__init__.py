"""Task configuration: load a config file, pick a task, validate and interpolate it, describe it to a runner.

    loaded = load_config('hello.aurora', bindings={'mesos.instance': '3'})
    task = choose_task(loaded, task=None, job=None)
    required_ports(task)                                   # ['http']
    task = interpolate(task, task_id='hello-1', ports={'http': 8080}, user='www-data')
    spec = to_spec(task)

Every failure is a ConfigError carrying one line for people.
"""
import json

from ..errors import ConfigError
from . import templating
from .loader import LoadedConfig, choose_job, choose_task
from .loader import load as load_config
from .schema import Task
from .spec import LoggerSpec, ProcessSpec, TaskSpec
from .validation import check_task, check_types

__all__ = ['ConfigError', 'LoadedConfig', 'load_config', 'choose_job', 'choose_task', 'required_ports', 'interpolate',
           'validate', 'to_spec', 'task_to_json', 'task_from_json',
           'TaskSpec', 'ProcessSpec', 'LoggerSpec']


def required_ports(task):
    """Sorted names of the ports the task refers to as `{{thermos.ports[NAME]}}`."""
    check_types(task)
    return templating.required_ports(task)


def interpolate(task, *, task_id, ports, user, bindings=None, hostname=None):
    """Validate `task` fully, ports included; return it interpolated in the `thermos` and `mesos` contexts."""
    return check_task(task, ports, task_id=task_id, user=user, hostname=hostname, bindings=bindings)


def validate(task, ports=None):
    """Raise ConfigError if `task` is invalid (with `ports` None, missing ports are not checked); return the
    sorted names of the ports it needs."""
    check_task(task, ports)
    return templating.required_ports(task)


def task_to_json(task):
    """The task as a plain dict: defaults filled in, unset optional fields left out."""
    return json.loads(task.json_dumps())


def task_from_json(data):
    """The inverse of task_to_json: task_from_json(task_to_json(t)) == t."""
    try:
        return Task.json_loads(json.dumps(data))
    except (ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f'invalid task JSON: {e}') from None


def to_spec(task):
    """The runner's frozen description of an interpolated task."""
    raw = task_to_json(task)
    return TaskSpec(
        name=raw['name'],
        processes=tuple(_process_spec(p) for p in raw['processes']),
        constraints=tuple(tuple(c.get('order', ())) for c in raw['constraints']),
        max_failures=raw['max_failures'],
        max_concurrency=raw['max_concurrency'],
        finalization_wait=raw['finalization_wait'],
        user=raw.get('user'),
        resources=raw.get('resources', {}),
    )


def _process_spec(raw):
    logger = raw.get('logger')
    if logger is not None:
        rotate = logger.get('rotate', {})
        logger = LoggerSpec(destination=logger['destination'], mode=logger['mode'],
                            log_size=rotate.get('log_size'), backups=rotate.get('backups'))
    return ProcessSpec(name=raw['name'], cmdline=raw['cmdline'], max_failures=raw['max_failures'],
                       daemon=raw['daemon'], ephemeral=raw['ephemeral'], min_duration=raw['min_duration'],
                       final=raw['final'], logger=logger)
