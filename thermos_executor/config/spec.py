"""Plain, frozen descriptions of an interpolated task: what the runner and planner consume.

The pystachio schema (`schema.py`) is the user-facing config language; once a task is validated and
interpolated it is turned into these dataclasses so that the runner never touches pystachio.
"""
from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_LOG_SIZE = 100 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 5


@dataclass(frozen=True)
class LoggerSpec:
    """A process's own `logger`. Absent (None on ProcessSpec) means: use the runner's cluster defaults."""
    destination: str = "file"          # file | console | both | none
    mode: str = "standard"             # standard | rotate
    log_size: int | None = None        # bytes, only with mode rotate; None = runner default
    backups: int | None = None         # only with mode rotate; None = runner default


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    cmdline: str
    max_failures: int = 1
    daemon: bool = False
    ephemeral: bool = False
    min_duration: int = 5
    final: bool = False
    logger: LoggerSpec | None = None


@dataclass(frozen=True)
class TaskSpec:
    name: str
    processes: tuple[ProcessSpec, ...]
    constraints: tuple[tuple[str, ...], ...] = ()   # each an `order`: later names wait for earlier ones
    max_failures: int = 1
    max_concurrency: int = 0
    finalization_wait: int = 30
    user: str | None = None
    resources: dict = field(default_factory=dict)    # cpu, ram, disk, gpu as given; informational only

    def process(self, name: str) -> ProcessSpec:
        for p in self.processes:
            if p.name == name:
                return p
        raise KeyError(name)
