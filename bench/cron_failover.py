"""A cron job every minute (`* * * * *`) for N minutes (default 10) across two leader failovers: exactly N runs.

Setup: real ZooKeeper, three `aurora-scheduler` processes (log quorum 2, -zk_session_timeout 2 s), the Mesos-API
stand-in with one agent, real Thermos executors and runners. A cron job whose task is `echo run; sleep 1` is
scheduled with scheduleCronJob a few seconds into a minute; its runs are the minute boundaries M1..MN after
that. The leader is killed (-9) twice: at M(0.3 N) + 30 s (mid-minute) and at M(0.6 N) - 0.5 s (just before a
firing, so that run comes due while no scheduler leads and the successor must fire it, once, when it takes
over). `--kill-offsets` moves the two kills (seconds from their boundary). After each kill the benchmark waits
for a READY, advertised successor, then restarts the killed scheduler as a follower (so the quorum survives
the second kill). At MN + 30 s the job's tasks are read from the leader (getTasksWithoutConfigs, all
statuses).

Figures: runs = distinct instance-0 task ids of the job, against N (goal: equal, and one per boundary, no
boundary missed or fired twice); the failovers done, against those planned; each firing's lateness = its
task's PENDING event time (the scheduler's clock, as the log recorded it) minus its minute boundary, median
and max. The median has no comparator (a firing is a timer and one log write). Comparator of the max:
-zk_session_timeout, the time a killed leader's ZooKeeper nodes outlive it, which a run that came due during
a failover cannot beat; goal <= that + 1 s (the failover bench's goal).
About N + 1.5 minutes of wall time; `--minutes 3` for a quick run (`make bench BENCH_FLAGS=--cron-minutes=3`).
Prints `metric value unit | comparator value | ratio` and writes bench/results/cron_failover.json.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import benchlib

from thermos_executor.aurora_api.gen.ttypes import JobKey, ResponseCode, ScheduleStatus, TaskQuery
from tests.helpers import wait_for
from tests.integration.schedmesos import MesosCluster, job_config
from tests.zookeeper import ZooKeeperServer

SESSION_SECS = 2.0          # SchedulerCluster's default -zk_session_timeout
GRACE_S = 30.0              # how long after the last boundary its run may still appear
MINUTE_MS = 60_000
KEY = JobKey(role="www", environment="prod", name="tick")
JOB = """
task = Task(processes=[Process(name='main', cmdline='echo run; sleep 1')],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Job(cluster='bench', role='www', environment='prod', name='tick', cron_schedule='* * * * *',
            task=task)]
