"""The scheduler on Mesos, end to end: real ZooKeeper, three `aurora-scheduler` processes, the Mesos-API
stand-in with several agents, and real Thermos executors and runners (against the Mesos-API stand-in)."""
from __future__ import annotations

import pytest

import os
import signal

from thermos_executor.aurora_api.gen.ttypes import (ExplicitReconciliationSettings, Hosts, MaintenanceMode,
                                                    ResponseCode, ScheduleStatus, TaskQuery)

from tests.integration.schedmesos import MesosCluster, key

S = ScheduleStatus

# Agents say their host name as an attribute, as Aurora operators do (`--attributes host:...`): Aurora does
# not make a `host` attribute up, so `limit:host` needs it.
AGENTS = [{"attributes": "host:agent1;rack:a"}, {"attributes": "host:agent2;rack:b"},
          {"attributes": "host:agent3;rack:c;dedicated:www/special"}]


def job(name: str, cmdline: str, *, service: bool = False, instances: int = 1, extra: str = "",
        role: str = "www", cpu: float = 0.1) -> str:
    kind = "Service" if service else "Job"
    return f"""
        task = Task(processes=[Process(name='main', cmdline={cmdline!r})],
                    resources=Resources(cpu={cpu}, ram=8*MB, disk=8*MB))
        jobs = [{kind}(cluster='test', role='{role}', environment='prod', name='{name}', task=task,
                       instances={instances}{extra})]
    """


@pytest.fixture
def cluster(tmp_path, zookeeper):
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=AGENTS) as c:
        yield c


def statuses(tasks) -> list:
    return sorted(S._VALUES_TO_NAMES[t.status] for t in tasks)


def test_create_runs_then_finishes(cluster):
    cluster.create(job("hello", "sleep 1; echo hi"))
    tasks = cluster.wait_tasks("www/prod/hello", lambda ts: ts and all(t.status == S.FINISHED for t in ts),
                               what="the job's task to finish")
    (task,) = tasks
    events = [e.status for e in task.taskEvents]
    assert events[:2] == [S.PENDING, S.ASSIGNED] and S.RUNNING in events and events[-1] == S.FINISHED
    assert task.assignedTask.slaveHost.startswith("agent") and task.assignedTask.slaveId


def test_failing_task_is_rescheduled_within_max_task_failures_then_failed(cluster):
    cluster.create(job("flaky", "exit 1", extra=", max_task_failures=2"))
    tasks = cluster.wait_tasks("www/prod/flaky", lambda ts: len(ts) == 2 and all(t.status == S.FAILED for t in ts),
                               what="two failed attempts")
    assert sorted(t.failureCount for t in tasks) == [1, 2]
    assert cluster.tasks("www/prod/flaky", statuses={S.PENDING, S.THROTTLED}) == []


def test_service_is_restarted_after_it_finishes(cluster):
    cluster.create(job("svc", "sleep 0.5", service=True))
    cluster.wait_tasks("www/prod/svc", lambda ts: sum(t.status == S.FINISHED for t in ts) >= 2,
                       what="the service to finish twice and be restarted")


def test_kill_kills_running_tasks(cluster):
    cluster.create(job("long", "sleep 600", instances=2))
    cluster.wait_tasks("www/prod/long", lambda ts: len(ts) == 2 and all(t.status == S.RUNNING for t in ts),
                       what="two RUNNING tasks")
    reply = cluster.client().killTasks(key("www/prod/long"), None, "bye")
    assert reply.responseCode == ResponseCode.OK, reply
    cluster.wait_tasks("www/prod/long", lambda ts: len(ts) == 2 and all(t.status == S.KILLED for t in ts),
                       what="both tasks KILLED")


def running(n: int):
    return lambda ts: len([t for t in ts if t.status == S.RUNNING]) == n


