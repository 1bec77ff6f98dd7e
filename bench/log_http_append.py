"""Sequential appends through the HTTP API (`POST /log/append`) against the in-process path, in the same run.

Set-up as bench/log_append.py: 3 replicas, quorum 2, SQLite WAL + synchronous=FULL; the writer runs in this
process (as in the scheduler, which embeds it) and serves HTTP; the two followers are `aurora-log serve`
processes. One entry of 256 bytes per append, one append at a time, N of each, after a warm-up:

  * in-process (the floor): ``await coordinator.append([payload])`` on the writer's own loop;
  * HTTP, the black-box client of issue 12 (one request per append) in a separate process, in three forms:
      - `keepalive`: stdlib http.client, one persistent connection (what a tool should do);
      - `logclient`: scheduler.log.client.LogClient, the blocking client `aurora-log append` and tests use;
      - `newconn`: stdlib http.client, a new TCP connection per append (what the issue's client did).
The client process times each request itself (perf_counter around request + response) and reports its own
CPU per append; the writer's CPU per append (loop and worker thread) is measured around each phase. The
phases alternate, ROUNDS times over, so that load from others on a shared machine falls on every path alike;
figures pool the rounds. Goal: HTTP sequential appends (keep-alive) within 1.5x of in-process.

`--profile` prints the writer loop's cProfile per phase on stderr (where the HTTP time goes; BENCH_PROFILE_SORT=
cumtime and BENCH_PROFILE_LINES=N to change the view).
Prints `metric value unit | floor/comparator value | ratio` (ratio as benchlib: floor/value for rates, value/
floor for latencies, so bigger is worse) and writes bench/results/log_http_append.json.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time

import benchlib
from benchlib import figure, median, percentile, write_results

from tornado.httpserver import HTTPServer

from scheduler.log.node import LogNode
from scheduler.log.replica import Replica
from scheduler.log.server import make_app
from tests.helpers import free_port
from tests.integration.logcluster import LogCluster, start_followers
from tests.zookeeper import ZooKeeperServer

PAYLOAD = b"x" * 256
N = int(os.environ.get("BENCH_SEQ_N", "3000"))  # per path, over all rounds
ROUNDS = 3
WARMUP = 100
MODES = ("in_process", "keepalive", "logclient", "newconn")
GOAL_RATIO = 1.5
PROFILE = "--profile" in sys.argv  # print where the writer's loop spends its time, per phase (to stderr)

# The black-box client: a separate process, timing every append; prints a JSON list of seconds.
CLIENT = r"""
import http.client, json, struct, sys, time
mode, address, n, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, sys.argv[5])
payload = b"x" * 256
body = struct.pack(">I", 2) + b"{}" + struct.pack(">QQBI", 0, 0, 0, len(payload)) + payload
host, port = address.rsplit(":", 1)
if mode == "logclient":
    from scheduler.log.client import LogClient
    client = LogClient(address)
    def append():
        client.append([payload])
else:
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    def append():
        global conn
        if mode == "newconn":
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/log/append", body=body)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"HTTP {resp.status}: {data[:200]!r}")
for _ in range(warmup):
    append()
lat = []
cpu = time.process_time()
for _ in range(n):
    t = time.perf_counter()
    append()
    lat.append(time.perf_counter() - t)
