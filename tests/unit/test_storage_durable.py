"""DurableStorage on the in-memory log: the write path (one coalesced entry per write, nested writes join,
rollback on a failed append or a raising block), replay (snapshot then transactions, no-ops, aborted frames,
refusals), snapshots with truncation and counters, the lifecycle and its errors, backups riding snapshots."""
import asyncio

import pytest

from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, JobKey, ScheduledTask, ScheduleStatus, TaskConfig, TaskQuery)
from scheduler.storage import codec, framing
from scheduler.storage.backup import Backups
from scheduler.storage.durable import DurableStorage, StorageError, TransientStorageError
from scheduler.storage.gen.ttypes import LogEntry, Op, SaveFrameworkId, Transaction
from scheduler.storage.log import MemoryLog

JOB = JobKey(role="www", environment="prod", name="hello")
CONFIG = TaskConfig(job=JOB, executorConfig=None, contactEmail="x" * 200)


def _task(i: int, status=ScheduleStatus.PENDING) -> ScheduledTask:
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"task-{i}", task=CONFIG, instanceId=i), status=status,
                         failureCount=0, taskEvents=[])


def _run(coro):
    return asyncio.run(coro)


async def _ready(log=None, **kw) -> DurableStorage:
    storage = DurableStorage(log if log is not None else MemoryLog(), **kw)
    await storage.prepare()
    await storage.start()
    return storage


def _tasks(storage) -> dict:
    return {t.assignedTask.taskId: t.status for t in storage.store.tasks}


def _entries(log: MemoryLog) -> list[LogEntry]:
    return [codec.decode(log.entries[p]) for p in sorted(log.entries)]


def test_a_write_is_one_transaction_entry_of_coalesced_ops():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as w:
            w.save_tasks([_task(0), _task(1)])
            w.save_tasks([_task(1, ScheduleStatus.ASSIGNED)])
            w.save_framework_id("fw")
            assert storage.store.tasks.get("task-1").status == ScheduleStatus.ASSIGNED  # visible inside
        (entry,) = _entries(log)
        ops = entry.transaction.ops
        assert [codec.kind(op) for op in ops] == ["saveTasks", "saveFrameworkId"]
        assert {t.assignedTask.taskId: t.status for t in ops[0].saveTasks.tasks} == {
            "task-0": ScheduleStatus.PENDING, "task-1": ScheduleStatus.ASSIGNED}
        async with storage.write():
            pass  # nothing recorded: nothing appended
        assert len(log.entries) == 1
        assert storage.vars()["scheduler_log_un_snapshotted_transactions"] == 1
    _run(scenario())


def test_nested_writes_join_the_outer_transaction():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as outer:
            outer.save_tasks([_task(0)])
            async with storage.write() as inner:
                inner.save_tasks([_task(1)])
            assert log.entries == {}  # the inner write appended nothing of its own
        (entry,) = _entries(log)
        assert len(entry.transaction.ops) == 1 and len(entry.transaction.ops[0].saveTasks.tasks) == 2
    _run(scenario())


def test_a_failed_append_rolls_everything_back_and_raises():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as w:
            w.save_tasks([_task(0), _task(1)])
            w.save_framework_id("fw-1")
        before = _tasks(storage)
        log.fail_next_append()
        with pytest.raises(StorageError, match="the write failed and was undone in memory: append failed"):
            async with storage.write() as w:
                w.save_tasks([_task(0, ScheduleStatus.ASSIGNED), _task(2)])
                w.remove_tasks(["task-1"])
                w.save_framework_id("fw-2")
        assert _tasks(storage) == before and storage.store.framework_id == "fw-1"
        assert storage.store.tasks.fetch(TaskQuery(role="www", instanceIds={2})) == []
        assert storage.vars()["scheduler_log_un_snapshotted_transactions"] == 1
        async with storage.write() as w:  # storage keeps working
            w.save_tasks([_task(3)])
        assert set(_tasks(storage)) == {"task-0", "task-1", "task-3"}
    _run(scenario())


def test_a_write_whose_frames_landed_in_part_is_rolled_back_and_skipped_on_replay():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log, max_entry_size=500)
        async with storage.write() as w:
            w.save_tasks([_task(0)])
        log.fail_next_append(keep=2)  # the header and one chunk land
        with pytest.raises(StorageError):
            async with storage.write() as w:
                w.save_tasks([_task(i) for i in range(1, 10)])
        async with storage.write() as w:
            w.save_tasks([_task(10)])
        assert set(_tasks(storage)) == {"task-0", "task-10"}
        replayed = await _ready(log)
        assert _tasks(replayed) == _tasks(storage)
        assert replayed.vars()["scheduler_log_bad_frames_read"] == 1
    _run(scenario())


