"""Snapshots with each distinct TaskConfig stored once (Aurora's SnapshotDeduplicator).

`deduplicate` never changes the snapshot or the tasks it is given: partial tasks are shallow copies.
`reduplicate` gives every task with the same config the same TaskConfig object, so a replayed store holds
each config once in memory too. Both are pure.

The tasks of the snapshots these functions build are lists, not sets (see codec's docstring).
"""

from __future__ import annotations

import copy

from .gen.ttypes import DeduplicatedScheduledTask, DeduplicatedSnapshot, Snapshot


def deduplicate(snapshot: Snapshot) -> DeduplicatedSnapshot:
    configs: list = []
    by_value: dict = {}
    by_identity: dict[int, int] = {}  # id(config) -> index: most tasks share config objects; skips a hash
    partial_tasks = []
    for task in snapshot.tasks or ():
        config = task.assignedTask.task
        index = by_identity.get(id(config))
        if index is None:
            index = by_value.setdefault(config, len(configs))
            if index == len(configs):
                configs.append(config)
            by_identity[id(config)] = index
        partial = copy.copy(task)
        partial.assignedTask = copy.copy(task.assignedTask)
        partial.assignedTask.task = None
        partial_tasks.append(DeduplicatedScheduledTask(partialScheduledTask=partial, taskConfigId=index))
    partial_snapshot = copy.copy(snapshot)
    partial_snapshot.tasks = None
    return DeduplicatedSnapshot(partialSnapshot=partial_snapshot, partialTasks=partial_tasks, taskConfigs=configs)


def reduplicate(deduplicated: DeduplicatedSnapshot) -> Snapshot:
    """The full snapshot; the partial tasks of `deduplicated` are completed in place and become its tasks."""
    configs = deduplicated.taskConfigs or []
    tasks = []
    for partial in deduplicated.partialTasks or ():
        task = partial.partialScheduledTask
        task.assignedTask.task = configs[partial.taskConfigId]
        tasks.append(task)
    snapshot = copy.copy(deduplicated.partialSnapshot) if deduplicated.partialSnapshot else Snapshot()
    snapshot.tasks = tasks
    return snapshot