"""
TERMINAL = {ScheduleStatus.FINISHED, ScheduleStatus.FAILED, ScheduleStatus.KILLED, ScheduleStatus.LOST}


def now_ms() -> int:
    return int(time.time() * 1000)


def sleep_until(wall_ms: float) -> None:
    """Wait for a moment of the wall clock (a benchmark's schedule, not a synchronisation)."""
    while (left := wall_ms / 1000 - time.time()) > 0:
        time.sleep(min(left, 1.0))


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def leader_tasks(cluster: MesosCluster, leader: int) -> list:
    reply = cluster.sched.client(leader).getTasksWithoutConfigs(TaskQuery(jobKeys={KEY}))
    assert reply.responseCode == ResponseCode.OK, reply
    return reply.result.scheduleStatusResult.tasks or []


def fail_over(cluster: MesosCluster, leader: int) -> tuple[int, float]:
    """kill -9 the leader; (the READY successor, seconds from the kill), once the killed one is back as a
    follower."""
    t0 = time.perf_counter()
    cluster.sched.kill(leader)
    successor = cluster.sched.wait_leader(120, exclude=(leader,))
    took = time.perf_counter() - t0
    cluster.sched.launch(leader)
    wait_for(lambda: cluster.sched.leaderhealth(leader) == 503, 120, interval=0.1, what="the restarted scheduler")
    return successor, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="runs to wait for (>= 3; default 10)")
    parser.add_argument("--kill-offsets", default="30,-0.5",
                        help="seconds from boundary M(0.3 N), then from M(0.6 N), of the two kills")
    args = parser.parse_args()
    if args.minutes < 3:
        parser.error("--minutes must be at least 3 (two failovers between runs)")
    offsets = [float(x) for x in args.kill_offsets.split(",")]
    if len(offsets) != 2 or not all(-50 < x < 50 for x in offsets):
        parser.error("--kill-offsets: two numbers of seconds in (-50, 50)")
    minutes = args.minutes
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-cron-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk, \
            MesosCluster(os.path.join(d, "cluster"), zk.endpoints, size=3, agents=1) as cluster:
        leader = cluster.sched.wait_leader(120)
        config = job_config(JOB, d)
        # Schedule 5-45 s into a minute: no boundary between the save and our reading of the clock.
        while not 5_000 <= now_ms() % MINUTE_MS <= 45_000:
            sleep_until(now_ms() - now_ms() % MINUTE_MS + MINUTE_MS + 5_000)
        saved = now_ms()
        reply = cluster.sched.client(leader).scheduleCronJob(config)
        assert reply.responseCode == ResponseCode.OK, reply
        first = saved - saved % MINUTE_MS + MINUTE_MS
        boundaries = [first + i * MINUTE_MS for i in range(minutes)]
        kill_at = [boundaries[max(0, round(minutes * 0.3) - 1)] + offsets[0] * 1000,
                   boundaries[max(1, round(minutes * 0.6) - 1)] + offsets[1] * 1000]
        log(f"scheduled; runs expected at the {minutes} minutes from {time.strftime('%H:%M', time.gmtime(first/1000))}"
            f" GMT; kills at " + ", ".join(time.strftime('%H:%M:%S', time.localtime(k / 1000)) for k in kill_at))

        failovers = []
        for at in kill_at:
            sleep_until(at)
            killed = leader
            leader, took = fail_over(cluster, leader)
            failovers.append({"killed": killed, "successor": leader, "killed_at_ms": int(at),
                              "seconds_to_ready_leader": took})
            log(f"failover {len(failovers)}: scheduler {killed} killed, {leader} leads after {took:.2f} s")

        sleep_until(boundaries[-1] + GRACE_S * 1000)
        tasks = leader_tasks(cluster, leader)
        ids = {t.assignedTask.taskId for t in tasks}
        try:   # every run should have ended (FINISHED) by now; only for the detail
            wait_for(lambda: all(t.status in TERMINAL for t in leader_tasks(cluster, leader)), 60, interval=0.5,
                     what="the runs to end")
        except AssertionError:
            pass
        ended = {t.assignedTask.taskId: ScheduleStatus._VALUES_TO_NAMES[t.status]
                 for t in leader_tasks(cluster, leader) if t.assignedTask.taskId in ids}
    load_after = os.getloadavg()

    runs = []
    for t in tasks:
        pending = min(e.timestamp for e in t.taskEvents if e.status == ScheduleStatus.PENDING)
        running = [e.timestamp for e in t.taskEvents if e.status == ScheduleStatus.RUNNING]
        boundary = pending - pending % MINUTE_MS
        runs.append({"task_id": t.assignedTask.taskId, "instance": t.assignedTask.instanceId,
                     "boundary_ms": boundary, "lateness_ms": pending - boundary,
                     "running_after_ms": (min(running) - boundary) if running else None,
                     "status": ended.get(t.assignedTask.taskId)})
    runs.sort(key=lambda r: r["boundary_ms"])
    count = len({r["task_id"] for r in runs if r["instance"] == 0})
    fired = [r["boundary_ms"] for r in runs]
    exact = sorted(fired) == boundaries
    lateness = [r["lateness_ms"] for r in runs] or [0]
    goal_ms = (SESSION_SECS + 1) * 1000
    figures = [
        benchlib.figure("cron_runs", count, "runs", "expected", minutes, goal=f"== {minutes}, one per minute",
                        met=count == minutes and exact, fmt="{:d}"),
        benchlib.figure("cron_failovers", len(failovers), "failovers", "planned", len(kill_at),
                        goal=f"== {len(kill_at)}", met=len(failovers) == len(kill_at), fmt="{:d}"),
        benchlib.figure("cron_lateness_median", benchlib.median(lateness), "ms", "none", None, fmt="{:.0f}"),
        benchlib.figure("cron_lateness_max", max(lateness), "ms", "zk_session_timeout", SESSION_SECS * 1000,
                        goal=f"<= {goal_ms:g} ms", met=max(lateness) <= goal_ms, fmt="{:.0f}"),
    ]
    missed = sorted(set(boundaries) - set(fired))
    twice = sorted({b for b in fired if fired.count(b) > 1})
    extra = sorted(set(fired) - set(boundaries))
    log(f"runs per boundary exact: {exact} (missed {len(missed)}, fired twice {len(twice)}, outside {len(extra)}); "
        f"lateness ms per run: {[r['lateness_ms'] for r in runs]}; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (2 cores)")
    benchlib.write_results("cron_failover", figures, minutes=minutes, kill_offsets_s=offsets,
                           scheduled_at_ms=saved, boundaries_ms=boundaries, runs=runs, failovers=failovers,
                           missed_boundaries_ms=missed, fired_twice_ms=twice, outside_ms=extra,
                           loadavg_before=list(load_before), loadavg_after=list(load_after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
