"""Reconciler with an injected sleep over a real store: explicit reconciliation sends the ids of the tasks on an
agent (SLAVE_ASSIGNED states) in batches, the batch interval between them; implicit sends []; trigger_explicit(None)
uses -reconciliation_explicit_batch_size; the schedule (initial delay, spread, intervals); a failed round does not
end reconciliation."""
import asyncio

from scheduler.framework.reconciler import Reconciler
from scheduler.framework.settings import ReconciliationSettings
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import World, until

SETTINGS = ReconciliationSettings(initial_delay=60.0, explicit_interval=3600.0, implicit_interval=1800.0,
                                  schedule_spread=900.0, explicit_batch_size=3, explicit_batch_interval=5.0)


class Recorder:
    """The injected sleep and reconcile: one timeline of ("sleep", s) and ("reconcile", ids) events. Sleeps
    return at once unless `hold`; held ones wait for `release`."""

    def __init__(self, hold=False, fail=False):
        self.events: list[tuple[str, object]] = []
        self.hold, self.fail = hold, fail
        self.held: list[asyncio.Future] = []

    async def sleep(self, seconds):
        self.events.append(("sleep", seconds))
        if self.hold:
            future = asyncio.get_running_loop().create_future()
            self.held.append(future)
            await future
        else:
            await asyncio.sleep(0)

    async def reconcile(self, task_ids):
        self.events.append(("reconcile", list(task_ids)))
        if self.fail:
            raise RuntimeError("master unreachable")
        return True

    def release(self):
        for future in self.held:
            if not future.done():
                future.set_result(None)


async def _world_with_tasks():
    """Tasks in PENDING, ASSIGNED, STARTING, RUNNING x3, KILLING and FINISHED: 6 are on an agent."""
    w = await World().start()
    ids = await w.insert(instances=range(8))
    for task_id in ids[1:]:
        await w.assign(task_id)
    await w.change(ids[2], S.STARTING)
    for task_id in ids[3:6]:
        await w.change(task_id, S.STARTING)
        await w.change(task_id, S.RUNNING)
    await w.change(ids[6], S.KILLING)
    await w.change(ids[7], S.STARTING)
    await w.change(ids[7], S.FINISHED)
    return w, ids


def test_explicit_sends_agent_tasks_in_batches_with_the_interval_between():
    async def scenario():
        w, ids = await _world_with_tasks()
        r = Recorder()
        reconciler = Reconciler(lambda: w.storage.store, r.reconcile, SETTINGS, sleep=r.sleep)
        await reconciler.explicit(4)
        on_agent = sorted(ids[1:7])
        assert r.events == [("reconcile", on_agent[:4]), ("sleep", 5.0), ("reconcile", on_agent[4:])]
        r.events.clear()
        await reconciler.explicit(10)
        assert r.events == [("reconcile", on_agent)]
        assert reconciler.vars()["reconciliation_explicit_runs"] == 2
    asyncio.run(scenario())


def test_explicit_with_no_task_on_an_agent_sends_nothing():
    async def scenario():
        w = await World().start()
        await w.insert(instances=range(2))              # PENDING only
        r = Recorder()
        await Reconciler(lambda: w.storage.store, r.reconcile, SETTINGS, sleep=r.sleep).explicit(3)
        assert r.events == []
    asyncio.run(scenario())


def test_implicit_sends_an_empty_list():
    async def scenario():
        w, _ = await _world_with_tasks()
        r = Recorder()
        reconciler = Reconciler(lambda: w.storage.store, r.reconcile, SETTINGS, sleep=r.sleep)
        await reconciler.implicit()
        assert r.events == [("reconcile", [])] and reconciler.vars()["reconciliation_implicit_runs"] == 1
    asyncio.run(scenario())


def test_trigger_explicit_none_uses_the_flags_batch_size_and_a_given_one_otherwise():
    async def scenario():
        w, ids = await _world_with_tasks()
        r = Recorder()
        reconciler = Reconciler(lambda: w.storage.store, r.reconcile, SETTINGS, sleep=r.sleep)
        reconciler.trigger_explicit(None)
        await until(lambda: len([e for e in r.events if e[0] == "reconcile"]) == 2, what="two batches")
        assert [len(ids) for kind, ids in r.events if kind == "reconcile"] == [3, 3]    # the flag's 3
        r.events.clear()
        reconciler.trigger_explicit(6)
        await until(lambda: r.events)
        assert [len(ids) for kind, ids in r.events if kind == "reconcile"] == [6]
        r.events.clear()
        reconciler.trigger_implicit()
        await until(lambda: r.events)
        assert r.events == [("reconcile", [])]
        await reconciler.stop()
    asyncio.run(scenario())


def test_the_schedule_and_a_failed_round_does_not_end_it():
    async def scenario():
        w, ids = await _world_with_tasks()
        r = Recorder(hold=True, fail=True)
        reconciler = Reconciler(lambda: w.storage.store, r.reconcile, SETTINGS, sleep=r.sleep)
        reconciler.start()
        await until(lambda: len(r.held) == 2, what="both loops' first waits")
        # explicit after the initial delay; implicit after the initial delay plus the spread
        assert sorted(r.events) == [("sleep", 60.0), ("sleep", 960.0)]
        r.events.clear()
        r.release()
        await until(lambda: len(r.held) == 4, what="the next waits")
        reconciles = [e for e in r.events if e[0] == "reconcile"]
        assert sorted(map(len, (ids for _, ids in reconciles))) == [0, 3]   # explicit stops at its failed first batch
        assert ("sleep", 3600.0) in r.events and ("sleep", 1800.0) in r.events
        r.events.clear()
        r.fail = False
        r.release()
        await until(lambda: len(r.held) >= 6, what="a second round of both")
        assert ("reconcile", []) in r.events
        await reconciler.stop()
        assert not reconciler._tasks
    asyncio.run(scenario())
