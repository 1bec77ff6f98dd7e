"""What `{{...}}` template variables resolve to, and which ports a task needs.

A variable resolves in the nearest scope that defines it. From nearest to farthest:
  1. the struct's own fields and its parents' fields (`{{name}}` in a Process is the process name);
  2. the `thermos` context bound when the task is run (ports, task_id, user);
  3. `-E NAME=VALUE` bindings;
  4. for a task taken from a Job, the job's fields (`{{role}}`, `{{environment}}`, `{{cluster}}` ...),
     with Aurora's deprecated `{{mesos.role}}`/`{{mesos.cluster}}` rewritten to `{{role}}`/`{{cluster}}`;
  5. the default `mesos` context: instance 0 and this machine's host name.
"""
import re
import os

from pystachio import Environment, Ref

from ..errors import ConfigError
from .schema import MesosContext, ThermosContext

_PORTS = Ref.from_address('thermos.ports')
_NESTED = re.compile(r'\{\{[^{}]*\{\{')
_JOB_REWRITES = {
    Ref.from_address('mesos.role'): '{{role}}',
    Ref.from_address('mesos.cluster'): '{{cluster}}',
}


def bindings_scope(bindings):
    """The pystachio scope for `-E NAME=VALUE` bindings (NAME may be dotted: `mesos.instance`), or None."""
    if not bindings:
        return None
    table = {}
    for name, value in bindings.items():
        try:
            table[Ref.from_address(name)] = value
        except Ref.InvalidRefError:
            raise ConfigError(f'invalid binding name {name!r}: expected a name like foo or mesos.instance'
                              ) from None
    return Environment(table)


def bind(obj, scope):
    """`obj` with `scope` bound nearest, or `obj` itself when there is nothing to bind."""
    return obj.bind(scope) if scope is not None else obj


def task_of_job(job):
    """The job's task, scoped inside the job so that the job's fields resolve in it, as in Aurora."""
    return job.bind(_JOB_REWRITES).find(Ref.from_address('task'))


def bind_contexts(task, *, task_id, ports, user, hostname=None, bindings=None):
    """`task` with the run-time contexts bound: the `thermos` context above `-E` bindings, the default
    `mesos` context below everything (so `-E mesos.instance=3` wins over the default instance 0)."""
    mesos = MesosContext(instance=0, hostname=hostname or os.uname().nodename)
    thermos = ThermosContext(task_id=task_id, ports=dict(ports), user=user)
    return bind(task.in_scope(mesos=mesos), bindings_scope(bindings)).bind(thermos=thermos)


def required_ports(task):
    """Sorted names of every `{{thermos.ports[NAME]}}` the task refers to and that is not bound yet."""
    _reject_nested_templates(task)
    _, unbound = task.interpolate()
    names = set()
    for ref in unbound:
        port = _PORTS.scoped_to(ref)
        if port is None:
            continue
        if not port.is_index():
            raise ConfigError(f'bad port reference {ref}: write {{{{thermos.ports[NAME]}}}}')
        names.add(port.action().value)
    return sorted(names)


def _reject_nested_templates(task):
    raw = task.get()
    for path, text in _strings(raw):
        if _NESTED.search(text):
            raise ConfigError(f'{_describe(raw, path)}: nested template in {text!r}; '
                              'template variables cannot be nested')


def _strings(value, path=()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def _describe(raw_task, path):
    """Name a place in a task for people: ('processes', 0, 'cmdline') -> "process 'web' cmdline"."""
    def dotted(parts):
        return ''.join(f'[{p}]' if isinstance(p, int) else '.' + p for p in parts).lstrip('.')

    if len(path) >= 2 and path[0] == 'processes':
        name = raw_task['processes'][path[1]].get('name') or f'#{path[1] + 1}'
        return f"process '{name}' {dotted(path[2:])}".rstrip()
    return 'task ' + dotted(path)
