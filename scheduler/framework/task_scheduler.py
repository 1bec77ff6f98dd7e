"""`TaskScheduler`: places PENDING tasks on held offers, commits the assignments, then launches them.

Aurora's TaskGroups + TaskScheduler + TaskAssigner, on one loop:

* PENDING tasks are kept in groups of identical TaskConfig (the store's tasks at start, then every committed
  change, `on_change`). A group is due for an attempt `-first_schedule_delay` after a task of it becomes
  PENDING, or, for tasks found at start, after a random delay up to -max_reschedule_task_delay_on_startup.
* An attempt takes up to -max_tasks_per_schedule_attempt tasks of one group; up to -scheduling_max_batch_size
  due attempts run together as one round, rate-limited to -max_schedule_attempts_per_sec attempts. A round
  places tasks through `placer.round(offers, store)` (first fit in offer order, several tasks may share an
  offer while it has room; the vetoes feed the pending reasons), records every assignment in ONE storage write
  (host, agent id, ports, ASSIGNED), and only once that write has committed sends one ACCEPT per offer used.
  An offer is taken from `Offers` before the write, so it is never used twice.
* As Aurora's TaskGroups (`scheduling.backoff`): a group that placed some tasks tries the rest after
  -first_schedule_delay; one that placed none backs off (-initial_schedule_penalty doubling, with Aurora's
  jitter, up to -max_schedule_penalty). Attempts take permits of Aurora's rate limiter (bursty, 1 s stored).
* Preemption (Aurora's TaskSchedulerImpl with a Preemptor, see preemptor.py): a task a round could not place
  asks the preemptor, in the round's write, whether a slot found for its group still holds; if so the
  slot's victims become PREEMPTING and their agent is reserved for the group for -offer_reservation_duration
  (`reservations`, agent id -> group). While it is, that agent's offers are used by that group only; the
  reservation ends early once a task of the group leaves PENDING onto that agent. A group with no
  reservation asks the preemptor; one that has one waits for its agent.
* Rounds run only while there are held offers, or slots found for a group (their victims are preempted by a
  failed attempt, which needs no offer); new offers, new PENDING tasks and new slots wake the worker.
  Nothing polls: the worker sleeps on an event with the nearest due time as its timeout.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from thermos_executor.aurora_api.gen.ttypes import TaskQuery

from scheduler.api.state_manager import StateChange
from scheduler.state.status import ScheduleStatus as S

from scheduler.scheduling.backoff import GroupBackoff, GroupBackoffSettings, RateLimiter
from scheduler.scheduling.bicache import BiCache
from scheduler.scheduling.groups import TaskGroupKey

from .launcher import task_info
from .offers import Offers
from .settings import ExecutorSettings, SchedulingSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assignment:
    """A task placed on an offer, with the ports chosen from the offer's ranges."""
    task_id: str
    offer_id: str
    ports: dict = field(default_factory=dict)


@dataclass
class _Group:
    tasks: dict  # task id -> None: the group's PENDING tasks, in order
    due: float
    penalty: float = 0.0


