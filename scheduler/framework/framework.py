"""`Framework`: the leading scheduler's Mesos framework, from registration to every event Mesos sends.

The daemon creates one on promotion, after storage has been replayed, and `start`s it: the driver subscribes
with the framework ID saved in storage (so a new leader fails over the same framework, and its tasks keep
running), and the framework must be registered within -max_registration_delay or `fatal` is called.
Then, on the loop:

* registered: the framework ID is saved (one write, only when new); placement, reconciliation, the
  preemptor's slot search (unless -enable_preemptor=false) and the kill path start working; `registered` is
  1 (`framework_registered` in /vars).
* offers: held by `Offers` (unusable ones declined), the agents' attributes saved to storage when they change
  (one write per OFFERS event; the stored maintenance mode is kept), and placement woken.
* rescinds, lost agents, disconnections: the offers concerned are forgotten (pymesos reconnects by itself).
* status updates: `StatusUpdates` (batched, acknowledged after commit).
* error: Mesos refused the framework (e.g. removed): `fatal`, as Aurora exits.

`kill(task_id)` is the state manager's kill callback. At `start`, every task stored in a killing state is
killed again: the previous leader may have died before its kill reached Mesos (ours, beyond Aurora, which
left such tasks to reconciliation and the transient-state timeout). `stop` stops everything and disconnects without
tearing the framework down.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from scheduler.api.settings import DEFAULT_TIERS, Tiers
from scheduler.scheduling.offers import host_attributes
from scheduler.scheduling.resources import executor_overhead
from thermos_executor.aurora_api.gen.ttypes import HostAttributes

from .driver import Driver
from .kills import KILLING_STATES, Kills
from .offers import Offers
from .preemptor import Preemptor
from .reconciler import Reconciler
from .settings import MesosSettings
from .status_updates import StatusUpdates
from .task_scheduler import TaskScheduler

log = logging.getLogger(__name__)


class Framework:
    def __init__(self, settings: MesosSettings, storage, manager, *, master: str, fatal: Callable[[str], None],
                 placer, parse_offer: Callable[[dict], object], on_registered: Callable[[], None] = lambda: None,
                 tiers: Tiers = DEFAULT_TIERS):
        """`master`: the address pymesos is given (host:port or zk://...); `placer`: placement rules for the
        TaskScheduler (see task_scheduler.py); `parse_offer`: raises ValueError for an unusable offer;
        `tiers`: -tier_config's, which decide who may preempt whom."""
        self.settings = settings
        self.storage = storage
        self.manager = manager
        self.master = master
        self.fatal = fatal
        self._on_registered_callback = on_registered
        self.driver: Driver | None = None
        self.registered = False
        self.framework_id: str | None = None
        self.offers = Offers(parse_offer, self._decline, settings.scheduling)
        self.updates = StatusUpdates(manager, self._acknowledge, max_batch_size=settings.max_status_update_batch_size)
        self.kills = Kills(self._send_kill, self._status_of, initial_interval=settings.kill_retry_interval,
                           max_interval=settings.transient_task_state_timeout)
        self.preemptor = None
        if settings.preemptor.enabled:
            self.preemptor = Preemptor(storage, self.offers, settings.preemptor, tiers=tiers,
                                       overhead=executor_overhead(settings.executor.cpus, settings.executor.ram_mb),
                                       unavailability_threshold=settings.scheduling.unavailability_threshold,
                                       on_slots=lambda: self.placement.wake())
        self.placement = TaskScheduler(storage, manager, self.offers, self.launch, placer, settings.scheduling,
                                       settings.executor, preemptor=self.preemptor)
        self.reconciler = Reconciler(lambda: self.storage.store, self._reconcile, settings.reconciliation)
        self._registered_event = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        self.counters = {"slaves_lost": 0, "scheduler_lost_executors": 0, "framework_registrations": 0,
                         "framework_disconnections": 0}

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        framework_id = self.storage.store.framework_id
        info = self.settings.framework.framework_info(framework_id)
        log.info("Registering with Mesos at %s as framework %r (%s)", self.master, info["name"],
                 f"failing over {framework_id}" if framework_id else "a new framework")
        self.driver = Driver(self.master, info, self, loop)
        self.updates.start()
        # Kills the previous leader asked for may never have reached Mesos: ask again (a kill is idempotent).
        for task in self.storage.store.tasks:
            if task.status in KILLING_STATES:
                self.kills.kill(task.assignedTask.taskId)
        self._spawn(self._start_driver())
        self._spawn(self._registration_deadline())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started:
            await self.placement.stop()
            if self.preemptor is not None:
                await self.preemptor.stop()
        await self.reconciler.stop()
        await self.kills.stop()
        await self.updates.stop()
        await self.offers.stop()
        if self.driver is not None:
            await self.driver.stop()

    def vars(self) -> dict[str, int]:
        v = {"framework_registered": int(self.registered), **self.counters}
        for part in (self.offers, self.placement, self.updates, self.kills, self.reconciler, self.preemptor):
            if part is not None:
                v.update(part.vars())
        return v

    # -- what the rest of the scheduler calls --------------------------------------------------------------
    def kill(self, task_id: str) -> None:
        """The state manager's kill callback."""
        self.kills.kill(task_id)

    def on_change(self, change) -> None:
        """The state manager's change callback."""
        self.placement.on_change(change)

    async def launch(self, offer_id: str, task_infos: list[dict]) -> bool:
        return await self.driver.accept(offer_id, task_infos, self.settings.scheduling.offer_filter_duration)

    # -- driver events (on the loop) -----------------------------------------------------------------------
    def on_registered(self, framework_id: str) -> None:
        self.counters["framework_registrations"] += 1
        self.framework_id = framework_id
        log.info("Registered with Mesos as framework %s", framework_id)
        if self.storage.store.framework_id != framework_id:
            self._spawn(self._save_framework_id(framework_id))
        self._on_registered()

    def on_reregistered(self) -> None:
        log.info("Re-registered with Mesos as framework %s", self.framework_id)
        self._on_registered()

    def on_disconnected(self) -> None:
        self.counters["framework_disconnections"] += 1
        self.registered = False
        self.offers.clear()
        log.warning("Disconnected from the Mesos master; pymesos reconnects")

    def on_rescinded(self, offer_id: str) -> None:
        self.offers.rescind(offer_id)

    def on_status(self, status: dict) -> None:
        self.updates.add(status)

    def on_agent_lost(self, agent_id: str) -> None:
        self.counters["slaves_lost"] += 1
        self.offers.agent_lost(agent_id)

    def on_executor_lost(self, executor_id: str, agent_id: str, status) -> None:
        self.counters["scheduler_lost_executors"] += 1

    def on_error(self, message: str) -> None:
        self.fatal(f"Received error from Mesos: {message}")

    # -- internals -----------------------------------------------------------------------------------------
    def _on_registered(self) -> None:
        self.registered = True
        self._registered_event.set()
        self._on_registered_callback()
        if not self._started:
            self._started = True
            self.placement.start()
            self.reconciler.start()
            if self.preemptor is not None:
                self.preemptor.start()

    async def _start_driver(self) -> None:
        try:
            await self.driver.start()
        except Exception as e:  # noqa: BLE001 - e.g. ZooKeeper of a zk:// address unreachable
            self.fatal(f"cannot start the Mesos driver for {self.master}: {str(e) or type(e).__name__}")

    async def _registration_deadline(self) -> None:
        timeout = self.settings.framework.registration_timeout
        try:
            await asyncio.wait_for(self._registered_event.wait(), timeout)
        except TimeoutError:
            self.fatal(f"framework has not been registered with Mesos at {self.master} within {timeout:g} s "
                       "(-max_registration_delay)")

    async def _save_framework_id(self, framework_id: str) -> None:
        async with self.storage.write() as w:
            w.save_framework_id(framework_id)

    def on_offers(self, offers: list[dict]) -> None:
        held = [h for h in (self.offers.add(raw) for raw in offers) if h is not None]
        changed = [a for a in (host_attributes(h.parsed) for h in held) if self._attributes_changed(a)]
        if changed:
            self._spawn(self._save_attributes(changed))
        if held:
            self.placement.wake()

    def _attributes_changed(self, attributes: HostAttributes) -> bool:
        stored = self.storage.store.host_attributes.get(attributes.host)
        return stored is None or stored.slaveId != attributes.slaveId or stored.attributes != attributes.attributes

    async def _save_attributes(self, changed: list[HostAttributes]) -> None:
        async with self.storage.write() as w:
            for attributes in changed:
                w.save_host_attributes(attributes)

    async def _decline(self, offer_ids: list[str], refuse_seconds: float) -> bool:
        return await self.driver.decline(offer_ids, refuse_seconds)

    async def _acknowledge(self, status: dict) -> bool:
        return await self.driver.acknowledge(status)

    async def _send_kill(self, task_id: str) -> bool:
        if self.driver is None:
            return False
        return await self.driver.kill(task_id)

    async def _reconcile(self, task_ids: list[str]) -> bool:
        return await self.driver.reconcile(task_ids)

    def _status_of(self, task_id: str):
        task = self.storage.store.tasks.get(task_id)
        return None if task is None else task.status

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

