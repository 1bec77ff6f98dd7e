"""The Mesos task state vocabulary (mesos.proto's TaskState), once for everything that speaks to Mesos.

The executor reports these states, the Mesos-API stand-in and the scheduler keep and forward them. Members are
`StrEnum`s, so they are the very strings of the Mesos v1 JSON API (`json.dumps` writes `"TASK_RUNNING"`) and
compare equal to the strings read off the wire. This module imports nothing, so every layer may import it.
"""
from __future__ import annotations

from enum import StrEnum


class MesosState(StrEnum):
    TASK_STAGING = "TASK_STAGING"
    TASK_STARTING = "TASK_STARTING"
    TASK_RUNNING = "TASK_RUNNING"
    TASK_KILLING = "TASK_KILLING"
    TASK_FINISHED = "TASK_FINISHED"
    TASK_FAILED = "TASK_FAILED"
    TASK_KILLED = "TASK_KILLED"
    TASK_ERROR = "TASK_ERROR"
    TASK_LOST = "TASK_LOST"
    TASK_DROPPED = "TASK_DROPPED"
    TASK_UNREACHABLE = "TASK_UNREACHABLE"
    TASK_GONE = "TASK_GONE"
    TASK_GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    TASK_UNKNOWN = "TASK_UNKNOWN"


TERMINAL = frozenset({MesosState.TASK_FINISHED, MesosState.TASK_FAILED, MesosState.TASK_KILLED,
                      MesosState.TASK_ERROR, MesosState.TASK_LOST, MesosState.TASK_DROPPED, MesosState.TASK_GONE,
                      MesosState.TASK_GONE_BY_OPERATOR})

STATES = frozenset(MesosState)         # `"TASK_RUNNING" in STATES` is True: members hash as their names


def is_terminal(state: str) -> bool:
    """Whether `state` (a member or its name, as read off the wire) ends a task."""
    return state in TERMINAL
