"""`aurora-scheduler`'s flags: Aurora's names, spellings and defaults, parsed into one typed `Config`.

Spellings are Aurora's (``-flag=v``, ``--flag=v``, ``-flag v``; ``_`` and ``-`` alike), durations
``<int><unit>`` (ns us ms secs mins hrs days), sizes ``<int><unit>`` (B KB MB GB, 1024-based), booleans
``true``/``false``. Guarantees: `parse` either returns a complete `Config` or raises `FlagError` with one
line naming the flag (every missing required flag at once); it touches no file and no network. `check_paths`
then checks what is on disk (a log path that is a file, a -backup_dir that cannot be written);
`api_settings`, `flapping`, `pruning` and `update_history` turn the flags into the settings objects the other
layers take.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass

from scheduler.api.settings import DEFAULT_TIERS, ApiSettings, Tiers
from thermos_executor.daemon.aurora_flags import Flag, FlagError
from thermos_executor.daemon.aurora_flags import parse as parse_argv
from scheduler.framework.driver import MasterAddressError, check_master_address
from scheduler.framework.settings import (ExecutorSettings, FrameworkSettings, MesosSettings, Mount,
                                          PreemptorSettings, ReconciliationSettings, SchedulingSettings)
from scheduler.state import cron
from scheduler.scheduling.offers import OfferOrder, parse_offer_order
from scheduler.state.pruning import PruneSettings
from scheduler.state.reschedule import FlappingSettings
from scheduler.state.update_history import UpdateHistorySettings

__all__ = ["Config", "FlagError", "parse", "check_paths", "api_settings", "flapping", "pruning", "update_history",
           "mesos"]

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
    Flag("max_tasks_per_job", "int", 4000), Flag("max_update_instance_failures", "int", 20000),
    Flag("tier_config"), Flag("viz_job_url_prefix", default=""),
    Flag("allowed_container_types", default="MESOS"), Flag("allow_docker_parameters", "bool", False),
    Flag("default_docker_parameters", default=""), Flag("require_docker_use_executor", "bool", True),
    Flag("allow_gpu_resource", "bool", False), Flag("enable_mesos_fetcher", "bool", False),
    Flag("allow_container_volumes", "bool", False),
    Flag("flapping_task_threshold", "duration", 300.0), Flag("initial_flapping_task_delay", "duration", 30.0),
    Flag("max_flapping_task_delay", "duration", 300.0),
    Flag("history_prune_threshold", "duration", 2 * 86400.0),
    Flag("history_min_retention_threshold", "duration", 3600.0),
    Flag("history_max_per_job_threshold", "int", 100),
    Flag("job_update_history_per_job_threshold", "int", 10),
    Flag("job_update_history_pruning_threshold", "duration", 30 * 86400.0),
    Flag("job_update_history_pruning_interval", "duration", 900.0),
    Flag("transient_task_state_timeout", "duration", 300.0),
    Flag("cron_timezone", default="GMT"), Flag("cron_start_initial_backoff", "duration", 5.0),
    Flag("cron_start_max_backoff", "duration", 60.0),
    # Mesos: the framework, the executor, placement, status updates, kills, reconciliation.
    Flag("mesos_role"), Flag("framework_name", default="Aurora"),
    Flag("framework_failover_timeout", "duration", 21 * 86400.0), Flag("executor_user", default="root"),
    Flag("max_registration_delay", "duration", 60.0),
    Flag("thermos_executor_path"), Flag("thermos_executor_resources", default=""),
    Flag("thermos_executor_flags", default=""), Flag("thermos_home_in_sandbox", "bool", False),
    Flag("thermos_executor_cpu", "float", 0.25), Flag("thermos_executor_ram", "size", 128 << 20),
    Flag("global_container_mounts", default=""), Flag("populate_discovery_info", "bool", False),
    Flag("first_schedule_delay", "duration", 0.001), Flag("initial_schedule_penalty", "duration", 1.0),
    Flag("max_schedule_penalty", "duration", 60.0), Flag("max_schedule_attempts_per_sec", "float", 40.0),
    Flag("max_tasks_per_schedule_attempt", "int", 5), Flag("scheduling_max_batch_size", "int", 3),
    Flag("max_reschedule_task_delay_on_startup", "duration", 30.0),
    Flag("min_offer_hold_time", "duration", 300.0), Flag("offer_hold_jitter_window", "duration", 60.0),
    Flag("offer_filter_duration", "duration", 5.0), Flag("offer_order", default="RANDOM"),
    Flag("hold_offers_forever", "bool", False), Flag("unavailability_threshold", "duration", 360.0),
    Flag("reconciliation_initial_delay", "duration", 60.0),
    Flag("reconciliation_explicit_interval", "duration", 3600.0),
    Flag("reconciliation_implicit_interval", "duration", 3600.0),
    Flag("reconciliation_schedule_spread", "duration", 1800.0),
    Flag("reconciliation_explicit_batch_size", "int", 1000),
    Flag("reconciliation_explicit_batch_interval", "duration", 5.0),
    Flag("max_status_update_batch_size", "int", 1000),
    Flag("initial_task_kill_retry_interval", "duration", 15.0),
    Flag("host_maintenance_polling_interval", "duration", 60.0),
    # Preemption (PreemptorModule) and the offer reservation it makes (SchedulingModule).
    Flag("enable_preemptor", "bool", True), Flag("preemption_delay", "duration", 180.0),
    Flag("preemption_slot_hold_time", "duration", 300.0),
    Flag("preemption_slot_search_initial_delay", "duration", 180.0),
    Flag("preemption_slot_search_interval", "duration", 60.0),
    Flag("preemption_reservation_max_batch_size", "int", 5),
    Flag("offer_reservation_duration", "duration", 180.0),
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
    max_update_instance_failures: int
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
    job_update_history_per_job_threshold: int
    job_update_history_pruning_threshold: float
    job_update_history_pruning_interval: float
    transient_task_state_timeout: float
    cron_timezone: str
    cron_start_initial_backoff: float
    cron_start_max_backoff: float
    mesos_role: str | None
    framework_name: str
    framework_failover_timeout: float
    executor_user: str
    max_registration_delay: float
    thermos_executor_path: str | None
    thermos_executor_resources: tuple[str, ...]
    thermos_executor_flags: str
    thermos_home_in_sandbox: bool
    thermos_executor_cpu: float
    thermos_executor_ram: int
    global_container_mounts: tuple[Mount, ...]
    populate_discovery_info: bool
    first_schedule_delay: float
    initial_schedule_penalty: float
    max_schedule_penalty: float
    max_schedule_attempts_per_sec: float
    max_tasks_per_schedule_attempt: int
    scheduling_max_batch_size: int
    max_reschedule_task_delay_on_startup: float
    min_offer_hold_time: float
    offer_hold_jitter_window: float
    offer_filter_duration: float
    offer_order: tuple[OfferOrder, ...]
    hold_offers_forever: bool
    unavailability_threshold: float
    reconciliation_initial_delay: float
    reconciliation_explicit_interval: float
    reconciliation_implicit_interval: float
    reconciliation_schedule_spread: float
    reconciliation_explicit_batch_size: int
    reconciliation_explicit_batch_interval: float
    max_status_update_batch_size: int
    initial_task_kill_retry_interval: float
    host_maintenance_polling_interval: float
    enable_preemptor: bool
    preemption_delay: float
    preemption_slot_hold_time: float
    preemption_slot_search_initial_delay: float
    preemption_slot_search_interval: float
    preemption_reservation_max_batch_size: int
    offer_reservation_duration: float

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
    values["thermos_executor_resources"] = _list(values["thermos_executor_resources"])
    values["global_container_mounts"] = tuple(_mount(m) for m in _list(values["global_container_mounts"]))
    try:
        values["offer_order"] = parse_offer_order(values["offer_order"])
    except ValueError as e:
        raise FlagError(str(e)) from None
    try:
        check_master_address(values["mesos_master_address"])
    except MasterAddressError as e:
        raise FlagError(str(e)) from None
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


def _list(text: str) -> tuple[str, ...]:
    return tuple(i.strip() for i in text.split(",") if i.strip())


def _mount(text: str) -> Mount:
    """One -global_container_mounts entry: host:container:mode, mode ro or rw (Aurora's VolumeParser)."""
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise FlagError(f"-global_container_mounts: {text!r} is not host_path:container_path:mode")
    if parts[2].lower() not in ("ro", "rw"):
        raise FlagError(f"-global_container_mounts: {text!r}: mode must be ro or rw")
    return Mount(parts[0], parts[1], parts[2].upper())


def _check_ranges(v: dict) -> None:
    for port in ("http_port", "native_log_port"):
        if not 0 <= v[port] < 65536:
            raise FlagError(f"-{port}: {v[port]} is not a port number")
    for name in ("native_log_quorum_size", "max_saved_backups", "max_tasks_per_job", "max_update_instance_failures",
                 "dlog_max_entry_size",
                 "history_max_per_job_threshold", "max_tasks_per_schedule_attempt", "scheduling_max_batch_size",
                 "reconciliation_explicit_batch_size", "max_status_update_batch_size",
                 "preemption_reservation_max_batch_size"):
        if v[name] < 1:
            raise FlagError(f"-{name} must be at least 1")
    for name in ("zk_session_timeout", "zk_connection_timeout", "native_log_write_timeout", "dlog_snapshot_interval",
                 "backup_interval", "max_registration_delay", "max_schedule_attempts_per_sec",
                 "initial_schedule_penalty", "max_schedule_penalty", "initial_task_kill_retry_interval",
                 "reconciliation_explicit_interval", "reconciliation_implicit_interval",
                 "host_maintenance_polling_interval", "cron_start_initial_backoff", "cron_start_max_backoff",
                 "job_update_history_pruning_interval", "preemption_delay", "preemption_slot_hold_time",
                 "preemption_slot_search_initial_delay", "preemption_slot_search_interval"):
        if v[name] <= 0:
            raise FlagError(f"-{name} must be positive")
    for name in ("thermos_executor_cpu", "first_schedule_delay", "min_offer_hold_time", "offer_hold_jitter_window",
                 "offer_filter_duration", "max_reschedule_task_delay_on_startup", "reconciliation_initial_delay",
                 "reconciliation_schedule_spread", "reconciliation_explicit_batch_interval",
                 "unavailability_threshold", "job_update_history_per_job_threshold",
                 "job_update_history_pruning_threshold", "offer_reservation_duration"):
        if v[name] < 0:
            raise FlagError(f"-{name} must not be negative")
    try:
        cron.zone(v["cron_timezone"])
    except cron.CronError as e:
        raise FlagError(f"-cron_timezone: {e}") from None
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
        max_update_instance_failures=config.max_update_instance_failures, tiers=tiers,
        allowed_container_types=frozenset(config.allowed_container_types),
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


def update_history(config: Config) -> UpdateHistorySettings:
    """Job update history pruning's settings (applied by `scheduler.app.update_pruner`)."""
    return UpdateHistorySettings(per_job=config.job_update_history_per_job_threshold,
                                 threshold_ms=_ms(config.job_update_history_pruning_threshold),
                                 interval_ms=_ms(config.job_update_history_pruning_interval))


def mesos(config: Config) -> MesosSettings:
    """The framework's settings (scheduler.framework.settings) from the flags."""
    c = config
    return MesosSettings(
        master_address=c.mesos_master_address,
        framework=FrameworkSettings(name=c.framework_name, user=c.executor_user,
                                    failover_timeout=c.framework_failover_timeout, role=c.mesos_role,
                                    hostname=c.hostname, registration_timeout=c.max_registration_delay),
        executor=ExecutorSettings(path=c.thermos_executor_path or default_executor_path(),
                                  resources=c.thermos_executor_resources,
                                  flags=c.thermos_executor_flags, home_in_sandbox=c.thermos_home_in_sandbox,
                                  mounts=c.global_container_mounts, cpus=c.thermos_executor_cpu,
                                  ram_mb=c.thermos_executor_ram >> 20,
                                  populate_discovery_info=c.populate_discovery_info, cluster_name=c.cluster_name),
        scheduling=SchedulingSettings(
            first_schedule_delay=c.first_schedule_delay, initial_schedule_penalty=c.initial_schedule_penalty,
            max_schedule_penalty=c.max_schedule_penalty, max_attempts_per_sec=c.max_schedule_attempts_per_sec,
            max_tasks_per_attempt=c.max_tasks_per_schedule_attempt, max_batch_size=c.scheduling_max_batch_size,
            startup_delay=c.max_reschedule_task_delay_on_startup, min_offer_hold_time=c.min_offer_hold_time,
            offer_hold_jitter=c.offer_hold_jitter_window, offer_filter_duration=c.offer_filter_duration,
            offer_order=c.offer_order, hold_offers_forever=c.hold_offers_forever,
            unavailability_threshold=c.unavailability_threshold,
            offer_reservation_duration=c.offer_reservation_duration),
        reconciliation=ReconciliationSettings(
            initial_delay=c.reconciliation_initial_delay, explicit_interval=c.reconciliation_explicit_interval,
            implicit_interval=c.reconciliation_implicit_interval, schedule_spread=c.reconciliation_schedule_spread,
            explicit_batch_size=c.reconciliation_explicit_batch_size,
            explicit_batch_interval=c.reconciliation_explicit_batch_interval),
        preemptor=PreemptorSettings(
            enabled=c.enable_preemptor, delay=c.preemption_delay, slot_hold_time=c.preemption_slot_hold_time,
            search_initial_delay=c.preemption_slot_search_initial_delay,
            search_interval=c.preemption_slot_search_interval,
            reservation_batch_size=c.preemption_reservation_max_batch_size),
        max_status_update_batch_size=c.max_status_update_batch_size,
        kill_retry_interval=c.initial_task_kill_retry_interval,
        transient_task_state_timeout=c.transient_task_state_timeout)


def default_executor_path() -> str:
    """Without -thermos_executor_path: the thermos_executor installed beside this interpreter, else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "thermos_executor")
    return beside if os.access(beside, os.X_OK) else shutil.which("thermos_executor") or "thermos_executor"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
