"""The task state machine: what a requested status change means for one task, as ordered side effects.

`transition(current, target, facts)` is pure and total: every (current, target) pair of the 15 statuses plus
DELETED (None) has an answer. It follows Aurora 0.22's TaskStateMachine.java, including two of its habits that a
table alone would not show:

- Callbacks fire on illegal attempts too. A report that a finished, killing, restarting or unknown task is
  ASSIGNED/STARTING/RUNNING is illegal (counted) but still yields KILL: a rogue task is stopped.
- Every legal change saves the new status (SAVE_STATE) except the two whose task is deleted at once
  (PENDING/THROTTLED -> KILLING yields DELETE only) and the ones to DELETED (DELETE only).

The returned actions are sorted in Aurora's application order (StateManagerImpl.ACTIONS_IN_ORDER), which is the
order of `Action`'s values: failures are counted before the state is saved and the replacement copies them,
the task is rescheduled before anything can delete it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from scheduler.state.status import TERMINAL, ScheduleStatus

S = ScheduleStatus

# The counter Aurora bumps on every illegal attempt, with or without side effects.
ILLEGAL_TRANSITIONS_COUNTER = "scheduler_illegal_task_state_transitions"
# The message of the LOST change a TRANSITION_TO_LOST side effect makes (StateManagerImpl).
PARTITIONED_LOST_MESSAGE = "Action performed on partitioned task, marking as LOST."


class Action(IntEnum):
    """A side effect, valued in the order a manager must apply them (SideEffect.Action + ACTIONS_IN_ORDER)."""
    INCREMENT_FAILURES = 1   # failure_count += 1 on the stored task
    SAVE_STATE = 2           # store the target status and append a TaskEvent(now, target, message, hostname)
    RESCHEDULE = 3           # replace the task: see scheduler.state.reschedule
    TRANSITION_TO_LOST = 4   # apply transition(<saved status>, LOST) with PARTITIONED_LOST_MESSAGE
    KILL = 5                 # driver.killTask(task_id)
    DELETE = 6               # remove the task from the store


class Outcome(StrEnum):
    """Aurora's StateChangeResult, less INVALID_CAS_STATE (the manager's own check, before the machine runs)."""
    SUCCESS = "SUCCESS"
    NOOP = "NOOP"
    ILLEGAL = "ILLEGAL"
    ILLEGAL_WITH_SIDE_EFFECTS = "ILLEGAL_WITH_SIDE_EFFECTS"


@dataclass(frozen=True)
class TaskFacts:
    """What the machine needs to know of the stored task beyond its status."""
    is_service: bool = False
    failure_count: int = 0          # before this transition
    max_task_failures: int = 1      # -1: unlimited
    ever_killing: bool = False      # a KILLING event is in the task's history


@dataclass(frozen=True)
class Transition:
    outcome: Outcome
    actions: tuple[Action, ...] = ()

    @property
    def illegal(self) -> bool:
        """Count it under ILLEGAL_TRANSITIONS_COUNTER (and still apply `actions`)."""
        return self.outcome in (Outcome.ILLEGAL, Outcome.ILLEGAL_WITH_SIDE_EFFECTS)


_A = Action
_LIVE = (S.ASSIGNED, S.STARTING, S.RUNNING)
_INTERRUPTING = (S.PREEMPTING, S.RESTARTING, S.DRAINING)

# Legal targets per status; None is DELETED. Everything else is illegal (same-status requests are no-ops).
ALLOWED: dict[ScheduleStatus | None, frozenset[ScheduleStatus | None]] = {
    S.INIT: frozenset({S.PENDING, S.THROTTLED}),
    S.PENDING: frozenset({S.ASSIGNED, S.KILLING}),
    S.THROTTLED: frozenset({S.PENDING, S.KILLING}),
    S.ASSIGNED: frozenset({S.STARTING, S.RUNNING, S.FINISHED, S.FAILED, S.RESTARTING, S.DRAINING, S.KILLED,
                           S.KILLING, S.LOST, S.PREEMPTING}),
    S.STARTING: frozenset({S.RUNNING, S.FINISHED, S.FAILED, S.RESTARTING, S.DRAINING, S.KILLING, S.KILLED,
                           S.LOST, S.PREEMPTING, S.PARTITIONED}),
    S.RUNNING: frozenset({S.FINISHED, S.RESTARTING, S.DRAINING, S.FAILED, S.KILLING, S.KILLED, S.LOST,
                          S.PREEMPTING, S.PARTITIONED}),
    **{s: frozenset({S.FINISHED, S.FAILED, S.KILLING, S.KILLED, S.LOST, S.PARTITIONED}) for s in _INTERRUPTING},
    S.KILLING: frozenset({S.FINISHED, S.FAILED, S.KILLED, S.LOST, None, S.PARTITIONED}),
    S.PARTITIONED: frozenset({S.LOST, S.FAILED, S.FINISHED, S.RUNNING, S.ASSIGNED, S.STARTING, S.RESTARTING,
                              S.DRAINING, S.PREEMPTING, S.KILLING}),
    **{s: frozenset({None}) for s in TERMINAL},
    None: frozenset(),
}


def transition(current: ScheduleStatus | None, target: ScheduleStatus | None,
               facts: TaskFacts = TaskFacts()) -> Transition:
    """The outcome of asking a task in `current` (None: not stored) to become `target` (None: deleted)."""
    if current == target:
        return Transition(Outcome.NOOP)
    actions = _callbacks(current, target, facts)
    if target in ALLOWED[current]:
        deleted_at_once = target is None or (current in (S.PENDING, S.THROTTLED) and target == S.KILLING)
        if not deleted_at_once:
            actions.add(_A.SAVE_STATE)
        return Transition(Outcome.SUCCESS, tuple(sorted(actions)))
    return Transition(Outcome.ILLEGAL_WITH_SIDE_EFFECTS if actions else Outcome.ILLEGAL, tuple(sorted(actions)))


def failure_actions(facts: TaskFacts) -> set[Action]:
    """On FAILED: count it; replace the task if it is a service, unlimited, or has attempts left.

    max_task_failures=N allows N attempts in all: the count before this failure must be below N - 1.
    """
    retry = facts.is_service or facts.max_task_failures == -1 or facts.failure_count < facts.max_task_failures - 1
    return {_A.INCREMENT_FAILURES, _A.RESCHEDULE} if retry else {_A.INCREMENT_FAILURES}


def _callbacks(current: ScheduleStatus | None, target: ScheduleStatus | None, facts: TaskFacts) -> set[Action]:
    """Aurora's per-state callbacks, which run for legal and illegal attempts alike (SAVE_STATE is added apart)."""
    if current in (S.PENDING, S.THROTTLED):
        return {_A.DELETE} if target == S.KILLING else set()
    if current in _LIVE:
        if target == S.FINISHED:
            return {_A.RESCHEDULE} if facts.is_service else set()
        if target == S.FAILED:
            return failure_actions(facts)
        if target in (*_INTERRUPTING, S.KILLING):
            return {_A.KILL}
        if target == S.KILLED:
            return {_A.RESCHEDULE}
        if target == S.LOST:
            # Only an ASSIGNED task is killed too: it may yet start on an agent that never acknowledged it.
            return {_A.RESCHEDULE, _A.KILL} if current == S.ASSIGNED else {_A.RESCHEDULE}
        return set()
    if current in _INTERRUPTING:
        if target in _LIVE:
            return {_A.KILL}
        if target == S.PARTITIONED:
            # A user or operator action must not wait on an unreachable agent: give up on the task now.
            return {_A.TRANSITION_TO_LOST}
        if target == S.LOST:
            return {_A.KILL, _A.RESCHEDULE}
        # No failure is counted: the task was being stopped anyway.
        return {_A.RESCHEDULE} if target in (S.FINISHED, S.FAILED, S.KILLED) else set()
    if current == S.PARTITIONED:
        if target == S.LOST:
            # A task that was being killed when it became unreachable stays dead.
            return {_A.KILL} if facts.ever_killing else {_A.KILL, _A.RESCHEDULE}
        if target in (*_INTERRUPTING, S.KILLING):
            return {_A.TRANSITION_TO_LOST}
        if target == S.FAILED:
            return failure_actions(facts)
        # Aurora: FINISHED from PARTITIONED is not rescheduled, even for a service.
        return set()
    if current in TERMINAL or current in (S.KILLING, None):
        if current == S.KILLING and target == S.PARTITIONED:
            return {_A.TRANSITION_TO_LOST}
        if target in _LIVE:
            return {_A.KILL}
        return {_A.DELETE} if target is None else set()
    return set()  # INIT
