"""`TaskTimers`: what the leading scheduler does to tasks on its own, when time passes.

Aurora's TaskTimeout, TaskThrottler and TaskHistoryPruner, driven the same way: every committed state change
(the StateManager's `on_change`) and, once after promotion, every task already in storage (`start`) arms at
most one timer per task, chosen by the task's status:

* a transient status (`scheduler.state.timeout.TRANSIENT_STATES`): after -transient_task_state_timeout, a
  compare-and-set change from that status to LOST "Task timed out" (counter `timed_out_tasks`); a task that
  moved on meanwhile is left alone. Tasks found in storage get the whole timeout again, as in Aurora.
* THROTTLED: a compare-and-set change to PENDING (no message, as Aurora) once the flapping penalty recorded
  in its latest event ("Rescheduled, penalized for N ms for flapping") has passed since that event. A task
  made THROTTLED without that message (forceTaskState) carries no penalty and is released at once.
* a terminal status: deleted `scheduler.state.pruning.prune_delay_ms` later, counted from now for a task
  terminating now and from its latest event for one found in storage; and its job's terminated tasks beyond
  -history_max_per_job_threshold are deleted at once (`excess_history`; counter `tasks_pruned` for both).

Guarantees: a new change of a task cancels the timer armed for its previous status, so a task has at most
one; a deleted task has none. The timers and the actions they start are a `KeyedTimers` keyed by task id
(nothing polls; deadlines in the injected clock's ms, never early), and each due action is one storage
transaction. Changes arm timers only between `start` and `stop`; `stop` cancels every timer and action and
awaits them. The daemon starts this on promotion and
stops it at teardown (a leader that steps down exits), so only the leader arms timers.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine

from thermos_executor.aurora_api.gen.ttypes import ScheduledTask, TaskQuery
from scheduler.api.state_manager import ChangeResult, StateChange, StateManager
from scheduler.state import pruning, reschedule, timeout
from scheduler.state.status import TERMINAL, ScheduleStatus
from thermos_executor.aurora_api import job_key

from .keyed_timers import KeyedTimers

log = logging.getLogger(__name__)
S = ScheduleStatus

# The message `scheduler.state.reschedule.replacement_for` gives a THROTTLED replacement.


class TaskTimers:
    """Per-task timers of one leader (see the module docstring). `on_change` is the manager's callback."""

    def __init__(self, manager: StateManager, *, timeout_ms: int, prune: pruning.PruneSettings,
                 clock_ms: Callable[[], int] | None = None,
                 call_later: Callable[..., asyncio.TimerHandle] | None = None):
        self.manager = manager
        self.timeout_ms = timeout_ms
        self.prune = prune
        self.clock_ms = clock_ms or manager.clock_ms
        self._keyed = KeyedTimers(self.clock_ms, call_later, what="task timer action")
        self._jobs_to_trim: set[tuple] = set()
        self._armed = False  # between start and stop
        self.timed_out = 0
        self.pruned = 0

    def start(self) -> None:
        """Arm timers for every task in storage (READY), and from now on for every change; call right after
        promotion, before serving."""
        self._armed = True
        for task in list(self.manager.storage.store.tasks):
            self._arm(task, recovered=True)

    def on_change(self, change: StateChange) -> None:
        """Re-arm the task's timer for its new status (committed); a deleted task's timer is cancelled."""
        if not self._armed:
            return
        if change.task is None:
            self._keyed.cancel(change.task_id)
        else:
            self._arm(change.task, recovered=False)

    async def stop(self) -> None:
        """Cancel every timer and running action, and wait for the actions to end."""
        self._armed = False
        await self._keyed.stop()

    async def idle(self) -> None:
        """Return once no action is running (including actions started by the ones awaited)."""
        await self._keyed.idle()

    def vars(self) -> dict[str, int]:
        return {timeout.TIMED_OUT_COUNTER: self.timed_out, pruning.TASKS_PRUNED_COUNTER: self.pruned}

    # -- arming --------------------------------------------------------------------------------------------
    def _arm(self, task: ScheduledTask, recovered: bool) -> None:
        task_id = task.assignedTask.taskId
        self._keyed.cancel(task_id)
        status = S(task.status)
        now = self.clock_ms()
        latest_ms = task.taskEvents[-1].timestamp if task.taskEvents else now
        armed = timeout.arm(task_id, status, now, self.timeout_ms)
        if armed is not None:
            self._at(task_id, armed.deadline_ms, lambda: self._time_out(armed))
        elif status == S.THROTTLED:
            self._at(task_id, latest_ms + _penalty_ms(task), lambda: self._release(task_id))
        elif status in TERMINAL:
            basis = latest_ms if recovered else now
            self._at(task_id, now + pruning.prune_delay_ms(basis, now, self.prune), lambda: self._prune(task_id))
            self._trim_job(task)

    def _at(self, task_id: str, deadline_ms: int, action: Callable[[], Coroutine]) -> None:
        self._keyed.at(task_id, deadline_ms, lambda: self._keyed.spawn(action()))

    def _trim_job(self, task: ScheduledTask) -> None:
        """Check the job's history once for all its tasks terminating in the same transaction."""
        job = task.assignedTask.task.job
        key = job_key(job)
        if key not in self._jobs_to_trim:
            self._jobs_to_trim.add(key)
            self._keyed.spawn(self._trim(key, job))

    # -- actions: one transaction each ---------------------------------------------------------------------
    async def _time_out(self, armed: timeout.Timeout) -> None:
        async with self.manager.transaction() as tx:
            task = tx.store.tasks.get(armed.task_id)
            lost = timeout.fire(armed, S(task.status) if task else None, self.clock_ms())
            result = lost and tx.change_state(lost.task_id, lost.target, lost.message, expected=lost.expected)
        if result == ChangeResult.SUCCESS:
            self.timed_out += 1
            log.info("Timeout reached for task %s in %s", armed.task_id, armed.status.name)

    async def _release(self, task_id: str) -> None:
        async with self.manager.transaction() as tx:
            tx.change_state(task_id, S.PENDING, expected=S.THROTTLED)

    async def _prune(self, task_id: str) -> None:
        async with self.manager.transaction() as tx:
            task = tx.store.tasks.get(task_id)
            if task is None or S(task.status) not in TERMINAL:
                return
            tx.delete_tasks([task_id])
        self.pruned += 1
        log.info("Pruning expired inactive task %s", task_id)

    async def _trim(self, key: tuple, job) -> None:
        self._jobs_to_trim.discard(key)  # first step: after every change of the committing transaction
        async with self.manager.transaction() as tx:
            history = tx.store.tasks.fetch(TaskQuery(jobKeys={job}, statuses=set(TERMINAL)))
            inactive = [pruning.InactiveTask(t.assignedTask.taskId, t.taskEvents[-1].timestamp) for t in history]
            excess = pruning.excess_history(inactive, self.clock_ms(), self.prune)
            tx.delete_tasks(excess)
        if excess:
            self.pruned += len(excess)
            log.info("Pruning inactive tasks %s", excess)


def _penalty_ms(task: ScheduledTask) -> int:
    return reschedule.penalty_from_message(task.taskEvents[-1].message) if task.taskEvents else 0
