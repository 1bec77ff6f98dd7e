"""Framework with a fake Driver (patched in) on DurableStorage over the in-memory log: the registration deadline
calls `fatal` naming -max_registration_delay; the framework id is saved once, only when new; offers save the
changed host attributes only, in one write, keeping the stored maintenance mode; an error from Mesos is fatal;
a disconnection forgets the offers; kills, rescinds, lost agents and status updates reach their parts."""
import asyncio

import pytest

from scheduler.framework import framework as framework_module
from scheduler.framework.framework import Framework
from scheduler.framework.placer import Placer
from scheduler.framework.settings import FrameworkSettings, MesosSettings, SchedulingSettings
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import World, offer, status, until
from thermos_executor.aurora_api.gen.ttypes import Attribute, HostAttributes, MaintenanceMode


class FakeDriver:
    instances: list["FakeDriver"] = []

    def __init__(self, master, framework_info, events, loop):
        self.master, self.framework_info, self.events = master, framework_info, events
        self.calls: list[tuple] = []
        self.started = self.stopped = False
        FakeDriver.instances.append(self)

    async def start(self):
        self.started = True

    async def stop(self):
        self.stopped = True

    async def accept(self, offer_id, tasks, refuse_seconds):
        self.calls.append(("accept", offer_id, [t["task_id"]["value"] for t in tasks], refuse_seconds))
        return True

    async def decline(self, offer_ids, refuse_seconds):
        self.calls.append(("decline", list(offer_ids), refuse_seconds))
        return True

    async def kill(self, task_id):
        self.calls.append(("kill", task_id))
        return True

    async def acknowledge(self, s):
        self.calls.append(("acknowledge", s["task_id"]["value"]))
        return True

    async def reconcile(self, task_ids):
        self.calls.append(("reconcile", list(task_ids)))
        return True


@pytest.fixture(autouse=True)
def fake_driver(monkeypatch):
    FakeDriver.instances.clear()
    monkeypatch.setattr(framework_module, "Driver", FakeDriver)


SETTINGS = MesosSettings(master_address="master:5050",
                         framework=FrameworkSettings(name="Aurora", role=None, registration_timeout=3600.0),
                         scheduling=SchedulingSettings(hold_offers_forever=True))


class Env:
    def __init__(self, settings=SETTINGS, world=None):
        self.world = world or World(on_change=lambda change: self.framework.on_change(change))
        self.fatal: list[str] = []
        self.registered_calls = 0
        placer = Placer(settings)
        self.framework = Framework(settings, self.world.storage, self.world.manager, master="master:5050",
                                   fatal=self.fatal.append, placer=placer, parse_offer=placer.parse_offer,
                                   on_registered=self._registered)

    def _registered(self):
        self.registered_calls += 1

    @property
    def driver(self) -> FakeDriver:
        return self.framework.driver

    async def start(self):
        if self.world.storage.state != "READY":
            await self.world.start()
        self.framework.start()
        await until(lambda: self.driver.started, what="the driver started")
        return self

    async def stop(self):
        await self.framework.stop()
        assert self.driver.stopped


def _save_ops(world, kind):
    return [op for e in world.entries() if e.transaction for op in e.transaction.ops if getattr(op, kind)]


def test_registration_deadline_is_fatal_naming_the_flag():
    async def scenario():
        settings = MesosSettings(framework=FrameworkSettings(registration_timeout=0.0))
        e = await Env(settings).start()
        await until(lambda: e.fatal, what="fatal")
        (message,) = e.fatal
        assert "-max_registration_delay" in message and "master:5050" in message and "\n" not in message
        assert message == ("framework has not been registered with Mesos at master:5050 within 0 s "
                           "(-max_registration_delay)")
        await e.stop()
    asyncio.run(scenario())


def test_no_fatal_once_registered_in_time():
    async def scenario():
        e = await Env().start()
        e.framework.on_registered("fw-1")
        await until(lambda: not e.framework._tasks, what="the deadline and the save to end")
        assert e.fatal == [] and e.framework.registered and e.registered_calls == 1
        assert e.framework.vars()["framework_registered"] == 1
        await e.stop()
    asyncio.run(scenario())


