"""Preemption end to end: real ZooKeeper, an `aurora-scheduler`, the Mesos-API stand-in with one small agent, real
Thermos executors. A preemptible job fills the agent; a production job (tier `preferred`) that does not fit
is, after -preemption_delay, given the agent: the preemptible task goes PREEMPTING -> KILLED, its replacement
waits PENDING, and the production task runs where it was. With -enable_preemptor=false it waits instead."""
from __future__ import annotations

import time

from thermos_executor.aurora_api.gen.ttypes import (Resource, ResourceAggregate, ResponseCode, ScheduleStatus,
                                                    TaskQuery)

from tests.helpers import wait_for
from tests.integration.schedmesos import MesosCluster, key

S = ScheduleStatus

# One agent with 1 cpu: the batch task takes 0.7 + 0.1 (executor), the web task needs 0.5 + 0.1.
AGENT = [{"hostname": "agent1", "attributes": "host:agent1", "resources": "cpus:1;mem:1024"}]
FAST_PREEMPTION = ("-preemption_delay=1secs", "-preemption_slot_search_initial_delay=500ms",
                   "-preemption_slot_search_interval=500ms")


def job(name: str, tier: str, cpu: float) -> str:
    return f"""
        task = Task(processes=[Process(name='main', cmdline='sleep 600')],
                    resources=Resources(cpu={cpu}, ram=16*MB, disk=16*MB))
        jobs = [Service(cluster='test', role='www', environment='prod', name='{name}', task=task,
                        tier='{tier}')]
    """


def start_both(cluster) -> str:
    """The preemptible batch task RUNNING, then the production web job created (it does not fit); the batch
    task's id."""
    cluster.create(job("batch", "preemptible", 0.7))
    (batch,) = cluster.wait_tasks("www/prod/batch", lambda ts: [t.status for t in ts] == [S.RUNNING],
                                  what="the batch task RUNNING")
    quota = ResourceAggregate({Resource(numCpus=1.0), Resource(ramMb=64), Resource(diskMb=64)})
    assert cluster.client().setQuota("www", quota).responseCode == ResponseCode.OK
    cluster.create(job("web", "preferred", 0.5), name="web.aurora")
    return batch.assignedTask.taskId


def leader_vars(cluster) -> dict:
    return cluster.sched.vars(cluster.sched.wait_leader())


def test_a_production_task_preempts_a_preemptible_one(tmp_path, zookeeper):
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=AGENT, size=1, extra_args=FAST_PREEMPTION) as cluster:
        victim = start_both(cluster)
        (web,) = cluster.wait_tasks("www/prod/web", lambda ts: [t.status for t in ts] == [S.RUNNING], timeout=90,
                                    what="the web task RUNNING after preempting")
        assert web.assignedTask.slaveHost == "agent1"
        batch = cluster.wait_tasks("www/prod/batch", lambda ts: len(ts) == 2, what="the batch task rescheduled")
        (old,) = [t for t in batch if t.assignedTask.taskId == victim]
        (new,) = [t for t in batch if t.assignedTask.taskId != victim]
        events = [(e.status, e.message) for e in old.taskEvents]
        assert old.status == S.KILLED and (S.PREEMPTING, f"Preempting in favor of {web.assignedTask.taskId}") in events
        assert [s for s, _ in events].index(S.PREEMPTING) < [s for s, _ in events].index(S.KILLED)
        assert new.status == S.PENDING          # no room left, and a preemptible task preempts no production one
        v = leader_vars(cluster)
        assert v["preemptor_tasks_preempted_non_prod"] == 1 and v["preemptor_slot_validation_successful"] == 1
        assert v["preemptor_slot_search_successful_for_prod"] >= 1


def test_with_the_preemptor_disabled_the_production_task_waits(tmp_path, zookeeper):
    extra = FAST_PREEMPTION + ("-enable_preemptor=false",)
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=AGENT, size=1, extra_args=extra) as cluster:
        victim = start_both(cluster)
        (web,) = cluster.tasks("www/prod/web")
        created = web.taskEvents[0].timestamp / 1000
        attempts = leader_vars(cluster)["schedule_attempts"]
        # Long enough for the preemptor, were it on: several delays and search intervals, and the web group
        # tried again and again on what is left of the agent.
        wait_for(lambda: time.time() > created + 4 and leader_vars(cluster)["schedule_attempts"] >= attempts + 3,
                 30, interval=0.2, what="the web task PENDING past several preemption delays")
        reply = cluster.client().getPendingReason(TaskQuery(jobKeys={key("www/prod/web")}))
        assert {r.reason for r in reply.result.getPendingReasonResult.reasons} == {"Insufficient: CPU"}
        assert [t.status for t in cluster.tasks("www/prod/web")] == [S.PENDING]
        (batch,) = cluster.tasks("www/prod/batch")
        assert (batch.assignedTask.taskId, batch.status) == (victim, S.RUNNING)
        assert "preemptor_task_processor_runs" not in leader_vars(cluster)

