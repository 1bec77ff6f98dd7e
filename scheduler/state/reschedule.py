"""Rescheduling: the status and message a replacement task starts with, and the flapping penalty behind it.

A manager applying RESCHEDULE for task T (after T's SAVE_STATE, so T's history ends with its terminal event):
creates a task with a new id, T's instance id and TaskConfig, T's failure_count and ancestor_id = T's id, saves
it in INIT, then applies `transition(INIT, replacement.status)` with `replacement.message`, where
`replacement = replacement_for(flapping_penalty_ms(histories of T's ancestors, settings))`.

Only T's *ancestors* are judged (RescheduleCalculator.getFlappingPenaltyMs), not T itself: a fresh task that
dies quickly is replaced PENDING; its replacement dying quickly too is THROTTLED 30 s; then 60, 120, 240, 300 s.
A THROTTLED task goes to PENDING when its penalty has elapsed (the manager's timer).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
import re
from dataclasses import dataclass

from scheduler.state.status import ACTIVE, TERMINAL, ScheduleStatus, TaskEvent

S = ScheduleStatus

RESCHEDULED_MESSAGE = "Rescheduled"

# A task stopped by someone (a restart, a kill, a drain) did not flap, however short its life.
INTERRUPTED = frozenset({S.RESTARTING, S.KILLING, S.DRAINING})


@dataclass(frozen=True)
class FlappingSettings:
    """-flapping_task_threshold, -initial_flapping_task_delay, -max_flapping_task_delay, in milliseconds."""
    threshold_ms: int = 5 * 60 * 1000
    initial_delay_ms: int = 30 * 1000
    max_delay_ms: int = 5 * 60 * 1000


@dataclass(frozen=True)
class Replacement:
    status: ScheduleStatus      # PENDING or THROTTLED
    message: str
    penalty_ms: int


def backoff_ms(last_ms: int, settings: FlappingSettings) -> int:
    """Truncated binary backoff: the initial delay after none, then double the last, never above the max.

    Deterministic, as the reference's 30/60/120/240/300 s: a later Aurora commons adds random jitter here.
    """
    if last_ms < 0:
        raise ValueError(f"negative backoff {last_ms}")
    return settings.initial_delay_ms if last_ms == 0 else min(settings.max_delay_ms, last_ms * 2)


def flapped(events: Sequence[TaskEvent], settings: FlappingSettings) -> bool:
    """Whether a terminated task ended less than the threshold after its last active status, uninterrupted.

    Aurora asserts the last event is terminal and that an active one exists; a history that is neither (not a
    real ancestor) counts as not flapped here rather than failing the reschedule.
    """
    if not events or events[-1].status not in TERMINAL:
        return False
    if any(e.status in INTERRUPTED for e in events):
        return False
    active = next((e for e in reversed(events) if e.status in ACTIVE), None)
    return active is not None and events[-1].timestamp_ms - active.timestamp_ms < settings.threshold_ms


def flapping_penalty_ms(ancestors: Iterable[Sequence[TaskEvent]], settings: FlappingSettings) -> int:
    """The penalty for replacing a task, from its ancestors' histories, nearest first.

    Each consecutive flapped ancestor advances the backoff; the walk stops at the first one that did not flap,
    at the end of the chain (an ancestor no longer stored), or once the backoff is at its cap. `ancestors` may
    be lazy (a generator following ancestor ids through the store): it is read no further than needed.
    """
    penalty = 0
    for events in ancestors:
        if not flapped(events, settings):
            break
        longer = backoff_ms(penalty, settings)
        if longer == penalty:
            break
        penalty = longer
    return penalty


def replacement_for(penalty_ms: int) -> Replacement:
    """PENDING "Rescheduled" without a penalty; THROTTLED with Aurora's message otherwise."""
    if penalty_ms > 0:
        return Replacement(S.THROTTLED, _PENALIZED.format(penalty_ms), penalty_ms)
    return Replacement(S.PENDING, RESCHEDULED_MESSAGE, 0)


_PENALIZED = "Rescheduled, penalized for {} ms for flapping"
_PENALIZED_PATTERN = re.compile(re.escape(_PENALIZED).replace(r"\{\}", r"(\d+)"))


def penalty_from_message(message: str | None) -> int:
    """The penalty a THROTTLED replacement's message records (`replacement_for`), 0 if it records none."""
    match = _PENALIZED_PATTERN.fullmatch(message or "")
    return int(match.group(1)) if match else 0
