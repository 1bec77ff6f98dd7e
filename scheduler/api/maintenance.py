"""Host maintenance: Aurora's startMaintenance, drainHosts, maintenanceStatus and endMaintenance, and the
controller that moves a draining host to DRAINED (MaintenanceControllerImpl, SchedulerThriftInterface).

    maintenance = MaintenanceController(manager, spawn=owner_spawn)   # a StateManager; spawn(coro) owns a task
    handler = Handlers(SchedulerApi(...), AdminApi(...), MaintenanceApi(maintenance, settings))
    StateManager(..., on_change=...)       # must also call maintenance.on_change(change) for every change
    spawn(maintenance.poll_forever(60))    # after promotion: poll() every -host_maintenance_polling_interval

A host's maintenance mode is the `mode` of its HostAttributes (`store.host_attributes`), saved by the framework
from offers. What each call does, as Aurora 0.22 does it:

* Only **known hosts** (ones with stored attributes) change mode, and unknown hosts are left out of every
  answer: asking about an unknown host is not an error, its status is simply missing (Aurora's
  AttributeStore.Util.mergeMode; the admin client stops waiting for hosts the scheduler does not report).
* `startMaintenance`: mode SCHEDULED (offers of such hosts are used after others; they are not vetoed).
* `drainHosts`, one write: a HostMaintenanceRequest is recorded for every host given (known or not; Aurora's
  forced drain: a 0% SLA, timeout 0, created now); every active task on the host (by slaveHost; PENDING and
  THROTTLED tasks are on no host) is changed to DRAINING "Draining machine for maintenance.", so the state
  machine kills it and, once KILLED, reschedules it (a new PENDING task); a host without active tasks becomes
  DRAINED at once, the others DRAINING. Tasks the state machine cannot drain (KILLING, RESTARTING, PREEMPTING)
  are tried anyway and counted as illegal transitions, as Aurora does; the host waits for them to end.
  Unlike Aurora, a task's own slaPolicy is not consulted (there is no SLA manager yet): every task is drained
  at once, as Aurora does once the drain's zero timeout has passed.
* DRAINED: `on_change` notes the host of every task reaching a terminal state; a later write (Aurora's batch
  worker) moves each such host that is DRAINING and has no active task left to DRAINED and removes its
  maintenance request. The hook is called synchronously after a commit, so it only notes the host and hands
  `settle()` to the injected `spawn` (at most one running at a time, picking up hosts noted meanwhile).
  `poll()` is Aurora's polling iteration: every DRAINING host is drained again and, if empty, made DRAINED;
  it repairs a host left DRAINING by a crash between a task's end and the settling write.
* `maintenanceStatus`: the mode of each known host asked about (no write).
* `endMaintenance`: maintenance requests removed (every host given), mode NONE (known hosts).
* A missing `hosts` or `hosts.hostNames` is answered ERROR with one line (Aurora: a NullPointerException,
  answered ERROR by its LoggingInterceptor); an empty set is OK with no statuses. Other failures are
  answered as the Jobs API answers them (handlers.answered).

Offers must not undo a mode: the framework saves an offer's HostAttributes with `mode` unset
(`offer_host_attributes`), and the store and the transaction recorder keep the stored mode for an unset one
(NONE for a new host). Copying the mode read before the write instead could overwrite a drain that
committed in between.
"""
from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable

from scheduler.api import envelope
from scheduler.api.handlers import Refused, answered
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateChange, StateManager
from scheduler.state.status import ACTIVE, TERMINAL, ScheduleStatus
from thermos_executor.aurora_api.gen.ttypes import (
    DrainHostsResult, EndMaintenanceResult, HostAttributes, HostMaintenanceRequest, HostStatus, MaintenanceMode,
    MaintenanceStatusResult, PercentageSlaPolicy, ResponseCode, Result, SlaPolicy,
    StartMaintenanceResult, TaskQuery)

log = logging.getLogger(__name__)
Mode = MaintenanceMode

DRAINING_MESSAGE = "Draining machine for maintenance."
NO_HOSTS = "hosts must be set"
NO_HOST_NAMES = "hosts.hostNames must be set"
# The request drainHosts records: no SLA to wait for, and a timeout that has passed at once.
FORCED_DRAIN_SLA = SlaPolicy(percentageSlaPolicy=PercentageSlaPolicy(percentage=0.0, durationSecs=0))


