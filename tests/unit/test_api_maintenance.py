"""Host maintenance through a Thrift client built from our IDL, in both protocols, in process (protocol.call to
Handlers(SchedulerApi, MaintenanceApi) on a DurableStorage over the in-memory log): SCHEDULED, a drain that
kills and reschedules the host's tasks and ends DRAINED when the last one ends, an empty host DRAINED at once,
status of several hosts, NONE again, unknown hosts left out, bad input answered with one line, storage not
READY, a failed write, offers that must not undo a mode, the polling iteration (and its loop), and the hook's
bookkeeping."""
import asyncio
import logging

import pytest

from scheduler.api import client
from scheduler.api import protocol as wire
from scheduler.api.admin import Handlers
from scheduler.api.handlers import SchedulerApi
from scheduler.api.maintenance import (
    DRAINING_MESSAGE, NO_HOST_NAMES, NO_HOSTS, MaintenanceApi, MaintenanceController, offer_host_attributes)
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateChange, StateManager
from scheduler.state.status import ScheduleStatus as S
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Attribute, Hosts, HostStatus, Identity, JobKey, MaintenanceMode, ResponseCode, ScheduledTask,
    TaskConfig, TaskQuery)

OK, ERROR, TRANSIENT = ResponseCode.OK, ResponseCode.ERROR, ResponseCode.ERROR_TRANSIENT
NONE, SCHEDULED, DRAINING, DRAINED = (MaintenanceMode.NONE, MaintenanceMode.SCHEDULED, MaintenanceMode.DRAINING,
                                      MaintenanceMode.DRAINED)
SETTINGS = ApiSettings(cluster_name="devcluster")
KEY = JobKey(role="www", environment="prod", name="hello")
RACK = {Attribute(name="rack", values={"a"})}
NOW_MS = 1_700_000_000_000


def _task(i: int, host: str | None, status=S.RUNNING) -> ScheduledTask:
    config = TaskConfig(job=KEY, owner=Identity(user="alice"), isService=True, maxTaskFailures=1, priority=0)
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"task-{i}", instanceId=i, task=config, slaveHost=host,
                                                   slaveId=host and f"id-{host}", assignedPorts={}),
                         status=status, failureCount=0, timesPartitioned=0, taskEvents=[])


class Env:
    """A READY storage, a manager (kills recorded) whose changes reach the controller, the calls behind one
    handler, a client of it; the controller's spawned settles are kept to be awaited."""

    def __init__(self, protocol, start=True):
        self.loop = asyncio.new_event_loop()
        self.log = MemoryLog()
        self.storage = DurableStorage(self.log)
        self.kills = []
        self.spawned = []
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=lambda: NOW_MS, hostname="h",
                                    on_change=lambda change: self.controller.on_change(change))
        self.controller = MaintenanceController(self.manager, spawn=self._spawn)
        self.handler = Handlers(SchedulerApi(self.storage, self.manager, SETTINGS),
                                MaintenanceApi(self.controller, SETTINGS))
        self.client = client.client(self._send, protocol)
        if start:
            self.run(self.storage.prepare())
            self.run(self.storage.start())

    def _spawn(self, coro):
        self.spawned.append(self.loop.create_task(coro))

    def _send(self, body, content_type):
        reply = self.run(wire.call(self.handler, body, content_type, content_type))
        assert reply.status == 200
        return reply.body

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def settled(self) -> None:
        """Run every settle the hook spawned (and those they lead to) to its end."""
        while not all(t.done() for t in self.spawned):
            self.run(asyncio.gather(*self.spawned))

    def agents(self, *hosts: str) -> None:
        """Hosts known from offers (attributes saved with the mode unset, as the framework does)."""
        async def save():
            async with self.storage.write() as w:
                for host in hosts:
                    w.save_host_attributes(offer_host_attributes(host, f"id-{host}", RACK))
        self.run(save())

    def save(self, *tasks) -> None:
        async def save():
            async with self.storage.write() as w:
                w.save_tasks(tasks)
        self.run(save())

    def change(self, task_id: str, status: S, message: str | None = None):
        async def change():
            async with self.manager.transaction() as tx:
                return tx.change_state(task_id, status, message)
        result = self.run(change())
        self.settled()
        return result

    def mode(self, host: str):
        return self.storage.store.host_attributes[host].mode

    def task(self, task_id: str) -> ScheduledTask:
        return self.storage.store.tasks.get(task_id)

    def replayed(self) -> DurableStorage:
        storage = DurableStorage(self.log)
        self.run(storage.prepare())
        self.run(storage.start())
        return storage


