"""Job updates in process: the update calls through the Thrift wire (Aurora's checks, messages, codes), the
controller on an injected clock and fake timers driving real storage and the state manager (tasks are moved
by hand, as Mesos would), and the pure status machine. What is asserted is what a user sees: update statuses
and events, instance events, which tasks run which config, what was killed, and the answers to other calls
while a job updates."""
import asyncio
import itertools

import pytest

from scheduler.api.admin import Handlers
from scheduler.api.cron import CronApi
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.api.updates import UpdateApi
from scheduler.app.updater import JobUpdates
from scheduler.state import cron
from scheduler.state import updates as u
from scheduler.state.status import ACTIVE
from scheduler.state.status import ScheduleStatus as S
from scheduler.state.task_ids import TaskIdGenerator
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from tests.unit.test_api_jobs import KEY, _job, _task
from tests.unit.test_cron_jobs import api
from tests.unit.test_scheduler_timers import FakeLoopTimers
from tests.unit.test_state_manager import Clock
from thermos_executor.aurora_api.gen.ttypes import (
    BatchJobUpdateStrategy, ExecutorConfig, InstanceKey, JobUpdateAction, JobUpdateKey, JobUpdatePulseStatus,
    JobUpdateRequest, JobUpdateSettings, JobUpdateStatus, JobUpdateStrategy, QueueJobUpdateStrategy, Range,
    ResponseCode, TaskQuery, VariableBatchJobUpdateStrategy)

OK, INVALID, ERROR, UPDATING = (ResponseCode.OK, ResponseCode.INVALID_REQUEST, ResponseCode.ERROR,
                                ResponseCode.JOB_UPDATING_ERROR)
U = JobUpdateStatus
A = JobUpdateAction
SETTINGS = ApiSettings(cluster_name="devcluster", max_update_instance_failures=100)
WATCH_MS = 5_000
OLD = ExecutorConfig(name="AuroraExecutor", data='{"v": 1}')
NEW = ExecutorConfig(name="AuroraExecutor", data='{"v": 2}')


class Leader:
    """One scheduler: storage on a shared log, manager, update controller and API, fake clock and timers."""

    def __init__(self, log: MemoryLog, clock: Clock):
        self.storage = DurableStorage(log)
        self.clock = clock
        self.loop_timers = FakeLoopTimers(clock)
        counter = itertools.count()
        self.kills = []
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=clock, hostname="h",
                                    task_ids=TaskIdGenerator(clock, lambda: f"uuid{next(counter)}"),
                                    on_change=lambda change: self.updates.on_change(change))
        self.updates = JobUpdates(self.manager, call_later=self.loop_timers.call_later)
        self.cron = self   # tests.unit.test_cron_jobs.api awaits leader.cron.idle()
        self.api = Handlers(SchedulerApi(self.storage, self.manager, SETTINGS),
                            CronApi(self.storage, SETTINGS, tz=cron.zone("GMT"), runs=None, clock_ms=clock),
                            UpdateApi(self.storage, SETTINGS, self.updates))

    async def idle(self):
        await self.updates.idle()

    async def promote(self):
        await self.storage.prepare()
        await self.storage.start()
        await self.updates.start()
        await self.updates.idle()
        return self

    def active(self):
        tasks = self.storage.store.tasks.fetch(TaskQuery(jobKeys={KEY}, statuses=set(ACTIVE)))
        return sorted(tasks, key=lambda t: t.assignedTask.instanceId)

    def configs(self):
        """instance -> (status name, executor data) of the active tasks."""
        return {t.assignedTask.instanceId: (S(t.status).name, t.assignedTask.task.executorConfig.data)
                for t in self.active()}

    async def move(self, status, instances=None, data=None):
        """Active tasks (of these instances / this config) to `status`; PENDING ones are placed first."""
        async with self.manager.transaction() as tx:
            for t in self.active():
                if instances is not None and t.assignedTask.instanceId not in instances:
                    continue
                if data is not None and t.assignedTask.task.executorConfig.data != data:
                    continue
                if t.status == S.PENDING and status != S.KILLING:
                    tx.assign_task(t.assignedTask.taskId, "host", "agent", {})
                tx.change_state(t.assignedTask.taskId, status)
        await self.updates.idle()

    async def end_killed(self):
        """Every KILLING task ends KILLED (Mesos confirms the kills)."""
        async with self.manager.transaction() as tx:
            for t in self.active():
                if t.status == S.KILLING:
                    tx.change_state(t.assignedTask.taskId, S.KILLED)
        await self.updates.idle()

    async def advance(self, ms):
        self.loop_timers.advance(ms)
        await self.updates.idle()

    def details(self, key):
        from scheduler.storage.store import update_key
        return self.storage.store.job_updates[update_key(key)]

    def status(self, key):
        return self.details(key).update.summary.state.status

    def instance_events(self, key):
        return [(e.instanceId, e.action) for e in self.details(key).instanceEvents]


