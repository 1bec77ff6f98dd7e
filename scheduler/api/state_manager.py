"""The state manager: task state changes and their side effects, applied to storage (Aurora's StateManagerImpl).

    manager = StateManager(storage, kill=driver_kill, clock_ms=clock, hostname="sched-1")
    async with manager.transaction() as tx:        # one storage write
        tx.insert_pending_tasks(config, range(3))
        tx.change_state(task_id, ScheduleStatus.KILLING, "Killed by UNSECURE")
    # committed: kills handed to `kill`, changes published to `on_change`

Guarantees:

* **One write per transaction.** Everything a transaction does is one storage write: it commits as one log
  entry or not at all. If the block raises or the append fails, the store is as before and nothing is handed
  on: no kill is requested and no change published for a change that did not happen (Aurora calls the driver
  inside the transaction; we wait for the commit). Do not nest transactions.
* **Aurora's order.** A change runs `scheduler.state.machine.transition` on the stored task and applies its
  actions in the order returned (INCREMENT_FAILURES, SAVE_STATE, RESCHEDULE, TRANSITION_TO_LOST, KILL, DELETE),
  re-reading the task before each, exactly as the package docstring of scheduler.state describes. Illegal
  attempts are counted (`vars()`) and their side effects still applied (a rogue task is killed).
* **Stored tasks are never mutated**: each change saves a new ScheduledTask (storage shares stored structs).
* Events are `TaskEvent(timestamp=now ms, status, message, scheduler=hostname)`; the clock, the host name and
  the task id source are injected.

`insert_pending_tasks` saves the new tasks already PENDING in one saveTasks op. Aurora saves them INIT and then
changes each to PENDING; its transaction recorder coalesces those saves into the same single op, so the log
entry is the same, without 2N ops to coalesce.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from thermos_executor.aurora_api.gen.ttypes import AssignedTask, ScheduledTask, TaskEvent, TaskQuery
from scheduler.state import machine, reschedule
from scheduler.state.machine import Action, TaskFacts
from scheduler.state.status import ACTIVE, ScheduleStatus
from scheduler.state.status import TaskEvent as Event
from scheduler.state.task_ids import TaskIdGenerator

log = logging.getLogger(__name__)
S = ScheduleStatus
_DEFAULT_FLAPPING = reschedule.FlappingSettings()


class ChangeResult(StrEnum):
    """Aurora's StateChangeResult."""
    SUCCESS = "SUCCESS"
    NOOP = "NOOP"
    ILLEGAL = "ILLEGAL"
    ILLEGAL_WITH_SIDE_EFFECTS = "ILLEGAL_WITH_SIDE_EFFECTS"
    INVALID_CAS_STATE = "INVALID_CAS_STATE"


class InstanceCollision(ValueError):
    """insert_pending_tasks was asked for an instance id the job already has active."""


@dataclass(frozen=True)
class StateChange:
    """A committed change: `task` as saved (None once deleted), from `previous` to `status` (None: deleted)."""
    task_id: str
    previous: ScheduleStatus | None
    status: ScheduleStatus | None
    task: ScheduledTask | None


