"""Job keys and instance lists as Aurora's client parses them (common/aurora_job_key.py, cli/options.py).

    AuroraJobKey.from_path("west/www/prod/hello")        # CLUSTER/ROLE/ENV/NAME
    instance_specifier("west/www/prod/hello/0-3,5")      # InstanceSpec(jobkey, [0, 1, 2, 3, 5])
    task_instance_key("west/www/prod/hello/2")           # InstanceSpec(jobkey, 2)
    partial_jobkey("west/www")                           # PartialJobKey("west", "www", "*", "*")

Pure: no Thrift here (`to_thrift` imports it lazily), so the command line parses keys without the API.
Errors are `ValueError`s carrying Aurora's own messages.
"""
from __future__ import annotations

import re
from typing import NamedTuple

# Aurora's GOOD_IDENTIFIER_PATTERN_PYTHON (api.thrift constants).
GOOD_IDENTIFIER = re.compile(r"^[\w\-\.]+$")
ALL_INSTANCES = None


class AuroraJobKey(NamedTuple):
    """CLUSTER/ROLE/ENV/NAME; role, env and name are Aurora identifiers."""
    cluster: str
    role: str
    env: str
    name: str

    @classmethod
    def of(cls, cluster: str, role: str, env: str, name: str) -> AuroraJobKey:
        for field, value in (("role", role), ("env", env), ("name", name)):
            if not GOOD_IDENTIFIER.match(value):
                raise ValueError(f"Invalid {field} '{value}'")
        return cls(cluster, role, env, name)

    @classmethod
    def from_path(cls, path: str) -> AuroraJobKey:
        parts = path.split("/")
        if len(parts) != 4:
            raise ValueError(f"Invalid path '{path}'. path should be a string in the form CLUSTER/ROLE/ENV/NAME")
        return cls.of(*parts)

    def to_path(self) -> str:
        return f"{self.cluster}/{self.role}/{self.env}/{self.name}"

    def __str__(self) -> str:
        return self.to_path()

    def to_thrift(self):
        from thermos_executor.aurora_api.gen.ttypes import JobKey
        return JobKey(role=self.role, environment=self.env, name=self.name)


class InstanceSpec(NamedTuple):
    jobkey: AuroraJobKey
    instance: object        # a sorted list of ids, one id (task instance keys), or ALL_INSTANCES (None)


class PartialJobKey(NamedTuple):
    """cluster[/role[/env[/name]]] with missing parts as '*'; parts may be shell globs."""
    cluster: str
    role: str = "*"
    env: str = "*"
    name: str = "*"

    def __str__(self) -> str:
        return "/".join(self)


def parse_instances(text: str | None) -> list[int] | None:
    """'0-2,5,7-9' -> [0, 1, 2, 5, 7, 8, 9]; '' or None -> ALL_INSTANCES."""
    if text is None or text == "":
        return ALL_INSTANCES
    result = set()
    for part in text.split(","):
        bounds = part.split("-")
        try:
            low, high = int(bounds[0]), int(bounds[-1])
        except ValueError:
            raise ValueError(f"Invalid instance list '{text}': expected ids and ranges like 0-2,5") from None
        if len(bounds) > 2 or low < 0 or high < low:
            raise ValueError(f"Invalid instance list '{text}': expected ids and ranges like 0-2,5")
        result.update(range(low, high + 1))
    return sorted(result)


def instance_specifier(text: str) -> InstanceSpec:
    """CLUSTER/ROLE/ENV/NAME[/INSTANCES]."""
    if not text:
        raise ValueError("Instance specifier must be non-empty")
    parts = text.split("/")
    if len(parts) == 4:
        return InstanceSpec(AuroraJobKey.of(*parts), ALL_INSTANCES)
    if len(parts) != 5:
        raise ValueError("Instance specifier must be a CLUSTER/ROLE/ENV/JOB/INSTANCES tuple")
    return InstanceSpec(AuroraJobKey.of(*parts[:4]), parse_instances(parts[4]))


def task_instance_key(text: str) -> InstanceSpec:
    """CLUSTER/ROLE/ENV/NAME/INSTANCE (one instance id)."""
    parts = text.split("/")
    if len(parts) != 5:
        raise ValueError(f"Task instance specifier {text} is not in the form CLUSTER/ROLE/ENV/NAME/INSTANCE")
    try:
        instance = int(parts[4])
    except ValueError:
        raise ValueError(f"Instance must be an integer, but got {parts[4]}") from None
    return InstanceSpec(AuroraJobKey.of(*parts[:4]), instance)


def partial_jobkey(text: str) -> PartialJobKey:
    parts = text.split("/")
    if len(parts) > 4:
        raise ValueError("Job key must have no more than 4 segments")
    return PartialJobKey(*parts)


def qualified_role(text: str) -> tuple[str, str]:
    """CLUSTER/ROLE."""
    parts = text.split("/")
    if len(parts) != 2:
        raise ValueError("Role argument must be a CLUSTER/NAME pair")
    return parts[0], parts[1]
