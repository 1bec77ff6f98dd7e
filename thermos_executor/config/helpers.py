"""Helpers that configs call to build tasks: Aurora's `schema_helpers`, with the same semantics.

`order()` builds constraints; `Tasks.combine` runs tasks side by side and `Tasks.concat` one after another;
`java_options`/`python_options` render command-line flags. Merged lists keep their first-seen order (Aurora
used sets), so a combined task's process list, and hence its default name, is deterministic.
"""
from itertools import pairwise

from pystachio import Empty

from .schema import GB, Constraint, Process, Resources, Task

__all__ = ['order', 'Units', 'Tasks', 'SimpleTask', 'SequentialTask', 'combine_tasks', 'concat_tasks',
           'java_options', 'python_options']


def order(*processes):
    """[Constraint(order=[names])]: each process waits for the one before it. Takes Processes or names."""
    names = []
    for item in processes:
        if isinstance(item, Process):
            names.append(item.name().get())
        elif isinstance(item, str):
            names.append(item)
        else:
            raise ValueError(f'order() takes Process objects or process names, got {item!r}')
    return [Constraint(order=names)]


def _flatten(args):
    """Accept both f(a, b) and Aurora's f([a, b]) spellings."""
    return list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


class Units:
    """Arithmetic on task parts, used by combine/concat. Unset resources count as zero."""

    _FIELDS = ('cpu', 'ram', 'disk', 'gpu')

    @classmethod
    def _values(cls, resources):
        return [{f: 0 for f in cls._FIELDS} if r is Empty else {f: r.get().get(f, 0) for f in cls._FIELDS}
                for r in _flatten(resources)]

    @classmethod
    def resources_sum(cls, *resources):
        values = cls._values(resources)
        return Resources(**{f: sum(v[f] for v in values) for f in cls._FIELDS})

    @classmethod
    def resources_max(cls, *resources):
        values = cls._values(resources)
        return Resources(**{f: max([0] + [v[f] for v in values]) for f in cls._FIELDS})

    @staticmethod
    def finalization_wait_sum(*waits):
        return sum(w.get() for w in _flatten(waits))

    @staticmethod
    def finalization_wait_max(*waits):
        return max([0] + [w.get() for w in _flatten(waits)])

    @staticmethod
    def processes_merge(*tasks):
        return _unique(p for t in _flatten(tasks) if t.has_processes() for p in t.processes())

    @staticmethod
    def constraints_merge(*tasks):
        return _unique(c for t in _flatten(tasks) for c in t.constraints())


def combine_tasks(*tasks, **kw):
    """Run tasks side by side: processes and constraints merged, resources summed, the longest
    finalization_wait; other fields (name, ...) from the last task; `kw` applied last."""
    if not tasks:
        return Task()
    return tasks[-1](
        processes=Units.processes_merge(tasks),
        constraints=Units.constraints_merge(tasks),
        resources=Units.resources_sum([t.resources() for t in tasks]),
        finalization_wait=Units.finalization_wait_max([t.finalization_wait() for t in tasks]),
    )(**kw)


def concat_tasks(*tasks, **kw):
    """Run tasks one after another: like combine, but every process of a task waits for every process of the
    task before it; resources are the maximum and finalization_wait the sum."""
    if not tasks:
        return Task()
    chained = []
    for first, second in pairwise(tasks):
        for p1 in Units.processes_merge(first):
            for p2 in Units.processes_merge(second):
                if p1.name().get() != p2.name().get():
                    chained.extend(order(p1, p2))
    return tasks[-1](
        processes=Units.processes_merge(tasks),
        constraints=_unique(Units.constraints_merge(tasks) + chained),
        resources=Units.resources_max([t.resources() for t in tasks]),
        finalization_wait=Units.finalization_wait_sum([t.finalization_wait() for t in tasks]),
    )(**kw)


def SimpleTask(name, command):
    """A task of one process `name` running `command`, with Aurora's stock resources (1 cpu, 1 GiB, 1 GiB)."""
    return Task(name=name, processes=[Process(name=name, cmdline=command)],
                resources=Resources(cpu=1.0, ram=1 * GB, disk=1 * GB))


def SequentialTask(*args, **kw):
    """A Task whose processes run one after another in list order."""
    task = Task(*args, **kw)
    if task.constraints().get():
        raise ValueError('SequentialTask orders its processes itself; do not give it constraints')
    return task(constraints=order(*task.processes()))


class Tasks:
    """Aurora's spelling of the task helpers: Tasks.combine, Tasks.concat, Tasks.simple."""
    combine = staticmethod(combine_tasks)
    concat = staticmethod(concat_tasks)
    simple = staticmethod(SimpleTask)


def _options(long_prefix, args, kw):
    def flag(name):
        return ('-' if len(name) == 1 else long_prefix) + name

    pairs = []
    for arg in args:
        if isinstance(arg, str):
            pairs.append((arg, None))
        elif isinstance(arg, dict):
            pairs.extend(arg.items())
        else:
            raise ValueError(f'options take flag names and dicts of flags, got {arg!r}')
    pairs.extend(kw.items())
    return ' '.join(flag(name) if not value else f'{flag(name)} {value}' for name, value in pairs)


def java_options(*args, **kw):
    """Render JVM-style flags: `java_options('server', Xmx='1g')` -> '-server -Xmx 1g'."""
    return _options('-', args, kw)


def python_options(*args, **kw):
    """Render GNU-style flags: `python_options('a', {'b': 1}, cow='foo')` -> '-a -b 1 --cow foo'."""
    return _options('--', args, kw)