class TaskScheduler:
    def __init__(self, storage, manager, offers: Offers, launch, placer, settings: SchedulingSettings,
                 executor: ExecutorSettings, *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, sleep=asyncio.sleep, backoff: GroupBackoff | None = None,
                 preemptor=None):
        """`launch(offer_id, task_infos)`: async ACCEPT; `placer.round(held_offers, store, reserved)` -> an
        object whose `place(tasks) -> list[Assignment]` places tasks of one group on what is left of the offers,
        skipping the agents `reserved` (agent id -> group) for another group; `preemptor`: None (disabled) or
        a `preemptor.Preemptor` (`has_slots(key)`, `attempt_preemption_for(tx, task)`); `clock`, `sleep` (the
        rate limit's wait) and `backoff` (jittered, as Aurora's) are injected by tests."""
        self.storage = storage
        self.manager = manager
        self.offers = offers
        self._launch = launch
        self.placer = placer
        self.settings = settings
        self.executor = executor
        self.clock = clock
        self.preemptor = preemptor
        self.reservations: BiCache[str, TaskGroupKey] = BiCache(settings.offer_reservation_duration, clock)
        self._rng = rng or random.Random()
        self._sleep_for = sleep
        self._groups: dict[TaskGroupKey, _Group] = {}
        self._group_of: dict[str, TaskGroupKey] = {}
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._launches: set[asyncio.Task] = set()
        self.backoff = backoff or GroupBackoff(GroupBackoffSettings(
            first_schedule_delay_ms=max(1, round(settings.first_schedule_delay * 1000)),
            initial_penalty_ms=round(settings.initial_schedule_penalty * 1000),
            max_penalty_ms=round(settings.max_schedule_penalty * 1000)), rng=self._rng)
        self._limiter = RateLimiter(settings.max_attempts_per_sec, clock())
        self.attempts = 0
        self.assigned = 0
        self.launch_failures = 0

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        now = self.clock()
        for task in self.storage.store.tasks.fetch(TaskQuery(statuses={S.PENDING})):
            self._add(task, now + self._rng.uniform(0, self.settings.startup_delay))
        self._worker = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._worker, *self._launches) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None

    def wake(self) -> None:
        self._wakeup.set()

    def on_change(self, change: StateChange) -> None:
        """Follow PENDING tasks (the state manager's change callback)."""
        self.placer.on_change(change)
        if change.previous == S.PENDING and change.task is not None and change.task.assignedTask.slaveId:
            assigned = change.task.assignedTask    # placed: its agent's reservation has served
            self.reservations.remove(assigned.slaveId, TaskGroupKey(assigned.task))
        if change.status == S.PENDING and change.task is not None:
            self._add(change.task, self.clock() + self.settings.first_schedule_delay)
            self.wake()
        elif change.previous == S.PENDING or change.status is None:
            self._remove(change.task_id)

    def vars(self) -> dict[str, int]:
        return {"schedule_attempts": self.attempts, "tasks_assigned": self.assigned,
                "pending_task_groups": len(self._groups), "task_launch_failures": self.launch_failures,
                "reservation_cache_size": len(self.reservations)}

    # -- groups --------------------------------------------------------------------------------------------
    def _add(self, task, due: float) -> None:
        task_id = task.assignedTask.taskId
        if task_id in self._group_of:
            return
        key = TaskGroupKey(task.assignedTask.task)     # the config's value hash, computed once
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group({}, due)
        elif group.penalty == 0:
            group.due = min(group.due, due)
        group.tasks[task_id] = None
        self._group_of[task_id] = key

    def _remove(self, task_id: str) -> None:
        key = self._group_of.pop(task_id, None)
        if key is None:
            return
        group = self._groups[key]
        group.tasks.pop(task_id, None)
        if not group.tasks:
            del self._groups[key]

    # -- the worker ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            now = self.clock()
            due = sorted((g.due, i, k) for i, (k, g) in enumerate(self._groups.items()) if g.due <= now)
            active = len(self.offers) or (self.preemptor is not None and self.preemptor.has_slots())
            if not due or not active:
                await self._sleep(self._next_due() if active else None)
                continue
            keys = [k for _, _, k in due[:self.settings.max_batch_size]]
            wait = self._limiter.reserve(now, len(keys))
            if wait > 0:
                await self._sleep_for(wait)
            try:
                await self._round(keys)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed write is fatal elsewhere; never kill the loop
                log.error("scheduling round failed: %s", e)
                for key in keys:
                    if key in self._groups:
                        self._next(self._groups[key], self.clock(), tried=True, placed=False)

    async def _sleep(self, until: float | None) -> None:
        self._wakeup.clear()
        timeout = None if until is None else max(0.0, until - self.clock())
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            pass

    def _next_due(self) -> float | None:
        return min((g.due for g in self._groups.values()), default=None)

    async def _round(self, keys: list) -> None:
        store = self.storage.store
        placing = self.placer.round(self.offers.held(), store, self.reservations.as_map())
        results: list[tuple[object, list, list[Assignment]]] = []
        for key in keys:
            group = self._groups[key]
            ids = list(group.tasks)[:self.settings.max_tasks_per_attempt]
            tasks = [t for t in (store.tasks.get(i) for i in ids) if t is not None and t.status == S.PENDING]
            self.attempts += 1
            results.append((key, tasks, placing.place(tasks) if tasks else []))
        assignments = [a for _, _, placed in results for a in placed]
        unplaced = self._preemption_candidates(results)
        launched = {}
        reserved: list[tuple[str, TaskGroupKey]] = []
        if assignments or unplaced:
            held = {offer_id: self.offers.take(offer_id) for offer_id in dict.fromkeys(a.offer_id for a in assignments)}
            assignments = [a for a in assignments if held[a.offer_id] is not None]
            async with self.manager.transaction() as tx:
                for a in assignments:
                    offer = held[a.offer_id]
                    task = tx.assign_task(a.task_id, offer.hostname, offer.agent_id, a.ports)
                    if task is not None:
                        launched.setdefault(a.offer_id, []).append(task)
                for key, tasks in unplaced:
                    for task in tasks:          # Aurora's maybePreemptFor, task by task, until one reserves
                        agent_id = self.preemptor.attempt_preemption_for(tx, task)
                        if agent_id is not None:
                            reserved.append((agent_id, key))
                            break
            for agent_id, key in reserved:      # committed: the agent now waits for the group's task
                self.reservations.put(agent_id, key)
            self.assigned += sum(len(v) for v in launched.values())
            for offer_id, tasks in launched.items():
                offer = held[offer_id]
                infos = [task_info(t, offer.agent_id, self.executor) for t in tasks]
                self._spawn_launch(offer_id, infos)
            # offers taken but not used after all (their tasks changed meanwhile) are declined
            unused = [i for i, h in held.items() if h is not None and i not in launched]
            for offer_id in unused:
                self._spawn_launch(offer_id, [])
        now = self.clock()
        for key, tried, placed in results:
            group = self._groups.get(key)
            if group is not None:
                self._next(group, now, tried=bool(tried), placed=bool(placed))

    def _preemption_candidates(self, results) -> list[tuple[TaskGroupKey, list]]:
        """Per group of the round: the tasks it could not place, when the group holds no reservation and the
        preemptor holds a slot for it (else asking would change nothing)."""
        if self.preemptor is None:
            return []
        out = []
        for key, tasks, placed in results:
            done = {a.task_id for a in placed}
            left = [t for t in tasks if t.assignedTask.taskId not in done]
            if left and not self.reservations.keys_of(key) and self.preemptor.has_slots(key):
                out.append((key, left))
        return out

    def _next(self, group: _Group, now: float, *, tried: bool, placed: bool) -> None:
        """Aurora's TaskGroups after an attempt: placed some -> the rest after -first_schedule_delay; placed
        none -> back off (truncated binary, jittered, from -initial_schedule_penalty to -max_schedule_penalty)."""
        penalty_ms = self.backoff.next_penalty_ms(round(group.penalty * 1000), attempted=tried, scheduled=placed,
                                                  more=True)
        group.penalty = penalty_ms / 1000
        group.due = now + group.penalty

    def _spawn_launch(self, offer_id: str, infos: list[dict]) -> None:
        task = asyncio.ensure_future(self._send_launch(offer_id, infos))
        self._launches.add(task)
        task.add_done_callback(self._launches.discard)

    async def _send_launch(self, offer_id: str, infos: list[dict]) -> None:
        # An ACCEPT with no operation is a DECLINE (pymesos); a failed one leaves the tasks ASSIGNED, for
        # the transient-state timeout and reconciliation to settle, as in Aurora.
        if not await self._launch(offer_id, infos):
            self.launch_failures += len(infos)
            log.warning("launch on offer %s of %s not sent", offer_id,
                        ", ".join(i["task_id"]["value"] for i in infos) or "nothing")
