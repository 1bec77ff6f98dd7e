"""`aurora-scheduler`'s flags: Aurora's names, spellings and defaults, parsed into one typed `Config`.

Spellings are Aurora's (``-flag=v``, ``--flag=v``, ``-flag v``; ``_`` and ``-`` alike), durations
``<int><unit>`` (ns us ms secs mins hrs days), sizes ``<int><unit>`` (B KB MB GB, 1024-based), booleans
``true``/``false``. Guarantees: `parse` either returns a complete `Config` or raises `FlagError` with one
line naming the flag (every missing required flag at once); it touches no file and no network. `check_paths`
then checks what is on disk (a log path that is a file, a -backup_dir that cannot be written);
`api_settings`, `flapping` and `pruning` turn the flags into the settings objects the other layers take.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from dataclasses import dataclass

# The one place the scheduler imports the Aurora-style parser.
from scheduler.api.settings import DEFAULT_TIERS, ApiSettings, Tiers
from thermos_executor.daemon.aurora_flags import Flag, FlagError
from thermos_executor.daemon.aurora_flags import parse as parse_argv
from scheduler.state.pruning import PruneSettings
from scheduler.state.reschedule import FlappingSettings

__all__ = ["Config", "FlagError", "parse", "check_paths", "api_settings", "flapping", "pruning"]

REQUIRED = ("cluster_name", "zk_endpoints", "serverset_path", "mesos_master_address", "native_log_file_path",
            "native_log_zk_group_path", "backup_dir")

FLAGS = [
    Flag("cluster_name"), Flag("http_port", "int", 0), Flag("ip", default=""), Flag("hostname"),
    Flag("zk_endpoints"), Flag("zk_chroot_path"), Flag("zk_session_timeout", "duration", 15.0),
    Flag("zk_connection_timeout", "duration", 10.0),
    Flag("serverset_path"), Flag("serverset_endpoint_name", default="http"),
    Flag("mesos_master_address"),
    Flag("native_log_quorum_size", "int", 1), Flag("native_log_file_path"), Flag("native_log_zk_group_path"),
    Flag("native_log_write_timeout", "duration", 3.0),
    Flag("native_log_port", "int", int(os.environ.get("LIBPROCESS_PORT", "8083"))),
    Flag("dlog_snapshot_interval", "duration", 3600.0), Flag("dlog_max_entry_size", "size", 512 << 10),
    Flag("backup_dir"), Flag("backup_interval", "duration", 3600.0), Flag("max_saved_backups", "int", 48),
    Flag("allowed_job_environments", default=r"^(prod|devel|test|staging\d*)$"),
    Flag("max_tasks_per_job", "int", 4000), Flag("tier_config"), Flag("viz_job_url_prefix", default=""),
    Flag("allowed_container_types", default="MESOS"), Flag("allow_docker_parameters", "bool", False),
    Flag("default_docker_parameters", default=""), Flag("require_docker_use_executor", "bool", True),
    Flag("allow_gpu_resource", "bool", False), Flag("enable_mesos_fetcher", "bool", False),
    Flag("allow_container_volumes", "bool", False),
    Flag("flapping_task_threshold", "duration", 300.0), Flag("initial_flapping_task_delay", "duration", 30.0),
    Flag("max_flapping_task_delay", "duration", 300.0),
    Flag("history_prune_threshold", "duration", 2 * 86400.0),
    Flag("history_min_retention_threshold", "duration", 3600.0),
    Flag("history_max_per_job_threshold", "int", 100),
    Flag("transient_task_state_timeout", "duration", 300.0),
]

@dataclass(frozen=True)
class Config:
    """Every flag's value, typed (durations in seconds, sizes in bytes, lists as tuples)."""
    cluster_name: str
    http_port: int
    ip: str
    hostname: str
    zk_endpoints: str
    zk_session_timeout: float
    zk_connection_timeout: float
    serverset_path: str
    serverset_endpoint_name: str
    mesos_master_address: str
    native_log_quorum_size: int
    native_log_file_path: str
    native_log_zk_group_path: str
    native_log_write_timeout: float
    native_log_port: int
    dlog_snapshot_interval: float
    dlog_max_entry_size: int
    backup_dir: str
    backup_interval: float
    max_saved_backups: int
    allowed_job_environments: str
    max_tasks_per_job: int
    tier_config: str | None
    viz_job_url_prefix: str
    allowed_container_types: tuple[str, ...]
    allow_docker_parameters: bool
    default_docker_parameters: tuple[tuple[str, str], ...]
    require_docker_use_executor: bool
    allow_gpu_resource: bool
    enable_mesos_fetcher: bool
    allow_container_volumes: bool
    flapping_task_threshold: float
    initial_flapping_task_delay: float
    max_flapping_task_delay: float
    history_prune_threshold: float
    history_min_retention_threshold: float
    history_max_per_job_threshold: int
    transient_task_state_timeout: float

    @property
    def bind_ip(self) -> str:
        """The address to listen on ('' = every interface, as Aurora's default)."""
        return "" if self.ip in ("", "0.0.0.0") else self.ip

    @property
    def advertised_ip(self) -> str:
        """The host peers reach us at: -ip if it names one, else -hostname."""
        return self.bind_ip or self.hostname


