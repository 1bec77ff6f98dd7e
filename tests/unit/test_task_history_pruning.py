"""Task history pruning: the per-task delay by age and the per-job excess, with an injected now."""
from scheduler.state.pruning import HOUR_MS, InactiveTask, PruneSettings, excess_history, prune_delay_ms

DEFAULTS = PruneSettings()              # 2 days, 1 hour minimum retention, 100 per job
NOW = 1_000 * HOUR_MS


def test_prune_delay_is_the_threshold_less_the_age_but_never_below_the_minimum_retention():
    assert DEFAULTS == PruneSettings(48 * HOUR_MS, HOUR_MS, 100)
    assert prune_delay_ms(NOW, NOW, DEFAULTS) == 48 * HOUR_MS                  # terminating now
    assert prune_delay_ms(NOW - 10 * HOUR_MS, NOW, DEFAULTS) == 38 * HOUR_MS   # found 10 h old at start-up
    assert prune_delay_ms(NOW - 47 * HOUR_MS, NOW, DEFAULTS) == HOUR_MS
    assert prune_delay_ms(NOW - 47 * HOUR_MS + 1, NOW, DEFAULTS) == HOUR_MS + 1
    assert prune_delay_ms(NOW - 72 * HOUR_MS, NOW, DEFAULTS) == HOUR_MS        # long expired: min retention
    assert prune_delay_ms(NOW + HOUR_MS, NOW, DEFAULTS) == 48 * HOUR_MS        # a future timestamp: age 0


def test_no_excess_at_or_below_the_per_job_limit():
    tasks = [InactiveTask(f"t{i}", 0) for i in range(3)]
    assert excess_history(tasks, NOW, PruneSettings(max_per_job=3)) == []
    assert excess_history([], NOW, PruneSettings(max_per_job=0)) == []


def test_the_excess_is_the_oldest_by_last_activity_ties_by_id():
    tasks = [InactiveTask("c", 30), InactiveTask("a", 10), InactiveTask("d", 10), InactiveTask("b", 20)]
    assert excess_history(tasks, NOW, PruneSettings(max_per_job=2)) == ["a", "d"]
    assert excess_history(tasks, NOW, PruneSettings(max_per_job=0)) == ["a", "d", "b", "c"]


def test_tasks_within_the_minimum_retention_are_spared_even_in_excess():
    recent = NOW - HOUR_MS + 1
    tasks = [InactiveTask("old1", 0), InactiveTask("old2", 1), InactiveTask("recent", recent),
             InactiveTask("edge", NOW - HOUR_MS)]
    # 4 tasks, limit 1: 3 in excess, but "recent" is within the hour; "edge" is exactly an hour old: prunable.
    assert excess_history(tasks, NOW, PruneSettings(max_per_job=1)) == ["old1", "old2", "edge"]
    # Only as many as are in excess, oldest first.
    assert excess_history(tasks, NOW, PruneSettings(max_per_job=2)) == ["old1", "old2"]
