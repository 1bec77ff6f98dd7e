"""scheduler.state.conversions: every Mesos task state to Aurora's (Conversions.convertProtoState), the message
a status update leaves in the task's event (TaskStatusHandlerImpl.formatMessage), an unknown state -> None."""
import pytest

from scheduler.state import conversions
from scheduler.state.status import ScheduleStatus as S
from thermos_executor.mesos_state import MesosState as M

EXPECTED = {
    M.TASK_STAGING: S.STARTING, M.TASK_STARTING: S.STARTING, M.TASK_RUNNING: S.RUNNING,
    M.TASK_FINISHED: S.FINISHED, M.TASK_FAILED: S.FAILED, M.TASK_KILLED: S.KILLED,
    M.TASK_KILLING: S.KILLED,       # Aurora's choice: KILLING is a transient state of the scheduler's own
    M.TASK_LOST: S.LOST, M.TASK_ERROR: S.LOST, M.TASK_DROPPED: S.LOST, M.TASK_GONE: S.LOST,
    M.TASK_GONE_BY_OPERATOR: S.LOST, M.TASK_UNREACHABLE: S.LOST, M.TASK_UNKNOWN: S.LOST,
}


def test_every_mesos_state_has_an_aurora_state():
    assert set(EXPECTED) == set(M)
    for mesos_state, aurora_state in EXPECTED.items():
        assert conversions.schedule_status(mesos_state) is aurora_state, mesos_state
        assert conversions.schedule_status(str(mesos_state)) is aurora_state     # the wire's plain string


@pytest.mark.parametrize("name", ["TASK_BOGUS", "", "RUNNING", "task_running"])
def test_an_unknown_state_is_none(name):
    assert conversions.schedule_status(name) is None


@pytest.mark.parametrize("message, reason, expected", [
    # a memory or disk limit without a message gets Aurora's fixed text; with one, the executor's text is kept
    (None, "REASON_CONTAINER_LIMITATION_MEMORY", conversions.MEMORY_LIMIT_MESSAGE),
    ("", "REASON_CONTAINER_LIMITATION_MEMORY", "Task used more memory than requested."),
    ("oom at 512MB", "REASON_CONTAINER_LIMITATION_MEMORY", "oom at 512MB"),
    (None, "REASON_CONTAINER_LIMITATION_DISK", "Task used more disk than requested."),
    ("quota", "REASON_CONTAINER_LIMITATION_DISK", "quota"),
    # an executor that never registered: the message is dropped (Aurora's "unhelpful" agent text)
    ("Executor did not register", "REASON_EXECUTOR_UNREGISTERED", None),
    # otherwise the message as sent, an empty one as none
    ("Task is healthy", "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", "Task is healthy"),
    ("plain", None, "plain"),
    ("", None, None),
    (None, None, None),
])
def test_event_messages(message, reason, expected):
    assert conversions.event_message(message, reason) == expected