def test_limit_spreads_value_pins_dedicated_refuses_and_pending_reasons(cluster):
    cluster.create(job("spread", "sleep 600", instances=3, extra=", constraints={'host': 'limit:1'}"))
    cluster.create(job("pinned", "sleep 600", instances=2, extra=", constraints={'rack': 'b'}"), name="b.aurora")
    cluster.create(job("special", "sleep 600", extra=", constraints={'dedicated': 'www/special'}"),
                   name="c.aurora")
    cluster.create(job("huge", "sleep 600", cpu=100), name="d.aurora")
    spread = cluster.wait_tasks("www/prod/spread", running(2), what="two spread instances")
    assert sorted(t.assignedTask.slaveHost for t in spread if t.status == S.RUNNING) == ["agent1", "agent2"]
    pinned = cluster.wait_tasks("www/prod/pinned", running(2), what="pinned instances")
    assert {t.assignedTask.slaveHost for t in pinned} == {"agent2"}
    (special,) = cluster.wait_tasks("www/prod/special", running(1), what="the dedicated job")
    assert special.assignedTask.slaveHost == "agent3"

    def reasons(job_key):
        reply = cluster.client().getPendingReason(TaskQuery(jobKeys={key(job_key)}))
        assert reply.responseCode == ResponseCode.OK, reply
        return {r.reason for r in reply.result.getPendingReasonResult.reasons}
    # The third instance finds agent1 and agent2 taken by the limit and agent3 dedicated: the nearest fit is
    # the limit (a weaker veto than a dedicated host).
    assert cluster.wait_tasks("www/prod/spread", lambda ts: reasons("www/prod/spread") == {"Limit not satisfied: host"},
                              what="the limit as the pending reason")
    assert cluster.wait_tasks("www/prod/huge", lambda ts: reasons("www/prod/huge") == {"Insufficient: CPU"},
                              what="Insufficient: CPU as the pending reason")
    bad = cluster.client().getPendingReason(TaskQuery(statuses={S.RUNNING}))
    assert bad.responseCode == ResponseCode.INVALID_REQUEST
    assert bad.details[0].message.startswith("Statuses or slaveHosts are not supported in TaskQuery(")


def test_flapping_service_is_throttled(cluster):
    cluster.create(job("flap", "exit 0", service=True))
    tasks = cluster.wait_tasks("www/prod/flap", lambda ts: any(t.status == S.THROTTLED for t in ts),
                               what="a THROTTLED replacement")
    (throttled,) = [t for t in tasks if t.status == S.THROTTLED]
    assert throttled.taskEvents[-1].message == "Rescheduled, penalized for 2000 ms for flapping"
    cluster.wait_tasks("www/prod/flap", lambda ts: any(t.assignedTask.taskId == throttled.assignedTask.taskId
                                                       and t.status not in (S.THROTTLED, S.PENDING) for t in ts),
                       what="the throttled task to be released and placed")


def test_restart_replaces_the_task(cluster):
    cluster.create(job("rs", "sleep 600", service=True))
    (first,) = cluster.wait_tasks("www/prod/rs", running(1), what="RUNNING")
    assert cluster.client().restartShards(key("www/prod/rs"), {0}).responseCode == ResponseCode.OK
    tasks = cluster.wait_tasks("www/prod/rs", lambda ts: len(ts) == 2 and running(1)(ts), what="a new RUNNING task")
    old = next(t for t in tasks if t.assignedTask.taskId == first.assignedTask.taskId)
    assert old.status == S.KILLED and S.RESTARTING in [e.status for e in old.taskEvents]


def test_leader_killed_tasks_keep_running_and_nothing_is_launched_twice(cluster):
    cluster.create(job("ha", "sleep 600", service=True, instances=2))
    before = cluster.wait_tasks("www/prod/ha", running(2), what="two RUNNING tasks")
    frameworks = cluster.mesos.state()["frameworks"]
    (framework_id,) = [f["id"] for f in frameworks]
    leader = cluster.sched.wait_leader()
    cluster.sched.kill(leader)
    new = cluster.sched.wait_leader(exclude=(leader,))
    after = cluster.wait_tasks("www/prod/ha", running(2), what="the tasks still RUNNING under the new leader")
    assert {t.assignedTask.taskId for t in after} == {t.assignedTask.taskId for t in before}
    state = cluster.mesos.state()
    assert [f["id"] for f in state["frameworks"]] == [framework_id]      # failed over, not a new framework
    (fw,) = state["frameworks"]
    assert fw["active"] and len(fw["tasks"]) == 2 and fw["completed_tasks"] == []
    assert new != leader
    reply = cluster.client().triggerExplicitTaskReconciliation(ExplicitReconciliationSettings(batchSize=1))
    assert reply.responseCode == ResponseCode.OK, reply
    reply = cluster.client().triggerImplicitTaskReconciliation()
    assert reply.responseCode == ResponseCode.OK, reply
    bad = cluster.client().triggerExplicitTaskReconciliation(ExplicitReconciliationSettings(batchSize=0))
    assert bad.responseCode == ResponseCode.INVALID_REQUEST
    assert bad.details[0].message == "Batch size must be greater than zero."
    after = cluster.wait_tasks("www/prod/ha", running(2), what="the tasks RUNNING after reconciliation")
    assert {t.assignedTask.taskId for t in after} == {t.assignedTask.taskId for t in before}


