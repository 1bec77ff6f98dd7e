"""The whole task state machine table: every (current, target) pair of the 15 statuses + DELETED, under each
kind of task whose facts change an answer. Expected rows are written out from Aurora 0.22's TaskStateMachine.java;
a pair not listed is illegal without side effects, and a same-status pair is a no-op."""
import itertools

import pytest

from scheduler.state.machine import ALLOWED, Action, Outcome, TaskFacts, failure_actions, transition
from scheduler.state.status import ACTIVE, SLAVE_ASSIGNED, TERMINAL, ScheduleStatus

S = ScheduleStatus
STATES = [*S, None]                       # None is DELETED
NAME = {None: "DELETED", **{s: s.name for s in S}}
BY_NAME = {v: k for k, v in NAME.items()}
ABBR = {"INC": Action.INCREMENT_FAILURES, "SAVE": Action.SAVE_STATE, "RESCHED": Action.RESCHEDULE,
        "TO_LOST": Action.TRANSITION_TO_LOST, "KILL": Action.KILL, "DELETE": Action.DELETE}

# from        to            outcome  actions, in the order a manager applies them
# Facts: a job task (not a service), no failures yet, max_task_failures=1, never KILLING.
JOB = """
INIT          PENDING       ok       SAVE
INIT          THROTTLED     ok       SAVE
PENDING       ASSIGNED      ok       SAVE
PENDING       KILLING       ok       DELETE
THROTTLED     PENDING       ok       SAVE
THROTTLED     KILLING       ok       DELETE
ASSIGNED      STARTING      ok       SAVE
ASSIGNED      RUNNING       ok       SAVE
ASSIGNED      FINISHED      ok       SAVE
ASSIGNED      FAILED        ok       INC SAVE
ASSIGNED      RESTARTING    ok       SAVE KILL
ASSIGNED      DRAINING      ok       SAVE KILL
ASSIGNED      KILLED        ok       SAVE RESCHED
ASSIGNED      KILLING       ok       SAVE KILL
ASSIGNED      LOST          ok       SAVE RESCHED KILL
ASSIGNED      PREEMPTING    ok       SAVE KILL
STARTING      RUNNING       ok       SAVE
STARTING      FINISHED      ok       SAVE
STARTING      FAILED        ok       INC SAVE
STARTING      RESTARTING    ok       SAVE KILL
STARTING      DRAINING      ok       SAVE KILL
STARTING      KILLING       ok       SAVE KILL
STARTING      KILLED        ok       SAVE RESCHED
STARTING      LOST          ok       SAVE RESCHED
STARTING      PREEMPTING    ok       SAVE KILL
STARTING      PARTITIONED   ok       SAVE
RUNNING       FINISHED      ok       SAVE
RUNNING       FAILED        ok       INC SAVE
RUNNING       RESTARTING    ok       SAVE KILL
RUNNING       DRAINING      ok       SAVE KILL
RUNNING       KILLING       ok       SAVE KILL
RUNNING       KILLED        ok       SAVE RESCHED
RUNNING       LOST          ok       SAVE RESCHED
RUNNING       PREEMPTING    ok       SAVE KILL
RUNNING       PARTITIONED   ok       SAVE
PREEMPTING    FINISHED      ok       SAVE RESCHED
PREEMPTING    FAILED        ok       SAVE RESCHED
PREEMPTING    KILLING       ok       SAVE
PREEMPTING    KILLED        ok       SAVE RESCHED
PREEMPTING    LOST          ok       SAVE RESCHED KILL
PREEMPTING    PARTITIONED   ok       SAVE TO_LOST
PREEMPTING    ASSIGNED      illegal  KILL
PREEMPTING    STARTING      illegal  KILL
PREEMPTING    RUNNING       illegal  KILL
RESTARTING    FINISHED      ok       SAVE RESCHED
RESTARTING    FAILED        ok       SAVE RESCHED
RESTARTING    KILLING       ok       SAVE
RESTARTING    KILLED        ok       SAVE RESCHED
RESTARTING    LOST          ok       SAVE RESCHED KILL
RESTARTING    PARTITIONED   ok       SAVE TO_LOST
RESTARTING    ASSIGNED      illegal  KILL
RESTARTING    STARTING      illegal  KILL
RESTARTING    RUNNING       illegal  KILL
DRAINING      FINISHED      ok       SAVE RESCHED
DRAINING      FAILED        ok       SAVE RESCHED
DRAINING      KILLING       ok       SAVE
DRAINING      KILLED        ok       SAVE RESCHED
DRAINING      LOST          ok       SAVE RESCHED KILL
DRAINING      PARTITIONED   ok       SAVE TO_LOST
DRAINING      ASSIGNED      illegal  KILL
DRAINING      STARTING      illegal  KILL
DRAINING      RUNNING       illegal  KILL
KILLING       FINISHED      ok       SAVE
KILLING       FAILED        ok       SAVE
KILLING       KILLED        ok       SAVE
KILLING       LOST          ok       SAVE
KILLING       DELETED       ok       DELETE
KILLING       PARTITIONED   ok       SAVE TO_LOST
KILLING       ASSIGNED      illegal  KILL
KILLING       STARTING      illegal  KILL
KILLING       RUNNING       illegal  KILL
PARTITIONED   LOST          ok       SAVE RESCHED KILL
PARTITIONED   FAILED        ok       INC SAVE
PARTITIONED   FINISHED      ok       SAVE
PARTITIONED   RUNNING       ok       SAVE
PARTITIONED   ASSIGNED      ok       SAVE
PARTITIONED   STARTING      ok       SAVE
PARTITIONED   RESTARTING    ok       SAVE TO_LOST
PARTITIONED   DRAINING      ok       SAVE TO_LOST
PARTITIONED   PREEMPTING    ok       SAVE TO_LOST
PARTITIONED   KILLING       ok       SAVE TO_LOST
FINISHED      DELETED       ok       DELETE
FINISHED      ASSIGNED      illegal  KILL
FINISHED      STARTING      illegal  KILL
FINISHED      RUNNING       illegal  KILL
FAILED        DELETED       ok       DELETE
FAILED        ASSIGNED      illegal  KILL
FAILED        STARTING      illegal  KILL
FAILED        RUNNING       illegal  KILL
KILLED        DELETED       ok       DELETE
KILLED        ASSIGNED      illegal  KILL
KILLED        STARTING      illegal  KILL
KILLED        RUNNING       illegal  KILL
LOST          DELETED       ok       DELETE
LOST          ASSIGNED      illegal  KILL
LOST          STARTING      illegal  KILL
LOST          RUNNING       illegal  KILL
DELETED       ASSIGNED      illegal  KILL
DELETED       STARTING      illegal  KILL
DELETED       RUNNING       illegal  KILL
"""

