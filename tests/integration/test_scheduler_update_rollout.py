"""Job updates end to end: real ZooKeeper, three `aurora-scheduler` processes, the Mesos-API stand-in and real
Thermos executors. The update request is built from a `.aurora` file's update_config as Aurora's client
builds it; what is asserted is what an operator sees: the update's status and events, which config each
instance's task runs, and the answers to calls on the job while it updates."""
from __future__ import annotations

import os
import textwrap

import pytest

from thermos_executor.aurora_api.gen.ttypes import (JobUpdateAction, JobUpdateQuery, JobUpdateRequest,
                                                    JobUpdateStatus, JobUpdateStrategy, ResponseCode, ScheduleStatus,
                                                    TaskQuery, VariableBatchJobUpdateStrategy)
from scheduler.state.status import ACTIVE
from thermos_executor.config import loader
from thermos_executor.config.thrift import convert, update_settings

from tests.helpers import wait_for
from tests.integration.schedmesos import MesosCluster, key

S = ScheduleStatus
U = JobUpdateStatus
JOB = "www/prod/web"


def service(version: str, update_config: str = "", instances: int = 4, cmd: str | None = None) -> str:
    cmdline = cmd if cmd is not None else f"echo {version}; sleep 600"
    return f"""
        task = Task(processes=[Process(name='main', cmdline={cmdline!r})],
                    resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
        jobs = [Service(cluster='test', role='www', environment='prod', name='web', task=task,
                        instances={instances}, update_config=UpdateConfig({update_config}))]
    """


@pytest.fixture
def cluster(tmp_path, zookeeper):
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=2) as c:
        yield c


def request(cluster, text: str) -> JobUpdateRequest:
    """startJobUpdate's request for a .aurora text, as `aurora update start` builds it."""
    path = os.path.join(cluster.dir, "update.aurora")
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    job = loader.choose_job(loader.load(path))
    config = convert(job, user=os.environ.get("USER", "root"))
    return JobUpdateRequest(taskConfig=config.taskConfig, instanceCount=config.instanceCount,
                            settings=update_settings(job))


def start(cluster, req):
    reply = cluster.client().startJobUpdate(req, "deploy")
    assert reply.responseCode == ResponseCode.OK, reply
    return reply.result.startJobUpdateResult.key


def details(cluster, update_key):
    reply = cluster.client().getJobUpdateDetails(None, JobUpdateQuery(key=update_key))
    assert reply.responseCode == ResponseCode.OK, reply
    (d,) = reply.result.getJobUpdateDetailsResult.detailsList
    return d


def wait_status(cluster, update_key, *wanted, timeout=90.0):
    seen = []

    def check():
        seen[:] = [details(cluster, update_key).update.summary.state.status]
        return seen[0] in wanted
    try:
        wait_for(check, timeout, interval=0.1, what=f"update {[U._VALUES_TO_NAMES[w] for w in wanted]}")
    except AssertionError:
        raise AssertionError(f"update still {U._VALUES_TO_NAMES.get(seen[0]) if seen else None}; "
                             f"leader stderr: {cluster.leader_stderr()[-3000:]}") from None
    return details(cluster, update_key)


def versions(cluster) -> dict[int, tuple[str, str]]:
    """instance -> (status, version) of the job's active tasks (the version is in the executor's data)."""
    reply = cluster.client().getTasksStatus(_active_query())
    assert reply.responseCode == ResponseCode.OK
    result = {}
    for t in reply.result.scheduleStatusResult.tasks:
        data = t.assignedTask.task.executorConfig.data
        version = "v2" if "echo v2" in data else "v1" if "echo v1" in data else "other"
        result[t.assignedTask.instanceId] = (S._VALUES_TO_NAMES[t.status], version)
    return result


def _active_query():
    return TaskQuery(jobKeys={key(JOB)}, statuses=set(ACTIVE))


def all_running(version: str, n: int = 4):
    return lambda ts: len([t for t in ts if t.status == S.RUNNING]) == n