class StateManager:
    def __init__(self, storage, *, kill: Callable[[str], None], clock_ms: Callable[[], int],
                 hostname: str | None = None, task_ids: TaskIdGenerator | None = None,
                 flapping: reschedule.FlappingSettings = _DEFAULT_FLAPPING,
                 on_change: Callable[[StateChange], None] | None = None):
        """`storage`: a DurableStorage (its `write()`); `kill(task_id)`: asks Mesos to kill a task."""
        self.storage = storage
        self.clock_ms = clock_ms
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.task_ids = task_ids or TaskIdGenerator(clock_ms)
        self.flapping = flapping
        self._kill = kill
        self._on_change = on_change
        self.illegal_transitions = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A storage write to change tasks in; kills and changes are handed on once it has committed."""
        async with self.storage.write() as writer:
            tx = Transaction(self, writer)
            yield tx
        for task_id in tx.kills:
            self._kill(task_id)
        if self._on_change is not None:
            for change in tx.changes:
                self._on_change(change)

    def vars(self) -> dict[str, int]:
        return {machine.ILLEGAL_TRANSITIONS_COUNTER: self.illegal_transitions}


class Transaction:
    """The changes of one storage write. `store` reads the store, this write's changes included."""

    def __init__(self, manager: StateManager, writer):
        self._m = manager
        self._w = writer
        self.store = writer.store
        self.kills: list[str] = []
        self.changes: list[StateChange] = []

    # -- what callers do -----------------------------------------------------------------------------------
    def insert_pending_tasks(self, template, instance_ids: Iterable[int]) -> list[ScheduledTask]:
        """New PENDING tasks of `template` (a TaskConfig) for these instance ids; InstanceCollision if the job
        already has an active task with one of them ("Instance ID collision detected.", as Aurora)."""
        instance_ids = sorted(set(instance_ids))
        if not instance_ids:
            raise ValueError("no instance ids to insert")
        active = self.store.tasks.fetch(TaskQuery(jobKeys={template.job}, statuses=set(ACTIVE)))
        if {t.assignedTask.instanceId for t in active} & set(instance_ids):
            raise InstanceCollision("Instance ID collision detected.")
        outcome = machine.transition(S.INIT, S.PENDING)
        assert outcome.actions == (Action.SAVE_STATE,), outcome
        tasks = [self._saved_state(self._new_task(template, i), S.PENDING, None) for i in instance_ids]
        self._w.save_tasks(tasks)
        self.changes += [StateChange(t.assignedTask.taskId, S.INIT, S.PENDING, t) for t in tasks]
        return tasks

    def change_state(self, task_id: str, target: ScheduleStatus, message: str | None = None,
                     expected: ScheduleStatus | None = None) -> ChangeResult:
        """Ask task `task_id` to become `target`; with `expected`, only if it is stored in that status."""
        task = self.store.tasks.get(task_id)
        if expected is not None and (task is None or task.status != expected):
            return ChangeResult.INVALID_CAS_STATE
        return self._update(task_id, task, target, message)

    def assign_task(self, task_id: str, slave_host: str, slave_id: str,
                    assigned_ports: dict[str, int]) -> ScheduledTask | None:
        """Aurora's assignTask: a PENDING task gets its host, agent and ports and becomes ASSIGNED, in this
        write. Returns the task as saved; None (nothing changed) if it is no longer PENDING."""
        task = self.store.tasks.get(task_id)
        if task is None or task.status != S.PENDING:
            return None
        placed = copy.copy(task)
        placed.assignedTask = copy.copy(task.assignedTask)
        placed.assignedTask.slaveHost = slave_host
        placed.assignedTask.slaveId = slave_id
        placed.assignedTask.assignedPorts = dict(assigned_ports)
        self._w.save_tasks([placed])
        self._update(task_id, placed, S.ASSIGNED, None)
        return self.store.tasks.get(task_id)

    def delete_tasks(self, task_ids: Iterable[str]) -> None:
        """Delete these tasks through the state machine (only terminal and KILLING tasks can be deleted)."""
        for task_id in sorted(set(task_ids)):
            task = self.store.tasks.get(task_id)
            if task is not None:
                self._update(task_id, task, None, None)

    # -- applying a transition -----------------------------------------------------------------------------
    def _update(self, task_id: str, task: ScheduledTask | None, target: ScheduleStatus | None,
                message: str | None) -> ChangeResult:
        current = S(task.status) if task is not None else None
        result = machine.transition(current, target, _facts(task))
        if result.illegal:
            self._m.illegal_transitions += 1
            log.warning("illegal transition of task %s: %s -> %s", task_id, _name(current), _name(target))
        for action in result.actions:
            stored = self.store.tasks.get(task_id)
            if action == Action.INCREMENT_FAILURES:
                bumped = copy.copy(stored)
                bumped.failureCount = (stored.failureCount or 0) + 1
                self._w.save_tasks([bumped])
            elif action == Action.SAVE_STATE:
                saved = self._saved_state(stored, target, message)
                self._w.save_tasks([saved])
                self.changes.append(StateChange(task_id, current, target, saved))
            elif action == Action.RESCHEDULE:
                self._reschedule(stored)
            elif action == Action.TRANSITION_TO_LOST:
                self._update(task_id, stored, S.LOST, machine.PARTITIONED_LOST_MESSAGE)
            elif action == Action.KILL:
                self.kills.append(task_id)
            elif action == Action.DELETE:
                self._w.remove_tasks([task_id])
                self.changes.append(StateChange(task_id, S(stored.status), None, None))
        return ChangeResult(result.outcome.value)

    def _reschedule(self, task: ScheduledTask) -> None:
        penalty = reschedule.flapping_penalty_ms(self._ancestor_histories(task), self._m.flapping)
        replacement = reschedule.replacement_for(penalty)
        assigned = task.assignedTask
        log.info("Task being rescheduled: %s", assigned.taskId)
        new = self._new_task(assigned.task, assigned.instanceId)
        new.failureCount = task.failureCount or 0
        new.ancestorId = assigned.taskId
        self._w.save_tasks([new])
        self._update(new.assignedTask.taskId, new, replacement.status, replacement.message)

    def _ancestor_histories(self, task: ScheduledTask) -> Iterator[list[Event]]:
        """The event histories of the task's ancestors, nearest first, while they are stored."""
        ancestor_id = task.ancestorId
        while ancestor_id:
            ancestor = self.store.tasks.get(ancestor_id)
            if ancestor is None:
                return
            yield [Event(e.timestamp, S(e.status), e.message, e.scheduler) for e in ancestor.taskEvents or ()]
            ancestor_id = ancestor.ancestorId

    def _new_task(self, template, instance_id: int) -> ScheduledTask:
        job = template.job
        task_id = self._m.task_ids.generate(job.role, job.environment, job.name, instance_id)
        return ScheduledTask(
            assignedTask=AssignedTask(taskId=task_id, task=template, assignedPorts={}, instanceId=instance_id),
            status=S.INIT, failureCount=0, timesPartitioned=0, taskEvents=[])

    def _saved_state(self, task: ScheduledTask, status: ScheduleStatus, message: str | None) -> ScheduledTask:
        saved = copy.copy(task)
        saved.status = status
        event = TaskEvent(timestamp=self._m.clock_ms(), status=status, message=message, scheduler=self._m.hostname)
        saved.taskEvents = [*(task.taskEvents or ()), event]
        return saved


def _facts(task: ScheduledTask | None) -> TaskFacts:
    if task is None:
        return TaskFacts()
    config = task.assignedTask.task
    return TaskFacts(
        is_service=bool(config.isService),
        failure_count=task.failureCount or 0,
        max_task_failures=config.maxTaskFailures or 0,  # unset is Java's int 0: no retry, as 1
        ever_killing=any(e.status == S.KILLING for e in task.taskEvents or ()))


def _name(status: ScheduleStatus | None) -> str:
    return status.name if status is not None else "DELETED"