def test_a_raising_block_rolls_back_and_appends_nothing():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        with pytest.raises(KeyError):
            async with storage.write() as w:
                w.save_tasks([_task(0)])
                async with storage.write() as inner:
                    inner.save_framework_id("fw")
                    raise KeyError("boom")
        assert _tasks(storage) == {} and storage.store.framework_id is None and log.entries == {}
    _run(scenario())


def test_writes_are_serialized():
    class SlowLog(MemoryLog):
        def __init__(self):
            super().__init__()
            self.gate = asyncio.Event()
            self.in_flight = 0
            self.max_in_flight = 0

        async def append(self, entries):
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await self.gate.wait()
            self.in_flight -= 1
            return await super().append(entries)

    async def scenario():
        log = SlowLog()
        storage = await _ready(log)

        async def write(i):
            async with storage.write() as w:
                w.save_tasks([_task(i)])
        writes = [asyncio.ensure_future(write(i)) for i in range(3)]
        await asyncio.sleep(0)
        log.gate.set()
        await asyncio.gather(*writes)
        assert log.max_in_flight == 1 and len(log.entries) == 3
    _run(scenario())


def test_replay_loads_the_snapshot_then_applies_transactions_in_order():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log, clock=lambda: 1000.0)
        for i in range(3):
            async with storage.write() as w:
                w.save_tasks([_task(i)])
        position = await storage.snapshot()
        assert sorted(log.entries) == [position] == [4]  # truncated before the snapshot
        (snap,) = _entries(log)
        assert snap.deflatedEntry is not None  # deduplicated, then deflated, as Aurora writes it
        assert codec.inflate(snap).deduplicatedSnapshot.partialSnapshot.timestamp == 1_000_000
        await log.append([codec.encode(LogEntry(noop=True))])
        async with storage.write() as w:
            w.save_tasks([_task(0, ScheduleStatus.ASSIGNED)])
        async with storage.write() as w:
            w.remove_tasks(["task-1"])
            w.save_framework_id("fw")
        assert storage.vars()["scheduler_log_snapshots"] == 1
        assert storage.vars()["scheduler_log_un_snapshotted_transactions"] == 2

        replayed = await _ready(log)
        assert _tasks(replayed) == {"task-0": ScheduleStatus.ASSIGNED, "task-2": ScheduleStatus.PENDING}
        assert replayed.store.framework_id == "fw"
        assert replayed.vars()["scheduler_log_un_snapshotted_transactions"] == 2
        assert replayed.vars()["scheduler_log_entries_read"] == 4
    _run(scenario())


def test_a_snapshot_in_the_middle_replaces_what_came_before():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as w:
            w.save_tasks([_task(0)])
        await storage.snapshot()
        # An old transaction kept before the snapshot (as if truncation had not happened yet): ignored.
        stale = codec.encode(codec.transaction([Op(saveFrameworkId=SaveFrameworkId(id="stale"))]))
        raw = [stale, *[log.entries[p] for p in sorted(log.entries)]]
        replay_log = MemoryLog()
        await replay_log.append(raw)
        replayed = await _ready(replay_log)
        assert replayed.store.framework_id is None and set(_tasks(replayed)) == {"task-0"}
    _run(scenario())


def test_a_big_snapshot_is_framed_and_replayed():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log, max_entry_size=256)
        async with storage.write() as w:
            w.save_tasks([_task(i) for i in range(300)])
        await storage.snapshot()
        assert len(log.entries) > 2
        assert _entries(log)[0].frame.header is not None
        replayed = await _ready(log)
        assert _tasks(replayed) == _tasks(storage) and len(_tasks(replayed)) == 300
        assert replayed.vars()["scheduler_log_bad_frames_read"] == 0
    _run(scenario())


def test_replay_refuses_a_newer_schema_and_stays_not_ready():
    async def scenario():
        log = MemoryLog()
        await log.append([codec.encode(LogEntry(transaction=Transaction(
            ops=[Op(saveFrameworkId=SaveFrameworkId(id="x"))], schemaVersion=2)))])
        storage = DurableStorage(log)
        await storage.prepare()
        with pytest.raises(StorageError, match=r"cannot replay the log at position 1: transaction has storage "
                                               r"schema version 2, newer than this scheduler's 1"):
            await storage.start()
        with pytest.raises(TransientStorageError, match="^Storage is not READY$"):
            len(storage.store.tasks)
    _run(scenario())


