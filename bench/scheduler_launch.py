"""createJob of 10 instances -> all 10 RUNNING, with real Thermos executors and runners, against the Mesos-API
stand-in (one agent of 8 cpus), under the leader of 3 `aurora-scheduler` processes (log quorum 2).

Timed: from sending createJob until the last of the 10 tasks' RUNNING events, as the leader stamped it on
applying the TASK_RUNNING update (its commit follows within milliseconds): the write of 10 PENDING tasks,
placement and the ASSIGNED write, the ACCEPT, 10 executors and runners starting on this machine, their
TASK_RUNNING updates through the stand-in. No poll is timed: the round waits, untimed and at a slow pace (so its
queries do not load the leader while it launches), until getTasksWithoutConfigs shows all 10 RUNNING, then
reads the events.
Floor, from the same run (before the schedulers start, since a leader holds every offer): the executors' own
ACCEPT -> all 10 TASK_RUNNING, the same 10 tasks (same TaskInfo, same executor flags) launched in one ACCEPT by
a bare pymesos framework. Goal (issue 14): p50 <= 1.5 x the floor's p50 + 0.5 s.
Prints `metric value unit | comparator value | ratio`, writes bench/results/scheduler_launch.json.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import benchlib
from executor_launch import TimedFramework
from scheduler.framework.launcher import task_info
from scheduler.framework.settings import ExecutorSettings
from scheduler.mesos_standin.local import LocalMesos
from thermos_executor.aurora_api.gen.ttypes import AssignedTask, ResponseCode, ScheduledTask, TaskQuery
from tests.integration.schedcluster import SchedulerCluster
from tests.integration.schedmesos import EXECUTOR, job_config
from tests.zookeeper import ZooKeeperServer

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
INSTANCES = 10
FLAGS = "--nosetuid --stop_timeout_in_secs 5"
JOB = """
task = Task(processes=[Process(name='main', cmdline='exec sleep 600')],
            resources=Resources(cpu=0.1, ram=16*MB, disk=16*MB))
jobs = [Service(cluster='bench', role='bench', environment='prod', name='{name}', task=task, instances={n})]
"""
RUNNING, KILLED = 2, 5


def direct_round(framework: TimedFramework, config, settings: ExecutorSettings, round_: int) -> float:
    ids = [f"direct-{round_}-{i}" for i in range(INSTANCES)]
    tasks = []
    for i, task_id in enumerate(ids):
        assigned = AssignedTask(taskId=task_id, slaveId="", slaveHost="127.0.0.1", task=config, assignedPorts={},
                                instanceId=i)
        info = task_info(ScheduledTask(assignedTask=assigned), "", settings)
        info.pop("agent_id")
        tasks.append(info)
    framework.launch(tasks)
    for task_id in ids:
        framework.wait_for_state(task_id, "TASK_RUNNING", timeout=120)
    start = min(framework.stamps[(t, "ACCEPT")] for t in ids)
    elapsed = max(framework.stamps[(t, "TASK_RUNNING")] for t in ids) - start
    for task_id in ids:
        framework.kill(task_id)
    for task_id in ids:
        framework.wait_for_state(task_id, "TASK_KILLED", timeout=120)
    return elapsed


def scheduler_round(cluster: SchedulerCluster, leader: int, work: str, round_: int) -> float:
    client = cluster.client(leader, timeout=30)
    job = job_config(JOB.format(name=f"job{round_}", n=INSTANCES), work, f"job{round_}.aurora")
    start = time.time()          # wall clock, as the scheduler stamps task events
    reply = client.createJob(job)
    if reply.responseCode != ResponseCode.OK:
        raise RuntimeError(f"createJob: {reply}")

    def all_running():
        tasks = client.getTasksWithoutConfigs(TaskQuery(jobKeys={job.key})).result.scheduleStatusResult.tasks
        return len(tasks) == INSTANCES and all(t.status == RUNNING for t in tasks) and tasks
    try:
        tasks = benchlib.wait_until(all_running, "10 RUNNING", 120, interval=0.1)
    except TimeoutError:
        tasks = client.getTasksWithoutConfigs(TaskQuery(jobKeys={job.key})).result.scheduleStatusResult.tasks
        seen = sorted((t.status, t.taskEvents[-1].message) for t in tasks)
        raise RuntimeError(f"round {round_}: not all RUNNING: {seen}\n{cluster.stderr(leader)[-2000:]}") from None
    elapsed = max(e.timestamp for t in tasks for e in t.taskEvents if e.status == RUNNING) / 1000 - start
    client.killTasks(job.key, None, None)

    def all_killed():
        tasks = client.getTasksWithoutConfigs(TaskQuery(jobKeys={job.key})).result.scheduleStatusResult.tasks
        return all(t.status == KILLED for t in tasks)
    benchlib.wait_until(all_killed, "10 KILLED", 120)
    return elapsed


def main() -> int:
    ours, floor = [], []
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk:
        mesos = LocalMesos(os.path.join(d, "mesos"), resources="cpus:8;mem:16384;disk:65536;ports:[31000-31999]",
                           hostname="127.0.0.1").start()
        settings = ExecutorSettings(path=EXECUTOR, flags=FLAGS, cpus=0.25, ram_mb=128)
        try:
            config = job_config(JOB.format(name="direct", n=INSTANCES), d, "direct.aurora").taskConfig
            framework = TimedFramework(mesos.master_address).start()
            try:
                floor = [direct_round(framework, config, settings, r) for r in range(ROUNDS)]
            finally:
                framework.stop()
            cluster = SchedulerCluster(os.path.join(d, "schedulers"), zk.endpoints, size=3, quorum=2,
                                       session_timeout="10secs", mesos_master=mesos.master_address,
                                       extra_args=(f"-thermos_executor_path={EXECUTOR}",
                                                   f"-thermos_executor_flags={FLAGS}",
                                                   "-offer_filter_duration=0secs"))
            os.makedirs(cluster.dir)
            try:
                cluster.start()
                leader = cluster.wait_leader(60)
                benchlib.wait_until(lambda: cluster.vars(leader).get("outstanding_offers", 0) >= 1, "an offer held",
                                    60)
                ours = [scheduler_round(cluster, leader, d, r) for r in range(ROUNDS)]
            finally:
                cluster.close()
        finally:
            mesos.stop(timeout=120)
    p50, floor_p50 = benchlib.median(ours), benchlib.median(floor)
    goal = 1.5 * floor_p50 + 0.5
    figures = [benchlib.figure("scheduler_create_job_10_to_running_p50 (against the Mesos-API stand-in)", p50, "s",
                               "executors_accept_to_running_p50", floor_p50, goal=f"<= 1.5x + 0.5 s = {goal:.2f} s",
                               met=p50 <= goal)]
    benchlib.write_results("scheduler_launch", figures, ours_s=ours, floor_s=floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
