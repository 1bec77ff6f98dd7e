"""TaskTimers against the StateManager on DurableStorage over MemoryLog, with an injected clock and fake
`call_later`: transient states time out to LOST (and a task that moved on does not), THROTTLED tasks are
released when their penalty has passed, terminated tasks are pruned after the delay and a job's excess history
at once, tasks found in storage at promotion are armed, and stop cancels everything."""
import asyncio
import itertools

from scheduler.api.state_manager import StateManager
from scheduler.app.timers import TaskTimers
from scheduler.state.pruning import PruneSettings
from scheduler.state.reschedule import replacement_for
from scheduler.state.status import ScheduleStatus as S
from scheduler.state.task_ids import TaskIdGenerator
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from tests.unit.test_state_manager import Clock, _config

TIMEOUT_MS = 5000
PRUNE = PruneSettings(prune_threshold_ms=60_000, min_retention_ms=1000, max_per_job=100)


class FakeHandle:
    def __init__(self, when_ms, callback, args):
        self.when_ms, self.callback, self.args = when_ms, callback, args
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class FakeLoopTimers:
    """`call_later` on the fake clock: `advance` moves the clock and runs what has come due, in order."""

    def __init__(self, clock):
        self.clock = clock
        self.handles: list[FakeHandle] = []

    def call_later(self, delay_s, callback, *args):
        handle = FakeHandle(self.clock.now + round(delay_s * 1000), callback, args)
        self.handles.append(handle)
        return handle

    def pending(self):
        return [h for h in self.handles if not h.cancelled]

    def advance(self, ms):
        self.clock.now += ms
        while due := sorted((h for h in self.pending() if h.when_ms <= self.clock.now), key=lambda h: h.when_ms):
            due[0].cancelled = True  # ran
            due[0].callback(*due[0].args)


class World:
    def __init__(self, prune=PRUNE):
        self.storage = DurableStorage(MemoryLog())
        self.clock = Clock()
        self.loop_timers = FakeLoopTimers(self.clock)
        counter = itertools.count()
        self.manager = StateManager(self.storage, kill=lambda task_id: None, clock_ms=self.clock, hostname="sched-1",
                                    task_ids=TaskIdGenerator(self.clock, lambda: f"uuid{next(counter)}"),
                                    on_change=lambda change: self.timers.on_change(change))
        self.timers = TaskTimers(self.manager, timeout_ms=TIMEOUT_MS, prune=prune,
                                 call_later=self.loop_timers.call_later)

    async def start(self, timers=True):
        await self.storage.prepare()
        await self.storage.start()
        if timers:
            self.timers.start()
        return self

    async def advance(self, ms):
        self.loop_timers.advance(ms)
        await self.timers.idle()

    async def insert(self, config=None, instances=(0,)):
        async with self.manager.transaction() as tx:
            tasks = tx.insert_pending_tasks(config or _config(), instances)
        await self.timers.idle()
        return [t.assignedTask.taskId for t in tasks]

    async def change(self, tid, target, message=None):
        async with self.manager.transaction() as tx:
            tx.change_state(tid, target, message)
        await self.timers.idle()

    def status(self, tid):
        task = self.storage.store.tasks.get(tid)
        return S(task.status) if task is not None else None

    def children(self, tid):
        return [t for t in self.storage.store.tasks if t.ancestorId == tid]


def _run(scenario, **kw):
    async def main():
        w = World(**kw)
        try:
            await scenario(w)
        finally:
            await w.timers.stop()
    asyncio.run(main())


def test_a_task_stuck_in_assigned_times_out_to_lost():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        await w.change(tid, S.ASSIGNED)
        await w.advance(TIMEOUT_MS - 1)
        assert w.status(tid) == S.ASSIGNED
        await w.advance(1)
        assert w.status(tid) == S.LOST
        task = w.storage.store.tasks.get(tid)
        assert (task.taskEvents[-1].message, task.taskEvents[-1].scheduler) == ("Task timed out", "sched-1")
        assert [S(t.status) for t in w.children(tid)] == [S.PENDING]  # LOST reschedules
        assert w.timers.vars()["timed_out_tasks"] == 1
    _run(scenario)


def test_a_task_that_moves_on_before_the_timeout_is_left_alone():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        await w.change(tid, S.ASSIGNED)
        await w.advance(TIMEOUT_MS - 1)
        await w.change(tid, S.RUNNING)
        await w.advance(10 * TIMEOUT_MS)
        assert w.status(tid) == S.RUNNING
        assert w.loop_timers.pending() == [] and w.timers.vars()["timed_out_tasks"] == 0
        # A later transient status gets a whole timeout of its own.
        await w.change(tid, S.KILLING)
        await w.advance(TIMEOUT_MS - 1)
        assert w.status(tid) == S.KILLING
        await w.advance(1)
        assert w.status(tid) == S.LOST
    _run(scenario)