@pytest.fixture(params=["binary", "json"])
def env(request):
    env = Env(request.param)
    yield env
    env.loop.close()


def _statuses(response, field: str) -> set:
    assert (response.responseCode, response.details) == (OK, []), response
    return set(getattr(response.result, field).statuses or ())


def _refused(response, code, message):
    assert (response.responseCode, [d.message for d in response.details]) == (code, [message]), response
    assert response.result is None


def _hosts(*names: str) -> Hosts:
    return Hosts(hostNames=set(names))


# ------------------------------------------------------------------ the four calls

def test_start_maintenance_schedules_known_hosts(env):
    env.agents("a1", "a2")
    statuses = _statuses(env.client.startMaintenance(_hosts("a1", "a2")), "startMaintenanceResult")
    assert statuses == {HostStatus("a1", SCHEDULED), HostStatus("a2", SCHEDULED)}
    assert env.mode("a1") == env.mode("a2") == SCHEDULED
    assert env.storage.store.host_attributes["a1"].attributes == RACK   # only the mode changed
    assert env.replayed().store.host_attributes["a1"].mode == SCHEDULED


def test_drain_kills_the_hosts_tasks_and_the_host_is_drained_when_the_last_ends(env):
    env.agents("a1", "a2")
    env.save(_task(0, "a1"), _task(1, "a1", S.STARTING), _task(2, "a2"), _task(3, None, S.PENDING))
    statuses = _statuses(env.client.drainHosts(_hosts("a1")), "drainHostsResult")
    assert statuses == {HostStatus("a1", DRAINING)}
    assert env.mode("a1") == DRAINING and env.mode("a2") == NONE
    for task_id in ("task-0", "task-1"):
        task = env.task(task_id)
        assert task.status == S.DRAINING
        assert (task.taskEvents[-1].status, task.taskEvents[-1].message) == (S.DRAINING, DRAINING_MESSAGE)
    assert sorted(env.kills) == ["task-0", "task-1"]
    assert env.task("task-2").status == S.RUNNING and env.task("task-3").status == S.PENDING
    request = env.storage.store.maintenance["a1"]
    assert (request.timeoutSecs, request.createdTimestampMs) == (0, NOW_MS)
    assert request.defaultSlaPolicy.percentageSlaPolicy.percentage == 0

    env.change("task-0", S.KILLED)
    replacement = env.storage.store.tasks.fetch(TaskQuery(instanceIds={0}, statuses={S.PENDING}))
    assert [t.ancestorId for t in replacement] == ["task-0"]
    assert replacement[0].assignedTask.slaveHost is None
    assert env.mode("a1") == DRAINING   # task-1 is still active on it
    assert "a1" in env.storage.store.maintenance

    env.change("task-1", S.KILLED)
    assert env.mode("a1") == DRAINED
    assert "a1" not in env.storage.store.maintenance
    status = _statuses(env.client.maintenanceStatus(_hosts("a1", "a2")), "maintenanceStatusResult")
    assert status == {HostStatus("a1", DRAINED), HostStatus("a2", NONE)}
    replayed = env.replayed().store
    assert replayed.host_attributes["a1"].mode == DRAINED and "a1" not in replayed.maintenance


