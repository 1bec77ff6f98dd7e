"""TaskScheduler on the state manager over DurableStorage on the in-memory log, with a fake clock, a fake placer
and a fake launch: a round's assignments are ONE write, ACCEPTs go out only after it committed, one per offer with
every task placed on it; a group that placed nothing (or not all) backs off, -initial_schedule_penalty doubling to
-max_schedule_penalty; tasks leaving PENDING are forgotten; the rate limit; nothing runs without offers. And the
real Placer over parsed offers: 20 tasks of 1 cpu on 2 offers of 8 cpus -> 16 placed, several per offer, 4 left
with the pending reason "Insufficient: CPU"."""
import asyncio
import base64
import random

from scheduler.scheduling.backoff import GroupBackoff, GroupBackoffSettings

from scheduler.framework.offers import Offers
from scheduler.framework.placer import Placer
from scheduler.framework.settings import ExecutorSettings, MesosSettings, SchedulingSettings
from scheduler.framework.task_scheduler import Assignment, TaskScheduler
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import World, _config, offer, until
from tests.unit.test_state_manager import JOB
from thermos_executor.aurora_api.gen.ttypes import JobKey, Resource
from thermos_executor.executor import task_data

EXECUTOR = ExecutorSettings(path="/opt/thermos_executor")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakePlacer:
    """`capacity[offer_id]`: how many tasks (of any group) the offer takes this round, in offer order."""

    def __init__(self, capacity=None):
        self.capacity = capacity or {}
        self.rounds: list[tuple[float, list[str]]] = []   # (clock, offer ids) per round
        self.placed_calls: list[list[str]] = []
        self.clock = None

    def on_change(self, change):
        pass

    def round(self, held, store, reserved=None):
        self.rounds.append((self.clock(), [h.offer_id for h in held]))
        left = {h.offer_id: self.capacity.get(h.offer_id, 0) for h in held}
        placer = self

        class Round:
            def place(self, tasks):
                placer.placed_calls.append([t.assignedTask.taskId for t in tasks])
                out = []
                for t in tasks:
                    offer_id = next((o for o, n in left.items() if n > 0), None)
                    if offer_id is None:
                        break
                    left[offer_id] -= 1
                    out.append(Assignment(t.assignedTask.taskId, offer_id, {}))
                return out
        return Round()


class Gate:
    """An injected sleep: with `hold`, it returns when the test says so; without, it moves the fake clock on by
    the time asked and returns (the rate limit's tiny waits between rounds)."""

    def __init__(self, clock):
        self.clock = clock
        self.hold = False
        self.asked: list[float] = []
        self.future = None

    async def __call__(self, seconds):
        self.asked.append(seconds)
        if not self.hold:
            self.clock.now += seconds
            await asyncio.sleep(0)
            return
        self.future = asyncio.get_running_loop().create_future()
        await self.future

    def open(self):
        self.future.set_result(None)


class Env:
    def __init__(self, settings=None, capacity=None):
        self.settings = settings or SchedulingSettings(first_schedule_delay=0.0, startup_delay=0.0,
                                                       initial_schedule_penalty=1.0, max_schedule_penalty=5.0,
                                                       max_attempts_per_sec=1e9, hold_offers_forever=True)
        self.world = World(on_change=lambda change: self.sched.on_change(change))
        self.clock = Clock()
        self.placer = FakePlacer(capacity)
        self.placer.clock = self.clock
        self.launches: list[tuple[str, list[str], int, list]] = []
        self.offers = Offers(lambda raw: raw, self._decline, self.settings)
        self.gate = Gate(self.clock)
        self.sched = TaskScheduler(self.world.storage, self.world.manager, self.offers, self._launch, self.placer,
                                   self.settings, EXECUTOR, clock=self.clock, rng=random.Random(3),
                                   sleep=self.gate, backoff=GroupBackoff(GroupBackoffSettings(
                                       1, round(self.settings.initial_schedule_penalty * 1000),
                                       round(self.settings.max_schedule_penalty * 1000)), jitter=False))

    async def _decline(self, offer_ids, refuse_seconds):
        return True

    async def _launch(self, offer_id, infos):
        ids = [i["task_id"]["value"] for i in infos]
        self.launches.append((offer_id, ids, self.world.log.appends, [self.world.status(i) for i in ids]))
        return True

    def add_offers(self, *ids):
        for i in ids:
            self.offers.add(offer(i, agent=f"agent-{i}", host=f"host-{i}"))   # one offer per agent
        self.sched.wake()

    async def advance(self, seconds):
        self.clock.now += seconds
        self.sched.wake()
        await asyncio.sleep(0)


async def _start(env, tasks=5, config=None):
    await env.world.start()
    ids = await env.world.insert(config, instances=range(tasks)) if tasks else []
    env.sched.start()
    return ids