def test_executor_killed_task_rescheduled_and_lost_agent_tasks_lost_and_rescheduled(cluster):
    cluster.create(job("victim", "sleep 600", service=True, extra=", constraints={'rack': 'a'}"))
    (task,) = cluster.wait_tasks("www/prod/victim", running(1), what="RUNNING")
    pid = cluster.mesos.executor_pid("thermos-" + task.assignedTask.taskId)
    os.kill(pid, signal.SIGKILL)
    tasks = cluster.wait_tasks("www/prod/victim", lambda ts: len(ts) == 2 and running(1)(ts),
                               what="a replacement RUNNING")
    old = next(t for t in tasks if t.assignedTask.taskId == task.assignedTask.taskId)
    assert old.status == S.FAILED and old.taskEvents[-1].message.startswith("Executor terminated")
    cluster.mesos.faults.lose_agent(rejoin=True, agent="agent1")
    tasks = cluster.wait_tasks("www/prod/victim", lambda ts: any(t.status == S.LOST for t in ts) and running(1)(ts),
                               what="the lost agent's task LOST and a replacement RUNNING")


def test_agent_restart_keeps_tasks(cluster):
    cluster.create(job("steady", "sleep 600", service=True, extra=", constraints={'rack': 'b'}"))
    (task,) = cluster.wait_tasks("www/prod/steady", running(1), what="RUNNING")
    cluster.mesos.faults.restart_agent(agent="agent2")
    executor = "thermos-" + task.assignedTask.taskId
    from tests.helpers import wait_for
    wait_for(lambda: any(e["id"] == executor for f in cluster.mesos.agent_state("agent2")["frameworks"]
                         for e in f["executors"]), 30, what="the executor to re-subscribe")
    assert cluster.client().killTasks(key("www/prod/steady"), None, None).responseCode == ResponseCode.OK
    (killed,) = cluster.wait_tasks("www/prod/steady", lambda ts: ts and ts[0].status == S.KILLED, what="KILLED")
    assert killed.assignedTask.taskId == task.assignedTask.taskId


def test_drained_host_is_emptied(cluster):
    cluster.create(job("drain", "sleep 600", service=True, instances=2, extra=", constraints={'host': 'limit:1'}"))
    tasks = cluster.wait_tasks("www/prod/drain", running(2), what="two RUNNING")
    assert {t.assignedTask.slaveHost for t in tasks} == {"agent1", "agent2"}
    reply = cluster.client().drainHosts(Hosts(hostNames={"agent1"}))
    assert reply.responseCode == ResponseCode.OK, reply
    tasks = cluster.wait_tasks("www/prod/drain", lambda ts: len(ts) == 3, what="the drained task replaced")
    drained = next(t for t in tasks if t.assignedTask.slaveHost == "agent1")
    cluster.wait_tasks("www/prod/drain", lambda ts: any(t.assignedTask.taskId == drained.assignedTask.taskId
                                                         and t.status == S.KILLED for t in ts), what="KILLED")

    def mode():
        reply = cluster.client().maintenanceStatus(Hosts(hostNames={"agent1"}))
        return {s.host: s.mode for s in reply.result.maintenanceStatusResult.statuses}
    from tests.helpers import wait_for
    wait_for(lambda: mode() == {"agent1": MaintenanceMode.DRAINED}, 30, what="agent1 DRAINED")
    # The replacement cannot go to agent1 (draining) nor agent2 (limit) nor agent3 (dedicated): it waits.
    pending = cluster.tasks("www/prod/drain", statuses={S.PENDING})
    assert len(pending) == 1


