"""Transient-state timeouts: a task stuck in a state that should pass quickly is declared LOST.

Aurora's TaskTimeout arms a timer whenever a task enters (or is found at start-up in) one of TRANSIENT_STATES;
when it fires and the task is still in that same status, the manager applies a compare-and-set change to LOST
with "Task timed out" (counter `timed_out_tasks`). LOST then kills and reschedules it per the state machine.
STARTING is deliberately not transient: a task may take long to become healthy. Times are injected (ms).
"""
from __future__ import annotations

from dataclasses import dataclass

from scheduler.state.status import ScheduleStatus

S = ScheduleStatus

TRANSIENT_STATES = frozenset({S.ASSIGNED, S.PREEMPTING, S.RESTARTING, S.KILLING, S.DRAINING})
TIMEOUT_MESSAGE = "Task timed out"
TIMED_OUT_COUNTER = "timed_out_tasks"
DEFAULT_TIMEOUT_MS = 5 * 60 * 1000      # -transient_task_state_timeout


@dataclass(frozen=True)
class Timeout:
    """An armed timeout: at `deadline_ms`, if the task is still `status`, change it to LOST."""
    task_id: str
    status: ScheduleStatus
    deadline_ms: int


@dataclass(frozen=True)
class TimedOut:
    """The change to apply: CAS from `expected` to LOST with TIMEOUT_MESSAGE."""
    task_id: str
    expected: ScheduleStatus
    target: ScheduleStatus = S.LOST
    message: str = TIMEOUT_MESSAGE


def arm(task_id: str, status: ScheduleStatus, since_ms: int, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Timeout | None:
    """The timeout for a task that entered (or was recovered in) `status` at `since_ms`; None if it never times out."""
    return Timeout(task_id, status, since_ms + timeout_ms) if status in TRANSIENT_STATES else None


def fire(timeout: Timeout, current: ScheduleStatus | None, now_ms: int) -> TimedOut | None:
    """The change to LOST if the deadline has passed and the task (None: gone) is still in the armed status."""
    if now_ms < timeout.deadline_ms or current != timeout.status:
        return None
    return TimedOut(timeout.task_id, timeout.status)