def test_one_write_per_round_and_one_accept_per_offer_after_the_commit():
    async def scenario():
        e = Env(capacity={"o1": 3, "o2": 2})
        ids = await _start(e, tasks=5)
        other = await e.world.insert(_config(job=JobKey(role="www", environment="prod", name="other")), [0])
        appends = e.world.log.appends
        e.add_offers("o1", "o2")
        await until(lambda: len(e.launches) == 2, what="two ACCEPTs")
        assert len(e.placer.rounds) == 1
        assert e.world.log.appends == appends + 1           # both groups' assignments: one write
        # group of 5 first (due first): o1 takes 3, o2 takes 2; the other group got no room and backs off
        by_offer = {o: (tids, after, statuses) for o, tids, after, statuses in e.launches}
        assert by_offer["o1"][0] == ids[:3] and by_offer["o2"][0] == ids[3:]
        for tids, after, statuses in by_offer.values():
            assert after == appends + 1 and statuses == [S.ASSIGNED] * len(tids)   # ACCEPT after the commit
        assert e.world.status(other[0]) == S.PENDING
        assert len(e.offers) == 0                          # both offers taken
        task = e.world.storage.store.tasks.get(ids[0])
        assert (task.assignedTask.slaveHost, task.assignedTask.slaveId) == ("host-o1", "agent-o1")
        assert e.sched.vars()["tasks_assigned"] == 5 and e.sched.vars()["pending_task_groups"] == 1
        await e.sched.stop()
    asyncio.run(scenario())


def test_the_accept_carries_task_infos_of_the_assigned_tasks():
    async def scenario():
        e = Env(capacity={"o1": 2})
        infos = []

        async def launch(offer_id, task_infos):
            infos.extend(task_infos)
            return True
        e.sched._launch = launch
        ids = await _start(e, tasks=2)
        e.add_offers("o1")
        await until(lambda: len(infos) == 2)
        decoded = [task_data.decode(base64.b64decode(i["data"])) for i in infos]
        assert [d.taskId for d in decoded] == ids and all(d.slaveHost == "host-o1" for d in decoded)
        assert all(i["agent_id"] == {"value": "agent-o1"} for i in infos)
        await e.sched.stop()
    asyncio.run(scenario())


def test_a_group_that_placed_nothing_backs_off_doubling_to_the_max():
    async def scenario():
        e = Env(capacity={})
        await _start(e, tasks=1)
        e.add_offers("o1")
        penalties = []
        for rounds, expected in enumerate((1.0, 2.0, 4.0, 5.0, 5.0)):
            await until(lambda n=rounds + 1: len(e.placer.rounds) == n, what="a round")
            (group,) = e.sched._groups.values()
            await until(lambda g=group, p=expected: g.penalty == p, what=f"penalty {expected}")
            penalties.append(group.penalty)
            assert group.due == e.clock.now + expected
            await e.advance(expected - 0.01)             # not yet due: no round
            await asyncio.sleep(0)
            assert len(e.placer.rounds) == rounds + 1
            await e.advance(0.01)
        assert penalties == [1.0, 2.0, 4.0, 5.0, 5.0]
        assert e.sched.vars()["schedule_attempts"] == 6 and e.launches == []
        assert len(e.offers) == 1                         # an offer nothing was placed on stays held
        await e.sched.stop()
    asyncio.run(scenario())


def test_a_group_that_placed_some_tries_the_rest_after_the_first_schedule_delay():
    async def scenario():
        settings = SchedulingSettings(first_schedule_delay=0.0, startup_delay=0.0, max_tasks_per_attempt=2,
                                      initial_schedule_penalty=1.0, max_schedule_penalty=5.0,
                                      max_attempts_per_sec=1e9, hold_offers_forever=True)
        e = Env(settings=settings, capacity={"o1": 2, "o2": 1})
        ids = await _start(e, tasks=5)
        e.add_offers("o1")
        await until(lambda: len(e.launches) == 1)       # 2 of 5 placed: the rest after -first_schedule_delay...
        (group,) = e.sched._groups.values()
        assert group.penalty == 0.001 and group.due == e.clock.now + 0.001
        e.add_offers("o2")                              # ...and takes what the next offer has
        await e.advance(0.001)
        await until(lambda: len(e.launches) == 2)
        assert group.penalty == 0.001                   # 1 of 2 placed: still some, so no back-off (Aurora)
        assert [launch[1] for launch in e.launches] == [ids[:2], ids[2:3]]
        await e.sched.stop()
    asyncio.run(scenario())


def test_tasks_leaving_pending_are_forgotten():
    async def scenario():
        e = Env(capacity={})
        ids = await _start(e, tasks=2)
        assert e.sched.vars()["pending_task_groups"] == 1
        await e.world.change(ids[0], S.KILLING)          # a PENDING task killed is deleted
        assert e.world.status(ids[0]) is None and e.sched.vars()["pending_task_groups"] == 1
        await e.world.change(ids[1], S.KILLING)
        assert e.sched.vars()["pending_task_groups"] == 0 and e.sched._group_of == {}
        e.add_offers("o1")
        await asyncio.sleep(0)
        assert e.placer.rounds == []
        await e.sched.stop()
    asyncio.run(scenario())