def test_replay_stops_at_a_frame_failing_its_checksum():
    async def scenario():
        log = MemoryLog()
        data = codec.encode(codec.transaction([Op(saveFrameworkId=SaveFrameworkId(id="x" * 3000))]))
        raw = framing.frame(data, 1000)
        raw[1] = framing.frame(data[:1] + bytes([data[1] ^ 1]) + data[2:], 1000)[1]
        await log.append(raw)
        storage = DurableStorage(log)
        await storage.prepare()
        with pytest.raises(StorageError, match="failed its MD5 checksum"):
            await storage.start()
    _run(scenario())


def test_lifecycle_and_its_errors():
    async def scenario():
        storage = DurableStorage(MemoryLog())
        with pytest.raises(TransientStorageError, match="^Storage is not READY$"):
            async with storage.write():
                pass
        with pytest.raises(TransientStorageError, match="^Storage is not PREPARED$"):
            await storage.start()
        with pytest.raises(TransientStorageError, match="^Storage is not READY$"):
            await storage.snapshot()
        assert storage.state == "CONSTRUCTED"
        await storage.prepare()
        assert storage.state == "PREPARED"
        with pytest.raises(TransientStorageError, match="^Storage is not CONSTRUCTED$"):
            await storage.prepare()
        with pytest.raises(TransientStorageError, match="^Storage is not READY$"):
            len(storage.store.tasks)
        await storage.start()
        assert storage.state == "READY" and len(storage.store.tasks) == 0
        await storage.stop()
        assert storage.state == "STOPPED"
        with pytest.raises(TransientStorageError, match="^Storage is not READY$"):
            async with storage.write():
                pass
    _run(scenario())


def test_a_failed_snapshot_raises_and_keeps_the_log():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as w:
            w.save_tasks([_task(0)])
        log.fail_next_append()
        with pytest.raises(StorageError, match="snapshot failed"):
            await storage.snapshot()
        assert sorted(log.entries) == [1] and storage.vars()["scheduler_log_snapshots"] == 0
    _run(scenario())


def test_backups_ride_on_snapshots_but_not_the_first_after_boot(tmp_path):
    async def scenario():
        now = [1_700_000_000.0]
        backups = Backups(str(tmp_path / "backups"), interval=3600, max_saved=2, clock=lambda: now[0])
        storage = await _ready(clock=lambda: now[0], backups=backups)
        async with storage.write() as w:
            w.save_tasks([_task(0)])
        await storage.snapshot()
        assert backups.list() == []  # the first snapshot right after boot
        now[0] += 3600
        await storage.snapshot()
        assert backups.list() == ["scheduler-backup-2023-11-14-23-13"]
        now[0] += 60
        await storage.snapshot()  # within the interval: no backup
        assert len(backups.list()) == 1
        assert await storage.backup_now() == "scheduler-backup-2023-11-14-23-14"  # whatever the interval
        assert storage.vars()["scheduler_backup_success"] == 2
    _run(scenario())


def test_a_task_spawned_inside_a_write_does_not_join_it():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)

        async def other():
            async with storage.write() as w:
                w.save_tasks([_task(1)])
        async with storage.write() as w:
            w.save_tasks([_task(0)])
            spawned = asyncio.ensure_future(other())  # inherits the context, must wait for the lock
            await asyncio.sleep(0)
            assert not spawned.done() and storage.store.tasks.get("task-1") is None
        await spawned
        assert [len(e.transaction.ops[0].saveTasks.tasks) for e in _entries(log)] == [1, 1]
    _run(scenario())


def test_an_entry_that_decodes_but_is_malformed_stops_replay_with_its_position():
    from scheduler.storage.gen.ttypes import SaveCronJob

    async def scenario():
        log = MemoryLog()
        await log.append([codec.encode(codec.transaction([Op(saveCronJob=SaveCronJob())]))])   # no job in it
        storage = DurableStorage(log)
        await storage.prepare()
        with pytest.raises(StorageError, match=r"cannot replay the log at position 1: a malformed entry"):
            await storage.start()
    _run(scenario())


def test_many_one_task_saves_and_removes_in_one_write_coalesce_into_one_op_each():
    async def scenario():
        log = MemoryLog()
        storage = await _ready(log)
        async with storage.write() as w:
            for i in range(300):
                w.save_tasks([_task(i)])
            w.save_tasks([_task(0, ScheduleStatus.ASSIGNED)])     # a later save of an id wins
        async with storage.write() as w:
            for i in range(200):
                w.remove_tasks({f"task-{i}"})
        saves, removes = (e.transaction.ops for e in _entries(log)[-2:])
        assert len(saves) == 1 and len(saves[0].saveTasks.tasks) == 300
        assert {t.assignedTask.taskId: t.status for t in saves[0].saveTasks.tasks}["task-0"] == ScheduleStatus.ASSIGNED
        assert len(removes) == 1 and len(removes[0].removeTasks.taskIds) == 200
        assert len(_tasks(storage)) == 100
    _run(scenario())