def request(instances=4, executor=NEW, **settings):
    base = dict(updateGroupSize=2, maxPerInstanceFailures=0, maxFailedInstances=0,
                minWaitInInstanceRunningMs=WATCH_MS, rollbackOnFailure=True)
    base.update(settings)
    return JobUpdateRequest(taskConfig=_task(KEY, isService=True, executorConfig=executor), instanceCount=instances,
                            settings=JobUpdateSettings(**base))


def _run(scenario, instances=4):
    async def main():
        log, clock = MemoryLog(), Clock(1_000_000)
        leader = await Leader(log, clock).promote()
        if instances:
            job = _job(KEY, instances, isService=True, executorConfig=OLD)
            assert (await api(leader, "createJob", job)).responseCode == OK
            await leader.move(S.RUNNING)
        try:
            await scenario(leader, log, clock)
        finally:
            await leader.updates.stop()
    asyncio.run(main())


async def start(leader, req, message="deploy"):
    r = await api(leader, "startJobUpdate", req, message)
    assert r.responseCode == OK, r
    return r.result.startJobUpdateResult.key


async def roll_group(leader, watch=True):
    """The update's kills confirmed, the new tasks RUNNING, and (watch) the watch elapsed."""
    await leader.end_killed()
    await leader.move(S.RUNNING, data=NEW.data)
    if watch:
        await leader.advance(WATCH_MS)


# -- the status machine -----------------------------------------------------------------------------------------
ALLOWED = {
    (U.ROLLING_FORWARD, t) for t in (U.ROLLING_BACK, U.ROLL_FORWARD_PAUSED, U.ROLL_FORWARD_AWAITING_PULSE,
                                     U.ROLLED_FORWARD, U.ABORTED, U.FAILED, U.ERROR)} | {
    (U.ROLLING_BACK, t) for t in (U.ROLL_BACK_PAUSED, U.ROLL_BACK_AWAITING_PULSE, U.ROLLED_BACK, U.ABORTED,
                                  U.ERROR, U.FAILED)} | {
    (U.ROLL_FORWARD_PAUSED, t) for t in (U.ROLLING_BACK, U.ROLLING_FORWARD, U.ROLL_FORWARD_AWAITING_PULSE,
                                         U.ABORTED, U.ERROR)} | {
    (U.ROLL_BACK_PAUSED, t) for t in (U.ROLLING_BACK, U.ROLL_BACK_AWAITING_PULSE, U.ABORTED, U.ERROR)} | {
    (U.ROLL_FORWARD_AWAITING_PULSE, t) for t in (U.ROLLING_BACK, U.ROLLING_FORWARD, U.ROLL_FORWARD_PAUSED,
                                                 U.ABORTED, U.ERROR)} | {
    (U.ROLL_BACK_AWAITING_PULSE, t) for t in (U.ROLLING_BACK, U.ROLL_BACK_PAUSED, U.ABORTED, U.ERROR)}


@pytest.mark.parametrize("current", list(U._VALUES_TO_NAMES))
def test_every_transition_is_allowed_or_refused_as_aurora(current):
    for target in U._VALUES_TO_NAMES:
        if (current, target) in ALLOWED:
            u.check_transition(current, target)
        else:
            with pytest.raises(u.UpdateStateError) as e:
                u.check_transition(current, target)
            assert str(e.value) == (f"Cannot transition update from {U._VALUES_TO_NAMES[current]} "
                                    f"to {U._VALUES_TO_NAMES[target]}")