def test_a_timer_firing_before_its_deadline_by_the_clock_waits_for_the_rest():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        await w.change(tid, S.ASSIGNED)
        [handle] = w.loop_timers.pending()
        handle.cancel()
        handle.callback(*handle.args)  # the loop's clock ran ahead of the wall clock
        await w.timers.idle()
        assert w.status(tid) == S.ASSIGNED
        await w.advance(TIMEOUT_MS)
        assert w.status(tid) == S.LOST
    _run(scenario)


def test_a_throttled_task_is_released_to_pending_when_its_penalty_has_passed():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert(_config(service=True))
        for _ in range(2):  # two generations, each dying a second after it started running
            await w.change(tid, S.ASSIGNED)
            await w.change(tid, S.RUNNING)
            w.clock.now += 1000
            await w.change(tid, S.FINISHED)
            (new,) = w.children(tid)
            tid = new.assignedTask.taskId
        assert w.status(tid) == S.THROTTLED
        assert new.taskEvents[-1].message == "Rescheduled, penalized for 30000 ms for flapping"
        await w.advance(29_999)
        assert w.status(tid) == S.THROTTLED
        await w.advance(1)
        task = w.storage.store.tasks.get(tid)
        assert (S(task.status), task.taskEvents[-1].message) == (S.PENDING, None)
    _run(scenario)


def test_the_penalty_is_read_from_the_message_the_replacement_was_given():
    async def scenario(w):
        await w.start(timers=False)
        (tid,) = await w.insert(_config(service=True))
        for _ in range(2):
            await w.change(tid, S.ASSIGNED)
            await w.change(tid, S.RUNNING)
            await w.change(tid, S.FINISHED)
            (new,) = w.children(tid)
            tid = new.assignedTask.taskId
        assert new.taskEvents[-1].message == replacement_for(30_000).message
        w.clock.now += 20_000  # found THROTTLED at promotion, 20 s into its 30 s penalty
        w.timers.start()
        await w.advance(9_999)
        assert w.status(tid) == S.THROTTLED
        await w.advance(1)
        assert w.status(tid) == S.PENDING
    _run(scenario)


def test_terminated_tasks_are_pruned_after_the_threshold():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        await w.change(tid, S.ASSIGNED)
        await w.change(tid, S.RUNNING)
        await w.change(tid, S.FINISHED)
        await w.advance(PRUNE.prune_threshold_ms - 1)
        assert w.status(tid) == S.FINISHED
        await w.advance(1)
        assert w.status(tid) is None
        assert w.timers.vars()["tasks_pruned"] == 1 and w.loop_timers.pending() == []
    _run(scenario)


def test_a_job_s_excess_history_is_pruned_at_once_oldest_first_sparing_recent_tasks():
    async def scenario(w):
        await w.start()
        ids = await w.insert(instances=range(5))
        for tid in ids[:2]:
            await _finish(w, tid)
            w.clock.now += 10
        w.clock.now += PRUNE.min_retention_ms  # the first two are past the minimum retention
        await _finish(w, ids[2])
        assert [w.status(t) for t in ids[:3]] == [None, S.FINISHED, S.FINISHED]
        for tid in ids[3:]:
            await _finish(w, tid)
        # The second went when the fourth finished; the last three are within the minimum retention: kept.
        assert [w.status(t) for t in ids] == [None, None, S.FINISHED, S.FINISHED, S.FINISHED]
        assert w.timers.vars()["tasks_pruned"] == 2
    _run(scenario, prune=PruneSettings(prune_threshold_ms=60_000, min_retention_ms=1000, max_per_job=2))


async def _finish(w, tid):
    for target in (S.ASSIGNED, S.RUNNING, S.FINISHED):
        await w.change(tid, target)


def test_tasks_found_in_storage_at_promotion_are_armed():
    async def scenario(w):
        await w.start(timers=False)
        assigned, finished = await w.insert(instances=(0, 1))
        await w.change(assigned, S.ASSIGNED)
        await _finish(w, finished)
        w.clock.now += PRUNE.prune_threshold_ms  # finished long ago: pruned after the minimum retention
        w.timers.start()
        await w.advance(PRUNE.min_retention_ms)
        assert (w.status(assigned), w.status(finished)) == (S.ASSIGNED, None)
        await w.advance(TIMEOUT_MS - PRUNE.min_retention_ms)  # a whole timeout from promotion, as Aurora
        assert w.status(assigned) == S.LOST
    _run(scenario)


def test_stop_cancels_every_timer_and_later_changes_arm_none():
    async def scenario(w):
        await w.start()
        a, b = await w.insert(instances=(0, 1))
        await w.change(a, S.ASSIGNED)
        await _finish(w, b)
        assert len(w.loop_timers.pending()) == 2
        await w.timers.stop()
        assert w.loop_timers.pending() == []
        await w.change(a, S.RUNNING)
        await w.change(a, S.KILLING)
        await w.change(b, S.ASSIGNED)  # a rogue update of a terminated task: still nothing armed
        assert w.loop_timers.pending() == []
    _run(scenario)
