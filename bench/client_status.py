"""`aurora job status` of a 1,000-instance job, end to end: the real `aurora` process, clusters.json, the
leader found in ZooKeeper, one getTasksWithoutConfigs over HTTP, and the rendered text.

Setup: ZooKeeper, one `aurora-scheduler`, the Mesos-API stand-in with one small agent; a job of 1,000
instances too big for it, so every task stays PENDING (no executors needed). Timed: the wall time of
`aurora job status CLUSTER/ROLE/ENV/NAME`, median of 7 runs after 1 warm-up. Comparator, in the same run:
the raw getTasksWithoutConfigs call for the same job through scheduler.api.client (Thrift binary over HTTP),
median of 7 -- the part no client can avoid. Goal (issue 16): <= 1 s.
Prints `metric value unit | comparator value | ratio` and writes bench/results/client_status.json.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

import benchlib

from thermos_executor.aurora_api.gen.ttypes import JobKey, ResponseCode, TaskQuery
from tests.integration.schedmesos import MesosCluster, job_config
from tests.zookeeper import ZooKeeperServer

AURORA = os.path.join(os.path.dirname(benchlib.PYTHON), "aurora")
INSTANCES = 1000
RUNS, WARMUP = 7, 1
GOAL_MS = 1000.0
JOB = f"""
task = Task(processes=[Process(name='main', cmdline='sleep 600')],
            resources=Resources(cpu=64, ram=8*MB, disk=8*MB))
jobs = [Job(cluster='bench', role='www', environment='prod', name='big', task=task, instances={INSTANCES})]
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-client-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk, \
            MesosCluster(os.path.join(d, "cluster"), zk.endpoints, size=1, agents=1) as cluster:
        leader = cluster.sched.wait_leader(60)
        client = cluster.sched.client(leader)
        assert client.createJob(job_config(JOB, d)).responseCode == ResponseCode.OK
        os.makedirs(os.path.join(d, "etc"))
        with open(os.path.join(d, "etc", "clusters.json"), "w") as f:
            f.write(json.dumps([{"name": "bench", "zk": zk.endpoints, "scheduler_zk_path": cluster.sched.serverset}]))
        env = {**os.environ, "AURORA_CONFIG_ROOT": os.path.join(d, "etc"), "HOME": d}
        query = TaskQuery(jobKeys={JobKey(role="www", environment="prod", name="big")})
        client_ms, raw_ms, lines = [], [], 0
        for run in range(WARMUP + RUNS):
            start = time.perf_counter()
            out = subprocess.run([AURORA, "job", "status", "bench/www/prod/big"], env=env, capture_output=True,
                                 text=True, check=True).stdout
            elapsed = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            reply = client.getTasksWithoutConfigs(query)
            raw = (time.perf_counter() - start) * 1000
            assert len(reply.result.scheduleStatusResult.tasks) == INSTANCES
            assert out.startswith(f"Active tasks ({INSTANCES}):")
            lines = out.count("\n")
            if run >= WARMUP:
                client_ms.append(elapsed)
                raw_ms.append(raw)
    p50 = benchlib.median(client_ms)
    figures = [benchlib.figure("client_status_1000_p50", p50, "ms", "raw_get_tasks_without_configs_p50",
                               benchlib.median(raw_ms), goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}")]
    benchlib.write_results("client_status", figures, instances=INSTANCES, runs=RUNS, client_ms=client_ms,
                           raw_ms=raw_ms, output_lines=lines)


if __name__ == "__main__":
    main()
