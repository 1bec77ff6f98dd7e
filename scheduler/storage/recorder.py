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
        self.ops: list[Op] = []

    def add(self, op: Op) -> None:
        merged = _coalesce(self.ops[-1], op) if self.ops else None
        if merged is None:
            self.ops.append(op)
        else:
            self.ops[-1] = merged


def _coalesce(prior: Op, nxt: Op) -> Op | None:
    if prior.saveFrameworkId is not None and nxt.saveFrameworkId is not None:
        return Op(saveFrameworkId=SaveFrameworkId(id=nxt.saveFrameworkId.id))
    if prior.saveTasks is not None and nxt.saveTasks is not None:
        by_id = {t.assignedTask.taskId: t for t in prior.saveTasks.tasks or ()}
        by_id.update((t.assignedTask.taskId, t) for t in nxt.saveTasks.tasks or ())
        return Op(saveTasks=SaveTasks(tasks=list(by_id.values())))
    if prior.removeTasks is not None and nxt.removeTasks is not None:
        ids = set(prior.removeTasks.taskIds or ()) | set(nxt.removeTasks.taskIds or ())
        return Op(removeTasks=RemoveTasks(taskIds=ids))
    if prior.saveHostAttributes is not None and nxt.saveHostAttributes is not None:
        before, after = prior.saveHostAttributes.hostAttributes, nxt.saveHostAttributes.hostAttributes
        if before.host == after.host:
            attributes = copy.copy(after)
            if attributes.mode is None:
                attributes.mode = before.mode
            return Op(saveHostAttributes=SaveHostAttributes(hostAttributes=attributes))
    return None
