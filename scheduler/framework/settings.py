"""The settings the Mesos side of the scheduler runs with, one frozen dataclass per concern.

`scheduler.app.flags` builds them from Aurora's flags (names and defaults in the comments); tests build them
directly. Durations are seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.scheduling.offers import OfferOrder


@dataclass(frozen=True)
class Mount:
    """One -global_container_mounts entry, `host:container:mode`."""
    host_path: str
    container_path: str
    mode: str  # RO | RW


@dataclass(frozen=True)
class FrameworkSettings:
    """FrameworkInfo, as Aurora registers: name, user, checkpointing, failover timeout, role."""
    name: str = "Aurora"                        # -framework_name
    user: str = "root"                          # -executor_user
    failover_timeout: float = 21 * 86400.0      # -framework_failover_timeout
    role: str | None = None                     # -mesos_role
    hostname: str | None = None                 # -hostname
    registration_timeout: float = 60.0          # -max_registration_delay

    def framework_info(self, framework_id: str | None) -> dict:
        """The Mesos v1 FrameworkInfo JSON (with `id` when re-registering a saved framework)."""
        info = {"name": self.name, "user": self.user, "checkpoint": True, "failover_timeout": self.failover_timeout}
        if self.role:
            info["role"] = self.role
        if self.hostname:
            info["hostname"] = self.hostname
        if framework_id:
            info["id"] = {"value": framework_id}
        return info


@dataclass(frozen=True)
class ExecutorSettings:
    """How tasks are launched: the Thermos executor's command and its resource overhead."""
    path: str | None = None                     # -thermos_executor_path
    resources: tuple[str, ...] = ()             # -thermos_executor_resources
    flags: str = ""                             # -thermos_executor_flags
    home_in_sandbox: bool = False               # -thermos_home_in_sandbox
    mounts: tuple[Mount, ...] = ()              # -global_container_mounts
    cpus: float = 0.25                          # -thermos_executor_cpu
    ram_mb: int = 128                           # -thermos_executor_ram
    populate_discovery_info: bool = False       # -populate_discovery_info
    cluster_name: str = ""                      # -cluster_name (the DiscoveryInfo location)


@dataclass(frozen=True)
class SchedulingSettings:
    """Offer holding and the pace of placement attempts."""
    first_schedule_delay: float = 0.001         # -first_schedule_delay
    initial_schedule_penalty: float = 1.0       # -initial_schedule_penalty
    max_schedule_penalty: float = 60.0          # -max_schedule_penalty
    max_attempts_per_sec: float = 40.0          # -max_schedule_attempts_per_sec
    max_tasks_per_attempt: int = 5              # -max_tasks_per_schedule_attempt
    max_batch_size: int = 3                     # -scheduling_max_batch_size
    startup_delay: float = 30.0                 # -max_reschedule_task_delay_on_startup
    min_offer_hold_time: float = 300.0          # -min_offer_hold_time
    offer_hold_jitter: float = 60.0             # -offer_hold_jitter_window
    offer_filter_duration: float = 5.0          # -offer_filter_duration
    offer_order: tuple[OfferOrder, ...] = (OfferOrder.RANDOM,)  # -offer_order
    hold_offers_forever: bool = False           # -hold_offers_forever
    unavailability_threshold: float = 360.0     # -unavailability_threshold
    offer_reservation_duration: float = 180.0   # -offer_reservation_duration (an agent kept for a preemptor)


@dataclass(frozen=True)
class PreemptorSettings:
    """Preemption (Aurora's PreemptorModule): when PENDING tasks look for victims, and how long a slot found
    is kept."""
    enabled: bool = True                        # -enable_preemptor
    delay: float = 180.0                        # -preemption_delay (PENDING this long: may preempt)
    slot_hold_time: float = 300.0               # -preemption_slot_hold_time
    search_initial_delay: float = 180.0         # -preemption_slot_search_initial_delay
    search_interval: float = 60.0               # -preemption_slot_search_interval
    reservation_batch_size: int = 5             # -preemption_reservation_max_batch_size


@dataclass(frozen=True)
class ReconciliationSettings:
    initial_delay: float = 60.0                 # -reconciliation_initial_delay
    explicit_interval: float = 3600.0           # -reconciliation_explicit_interval
    implicit_interval: float = 3600.0           # -reconciliation_implicit_interval
    schedule_spread: float = 1800.0             # -reconciliation_schedule_spread
    explicit_batch_size: int = 1000             # -reconciliation_explicit_batch_size
    explicit_batch_interval: float = 5.0        # -reconciliation_explicit_batch_interval


@dataclass(frozen=True)
class MesosSettings:
    """Everything the framework package takes, in one value."""
    master_address: str = "local"               # -mesos_master_address
    framework: FrameworkSettings = field(default_factory=FrameworkSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    scheduling: SchedulingSettings = field(default_factory=SchedulingSettings)
    reconciliation: ReconciliationSettings = field(default_factory=ReconciliationSettings)
    preemptor: PreemptorSettings = field(default_factory=PreemptorSettings)
    max_status_update_batch_size: int = 1000   # -max_status_update_batch_size
    kill_retry_interval: float = 15.0          # -initial_task_kill_retry_interval
    transient_task_state_timeout: float = 300.0  # -transient_task_state_timeout (caps the kill retry backoff)
