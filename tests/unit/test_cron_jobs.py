"""Cron jobs end to end in process: the four API calls through a Thrift client (Aurora's checks, messages and
codes, what they leave in storage), getJobSummary's nextCronRunMs, and CronTimers firing on an injected clock
and fake `call_later`: a run inserts the tasks and records itself in one write, KILL_EXISTING kills then
launches after the backoff, CANCEL_NEW skips, and across a failover (a second storage replaying the same log) a
recorded run is not repeated and a run missed while no leader ran fires once at promotion."""
import asyncio
import copy
import datetime as dt
import itertools

from scheduler.api import protocol as wire
from scheduler.api.admin import Handlers
from scheduler.api.cron import CronApi
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.app.cron import CronTimers
from scheduler.state import cron
from scheduler.state.status import ACTIVE
from scheduler.state.status import ScheduleStatus as S
from scheduler.state.task_ids import TaskIdGenerator
from scheduler.storage.durable import DurableStorage
from scheduler.storage.gen import ttypes as st
from scheduler.storage.log import MemoryLog
from tests.unit.test_api_jobs import _job
from tests.unit.test_scheduler_timers import FakeLoopTimers
from tests.unit.test_state_manager import Clock
from thermos_executor.aurora_api.gen.ttypes import CronCollisionPolicy, JobKey, ResponseCode, TaskQuery

OK, INVALID, ERROR = ResponseCode.OK, ResponseCode.INVALID_REQUEST, ResponseCode.ERROR
KEY = JobKey(role="www", environment="prod", name="hello")
K = ("www", "prod", "hello")
SETTINGS = ApiSettings(cluster_name="devcluster")
GMT = cron.zone("GMT")
T0 = int(dt.datetime(2026, 1, 1, 10, 0, 30, tzinfo=dt.UTC).timestamp() * 1000)   # 10:00:30
MIN = 60_000


def cron_job(schedule="* * * * *", instances=2, policy=None, key=KEY):
    job = _job(key, instances)
    job.cronSchedule = schedule
    job.cronCollisionPolicy = policy
    return job


class Leader:
    """One scheduler's storage (on a shared MemoryLog), manager, cron timers and API, on a fake clock."""

    def __init__(self, log: MemoryLog, clock: Clock, initial_backoff_s=5, max_backoff_s=60):
        self.storage = DurableStorage(log)
        self.clock = clock
        self.loop_timers = FakeLoopTimers(clock)
        counter = itertools.count()
        self.kills = []
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=clock, hostname="h",
                                    task_ids=TaskIdGenerator(clock, lambda: f"uuid{next(counter)}"))
        self.cron = CronTimers(self.manager, tz=GMT, initial_backoff_s=initial_backoff_s,
                               max_backoff_s=max_backoff_s, call_later=self.loop_timers.call_later)
        self.api = Handlers(SchedulerApi(self.storage, self.manager, SETTINGS, next_cron_run=self.cron.next_run_ms),
                            CronApi(self.storage, SETTINGS, tz=GMT, runs=self.cron, clock_ms=clock))

    async def promote(self):
        await self.storage.prepare()
        await self.storage.start()
        self.cron.start()
        await self.cron.idle()
        return self

    async def advance(self, ms):
        self.loop_timers.advance(ms)
        await self.cron.idle()

    def tasks(self, statuses=None):
        return self.storage.store.tasks.fetch(TaskQuery(jobKeys={KEY}, statuses=statuses))

    def active(self):
        return self.tasks(set(ACTIVE))

    async def run_all(self):
        """The job's PENDING tasks placed and RUNNING (a PENDING task killed ends at once)."""
        async with self.manager.transaction() as tx:
            for t in self.tasks({S.PENDING}):
                tx.assign_task(t.assignedTask.taskId, "host", "agent", {})
                tx.change_state(t.assignedTask.taskId, S.RUNNING)

    async def finish(self, status=S.KILLED):
        async with self.manager.transaction() as tx:
            for t in self.active():
                tx.change_state(t.assignedTask.taskId, status)


