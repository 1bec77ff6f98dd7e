"""Replicated-log catch-up and writer failover, 3 replica processes (quorum 2) on a real ZooKeeper.

  * log_catchup_100k: a follower is killed, the writer commits 100,000 entries (256 B) without it, the
    follower restarts; time from its restart (serving again) until it has learned everything. Goal <= 2 s.
  * log_failover: kill -9 of the writer; time until an append succeeds through the next writer.
    Comparator (the goal): ZooKeeper session timeout + 1 s. Median of FAILOVERS runs.
Prints `metric value unit | comparator value | ratio` and writes bench/results/log_recovery.json.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from tests.integration.logcluster import LogCluster, wait_for  # noqa: E402
from tests.zookeeper import ZooKeeperServer  # noqa: E402

import benchlib  # noqa: E402
from scheduler.log.protocol import LogError  # noqa: E402

PAYLOAD = b"y" * 256
BEHIND = 100_000
SESSION_TIMEOUT = 2.0
FAILOVERS = int(os.environ.get("BENCH_FAILOVERS", "3"))


def catchup(workdir: str, zk: str) -> dict:
    c = LogCluster(os.path.join(workdir, "catchup"), zk, size=3, quorum=2, session_timeout="10secs")
    os.makedirs(c.dir)
    c.start()
    try:
        w = c.wait_writer()
        lagger = (w + 1) % 3
        c.kill(lagger)
        client = c.client(w, timeout=60)
        for _ in range(BEHIND // 1000):
            client.append([PAYLOAD] * 1000)
        ending = client.status()["ending"]
        c.spawn(lagger)  # returns once the restarted replica serves HTTP
        t0 = time.monotonic()
        wait_for(lambda: c.client(lagger).status()["replica"]["learned"] >= ending, 60, "catch-up",
                 interval=0.01)
        took = time.monotonic() - t0
        assert c.client(lagger).read(ending - 10, ending) == client.read(ending - 10, ending)
        return {"entries_behind": ending, "seconds": took}
    finally:
        c.shutdown()


def failover(workdir: str, zk: str) -> dict:
    c = LogCluster(os.path.join(workdir, "failover"), zk, size=3, quorum=2,
                   session_timeout=f"{int(SESSION_TIMEOUT)}secs")
    os.makedirs(c.dir)
    c.start()
    times = []
    try:
        for _ in range(FAILOVERS):
            w = c.wait_writer()
            c.client(w).append([PAYLOAD])
            c.kill(w)
            t0 = time.monotonic()

            def appended(old=w):
                for i in c.running():
                    if i != old:
                        try:
                            return c.client(i, timeout=5).append([PAYLOAD])
                        except LogError:
                            continue
                return None
            wait_for(appended, 60, "an append through a new writer", interval=0.01)
            times.append(time.monotonic() - t0)
            c.spawn(w)
    finally:
        c.shutdown()
    return {"seconds": times, "median": statistics.median(times), "max": max(times)}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-logrec-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk:
        cu = catchup(d, zk.endpoints)
        fo = failover(d, zk.endpoints)
    goal_fo = SESSION_TIMEOUT + 1
    figures = [
        benchlib.figure("log_catchup_100k", cu["seconds"], "s", "goal", 2.0, goal="<= 2", met=cu["seconds"] <= 2.0),
        benchlib.figure("log_failover_median", fo["median"], "s", "zk-session-timeout+1s", goal_fo,
                        goal=f"<= {goal_fo:g}", met=fo["median"] <= goal_fo),
        benchlib.figure("log_failover_max", fo["max"], "s", "zk-session-timeout+1s", goal_fo),
    ]
    benchlib.write_results("log_recovery", figures, catchup=cu, failover=fo, session_timeout_s=SESSION_TIMEOUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
