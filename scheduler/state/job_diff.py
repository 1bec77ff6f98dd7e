"""What an update changes in a job: which instances it adds, removes, updates or leaves alone (pure).

Aurora's JobDiff and the instance-range helpers of its Numbers, for getJobUpdateDiff and the updater:

    current = active_configs(active_tasks)                 # instance id -> TaskConfig, the job as it runs
    diff = compute(current, as_map(config, 5), scope)      # scope: settings.updateOnlyTheseInstances
    diff.added(), diff.removed(), diff.updated(), diff.unchanged

An instance is *replaced* when its current config goes away (it is removed, or updated to the new config)
and a *replacement* when it gets the proposed config (it is added, or updated); an instance whose config is
the same in both is *unchanged*. TaskConfigs are compared by value (the generated structs hash by value).
A scope (instance ranges; empty or None: every instance) limits the replaced and replacement instances to
it; every other current instance then counts as unchanged, as in Aurora.

Ranges are read as Aurora reads them (Guava's closed ranges in an ImmutableRangeSet): a range whose first is
after its last, or two ranges that overlap, raise `InvalidRange` with Guava's message.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from thermos_executor.aurora_api import to_ranges  # noqa: F401 - part of this module's interface
from thermos_executor.aurora_api.gen.ttypes import Range, ScheduledTask, TaskConfig


class InvalidRange(ValueError):
    """Instance ranges Aurora refuses (Guava's IllegalArgumentException, which Aurora answered ERROR; the API
    answers INVALID_REQUEST, as the issue asks)."""


@dataclass(frozen=True)
class JobDiff:
    """The difference between a job's current and proposed instances (Aurora's JobDiff)."""
    replaced: Mapping[int, TaskConfig]            # instance -> current config, for instances removed or updated
    replacements: frozenset[int]                  # instances that get the proposed config: added or updated
    unchanged: Mapping[int, TaskConfig] = field(default_factory=dict)  # instance -> current config

    def added(self) -> frozenset[int]:
        return self.replacements - self.replaced.keys()

    def removed(self) -> frozenset[int]:
        return frozenset(self.replaced.keys() - self.replacements)

    def updated(self) -> frozenset[int]:
        return frozenset(self.replaced.keys() & self.replacements)

    def is_noop(self) -> bool:
        return not self.replaced and not self.replacements

    def out_of_scope(self, scope: Iterable[int]) -> frozenset[int]:
        """The instances of `scope` this diff does not know (neither replaced, replacement nor unchanged)."""
        return frozenset(scope) - self.replaced.keys() - self.replacements - self.unchanged.keys()


def active_configs(tasks: Iterable[ScheduledTask]) -> dict[int, TaskConfig]:
    """A job's current state: each of its (active) tasks' config by instance id."""
    return {t.assignedTask.instanceId: t.assignedTask.task for t in tasks}


def as_map(config: TaskConfig, instance_count: int) -> dict[int, TaskConfig]:
    """Instances 0..instance_count-1, each with `config` (JobDiff.asMap); a negative count is InvalidRange."""
    if instance_count < 0:
        raise InvalidRange(f"Invalid range: [0..{instance_count})")
    return dict.fromkeys(range(instance_count), config)


def compute(current: Mapping[int, TaskConfig], proposed: Mapping[int, TaskConfig],
            scope: Iterable[Range] | None = None) -> JobDiff:
    """What moving a job from `current` to `proposed` changes, within `scope` (JobDiff.compute)."""
    differing = {i for i in current.keys() & proposed.keys() if current[i] != proposed[i]}
    replaced = {i: c for i, c in current.items() if i not in proposed or i in differing}
    replacements = frozenset(proposed.keys() - current.keys()) | differing
    limit = instance_ids(scope or ())
    if not limit:
        unchanged = {i: c for i, c in current.items() if i in proposed and i not in differing}
        return JobDiff(replaced, replacements, unchanged)
    replaced = {i: c for i, c in replaced.items() if i in limit}
    replacements = replacements & limit
    unchanged = {i: c for i, c in current.items() if i not in replaced and i not in replacements}
    return JobDiff(replaced, replacements, unchanged)


def instance_ids(ranges: Iterable[Range]) -> frozenset[int]:
    """The instance ids of closed ranges (Numbers.rangesToInstanceIds), or InvalidRange as Guava says it."""
    spans = sorted({(r.first or 0, r.last or 0) for r in ranges})  # unset is Java's 0; a set: equal ranges are one
    for first, last in spans:
        if first > last:
            raise InvalidRange(f"Invalid range: [{first}..{last}]")
    ids: set[int] = set()
    merged: tuple[int, int] | None = None
    for first, last in spans:
        if merged is not None and first <= merged[1]:
            raise InvalidRange("Overlapping ranges not permitted in ImmutableRangeSet: "
                               f"[{merged[0]}..{merged[1]}] overlaps with [{first}..{last}]")
        merged = (first, last)
        ids.update(range(first, last + 1))
    return frozenset(ids)