def api(leader, method, *args):
    """Call `method` through the Thrift wire (TJSON) from inside the loop."""
    from thrift.protocol import TJSONProtocol
    from thrift.transport import TTransport
    from thermos_executor.aurora_api.gen import AuroraAdmin

    async def go():
        out = TTransport.TMemoryBuffer()
        c = AuroraAdmin.Client(TJSONProtocol.TJSONProtocol(out))
        getattr(c, "send_" + method)(*args)
        reply = await wire.call(leader.api, out.getvalue(), "application/vnd.apache.thrift.json",
                                "application/vnd.apache.thrift.json")
        assert reply.status == 200
        c._iprot = TJSONProtocol.TJSONProtocol(TTransport.TMemoryBuffer(reply.body))
        response = getattr(c, "recv_" + method)()
        await leader.cron.idle()
        return response
    return go()


def _run(scenario):
    async def main():
        log, clock = MemoryLog(), Clock(T0)
        leader = await Leader(log, clock).promote()
        try:
            await scenario(leader, log, clock)
        finally:
            await leader.cron.stop()
    asyncio.run(main())


async def _entries(log):
    return len([e async for e in log.read()])


def _messages(response):
    return [d.message for d in response.details or ()]


# -- the calls -------------------------------------------------------------------------------------------------
def test_schedule_saves_the_template_and_counts_runs_from_now():
    async def scenario(leader, log, clock):
        r = await api(leader, "scheduleCronJob", cron_job())
        assert r.responseCode == OK, r
        assert leader.storage.store.cron_jobs[K].cronSchedule == "* * * * *"
        assert leader.storage.store.cron_last_run[K] == T0
        assert leader.tasks() == []                       # nothing runs until the schedule says so
        summary = (await api(leader, "getJobSummary", "www")).result.jobSummaryResult.summaries
        assert [s.nextCronRunMs for s in summary] == [T0 + 30_000]   # 10:01:00
    _run(scenario)


def test_schedule_refusals_with_aurora_s_messages():
    async def scenario(leader, log, clock):
        plain = _job(KEY, 1)
        r = await api(leader, "scheduleCronJob", plain)
        assert (r.responseCode, _messages(r)) == (INVALID, ["Job www/prod/hello has no cron schedule"])
        r = await api(leader, "scheduleCronJob", cron_job("61 * * * *"))
        assert (r.responseCode, _messages(r)) == (INVALID, ["Invalid cron schedule: 61 * * * *"])
        r = await api(leader, "scheduleCronJob", cron_job(""))
        assert (r.responseCode, _messages(r)) == (
            INVALID, ["Not a valid cron job, www/prod/hello has no cron schedule"])
        r = await api(leader, "scheduleCronJob", cron_job(policy=CronCollisionPolicy.RUN_OVERLAP))
        assert (r.responseCode, _messages(r)) == (INVALID, [cron.RUN_OVERLAP_REMOVED])
        r = await api(leader, "scheduleCronJob", cron_job(instances=5000))
        assert (r.responseCode, _messages(r)) == (INVALID, ["Instance count must be between 1 and 4000 inclusive."])
        r = await api(leader, "replaceCronTemplate", cron_job())
        assert (r.responseCode, _messages(r)) == (INVALID, ["No cron job found for www/prod/hello."])
        r = await api(leader, "createJob", plain)
        assert r.responseCode == OK
        r = await api(leader, "scheduleCronJob", cron_job())   # a non-cron job of that key is active
        assert (r.responseCode, _messages(r)) == (INVALID, ["Job www/prod/hello already exists"])
        assert leader.storage.store.cron_jobs == {}
    _run(scenario)


def test_a_production_template_is_checked_against_the_role_s_quota():
    async def scenario(leader, log, clock):
        from thermos_executor.aurora_api.gen.ttypes import ResourceAggregate
        from thermos_executor.aurora_api.gen.ttypes import Resource as R
        quota = ResourceAggregate(resources={R(numCpus=1.0), R(ramMb=256), R(diskMb=128)})
        assert (await api(leader, "setQuota", "www", quota)).responseCode == OK
        big = cron_job(instances=3)                      # 3 x 0.5 cpu, 128 MB, 64 MB: over by 0.5 / 128 / 64
        big.taskConfig.production, big.taskConfig.tier = True, "preferred"
        r = await api(leader, "scheduleCronJob", big)
        assert (r.responseCode, _messages(r)) == (INVALID, [
            "Insufficient resource quota: CPU quota exceeded by 0.50 core(s); RAM quota exceeded by 128.00 MB; "
            "disk quota exceeded by 64.00 MB"])
        assert leader.storage.store.cron_jobs == {}
        fits = cron_job(instances=2)
        fits.taskConfig.production, fits.taskConfig.tier = True, "preferred"
        assert (await api(leader, "scheduleCronJob", fits)).responseCode == OK     # exactly the quota
    _run(scenario)


