"""Job update history pruning: the pure rule (scheduler.state.update_history: terminal updates past the age
threshold, each job's excess over the per-job threshold, never an active one) and the leader's pruner
(scheduler.app.update_pruner) on DurableStorage over MemoryLog with an injected clock and fake `call_later`:
a round every interval, a fixed delay, one write each, nothing after stop."""
import asyncio


from scheduler.app.update_pruner import UpdateHistoryPruner
from scheduler.state.updates import ACTIVE as ACTIVE_UPDATE_STATUSES, TERMINAL as TERMINAL_UPDATE_STATUSES
from scheduler.state.update_history import (DAY_MS,
                                            UpdateHistorySettings, updates_to_prune)
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from tests.unit.test_scheduler_timers import FakeLoopTimers
from tests.unit.test_state_manager import Clock
from thermos_executor.aurora_api.gen.ttypes import (JobKey, JobUpdate, JobUpdateEvent, JobUpdateInstructions,
                                                    JobUpdateKey, JobUpdateState, JobUpdateStatus, JobUpdateSummary)

St = JobUpdateStatus
WWW = JobKey("www", "prod", "hello")
ADS = JobKey("ads", "prod", "hello")
NOW = 100 * DAY_MS
SETTINGS = UpdateHistorySettings(per_job=2, threshold_ms=10 * DAY_MS, interval_ms=60_000)


def summary(job, uid, status, created):
    return JobUpdateSummary(key=JobUpdateKey(job=job, id=uid), user="alice",
                            state=JobUpdateState(status=status, createdTimestampMs=created,
                                                 lastModifiedTimestampMs=created))


def ids(keys):
    return [k.id for k in keys]


def test_statuses():
    assert ACTIVE_UPDATE_STATUSES == {St.ROLLING_FORWARD, St.ROLLING_BACK, St.ROLL_FORWARD_PAUSED,
                                      St.ROLL_BACK_PAUSED, St.ROLL_FORWARD_AWAITING_PULSE, St.ROLL_BACK_AWAITING_PULSE}
    assert TERMINAL_UPDATE_STATUSES == {St.ROLLED_FORWARD, St.ROLLED_BACK, St.ABORTED, St.ERROR, St.FAILED}


def test_expired_terminal_updates_go_active_ones_never():
    old = NOW - 11 * DAY_MS
    updates = [summary(WWW, "old-done", St.ROLLED_FORWARD, old), summary(WWW, "old-paused", St.ROLL_BACK_PAUSED, old),
               summary(WWW, "old-rolling", St.ROLLING_FORWARD, 0), summary(ADS, "old-failed", St.FAILED, old),
               summary(WWW, "at-cutoff", St.ABORTED, NOW - 10 * DAY_MS), summary(WWW, "recent", St.ERROR, NOW)]
    assert ids(updates_to_prune(updates, NOW, SETTINGS)) == ["old-done", "old-failed"]


def test_each_job_keeps_its_newest_terminal_updates():
    updates = [summary(WWW, f"w{i}", St.ROLLED_FORWARD, NOW - i) for i in range(5)]
    updates += [summary(WWW, "active", St.ROLLING_FORWARD, NOW - 100), summary(ADS, "a0", St.ABORTED, NOW - 100),
                summary(ADS, "a1", St.ROLLED_BACK, NOW - 200)]
    assert ids(updates_to_prune(updates, NOW, SETTINGS)) == ["w4", "w3", "w2"]   # oldest first; ads has 2
    # Expired updates are not counted against the limit: the two newest that are not expired stay.
    updates.append(summary(WWW, "expired", St.ROLLED_FORWARD, 0))
    assert ids(updates_to_prune(updates, NOW, SETTINGS)) == ["expired", "w4", "w3", "w2"]
    assert ids(updates_to_prune(updates, NOW, UpdateHistorySettings(per_job=0, threshold_ms=10 * DAY_MS))) == \
        ["expired", "w4", "w3", "w2", "w1", "w0", "a1", "a0"]


