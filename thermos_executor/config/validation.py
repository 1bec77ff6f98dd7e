"""Every check a task must pass before a runner may start it, each failing with one line for people.

`check_task` binds the run-time contexts (the real ones when running, stand-ins for `thermos inspect`) and
checks, in this order: processes present; required fields and field types; nested templates and port
references; unbound template variables; process names, including duplicates (Aurora silently collapsed them);
negative counts and durations; logger settings; order constraints (unknown names, final mixed with regular
processes, dependencies on daemons or of regular processes on ephemeral ones, cycles); and last, ports the
caller did not give.
"""
import re
from itertools import pairwise

from pystachio import Ref
from pystachio.base import Object
from pystachio.basic import EnumContainer
from pystachio.composite import Structural
from pystachio.container import ListContainer
from pystachio.parsing import MustacheParser

from ..errors import ConfigError
from .schema import Task
from .templating import bind_contexts, required_ports

_PROCESS_NAME = re.compile(r'^[^./][^/]*$')
_REQUIRED = 'is required'
_KINDS = {'Integer': 'an integer', 'Float': 'a number', 'Boolean': 'a boolean', 'String': 'a string'}


def check_task(task, ports=None, *, task_id='task_id', user='user', hostname=None, bindings=None):
    """Validate `task` and return it fully interpolated in the given context, as plain data.

    With `ports` None every required port gets a stand-in number and missing ports are not an error.
    """
    if not task.get().get('processes'):
        raise ConfigError(f'{_task_label(task)} has no processes')
    check_types(task)
    needed = required_ports(task)
    given = dict(ports or {})
    for name, port in given.items():
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f'port {name} must be a number from 1 to 65535, got {port!r}')
    bound = bind_contexts(task, task_id=task_id, ports={**dict.fromkeys(needed, 1), **given}, user=user,
                          hostname=hostname, bindings=bindings)
    check_types(bound)
    interpolated, unbound = bound.interpolate()
    if unbound:
        names = ', '.join(sorted({str(ref) for ref in unbound}))
        raise ConfigError(f'{_task_label(interpolated)}: unbound template variables {names}; '
                          'bind them with -E NAME=VALUE')
    raw = interpolated.get()
    label = f"task '{raw['name']}'"
    processes = {}
    for process in raw['processes']:
        _check_process(process)
        if process['name'] in processes:
            raise ConfigError(f"{label}: duplicate process name '{process['name']}'")
        processes[process['name']] = process
    for field in ('max_failures', 'max_concurrency', 'finalization_wait'):
        _non_negative(label, field, raw[field])
    _check_constraints(label, processes, raw['constraints'])
    missing = sorted(set(needed) - set(given))
    if ports is not None and missing:
        raise ConfigError(f"Unbound ports: {', '.join(missing)}")
    # Rebuilt from plain values, so that it compares equal to the same task read back from JSON: pystachio
    # gives a struct built in a config and one coerced from a dict different (unequal) Enum classes.
    return Task(raw)


def _check_process(process):
    name = process['name']
    if not _PROCESS_NAME.match(name):
        raise ConfigError(f"invalid process name {name!r}: a name must be non-empty, must not start with '.' "
                          "and must not contain '/'")
    label = f"process '{name}'"
    for field in ('max_failures', 'min_duration'):
        _non_negative(label, field, process[field])
    logger = process.get('logger')
    rotate = logger and logger.get('rotate')
    if rotate:
        if rotate['log_size'] <= 0:
            raise ConfigError(f"{label}: logger.rotate.log_size must be > 0 bytes, got {rotate['log_size']}")
        if logger['mode'] == 'rotate' and rotate['backups'] < 1:
            raise ConfigError(f"{label}: logger.rotate.backups must be >= 1 with mode rotate, "
                              f"got {rotate['backups']}")


def _non_negative(label, field, value):
    if value < 0:
        raise ConfigError(f'{label}: {field} must be >= 0, got {value}')


