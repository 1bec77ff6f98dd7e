"""The state manager on DurableStorage over the in-memory log, with an injected clock and id source: inserting
PENDING tasks, every side effect applied in StateManagerImpl's order, rescheduling with ancestors and the flapping
penalty, failure counting, kills handed on only after the commit, rollback, illegal transitions counted."""
import asyncio
import itertools

import pytest

from thermos_executor.aurora_api.gen.ttypes import ExecutorConfig, Identity, JobKey, Resource, TaskConfig, TaskQuery
from scheduler.api.state_manager import ChangeResult, InstanceCollision, StateManager
from scheduler.state import machine
from scheduler.state.status import ScheduleStatus as S
from scheduler.state.task_ids import TaskIdGenerator, task_id
from scheduler.storage import codec
from scheduler.storage.durable import DurableStorage, StorageError
from scheduler.storage.log import MemoryLog

JOB = JobKey(role="www", environment="prod", name="hello")


def _config(service=False, max_failures=1, job=JOB):
    return TaskConfig(job=job, owner=Identity(user="u"), isService=service, maxTaskFailures=max_failures, priority=0,
                      resources={Resource(numCpus=1.0), Resource(ramMb=64), Resource(diskMb=64)}, constraints=set(),
                      executorConfig=ExecutorConfig(name="AuroraExecutor", data="{}"))


class Clock:
    def __init__(self, now_ms=1_000_000):
        self.now = now_ms

    def __call__(self):
        return self.now


class World:
    """A READY storage on a MemoryLog, a manager with a fake clock and numbered uuids, and what it handed on."""

    def __init__(self, **manager_kw):
        self.log = MemoryLog()
        self.storage = DurableStorage(self.log)
        self.clock = Clock()
        self.kills, self.published = [], []
        counter = itertools.count()
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=self.clock, hostname="sched-1",
                                    task_ids=TaskIdGenerator(self.clock, lambda: f"uuid{next(counter)}"),
                                    on_change=self.published.append, **manager_kw)

    async def start(self):
        await self.storage.prepare()
        await self.storage.start()
        return self

    async def insert(self, config=None, instances=(0,)):
        async with self.manager.transaction() as tx:
            tasks = tx.insert_pending_tasks(config or _config(), instances)
        return [t.assignedTask.taskId for t in tasks]

    async def change(self, tid, target, message=None, expected=None):
        async with self.manager.transaction() as tx:
            return tx.change_state(tid, target, message, expected)

    def task(self, tid):
        return self.storage.store.tasks.get(tid)

    def tasks(self):
        return sorted(self.storage.store.tasks, key=lambda t: t.assignedTask.taskId)

    def entries(self):
        return [codec.decode(self.log.entries[p]) for p in sorted(self.log.entries)]


def _run(scenario):
    return asyncio.run(scenario(World()))


def _statuses(task):
    return [e.status for e in task.taskEvents]


def test_task_ids_are_aurora_s():
    assert task_id(1700000000123, "www", "prod", "hello", 7, "a-b") == "1700000000123-www-prod-hello-7-a-b"
    assert task_id(1, "r.x", "prod", "a b/c", 0, "u") == "1-r-x-prod-a-b-c-0-u"  # outside [A-Za-z0-9_-]: '-'
    ids = TaskIdGenerator(lambda: 5)
    first, second = ids.generate("www", "prod", "hello", 0), ids.generate("www", "prod", "hello", 0)
    assert first.startswith("5-www-prod-hello-0-") and first != second and len(first) == len("5-www-prod-hello-0-") + 36


def test_insert_saves_pending_tasks_in_one_entry():
    async def scenario(w):
        await w.start()
        ids = await w.insert(instances=range(3))
        assert ids == [f"1000000-www-prod-hello-{i}-uuid{i}" for i in range(3)]
        for i, tid in enumerate(ids):
            task = w.task(tid)
            assert (task.status, task.assignedTask.instanceId, task.failureCount, task.ancestorId) == (S.PENDING, i, 0,
                                                                                                       None)
            (event,) = task.taskEvents
            assert (event.timestamp, event.status, event.message, event.scheduler) == (1000000, S.PENDING, None,
                                                                                       "sched-1")
        (entry,) = w.entries()
        (op,) = entry.transaction.ops
        assert sorted(t.assignedTask.taskId for t in op.saveTasks.tasks) == ids
        assert [(c.previous, c.status) for c in w.published] == [(S.INIT, S.PENDING)] * 3
        assert w.kills == []
    _run(scenario)