# -- the leader's pruner -------------------------------------------------------------------------------------
class World:
    def __init__(self, settings=SETTINGS):
        self.log = MemoryLog()
        self.storage = DurableStorage(self.log)
        self.clock = Clock(NOW)
        self.loop_timers = FakeLoopTimers(self.clock)
        self.pruner = UpdateHistoryPruner(self.storage, settings, self.clock, call_later=self.loop_timers.call_later)

    async def start(self):
        await self.storage.prepare()
        await self.storage.start()
        self.pruner.start()
        return self

    async def advance(self, ms):
        self.loop_timers.advance(ms)
        await self.pruner.idle()

    async def save(self, job, uid, statuses_at):
        key = JobUpdateKey(job=job, id=uid)
        async with self.storage.write() as w:
            w.save_job_update(JobUpdate(summary=JobUpdateSummary(key=key, user="alice"),
                                        instructions=JobUpdateInstructions(initialState=set())))
            for status, at in statuses_at:
                w.save_job_update_event(key, JobUpdateEvent(status=status, timestampMs=at))

    def stored(self):
        return sorted(k[1] for k in self.storage.store.job_updates)


def _run(scenario):
    async def main():
        world = await World().start()
        try:
            await scenario(world)
        finally:
            await world.pruner.stop()
    asyncio.run(main())


def test_the_pruner_runs_every_interval_in_one_write():
    async def scenario(world):
        for i in range(4):
            await world.save(WWW, f"w{i}", [(St.ROLLING_FORWARD, NOW - 10 * i), (St.ROLLED_FORWARD, NOW - 10 * i + 1)])
        await world.save(WWW, "rolling", [(St.ROLLING_FORWARD, 0)])
        appends = world.log.appends

        await world.advance(SETTINGS.interval_ms - 1)
        assert world.stored() == ["rolling", "w0", "w1", "w2", "w3"]           # never early
        await world.advance(1)
        assert world.stored() == ["rolling", "w0", "w1"]
        assert world.pruner.vars() == {"job_updates_pruned": 2}
        assert world.log.appends == appends + 1                                # one write

        await world.save(WWW, "w-new", [(St.ROLLING_FORWARD, NOW + 5), (St.ABORTED, NOW + 6)])
        world.clock.now += 11 * DAY_MS     # w0, w1 and w-new expire; the active one stays, however old
        await world.advance(SETTINGS.interval_ms)
        assert world.stored() == ["rolling"]
        assert world.pruner.pruned == 5
        appends = world.log.appends
        await world.advance(SETTINGS.interval_ms)
        assert world.log.appends == appends                                   # nothing to prune: no write
    _run(scenario)


def test_fixed_delay_and_nothing_after_stop():
    async def scenario(world):
        assert [h.when_ms for h in world.loop_timers.pending()] == [NOW + SETTINGS.interval_ms]
        world.loop_timers.advance(SETTINGS.interval_ms + 500)   # fired late: the next is an interval after it
        await world.pruner.idle()
        assert [h.when_ms for h in world.loop_timers.pending()] == [world.clock.now + SETTINGS.interval_ms]
        await world.pruner.stop()
        assert world.loop_timers.pending() == []
        await world.advance(10 * SETTINGS.interval_ms)
        assert world.loop_timers.pending() == [] and world.pruner.pruned == 0
    _run(scenario)


def test_a_failed_round_changes_nothing_and_is_tried_again_an_interval_later():
    async def scenario(world):
        await world.save(WWW, "old", [(St.ROLLING_FORWARD, 0), (St.FAILED, 1)])
        world.log.fail_next_append()
        await world.advance(SETTINGS.interval_ms)
        assert world.stored() == ["old"] and world.pruner.pruned == 0      # rolled back
        await world.advance(SETTINGS.interval_ms)
        assert world.stored() == [] and world.pruner.pruned == 1
    _run(scenario)