def test_variable_batch_sizes_forward_and_back():
    s = u.Strategy((1, 2, 3), batch=True, forward=True, variable=True)
    idle, sizes = set(range(10)), []
    while idle:
        group = s.next_group(idle, set())
        sizes.append(len(group))
        idle -= set(group)
    assert sizes == [1, 2, 3, 3, 1]
    back = u.Strategy((2, 3), batch=True, forward=False, variable=True)
    assert back.next_group({0, 1, 2, 3}, set()) == [3, 2]   # 4 undone as 2 + 2, highest instances first


# -- rolling forward ------------------------------------------------------------------------------------------
def test_update_rolls_forward_two_at_a_time_and_records_events():
    async def scenario(leader, log, clock):
        key = await start(leader, request())
        assert leader.status(key) == U.ROLLING_FORWARD
        assert [e.message for e in leader.details(key).updateEvents] == ["deploy"]
        assert leader.configs() == {0: ("KILLING", '{"v": 1}'), 1: ("KILLING", '{"v": 1}'),
                                    2: ("RUNNING", '{"v": 1}'), 3: ("RUNNING", '{"v": 1}')}
        killing = [t for t in leader.active() if t.status == S.KILLING]
        assert killing[0].taskEvents[-1].message == f"Killed for job update {key.id}"
        # While it updates, the job's own calls are refused.
        for method, args in (("killTasks", (KEY, None, None)), ("restartShards", (KEY, {2})),
                             ("addInstances", (InstanceKey(KEY, 2), 1)), ("createJob", (_job(KEY, 1),))):
            r = await api(leader, method, *args)
            assert (r.responseCode, r.details[0].message) == (UPDATING, "Job is currently updating"), method
        await leader.end_killed()
        assert leader.configs()[0] == ("PENDING", '{"v": 2}')
        await leader.move(S.RUNNING, data=NEW.data)
        assert leader.status(key) == U.ROLLING_FORWARD
        assert leader.configs()[2] == ("RUNNING", '{"v": 1}')      # not before 0 and 1 are watched
        await leader.advance(WATCH_MS - 1)
        assert leader.configs()[2] == ("RUNNING", '{"v": 1}')
        await leader.advance(1)
        assert leader.configs()[2] == ("KILLING", '{"v": 1}')
        await roll_group(leader)
        assert leader.status(key) == U.ROLLED_FORWARD
        assert set(leader.configs().values()) == {("RUNNING", '{"v": 2}')}
        assert leader.instance_events(key) == [
            (0, A.INSTANCE_UPDATING), (1, A.INSTANCE_UPDATING), (0, A.INSTANCE_UPDATED), (1, A.INSTANCE_UPDATED),
            (2, A.INSTANCE_UPDATING), (3, A.INSTANCE_UPDATING), (2, A.INSTANCE_UPDATED), (3, A.INSTANCE_UPDATED)]
        r = await api(leader, "killTasks", KEY, {3}, None)
        assert r.responseCode == OK                                 # the job is its own again
    _run(scenario)


def test_update_adds_and_removes_instances():
    async def scenario(leader, log, clock):
        key = await start(leader, request(instances=2, executor=OLD))   # 4 -> 2, same config
        assert leader.configs()[2][0] == "KILLING" and leader.configs()[3][0] == "KILLING"
        await leader.end_killed()
        assert leader.status(key) == U.ROLLED_FORWARD
        key = await start(leader, request(instances=3, executor=OLD))   # 2 -> 3
        assert leader.configs()[2] == ("PENDING", '{"v": 1}')
        await leader.move(S.RUNNING, instances={2})
        await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLLED_FORWARD
        assert leader.instance_events(key) == [(2, A.INSTANCE_UPDATING), (2, A.INSTANCE_UPDATED)]
    _run(scenario)


def test_an_unchanged_job_starts_no_update():
    async def scenario(leader, log, clock):
        r = await api(leader, "startJobUpdate", request(executor=OLD), None)
        assert (r.responseCode, r.details[0].message) == (OK, "Job is unchanged by proposed update.")
        assert r.result is None and leader.storage.store.job_updates == {}
    _run(scenario)


def test_update_only_these_instances():
    async def scenario(leader, log, clock):
        key = await start(leader, request(updateOnlyTheseInstances={Range(1, 2)}))
        await roll_group(leader)
        assert leader.status(key) == U.ROLLED_FORWARD
        assert {i: c[1] for i, c in leader.configs().items()} == {0: '{"v": 1}', 1: '{"v": 2}', 2: '{"v": 2}',
                                                                   3: '{"v": 1}'}
    _run(scenario)