def test_insert_refuses_an_active_instance_id_and_writes_nothing():
    async def scenario(w):
        await w.start()
        await w.insert(instances=[0, 1])
        with pytest.raises(InstanceCollision, match="^Instance ID collision detected.$"):
            await w.insert(instances=[1, 2])
        assert len(w.tasks()) == 2 and len(w.entries()) == 1
    _run(scenario)


def test_saved_states_append_events_with_time_message_and_host():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        w.clock.now += 10
        assert await w.change(tid, S.ASSIGNED) == ChangeResult.SUCCESS
        w.clock.now += 10
        assert await w.change(tid, S.RUNNING, "up") == ChangeResult.SUCCESS
        task = w.task(tid)
        assert task.status == S.RUNNING
        assert [(e.timestamp, e.status, e.message, e.scheduler) for e in task.taskEvents] == [
            (1000000, S.PENDING, None, "sched-1"), (1000010, S.ASSIGNED, None, "sched-1"),
            (1000020, S.RUNNING, "up", "sched-1")]
        assert await w.change(tid, S.RUNNING) == ChangeResult.NOOP
        assert len(w.task(tid).taskEvents) == 3
    _run(scenario)


def test_compare_and_set():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        assert await w.change(tid, S.ASSIGNED, expected=S.RUNNING) == ChangeResult.INVALID_CAS_STATE
        assert await w.change("nope", S.LOST, expected=S.ASSIGNED) == ChangeResult.INVALID_CAS_STATE
        assert w.task(tid).status == S.PENDING
        assert await w.change(tid, S.ASSIGNED, expected=S.PENDING) == ChangeResult.SUCCESS
    _run(scenario)


async def _running(w, config=None):
    (tid,) = await w.insert(config)
    await w.change(tid, S.ASSIGNED)
    await w.change(tid, S.RUNNING)
    return tid


def _replacement_of(w, tid):
    (new,) = [t for t in w.tasks() if t.ancestorId == tid]
    return new


def test_failure_counted_before_the_state_is_saved_and_copied_to_the_replacement():
    async def scenario(w):
        await w.start()
        tid = await _running(w, _config(max_failures=2))
        w.clock.now += 60 * 60 * 1000  # ran long: no flapping
        assert await w.change(tid, S.FAILED, "boom") == ChangeResult.SUCCESS
        old = w.task(tid)
        assert (old.status, old.failureCount) == (S.FAILED, 1)
        new = _replacement_of(w, tid)
        assert (new.status, new.failureCount, new.assignedTask.instanceId) == (S.PENDING, 1, 0)
        assert new.assignedTask.task == old.assignedTask.task
        assert [(e.status, e.message) for e in new.taskEvents] == [(S.PENDING, "Rescheduled")]
        # The second failure uses up max_task_failures=2: counted, not replaced.
        nid = new.assignedTask.taskId
        await w.change(nid, S.ASSIGNED)
        await w.change(nid, S.RUNNING)
        w.clock.now += 60 * 60 * 1000
        await w.change(nid, S.FAILED)
        assert w.task(nid).failureCount == 2
        assert [t for t in w.tasks() if t.ancestorId == nid] == []
        assert len(w.tasks()) == 2
    _run(scenario)


def test_max_task_failures_one_never_retries_and_minus_one_always_does():
    async def scenario(w):
        await w.start()
        once = await _running(w, _config(max_failures=1))
        await w.change(once, S.FAILED)
        assert len(w.tasks()) == 1
        forever = await _running(w, _config(max_failures=-1, job=JobKey(role="www", environment="prod", name="f")))
        for _ in range(3):
            w.clock.now += 60 * 60 * 1000
            await w.change(forever, S.FAILED)
            forever = _replacement_of(w, forever).assignedTask.taskId
            await w.change(forever, S.ASSIGNED)
            await w.change(forever, S.RUNNING)
        assert w.task(forever).failureCount == 3
    _run(scenario)


def test_a_flapping_lineage_is_throttled_with_the_truncated_binary_backoff():
    async def scenario(w):
        await w.start()
        tid = await _running(w, _config(service=True))
        seen = []
        for _ in range(7):
            w.clock.now += 1000  # each generation dies a second after it started running
            await w.change(tid, S.FINISHED)
            new = _replacement_of(w, tid)
            seen.append((new.status, new.taskEvents[-1].message))
            tid = new.assignedTask.taskId
            if new.status == S.THROTTLED:
                await w.change(tid, S.PENDING)
            await w.change(tid, S.ASSIGNED)
            await w.change(tid, S.RUNNING)
        penalized = "Rescheduled, penalized for {} ms for flapping".format
        assert seen == [(S.PENDING, "Rescheduled")] + [(S.THROTTLED, penalized(ms)) for ms in
                                                       (30000, 60000, 120000, 240000, 300000, 300000)]
    _run(scenario)


