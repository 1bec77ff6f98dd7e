"""The Preemptor (PendingTaskProcessor + PreemptorImpl) and the task scheduler's reservations, on the state manager
over DurableStorage on the in-memory log with fake clocks: a slot is found only for a task PENDING for
-preemption_delay, one agent per search, with Aurora's counters; a slot still valid moves its victims to
PREEMPTING ("Preempting in favor of ...") in the caller's write, one no longer valid is dropped; a reserved
agent's offers go to its group only, until a task of the group is placed there; and the whole path through the
TaskScheduler with the real Placer: a round without offers preempts, reserves, and the freed agent takes the
preempting task, not the victim's replacement. -enable_preemptor=false makes no Preemptor."""
import asyncio
import dataclasses
import random

from thermos_executor.aurora_api.gen.ttypes import HostAttributes, JobKey, MaintenanceMode, Resource, TaskQuery

from scheduler.api.settings import DEFAULT_TIERS
from scheduler.framework.framework import Framework
from scheduler.framework.offers import Offers
from scheduler.framework.placer import Placer
from scheduler.framework.preemptor import Preemptor, tier_of
from scheduler.framework.settings import (ExecutorSettings, MesosSettings, PreemptorSettings,
                                          SchedulingSettings)
from scheduler.framework.task_scheduler import TaskScheduler
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.resources import ResourceBag
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import World, _config, offer, until

DELAY = 180.0
SCHEDULING = SchedulingSettings(first_schedule_delay=0.0, startup_delay=0.0, max_attempts_per_sec=1e9,
                                hold_offers_forever=True, offer_reservation_duration=180.0)
PREEMPTOR = PreemptorSettings(delay=DELAY, slot_hold_time=300.0)
SETTINGS = MesosSettings(executor=ExecutorSettings(path="/opt/thermos_executor", cpus=0.0, ram_mb=0),
                         scheduling=SCHEDULING, preemptor=PREEMPTOR)


def config(name: str, cpus: float, *, tier: str, role: str = "www", priority: int = 0):
    c = _config(service=True, job=JobKey(role=role, environment="prod", name=name))
    c.resources = {Resource(numCpus=cpus), Resource(ramMb=64), Resource(diskMb=64)}
    c.tier, c.production, c.priority = tier, tier == "preferred", priority
    return c


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Env:
    """Storage, offers, a Preemptor and a TaskScheduler with the real Placer; `advance` moves both the monotonic
    clock and the state manager's wall clock (task events) on."""

    def __init__(self, preemptor=True):
        self.world = World(on_change=lambda change: self.sched.on_change(change))
        self.clock = Clock()
        self.launches: dict[str, list[str]] = {}
        self.placer = Placer(SETTINGS, rng=random.Random(5), wall=self.wall, monotonic=self.clock)
        self.offers = Offers(self.placer.parse_offer, self._decline, SCHEDULING)
        self.preemptor = Preemptor(self.world.storage, self.offers, PREEMPTOR, tiers=DEFAULT_TIERS,
                                   overhead=ResourceBag(), unavailability_threshold=360.0, clock=self.clock,
                                   wall=self.wall, on_slots=lambda: self.sched.wake()) if preemptor else None
        self.sched = TaskScheduler(self.world.storage, self.world.manager, self.offers, self._launch, self.placer,
                                   SCHEDULING, SETTINGS.executor, clock=self.clock, rng=random.Random(3),
                                   preemptor=self.preemptor)

    def wall(self) -> float:
        return self.world.clock.now / 1000

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.world.clock.now += int(seconds * 1000)

    async def _decline(self, offer_ids, refuse_seconds):
        return True

    async def _launch(self, offer_id, infos):
        self.launches[offer_id] = [i["task_id"]["value"] for i in infos]
        return True

    async def start(self):
        await self.world.start()
        for i in (1, 2):
            await self.host(f"host-{i}", f"agent-{i}")

    async def host(self, host: str, agent: str, mode=None):
        async with self.world.storage.write() as w:
            w.save_host_attributes(HostAttributes(host=host, slaveId=agent, attributes=set(), mode=mode))

    async def running(self, config, agent: str = "agent-1", host: str = "host-1") -> str:
        (task_id,) = await self.world.insert(config, [0])
        await self.world.assign(task_id, host=host, agent=agent)
        await self.world.change(task_id, S.RUNNING)
        return task_id

    def pending_of(self, job_name: str) -> list[str]:
        tasks = self.world.storage.store.tasks.fetch(TaskQuery(statuses={S.PENDING}))
        return [t.assignedTask.taskId for t in tasks if t.assignedTask.task.job.name == job_name]

    def add_offer(self, offer_id: str, agent="agent-1", host="host-1", cpus=4.0):
        self.offers.add(offer(offer_id, agent=agent, host=host, cpus=cpus, mem=1024, disk=1024))
        self.sched.wake()


