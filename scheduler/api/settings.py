"""What the API's handlers are configured with: the flags' values, typed, and the tiers of -tier_config.

The daemon parses the flags and builds one `ApiSettings`; `Tiers.parse(text)` reads a -tier_config file
(Aurora's JSON: `{"default": NAME, "tiers": {NAME: {"preemptible": bool, "revocable": bool}}}`), with Aurora's
messages for a bad one. `DEFAULT_TIERS` is Aurora's built-in tiers.json.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

DEFAULT_ALLOWED_JOB_ENVIRONMENTS = r"^(prod|devel|test|staging\d*)$"
AURORA_EXECUTOR = "AuroraExecutor"


@dataclass(frozen=True)
class Tier:
    preemptible: bool = False
    revocable: bool = False

    def settings(self) -> dict[str, str]:
        """As getTierConfigs reports it (TierInfo.toMap)."""
        return {"preemptible": _java_bool(self.preemptible), "revocable": _java_bool(self.revocable)}


@dataclass(frozen=True)
class Tiers:
    default: str
    tiers: tuple[tuple[str, Tier], ...]  # in the file's order: implicit tiers pick the first match

    def __post_init__(self):
        if not self.default:
            raise ValueError("Default tier name cannot be empty.")
        if not self.tiers:
            raise ValueError("Tiers cannot be empty.")
        if self.default not in self.by_name:
            raise ValueError("Default tier name should match supplied tiers.")

    @property
    def by_name(self) -> dict[str, Tier]:
        return dict(self.tiers)

    @classmethod
    def parse(cls, text: str) -> Tiers:
        """A -tier_config document; ValueError with one line saying what is wrong."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e}") from None
        if not isinstance(document, dict) or not isinstance(document.get("tiers", {}), dict):
            raise ValueError('expected {"default": NAME, "tiers": {NAME: {"preemptible": .., "revocable": ..}}}')
        tiers = []
        for name, tier in document.get("tiers", {}).items():
            if (not isinstance(tier, dict) or set(tier) - {"preemptible", "revocable"}
                    or not all(isinstance(v, bool) for v in tier.values())):
                raise ValueError(f'tier {name!r}: expected {{"preemptible": bool, "revocable": bool}}')
            tiers.append((name, Tier(tier.get("preemptible", False), tier.get("revocable", False))))
        return cls(document.get("default") or "", tuple(tiers))


DEFAULT_TIERS = Tiers("preemptible", (("preferred", Tier(False, False)), ("preemptible", Tier(True, False)),
                                      ("revocable", Tier(True, True))))


@dataclass(frozen=True)
class ApiSettings:
    """The flags the Jobs API reads (Aurora's names and defaults)."""
    cluster_name: str                                               # -cluster_name
    stats_url_prefix: str = ""                                      # -viz_job_url_prefix
    allowed_job_environments: str = DEFAULT_ALLOWED_JOB_ENVIRONMENTS  # -allowed_job_environments
    max_tasks_per_job: int = 4000                                   # -max_tasks_per_job
    max_update_instance_failures: int = 20000                       # -max_update_instance_failures
    tiers: Tiers = DEFAULT_TIERS                                    # -tier_config
    allowed_container_types: frozenset[str] = frozenset({"MESOS"})  # -allowed_container_types
    allow_docker_parameters: bool = False                           # -allow_docker_parameters
    default_docker_parameters: tuple[tuple[str, str], ...] = ()     # -default_docker_parameters
    require_docker_use_executor: bool = True                        # -require_docker_use_executor
    allow_gpu_resource: bool = False                                # -allow_gpu_resource
    enable_mesos_fetcher: bool = False                              # -enable_mesos_fetcher
    allow_container_volumes: bool = False                           # -allow_container_volumes
    executors: frozenset[str] = field(default=frozenset({AURORA_EXECUTOR}))  # executor configs known


def _java_bool(value: bool) -> str:
    return "true" if value else "false"