def test_replace_and_deschedule_and_start():
    async def scenario(leader, log, clock):
        assert (await api(leader, "scheduleCronJob", cron_job())).responseCode == OK
        r = await api(leader, "scheduleCronJob", cron_job("0 * * * *"))      # an existing one is replaced
        assert r.responseCode == OK and leader.storage.store.cron_jobs[K].cronSchedule == "0 * * * *"
        r = await api(leader, "replaceCronTemplate", cron_job("*/5 * * * *", instances=1))
        assert r.responseCode == OK and leader.storage.store.cron_jobs[K].instanceCount == 1
        r = await api(leader, "startCronJob", KEY)
        assert r.responseCode == OK
        assert [t.assignedTask.instanceId for t in leader.active()] == [0]
        assert leader.storage.store.cron_last_run[K] == T0                  # a manual run is not a scheduled one
        r = await api(leader, "descheduleCronJob", KEY)
        assert r.responseCode == OK and leader.storage.store.cron_jobs == {}
        assert K not in leader.storage.store.cron_last_run
        r = await api(leader, "descheduleCronJob", KEY)
        assert (r.responseCode, _messages(r)) == (OK, ["Job www/prod/hello is not scheduled with cron"])
        r = await api(leader, "startCronJob", KEY)
        assert (r.responseCode, _messages(r)) == (
            INVALID, ["Failed to start cron job - No cron job found for www/prod/hello."])
        r = await api(leader, "startCronJob", JobKey(role="www", environment="prod", name="bad name"))
        assert r.responseCode == ERROR
        await leader.advance(10 * MIN)
        assert len(leader.tasks()) == 1                                     # descheduled: no more runs
    _run(scenario)


# -- firing ----------------------------------------------------------------------------------------------------
def test_a_run_inserts_the_tasks_and_records_itself_in_one_write():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        entries = await _entries(log)
        await leader.advance(29_999)
        assert leader.tasks() == []
        await leader.advance(1)                                            # 10:01:00
        assert sorted(t.assignedTask.instanceId for t in leader.active()) == [0, 1]
        assert leader.storage.store.cron_last_run[K] == T0 + 30_000
        assert await _entries(log) == entries + 1                        # tasks and record: one entry
        assert leader.cron.vars()["cron_job_launches"] == 1
    _run(scenario)


def test_kill_existing_kills_then_launches_after_the_backoff():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        await leader.advance(30_000)                                        # run 1 at 10:01
        await leader.run_all()
        first = {t.assignedTask.taskId for t in leader.active()}
        await leader.advance(MIN)                                           # run 2 at 10:02: kill first
        assert {t.assignedTask.taskId for t in leader.tasks({S.KILLING})} == first
        assert leader.storage.store.cron_last_run[K] == T0 + 30_000        # not recorded yet
        await leader.advance(5_000)                                         # still KILLING: wait 10 s more
        assert {t.assignedTask.taskId for t in leader.active()} == first
        await leader.finish()
        await leader.advance(10_000)
        second = {t.assignedTask.taskId for t in leader.active()}
        assert len(second) == 2 and not second & first
        assert leader.storage.store.cron_last_run[K] == T0 + 90_000        # run 2 recorded with its launch
        assert all(e.message == cron.KILL_AUDIT_MESSAGE for t in leader.tasks({S.KILLED})
                   for e in t.taskEvents if e.status == S.KILLING)
    _run(scenario)


def test_cancel_new_skips_a_run_while_tasks_are_active_and_records_it():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job(policy=CronCollisionPolicy.CANCEL_NEW))
        await leader.advance(30_000)
        await leader.run_all()
        first = {t.assignedTask.taskId for t in leader.active()}
        await leader.advance(MIN)
        assert {t.assignedTask.taskId for t in leader.active()} == first and leader.kills == []
        assert leader.storage.store.cron_last_run[K] == T0 + 90_000
        await leader.finish(S.FINISHED)
        await leader.advance(MIN)
        assert len(leader.active()) == 2
    _run(scenario)