# -- failures and rollback --------------------------------------------------------------------------------------
def test_a_failing_new_version_is_rolled_back_to_the_old_config():
    async def scenario(leader, log, clock):
        key = await start(leader, request())
        await leader.end_killed()
        await leader.move(S.FAILED, data=NEW.data)        # the new version exits at once
        assert leader.status(key) == U.ROLLING_BACK
        # Backwards from the highest instance: 3 and 2 run their first config already and are watched ...
        assert leader.configs()[0] == ("PENDING", '{"v": 2}')      # the failed service task, rescheduled
        await leader.advance(WATCH_MS)
        # ... then the new tasks of 1 and 0 are killed (PENDING: deleted) and the old config comes back.
        assert {i: c[1] for i, c in leader.configs().items()} == {i: '{"v": 1}' for i in range(4)}
        await leader.move(S.RUNNING, instances={0, 1})
        await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLLED_BACK
        events = leader.instance_events(key)
        assert events[:4] == [(0, A.INSTANCE_UPDATING), (1, A.INSTANCE_UPDATING), (0, A.INSTANCE_UPDATE_FAILED),
                              (1, A.INSTANCE_UPDATE_FAILED)]
        assert events[4:] == [(3, A.INSTANCE_ROLLING_BACK), (2, A.INSTANCE_ROLLING_BACK),   # highest first
                              (3, A.INSTANCE_ROLLED_BACK), (2, A.INSTANCE_ROLLED_BACK),
                              (1, A.INSTANCE_ROLLING_BACK), (0, A.INSTANCE_ROLLING_BACK),
                              (0, A.INSTANCE_ROLLED_BACK), (1, A.INSTANCE_ROLLED_BACK)]
    _run(scenario)


def test_without_rollback_a_failure_fails_the_update():
    async def scenario(leader, log, clock):
        key = await start(leader, request(rollbackOnFailure=False))
        await leader.end_killed()
        await leader.move(S.FAILED, data=NEW.data)
        assert leader.status(key) == U.FAILED
    _run(scenario)


def test_per_instance_failures_are_tolerated_up_to_the_limit():
    async def scenario(leader, log, clock):
        key = await start(leader, request(instances=4, maxPerInstanceFailures=1, updateGroupSize=1))
        await leader.end_killed()
        await leader.move(S.FAILED, data=NEW.data)        # one failure of instance 0: tolerated, retried
        assert leader.status(key) == U.ROLLING_FORWARD
        await leader.move(S.FAILED, data=NEW.data)        # a second one: the instance failed
        assert leader.status(key) == U.ROLLING_BACK
    _run(scenario)


def test_rollback_on_request_removes_added_instances():
    async def scenario(leader, log, clock):
        key = await start(leader, request(instances=6, updateGroupSize=6))
        await leader.end_killed()
        assert len(leader.active()) == 6
        r = await api(leader, "rollbackJobUpdate", key, "stop")
        assert r.responseCode == OK, r
        assert leader.status(key) == U.ROLLING_BACK
        await leader.move(S.KILLED, instances={4, 5})       # PENDING new tasks are deleted at once anyway
        await leader.end_killed()
        await leader.move(S.RUNNING)
        await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLLED_BACK
        assert {i: c[1] for i, c in leader.configs().items()} == {i: '{"v": 1}' for i in range(4)}
    _run(scenario)