def create_v1(cluster, instances=4):
    cluster.create(service("v1", instances=instances))
    cluster.wait_tasks(JOB, all_running("v1", instances), what=f"{instances} RUNNING v1 tasks")


def test_update_rolls_forward_batch_by_batch_pausing_after_each(cluster):
    create_v1(cluster)
    strategy = "update_strategy=BatchUpdateStrategy(batch_size=2, autopause_after_batch=True), watch_secs=1"
    update = start(cluster, request(cluster, service("v2", strategy)))
    refused = cluster.client().killTasks(key(JOB), None, "no")
    assert (refused.responseCode, refused.details[0].message) == (ResponseCode.JOB_UPDATING_ERROR,
                                                                  "Job is currently updating")
    wait_status(cluster, update, U.ROLL_FORWARD_PAUSED)
    assert versions(cluster) == {0: ("RUNNING", "v2"), 1: ("RUNNING", "v2"), 2: ("RUNNING", "v1"),
                                 3: ("RUNNING", "v1")}
    assert cluster.client().resumeJobUpdate(update, "go on").responseCode == ResponseCode.OK
    d = wait_status(cluster, update, U.ROLLED_FORWARD)
    assert versions(cluster) == {i: ("RUNNING", "v2") for i in range(4)}
    updated = sorted(e.instanceId for e in d.instanceEvents if e.action == JobUpdateAction.INSTANCE_UPDATED)
    assert updated == [0, 1, 2, 3]
    assert [(U._VALUES_TO_NAMES[e.status], e.message) for e in d.updateEvents] == [
        ("ROLLING_FORWARD", "deploy"), ("ROLL_FORWARD_PAUSED", "Paused after a batch (autopause)."),
        ("ROLLING_FORWARD", "go on"), ("ROLLED_FORWARD", None)]
    assert cluster.client().killTasks(key(JOB), {3}, "mine again").responseCode == ResponseCode.OK


def test_a_new_version_that_exits_at_once_is_rolled_back(cluster):
    create_v1(cluster)
    before = {t.assignedTask.instanceId: t.assignedTask.taskId for t in cluster.tasks(JOB) if t.status == S.RUNNING}
    # watch_secs=10: on a loaded machine a task that exits at once can still be seen RUNNING for seconds; one seen
    # RUNNING for the whole watch would count as updated (as in Aurora), and the update would roll forward.
    bad = service("v2", "batch_size=2, watch_secs=10", cmd="echo v2; exit 1")
    update = start(cluster, request(cluster, bad))
    d = wait_status(cluster, update, U.ROLLED_BACK, U.FAILED)
    assert d.update.summary.state.status == U.ROLLED_BACK, [e.status for e in d.updateEvents]
    tasks = cluster.wait_tasks(JOB, all_running("v1"), what="four RUNNING v1 tasks again")
    assert versions(cluster) == {i: ("RUNNING", "v1") for i in range(4)}
    actions = {(e.instanceId, e.action) for e in d.instanceEvents}
    assert (0, JobUpdateAction.INSTANCE_UPDATE_FAILED) in actions or (1, JobUpdateAction.INSTANCE_UPDATE_FAILED) \
        in actions
    assert (0, JobUpdateAction.INSTANCE_ROLLED_BACK) in actions
    # Instances 2 and 3 were never touched: their tasks are the ones that ran before the update.
    running = {t.assignedTask.instanceId: t.assignedTask.taskId for t in tasks if t.status == S.RUNNING}
    assert running[2] == before[2] and running[3] == before[3]