def parse(argv: list[str]) -> Config:
    """A `Config` from Aurora-style `argv`, or `FlagError` (one line)."""
    values = parse_argv(argv, FLAGS)
    missing = [f"-{n}" for n in REQUIRED if values.get(n) in (None, "")]
    if missing:
        raise FlagError(f"missing required flag{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    values["hostname"] = values["hostname"] or socket.gethostname()
    chroot = values.pop("zk_chroot_path")
    if chroot:
        values["zk_endpoints"] += "/" + chroot.strip("/")
    values["allowed_container_types"] = tuple(t.strip() for t in values["allowed_container_types"].split(",")
                                              if t.strip())
    values["default_docker_parameters"] = _multimap("default_docker_parameters", values["default_docker_parameters"])
    _check_ranges(values)
    return Config(**values)


def _multimap(name: str, text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise FlagError(f"-{name}: {item!r} is not name=value")
        pairs.append((key, value))
    return tuple(pairs)


def _check_ranges(v: dict) -> None:
    for port in ("http_port", "native_log_port"):
        if not 0 <= v[port] < 65536:
            raise FlagError(f"-{port}: {v[port]} is not a port number")
    for name in ("native_log_quorum_size", "max_saved_backups", "max_tasks_per_job", "dlog_max_entry_size",
                 "history_max_per_job_threshold"):
        if v[name] < 1:
            raise FlagError(f"-{name} must be at least 1")
    for name in ("zk_session_timeout", "native_log_write_timeout", "dlog_snapshot_interval", "backup_interval"):
        if v[name] <= 0:
            raise FlagError(f"-{name} must be positive")
    if not v["serverset_path"].startswith("/"):
        raise FlagError(f"-serverset_path: {v['serverset_path']!r} is not an absolute ZooKeeper path")
    try:
        re.compile(v["allowed_job_environments"])
    except re.error as e:
        raise FlagError(f"-allowed_job_environments: bad regular expression: {e}") from None


def check_paths(config: Config) -> None:
    """What the flags name on disk: the log path must be (or become) a directory, -backup_dir writable.
    `FlagError` (one line) otherwise; -backup_dir is created if missing, as Aurora does."""
    log_path = config.native_log_file_path
    if os.path.exists(log_path) and not os.path.isdir(log_path):
        raise FlagError(f"-native_log_file_path={log_path} exists and is not a directory")
    try:
        os.makedirs(config.backup_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.backup_dir, prefix=".probe-"):
            pass
    except OSError as e:
        raise FlagError(f"-backup_dir={config.backup_dir} is not a writable directory: "
                        f"{e.strerror or e}") from None


def api_settings(config: Config) -> ApiSettings:
    """The Jobs API's settings; a -tier_config that cannot be read or is not Aurora's tiers JSON: FlagError."""
    tiers = DEFAULT_TIERS
    if config.tier_config:
        try:
            with open(config.tier_config) as f:
                tiers = Tiers.parse(f.read())
        except OSError as e:
            raise FlagError(f"-tier_config={config.tier_config}: {e.strerror or e}") from None
        except ValueError as e:
            raise FlagError(f"-tier_config={config.tier_config}: {e}") from None
    return ApiSettings(
        cluster_name=config.cluster_name, stats_url_prefix=config.viz_job_url_prefix,
        allowed_job_environments=config.allowed_job_environments, max_tasks_per_job=config.max_tasks_per_job,
        tiers=tiers, allowed_container_types=frozenset(config.allowed_container_types),
        allow_docker_parameters=config.allow_docker_parameters,
        default_docker_parameters=config.default_docker_parameters,
        require_docker_use_executor=config.require_docker_use_executor,
        allow_gpu_resource=config.allow_gpu_resource, enable_mesos_fetcher=config.enable_mesos_fetcher,
        allow_container_volumes=config.allow_container_volumes)


def flapping(config: Config) -> FlappingSettings:
    return FlappingSettings(threshold_ms=_ms(config.flapping_task_threshold),
                            initial_delay_ms=_ms(config.initial_flapping_task_delay),
                            max_delay_ms=_ms(config.max_flapping_task_delay))


def pruning(config: Config) -> PruneSettings:
    """Task history pruning's settings (applied by `scheduler.app.timers`)."""
    return PruneSettings(prune_threshold_ms=_ms(config.history_prune_threshold),
                         min_retention_ms=_ms(config.history_min_retention_threshold),
                         max_per_job=config.history_max_per_job_threshold)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