# -- pause, resume, abort ---------------------------------------------------------------------------------------
def test_pause_resume_abort_and_refused_transitions():
    async def scenario(leader, log, clock):
        key = await start(leader, request())
        r = await api(leader, "pauseJobUpdate", key, "hold")
        assert r.responseCode == OK and leader.status(key) == U.ROLL_FORWARD_PAUSED
        await leader.end_killed()                         # paused, as Aurora: nothing is replaced or started
        assert leader.configs() == {2: ("RUNNING", '{"v": 1}'), 3: ("RUNNING", '{"v": 1}')}
        r = await api(leader, "resumeJobUpdate", key, None)
        assert r.responseCode == OK and leader.status(key) == U.ROLLING_FORWARD
        assert leader.configs() == {0: ("PENDING", '{"v": 2}'), 1: ("PENDING", '{"v": 2}'),
                                    2: ("RUNNING", '{"v": 1}'), 3: ("RUNNING", '{"v": 1}')}
        await roll_group(leader)
        assert leader.configs()[2] == ("KILLING", '{"v": 1}')
        r = await api(leader, "abortJobUpdate", key, "enough")
        assert r.responseCode == OK and leader.status(key) == U.ABORTED
        assert [e.message for e in leader.details(key).updateEvents][-1] == "enough"
        assert [e.user for e in leader.details(key).updateEvents][-1] == "UNSECURE"
        r = await api(leader, "resumeJobUpdate", key, None)
        assert (r.responseCode, r.details[0].message) == (
            INVALID, "Cannot transition update from ABORTED to null")
        r = await api(leader, "abortJobUpdate", key, None)
        assert r.responseCode == OK                      # already there: nothing to do (changeUpdateStatus)
        assert len(leader.details(key).updateEvents) == 4
        r = await api(leader, "pauseJobUpdate", key, None)
        assert (r.responseCode, r.details[0].message) == (INVALID, "Cannot transition update from ABORTED to null")
        unknown = JobUpdateKey(job=KEY, id="nope")
        r = await api(leader, "pauseJobUpdate", unknown, None)
        assert (r.responseCode, r.details[0].message) == (
            INVALID,
            "Update does not exist: IJobUpdateKey{job=IJobKey{role=www, environment=prod, name=hello}, id=nope}")
    _run(scenario)


# -- strategies -------------------------------------------------------------------------------------------------
def test_batch_waits_for_the_whole_batch_and_autopauses():
    async def scenario(leader, log, clock):
        strategy = JobUpdateStrategy(batchStrategy=BatchJobUpdateStrategy(groupSize=2, autopauseAfterBatch=True))
        key = await start(leader, request(updateStrategy=strategy))
        await leader.end_killed()
        await leader.move(S.RUNNING, instances={0}, data=NEW.data)
        await leader.advance(WATCH_MS)                    # 0 done, 1 still PENDING: a queue would start 2
        assert leader.configs()[2] == ("RUNNING", '{"v": 1}')
        await leader.move(S.RUNNING, instances={1}, data=NEW.data)
        await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLL_FORWARD_PAUSED   # the batch is done: autopause
        assert leader.configs()[2] == ("RUNNING", '{"v": 1}')
        assert (await api(leader, "resumeJobUpdate", key, None)).responseCode == OK
        assert leader.configs()[2][0] == "KILLING" and leader.configs()[3][0] == "KILLING"
        await roll_group(leader)
        assert leader.status(key) == U.ROLLED_FORWARD
        updated = [i for i, a in leader.instance_events(key) if a == A.INSTANCE_UPDATED]
        assert sorted(updated) == [0, 1, 2, 3]            # the resumed updater did not record 0 and 1 again
    _run(scenario)


def test_a_rollback_does_not_autopause():
    """Autopause checks a new version batch by batch; rolling back to the old one goes through (an automatic
    rollback paused after its first batch would leave a broken job half restored)."""
    async def scenario(leader, log, clock):
        strategy = JobUpdateStrategy(batchStrategy=BatchJobUpdateStrategy(groupSize=1, autopauseAfterBatch=True))
        key = await start(leader, request(updateStrategy=strategy))
        await leader.end_killed()
        await leader.move(S.FAILED, data=NEW.data)        # instance 0's new version fails: roll back
        assert leader.status(key) == U.ROLLING_BACK
        for _ in range(4):                                 # 3, 2, 1 (watched), then 0 (restored)
            await leader.end_killed()
            await leader.move(S.RUNNING, data=OLD.data, instances={0})
            await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLLED_BACK
        assert U.ROLL_BACK_PAUSED not in [e.status for e in leader.details(key).updateEvents]
    _run(scenario)


def test_queue_strategy_refills_as_instances_finish():
    async def scenario(leader, log, clock):
        strategy = JobUpdateStrategy(queueStrategy=QueueJobUpdateStrategy(groupSize=2))
        await start(leader, request(updateStrategy=strategy))
        await leader.end_killed()
        await leader.move(S.RUNNING, instances={0}, data=NEW.data)
        await leader.advance(WATCH_MS)
        assert leader.configs()[2][0] == "KILLING"         # 0 done: 2 starts while 1 is still in flight
        assert leader.configs()[3] == ("RUNNING", '{"v": 1}')
    _run(scenario)