def test_drain_of_a_host_without_active_tasks_is_drained_at_once(env):
    env.agents("a1", "a2")
    env.save(_task(0, "a1", S.FINISHED), _task(1, None, S.PENDING))
    statuses = _statuses(env.client.drainHosts(_hosts("a1", "a2")), "drainHostsResult")
    assert statuses == {HostStatus("a1", DRAINED), HostStatus("a2", DRAINED)}
    assert env.kills == [] and env.spawned == []
    assert env.task("task-1").status == S.PENDING


def test_end_maintenance_returns_hosts_to_none(env):
    env.agents("a1", "a2", "a3")
    env.save(_task(0, "a2"))
    env.client.startMaintenance(_hosts("a1"))
    env.client.drainHosts(_hosts("a2", "a3"))
    assert (env.mode("a1"), env.mode("a2"), env.mode("a3")) == (SCHEDULED, DRAINING, DRAINED)
    statuses = _statuses(env.client.endMaintenance(_hosts("a1", "a2", "a3")), "endMaintenanceResult")
    assert statuses == {HostStatus(h, NONE) for h in ("a1", "a2", "a3")}
    assert env.storage.store.maintenance == {}
    env.change("task-0", S.KILLED)   # a task ending on a host no longer DRAINING leaves it alone
    assert env.mode("a2") == NONE
    assert {h: a.mode for h, a in env.replayed().store.host_attributes.items()} == dict.fromkeys(
        ("a1", "a2", "a3"), NONE)


def test_status_of_several_hosts(env):
    env.agents("a1", "a2", "a3")
    env.client.startMaintenance(_hosts("a2"))
    env.client.drainHosts(_hosts("a3"))
    statuses = _statuses(env.client.maintenanceStatus(_hosts("a1", "a2", "a3", "ghost")), "maintenanceStatusResult")
    assert statuses == {HostStatus("a1", NONE), HostStatus("a2", SCHEDULED), HostStatus("a3", DRAINED)}
    assert _statuses(env.client.maintenanceStatus(_hosts("a2")), "maintenanceStatusResult") == {
        HostStatus("a2", SCHEDULED)}


def test_unknown_hosts_are_left_out_of_every_answer(env):
    env.agents("a1")
    for call, field in (("startMaintenance", "startMaintenanceResult"), ("drainHosts", "drainHostsResult"),
                        ("maintenanceStatus", "maintenanceStatusResult"), ("endMaintenance", "endMaintenanceResult")):
        assert _statuses(getattr(env.client, call)(_hosts("ghost")), field) == set(), call
    assert set(env.storage.store.host_attributes) == {"a1"}


def test_drain_records_a_request_for_unknown_hosts_too_and_end_removes_it(env):
    """Aurora records the forced drain's request for every host given; endMaintenance removes them all."""
    env.client.drainHosts(_hosts("ghost"))
    assert set(env.storage.store.maintenance) == {"ghost"}
    env.client.endMaintenance(_hosts("ghost"))
    assert env.storage.store.maintenance == {}


def test_a_task_on_an_unknown_host_is_drained_but_the_host_gets_no_mode(env):
    env.save(_task(0, "ghost"))
    assert _statuses(env.client.drainHosts(_hosts("ghost")), "drainHostsResult") == set()
    assert env.task("task-0").status == S.DRAINING and env.kills == ["task-0"]
    env.change("task-0", S.KILLED)
    assert "ghost" not in env.storage.store.host_attributes


# ------------------------------------------------------------------ bad input and failures

@pytest.mark.parametrize("call", ["startMaintenance", "drainHosts", "maintenanceStatus", "endMaintenance"])
def test_missing_hosts_are_refused_with_one_line(env, call):
    env.agents("a1")
    _refused(getattr(env.client, call)(None), ERROR, NO_HOSTS)
    _refused(getattr(env.client, call)(Hosts()), ERROR, NO_HOST_NAMES)
    assert env.mode("a1") == NONE and env.storage.store.maintenance == {}