def run(scenario):
    asyncio.run(scenario())


def slots(env):
    held = env.preemptor.slots.as_map().items()
    return [(tuple(v.task_id for v in p.victims), p.agent_id, str(key)) for p, key in held]


def test_a_slot_is_found_only_once_the_task_has_been_pending_for_the_delay():
    async def scenario():
        e = Env()
        await e.start()
        victim = await e.running(config("batch", 4.0, tier="preemptible"))
        await e.world.insert(config("web", 2.0, tier="preferred"), [0])
        e.advance(DELAY - 1)
        assert e.preemptor.search() == 0 and slots(e) == []
        e.advance(1)
        assert e.preemptor.search() == 1
        assert slots(e) == [((victim,), "agent-1", "www/prod/web")]
        # a group with a slot is not searched for again while the slot lives
        assert e.preemptor.search() == 0
        v = e.preemptor.vars()
        assert v["preemptor_task_processor_runs"] == 3 and v["preemption_slot_cache_size"] == 1
        assert v["preemptor_slot_search_attempts_for_prod"] == 1
        assert v["preemptor_slot_search_successful_for_prod"] == 1
        e.advance(PREEMPTOR.slot_hold_time)
        assert slots(e) == [] and e.preemptor.vars()["preemption_slot_cache_size"] == 0
    run(scenario)


def test_a_valid_slot_preempts_its_victims_in_the_callers_write():
    async def scenario():
        e = Env()
        await e.start()
        victim = await e.running(config("batch", 4.0, tier="preemptible"))
        other = await e.running(config("small", 1.0, tier="preemptible"), agent="agent-2", host="host-2")
        (web,) = await e.world.insert(config("web", 2.0, tier="preferred"), [0])
        e.advance(DELAY)
        e.preemptor.search()
        task = e.world.storage.store.tasks.get(web)
        async with e.world.manager.transaction() as tx:
            assert e.preemptor.attempt_preemption_for(tx, task) == "agent-1"
        assert e.world.status(victim) == S.PREEMPTING and e.world.status(other) == S.RUNNING
        stored = e.world.storage.store.tasks.get(victim)
        assert stored.taskEvents[-1].message == f"Preempting in favor of {web}"
        assert e.world.kills == [victim]
        v = e.preemptor.vars()
        assert (v["preemptor_slot_validation_successful"], v["preemptor_tasks_preempted_non_prod"]) == (1, 1)
        # the slot is used up
        async with e.world.manager.transaction() as tx:
            assert e.preemptor.attempt_preemption_for(tx, task) is None
    run(scenario)


def test_a_slot_no_longer_valid_is_dropped_and_preempts_nothing():
    async def scenario():
        e = Env()
        await e.start()
        victim = await e.running(config("batch", 4.0, tier="preemptible"))
        (web,) = await e.world.insert(config("web", 2.0, tier="preferred"), [0])
        e.advance(DELAY)
        assert e.preemptor.search() == 1
        await e.host("host-1", "agent-1", mode=MaintenanceMode.DRAINING)
        async with e.world.manager.transaction() as tx:
            assert e.preemptor.attempt_preemption_for(tx, e.world.storage.store.tasks.get(web)) is None
        assert e.world.status(victim) == S.RUNNING and e.world.kills == []
        assert e.preemptor.vars()["preemptor_slot_validation_failed"] == 1 and not e.preemptor.has_slots()
    run(scenario)