def offer_host_attributes(host: str, slave_id: str, attributes: Iterable) -> HostAttributes:
    """The HostAttributes to save for an offer: its agent's attributes with `mode` unset, so that the write
    keeps the host's stored mode (NONE for a new host) whatever committed since the offer was read."""
    return HostAttributes(host=host, slaveId=slave_id, attributes=set(attributes), mode=None)


def mode_of(attributes: HostAttributes | None) -> int:
    """A host's mode; NONE for an unknown host or attributes saved without one."""
    return attributes.mode if attributes is not None and attributes.mode is not None else Mode.NONE


class MaintenanceController:
    """Maintenance modes of hosts, kept in storage (see the module docstring). Every method that writes is
    one storage write; `on_change` never writes itself, it hands `settle()` to `spawn`."""

    def __init__(self, manager: StateManager, *, spawn: Callable[[Coroutine], object]):
        """`spawn(coro)`: runs a coroutine as a task its owner cancels and awaits (the daemon's `_spawn`)."""
        self.manager = manager
        self.storage = manager.storage
        self._spawn = spawn
        self._noted: set[str] = set()   # hosts whose task ended, to check by settle()
        self._settling = False

    # -- the calls -----------------------------------------------------------------------------------------
    async def start_maintenance(self, hosts: set[str]) -> set[HostStatus]:
        async with self.storage.write() as w:
            return _set_mode(w, hosts, Mode.SCHEDULED)

    async def drain(self, hosts: set[str]) -> set[HostStatus]:
        now = self.manager.clock_ms()
        async with self.manager.transaction() as tx, self.storage.write() as w:   # the inner write joins
            for host in sorted(hosts):
                request = HostMaintenanceRequest(host=host, defaultSlaPolicy=FORCED_DRAIN_SLA, timeoutSecs=0,
                                                 createdTimestampMs=now)
                w.save_host_maintenance_request(request)
            log.info("Hosts to drain: %s", sorted(hosts))
            empty = {host for host in hosts if not _drain_tasks_on(tx, host)}
            return _set_mode(w, empty, Mode.DRAINED) | _set_mode(w, hosts - empty, Mode.DRAINING)

    def status(self, hosts: set[str]) -> set[HostStatus]:
        known = self.storage.store.host_attributes
        return {HostStatus(host=h, mode=mode_of(known[h])) for h in hosts if h in known}

    async def end_maintenance(self, hosts: set[str]) -> set[HostStatus]:
        async with self.storage.write() as w:
            for host in sorted(hosts):
                if host in w.store.maintenance:
                    w.remove_host_maintenance_request(host)
            return _set_mode(w, hosts, Mode.NONE)

    # -- DRAINING -> DRAINED -------------------------------------------------------------------------------
    def on_change(self, change: StateChange) -> None:
        """The StateManager's hook (called after a commit): note the host of a task that reached a terminal
        state, and have `settle()` run unless it is already running."""
        if change.status not in TERMINAL or change.task is None:
            return
        host = change.task.assignedTask.slaveHost
        if not host:
            return
        self._noted.add(host)
        if not self._settling:
            self._settling = True
            self._spawn(self.settle())

    async def settle(self) -> None:
        """Move every noted host that is DRAINING with no active task left to DRAINED (and remove its
        maintenance request), one write per round, until no host is noted. Failures are logged: `poll()`
        finds such a host again."""
        try:
            while self._noted:
                hosts, self._noted = self._noted, set()
                if not any(_emptied(self.storage.store, h) for h in hosts):
                    continue   # nothing to write: no empty write, no wait for the storage lock
                async with self.storage.write() as w:
                    for host in sorted(h for h in hosts if _emptied(w.store, h)):
                        log.info("Moving host %s into DRAINED", host)
                        _set_mode(w, {host}, Mode.DRAINED)
                        if host in w.store.maintenance:
                            w.remove_host_maintenance_request(host)
        except Exception as e:  # noqa: BLE001 - a hook's job: say it failed, poll() repairs it
            log.warning("could not settle draining hosts: %s", str(e) or type(e).__name__)
        finally:
            self._settling = False

    async def poll(self) -> set[HostStatus]:
        """Aurora's polling iteration, one write: drain the active tasks of every DRAINING host again and move
        the hosts with none to DRAINED. Returns the hosts made DRAINED."""
        async with self.manager.transaction() as tx, self.storage.write() as w:   # the inner write joins
            draining = [h for h, a in tx.store.host_attributes.items() if mode_of(a) == Mode.DRAINING]
            empty = {host for host in sorted(draining) if not _drain_tasks_on(tx, host)}
            return _set_mode(w, empty, Mode.DRAINED)

    async def poll_forever(self, interval_s: float, sleep: Callable[[float], Awaitable] = asyncio.sleep) -> None:
        """`poll()` every `interval_s` (Aurora's -host_maintenance_polling_interval, first after one interval),
        until cancelled; a failed round is logged and the next one tries again."""
        while True:
            await sleep(interval_s)
            try:
                drained = await self.poll()
            except Exception as e:  # noqa: BLE001 - the next round repairs what this one could not
                log.warning("maintenance polling failed: %s", str(e) or type(e).__name__)
            else:
                if drained:
                    log.info("Moved hosts into DRAINED: %s", sorted(s.host for s in drained))


