"""Reading config files, and picking the task to run from one.

A config file is Python run with `from pystachio import *`, the whole schema and the helpers in scope, plus:

    export(task)       adds a Task (or a dict coerced to one) to the file's tasks;
    include('path')    runs another file in the same namespace, the path relative to the including file;
    jobs = [Job(...)]  declares Aurora jobs.

With `json=True` the file is instead one JSON object: a Task, or a Job whose task is used. Any error becomes
one ConfigError line naming the file and line: "hello.aurora:7: NameError: name 'Proces' is not defined".
"""
import json as jsonlib
import os
from dataclasses import dataclass, field

from pystachio.base import Object
from pystachio.parsing import MustacheParser

from ..errors import ConfigError
from . import helpers, schema
from .schema import Job, Task
from .templating import bind, bindings_scope, task_of_job


@dataclass
class LoadedConfig:
    """What one config file defines: exported tasks and jobs, with the `-E` `bindings` already bound."""
    path: str
    tasks: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    bindings: dict = field(default_factory=dict)


def load(path, bindings=None, json=False):
    """Load `path` (a Python config, or JSON when `json` is true) and bind `bindings` ({NAME: VALUE})."""
    scope = bindings_scope(bindings)
    loaded = _load_json(path) if json else _load_python(path)
    loaded.tasks = [bind(task, scope) for task in loaded.tasks]
    loaded.jobs = [bind(job, scope) for job in loaded.jobs]
    loaded.bindings = dict(bindings or {})
    return loaded


def choose_task(loaded, task=None, job=None):
    """The one task to run from `loaded`: the job named `job` (NAME or CLUSTER/ROLE/ENV/NAME), else the
    exported task or job task named `task`, else the only task or job the file defines.

    A job's task comes scoped inside its job: `{{role}}`, `{{environment}}`, `{{cluster}}` resolve in it."""
    if job is not None:
        chosen = _job_task(loaded, _pick_job(loaded, job))
        if task is not None and _name(chosen) != task:
            raise ConfigError(f'job {job} has no task named {task} (its task is {_name(chosen)})')
        return chosen
    candidates = loaded.tasks + [_job_task(loaded, j) for j in loaded.jobs]
    if task is not None:
        matches = [c for c in candidates if _name(c) == task]
        if not matches:
            defined = _inventory(loaded) or 'it defines none'
            raise ConfigError(f'no task named {task} in {loaded.path}; {defined}')
        if len(matches) > 1:
            raise ConfigError(f'several tasks named {task} in {loaded.path}; choose one with --job NAME')
        return matches[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ConfigError(f'no tasks or jobs defined in {loaded.path}')
    raise ConfigError(f'{loaded.path} defines several ({_inventory(loaded)}); '
                      'choose one with --task NAME or --job NAME')


def choose_job(loaded, job=None):
    """The job named `job` (NAME or CLUSTER/ROLE/ENV/NAME) in `loaded`, else the only job it defines."""
    if job is not None:
        return _pick_job(loaded, job)
    if len(loaded.jobs) != 1:
        names = ', '.join(_name(j) for j in loaded.jobs) or 'none'
        raise ConfigError(f'{loaded.path} defines {len(loaded.jobs)} jobs ({names}): give --job NAME'
                          if loaded.jobs else f'{loaded.path} defines no job')
    return loaded.jobs[0]


def _load_python(path):
    namespace = {}
    exec('from pystachio import *', namespace)
    namespace.update((name, getattr(schema, name)) for name in schema.__all__)
    namespace.update((name, getattr(helpers, name)) for name in helpers.__all__)
    tasks, running, seen = [], [], set()

    def export(task):
        if isinstance(task, dict):
            task = Task(task)
        if not isinstance(task, Task):
            raise TypeError(f'export() takes a Task or a dict, got {type(task).__name__}')
        tasks.append(task)

    def include(relative_path):
        target = os.path.normpath(os.path.join(os.path.dirname(running[-1]), relative_path))
        if target in running:
            raise ConfigError(f"include cycle: {' -> '.join(running + [target])}")
        run(target)

    def run(file):
        code = compile(_read(file), file, 'exec')
        running.append(file)
        seen.add(file)
        try:
            exec(code, namespace)
        finally:
            running.pop()

    namespace.update(export=export, include=include)
    try:
        run(path)
    except SyntaxError as e:
        raise ConfigError(f'{e.filename}:{e.lineno}: SyntaxError: {e.msg}') from None
    except Exception as e:
        raise ConfigError(_located(e, seen)) from None
    jobs = namespace.get('jobs', [])
    if not isinstance(jobs, (list, tuple)) or not all(isinstance(job, Job) for job in jobs):
        raise ConfigError(f'{path}: jobs must be a list of Job objects')
    for job in jobs:
        if not job.has_task():
            raise ConfigError(f'{path}: job {_job_key(job)} has no task')
    return LoadedConfig(path, tasks, list(jobs))


def _located(error, files):
    """One line for an error raised while running config files: the innermost config file line, then what."""
    what = str(error) if isinstance(error, ConfigError) else f'{type(error).__name__}: {error}'
    where = None
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename in files:
            where = f'{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}'
        frame = frame.tb_next
    return f'{where}: {what}' if where else what


def _load_json(path):
    text = _read(path)
    try:
        data = jsonlib.loads(text)
    except ValueError as e:
        raise ConfigError(f'{path}: invalid JSON: {e}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a JSON object (a Task or a Job), got {type(data).__name__}')
    try:
        if 'task' in data and 'processes' not in data:
            return LoadedConfig(path, jobs=[Job.json_loads(text)])
        return LoadedConfig(path, tasks=[Task.json_loads(text)])
    except (ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f'{path}: {e}') from None


def _read(path):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except FileNotFoundError:
        raise ConfigError(f'config file not found: {path}') from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {getattr(e, 'strerror', None) or e}") from None


def _job_task(loaded, job):
    # Bound again on the task itself, so that -E bindings also win over the job's own fields.
    return bind(task_of_job(job), bindings_scope(loaded.bindings))


def _pick_job(loaded, wanted):
    matches = [j for j in loaded.jobs if wanted in (_name(j), _job_key(j))]
    if not matches:
        names = ', '.join(_name(j) for j in loaded.jobs) or 'none'
        raise ConfigError(f'no job named {wanted}; jobs: {names}')
    if len(matches) > 1:
        keys = ', '.join(_job_key(j) for j in matches)
        raise ConfigError(f'several jobs named {wanted}: {keys}; give --job CLUSTER/ROLE/ENV/NAME')
    return matches[0]


def _inventory(loaded):
    parts = [('tasks', [_name(t) for t in loaded.tasks]), ('jobs', [_name(j) for j in loaded.jobs])]
    return '; '.join(f"{kind}: {', '.join(names)}" for kind, names in parts if names)


def _job_key(job):
    return '/'.join(_text(job, name) for name in ('cluster', 'role', 'environment', 'name'))


def _name(obj):
    return _text(obj, 'name')


def _text(obj, name):
    """A field of a task or job as text, resolved as far as its bindings go ('?' when unset)."""
    if not getattr(obj, 'has_' + name)():
        return '?'
    try:
        return str(getattr(obj, name)().get())
    except (Object.CoercionError, MustacheParser.Uninterpolatable):
        return str(obj.get()[name])
