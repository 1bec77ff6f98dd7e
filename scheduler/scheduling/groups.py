"""Task groups: tasks that schedule alike, i.e. PENDING tasks with equal TaskConfigs (Aurora's TaskGroupKey).

    key = TaskGroupKey.of(task.assignedTask.task)     # hashable, equal for equal configs
    str(key)                                          # "role/env/name", as Aurora prints a group

Placement state is kept per group, not per task: NearestFit's vetoes, the scheduling backoff, static offer
bans. A 1,000-instance job is one group, so it is tried as often as a 1-instance job (TaskGroups).
"""
from __future__ import annotations

from thermos_executor.aurora_api.gen.ttypes import TaskConfig


class TaskGroupKey:
    """A TaskConfig as a key: equal when the configs are equal, its hash computed once. The config must not be
    changed while it is a key."""

    __slots__ = ("config", "_hash")

    def __init__(self, config: TaskConfig):
        self.config = config
        self._hash = hash(config)

    @classmethod
    def of(cls, config: TaskConfig) -> TaskGroupKey:
        return cls(config)

    def __eq__(self, other) -> bool:
        return isinstance(other, TaskGroupKey) and (self is other or self._hash == other._hash
                                                    and self.config == other.config)

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        job = self.config.job
        return f"{job.role}/{job.environment}/{job.name}" if job is not None else "?"

    def __repr__(self) -> str:
        return f"TaskGroupKey({self})"