def test_a_task_assigned_elsewhere_meanwhile_is_not_launched_twice():
    async def scenario():
        e = Env(capacity={"o1": 5})
        ids = await _start(e, tasks=1)
        await e.world.assign(ids[0], "elsewhere", "agent-9")
        assert e.sched.vars()["pending_task_groups"] == 0
        e.add_offers("o1")
        await asyncio.sleep(0)
        assert e.placer.rounds == [] and e.launches == []
        await e.sched.stop()
    asyncio.run(scenario())


def test_nothing_runs_without_offers():
    async def scenario():
        e = Env(capacity={"o1": 5})
        await _start(e, tasks=3)
        await e.advance(1000)
        for _ in range(10):
            await asyncio.sleep(0)
        assert e.placer.rounds == [] and e.sched.vars()["schedule_attempts"] == 0
        e.add_offers("o1")
        await until(lambda: len(e.launches) == 1)
        assert len(e.placer.rounds) == 1
        await e.sched.stop()
    asyncio.run(scenario())


def test_the_rate_limit_spaces_attempts():
    async def scenario():
        settings = SchedulingSettings(first_schedule_delay=0.0, startup_delay=0.0, max_batch_size=1,
                                      max_attempts_per_sec=2.0, hold_offers_forever=True)
        e = Env(settings=settings, capacity={"o1": 1, "o2": 1, "o3": 1})
        e.gate.hold = True
        a = await _start(e, tasks=1)
        b = await e.world.insert(_config(job=JobKey(role="www", environment="prod", name="b")), [0])
        c = await e.world.insert(_config(job=JobKey(role="www", environment="prod", name="c")), [0])
        e.add_offers("o1", "o2", "o3")
        await until(lambda: e.gate.asked, what="the rate limit's wait")
        assert len(e.placer.rounds) == 1 and e.gate.asked == [0.5]   # one attempt per 1/2 s
        await e.advance(0.5)
        e.gate.open()
        await until(lambda: len(e.placer.rounds) == 2 and len(e.gate.asked) == 2)
        assert e.gate.asked == [0.5, 0.5]
        await e.advance(0.5)
        e.gate.open()
        await until(lambda: len(e.launches) == 3)
        assert sorted(ids for _, ids, _, _ in e.launches) == sorted([a, b, c])
        assert [t for t, _ in e.placer.rounds] == [100.0, 100.5, 101.0]
        await e.sched.stop()
    asyncio.run(scenario())


async def _real_placer_round(cpus_per_offer):
    """20 PENDING tasks of 1 cpu (no executor overhead) and 2 offers of `cpus_per_offer`, through the real Placer;
    returns (launches by offer, the tasks still PENDING, the group's pending reason, log appends of the round)."""
    settings = MesosSettings(executor=ExecutorSettings(path="/opt/thermos_executor", cpus=0.0, ram_mb=0),
                             scheduling=SchedulingSettings(first_schedule_delay=0.0, startup_delay=0.0,
                                                           max_tasks_per_attempt=20, max_attempts_per_sec=1e9,
                                                           hold_offers_forever=True))
    clock = Clock()
    placer = Placer(settings, rng=random.Random(5), wall=lambda: 1_700_000_000.0, monotonic=clock)
    world = World(on_change=lambda change: sched.on_change(change))
    launches = {}

    async def launch(offer_id, infos):
        launches[offer_id] = [i["task_id"]["value"] for i in infos]
        return True

    async def decline(offer_ids, refuse_seconds):
        return True
    offers = Offers(placer.parse_offer, decline, settings.scheduling)
    sched = TaskScheduler(world.storage, world.manager, offers, launch, placer, settings.scheduling,
                          settings.executor, clock=clock, rng=random.Random(3))
    await world.start()
    config = _config()
    config.resources = {Resource(numCpus=1.0), Resource(ramMb=64), Resource(diskMb=64)}
    ids = await world.insert(config, range(20))
    sched.start()
    appends = world.log.appends
    offers.add(offer("o1", agent="a1", host="h1", cpus=cpus_per_offer))
    offers.add(offer("o2", agent="a2", host="h2", cpus=cpus_per_offer))
    sched.wake()
    await until(lambda: len(launches) == 2, what="two ACCEPTs")
    pending = [i for i in ids if world.status(i) == S.PENDING]
    hosts = {world.storage.store.tasks.get(i).assignedTask.slaveHost for i in ids if i not in pending}
    assert hosts == {"h1", "h2"} and config.job == JOB
    reason = placer.pending_reason(config)
    await sched.stop()
    return launches, pending, reason, world.log.appends - appends


def test_the_real_placer_packs_several_tasks_per_offer_and_gives_the_pending_reason():
    launches, pending, reason, writes = asyncio.run(_real_placer_round(8.5))
    assert sorted(len(v) for v in launches.values()) == [8, 8] and writes == 1
    assert len(pending) == 4
    # vetoed on what was left of the offers (0.5 cpu each), and kept although tasks of the group were assigned
    assert reason == "Insufficient: CPU"


def test_offers_used_up_are_not_judged_so_no_pending_reason():
    launches, pending, reason, writes = asyncio.run(_real_placer_round(8.0))
    assert sorted(len(v) for v in launches.values()) == [8, 8] and len(pending) == 4
    # what is left of each offer has no cpu: skipped unjudged, as Aurora skips offers without cpu and mem
    assert reason == ""
