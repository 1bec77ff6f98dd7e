"""Placement throughput, against the Mesos-API stand-in: 1,000 PENDING tasks placed on 100 agents (offers of 8 cpus
/ 16 GB) by the leader of 3 `aurora-scheduler` processes (log quorum 2), every assignment committed to the log.

Timed: from createJob's OK (1,000 instances, PENDING in storage) until the last task's ASSIGNED event, as the
leader stamped it on writing the assignment (that write's commit and the ACCEPT follow within milliseconds).
No poll is timed: the run waits, untimed and at a slow pace (so it does not load the leader while it places),
until the leader's `tasks_assigned` counter reaches 1,000, then reads the tasks' events. Twice:
with Aurora's default pace (-max_schedule_attempts_per_sec=40, -max_tasks_per_schedule_attempt=5: at most
200 tasks/s by the flags alone) and with -max_tasks_per_schedule_attempt=100. The executors are `sleep`, so the
agents' launches cost a process each but never talk back (no status update competes with placement).
Comparator, from the same run: the raw append rate of the replicated log, sequential appends of an entry of
the size the scheduler wrote, to the writer of 3 `aurora-log serve` processes (quorum 2). Goal (issue 14):
>= 500 tasks/s. Prints `metric value unit | comparator value | ratio`, writes bench/results/scheduler_placement.json.
"""
from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time

import benchlib
from scheduler.log.protocol import APPEND, encode
from scheduler.mesos_standin.local import LocalMesos
from thermos_executor.aurora_api.gen.ttypes import Resource, ResponseCode, ScheduleStatus, TaskQuery
from tests.integration.logcluster import LogCluster
from tests.integration.schedcluster import SchedulerCluster, job_config
from tests.zookeeper import ZooKeeperServer

TASKS = int(os.environ.get("BENCH_TASKS", "1000"))
AGENTS = int(os.environ.get("BENCH_AGENTS", "100"))
GOAL = 500.0
PACES = {"aurora_default_pace": (), "100_per_attempt": ("-max_tasks_per_schedule_attempt=100",)}


def place_once(d: str, zk: str, flags: tuple) -> dict:
    mesos = LocalMesos(os.path.join(d, "mesos"), resources="cpus:8;mem:16384;disk:65536;ports:[31000-31999]",
                       agents=AGENTS, heartbeat_interval=15.0, executor_registration_timeout=3600.0,
                       executor_shutdown_grace_period=0.1)
    mesos.start()
    cluster = SchedulerCluster(os.path.join(d, "schedulers"), zk, size=3, quorum=2, session_timeout="10secs",
                               mesos_master=mesos.master_address,
                               extra_args=("-thermos_executor_path=/bin/sleep", "-thermos_executor_flags=3600",
                                           "-first_schedule_delay=1ms", *flags))
    os.makedirs(cluster.dir)
    try:
        cluster.start()
        leader = cluster.wait_leader(60)
        benchlib.wait_until(lambda: cluster.vars(leader).get("outstanding_offers", 0) >= AGENTS,
                            "offers from every agent", 60)
        job = job_config("bench", "prod", "wide", instances=TASKS)
        job.taskConfig.resources = {Resource(numCpus=0.5), Resource(ramMb=1024), Resource(diskMb=1024)}
        before = cluster.vars(leader)
        client = cluster.client(leader, timeout=60)
        reply = client.createJob(job)
        if reply.responseCode != ResponseCode.OK:
            raise RuntimeError(f"createJob: {reply}")
        start = time.time()          # wall clock, as the scheduler stamps task events
        benchlib.wait_until(lambda: cluster.vars(leader)["tasks_assigned"] >= TASKS,
                            f"{TASKS} tasks assigned", 120, interval=0.25)
        tasks = client.getTasksWithoutConfigs(TaskQuery(jobKeys={job.key})).result.scheduleStatusResult.tasks
        elapsed = max(e.timestamp for t in tasks for e in t.taskEvents if e.status == ScheduleStatus.ASSIGNED) \
            / 1000 - start
        after = cluster.vars(leader)
        return {"seconds": elapsed, "rate": TASKS / elapsed,
                "log_entries": after["scheduler_log_entries_written"] - before["scheduler_log_entries_written"],
                "entry_bytes": ((after["scheduler_log_bytes_written"] - before["scheduler_log_bytes_written"])
                                // max(1, after["scheduler_log_entries_written"]
                                      - before["scheduler_log_entries_written"])),
                "attempts": after["schedule_attempts"] - before.get("schedule_attempts", 0)}
    finally:
        cluster.close()
        mesos.stop(timeout=300)


def raw_append_rate(d: str, zk: str, entry_bytes: int, n: int = 400) -> float:
    logs = LogCluster(os.path.join(d, "logs"), zk, size=3, quorum=2, session_timeout="10secs")
    os.makedirs(logs.dir)
    try:
        logs.start()
        writer = logs.wait_writer()
        conn = http.client.HTTPConnection(*logs.address(writer).split(":"), timeout=30)
        body = encode({}, [(0, 0, APPEND, b"x" * entry_bytes)])
        times = []
        for _ in range(n + 50):
            t = time.perf_counter()
            conn.request("POST", "/log/append", body=body, headers={"Content-Type": "application/octet-stream"})
            reply = conn.getresponse()
            reply.read()
            times.append(time.perf_counter() - t)
        return 1.0 / benchlib.median(times[50:])
    finally:
        logs.shutdown()


def main() -> int:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-place-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk:
        for name, flags in PACES.items():
            results[name] = place_once(os.path.join(d, name), zk.endpoints, flags)
        entry_bytes = max(r["entry_bytes"] for r in results.values())
        raw = raw_append_rate(d, zk.endpoints, entry_bytes)
    figures = [benchlib.figure(f"scheduler_place_{TASKS}_tasks_{AGENTS}_agents_{name}", r["rate"], "tasks/s",
                               "raw_log_append_rate", raw, goal=f">= {GOAL:.0f} tasks/s", met=r["rate"] >= GOAL,
                               rate=True)
               for name, r in results.items()]
    benchlib.write_results("scheduler_placement", figures, runs=results, raw_append_per_s=raw,
                           against="the Mesos-API stand-in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
