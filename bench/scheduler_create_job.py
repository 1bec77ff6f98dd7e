"""createJob of 1 instance acknowledged by a leader among 3 `aurora-scheduler` processes (log quorum 2).

Timed: one Thrift-binary createJob (AuroraSchedulerManager, 1 instance) POSTed to the leader's /api over a
keep-alive HTTP connection, until its OK reply: decoding, validation, the task insert, the storage write
appended to the replicated log and acknowledged by a quorum (2 of 3 replicas, each fsyncing), the reply.
Comparator, in the same run and interleaved in blocks: the raw log append of one entry of the same size
POSTed to the writer of 3 `aurora-log serve` processes (quorum 2) over the same kind of connection: the part
of createJob the log itself costs. Goal (issue 13): p50 <= 2 x the raw append p50 + 2 ms.
Prints `metric value unit | comparator value | ratio` and writes bench/results/scheduler_create_job.json.
"""
from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time

import benchlib

from thermos_executor.aurora_api.gen import AuroraSchedulerManager
from thermos_executor.aurora_api.gen.ttypes import Response, ResponseCode
from scheduler.log.protocol import APPEND, encode
from tests.integration.logcluster import LogCluster
from tests.integration.schedcluster import SchedulerCluster, job_config
from tests.zookeeper import ZooKeeperServer

N = int(os.environ.get("BENCH_N", "400"))
BLOCK = 50
BINARY = "application/vnd.apache.thrift.binary"


def create_job_body(name: str) -> bytes:
    return benchlib.thrift_call(AuroraSchedulerManager, "createJob", description=job_config("bench", "prod", name))


def response_code(body: bytes) -> int:
    return (benchlib.thrift_success(AuroraSchedulerManager, "createJob", body) or Response()).responseCode


def timed_post(conn: http.client.HTTPConnection, path: str, body: bytes, content_type: str) -> tuple[float, bytes]:
    t = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": content_type, "Accept": content_type})
    reply = conn.getresponse()
    data = reply.read()
    elapsed = time.perf_counter() - t
    if reply.status != 200:
        raise RuntimeError(f"{path}: HTTP {reply.status}: {data[:200]!r}")
    return elapsed, data


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-sched-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk:
        schedulers = SchedulerCluster(os.path.join(d, "schedulers"), zk.endpoints, size=3, quorum=2,
                                      session_timeout="10secs")
        logs = LogCluster(os.path.join(d, "logs"), zk.endpoints, size=3, quorum=2, session_timeout="10secs")
        os.makedirs(schedulers.dir)
        os.makedirs(logs.dir)
        try:
            schedulers.start()
            logs.start()
            leader = schedulers.wait_leader(60)
            writer = logs.wait_writer()
            api = http.client.HTTPConnection("127.0.0.1", schedulers.http_ports[leader], timeout=30)
            raw = http.client.HTTPConnection(*logs.address(writer).split(":"), timeout=30)
            serial = iter(range(10 ** 9))

            def create_job() -> float:
                elapsed, data = timed_post(api, "/api", create_job_body(f"job{next(serial)}"), BINARY)
                if response_code(data) != ResponseCode.OK:
                    raise RuntimeError("createJob was not acknowledged")
                return elapsed

            for _ in range(50):  # warm-up
                create_job()
            stats = schedulers.vars(leader)
            entry_bytes = stats["scheduler_log_bytes_written"] // stats["scheduler_log_entries_written"]
            append_body = encode({}, [(0, 0, APPEND, b"x" * entry_bytes)])
            for _ in range(50):
                timed_post(raw, "/log/append", append_body, "application/octet-stream")
            jobs, appends = [], []
            while len(jobs) < N:
                jobs += [create_job() for _ in range(BLOCK)]
                appends += [timed_post(raw, "/log/append", append_body, "application/octet-stream")[0]
                            for _ in range(BLOCK)]
        finally:
            schedulers.close()
            logs.shutdown()
    job_p50, append_p50 = benchlib.median(jobs) * 1e3, benchlib.median(appends) * 1e3
    goal = 2 * append_p50 + 2
    figures = [
        benchlib.figure("scheduler_create_job_1_p50", job_p50, "ms", "raw_log_append_p50", append_p50,
                        goal=f"<= 2x + 2 ms = {goal:.2f} ms", met=job_p50 <= goal),
        benchlib.figure("scheduler_create_job_1_p99", benchlib.percentile(jobs, 99) * 1e3, "ms",
                        "raw_log_append_p99", benchlib.percentile(appends, 99) * 1e3),
    ]
    benchlib.write_results("scheduler_create_job", figures, n=len(jobs), entry_bytes=entry_bytes, schedulers=3,
                           quorum=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
