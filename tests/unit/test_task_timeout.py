"""Transient-state timeouts with an injected clock, and what the state machine makes of the LOST they request."""
import pytest

from scheduler.state.machine import Action, Outcome, transition
from scheduler.state.status import ScheduleStatus
from scheduler.state.timeout import TIMEOUT_MESSAGE, TimedOut, Timeout, arm, fire

S = ScheduleStatus
MIN = 60 * 1000
TRANSIENT = [S.ASSIGNED, S.PREEMPTING, S.RESTARTING, S.KILLING, S.DRAINING]


@pytest.mark.parametrize("status", list(S))
def test_only_the_five_transient_statuses_time_out_after_5_minutes_by_default(status):
    armed = arm("t1", status, since_ms=1_000)
    if status in TRANSIENT:
        assert armed == Timeout("t1", status, 1_000 + 5 * MIN)
    else:
        assert armed is None            # STARTING included: a task may take long to become healthy


@pytest.mark.parametrize("status", TRANSIENT)
def test_a_task_still_in_its_status_at_the_deadline_is_lost_with_task_timed_out(status):
    armed = arm("t1", status, since_ms=0, timeout_ms=2 * MIN)
    assert fire(armed, status, now_ms=2 * MIN - 1) is None
    assert fire(armed, status, now_ms=2 * MIN) == TimedOut("t1", status, S.LOST, "Task timed out")
    assert TIMEOUT_MESSAGE == "Task timed out"


def test_a_task_that_moved_on_or_vanished_is_left_alone():
    armed = arm("t1", S.ASSIGNED, since_ms=0)
    assert fire(armed, S.RUNNING, now_ms=10 * MIN) is None
    assert fire(armed, None, now_ms=10 * MIN) is None


@pytest.mark.parametrize("status, actions", [
    (S.ASSIGNED, (Action.SAVE_STATE, Action.RESCHEDULE, Action.KILL)),
    (S.PREEMPTING, (Action.SAVE_STATE, Action.RESCHEDULE, Action.KILL)),
    (S.RESTARTING, (Action.SAVE_STATE, Action.RESCHEDULE, Action.KILL)),
    (S.DRAINING, (Action.SAVE_STATE, Action.RESCHEDULE, Action.KILL)),
    (S.KILLING, (Action.SAVE_STATE,)),       # a task being killed is not replaced
])
def test_the_timed_out_lost_is_a_legal_transition_with_these_side_effects(status, actions):
    change = fire(arm("t1", status, since_ms=0), status, now_ms=5 * MIN)
    result = transition(change.expected, change.target)
    assert (result.outcome, result.actions) == (Outcome.SUCCESS, actions)
