"""Fan-out: 180 processes, at most 8 at a time, through a real `thermos run` (medians of several runs).

1. `true` x 180: processes per second from the task's ACTIVE record to its terminal record in the runner
   checkpoint. Goal >= 200/s. Floor: the machine's own rate for the same work, measured in the same run by
   this script: posix_spawn `/bin/bash -c true` 8 at a time, with 3 fdatasync'd records per process (what a
   coordinator must write at the least), no runner at all.
2. `sleep 0.1` x 180: the same span, against the ideal 180 / 8 * 0.1 = 2.25 s. Goal <= 15 % over.
   Comparator: Aurora's runner polled once a second, so each of the 23 waves of 8 took >= 1 s: ~23 s.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import benchlib

N, CONCURRENCY, SLEEP = 180, 8, 0.1
GOAL_RATE, GOAL_OVER = 200.0, 0.15


def thermos_span(config: str) -> dict:
    """Seconds from ACTIVE to the terminal state (checkpoint times) and from spawn to exit (wall clock)."""
    with benchlib.RunningTask(config) as task:
        task.wait()
        ended = time.time()
        records = task.records()
    statuses = [r["task_status"] for r in records if "task_status" in r]
    assert statuses[-1]["state"] == "SUCCESS", statuses[-1]
    runs = sum(1 for r in records if "process_status" in r and r["process_status"]["state"] == "SUCCESS")
    assert runs == N, runs
    return {"span": statuses[-1]["timestamp"] - statuses[0]["timestamp"], "wall": ended - task.spawned_at}


def machine_span(cmdline: str, directory: str) -> float:
    """The same fan-out with no runner: spawn, 3 durable records per process, reap. Seconds."""
    fd = os.open(os.path.join(directory, "probe.ckpt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    record = b'{"process_status":{"process":"p000","seq":1,"state":"RUNNING","pid":12345}}\n'

    def durable():
        os.write(fd, record)
        os.fdatasync(fd)

    start = time.perf_counter()
    started = done = 0
    running = 0
    while done < N:
        while started < N and running < CONCURRENCY:
            os.posix_spawn("/bin/bash", ["/bin/bash", "-c", cmdline], {"PATH": os.defpath})
            durable()
            durable()
            started += 1
            running += 1
        os.waitpid(-1, 0)
        durable()
        running -= 1
        done += 1
    os.close(fd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thermos-bench-") as tmp:
        true_cfg = benchlib.task_file(tmp, N, "true", CONCURRENCY, name="true.thermos")
        sleep_cfg = benchlib.task_file(tmp, N, f"sleep {SLEEP}", CONCURRENCY, name="sleep.thermos")
        true_runs, sleep_runs, true_floor, sleep_machine = [], [], [], []
        for _ in range(args.runs):   # interleaved, so noise hits runner and floor alike
            true_runs.append(thermos_span(true_cfg))
            true_floor.append(machine_span("true", tmp))
            sleep_runs.append(thermos_span(sleep_cfg))
            sleep_machine.append(machine_span(f"sleep {SLEEP}", tmp))
    rate = N / benchlib.median([r["span"] for r in true_runs])
    floor_rate = N / benchlib.median(true_floor)
    sleep_total = benchlib.median([r["span"] for r in sleep_runs])
    ideal = N / CONCURRENCY * SLEEP
    aurora = math.ceil(N / CONCURRENCY) * 1.0
    figures = [
        benchlib.figure("fanout_true_rate", rate, "proc/s", "machine spawn+3 fsync", floor_rate,
                        goal=f">= {GOAL_RATE} proc/s", met=rate >= GOAL_RATE, fmt="{:.0f}", rate=True),
        benchlib.figure("fanout_sleep_total", sleep_total, "s", "ideal 180/8*0.1", ideal,
                        goal=f"<= {1 + GOAL_OVER:.2f}x ideal", met=sleep_total <= ideal * (1 + GOAL_OVER),
                        fmt="{:.3f}"),
        benchlib.figure("fanout_sleep_total", sleep_total, "s", "aurora 1 s polling", aurora, fmt="{:.3f}"),
    ]
    benchlib.write_results(
        "fanout", figures, runs=args.runs, processes=N, max_concurrency=CONCURRENCY,
        true_span_s=[r["span"] for r in true_runs], true_wall_s=[r["wall"] for r in true_runs],
        true_machine_s=true_floor, sleep_span_s=[r["span"] for r in sleep_runs],
        sleep_wall_s=[r["wall"] for r in sleep_runs], sleep_machine_s=sleep_machine)


if __name__ == "__main__":
    main()