# -- failover --------------------------------------------------------------------------------------------------
def test_a_new_leader_does_not_repeat_a_recorded_run():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        await leader.advance(30_000)                                        # 10:01 fired and recorded
        await leader.run_all()
        await leader.cron.stop()
        clock.now += 10_000                                                 # 10:01:10: failover
        successor = await Leader(log, clock).promote()
        try:
            assert len(successor.tasks()) == 2                              # the replayed run, not a second one
            assert successor.storage.store.cron_last_run[K] == T0 + 30_000
            await successor.advance(50_000)                                 # 10:02: the next run kills run 1
            assert len(successor.tasks({S.KILLING})) == 2 and len(successor.tasks()) == 2
        finally:
            await successor.cron.stop()
    _run(scenario)


def test_a_run_missed_while_no_leader_ran_fires_once_at_promotion():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        await leader.cron.stop()                                            # the leader dies at 10:00:30
        clock.now += 5 * MIN                                                # 10:05:30: four runs came due
        successor = await Leader(log, clock).promote()
        try:
            assert len(successor.tasks()) == 2                              # one run, not four
            assert successor.storage.store.cron_last_run[K] == T0 + 4 * MIN + 30_000   # 10:05
            await successor.advance(29_000)
            assert len(successor.tasks()) == 2
        finally:
            await successor.cron.stop()
    _run(scenario)


def test_a_leader_dying_between_kill_and_launch_leaves_the_run_to_its_successor():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        await leader.advance(30_000)
        await leader.run_all()
        await leader.advance(MIN)                                           # 10:02: killing, not recorded
        await leader.cron.stop()
        successor = await Leader(log, clock).promote()
        try:
            await successor.finish()
            await successor.advance(5_000)
            assert len(successor.active()) == 2                              # launched by the successor
            assert successor.storage.store.cron_last_run[K] == T0 + 90_000
            assert len(successor.tasks()) == 4
        finally:
            await successor.cron.stop()
    _run(scenario)


def test_a_job_stored_without_a_last_run_counts_from_promotion():
    async def scenario(leader, log, clock):
        async with leader.storage.write() as w:
            w.save_cron_job(copy.copy(cron_job()))                         # as Aurora's log would carry it
        await leader.cron.stop()
        clock.now += 5 * MIN
        successor = await Leader(log, clock).promote()
        try:
            assert successor.tasks() == []
            await successor.advance(30_000)
            assert len(successor.tasks()) == 2
        finally:
            await successor.cron.stop()
    _run(scenario)


def test_the_last_run_survives_a_snapshot_and_its_undo():
    from scheduler.storage import snapshot
    from scheduler.storage.store import Store
    store = Store()
    undo_save = store.apply(st.Op(saveCronJob=st.SaveCronJob(jobConfig=cron_job(), lastRunMs=T0)))
    restored = Store()
    snapshot.load(restored, snapshot.build(store, T0))
    assert restored.cron_last_run == {K: T0} and restored.cron_jobs == store.cron_jobs
    undo_remove = store.apply(st.Op(removeJob=st.RemoveJob(jobKey=KEY)))
    assert store.cron_jobs == {} and store.cron_last_run == {}
    undo_remove()
    assert store.cron_last_run == {K: T0}
    undo_save()
    assert store.cron_jobs == {} and store.cron_last_run == {}


def test_a_run_whose_write_fails_is_retried_after_a_pause_not_lost():
    async def scenario(leader, log, clock):
        await api(leader, "scheduleCronJob", cron_job())
        log.fail_next_append()
        await leader.advance(30_000)                                        # 10:01: the write fails
        assert leader.tasks() == [] and leader.storage.store.cron_last_run[K] == T0
        await leader.advance(4_999)
        assert leader.tasks() == []                                         # no tight loop: waits 5 s
        await leader.advance(1)
        assert len(leader.active()) == 2 and leader.storage.store.cron_last_run[K] == T0 + 30_000
    _run(scenario)