# Rows that differ from JOB for other facts.
SERVICE = """
ASSIGNED      FINISHED      ok       SAVE RESCHED
STARTING      FINISHED      ok       SAVE RESCHED
RUNNING       FINISHED      ok       SAVE RESCHED
ASSIGNED      FAILED        ok       INC SAVE RESCHED
STARTING      FAILED        ok       INC SAVE RESCHED
RUNNING       FAILED        ok       INC SAVE RESCHED
PARTITIONED   FAILED        ok       INC SAVE RESCHED
"""
# Aurora: PARTITIONED -> FINISHED is not rescheduled even for a service (no row above on purpose).

ATTEMPTS_LEFT = """
ASSIGNED      FAILED        ok       INC SAVE RESCHED
STARTING      FAILED        ok       INC SAVE RESCHED
RUNNING       FAILED        ok       INC SAVE RESCHED
PARTITIONED   FAILED        ok       INC SAVE RESCHED
"""

EVER_KILLING = """
PARTITIONED   LOST          ok       SAVE KILL
"""

FACTS = {
    "job": (TaskFacts(), JOB),
    "service": (TaskFacts(is_service=True, failure_count=7, max_task_failures=1), JOB + SERVICE),
    "attempts_left": (TaskFacts(failure_count=1, max_task_failures=3), JOB + ATTEMPTS_LEFT),
    "ever_killing": (TaskFacts(ever_killing=True), JOB + EVER_KILLING),
}


def parse(text):
    """{(from, to): Transition-like (outcome, actions)}; later rows override earlier ones."""
    table = {}
    for line in filter(None, text.splitlines()):
        frm, to, verdict, *effects = line.split()
        actions = tuple(ABBR[e] for e in effects)
        outcome = Outcome.SUCCESS if verdict == "ok" else (
            Outcome.ILLEGAL_WITH_SIDE_EFFECTS if actions else Outcome.ILLEGAL)
        table[BY_NAME[frm], BY_NAME[to]] = (outcome, actions)
    return table


def expected(table, frm, to):
    if frm == to:
        return Outcome.NOOP, ()
    return table.get((frm, to), (Outcome.ILLEGAL, ()))


CASES = [pytest.param(kind, frm, to, id=f"{kind}-{NAME[frm]}-{NAME[to]}")
         for kind in FACTS for frm, to in itertools.product(STATES, STATES)]


@pytest.mark.parametrize("kind, frm, to", CASES)
def test_every_pair(kind, frm, to):
    facts, text = FACTS[kind]
    result = transition(frm, to, facts)
    assert (result.outcome, result.actions) == expected(parse(text), frm, to)
    assert result.illegal == (result.outcome in (Outcome.ILLEGAL, Outcome.ILLEGAL_WITH_SIDE_EFFECTS))