def test_leader_killed_mid_update_and_the_new_leader_finishes_it(cluster):
    create_v1(cluster)
    req = request(cluster, service("v2", "batch_size=1, watch_secs=2"))
    req.settings.updateStrategy = JobUpdateStrategy(varBatchStrategy=VariableBatchJobUpdateStrategy(
        groupSizes=[1, 3]))
    update = start(cluster, req)
    wait_for(lambda: any(e.action == JobUpdateAction.INSTANCE_UPDATED for e in details(cluster, update).instanceEvents),
             90, interval=0.1, what="instance 0 updated")
    events = [(e.instanceId, e.action) for e in details(cluster, update).instanceEvents]
    assert events[:2] == [(0, JobUpdateAction.INSTANCE_UPDATING), (0, JobUpdateAction.INSTANCE_UPDATED)]  # 0 alone
    leader = cluster.sched.wait_leader()
    cluster.sched.kill(leader)
    cluster.sched.wait_leader(exclude=(leader,))
    d = wait_status(cluster, update, U.ROLLED_FORWARD)
    assert versions(cluster) == {i: ("RUNNING", "v2") for i in range(4)}
    every = cluster.client().getTasksStatus(TaskQuery(jobKeys={key(JOB)})).result.scheduleStatusResult.tasks
    v2_tasks = [t for t in every if "echo v2" in t.assignedTask.task.executorConfig.data]
    assert sorted(t.assignedTask.instanceId for t in v2_tasks) == [0, 1, 2, 3]     # none started twice
    assert [U._VALUES_TO_NAMES[e.status] for e in d.updateEvents] == ["ROLLING_FORWARD", "ROLLED_FORWARD"]


def test_pulses_abort_and_rollback_on_request(cluster):
    create_v1(cluster, instances=2)
    req = request(cluster, service("v2", "batch_size=1, watch_secs=30", instances=2))
    req.settings.blockIfNoPulsesAfterMs = 3000
    update = start(cluster, req)
    wait_status(cluster, update, U.ROLL_FORWARD_AWAITING_PULSE)
    assert versions(cluster) == {0: ("RUNNING", "v1"), 1: ("RUNNING", "v1")}     # nothing without a pulse
    pulse = cluster.client().pulseJobUpdate(update)
    assert pulse.responseCode == ResponseCode.OK and pulse.result.pulseJobUpdateResult.status == 1   # OK
    wait_status(cluster, update, U.ROLLING_FORWARD, U.ROLL_FORWARD_AWAITING_PULSE)

    def pulsed_until_instance_0_runs_v2():   # a coordinator pulsing more often than every 3 s
        assert cluster.client().pulseJobUpdate(update).responseCode == ResponseCode.OK
        return versions(cluster).get(0) == ("RUNNING", "v2")
    wait_for(pulsed_until_instance_0_runs_v2, 60, interval=0.5, what="instance 0 on v2")
    wait_status(cluster, update, U.ROLL_FORWARD_AWAITING_PULSE)    # no pulse for 3 s: blocked again
    reply = cluster.client().abortJobUpdate(update, "stop here")
    assert reply.responseCode == ResponseCode.OK
    d = wait_status(cluster, update, U.ABORTED)
    assert d.updateEvents[-1].message == "stop here"
    assert cluster.client().pulseJobUpdate(update).result.pulseJobUpdateResult.status == 2   # FINISHED

    update = start(cluster, request(cluster, service("v3", "batch_size=1, watch_secs=2", instances=2)))
    wait_for(lambda: any(e.action == JobUpdateAction.INSTANCE_UPDATING
                         for e in details(cluster, update).instanceEvents),
             30, interval=0.1, what="the update under way")
    reply = cluster.client().rollbackJobUpdate(update, "changed my mind")
    assert reply.responseCode == ResponseCode.OK, reply
    wait_status(cluster, update, U.ROLLED_BACK)
    # Back to what ran before this update: instance 0 on v2 (the aborted update's), instance 1 on v1.
    cluster.wait_tasks(JOB, all_running("", 2), what="two RUNNING tasks")
    assert versions(cluster) == {0: ("RUNNING", "v2"), 1: ("RUNNING", "v1")}
    reply = cluster.client().rollbackJobUpdate(update, None)
    assert (reply.responseCode, reply.details[0].message) == (
        ResponseCode.INVALID_REQUEST, "Cannot transition update from ROLLED_BACK to ROLLING_BACK")
