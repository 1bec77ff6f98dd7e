"""scheduler.state.job_diff: Aurora's JobDiff (replaced, replacement and unchanged instances, with and without
a scope) and Numbers' range helpers, with Guava's refusals of bad ranges."""
import pytest

from scheduler.state import job_diff
from scheduler.state.job_diff import InvalidRange, JobDiff
from thermos_executor.aurora_api.gen.ttypes import Range, TaskConfig

OVERLAP = "Overlapping ranges not permitted in ImmutableRangeSet: "
OLD, NEW, OTHER = TaskConfig(priority=0), TaskConfig(priority=1), TaskConfig(priority=2)


def test_added_removed_updated_unchanged():
    current = {0: OLD, 1: OLD, 2: NEW, 3: OTHER}
    diff = job_diff.compute(current, job_diff.as_map(NEW, 6))
    assert diff.replaced == {0: OLD, 1: OLD, 3: OTHER}
    assert diff.replacements == {0, 1, 3, 4, 5}
    assert diff.unchanged == {2: NEW}
    assert (diff.added(), diff.removed(), diff.updated()) == ({4, 5}, set(), {0, 1, 3})
    shrink = job_diff.compute(current, job_diff.as_map(NEW, 2))
    assert (shrink.added(), shrink.removed(), shrink.updated()) == (set(), {2, 3}, {0, 1})
    assert shrink.unchanged == {} and not shrink.is_noop()


def test_a_scope_limits_the_changes_and_leaves_the_rest_unchanged():
    current = {0: OLD, 1: OLD, 2: OLD}
    diff = job_diff.compute(current, job_diff.as_map(NEW, 4), [Range(first=2, last=3)])
    assert diff == JobDiff(replaced={2: OLD}, replacements=frozenset({2, 3}), unchanged={0: OLD, 1: OLD})
    assert diff.out_of_scope({0, 3, 7, 8}) == {7, 8}
    assert job_diff.compute(current, job_diff.as_map(NEW, 4), []) == job_diff.compute(current,
                                                                                      job_diff.as_map(NEW, 4))


def test_no_change_is_a_noop():
    diff = job_diff.compute({0: OLD}, {0: OLD})
    assert diff.is_noop() and diff.unchanged == {0: OLD}
    assert job_diff.compute({}, {}).is_noop()


def test_instance_ids_and_ranges():
    assert job_diff.instance_ids([Range(0, 2), Range(5, 5), Range(3, 3), Range(0, 2)]) == {0, 1, 2, 3, 5}
    assert job_diff.instance_ids({Range(first=None, last=1)}) == {0, 1}   # unset is Java's 0
    assert job_diff.to_ranges([5, 0, 1, 2, 7, 6]) == [Range(0, 2), Range(5, 7)]
    assert job_diff.to_ranges([]) == []


@pytest.mark.parametrize("ranges, message", [
    ([Range(4, 3)], "Invalid range: [4..3]"),
    ([Range(0, 10), Range(2, 3)], f"{OVERLAP}[0..10] overlaps with [2..3]"),
    ([Range(5, 6), Range(0, 5)], f"{OVERLAP}[0..5] overlaps with [5..6]"),
])
def test_bad_ranges(ranges, message):
    with pytest.raises(InvalidRange) as e:
        job_diff.instance_ids(ranges)
    assert str(e.value) == message


def test_as_map():
    assert job_diff.as_map(NEW, 2) == {0: NEW, 1: NEW}
    with pytest.raises(InvalidRange, match=r"^Invalid range: \[0\.\.-2\)$"):
        job_diff.as_map(NEW, -2)