def test_the_table_covers_all_256_pairs_and_its_legal_rows_are_the_allowed_map():
    assert len(STATES) == 16 and len(CASES) == 4 * 256
    legal = {pair for pair, (outcome, _) in parse(JOB).items() if outcome == Outcome.SUCCESS}
    assert legal == {(frm, to) for frm, targets in ALLOWED.items() for to in targets}
    assert len(legal) == 73


def test_counts_of_outcomes_for_a_job_task():
    outcomes = [transition(f, t).outcome for f, t in itertools.product(STATES, STATES)]
    assert outcomes.count(Outcome.NOOP) == 16
    assert outcomes.count(Outcome.SUCCESS) == 73
    assert outcomes.count(Outcome.ILLEGAL_WITH_SIDE_EFFECTS) == 27
    assert outcomes.count(Outcome.ILLEGAL) == 256 - 16 - 73 - 27


def test_status_ids_and_sets_are_aurora_s():
    assert {s.name: int(s) for s in S} == {
        "PENDING": 0, "STARTING": 1, "RUNNING": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5, "KILLING": 6,
        "LOST": 7, "ASSIGNED": 9, "INIT": 11, "RESTARTING": 12, "PREEMPTING": 13, "THROTTLED": 16,
        "DRAINING": 17, "PARTITIONED": 18}
    assert ACTIVE == {S.PENDING, S.THROTTLED, S.ASSIGNED, S.STARTING, S.RUNNING, S.KILLING, S.RESTARTING,
                      S.PREEMPTING, S.DRAINING, S.PARTITIONED}
    assert SLAVE_ASSIGNED == {S.ASSIGNED, S.STARTING, S.RUNNING, S.KILLING, S.RESTARTING, S.PREEMPTING,
                              S.DRAINING, S.PARTITIONED}
    assert TERMINAL == {S.FINISHED, S.FAILED, S.KILLED, S.LOST}
    assert [a.name for a in sorted(Action)] == [
        "INCREMENT_FAILURES", "SAVE_STATE", "RESCHEDULE", "TRANSITION_TO_LOST", "KILL", "DELETE"]


# ---- the failure rule -------------------------------------------------------------------------------------
@pytest.mark.parametrize("is_service, failure_count, max_task_failures, reschedule", [
    (False, 0, -1, True),        # unlimited
    (False, 1000, -1, True),
    (False, 0, 0, False),        # 0 behaves as 1: no retry
    (False, 0, 1, False),        # one attempt in all
    (False, 0, 2, True),
    (False, 1, 2, False),
    (False, 0, 3, True),
    (False, 1, 3, True),
    (False, 2, 3, False),        # the third failure is the last
    (False, 5, 3, False),
    (True, 0, 1, True),          # services ignore the limit
    (True, 99, 3, True),
])
def test_failure_rule_boundaries(is_service, failure_count, max_task_failures, reschedule):
    facts = TaskFacts(is_service=is_service, failure_count=failure_count, max_task_failures=max_task_failures)
    want = ({Action.INCREMENT_FAILURES, Action.RESCHEDULE} if reschedule else {Action.INCREMENT_FAILURES})
    assert failure_actions(facts) == want
    assert transition(S.RUNNING, S.FAILED, facts).actions == tuple(sorted(want | {Action.SAVE_STATE}))


@pytest.mark.parametrize("max_task_failures", [1, 2, 3, 5])
def test_max_task_failures_n_gives_n_attempts(max_task_failures):
    """Replacements copy the incremented count, as the manager does: N failures in all, then no replacement."""
    count, attempts = 0, 0
    while True:
        attempts += 1
        actions = transition(S.RUNNING, S.FAILED, TaskFacts(failure_count=count,
                                                          max_task_failures=max_task_failures)).actions
        assert actions[0] == Action.INCREMENT_FAILURES
        count += 1
        if Action.RESCHEDULE not in actions:
            break
        assert attempts < 100
    assert attempts == max_task_failures


def test_killing_then_partitioned_then_lost_is_never_rescheduled():
    """KILLING -> PARTITIONED saves and asks for LOST; the LOST change (ever KILLING) only kills."""
    first = transition(S.KILLING, S.PARTITIONED, TaskFacts())
    assert first.actions == (Action.SAVE_STATE, Action.TRANSITION_TO_LOST)
    second = transition(S.PARTITIONED, S.LOST, TaskFacts(ever_killing=True))
    assert second.actions == (Action.SAVE_STATE, Action.KILL)


def test_the_pure_status_enum_and_sets_are_the_idl_s():
    # scheduler.state may not import the wire layer, so it restates Aurora's ids; this keeps the two equal.
    from thermos_executor.aurora_api.gen import constants, ttypes
    assert {s.name: int(s) for s in S} == ttypes.ScheduleStatus._NAMES_TO_VALUES
    assert ACTIVE == set(constants.ACTIVE_STATES) and TERMINAL == set(constants.TERMINAL_STATES)
    assert SLAVE_ASSIGNED == set(constants.SLAVE_ASSIGNED_STATES)