class MaintenanceApi:
    """The four Thrift calls on a MaintenanceController, answered as Aurora answers them."""

    def __init__(self, controller: MaintenanceController, settings: ApiSettings):
        self.controller = controller
        self._storage = controller.storage   # for `answered`: ERROR_TRANSIENT while storage is not READY
        self.server_info = envelope.server_info(settings)

    @answered
    async def startMaintenance(self, hosts):
        statuses = await self.controller.start_maintenance(_host_names(hosts))
        return self._ok(Result(startMaintenanceResult=StartMaintenanceResult(statuses=statuses)))

    @answered
    async def drainHosts(self, hosts):
        statuses = await self.controller.drain(_host_names(hosts))
        return self._ok(Result(drainHostsResult=DrainHostsResult(statuses=statuses)))

    @answered
    async def maintenanceStatus(self, hosts):
        statuses = self.controller.status(_host_names(hosts))
        return self._ok(Result(maintenanceStatusResult=MaintenanceStatusResult(statuses=statuses)))

    @answered
    async def endMaintenance(self, hosts):
        statuses = await self.controller.end_maintenance(_host_names(hosts))
        return self._ok(Result(endMaintenanceResult=EndMaintenanceResult(statuses=statuses)))

    def _ok(self, result: Result):
        return envelope.ok(self.server_info, result)


def _host_names(hosts) -> set[str]:
    if hosts is None:
        raise Refused(ResponseCode.ERROR, NO_HOSTS)
    if hosts.hostNames is None:
        raise Refused(ResponseCode.ERROR, NO_HOST_NAMES)
    return set(hosts.hostNames)


def _set_mode(writer, hosts: Iterable[str], mode: int) -> set[HostStatus]:
    """Save `mode` for each known host (unknown ones are skipped); the statuses of the hosts saved."""
    statuses = set()
    for host in sorted(hosts):
        stored = writer.store.host_attributes.get(host)
        if stored is None:
            continue
        log.info("Setting maintenance mode to %s for host %s", Mode._VALUES_TO_NAMES[mode], host)
        attributes = copy.copy(stored)   # stored structs are shared: never mutated
        attributes.mode = mode
        writer.save_host_attributes(attributes)
        statuses.add(HostStatus(host=host, mode=mode))
    return statuses


def active_on(store, host: str) -> list:
    """The active tasks placed on `host`."""
    return store.tasks.fetch(TaskQuery(slaveHosts={host}, statuses=set(ACTIVE)))


def _drain_tasks_on(tx, host: str) -> list[str]:
    """Change every active task on `host` to DRAINING; the ids of the tasks found (empty: nothing to drain)."""
    task_ids = sorted(t.assignedTask.taskId for t in active_on(tx.store, host))
    if not task_ids:
        log.info("No tasks to drain on host: %s", host)
    for task_id in task_ids:
        tx.change_state(task_id, ScheduleStatus.DRAINING, DRAINING_MESSAGE)
    return task_ids


def _emptied(store, host: str) -> bool:
    """A DRAINING host with no active task left."""
    return mode_of(store.host_attributes.get(host)) == Mode.DRAINING and not active_on(store, host)