def test_one_agent_per_search_and_no_slot_among_equals():
    async def scenario():
        e = Env()
        await e.start()
        await e.running(config("batch", 4.0, tier="preemptible"))
        await e.world.insert(config("web", 2.0, tier="preferred"), [0])
        await e.world.insert(config("api", 2.0, tier="preferred"), [0])
        # another role's preemptible task may not preempt a preemptible one, whatever its priority
        await e.world.insert(config("greedy", 1.0, tier="preemptible", role="other", priority=9), [0])
        e.advance(DELAY)
        assert e.preemptor.search() == 1          # agent-1 goes to the first group; the others find none
        v = e.preemptor.vars()
        assert v["preemptor_unmatched_tasks"] == 2 and v["preemptor_slot_search_attempts_for_non_prod"] == 1
        assert [agent for _, agent, _ in slots(e)] == ["agent-1"]
    run(scenario)


def test_an_agent_whose_host_attributes_are_not_stored_gives_no_slot():
    async def scenario():
        e = Env()
        await e.start()
        await e.running(config("batch", 4.0, tier="preemptible"), agent="agent-9", host="host-9")
        await e.world.insert(config("web", 2.0, tier="preferred"), [0])
        e.advance(DELAY)
        assert e.preemptor.search() == 0
        assert e.preemptor.vars()["preemptor_missing_attributes"] == 1
    run(scenario)


def test_the_preemption_sequence_interleaves_batches_of_each_group():
    async def scenario():
        e = Env()
        await e.start()
        await e.running(config("batch", 4.0, tier="preemptible"))
        g1, g2 = config("g1", 8.0, tier="preferred"), config("g2", 8.0, tier="preferred")
        await e.world.insert(g1, range(3))
        await e.world.insert(g2, range(2))
        e.advance(DELAY)
        e.preemptor.settings = PreemptorSettings(delay=DELAY, reservation_batch_size=2)
        names = [str(k).split("/")[-1] for k in e.preemptor._idle_groups(e.world.storage.store)]
        assert names == ["g1", "g1", "g2", "g2", "g1"]
    run(scenario)


def test_tiers_decide_preemptibility_and_an_unknown_tier_follows_production():
    tiers = DEFAULT_TIERS.by_name
    assert tier_of(config("a", 1, tier="preemptible"), tiers).preemptible
    assert not tier_of(config("a", 1, tier="preferred"), tiers).preemptible
    assert tier_of(config("a", 1, tier="revocable"), tiers).revocable
    gone = config("a", 1, tier="gold")
    gone.production = True
    assert not tier_of(gone, tiers).preemptible


def test_a_reserved_agent_is_used_only_by_its_group_until_a_task_of_it_lands_there():
    async def scenario():
        e = Env(preemptor=False)
        await e.start()
        web = config("web", 1.0, tier="preferred")
        e.sched.reservations.put("agent-1", TaskGroupKey(web))
        e.sched.start()
        (batch,) = await e.world.insert(config("batch", 1.0, tier="preemptible"), [0])
        e.add_offer("o1")
        await until(lambda: e.sched.attempts >= 1, what="an attempt of the batch group")
        await asyncio.sleep(0)
        assert e.launches == {} and e.world.status(batch) == S.PENDING
        assert e.placer.pending_reason(config("batch", 1.0, tier="preemptible")) == ""    # skipped, no veto
        (w,) = await e.world.insert(web, [0])
        await until(lambda: "o1" in e.launches, what="the web task on the reserved agent")
        assert w in e.launches["o1"] and batch not in e.launches["o1"]
        assert e.sched.reservations.as_map() == {} and e.sched.vars()["reservation_cache_size"] == 0
        e.advance(SCHEDULING.max_schedule_penalty)      # past the batch group's backoff
        e.add_offer("o2")
        await until(lambda: "o2" in e.launches, what="the batch task once the reservation is over")
        assert e.launches["o2"] == [batch]
        await e.sched.stop()
    run(scenario)


