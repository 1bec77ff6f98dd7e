"""createJob of 1,000 instances acknowledged, through the API on the in-memory log.

Timed: one Thrift-binary createJob call body (a JobConfiguration of 1,000 instances, ~2 KB TaskConfig as Aurora
clients send one) handed to `protocol.call` for SchedulerApi: decoding, validation, the StateManager inserting
1,000 PENDING tasks (ids, events), the production quota check (the jobs are of the `preferred` tier; the role
is given quota for every job of the run, so the check walks the role's growing task list, as Aurora's does), the
one storage write (encode, frame at 512KB, append to a MemoryLog), and the
encoded reply. p50 of 40 jobs after 5 warm-up jobs; the store grows by 2,000 tasks a round.
Comparator, in the same run and interleaved: the storage write alone of 1,000 prepared PENDING tasks of another
job (bench/storage_create.py's figure), the part of createJob no API work can avoid.
Goal: <= 150 ms p50 (issue 13; Aurora's own benchmark inserts 1,000 pending tasks in ~137 ms, in memory).
Prints `metric value unit | comparator value | ratio` and writes bench/results/api_create_job.json.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import benchlib
from storage_workload import config, pending

from scheduler.api import protocol
from thermos_executor.aurora_api.gen import AuroraSchedulerManager
from thermos_executor.aurora_api.gen.ttypes import (Identity, JobConfiguration, Resource, ResourceAggregate,
                                                    ResponseCode)
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog

INSTANCES = 1000
GOAL_MS = 150.0


def create_job_body(role: str, name: str) -> bytes:
    cfg = config(role, name)
    job = JobConfiguration(key=cfg.job, owner=Identity(user=role), taskConfig=cfg, instanceCount=INSTANCES)
    return benchlib.thrift_call(AuroraSchedulerManager, "createJob", description=job)


async def run(jobs: int, warmup: int) -> tuple[list[float], list[float]]:
    storage = DurableStorage(MemoryLog())
    await storage.prepare()
    await storage.start()
    manager = StateManager(storage, kill=lambda _task_id: None, clock_ms=lambda: int(time.time() * 1000),
                           hostname="bench")
    api = SchedulerApi(storage, manager, ApiSettings(cluster_name="bench"))
    tasks_in_run = (warmup + jobs) * INSTANCES * 2
    async with storage.write() as w:
        w.save_quota("www", ResourceAggregate(resources={Resource(numCpus=float(tasks_in_run)),
                                                         Resource(ramMb=128 * tasks_in_run),
                                                         Resource(diskMb=256 * tasks_in_run)}))
    api_ms, write_ms = [], []
    for j in range(warmup + jobs):
        body = create_job_body("www", f"api{j}")
        start = time.perf_counter()
        reply = await protocol.call(api, body, protocol.BINARY, protocol.BINARY)
        created = time.perf_counter() - start
        answer = benchlib.thrift_success(AuroraSchedulerManager, "createJob", reply.body)
        if answer.responseCode != ResponseCode.OK:
            raise SystemExit(f"createJob refused: {[d.message for d in answer.details or []]}")
        raw = config("www", f"raw{j}")
        tasks = [pending(raw, i) for i in range(INSTANCES)]
        start = time.perf_counter()
        async with storage.write() as w:
            w.save_tasks(tasks)
        written = time.perf_counter() - start
        if j >= warmup:
            api_ms.append(created * 1000)
            write_ms.append(written * 1000)
    assert len(storage.store.tasks) == (warmup + jobs) * INSTANCES * 2
    return api_ms, write_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    api_ms, write_ms = asyncio.run(run(args.jobs, args.warmup))
    p50 = benchlib.median(api_ms)
    figures = [benchlib.figure("api_create_job_1000_p50", p50, "ms", "storage_write_1000_p50",
                               benchlib.median(write_ms), goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}"),
               benchlib.figure("api_create_job_1000_p99", benchlib.percentile(api_ms, 99), "ms",
                               "storage_write_1000_p99", benchlib.percentile(write_ms, 99), fmt="{:.1f}")]
    benchlib.write_results("api_create_job", figures, instances=INSTANCES, jobs=args.jobs, api_ms=api_ms,
                           write_ms=write_ms)


if __name__ == "__main__":
    main()
