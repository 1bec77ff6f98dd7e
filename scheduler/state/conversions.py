"""A Mesos TaskStatus in Aurora's terms: the state it moves a task to, and the message its event keeps.

As Aurora's `Conversions.convertProtoState` and `TaskStatusHandlerImpl.formatMessage`. TASK_KILLING maps to
KILLED (Aurora's choice: KILLING is a transient state of its own), and the scheduler does not opt in to
partition awareness, so TASK_UNREACHABLE / TASK_UNKNOWN (which Mesos then never sends) map to LOST like
TASK_DROPPED, TASK_GONE and TASK_GONE_BY_OPERATOR.
"""
from __future__ import annotations

from thermos_executor.mesos_state import MesosState

from .status import ScheduleStatus as S

MEMORY_LIMIT_MESSAGE = "Task used more memory than requested."
DISK_LIMIT_MESSAGE = "Task used more disk than requested."

_STATES = {
    MesosState.TASK_STAGING: S.STARTING, MesosState.TASK_STARTING: S.STARTING,
    MesosState.TASK_RUNNING: S.RUNNING, MesosState.TASK_FINISHED: S.FINISHED, MesosState.TASK_FAILED: S.FAILED,
    MesosState.TASK_KILLING: S.KILLED, MesosState.TASK_KILLED: S.KILLED,
    MesosState.TASK_LOST: S.LOST, MesosState.TASK_ERROR: S.LOST, MesosState.TASK_DROPPED: S.LOST,
    MesosState.TASK_GONE: S.LOST, MesosState.TASK_GONE_BY_OPERATOR: S.LOST,
    MesosState.TASK_UNREACHABLE: S.LOST, MesosState.TASK_UNKNOWN: S.LOST,
}


def schedule_status(mesos_state: str) -> S | None:
    """The Aurora state of a Mesos task state name; None for a name Mesos does not have."""
    return _STATES.get(mesos_state)


def event_message(message: str | None, reason: str | None) -> str | None:
    """The message a status update leaves in the task's event (Aurora's formatMessage)."""
    if reason == "REASON_CONTAINER_LIMITATION_MEMORY" and not message:
        return MEMORY_LIMIT_MESSAGE
    if reason == "REASON_CONTAINER_LIMITATION_DISK" and not message:
        return DISK_LIMIT_MESSAGE
    if reason == "REASON_EXECUTOR_UNREGISTERED":
        return None
    return message or None
