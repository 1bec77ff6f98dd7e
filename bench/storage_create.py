"""Storing a new job of 1,000 PENDING tasks in one storage write (createJob's storage part), on the in-memory log.

Timed: `async with storage.write() as w: w.save_tasks(tasks)` for a new job of 1,000 prepared tasks (sharing
one ~2 KB TaskConfig, as createJob makes them): applying to the in-memory store, recording, encoding the
transaction (~2 MB, Thrift binary), framing it at -dlog_max_entry_size=512KB with its MD5, and the append to a
MemoryLog. p50 of 40 jobs, after 5 warm-up jobs; the store keeps growing by 1,000 tasks a job.
Comparator, in the same run and interleaved: the raw Thrift-binary encode of the same transaction (the cost
no durable write of these tasks can avoid). Goal: <= 150 ms p50 (issue 13; Aurora's own benchmark inserts
1,000 pending tasks in ~137 ms, in memory). The replicated log's append latency comes on top: see log_append.
Prints `metric value unit | comparator value | ratio` and writes bench/results/storage_create.json.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import benchlib
from storage_workload import config, pending

from scheduler.storage import codec
from scheduler.storage.durable import DurableStorage
from scheduler.storage.gen.ttypes import Op, SaveTasks
from scheduler.storage.log import MemoryLog

INSTANCES = 1000
GOAL_MS = 150.0


async def run(jobs: int, warmup: int) -> tuple[list[float], list[float], int]:
    log = MemoryLog()
    storage = DurableStorage(log)
    await storage.prepare()
    await storage.start()
    write_ms, encode_ms = [], []
    for j in range(warmup + jobs):
        cfg = config("www", f"job{j}")
        tasks = [pending(cfg, i) for i in range(INSTANCES)]
        start = time.perf_counter()
        async with storage.write() as w:
            w.save_tasks(tasks)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        codec.encode(codec.transaction([Op(saveTasks=SaveTasks(tasks=tasks))]))
        encoded = time.perf_counter() - start
        if j >= warmup:
            write_ms.append(elapsed * 1000)
            encode_ms.append(encoded * 1000)
    assert len(storage.store.tasks) == (warmup + jobs) * INSTANCES
    return write_ms, encode_ms, storage.vars()["scheduler_log_bytes_written"] // (warmup + jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    write_ms, encode_ms, bytes_per_job = asyncio.run(run(args.jobs, args.warmup))
    p50, floor = benchlib.median(write_ms), benchlib.median(encode_ms)
    figures = [benchlib.figure("storage_create_1000_p50", p50, "ms", "thrift_encode_p50", floor,
                               goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}"),
               benchlib.figure("storage_create_1000_p99", benchlib.percentile(write_ms, 99), "ms",
                               "thrift_encode_p99", benchlib.percentile(encode_ms, 99), fmt="{:.1f}")]
    benchlib.write_results("storage_create", figures, instances=INSTANCES, jobs=args.jobs,
                           bytes_per_write=bytes_per_job, write_ms=write_ms, encode_ms=encode_ms)


if __name__ == "__main__":
    main()
