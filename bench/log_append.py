"""Replicated-log append throughput and commit latency, against a 3-node ZooKeeper ensemble in the same run.

Ours: 3 replicas, quorum 2, SQLite WAL + synchronous=FULL (fsync on every commit). The writer runs in this
process, as in the scheduler (which embeds it); the two followers are `aurora-log serve` processes.
  * sequential: one append of one entry at a time, commit latency p50/p99;
  * batched: 64 concurrent appenders of one entry each; the writer groups what arrives together into rounds.
Comparator: a 3-node ZooKeeper ensemble on loopback (forceSync on, its default), kazoo client, sequential
creates of the same payload size; and pipelined creates (64 in flight) for the batched figure.
Prints `metric value unit | comparator value | ratio` (benchlib's: bigger is worse) and writes
bench/results/log_append.json in benchlib's shape (figures + detail), which `make bench`'s table reads.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from benchlib import figure, percentile, write_results  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from tests.integration.logcluster import LogCluster, start_followers  # noqa: E402
from tornado.httpserver import HTTPServer  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from tests.zookeeper import ZooKeeperEnsemble, ZooKeeperServer  # noqa: E402

from scheduler.log.node import LogNode  # noqa: E402
from scheduler.log.replica import Replica  # noqa: E402
from scheduler.log.server import make_app  # noqa: E402

PAYLOAD = b"x" * 256
SEQ_N = int(os.environ.get("BENCH_SEQ_N", "3000"))
BATCH_N = int(os.environ.get("BENCH_BATCH_N", "60000"))
CONCURRENCY = 64


async def ours(workdir: str, zk_endpoints: str, followers: LogCluster) -> dict:
    path = os.path.join(workdir, "writer")
    r = Replica(path)
    r.initialize()
    r.close()
    port = free_port()
    node = LogNode(path, f"127.0.0.1:{port}", zk_endpoints, followers.group, quorum=2, session_timeout=10)
    server = HTTPServer(make_app(node))
    server.listen(port, "127.0.0.1")
    await node.start()
    try:
        deadline = time.monotonic() + 60
        while not (node.coordinator and node.coordinator.recovered and len(node.discovery.members) == 3):
            if time.monotonic() > deadline:
                raise RuntimeError("writer did not become READY")
            await asyncio.sleep(0.05)
        coord = node.coordinator
        for _ in range(200):  # warm-up
            await coord.append([PAYLOAD])
        lat = []
        t0 = time.perf_counter()
        for _ in range(SEQ_N):
            t = time.perf_counter()
            await coord.append([PAYLOAD])
            lat.append(time.perf_counter() - t)
        seq_rate = SEQ_N / (time.perf_counter() - t0)
        rounds0 = coord.stats["rounds"]
        per_task = BATCH_N // CONCURRENCY

        async def worker():
            for _ in range(per_task):
                await coord.append([PAYLOAD])
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
        batch_rate = per_task * CONCURRENCY / (time.perf_counter() - t0)
        rounds = coord.stats["rounds"] - rounds0
        return {"seq_per_s": seq_rate, "seq_p50_ms": percentile(lat, 50) * 1e3, "seq_p99_ms": percentile(lat, 99) * 1e3,
                "batch_entries_per_s": batch_rate, "batch_mean_entries_per_round": per_task * CONCURRENCY / rounds}
    finally:
        server.stop()
        await node.stop()


def zookeeper_comparator(workdir: str) -> dict:
    with ZooKeeperEnsemble(os.path.join(workdir, "ensemble"), size=3) as ens:
        zk = KazooClient(hosts=ens.endpoints, timeout=10)
        zk.start(timeout=30)
        try:
            zk.ensure_path("/bench")
            for _ in range(200):
                zk.create("/bench/w-", PAYLOAD, sequence=True)
            lat = []
            t0 = time.perf_counter()
            for _ in range(SEQ_N):
                t = time.perf_counter()
                zk.create("/bench/s-", PAYLOAD, sequence=True)
                lat.append(time.perf_counter() - t)
            seq_rate = SEQ_N / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            pending = []
            for _ in range(BATCH_N):
                pending.append(zk.create_async("/bench/b-", PAYLOAD, sequence=True))
                if len(pending) >= CONCURRENCY:
                    pending.pop(0).get(timeout=30)
            for p in pending:
                p.get(timeout=30)
            batch_rate = BATCH_N / (time.perf_counter() - t0)
        finally:
            zk.stop()
            zk.close()
    return {"seq_per_s": seq_rate, "seq_p50_ms": percentile(lat, 50) * 1e3, "seq_p99_ms": percentile(lat, 99) * 1e3,
            "batch_entries_per_s": batch_rate}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-log-") as d:
        with ZooKeeperServer(os.path.join(d, "zk")) as zk:
            followers = start_followers(d, zk.endpoints)
            try:
                mine = asyncio.run(ours(d, zk.endpoints, followers))
            finally:
                followers.shutdown()
        theirs = zookeeper_comparator(d)
    zk = "zk-3-ensemble"
    figures = [
        figure("log_seq_appends", mine["seq_per_s"], "appends/s", zk, theirs["seq_per_s"], goal=1000,
               met=mine["seq_per_s"] >= 1000, rate=True),
        figure("log_seq_commit_p50", mine["seq_p50_ms"], "ms", zk, theirs["seq_p50_ms"]),
        figure("log_seq_commit_p99", mine["seq_p99_ms"], "ms", zk, theirs["seq_p99_ms"], goal=5,
               met=mine["seq_p99_ms"] <= 5),
        figure("log_batched_entries", mine["batch_entries_per_s"], "entries/s", zk, theirs["batch_entries_per_s"],
               goal=10000, met=mine["batch_entries_per_s"] >= 10000, rate=True),
    ]
    print(f"log_batched_mean_entries_per_round {mine['batch_mean_entries_per_round']:.1f} entries | - | -")
    write_results("log_append", figures, ours=mine, zookeeper_3_ensemble=theirs, payload_bytes=len(PAYLOAD),
                  sequential_n=SEQ_N, batched_n=BATCH_N, concurrency=CONCURRENCY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