print(json.dumps({"lat": lat, "client_cpu_s": time.process_time() - cpu}))
"""


def summary(lat: list[float], writer_cpu_s: float, client_cpu_s: float) -> dict:
    """Sequential appends: the rate is 1 / mean latency."""
    n = len(lat)
    return {"per_s": n / sum(lat), "p50_ms": median(lat) * 1e3, "p99_ms": percentile(lat, 99) * 1e3, "n": n,
            "writer_cpu_us": writer_cpu_s / n * 1e6, "client_cpu_us": client_cpu_s / n * 1e6}


async def http_client(mode: str, address: str, n: int) -> tuple[list[float], float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, mode, address, str(n), str(WARMUP), benchlib.REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{mode} client failed: {err.decode()[-500:]}")
    got = json.loads(out)
    return got["lat"], got["client_cpu_s"]


async def measure(workdir: str, zk_endpoints: str, followers: LogCluster) -> dict:
    path = os.path.join(workdir, "writer")
    r = Replica(path)
    r.initialize()
    r.close()
    port = free_port()
    node = LogNode(path, f"127.0.0.1:{port}", zk_endpoints, followers.group, quorum=2, session_timeout=10)
    server = HTTPServer(None)
    await node.start()
    server.request_callback = make_app(node)
    server.listen(port, "127.0.0.1")
    try:
        deadline = time.monotonic() + 60
        while not (node.coordinator and node.coordinator.recovered and len(node.discovery.members) == 3):
            if time.monotonic() > deadline:
                raise RuntimeError("writer did not become READY")
            await asyncio.sleep(0.05)  # set-up only
        coord = node.coordinator

        async def in_process(n: int) -> tuple[list[float], float]:
            for _ in range(WARMUP):
                await coord.append([PAYLOAD])
            lat = []
            for _ in range(n):
                t = time.perf_counter()
                await coord.append([PAYLOAD])
                lat.append(time.perf_counter() - t)
            return lat, 0.0  # the client is the writer: its CPU is the writer's

        lat = {m: [] for m in MODES}
        cpu = {m: [0.0, 0.0] for m in MODES}
        for _ in range(ROUNDS):
            for mode in MODES:
                prof = cProfile.Profile() if PROFILE else None
                start = time.process_time()
                if prof:
                    prof.enable()
                got, client_cpu = await (in_process(N // ROUNDS) if mode == "in_process"
                                         else http_client(mode, f"127.0.0.1:{port}", N // ROUNDS))
                if prof:
                    prof.disable()
                    print(f"== profile of the writer's loop thread: {mode}", file=sys.stderr)
                    stats = pstats.Stats(prof, stream=sys.stderr)
                    stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime"))
                    stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "15")))
                # writer CPU includes the warm-up appends: scale to the measured ones
                cpu[mode][0] += (time.process_time() - start) * len(got) / (len(got) + WARMUP)
                cpu[mode][1] += client_cpu
                lat[mode] += got
        return {m: summary(lat[m], *cpu[m]) for m in MODES}
    finally:
        server.stop()
        await node.stop()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-loghttp-") as d:
        with ZooKeeperServer(os.path.join(d, "zk")) as zk:
            followers = start_followers(d, zk.endpoints)
            try:
                res = asyncio.run(measure(d, zk.endpoints, followers))
            finally:
                followers.shutdown()
    floor, ka = res["in_process"], res["keepalive"]
    figures = [
        figure("log_inprocess_seq_appends", floor["per_s"], "appends/s", "goal", 1000.0, goal=1000.0,
               met=floor["per_s"] >= 1000, rate=True),
        figure("log_http_seq_appends", ka["per_s"], "appends/s", "in-process", floor["per_s"],
               goal=GOAL_RATIO, met=floor["per_s"] / ka["per_s"] <= GOAL_RATIO, rate=True),
        figure("log_http_seq_p50", ka["p50_ms"], "ms", "in-process", floor["p50_ms"]),
        figure("log_http_seq_p99", ka["p99_ms"], "ms", "in-process", floor["p99_ms"]),
        figure("log_http_logclient_seq_appends", res["logclient"]["per_s"], "appends/s", "in-process",
               floor["per_s"], goal=GOAL_RATIO, met=floor["per_s"] / res["logclient"]["per_s"] <= GOAL_RATIO,
               rate=True),
        figure("log_http_newconn_seq_appends", res["newconn"]["per_s"], "appends/s", "in-process",
               floor["per_s"], rate=True),
        figure("log_http_writer_cpu_per_append", ka["writer_cpu_us"], "us", "in-process", floor["writer_cpu_us"]),
        figure("log_http_newconn_writer_cpu_per_append", res["newconn"]["writer_cpu_us"], "us", "in-process",
               floor["writer_cpu_us"]),
    ]
    write_results("log_http_append", figures, payload_bytes=len(PAYLOAD), n=N, rounds=ROUNDS, warmup=WARMUP,
                  **res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
