"""Task history pruning: when a terminated task is deleted from the store (TaskHistoryPruner).

Two rules, both applied by a manager through `transition(<terminal status>, None)` (DELETE) or a bulk delete:
- Age: each task entering a terminal status is deleted `prune_delay_ms` later: after -history_prune_threshold,
  but never sooner than -history_min_retention_threshold (which matters for old tasks found at start-up).
- Count: whenever a task of a job terminates, if the job keeps more terminated tasks than
  -history_max_per_job_threshold, the excess is deleted at once, oldest last activity first, sparing any task
  whose last activity is within the minimum retention.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HOUR_MS = 60 * 60 * 1000
TASKS_PRUNED_COUNTER = "tasks_pruned"


@dataclass(frozen=True)
class PruneSettings:
    prune_threshold_ms: int = 48 * HOUR_MS      # -history_prune_threshold
    min_retention_ms: int = HOUR_MS             # -history_min_retention_threshold
    max_per_job: int = 100                      # -history_max_per_job_threshold


@dataclass(frozen=True)
class InactiveTask:
    """A terminated task of one job and the timestamp of its latest event."""
    task_id: str
    last_event_ms: int


def prune_delay_ms(terminal_at_ms: int, now_ms: int, settings: PruneSettings) -> int:
    """How long from now until a task that terminated at `terminal_at_ms` is deleted.

    Pass `terminal_at_ms=now_ms` for a task terminating now, and its latest event's timestamp for one found
    terminated on recovery.
    """
    age = max(0, now_ms - terminal_at_ms)
    return max(settings.min_retention_ms, settings.prune_threshold_ms - age)


def excess_history(tasks: Iterable[InactiveTask], now_ms: int, settings: PruneSettings) -> list[str]:
    """The ids of a job's terminated tasks to delete now so that at most `max_per_job` remain, oldest first."""
    tasks = list(tasks)
    excess = len(tasks) - settings.max_per_job
    if excess <= 0:
        return []
    oldest_first = sorted(tasks, key=lambda t: (t.last_event_ms, t.task_id))
    retained_until = now_ms - settings.min_retention_ms
    return [t.task_id for t in oldest_first if t.last_event_ms <= retained_until][:excess]