@pytest.mark.parametrize("call, field", [("startMaintenance", "startMaintenanceResult"),
                                         ("drainHosts", "drainHostsResult"),
                                         ("maintenanceStatus", "maintenanceStatusResult"),
                                         ("endMaintenance", "endMaintenanceResult")])
def test_an_empty_set_of_hosts_is_ok_with_no_statuses(env, call, field):
    env.agents("a1")
    entries = len(env.log.entries)
    assert _statuses(getattr(env.client, call)(_hosts()), field) == set()
    assert len(env.log.entries) == entries   # nothing to write, nothing written


def test_storage_not_ready_is_transient():
    env = Env("binary", start=False)
    try:
        for call in ("startMaintenance", "drainHosts", "maintenanceStatus", "endMaintenance"):
            response = getattr(env.client, call)(_hosts("a1"))
            assert response.responseCode == TRANSIENT, (call, response)
            assert response.result is None
    finally:
        env.loop.close()


def test_a_failed_write_answers_error_and_changes_nothing(env):
    env.agents("a1")
    env.save(_task(0, "a1"))
    env.log.fail_next_append()
    response = env.client.drainHosts(_hosts("a1"))
    assert response.responseCode == ERROR
    assert response.details[0].message.startswith("the write failed and was undone in memory")
    assert env.mode("a1") == NONE and env.task("task-0").status == S.RUNNING
    assert env.kills == [] and env.storage.store.maintenance == {}


# ------------------------------------------------------------------ offers keep the mode

def test_offers_keep_the_stored_mode(env):
    env.agents("a1")
    env.client.drainHosts(_hosts("a1"))
    assert env.mode("a1") == DRAINED
    new_rack = {Attribute(name="rack", values={"b"})}

    async def offer_in_the_same_write_as_a_mode():
        async with env.storage.write() as w:   # coalesced by the recorder: the mode stays
            w.save_host_attributes(offer_host_attributes("a1", "id-a1", new_rack))
            w.save_host_attributes(offer_host_attributes("a2", "id-a2", RACK))
    env.run(offer_in_the_same_write_as_a_mode())
    stored = env.storage.store.host_attributes
    assert (stored["a1"].mode, stored["a1"].attributes, stored["a2"].mode) == (DRAINED, new_rack, NONE)
    replayed = env.replayed().store.host_attributes
    assert (replayed["a1"].mode, replayed["a1"].attributes, replayed["a2"].mode) == (DRAINED, new_rack, NONE)


def test_an_offer_saved_after_a_drain_in_one_write_keeps_draining(env):
    env.agents("a1")
    env.save(_task(0, "a1"))

    async def drain_then_offer():
        async with env.storage.write() as w:
            statuses = await env.controller.drain({"a1"})   # joins this write
            w.save_host_attributes(offer_host_attributes("a1", "id-a1", RACK))
        return statuses
    assert env.run(drain_then_offer()) == {HostStatus("a1", DRAINING)}
    assert env.mode("a1") == DRAINING
    assert env.replayed().store.host_attributes["a1"].mode == DRAINING


# ------------------------------------------------------------------ the hook and the polling iteration

def test_one_settle_for_many_tasks_ending_in_one_transaction(env):
    env.agents("a1", "a2")
    env.save(_task(0, "a1"), _task(1, "a1"), _task(2, "a2"))
    env.client.drainHosts(_hosts("a1", "a2"))

    async def all_killed():
        async with env.manager.transaction() as tx:
            for i in range(3):
                tx.change_state(f"task-{i}", S.KILLED)
    appends = env.log.appends
    env.run(all_killed())
    assert len(env.spawned) == 1
    env.settled()
    assert env.mode("a1") == env.mode("a2") == DRAINED
    assert env.log.appends == appends + 2   # the kills, then one settling write for both hosts