def test_a_reservation_expires_after_the_offer_reservation_duration():
    async def scenario():
        e = Env(preemptor=False)
        await e.start()
        e.sched.reservations.put("agent-1", TaskGroupKey(config("web", 1.0, tier="preferred")))
        e.advance(SCHEDULING.offer_reservation_duration)
        e.sched.start()
        (batch,) = await e.world.insert(config("batch", 1.0, tier="preemptible"), [0])
        e.add_offer("o1")
        await until(lambda: "o1" in e.launches, what="the batch task on the agent no longer reserved")
        assert e.launches["o1"] == [batch]
        await e.sched.stop()
    run(scenario)


def test_an_unplaced_task_preempts_without_offers_and_the_freed_agent_takes_it():
    async def scenario():
        e = Env()
        await e.start()
        victim = await e.running(config("batch", 4.0, tier="preemptible"))
        (web,) = await e.world.insert(config("web", 3.0, tier="preferred"), [0])
        e.sched.start()
        e.advance(DELAY)
        assert e.preemptor.search() == 1
        e.sched.wake()
        await until(lambda: e.world.status(victim) == S.PREEMPTING, what="the victim PREEMPTING")
        group = TaskGroupKey(e.world.storage.store.tasks.get(web).assignedTask.task)
        assert e.sched.reservations.as_map() == {"agent-1": group}
        # the kill lands: KILLED, and the victim's replacement is PENDING beside the preempting task
        await e.world.change(victim, S.KILLED)
        (replacement,) = e.pending_of("batch")
        # the agent's resources come back (after the web group's backoff); only the reserved group may use them
        e.advance(SCHEDULING.max_schedule_penalty)
        e.add_offer("o1", cpus=4.0)
        await until(lambda: "o1" in e.launches, what="the preempting task launched")
        assert e.launches["o1"] == [web] and e.world.status(replacement) == S.PENDING
        assert e.sched.reservations.as_map() == {}
        await e.sched.stop()
    run(scenario)


def test_without_a_preemptor_a_task_that_does_not_fit_just_waits():
    async def scenario():
        e = Env(preemptor=False)
        await e.start()
        victim = await e.running(config("batch", 4.0, tier="preemptible"))
        (web,) = await e.world.insert(config("web", 3.0, tier="preferred"), [0])
        e.sched.start()
        e.advance(DELAY)
        e.add_offer("o1", cpus=1.0)
        await until(lambda: e.sched.attempts >= 1, what="an attempt")
        for _ in range(5):
            await asyncio.sleep(0)
        assert e.world.status(victim) == S.RUNNING and e.world.status(web) == S.PENDING
        await e.sched.stop()
    run(scenario)


def test_enable_preemptor_false_makes_no_preemptor():
    world = World()
    placer = Placer(SETTINGS)
    on = Framework(SETTINGS, world.storage, world.manager, master="m:5050", fatal=print, placer=placer,
                   parse_offer=placer.parse_offer)
    assert isinstance(on.preemptor, Preemptor) and on.placement.preemptor is on.preemptor
    assert "preemptor_tasks_preempted_prod" in on.vars() and "reservation_cache_size" in on.vars()
    off_settings = dataclasses.replace(SETTINGS, preemptor=PreemptorSettings(enabled=False))
    off = Framework(off_settings, world.storage, world.manager, master="m:5050", fatal=print, placer=placer,
                    parse_offer=placer.parse_offer)
    assert off.preemptor is None and off.placement.preemptor is None
    assert "preemptor_task_processor_runs" not in off.vars()
