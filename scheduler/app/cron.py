"""`CronTimers`: the leader fires cron jobs, each run exactly once across leader failover.

One TimerHandle per cron job, armed for its next run (scheduler.state.cron, -cron_timezone); nothing polls.
When a run is due, one transaction decides it (AuroraCronJob.doExecute's rules, `cron.on_collision`):

* no active task: the job's tasks are inserted PENDING and the run is recorded (the stored job's lastRunMs),
  in the same write;
* CANCEL_NEW (or a stored RUN_OVERLAP job): the run is skipped, and recorded as handled;
* KILL_EXISTING (the default): the active tasks are changed to KILLING ("Killed by cronScheduler"), nothing
  recorded. Their end is checked after -cron_start_initial_backoff, doubling up to -cron_start_max_backoff
  (Aurora's BackoffHelper); once none of them is active, one write inserts the new tasks and records the
  run. Runs that came due meanwhile are folded into it (it records the latest run due by then).

Exactly once: a run is recorded in the write that creates its tasks (or skips it), and `start` (promotion)
fires, once, the latest run that came due since the recorded one, so a new leader neither repeats a run the
previous one recorded nor loses one that came due while no scheduler led. A leader that dies between a
KILL_EXISTING kill and the launch recorded nothing: its successor kills again (a no-op) and launches.
Aurora's Quartz kept its triggers in memory only, so Aurora did not guarantee this (docs/decisions.md).

A run whose write fails (rolled back, nothing recorded) is tried again after -cron_start_initial_backoff.
startCronJob (`trigger`) runs the same rules at once but records nothing: the schedule's runs stay as they
were. The timers (one per job) and the runs they start are a `KeyedTimers` keyed by job key: deadlines in
the injected clock's ms, never early. `start` arms, `stop` cancels every timer and action and awaits them;
the daemon calls them on promotion and at teardown, so only the leader fires.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scheduler.api.state_manager import InstanceCollision, StateManager
from scheduler.state import cron
from scheduler.state.status import ACTIVE, ScheduleStatus
from thermos_executor.aurora_api import job_key

from .keyed_timers import KeyedTimers
from thermos_executor.aurora_api.gen.ttypes import TaskQuery

log = logging.getLogger(__name__)


@dataclass
class _Launch:
    """A KILL_EXISTING run waiting for the tasks it killed to end."""
    killed: set[str]
    scheduled: bool          # a run of the schedule (recorded at launch), not a startCronJob
    delays: Iterator[float]  # the waits between checks (cron.backoff_delays)


class CronTimers:
    """The leader's cron runs (see the module docstring)."""

    def __init__(self, manager: StateManager, *, tz, initial_backoff_s: float, max_backoff_s: float,
                 clock_ms: Callable[[], int] | None = None,
                 call_later: Callable[..., asyncio.TimerHandle] | None = None):
        self.manager = manager
        self.storage = manager.storage
        self.tz = tz
        self.initial_backoff_s, self.max_backoff_s = initial_backoff_s, max_backoff_s
        self.clock_ms = clock_ms or manager.clock_ms
        self._keyed = KeyedTimers(self.clock_ms, call_later, what="cron action")
        self._launches: dict[tuple, _Launch] = {}
        self._anchors: dict[tuple, int] = {}   # jobs stored without lastRunMs: counted from promotion
        self._armed = False
        self.counters = {"cron_job_triggers": 0, "cron_job_launches": 0, "cron_job_collisions": 0,
                         "cron_job_parse_failures": 0}

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Arm every stored cron job; a run that came due while no scheduler led fires now, once."""
        self._armed = True
        for key in list(self.storage.store.cron_jobs):
            self._arm(key)

    async def stop(self) -> None:
        self._armed = False
        await self._keyed.stop()

    async def idle(self) -> None:
        """Return once no action is running (tests)."""
        await self._keyed.idle()

    def vars(self) -> dict[str, int]:
        return dict(self.counters)

    # -- what the API calls --------------------------------------------------------------------------------
    def changed(self, key: tuple) -> None:
        """The job's template was saved or removed (committed): re-arm or forget it."""
        if self._armed:
            self._arm(key)

    def trigger(self, key: tuple) -> None:
        """startCronJob: run the job now (not recorded as a run of its schedule)."""
        if not self._armed:
            log.info("cron job %s not started: this scheduler is not leading", "/".join(key))
        elif key in self._launches:
            log.info("cron job %s is already waiting for its tasks to end; trigger ignored", "/".join(key))
        else:
            self._keyed.spawn(self._run(key, scheduled=False))

    def next_run_ms(self, job) -> int | None:
        try:
            return cron.parse(job.cronSchedule, self.tz).next_after(self.clock_ms())
        except cron.CronError:
            return None

    # -- arming --------------------------------------------------------------------------------------------
    def _arm(self, key: tuple) -> None:
        self._keyed.cancel(key)
        job = self.storage.store.cron_jobs.get(key)
        if job is None:
            self._anchors.pop(key, None)
            self._launches.pop(key, None)
            return
        if key in self._launches:
            return  # re-armed once the launch is done
        schedule = self._schedule(key, job)
        if schedule is None:
            return
        now = self.clock_ms()
        if cron.due_run(schedule, self._anchor(key, now), now) is not None:
            self._keyed.spawn(self._run(key, scheduled=True))
            return
        deadline = schedule.next_after(self._anchor(key, now))
        if deadline is not None:
            self._keyed.at(key, deadline, lambda: self._keyed.spawn(self._run(key, scheduled=True)))

    def _anchor(self, key: tuple, now: int) -> int:
        stored = self.storage.store.cron_last_run.get(key)
        return stored if stored is not None else self._anchors.setdefault(key, now)

    def _schedule(self, key: tuple, job) -> cron.Schedule | None:
        try:
            return cron.parse(job.cronSchedule, self.tz)
        except cron.CronError as e:
            self.counters["cron_job_parse_failures"] += 1
            log.warning("Invalid cron job for %s in storage - failed to parse with %s", "/".join(key), e)
            return None

    # -- runs: one transaction each ------------------------------------------------------------------------
    async def _run(self, key: tuple, scheduled: bool) -> None:
        name = "/".join(key)
        if scheduled:
            self._keyed.cancel(key)
        failed, pending = False, None
        try:
            async with self.manager.transaction() as tx, self.storage.write() as w:   # the inner write joins
                job = tx.store.cron_jobs.get(key)
                if job is None:
                    log.warning("Cron was triggered for %s but no job with that key was found in storage.", name)
                    return
                schedule = self._schedule(key, job)
                if schedule is None:
                    return
                now = self.clock_ms()
                due = cron.due_run(schedule, self._anchor(key, now), now) if scheduled else None
                if scheduled and due is None:
                    return  # not due (re-armed below)
                policy = cron.policy_or_default(job.cronCollisionPolicy)
                self.counters["cron_job_triggers"] += 1
                log.info("Cron triggered for %s with policy %s", name, policy)
                active = tx.store.tasks.fetch(TaskQuery(jobKeys={job.key}, statuses=set(ACTIVE)))
                decision = cron.on_collision(policy, len(active))
                if decision != cron.Collision.LAUNCH:
                    self.counters["cron_job_collisions"] += 1
                if decision == cron.Collision.LAUNCH:
                    self._insert(tx, job)
                elif decision == cron.Collision.KILL_THEN_LAUNCH:
                    for task in active:
                        tx.change_state(task.assignedTask.taskId, ScheduleStatus.KILLING, cron.KILL_AUDIT_MESSAGE)
                    pending = _Launch({t.assignedTask.taskId for t in active}, scheduled,
                                      cron.backoff_delays(self.initial_backoff_s, self.max_backoff_s))
                    log.info("Waiting for job to terminate before launching cron job %s.", name)
                if scheduled and decision != cron.Collision.KILL_THEN_LAUNCH:
                    w.save_cron_job(job, due)
            if pending is not None:
                self._launches[key] = pending   # committed: wait for the killed tasks to end
        except Exception:
            failed = True   # a failed write: try again after a pause, not in a tight loop
            raise
        finally:
            if failed:
                self._retry(key)
            else:
                self._after(key)

    async def _launch(self, key: tuple) -> None:
        launch = self._launches.get(key)
        if launch is None:
            return
        name = "/".join(key)
        failed = False
        try:
            async with self.manager.transaction() as tx, self.storage.write() as w:
                job = tx.store.cron_jobs.get(key)
                if job is None:
                    self._launches.pop(key, None)   # descheduled meanwhile: nothing to launch
                    return
                still = [i for i in launch.killed
                         if (t := tx.store.tasks.get(i)) is not None and ScheduleStatus(t.status) in ACTIVE]
                if still:
                    log.info("Not yet safe to run cron %s", name)
                    return
                log.info("Initiating delayed launch of cron %s", name)
                self._launches.pop(key, None)
                self._insert(tx, job)
                if launch.scheduled:
                    schedule = self._schedule(key, job)
                    now = self.clock_ms()
                    anchor = self._anchor(key, now)
                    due = cron.due_run(schedule, anchor, now) if schedule is not None else None
                    w.save_cron_job(job, due if due is not None else anchor)
        except Exception:
            failed = True   # a failed write: try again after a pause, not in a tight loop
            raise
        finally:
            if failed:
                self._retry(key)
            else:
                self._after(key)

    def _insert(self, tx, job) -> None:
        try:
            tx.insert_pending_tasks(job.taskConfig, range(job.instanceCount))
            self.counters["cron_job_launches"] += 1
        except InstanceCollision as e:
            log.warning("cron run of %s not launched: %s", "/".join(job_key(job.key)), e)

    def _after(self, key: tuple) -> None:
        """After a run or a launch attempt: wait for a pending launch, else arm the next run."""
        if not self._armed:
            return
        launch = self._launches.get(key)
        if launch is not None:
            self._keyed.after(key, next(launch.delays), lambda: self._keyed.spawn(self._launch(key)))
        else:
            self._arm(key)

    def _retry(self, key: tuple) -> None:
        if self._armed:
            self._keyed.after(key, self.initial_backoff_s, lambda: self._retry_due(key))

    def _retry_due(self, key: tuple) -> None:
        if key in self._launches:
            self._keyed.spawn(self._launch(key))
        else:
            self._arm(key)
