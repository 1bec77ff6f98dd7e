"""StatusUpdates on the state manager over DurableStorage on the in-memory log: a batch of updates is ONE log
append, acknowledged only after that append committed, in order; updates without a uuid are applied but not
acknowledged; an update saying RUNNING for a task storage does not know becomes a kill; a failed write
acknowledges nothing (and the next batch goes on); `status_update_<REASON>_<RESULT>` counters; the batch size."""
import asyncio

from scheduler.framework.status_updates import StatusUpdates
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import World, status, until


class Acks:
    """The acknowledge callable: records each status, with what storage held when it was called."""

    def __init__(self, world: World):
        self.world = world
        self.acked: list[tuple[str, int, S | None]] = []

    async def __call__(self, s: dict) -> bool:
        task_id = s["task_id"]["value"]
        self.acked.append((task_id, self.world.log.appends, self.world.status(task_id)))
        return True


async def _setup(n=3, batch=1000):
    w = await World().start()
    ids = await w.insert(instances=range(n))
    for task_id in ids:
        await w.assign(task_id)
    acks = Acks(w)
    updates = StatusUpdates(w.manager, acks, max_batch_size=batch)
    return w, ids, acks, updates


def test_a_batch_is_one_write_acknowledged_after_commit_in_order():
    async def scenario():
        w, ids, acks, updates = await _setup(n=4)
        before = w.log.appends
        for task_id in ids:                 # queued before the worker runs: one batch
            updates.add(status(task_id, "TASK_STARTING"))
        for task_id in ids:
            updates.add(status(task_id, "TASK_RUNNING"))
        updates.start()
        await until(lambda: len(acks.acked) == 8, what="8 acknowledgements")
        assert w.log.appends == before + 1 and updates.batches == 1
        (entry,) = w.entries()[-1:]
        assert len(entry.transaction.ops) >= 1
        # every acknowledgement came after the one append, with the task already RUNNING in storage
        assert [a[0] for a in acks.acked] == ids + ids
        assert all(appends == before + 1 and st == S.RUNNING for _, appends, st in acks.acked)
        assert [w.status(i) for i in ids] == [S.RUNNING] * 4
        assert updates.vars()["status_updates_queue_size"] == 0
        await updates.stop()
    asyncio.run(scenario())


def test_updates_without_uuid_are_applied_not_acknowledged():
    async def scenario():
        w, ids, acks, updates = await _setup(n=2)
        updates.start()
        updates.add(status(ids[0], "TASK_RUNNING", uuid=None))     # e.g. a reconciliation answer
        updates.add(status(ids[1], "TASK_RUNNING"))
        await until(lambda: acks.acked, what="an acknowledgement")
        await until(lambda: w.status(ids[0]) == S.RUNNING)
        assert [a[0] for a in acks.acked] == [ids[1]]
        await updates.stop()
    asyncio.run(scenario())


def test_running_for_an_unknown_task_is_killed_by_the_state_machine():
    async def scenario():
        w, ids, acks, updates = await _setup(n=1)
        updates.start()
        updates.add(status("rogue-task", "TASK_RUNNING"))
        await until(lambda: acks.acked, what="an acknowledgement")
        assert w.kills == ["rogue-task"]
        assert w.storage.store.tasks.get("rogue-task") is None
        assert acks.acked[0][0] == "rogue-task"
        await updates.stop()
    asyncio.run(scenario())


def test_a_failed_write_acknowledges_nothing_and_the_next_batch_goes_on():
    async def scenario():
        w, ids, acks, updates = await _setup(n=2)
        updates.start()
        w.log.fail_next_append()
        updates.add(status(ids[0], "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
        await until(lambda: not updates.vars()["status_updates_queue_size"] and w.log._fail_keep is None,
                    what="the failed batch")
        await asyncio.sleep(0)
        assert acks.acked == [] and w.status(ids[0]) == S.ASSIGNED and updates.batches == 0
        assert not any(k.startswith("status_update_REASON") for k in updates.vars())
        # Mesos resends; this time the write commits
        updates.add(status(ids[0], "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
        await until(lambda: acks.acked, what="an acknowledgement")
        assert w.status(ids[0]) == S.RUNNING and updates.batches == 1
        await updates.stop()
    asyncio.run(scenario())


def test_counters_per_reason_and_result():
    async def scenario():
        w, ids, acks, updates = await _setup(n=2)
        updates.add(status(ids[0], "TASK_FAILED", reason="REASON_COMMAND_EXECUTOR_FAILED", message="exit 1"))
        updates.add(status(ids[1], "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
        updates.add(status(ids[1], "TASK_RUNNING", reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
        updates.add(status(ids[0], "TASK_RUNNING", reason="REASON_RECONCILIATION"))    # FAILED -> RUNNING
        updates.add(status(ids[1], "TASK_BOGUS", reason="REASON_X"))                  # ignored, not counted
        updates.start()
        await until(lambda: len(acks.acked) == 5, what="5 acknowledgements")
        v = updates.vars()
        assert v["status_update_REASON_COMMAND_EXECUTOR_FAILED_SUCCESS"] == 1
        assert v["status_update_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED_SUCCESS"] == 1
        assert v["status_update_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED_NOOP"] == 1
        assert v["status_update_REASON_RECONCILIATION_ILLEGAL_WITH_SIDE_EFFECTS"] == 1
        assert not any("REASON_X" in k for k in v)
        assert w.kills == [ids[0]]        # a task stored FAILED that Mesos says runs is killed
        event = w.storage.store.tasks.get(ids[0]).taskEvents[-1]
        assert (event.status, event.message) == (S.FAILED, "exit 1")
        await updates.stop()
    asyncio.run(scenario())


def test_batch_size_is_respected():
    async def scenario():
        w, ids, acks, updates = await _setup(n=5, batch=2)
        before = w.log.appends
        for task_id in ids:
            updates.add(status(task_id, "TASK_RUNNING"))
        updates.start()
        await until(lambda: len(acks.acked) == 5, what="5 acknowledgements")
        assert updates.batches == 3 and w.log.appends == before + 3
        # acknowledged batch by batch: 2 after the first append, 2 after the second, 1 after the third
        assert [appends - before for _, appends, _ in acks.acked] == [1, 1, 2, 2, 3]
        await updates.stop()
    asyncio.run(scenario())