def test_variable_batch_groups():
    async def scenario(leader, log, clock):
        strategy = JobUpdateStrategy(varBatchStrategy=VariableBatchJobUpdateStrategy(groupSizes=[1, 3]))
        key = await start(leader, request(updateStrategy=strategy))
        assert [i for i, c in leader.configs().items() if c[0] == "KILLING"] == [0]
        await roll_group(leader)
        assert [i for i, c in leader.configs().items() if c[0] == "KILLING"] == [1, 2, 3]
        await roll_group(leader)
        assert leader.status(key) == U.ROLLED_FORWARD
    _run(scenario)


# -- pulses -----------------------------------------------------------------------------------------------------
def test_a_coordinated_update_waits_for_pulses():
    async def scenario(leader, log, clock):
        key = await start(leader, request(blockIfNoPulsesAfterMs=10_000))
        assert leader.status(key) == U.ROLL_FORWARD_AWAITING_PULSE
        assert [(e.status, e.message) for e in leader.details(key).updateEvents] == [
            (U.ROLL_FORWARD_AWAITING_PULSE, "deploy")]             # blocked from its first event, as Aurora
        assert all(c[0] == "RUNNING" for c in leader.configs().values())
        r = await api(leader, "pulseJobUpdate", key)
        assert r.result.pulseJobUpdateResult.status == JobUpdatePulseStatus.OK
        assert leader.status(key) == U.ROLLING_FORWARD
        assert leader.configs()[0][0] == "KILLING"
        await leader.advance(10_000)                      # no pulse for the timeout: blocked again
        assert leader.status(key) == U.ROLL_FORWARD_AWAITING_PULSE
        assert (await api(leader, "pulseJobUpdate", key)).responseCode == OK
        assert leader.status(key) == U.ROLLING_FORWARD
        await api(leader, "abortJobUpdate", key, None)
        r = await api(leader, "pulseJobUpdate", key)
        assert r.result.pulseJobUpdateResult.status == JobUpdatePulseStatus.FINISHED
        r = await api(leader, "pulseJobUpdate", JobUpdateKey(job=KEY, id="pruned-or-never"))
        assert r.result.pulseJobUpdateResult.status == JobUpdatePulseStatus.FINISHED    # as Aurora
        r = await api(leader, "pulseJobUpdate", JobUpdateKey(job=KEY, id=" "))
        assert (r.responseCode, r.details[0].message) == (ERROR, "update id must not be blank")
    _run(scenario)


# -- failover ---------------------------------------------------------------------------------------------------
def test_a_new_leader_resumes_rolling_updates_and_leaves_paused_ones():
    async def scenario(leader, log, clock):
        key = await start(leader, request())
        await roll_group(leader)                          # 0, 1 done; 2, 3 being killed
        await leader.updates.stop()
        second = await Leader(log, clock).promote()
        try:
            assert second.status(key) == U.ROLLING_FORWARD
            await roll_group(second)
            assert second.status(key) == U.ROLLED_FORWARD
            assert set(second.configs().values()) == {("RUNNING", '{"v": 2}')}
            updated = [i for i, a in second.instance_events(key) if a == A.INSTANCE_UPDATED]
            assert sorted(updated) == [0, 1, 2, 3]
            key2 = await start(second, request(executor=OLD))
            assert (await api(second, "pauseJobUpdate", key2, None)).responseCode == OK
        finally:
            await second.updates.stop()
        third = await Leader(log, clock).promote()
        try:
            assert third.status(key2) == U.ROLL_FORWARD_PAUSED
            assert third.updates.vars()["update_active_updaters"] == 0    # a paused update is not watched
        finally:
            await third.updates.stop()
    _run(scenario)