def test_kills_are_handed_on_only_after_the_commit():
    async def scenario(w):
        await w.start()
        tid = await _running(w)
        async with w.manager.transaction() as tx:
            assert tx.change_state(tid, S.KILLING, "Killed by UNSECURE") == ChangeResult.SUCCESS
            assert w.kills == []  # not yet durable
        assert w.kills == [tid]
        assert (w.task(tid).status, w.task(tid).taskEvents[-1].message) == (S.KILLING, "Killed by UNSECURE")
        await w.change(tid, S.KILLED)  # a killed KILLING task is not replaced
        assert len(w.tasks()) == 1 and w.task(tid).status == S.KILLED
    _run(scenario)


def test_killing_a_pending_task_deletes_it():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        assert await w.change(tid, S.KILLING) == ChangeResult.SUCCESS
        assert w.tasks() == [] and w.kills == []
        assert (w.published[-1].task_id, w.published[-1].previous, w.published[-1].status) == (tid, S.PENDING, None)
        assert w.entries()[-1].transaction.ops[0].removeTasks.taskIds == {tid}
    _run(scenario)


def test_a_failed_append_rolls_back_and_hands_nothing_on():
    async def scenario(w):
        await w.start()
        tid = await _running(w, _config(service=True))
        published = len(w.published)
        w.log.fail_next_append()
        with pytest.raises(StorageError):
            async with w.manager.transaction() as tx:
                tx.change_state(tid, S.KILLING)
                tx.insert_pending_tasks(_config(job=JobKey(role="www", environment="prod", name="x")), [0])
        assert [t.assignedTask.taskId for t in w.tasks()] == [tid] and w.task(tid).status == S.RUNNING
        assert w.kills == [] and len(w.published) == published
    _run(scenario)


def test_illegal_transitions_are_counted_and_rogue_tasks_killed():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        assert await w.change(tid, S.RUNNING) == ChangeResult.ILLEGAL  # PENDING -> RUNNING
        assert w.task(tid).status == S.PENDING
        assert await w.change("rogue", S.RUNNING) == ChangeResult.ILLEGAL_WITH_SIDE_EFFECTS
        assert w.kills == ["rogue"]
        assert w.manager.vars() == {machine.ILLEGAL_TRANSITIONS_COUNTER: 2}
    _run(scenario)


def test_an_interrupted_partitioned_task_is_transitioned_to_lost_and_replaced():
    async def scenario(w):
        await w.start()
        tid = await _running(w)
        await w.change(tid, S.RESTARTING)
        assert w.kills == [tid]
        assert await w.change(tid, S.PARTITIONED) == ChangeResult.SUCCESS
        task = w.task(tid)
        assert _statuses(task)[-2:] == [S.PARTITIONED, S.LOST]
        assert task.taskEvents[-1].message == machine.PARTITIONED_LOST_MESSAGE
        assert w.kills == [tid, tid]  # PARTITIONED -> LOST kills it again
        assert _replacement_of(w, tid).status == S.PENDING
    _run(scenario)


def test_delete_tasks_removes_terminal_ones_only():
    async def scenario(w):
        await w.start()
        done = await _running(w)
        await w.change(done, S.FINISHED)
        (pending,) = await w.insert(_config(job=JobKey(role="www", environment="prod", name="other")))
        async with w.manager.transaction() as tx:
            tx.delete_tasks([done, pending, "unknown"])
        assert [t.assignedTask.taskId for t in w.tasks()] == [pending]
        assert w.manager.vars()[machine.ILLEGAL_TRANSITIONS_COUNTER] == 1  # PENDING -> DELETED
    _run(scenario)


def test_a_task_is_never_mutated_in_place():
    async def scenario(w):
        await w.start()
        (tid,) = await w.insert()
        before = w.task(tid)
        events = list(before.taskEvents)
        await w.change(tid, S.ASSIGNED)
        assert before.status == S.PENDING and before.taskEvents == events
        assert w.storage.store.tasks.fetch(TaskQuery(statuses={S.ASSIGNED}))[0] is not before
    _run(scenario)
