"""Job update history pruning: which finished updates to delete (Aurora's JobUpdateHistoryPruner, pure).

Only terminal updates (ROLLED_FORWARD, ROLLED_BACK, ABORTED, ERROR, FAILED) are ever pruned; an active one
(rolling, paused, awaiting a pulse) is kept whatever its age. Of the terminal ones:
- Age: every update created before now - -job_update_history_pruning_threshold goes;
- Count: of those left, each job keeps its -job_update_history_per_job_threshold newest (by creation); the
  older ones go.
The leader applies the rule every -job_update_history_pruning_interval (`scheduler.app.update_pruner`).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import JobUpdateKey, JobUpdateSummary

from .updates import TERMINAL

DAY_MS = 24 * 60 * 60 * 1000
JOB_UPDATES_PRUNED_COUNTER = "job_updates_pruned"



@dataclass(frozen=True)
class UpdateHistorySettings:
    per_job: int = 10                      # -job_update_history_per_job_threshold
    threshold_ms: int = 30 * DAY_MS        # -job_update_history_pruning_threshold
    interval_ms: int = 15 * 60 * 1000      # -job_update_history_pruning_interval


def updates_to_prune(summaries: Iterable[JobUpdateSummary], now_ms: int,
                     settings: UpdateHistorySettings) -> list[JobUpdateKey]:
    """The keys of the updates to delete now: expired ones first, then each job's excess, oldest first."""
    terminal = [s for s in summaries if s.state is not None and s.state.status in TERMINAL]
    cutoff = now_ms - settings.threshold_ms
    expired = [s for s in terminal if _created(s) < cutoff]
    by_job: dict[tuple, list[JobUpdateSummary]] = defaultdict(list)
    for s in terminal:
        if _created(s) >= cutoff:  # expired ones are not counted against the job's limit
            by_job[job_key(s.key.job)].append(s)
    excess = []
    for updates in by_job.values():
        oldest_first = sorted(updates, key=lambda s: (_created(s), s.key.id or ""))
        excess += oldest_first[:max(0, len(updates) - settings.per_job)]
    return [s.key for s in expired + excess]


def _created(summary: JobUpdateSummary) -> int:
    return summary.state.createdTimestampMs or 0
