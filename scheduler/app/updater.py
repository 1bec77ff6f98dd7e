"""`JobUpdates`: the leader drives job updates (Aurora's JobUpdateControllerImpl).

Every active update is stored (scheduler.storage: the JobUpdate, its update events, its instance events);
the ones rolling (ROLLING_FORWARD / ROLLING_BACK) also have an updater in memory here
(scheduler.state.updates.OneWayUpdater), rebuilt from storage when this scheduler is promoted (`start`):
rolling updates resume, paused and blocked ones stay as they are, as Aurora's systemResume.

Each step is one storage write, which changes the update and the tasks together:

* a status change (start, pause, resume, abort, rollback, pulse, or the updater's own outcome) records an
  update event, checked against Aurora's transitions; entering ROLLING_* builds a new updater and evaluates it
  at once (its first group starts), leaving them drops it;
* an evaluation applies the updater's effects: kill a task of another config ("Killed for job update <id>"),
  insert the desired task once the old one is gone, watch a desired task until it has been RUNNING for
  watch_secs (a timer at RUNNING + watch_secs re-evaluates it), record INSTANCE_* events (an instance found
  already as desired at once is not recorded, as Aurora; nor again after a resume), and end the update
  (ROLLED_FORWARD / ROLLED_BACK, ROLLING_BACK when rollback_on_failure, else FAILED), or pause it after a
  batch (autopause).

Task changes (`on_change`, after their write committed) are queued per job, in order, and evaluated together
by one task per job: each change is evaluated with the task as that change saved it (a task that ended is
seen ended, even if it was rescheduled since, so its failure counts, as Aurora).

Coordinated updates (blockIfNoPulsesAfterMs): the last pulse per update is kept in memory, as Aurora; an
update that was not pulsed within the timeout is blocked (ROLL_*_AWAITING_PULSE) at its next evaluation or by
its pulse timer; a pulse unblocks it. After a failover no pulse is known, so a coordinated update waits for
its next pulse, as in Aurora.

A failed write is fatal to the leader (the daemon exits), so the in-memory updaters never outlive a write
they disagree with.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from scheduler.api import config as configs
from scheduler.api.state_manager import InstanceCollision, StateChange, StateManager
from scheduler.state import updates as u
from scheduler.state.status import ACTIVE
from scheduler.storage.store import update_key
from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import (JobInstanceUpdateEvent, JobKey, JobUpdateEvent,
                                                    JobUpdatePulseStatus,
                                                    ScheduleStatus, TaskQuery)

from .keyed_timers import KeyedTimers

log = logging.getLogger(__name__)
USER = "UNSECURE"


class JobUpdates:
    """The leader's update controller (see the module docstring)."""

    def __init__(self, manager: StateManager, *, clock_ms: Callable[[], int] | None = None,
                 call_later: Callable[..., asyncio.TimerHandle] | None = None):
        self.manager = manager
        self.storage = manager.storage
        self.clock_ms = clock_ms or manager.clock_ms
        self._keyed = KeyedTimers(self.clock_ms, call_later, what="job update evaluation")
        self._updaters: dict[tuple, tuple[tuple, u.OneWayUpdater]] = {}   # job -> (update key, updater)
        self._pulses: dict[tuple, int] = {}                                # update key -> last pulse, ms
        self._queued: dict[tuple, list[tuple[int, object]]] = defaultdict(list)
        self._deleted: dict[str, tuple[tuple, int]] = {}   # PENDING task id killed (deleted) -> job, instance
        self._armed = False
        self.counters = {"update_evaluations": 0, "update_status_changes": 0}

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Promotion: resume every rolling update, in one write (nothing recorded, unless a coordinated one
        is blocked for want of a pulse)."""
        self._armed = True
        async with self.manager.transaction() as tx, self.storage.write() as w:
            for details in list(tx.store.job_updates.values()):
                status = details.update.summary.state.status if details.update.summary.state else None
                if status in (u.RF, u.RB):
                    log.info("Automatically resuming update %s",
                             configs.update_key_text(details.update.summary.key))
                    self._enter(tx, w, details.update.summary.key, status)

    async def stop(self) -> None:
        self._armed = False
        await self._keyed.stop()
        self._updaters.clear()
        self._queued.clear()

    async def idle(self) -> None:
        await self._keyed.idle()

    def vars(self) -> dict[str, int]:
        return {**self.counters, "update_active_updaters": len(self._updaters)}

    # -- what the API calls (each one write) -----------------------------------------------------------------
    async def start_update(self, prepare: Callable, message: str | None):
        """startJobUpdate: `prepare(store)` (inside the write) checks the request and returns the JobUpdate to
        start, or None (nothing to do); it may raise to refuse. Returns what `prepare` returned."""
        async with self.manager.transaction() as tx, self.storage.write() as w:
            update = prepare(tx.store)
            if update is None:
                return None
            key = update.summary.key
            w.save_job_update(update)
            # A coordinated update has had no pulse yet: its first event is already blocked, as in Aurora.
            status = u.BLOCKED_OF[u.RF] if _coordinated(update.instructions) else u.RF
            self._record(w, key, status, USER, message)
            self._enter(tx, w, key, status)
        return update

    async def change(self, key, transition: Callable[[int], int | None], message: str | None) -> None:
        """pause / resume / abort / rollback: `transition(status)` names the new status (one of the u.*_OF
        maps; None: no such change from this status). A coordinated update without a recent pulse resumes
        blocked. UpdateStateError if the update is unknown or the change is not allowed."""
        async with self.manager.transaction() as tx, self.storage.write() as w:
            details = self._details(tx.store, key)
            status = details.update.summary.state.status
            target = transition(status)
            if target is None:
                raise u.UpdateStateError(f"Cannot transition update from {u.name(status)} to null")
            self._change(tx, w, details, target, USER, message)

    async def pulse(self, key) -> int:
        """pulseJobUpdate: OK, unblocking a blocked update; FINISHED for an update that is not coordinated and
        active, or not stored at all (pruned): Aurora's PulseHandler knows only coordinated active updates."""
        ukey = update_key(key)
        details = self.storage.store.job_updates.get(ukey)
        if details is None:
            log.info("Not pulsing inactive job update: %s", configs.update_key_text(key))
            return JobUpdatePulseStatus.FINISHED
        status = details.update.summary.state.status
        if status not in u.ACTIVE or not _coordinated(details.update.instructions):
            return JobUpdatePulseStatus.FINISHED
        self._pulses[ukey] = self.clock_ms()
        if status in (u.RFAP, u.RBAP):
            async with self.manager.transaction() as tx, self.storage.write() as w:
                details = self._details(tx.store, key)
                self._change(tx, w, details, u.UNBLOCKED_OF[details.update.summary.state.status], None, None)
        elif status in (u.RF, u.RB):
            self._arm_pulse_timer(key, details.update)
        return JobUpdatePulseStatus.OK

    # -- task changes --------------------------------------------------------------------------------------
    def on_change(self, change: StateChange) -> None:
        """A committed task change: evaluate it if an update rolls that instance."""
        task = change.task
        if task is None:   # deleted: the change does not say whose it was; the previous status does not either
            return self._on_deleted(change)
        config = task.assignedTask.task
        job = job_key(config.job)
        entry = self._updaters.get(job)
        if entry is None or task.assignedTask.instanceId not in entry[1]:
            return
        self._queue(job, task.assignedTask.instanceId, task)

    def _on_deleted(self, change: StateChange) -> None:
        job_instance = self._deleted.pop(change.task_id, None)
        if job_instance is not None and job_instance[0] in self._updaters:
            self._queue(job_instance[0], job_instance[1], None)

    def _queue(self, job: tuple, instance_id: int, task) -> None:
        if not self._armed:
            return
        first = not self._queued[job]
        self._queued[job].append((instance_id, task))
        if first:
            self._keyed.spawn(self._drain(job))

    async def _drain(self, job: tuple) -> None:
        async with self.manager.transaction() as tx, self.storage.write() as w:
            changed = self._queued.pop(job, [])
            if changed and job in self._updaters:
                self._evaluate(tx, w, job, changed)

    def _reevaluate(self, job: tuple, instance_id: int) -> None:
        """A watch timer: evaluate the instance with its current active task."""
        if job in self._updaters:
            self._queue(job, instance_id, _active(self.storage.store, job, instance_id))

    # -- inside a write ------------------------------------------------------------------------------------
    def _change(self, tx, w, details, target: int, user: str | None, message: str | None) -> None:
        """Aurora's changeUpdateStatus: nothing if already there, else a checked transition."""
        status = details.update.summary.state.status
        if status == target:
            return
        u.check_transition(status, target)
        key = details.update.summary.key
        if target in (u.RF, u.RB) and self._pulse_expired(details.update):
            target = u.BLOCKED_OF[target]
        self._record(w, key, target, user, message)
        self._enter(tx, w, key, target)

    def _record(self, w, key, status: int, user: str | None, message: str | None) -> None:
        w.save_job_update_event(key, JobUpdateEvent(status=status, timestampMs=self.clock_ms(), user=user,
                                                    message=message))
        self.counters["update_status_changes"] += 1
        log.info("Update %s is now in state %s", configs.update_key_text(key), u.name(status))

    def _enter(self, tx, w, key, status: int) -> None:
        """The update is now `status`: build its updater and evaluate it (rolling), or drop it."""
        job = job_key(key.job)
        forward = u.rolling(status)
        self._keyed.cancel(("pulse", update_key(key)))
        if forward is None:
            self._updaters.pop(job, None)
            self._queued.pop(job, None)
            if status not in u.ACTIVE:
                self._pulses.pop(update_key(key), None)
            return
        update = tx.store.job_updates[update_key(key)].update
        if self._pulse_expired(update):   # resumed after failover, or the pulse ran out meanwhile
            return self._change(tx, w, tx.store.job_updates[update_key(key)], u.BLOCKED_OF[status], None, None)
        self._updaters[job] = (update_key(key), u.new_updater(update.instructions, forward))
        if _coordinated(update.instructions):
            self._arm_pulse_timer(key, update)
        self._evaluate(tx, w, job, [])

    def _evaluate(self, tx, w, job: tuple, changed: list[tuple[int, object]]) -> None:
        ukey, updater = self._updaters[job]
        details = tx.store.job_updates[ukey]
        update = details.update
        key = update.summary.key
        status = update.summary.state.status
        forward = u.rolling(status)
        if self._pulse_expired(update):
            return self._change(tx, w, details, u.BLOCKED_OF[status], None, None)
        self.counters["update_evaluations"] += 1
        now = self.clock_ms()
        result = updater.evaluate(changed, lambda i: _active(tx.store, job, i), now)
        done = u.instance_action(u.Progress.SUCCEEDED, forward)
        recorded = _last_actions(details.instanceEvents) if any(e.noop_success for e in result.effects.values()) \
            else {}
        for instance_id, effect in result.effects.items():   # the changed instances, then the next group
            if effect.noop_success and recorded.get(instance_id) in (None, done):
                continue
            for progress in effect.entered:
                w.save_job_instance_update_event(key, JobInstanceUpdateEvent(
                    instanceId=instance_id, timestampMs=now, action=u.instance_action(progress, forward)))
        if result.status == u.JobProgress.SUCCEEDED:
            return self._change(tx, w, details, u.U.ROLLED_FORWARD if forward else u.U.ROLLED_BACK, None, None)
        if result.status == u.JobProgress.FAILED:
            rollback = forward and update.instructions.settings.rollbackOnFailure
            return self._change(tx, w, details, u.RB if rollback else u.U.FAILED, None, None)
        for instance_id, effect in result.effects.items():
            self._act(tx, job, key, updater.instances[instance_id].desired, instance_id, effect.action)
        if result.batch_done:
            self._change(tx, w, details, u.PAUSED_OF[status], None, "Paused after a batch (autopause).")

    def _act(self, tx, job: tuple, key, desired, instance_id: int, action: u.Action) -> None:
        if action == u.Action.ADD:
            try:
                tx.insert_pending_tasks(desired, [instance_id])
            except InstanceCollision:
                log.warning("update %s: instance %d already has an active task", configs.update_key_text(key),
                            instance_id)
        elif action == u.Action.KILL:
            task = _active(tx.store, job, instance_id)
            if task is not None:
                task_id = task.assignedTask.taskId
                tx.change_state(task_id, ScheduleStatus.KILLING, f"Killed for job update {key.id}")
                if tx.store.tasks.get(task_id) is None:   # PENDING, THROTTLED: deleted at once
                    self._deleted[task_id] = (job, instance_id)
        elif action == u.Action.WATCH:
            task = _active(tx.store, job, instance_id)
            if task is not None:
                min_running = self._updaters[job][1].instances[instance_id].min_running_ms
                deadline = task.taskEvents[-1].timestamp + min_running
                self._keyed.at(("watch", job, instance_id), deadline, lambda: self._reevaluate(job, instance_id))

    # -- pulses --------------------------------------------------------------------------------------------
    def _pulse_expired(self, update) -> bool:
        instructions = update.instructions
        if not _coordinated(instructions):
            return False
        last = self._pulses.get(update_key(update.summary.key), 0)
        return self.clock_ms() - last >= instructions.settings.blockIfNoPulsesAfterMs

    def _arm_pulse_timer(self, key, update) -> None:
        deadline = self._pulses.get(update_key(key), 0) + update.instructions.settings.blockIfNoPulsesAfterMs
        self._keyed.at(("pulse", update_key(key)), deadline, lambda: self._keyed.spawn(self._pulse_due(key)))

    async def _pulse_due(self, key) -> None:
        async with self.manager.transaction() as tx, self.storage.write() as w:
            details = tx.store.job_updates.get(update_key(key))
            if details is None:
                return
            status = details.update.summary.state.status
            if status in (u.RF, u.RB) and self._pulse_expired(details.update):
                self._change(tx, w, details, u.BLOCKED_OF[status], None, None)

    @staticmethod
    def _details(store, key):
        details = store.job_updates.get(update_key(key))
        if details is None:
            raise u.UpdateStateError(f"Update does not exist: {configs.update_key_text(key)}")
        return details


def _coordinated(instructions) -> bool:
    return bool(instructions.settings.blockIfNoPulsesAfterMs)


def _active(store, job: tuple, instance_id: int):
    tasks = store.tasks.fetch(TaskQuery(jobKeys={JobKey(role=job[0], environment=job[1], name=job[2])},
                                        instanceIds={instance_id}, statuses=set(ACTIVE)))
    return tasks[0] if tasks else None


def _last_actions(events) -> dict[int, int]:
    last = {}
    for event in events or ():
        last[event.instanceId] = event.action
    return last

