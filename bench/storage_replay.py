"""Replay on promotion: rebuilding the store from a log holding a snapshot of 100,000 tasks + 10,000 transactions.

The log (a MemoryLog, so the figure is storage's own cost, not the replica's disk reads): 1,000 jobs x 100
RUNNING instances on 500 agents (one ~2 KB TaskConfig per job, four events per task), snapshotted as Aurora
writes it (deduplicated, deflated, framed at 512 KB), then 10,000 transactions of one task state change each
(the common write). Timed: `DurableStorage(log).prepare(); start()` - reading, reassembling frames,
inflating, decoding, re-expanding configs, loading and indexing 100,000 tasks, applying 10,000 transactions.
Median of 3. Comparator, in the same run and interleaved: Thrift decoding of the same entries alone (inflate +
decode of the snapshot, decode of each transaction, garbage collection paused as replay pauses it): the cost
no replay of this log can avoid. Goal: <= 3 s (issue 13).
Prints `metric value unit | comparator value | ratio` and writes bench/results/storage_replay.json.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import time

import benchlib
from storage_workload import T0_MS, config, pending, running

from thermos_executor.aurora_api.gen.ttypes import ScheduledTask, ScheduleStatus, TaskEvent
from scheduler.storage import codec, framing
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog

JOBS, INSTANCES, HOSTS, TRANSACTIONS = 1000, 100, 500, 10_000
GOAL_S = 3.0


async def build() -> MemoryLog:
    log = MemoryLog()
    storage = DurableStorage(log, clock=lambda: T0_MS / 1000)
    await storage.prepare()
    await storage.start()
    tasks = []
    for j in range(JOBS):
        cfg = config(f"role{j % 50}", f"job{j}")
        batch = [running(pending(cfg, i), (j * INSTANCES + i) % HOSTS, T0_MS + j) for i in range(INSTANCES)]
        async with storage.write() as w:
            w.save_tasks(batch)
        tasks += batch
    await storage.snapshot()
    for n in range(TRANSACTIONS):
        task = tasks[(n * 7919) % len(tasks)]
        event = TaskEvent(timestamp=T0_MS + 10_000 + n, status=ScheduleStatus.RUNNING, scheduler="scheduler-1",
                          message=f"health check {n} passed")
        changed = ScheduledTask(assignedTask=task.assignedTask, status=ScheduleStatus.RUNNING,
                                failureCount=task.failureCount, timesPartitioned=0,
                                taskEvents=[*task.taskEvents, event])
        async with storage.write() as w:
            w.save_tasks([changed])
    return log


def whole_entries(log: MemoryLog) -> list[bytes]:
    """The log's entries with frames reassembled (what the comparator decodes)."""
    out, header, chunks = [], None, []
    for position in sorted(log.entries):
        entry = codec.decode(log.entries[position])
        if entry.frame is None:
            out.append(log.entries[position])
        elif entry.frame.header is not None:
            header, chunks = entry.frame.header, []
        else:
            chunks.append(entry.frame.chunk.data)
            if len(chunks) == header.chunkCount:
                out.append(b"".join(chunks))
    return out


def decode_only(entries: list[bytes]) -> int:
    gc.disable()
    try:
        n = 0
        for data in entries:
            entry = codec.decode(data)
            if entry.deflatedEntry is not None:
                entry = codec.inflate(entry)
            n += 1
        return n
    finally:
        gc.enable()


async def replay(log: MemoryLog) -> DurableStorage:
    storage = DurableStorage(log)
    await storage.prepare()
    await storage.start()
    return storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    log = asyncio.run(build())
    entries = whole_entries(log)
    assert len(entries) == 1 + TRANSACTIONS
    replay_s, floor_s = [], []
    for _ in range(args.repeats):
        gc.collect()
        start = time.perf_counter()
        storage = asyncio.run(replay(log))
        replay_s.append(time.perf_counter() - start)
        assert len(storage.store.tasks) == JOBS * INSTANCES
        assert storage.vars()["scheduler_log_un_snapshotted_transactions"] == TRANSACTIONS
        del storage
        gc.collect()
        floor_s.append(benchlib.timed(decode_only, entries))
    value, floor = benchlib.median(replay_s), benchlib.median(floor_s)
    figures = [benchlib.figure("storage_replay_100k_tasks_10k_tx", value, "s", "thrift_decode", floor,
                               goal=f"<= {GOAL_S} s", met=value <= GOAL_S, fmt="{:.2f}")]
    benchlib.write_results("storage_replay", figures, tasks=JOBS * INSTANCES, transactions=TRANSACTIONS,
                           log_entries=len(log.entries), log_bytes=sum(map(len, log.entries.values())),
                           max_entry_size=framing.DEFAULT_MAX_ENTRY_SIZE, replay_s=replay_s, decode_s=floor_s)


if __name__ == "__main__":
    main()
