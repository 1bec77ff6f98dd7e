"""The ops of one storage write, coalesced as Aurora's TransactionRecorder does.

An op is merged into the op recorded just before it when both are of the same kind and that kind coalesces:

* saveFrameworkId: the later id replaces the earlier;
* saveTasks: one op whose tasks are the union by task id, the later save of an id winning;
* removeTasks: one op removing the union of the ids;
* saveHostAttributes of the same host: the later op, keeping the earlier mode when the later has none (the
  store's rule). Aurora instead copies only the later attribute list into the earlier op, which drops a
  later mode or slaveId; we keep the guarantee below.

Anything else is appended as it comes, so the recorded ops, applied in order, have the same effect as the
ops recorded. Ops given to `add` are not changed: merges build new ops. Pure.
"""

from __future__ import annotations

import copy

from .gen.ttypes import Op, RemoveTasks, SaveFrameworkId, SaveHostAttributes, SaveTasks


class TransactionRecorder:
    def __init__(self):
        self._ops: list[Op] = []
        self._tasks: dict | None = None     # the last op's saveTasks by task id, while it is being merged into
        self._removed: set | None = None    # the last op's removeTasks ids, likewise

    def add(self, op: Op) -> None:
        """Record `op`, merged into the last op when they coalesce. Saves and removes of one task at a time
        (a job killed task by task) merge in place, in constant time each."""
        if self._tasks is not None and op.saveTasks is not None:
            self._tasks.update((t.assignedTask.taskId, t) for t in op.saveTasks.tasks or ())
            return
        if self._removed is not None and op.removeTasks is not None:
            self._removed.update(op.removeTasks.taskIds or ())
            return
        self._seal()
        if op.saveTasks is not None:
            self._tasks = {t.assignedTask.taskId: t for t in op.saveTasks.tasks or ()}
        elif op.removeTasks is not None:
            self._removed = set(op.removeTasks.taskIds or ())
        else:
            merged = _coalesce(self._ops[-1], op) if self._ops else None
            if merged is None:
                self._ops.append(op)
            else:
                self._ops[-1] = merged

    @property
    def ops(self) -> list[Op]:
        self._seal()
        return self._ops

    def _seal(self) -> None:
        """Turn the op being merged into, if any, into a recorded op."""
        if self._tasks is not None:
            self._ops.append(Op(saveTasks=SaveTasks(tasks=list(self._tasks.values()))))
            self._tasks = None
        elif self._removed is not None:
            self._ops.append(Op(removeTasks=RemoveTasks(taskIds=self._removed)))
            self._removed = None


def _coalesce(prior: Op, nxt: Op) -> Op | None:
    if prior.saveFrameworkId is not None and nxt.saveFrameworkId is not None:
        return Op(saveFrameworkId=SaveFrameworkId(id=nxt.saveFrameworkId.id))
    if prior.saveHostAttributes is not None and nxt.saveHostAttributes is not None:
        before, after = prior.saveHostAttributes.hostAttributes, nxt.saveHostAttributes.hostAttributes
        if before.host == after.host:
            attributes = copy.copy(after)
            if attributes.mode is None:
                attributes.mode = before.mode
            return Op(saveHostAttributes=SaveHostAttributes(hostAttributes=attributes))
    return None
