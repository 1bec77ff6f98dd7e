"""Observer latency with 1,000 finished + 50 active tasks: index, /j/task_ids, task page, end of a 1 GB log.

The tasks are written as the runner writes them (real checkpoint streams through ckpt.Writer, task files),
not run: what is measured is discovery, reading and rendering. A real `thermos_observer` serves them on
127.0.0.1; one keep-alive client sends --requests sequential requests per figure after a warm-up.
`task_ids_uncached` walks the finished pages once, each a miss of the observer's bounded cache of parsed
checkpoints (what a user paging back through old tasks gets). Comparator, in the same run: `/health`
through the same server and client (the HTTP round trip floor).
Goals: index and /j/task_ids p50 <= 50 ms, p99 <= 200 ms; task page p50 <= 30 ms; a 64 KiB chunk at the end
of a 1 GB log p50 <= 10 ms.
"""
from __future__ import annotations

import argparse
import http.client
import os
import tempfile
import time

import benchlib
from tests.observer_helpers import Observer, synthetic_task

FINISHED, ACTIVE = 1000, 50
GB, CHUNK = 1 << 30, 64 * 1024


def timed(conn, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="observer-bench-") as tmp:
        root, sandbox = os.path.join(tmp, "root"), os.path.join(tmp, "sandbox")
        os.makedirs(os.path.join(sandbox, ".logs", "p0", "0"))
        now = time.time()
        for i in range(FINISHED):
            synthetic_task(root, f"finished-{i:05d}", sandbox, "finished", launch_time=now - 10_000 + i,
                           mtime=now - 10_000 + i)
        for i in range(ACTIVE):
            synthetic_task(root, f"active-{i:03d}", sandbox, "active", launch_time=now - 100 + i, mtime=now - 100 + i)
        log = os.path.join(sandbox, ".logs", "p0", "0", "stdout")
        with open(log, "wb") as f:              # 1 GB, sparse but for its last MiB (which is what is read)
            f.truncate(GB - (1 << 20))
            f.seek(GB - (1 << 20))
            f.write(b"a log line of some length, as programs write them\n" * ((1 << 20) // 51))
            f.truncate(GB)
        observer = Observer("--root", root)
        try:
            observer.wait_task("finished-00000", "finished", timeout=60)
            conn = http.client.HTTPConnection("127.0.0.1", observer.port, timeout=30)
            paths = {"health": "/health", "index": "/", "task_ids": "/j/task_ids",
                     "task_page": "/task/finished-00500",
                     "log_chunk": f"/files/read?task_id=active-000&log=p0/0/stdout&offset={GB - CHUNK}&length={CHUNK}"}
            for path in paths.values():
                timed(conn, path, 20)           # warm-up
            results = {name: timed(conn, path, args.requests) for name, path in paths.items()}
            # pages of finished tasks not read before: each one misses the bounded cache of parsed checkpoints
            results["task_ids_uncached"] = [t for offset in range(0, FINISHED, 20)
                                            for t in timed(conn, f"/j/task_ids/finished/{offset}/20", 1)]
            conn.close()
        finally:
            observer.stop()
    floor = benchlib.median(results["health"])
    figures = []
    for name, p, goal in [("index", 50, 50), ("index", 99, 200), ("task_ids", 50, 50), ("task_ids", 99, 200),
                          ("task_ids_uncached", 50, 50), ("task_page", 50, 30), ("log_chunk", 50, 10)]:
        value = benchlib.percentile(results[name], p)
        figures.append(benchlib.figure(f"observer_{name}_p{p}", value, "ms", "health_p50", floor,
                                       goal=f"<= {goal} ms", met=value <= goal, fmt="{:.3f}"))
    benchlib.write_results("observer_latency", figures, finished=FINISHED, active=ACTIVE, requests=args.requests,
                           health_p99_ms=benchlib.percentile(results["health"], 99))


if __name__ == "__main__":
    main()
