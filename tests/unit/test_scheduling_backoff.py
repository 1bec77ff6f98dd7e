"""Per-group scheduling backoff (TruncatedBinaryBackoff, TaskGroups) and the attempts-per-second limiter."""
import random

import pytest

from scheduler.scheduling.backoff import GroupBackoff, GroupBackoffSettings, RateLimiter, TruncatedBinaryBackoff


def test_truncated_binary_backoff_with_jitter_stays_within_aurora_bounds():
    backoff = TruncatedBinaryBackoff(1, 12, rng=random.Random(1))
    for _ in range(200):
        assert 1 <= backoff.calculate_backoff_ms(0) <= 2
        assert 1 <= backoff.calculate_backoff_ms(1) <= 2
        assert 2 <= backoff.calculate_backoff_ms(2) <= 4
        assert 4 <= backoff.calculate_backoff_ms(4) <= 8
        assert 8 <= backoff.calculate_backoff_ms(8) <= 12
        assert backoff.calculate_backoff_ms(16) == 12


def test_without_jitter_it_doubles_to_the_max():
    backoff = TruncatedBinaryBackoff(1000, 60_000, jitter=False)
    penalties, last = [], 0
    for _ in range(8):
        last = backoff.calculate_backoff_ms(last)
        penalties.append(last)
    assert penalties == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]


def test_bad_backoff_arguments_are_refused():
    with pytest.raises(ValueError, match="initial backoff must be > 0 ms"):
        TruncatedBinaryBackoff(0, 10)
    with pytest.raises(ValueError, match="max backoff 1 ms is below the initial 2 ms"):
        TruncatedBinaryBackoff(2, 1)
    with pytest.raises(ValueError, match="negative backoff"):
        TruncatedBinaryBackoff(1, 2).calculate_backoff_ms(-1)
    with pytest.raises(ValueError, match="-first_schedule_delay must be > 0"):
        GroupBackoffSettings(first_schedule_delay_ms=0)


def test_should_continue_only_stops_at_max_when_asked():
    stopping = TruncatedBinaryBackoff(1, 6, stop_at_max=True)
    assert [stopping.should_continue(ms) for ms in (0, 1, 2, 4, 6, 8)] == [True] * 4 + [False] * 2
    assert TruncatedBinaryBackoff(1, 6).should_continue(100)


def test_group_penalties_as_task_groups():
    groups = GroupBackoff(GroupBackoffSettings(first_schedule_delay_ms=1, initial_penalty_ms=1000,
                                               max_penalty_ms=60_000), jitter=False)
    assert groups.first_penalty_ms(transition=True) == 1
    assert groups.first_penalty_ms(transition=False, startup_delay_ms=12_345) == 12_345
    assert groups.next_penalty_ms(1, attempted=True, scheduled=False, more=True) == 2
    assert groups.next_penalty_ms(0, attempted=True, scheduled=False, more=True) == 1000
    assert groups.next_penalty_ms(40_000, attempted=True, scheduled=False, more=True) == 60_000
    assert groups.next_penalty_ms(8000, attempted=True, scheduled=True, more=True) == 1
    assert groups.next_penalty_ms(8000, attempted=True, scheduled=True, more=False) == 0
    assert groups.next_penalty_ms(8000, attempted=False, scheduled=False, more=False) == 0


def test_rate_limiter_spaces_attempts_and_stores_a_second_of_permits():
    limiter = RateLimiter(40.0, now=100.0)
    assert limiter.reserve(100.0) == 0.0
    assert limiter.reserve(100.0) == pytest.approx(0.025)
    assert limiter.reserve(100.0) == pytest.approx(0.05)
    assert not limiter.try_acquire(100.0)
    # Idle for 10 s: one second's worth (40) is stored, no more.
    waits = [limiter.reserve(110.0) for _ in range(41)]
    assert waits == [0.0] * 41
    assert limiter.reserve(110.0) == pytest.approx(0.025)
    assert limiter.try_acquire(111.0)
    with pytest.raises(ValueError, match="rate must be > 0"):
        RateLimiter(0, now=0.0)