def test_a_driver_that_cannot_start_is_fatal(monkeypatch):
    async def broken_start(self):
        raise ConnectionError("ZooKeeper at zk1:2181 unreachable")
    monkeypatch.setattr(FakeDriver, "start", broken_start)

    async def scenario():
        e = Env()
        await e.world.start()
        e.framework.start()
        await until(lambda: e.fatal, what="fatal")
        assert e.fatal == ["cannot start the Mesos driver for master:5050: ZooKeeper at zk1:2181 unreachable"]
        await e.stop()
    asyncio.run(scenario())


def test_framework_id_saved_once_and_only_when_new():
    async def scenario():
        e = await Env().start()
        assert "id" not in e.driver.framework_info and e.driver.framework_info["checkpoint"] is True
        appends = e.world.log.appends
        e.framework.on_registered("fw-1")
        await until(lambda: e.world.storage.store.framework_id == "fw-1", what="the framework id saved")
        assert e.world.log.appends == appends + 1
        e.framework.on_reregistered()
        e.framework.on_registered("fw-1")          # pymesos re-subscribing with the same id: nothing to save
        await until(lambda: not e.framework._tasks)
        assert e.world.log.appends == appends + 1 and len(_save_ops(e.world, "saveFrameworkId")) == 1
        assert e.framework.vars()["framework_registrations"] == 2 and e.registered_calls == 3
        await e.stop()
        # the next leader subscribes with the saved id, and saves nothing when Mesos confirms it
        e2 = await Env(world=e.world).start()
        assert e2.driver.framework_info["id"] == {"value": "fw-1"}
        e2.framework.on_registered("fw-1")
        assert not any("_save_framework_id" in repr(t.get_coro()) for t in e2.framework._tasks)
        assert e.world.log.appends == appends + 1
        await e2.stop()
    asyncio.run(scenario())


def test_offers_save_changed_host_attributes_in_one_write_keeping_the_stored_mode():
    async def scenario():
        e = await Env().start()
        async with e.world.storage.write() as w:
            w.save_host_attributes(HostAttributes(host="host-1", mode=MaintenanceMode.DRAINING, slaveId="agent-1",
                                                  attributes={Attribute(name="rack", values={"a"})}))
            w.save_host_attributes(HostAttributes(host="host-3", mode=MaintenanceMode.SCHEDULED, slaveId="agent-3",
                                                  attributes={Attribute(name="rack", values={"old"})}))
        e.framework.on_registered("fw-1")
        await until(lambda: e.world.storage.store.framework_id == "fw-1")
        appends = e.world.log.appends
        e.framework.on_offers([offer("o1", "agent-1", "host-1", attributes={"rack": "a"}),      # unchanged
                               offer("o2", "agent-2", "host-2", attributes={"rack": "b"}),      # new host
                               offer("o3", "agent-3", "host-3", attributes={"rack": "c"})])     # changed
        await until(lambda: e.world.log.appends == appends + 1, what="one write")
        await until(lambda: not e.framework._tasks)
        assert e.world.log.appends == appends + 1
        (entry,) = e.world.entries()[-1:]
        saved = sorted(op.saveHostAttributes.hostAttributes.host for op in entry.transaction.ops)
        assert saved == ["host-2", "host-3"]
        stored = e.world.storage.store.host_attributes
        assert stored["host-1"].mode == MaintenanceMode.DRAINING
        assert stored["host-2"].mode == MaintenanceMode.NONE and stored["host-2"].slaveId == "agent-2"
        assert stored["host-3"].mode == MaintenanceMode.SCHEDULED
        assert stored["host-3"].attributes == {Attribute(name="rack", values={"c"})}
        assert len(e.framework.offers) == 3
        # the same offers again: nothing changed, nothing written
        e.framework.on_offers([offer("o4", "agent-2", "host-2", attributes={"rack": "b"})])
        await asyncio.sleep(0)
        assert e.world.log.appends == appends + 1 and not e.framework._tasks
        # an agent re-registered under a new id is a change
        e.framework.on_offers([offer("o5", "agent-2b", "host-2", attributes={"rack": "b"})])
        await until(lambda: e.world.storage.store.host_attributes["host-2"].slaveId == "agent-2b")
        await e.stop()
    asyncio.run(scenario())