# -- bad requests -----------------------------------------------------------------------------------------------
BAD = [
    (dict(updateGroupSize=0), "updateGroupSize must be positive."),
    (dict(updateStrategy=JobUpdateStrategy(varBatchStrategy=VariableBatchJobUpdateStrategy(groupSizes=[2, 0]))),
     "updateGroupSize must be positive."),
    (dict(maxPerInstanceFailures=-1), "maxPerInstanceFailures must be non-negative."),
    (dict(maxFailedInstances=-1), "maxFailedInstances must be non-negative."),
    (dict(maxPerInstanceFailures=26), "Your update allows too many failures to occur, consider decreasing the "
                                      "per-instance failures or maxFailedInstances."),
    (dict(minWaitInInstanceRunningMs=-1), "minWaitInInstanceRunningMs must be non-negative."),
    (dict(blockIfNoPulsesAfterMs=0), "blockIfNoPulsesAfterMs must be positive."),
    (dict(updateOnlyTheseInstances={Range(3, 1)}), "Invalid range: [3..1]"),
    (dict(updateOnlyTheseInstances={Range(0, 2), Range(2, 3)}),
     "Overlapping ranges not permitted in ImmutableRangeSet: [0..2] overlaps with [2..3]"),
    (dict(updateOnlyTheseInstances={Range(3, 9)}),
     "The update request attempted to update specific instances, not all of which exist in either the current "
     "job or the update: [4, 5, 6, 7, 8, 9]"),
]


@pytest.mark.parametrize("settings,message", BAD)
def test_bad_update_requests_are_refused_with_nothing_saved(settings, message):
    async def scenario(leader, log, clock):
        before = len([e async for e in log.read()])
        r = await api(leader, "startJobUpdate", request(**settings), None)
        assert (r.responseCode, r.details[0].message) == (INVALID, message)
        assert leader.storage.store.job_updates == {}
        assert len([e async for e in log.read()]) == before
    _run(scenario)


def test_one_update_at_a_time_and_not_for_batch_or_cron_jobs():
    async def scenario(leader, log, clock):
        key = await start(leader, request())
        r = await api(leader, "startJobUpdate", request(executor=OLD), None)
        assert r.responseCode == INVALID and r.details[0].message.startswith(
            "An active update already exists for this job")
        assert r.result.startJobUpdateResult.key == key
        req = request()
        req.taskConfig.isService = False
        r = await api(leader, "startJobUpdate", req, None)
        assert (r.responseCode, r.details[0].message) == (INVALID, "Updates are not supported for non-service tasks.")
    _run(scenario)


def test_update_of_a_job_without_tasks_creates_its_instances():
    """As Aurora: the update's initial state is empty and every instance is added."""
    async def scenario(leader, log, clock):
        key = await start(leader, request(instances=2))
        assert leader.configs() == {0: ("PENDING", '{"v": 2}'), 1: ("PENDING", '{"v": 2}')}
        await leader.move(S.RUNNING)
        await leader.advance(WATCH_MS)
        assert leader.status(key) == U.ROLLED_FORWARD
    _run(scenario, instances=0)


def test_updates_are_held_to_the_roles_quota_worst_case_of_old_and_new():
    """Production tasks: the update counts, per instance, the larger of the old and new config; accepted at the
    boundary, refused one instance above it with Aurora's message, nothing saved."""
    from scheduler.api.summaries import aggregate
    from thermos_executor.aurora_api.gen.ttypes import Resource

    async def scenario(leader, log, clock):
        assert (await api(leader, "setQuota", "www", aggregate(4.0, 1024, 1024))).responseCode == OK
        job = _job(KEY, 4, isService=True, executorConfig=OLD, tier="preferred")
        assert (await api(leader, "createJob", job)).responseCode == OK     # 4 x 0.5 cpu
        bigger = {Resource(numCpus=1.0), Resource(ramMb=128), Resource(diskMb=64), Resource(namedPort="http")}
        too_many = request(instances=5)
        too_many.taskConfig.tier, too_many.taskConfig.resources = "preferred", bigger
        r = await api(leader, "startJobUpdate", too_many, None)
        assert (r.responseCode, r.details[0].message) == (
            INVALID, "Insufficient resource quota: CPU quota exceeded by 1.00 core(s)")
        assert leader.storage.store.job_updates == {}
        at_limit = request(instances=4)
        at_limit.taskConfig.tier, at_limit.taskConfig.resources = "preferred", bigger
        assert (await api(leader, "startJobUpdate", at_limit, None)).responseCode == OK   # 4 x 1.0 = 4.0
    _run(scenario, instances=0)
