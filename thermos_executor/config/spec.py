"""Plain, frozen descriptions of an interpolated task: what the runner and planner consume.

The pystachio schema (`schema.py`) is the user-facing config language; once a task is validated and
interpolated it is turned into these dataclasses so that the runner never touches pystachio. The executor's
view of a job (`HealthCheckSpec`, `LifecycleSpec`) is made the same way, from the schema's plain data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ConfigError

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


@dataclass(frozen=True)
class HealthCheckSpec:
    """A job's `health_check_config`, checked. A shell check when `shell_command` is set, else HTTP.

    Built by `from_config` from the schema's plain data, whose defaults pystachio has filled in: the defaults
    live in schema.py only.
    """
    initial_interval_secs: float
    interval_secs: float
    max_consecutive_failures: int
    min_consecutive_successes: int
    timeout_secs: float
    shell_command: str | None
    endpoint: str                      # HTTP: GET http://localhost:<health port><endpoint>
    expected_response: str
    expected_response_code: int

    @classmethod
    def from_config(cls, raw: dict, http_defaults: dict) -> HealthCheckSpec:
        """`raw` is HealthCheckConfig data; `http_defaults` the HttpHealthChecker's, for a checker with neither
        `http` nor `shell` (Aurora then checks over HTTP). Raises ConfigError for values no checker can use."""
        checker = raw['health_checker']
        http = checker.get('http') or http_defaults
        spec = cls(initial_interval_secs=raw['initial_interval_secs'], interval_secs=raw['interval_secs'],
                   max_consecutive_failures=raw['max_consecutive_failures'],
                   min_consecutive_successes=raw['min_consecutive_successes'], timeout_secs=raw['timeout_secs'],
                   shell_command=checker['shell']['shell_command'] if 'shell' in checker else None,
                   endpoint=http['endpoint'], expected_response=http['expected_response'],
                   expected_response_code=http['expected_response_code'])
        _positive('health_check_config', interval_secs=spec.interval_secs, timeout_secs=spec.timeout_secs,
                  min_consecutive_successes=spec.min_consecutive_successes)
        _not_negative('health_check_config', initial_interval_secs=spec.initial_interval_secs,
                      max_consecutive_failures=spec.max_consecutive_failures)
        return spec


@dataclass(frozen=True)
class LifecycleSpec:
    """A job's HTTP `lifecycle` (Aurora's LifecycleConfig has only `http`): how a task is asked to stop.

    On a stop, POST `graceful_shutdown_endpoint` on the port named `port` and wait, then `shutdown_endpoint`.
    """
    port: str
    graceful_shutdown_endpoint: str
    graceful_shutdown_wait_secs: int
    shutdown_endpoint: str
    shutdown_wait_secs: int

    @classmethod
    def from_config(cls, raw: dict) -> LifecycleSpec | None:
        """`raw` is LifecycleConfig data; None when it has no `http`. Raises ConfigError for negative waits."""
        http = raw.get('http')
        if http is None:
            return None
        spec = cls(**http)
        _not_negative('lifecycle.http', graceful_shutdown_wait_secs=spec.graceful_shutdown_wait_secs,
                      shutdown_wait_secs=spec.shutdown_wait_secs)
        return spec

    def steps(self) -> list[tuple[str, int]]:
        """The escalation: (endpoint, seconds to wait for the task to end after it)."""
        return [(self.graceful_shutdown_endpoint, self.graceful_shutdown_wait_secs),
                (self.shutdown_endpoint, self.shutdown_wait_secs)]


def _positive(where: str, **values) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ConfigError(f'{where}.{name} must be a finite number, got {value}')
        if not value > 0:
            raise ConfigError(f'{where}.{name} must be positive, got {value}')


def _not_negative(where: str, **values) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ConfigError(f'{where}.{name} must be a finite number, got {value}')
        if value < 0:
            raise ConfigError(f'{where}.{name} must not be negative, got {value}')
