"""Task ids as Aurora makes them (TaskIdGenerator.TaskIdGeneratorImpl).

`<now ms>-<role>-<environment>-<job name>-<instance id>-<uuid4>`, every character outside `[A-Za-z0-9_-]`
replaced by `-`: the timestamp sorts ids by creation, role/environment/name/instance tell a reader what the task
is, the UUID makes a collision practically impossible. The clock and the UUID source are injected.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable

_UNSAFE = re.compile(r"[^\w-]", re.ASCII)  # Java's \w: ASCII letters, digits, underscore


def task_id(now_ms: int, role: str, environment: str, name: str, instance_id: int, unique: str) -> str:
    """One task id, from all its parts."""
    return _UNSAFE.sub("-", f"{now_ms}-{role}-{environment}-{name}-{instance_id}-{unique}")


class TaskIdGenerator:
    """Makes a fresh id per call: `generate(role, environment, name, instance_id)`."""

    def __init__(self, clock_ms: Callable[[], int], unique: Callable[[], str] = lambda: str(uuid.uuid4())):
        self._clock_ms = clock_ms
        self._unique = unique

    def generate(self, role: str, environment: str, name: str, instance_id: int) -> str:
        return task_id(self._clock_ms(), role, environment, name, instance_id, self._unique())