def test_master_stream_lost_driver_reconnects_and_nothing_is_lost(cluster):
    cluster.create(job("resub", "sleep 600", instances=2))
    cluster.mesos.faults.close_scheduler_stream(abort=True)     # mid-launch: updates queue at the agent
    cluster.wait_tasks("www/prod/resub", running(2), what="both tasks RUNNING after the driver re-subscribed")
    leader = cluster.sched.wait_leader()
    stats = cluster.sched.vars(leader)
    assert stats["framework_disconnections"] >= 1 and stats["framework_registered"] == 1
    (fw,) = cluster.mesos.state()["frameworks"]
    assert fw["active"] and len(fw["tasks"]) == 2


def test_local_master_runs_the_stand_in_in_the_scheduler(tmp_path, zookeeper):
    from tests.integration.schedcluster import SchedulerCluster
    from tests.integration.schedmesos import FAST_FLAGS, job_config
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, mesos_master="local", extra_args=FAST_FLAGS)
    try:
        c.start()
        client = c.client(c.wait_leader())
        config = job_config(job("local", "sleep 600"), tmp_path)
        assert client.createJob(config).responseCode == ResponseCode.OK
        from tests.helpers import wait_for

        def statuses():
            return [t.status for t in client.getTasksWithoutConfigs(TaskQuery(jobKeys={config.key}))
                    .result.scheduleStatusResult.tasks]
        wait_for(lambda: statuses() == [S.RUNNING], 60, what="RUNNING on the in-process stand-in")
        assert os.path.isdir(os.path.join(tmp_path, "mesos"))
        assert client.killTasks(config.key, None, None).responseCode == ResponseCode.OK
        wait_for(lambda: statuses() == [S.KILLED], 60, what="KILLED")
    finally:
        c.close()


def test_reconciliation_kills_what_storage_thinks_ended_and_loses_what_mesos_does_not_know(cluster):
    cluster.create(job("rec", "sleep 600", instances=2))
    tasks = cluster.wait_tasks("www/prod/rec", running(2), what="two RUNNING")
    ghost, gone = (t.assignedTask.taskId for t in tasks)
    client = cluster.client()
    # Storage believes `ghost` finished though Mesos runs it: reconciliation reports it RUNNING, and a
    # terminal task reported running is killed.
    assert client.forceTaskState(ghost, S.FINISHED).responseCode == ResponseCode.OK
    assert client.triggerImplicitTaskReconciliation().responseCode == ResponseCode.OK
    from tests.helpers import wait_for
    wait_for(lambda: ghost not in {t["id"] for t in cluster.mesos.state()["frameworks"][0]["tasks"]}, 60,
             what="the task storage thinks finished to be killed in Mesos")
    # A task storage believes ASSIGNED that Mesos never heard of comes back LOST and is rescheduled.
    cluster.create(job("never", "sleep 600", cpu=100), name="never.aurora")     # PENDING forever
    (pending,) = cluster.wait_tasks("www/prod/never", lambda ts: len(ts) == 1, what="a PENDING task")
    assert client.forceTaskState(pending.assignedTask.taskId, S.ASSIGNED).responseCode == ResponseCode.OK
    reply = client.triggerExplicitTaskReconciliation(ExplicitReconciliationSettings())
    assert reply.responseCode == ResponseCode.OK, reply
    tasks = cluster.wait_tasks("www/prod/never", lambda ts: len(ts) == 2, what="the unknown task LOST, replaced")
    lost = next(t for t in tasks if t.assignedTask.taskId == pending.assignedTask.taskId)
    assert lost.status == S.LOST
    assert gone in {t["id"] for t in cluster.mesos.state()["frameworks"][0]["tasks"]}   # the other one untouched


def test_not_registered_in_time_exits(tmp_path, zookeeper):
    from tests.helpers import free_port
    from tests.integration.schedcluster import SchedulerCluster
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, mesos_master=f"127.0.0.1:{free_port()}",
                         extra_args=("-max_registration_delay=2secs",))
    try:
        c.start()
        assert c.wait_exit(0, timeout=60) == 1
        assert "within 2 s (-max_registration_delay)" in c.stderr(0)
    finally:
        c.close()


def test_master_found_through_zookeeper(tmp_path, zookeeper):
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=1, size=1, zk_master=True) as c:
        assert c.sched.mesos_master.startswith("zk://")
        c.create(job("zk", "sleep 600"))
        c.wait_tasks("www/prod/zk", running(1), what="RUNNING through a master found in ZooKeeper")