def test_the_hook_ignores_changes_that_cannot_empty_a_host(env):
    env.agents("a1")
    env.save(_task(0, "a1"))
    env.client.drainHosts(_hosts("a1"))
    task = env.task("task-0")
    env.controller.on_change(StateChange("task-0", S.RUNNING, S.DRAINING, task))  # not terminal
    env.controller.on_change(StateChange("task-0", S.KILLED, None, None))         # deleted
    env.controller.on_change(StateChange("task-9", S.PENDING, S.KILLED, _task(9, None, S.KILLED)))  # no host
    assert env.spawned == []


def test_a_killing_task_is_waited_for(env, caplog):
    """KILLING cannot become DRAINING (counted illegal, as in Aurora); the host drains when it ends."""
    env.agents("a1")
    env.save(_task(0, "a1", S.KILLING))
    with caplog.at_level(logging.WARNING):
        assert _statuses(env.client.drainHosts(_hosts("a1")), "drainHostsResult") == {HostStatus("a1", DRAINING)}
    assert env.manager.illegal_transitions == 1
    env.change("task-0", S.KILLED)
    assert env.mode("a1") == DRAINED
    assert env.storage.store.tasks.fetch(TaskQuery(statuses={S.PENDING})) == []   # KILLING is never rescheduled


def test_a_failed_settle_is_logged_and_poll_repairs_the_host(env, caplog):
    env.agents("a1")
    env.save(_task(0, "a1"))
    env.client.drainHosts(_hosts("a1"))

    async def killed_then_append_fails():
        async with env.manager.transaction() as tx:
            tx.change_state("task-0", S.KILLED)
        env.log.fail_next_append()   # the settle's write
    with caplog.at_level(logging.WARNING):
        env.run(killed_then_append_fails())
        env.settled()
    assert "could not settle draining hosts" in caplog.text
    assert env.mode("a1") == DRAINING
    assert env.run(env.controller.poll()) == {HostStatus("a1", DRAINED)}
    assert env.mode("a1") == DRAINED
    env.client.endMaintenance(_hosts("a1"))   # and the hook works again after a failure
    env.save(_task(5, "a1"))
    env.client.drainHosts(_hosts("a1"))
    env.change("task-5", S.KILLED)
    assert env.mode("a1") == DRAINED


def test_poll_drains_tasks_found_on_a_draining_host(env):
    env.agents("a1", "a2")
    env.client.startMaintenance(_hosts("a2"))
    env.client.drainHosts(_hosts("a1"))
    assert env.mode("a1") == DRAINED
    env.client.endMaintenance(_hosts("a1"))
    env.save(_task(0, "a1"))
    env.client.drainHosts(_hosts("a1"))
    env.save(_task(1, "a1", S.ASSIGNED))   # placed before the drain was seen
    assert env.run(env.controller.poll()) == set()
    assert env.task("task-1").status == S.DRAINING and env.kills == ["task-0", "task-1"]
    assert env.mode("a2") == SCHEDULED
    appends = env.log.appends
    assert env.run(env.controller.poll()) == set()
    assert env.log.appends == appends   # nothing changed: nothing written


def test_poll_forever_polls_every_interval_and_survives_a_failed_round(env, caplog):
    env.agents("a1")
    env.save(_task(0, "a1"))
    env.client.drainHosts(_hosts("a1"))
    sleeps = []

    async def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 1:   # the host empties behind the hook's back; the first round's write fails
            async with env.storage.write() as w:
                w.remove_tasks(["task-0"])
            env.log.fail_next_append()
        if len(sleeps) == 3:
            raise asyncio.CancelledError
    with caplog.at_level(logging.INFO), pytest.raises(asyncio.CancelledError):
        env.run(env.controller.poll_forever(60, sleep=sleep))
    assert sleeps == [60, 60, 60]
    assert "maintenance polling failed: the write failed" in caplog.text
    assert env.mode("a1") == DRAINED
    assert "Moved hosts into DRAINED: ['a1']" in caplog.text