def _check_constraints(label, processes, constraints):
    edges = []
    for constraint in constraints:
        names = list(constraint.get('order', ()))
        shown = f"order({', '.join(names)})"
        if not names:
            raise ConfigError(f'{label}: empty order constraint')
        unknown = [name for name in dict.fromkeys(names) if name not in processes]
        if unknown:
            plural = 'es' if len(unknown) > 1 else ''
            raise ConfigError(f"{label}: {shown} names unknown process{plural}: {', '.join(unknown)}")
        if len({processes[name]['final'] for name in names}) > 1:
            raise ConfigError(f'{label}: {shown} mixes final and regular processes')
        for before, after in pairwise(names):
            if processes[before]['daemon']:
                raise ConfigError(f"{label}: process '{after}' may not depend on daemon process '{before}'")
            if processes[before]['ephemeral'] and not processes[after]['ephemeral']:
                raise ConfigError(f"{label}: regular process '{after}' may not depend on "
                                  f"ephemeral process '{before}'")
            edges.append((before, after))
    cycle = _find_cycle(edges)
    if cycle:
        raise ConfigError(f"{label}: order constraints form a cycle: {' -> '.join(cycle)}")


def _find_cycle(edges):
    """Names [a, b, ..., a] that form a cycle in the `before -> after` graph, or None.

    Depth-first, with an explicit stack (a chain of thousands of ordered processes must not hit Python's
    recursion limit) and the current path kept as a set too (membership in O(1)).
    """
    graph = {}
    for before, after in edges:
        graph.setdefault(before, []).append(after)
    done = set()
    for start in list(graph):
        if start in done:
            continue
        path, on_path, stack = [start], {start}, [iter(graph.get(start, ()))]
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                stack.pop()
                continue
            if successor in on_path:
                return path[path.index(successor):] + [successor]
            if successor not in done:
                path.append(successor)
                on_path.add(successor)
                stack.append(iter(graph.get(successor, ())))
    return None


def check_types(task):
    """Raise ConfigError for a missing required field or a wrongly typed value, naming process and field."""
    for index in range(len(task.get().get('processes', ()))):
        process = task.find(Ref.from_address(f'processes[{index}]'))
        problem = _type_problem(process)
        if problem:
            raise ConfigError(f'{_process_label(process, index)}: {_format(*problem)}')
    problem = _type_problem(task, skip=('processes',))
    if problem:
        raise ConfigError(f'{_task_label(task)}: {_format(*problem)}')


def check_fields(obj, label):
    """Raise ConfigError for a missing required field or a wrongly typed value anywhere in `obj` (a struct of a
    job, such as its health_check_config), naming it under `label`."""
    problem = _type_problem(obj)
    if problem:
        raise ConfigError(_format([label] + problem[0], problem[1]))


def _type_problem(obj, skip=()):
    """The first type problem in a pystachio value, read in its scopes, as (field path, what), or None.

    Values that still hold unbound template variables are not problems yet."""
    if isinstance(obj, Structural):
        for field, signature in type(obj).TYPEMAP.items():
            if field in skip:
                continue
            if not getattr(obj, 'has_' + field)():
                if signature.required:
                    return [field], _REQUIRED
                continue
            problem = _type_problem(obj.find(Ref.from_address(field)))
            if problem:
                return [field] + problem[0], problem[1]
        return None
    if isinstance(obj, ListContainer):
        for index in range(len(obj.get())):
            problem = _type_problem(obj.find(Ref.from_address(f'[{index}]')))
            if problem:
                return [f'[{index}]'] + problem[0], problem[1]
        return None
    raw = obj.get()
    try:
        obj.interpolate()
    except MustacheParser.Uninterpolatable:
        return [], f'template {raw!r} refers to itself'
    except Object.CoercionError:
        value = MustacheParser.resolve(raw, *obj.scopes())[0] if isinstance(raw, str) else raw
        if isinstance(obj, EnumContainer):
            return [], f"{value!r} is not one of {', '.join(obj.VALUES)}"
        return [], f'{value!r} is not {_KINDS.get(type(obj).__name__, type(obj).__name__)}'
    return None


def _format(path, what):
    where = ''.join(part if part.startswith('[') else '.' + part for part in path).lstrip('.')
    return f'{where} {what}' if what == _REQUIRED else f'{where}: {what}'


def _process_label(process, index):
    name = process.get().get('name')
    return f"process '{name}'" if name else f'process #{index + 1}'


def _task_label(task):
    try:
        name = task.name().get()
    except (Object.CoercionError, MustacheParser.Uninterpolatable):
        name = task.get().get('name')
    return f"task '{name}'"