def test_an_unusable_offer_is_declined_and_saves_nothing():
    async def scenario():
        e = await Env().start()
        bad = offer("o1")
        bad["resources"][0]["scalar"]["value"] = -1
        appends = e.world.log.appends
        e.framework.on_offers([bad])
        await until(lambda: e.driver.calls, what="the decline")
        assert e.driver.calls == [("decline", ["o1"], 5.0)]
        assert e.world.log.appends == appends and len(e.framework.offers) == 0
        await e.stop()
    asyncio.run(scenario())


def test_an_error_from_mesos_is_fatal():
    async def scenario():
        e = await Env().start()
        e.framework.on_error("Framework has been removed")
        assert e.fatal == ["Received error from Mesos: Framework has been removed"]
        await e.stop()
    asyncio.run(scenario())


def test_disconnected_forgets_offers_rescinds_and_lost_agents_too():
    async def scenario():
        e = await Env().start()
        e.framework.on_registered("fw-1")
        e.framework.on_offers([offer("o1", "agent-1", "host-1"), offer("o2", "agent-2", "host-2"),
                               offer("o3", "agent-3", "host-3"), offer("o4", "agent-4", "host-4")])
        assert len(e.framework.offers) == 4
        e.framework.on_rescinded("o1")
        e.framework.on_agent_lost("agent-3")
        assert [h.offer_id for h in e.framework.offers.held()] == ["o2", "o4"]
        e.framework.on_disconnected()
        assert len(e.framework.offers) == 0 and not e.framework.registered
        v = e.framework.vars()
        assert (v["framework_registered"], v["framework_disconnections"], v["slaves_lost"], v["offers_rescinded"]) \
            == (0, 1, 1, 1)
        e.framework.on_executor_lost("thermos-x", "agent-1", 1)
        assert e.framework.vars()["scheduler_lost_executors"] == 1
        await e.stop()
    asyncio.run(scenario())


def test_kills_and_status_updates_go_through_the_driver():
    async def scenario():
        e = await Env().start()
        e.framework.on_registered("fw-1")
        [task_id] = await e.world.insert()
        await e.world.assign(task_id)
        await e.world.change(task_id, S.KILLING)
        assert e.world.kills == [task_id]       # the manager's kill callback in the daemon is framework.kill
        e.framework.kill(task_id)
        await until(lambda: ("kill", task_id) in e.driver.calls, what="the kill")
        e.framework.on_status(status(task_id, "TASK_KILLED"))
        await until(lambda: ("acknowledge", task_id) in e.driver.calls, what="the acknowledgement")
        assert e.world.status(task_id) == S.KILLED
        await e.stop()
    asyncio.run(scenario())


def test_a_new_leader_asks_again_to_kill_what_storage_says_is_being_killed():
    """The previous leader's kill may never have reached Mesos (it died first): the new framework sends it."""
    async def scenario():
        world = World()
        await world.start()
        [killing, running] = await world.insert(instances=(0, 1))
        for task_id in (killing, running):
            await world.assign(task_id)
            await world.change(task_id, S.RUNNING)
        await world.change(killing, S.KILLING)
        e = await Env(world=world).start()
        await until(lambda: ("kill", killing) in e.driver.calls, what="the kill sent again")
        assert ("kill", running) not in e.driver.calls
        await e.stop()
    asyncio.run(scenario())


def test_stop_before_registration_stops_everything():
    async def scenario():
        e = await Env().start()
        await e.stop()
        assert e.fatal == [] and not e.framework._tasks
    asyncio.run(scenario())
