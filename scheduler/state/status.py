"""Aurora's task statuses (api.thrift ScheduleStatus) and the task event history they are recorded in.

ScheduleStatus is an IntEnum because its values are Aurora's Thrift ids, which the wire API and storage carry;
use `.name` for text (an IntEnum prints as its number). The pseudo-state DELETED ("not in the store") is not a
member: everywhere in this package it is spelled None.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ScheduleStatus(IntEnum):
    PENDING = 0
    STARTING = 1
    RUNNING = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5
    KILLING = 6
    LOST = 7
    ASSIGNED = 9
    INIT = 11
    RESTARTING = 12
    PREEMPTING = 13
    THROTTLED = 16
    DRAINING = 17
    PARTITIONED = 18


S = ScheduleStatus

# api.thrift ACTIVE_STATES / SLAVE_ASSIGNED_STATES / TERMINAL_STATES. INIT is none of them: a task is INIT only
# inside the transaction that creates it.
ACTIVE = frozenset({S.PENDING, S.THROTTLED, S.ASSIGNED, S.STARTING, S.RUNNING, S.KILLING, S.RESTARTING,
                    S.PREEMPTING, S.DRAINING, S.PARTITIONED})
SLAVE_ASSIGNED = ACTIVE - {S.PENDING, S.THROTTLED}
TERMINAL = frozenset({S.FINISHED, S.FAILED, S.KILLED, S.LOST})


@dataclass(frozen=True)
class TaskEvent:
    """One entry of a task's history (api.thrift TaskEvent): appended by every saved transition, oldest first."""
    timestamp_ms: int
    status: ScheduleStatus
    message: str | None = None
    scheduler: str | None = None
