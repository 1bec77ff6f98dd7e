"""Rescheduling: flapping penalty over ancestors (truncated binary backoff) and the replacement's status, with
task histories built on an injected clock."""
import pytest

from scheduler.state.reschedule import (
    FlappingSettings,
    Replacement,
    backoff_ms,
    flapped,
    flapping_penalty_ms,
    replacement_for,
)
from scheduler.state.status import ScheduleStatus, TaskEvent

S = ScheduleStatus
SEC = 1000
MIN = 60 * SEC
FLAGS = FlappingSettings()          # 5 min threshold, 30 s initial, 5 min max


def history(start, ran_for, end=S.FAILED, via=()):
    """PENDING at start, ASSIGNED, STARTING, RUNNING one second apart, [via...], then `end` ran_for after RUNNING."""
    events = [TaskEvent(start + i * SEC, s) for i, s in enumerate((S.PENDING, S.ASSIGNED, S.STARTING, S.RUNNING))]
    running = start + 3 * SEC
    events += [TaskEvent(running + 1, s) for s in via]
    return events + [TaskEvent(running + ran_for, end)]


def test_backoff_doubles_from_the_initial_delay_and_is_truncated_at_the_max():
    seq, last = [], 0
    for _ in range(7):
        last = backoff_ms(last, FLAGS)
        seq.append(last)
    assert seq == [30 * SEC, 60 * SEC, 120 * SEC, 240 * SEC, 300 * SEC, 300 * SEC, 300 * SEC]
    with pytest.raises(ValueError):
        backoff_ms(-1, FLAGS)


def test_consecutive_quick_deaths_give_pending_then_30_60_120_240_300_300_seconds():
    """Task k dies 10 s after RUNNING; its replacement's penalty comes from its ancestors (k-1 ... 0)."""
    clock, chain, got = 0, [], []
    for _ in range(8):
        events = history(clock, 10 * SEC)
        clock = events[-1].timestamp_ms
        penalty = flapping_penalty_ms(reversed(chain), FLAGS)   # ancestors of this task, nearest first
        got.append(replacement_for(penalty))
        chain.append(events)
    assert got[0] == Replacement(S.PENDING, "Rescheduled", 0)
    assert got[1] == Replacement(S.THROTTLED, "Rescheduled, penalized for 30000 ms for flapping", 30000)
    assert [r.penalty_ms for r in got] == [0, 30000, 60000, 120000, 240000, 300000, 300000, 300000]
    assert [r.status for r in got] == [S.PENDING] + [S.THROTTLED] * 7


def test_the_threshold_is_strict():
    assert flapped(history(0, 5 * MIN - 1), FLAGS)
    assert not flapped(history(0, 5 * MIN), FLAGS)
    assert flapping_penalty_ms([history(0, 5 * MIN - 1)], FLAGS) == 30 * SEC
    assert flapping_penalty_ms([history(0, 5 * MIN)], FLAGS) == 0


def test_the_last_active_event_is_the_start_that_counts():
    """A task pending for an hour then dying 1 s after RUNNING flapped; the long wait does not count."""
    assert flapped(history(0, SEC, via=()), FLAGS)
    late = [TaskEvent(0, S.PENDING), TaskEvent(60 * MIN, S.ASSIGNED), TaskEvent(60 * MIN + SEC, S.RUNNING),
            TaskEvent(60 * MIN + 2 * SEC, S.FINISHED)]
    assert flapped(late, FLAGS)
    # PARTITIONED is active: a task lost right after becoming unreachable flapped, whatever it ran before.
    partitioned = history(0, 10 * MIN, end=S.PARTITIONED) + [TaskEvent(10 * MIN + 3 * SEC + SEC, S.LOST)]
    assert flapped(partitioned, FLAGS)


@pytest.mark.parametrize("interruption", [S.KILLING, S.RESTARTING, S.DRAINING])
def test_an_interrupted_task_never_flapped(interruption):
    assert not flapped(history(0, SEC, end=S.KILLED, via=(interruption,)), FLAGS)
    assert flapping_penalty_ms([history(0, SEC, end=S.KILLED, via=(interruption,))], FLAGS) == 0


def test_preempting_is_not_an_interruption():
    assert flapped(history(0, SEC, end=S.KILLED, via=(S.PREEMPTING,)), FLAGS)


def test_the_walk_stops_at_the_first_ancestor_that_did_not_flap():
    quick, slow = history(0, SEC), history(0, 10 * MIN)
    assert flapping_penalty_ms([quick, slow, quick, quick], FLAGS) == 30 * SEC
    assert flapping_penalty_ms([slow, quick, quick], FLAGS) == 0
    assert flapping_penalty_ms([], FLAGS) == 0


def test_histories_that_are_not_of_a_terminated_task_do_not_flap():
    assert not flapped([], FLAGS)
    assert not flapped(history(0, SEC, end=S.RUNNING), FLAGS)
    assert not flapped([TaskEvent(0, S.INIT), TaskEvent(1, S.LOST)], FLAGS)


def test_ancestors_are_read_lazily_and_no_further_than_the_cap():
    read = []

    def ancestors():
        for i in range(100):
            read.append(i)
            yield history(0, SEC)

    assert flapping_penalty_ms(ancestors(), FLAGS) == 300 * SEC
    assert read == [0, 1, 2, 3, 4, 5]     # 30, 60, 120, 240, 300, then 300 again: capped, stop


def test_flags_change_the_threshold_and_the_backoff():
    flags = FlappingSettings(threshold_ms=MIN, initial_delay_ms=10 * SEC, max_delay_ms=25 * SEC)
    quick, medium = history(0, 59 * SEC), history(0, 2 * MIN)
    assert [flapping_penalty_ms([quick] * n, flags) for n in range(5)] == [0, 10000, 20000, 25000, 25000]
    assert flapping_penalty_ms([medium], flags) == 0
    assert flapping_penalty_ms([medium], FLAGS) == 30 * SEC
