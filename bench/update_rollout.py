"""A 50-instance job update, batch_size 10, watch_secs 1 (Batch strategy: 5 batches of 10), with real Thermos
executors and runners on the Mesos-API stand-in (5 agents of 4 cpus / 4 GB: room for 100 such tasks), under the
leader of 3 `aurora-scheduler` processes (log quorum 2, tests/integration/schedmesos.py's flags, then
BENCH_SCHEDULER_FLAGS).

Each round: startJobUpdate from the running config to a changed one (the .aurora file's
`update_config=UpdateConfig(batch_size=10, watch_secs=1, wait_for_batch_completion=True)`, built into the request
as Aurora's client does), then, untimed and at a slow pace (so the queries do not load the leader), wait for
ROLLED_FORWARD, then read the update's events and the job's task events, all stamped by the leader.

Timed: the update's ROLLING_FORWARD event (written with startJobUpdate's reply) -> its ROLLED_FORWARD event.
Ideal, from the same round's own per-instance times: for each instance, kill (old task KILLING -> KILLED) +
start (new task PENDING -> RUNNING) + watch (new task RUNNING -> the instance's INSTANCE_UPDATED event, watch_secs
and the scheduler's timer); a batch is as fast as its slowest member, so ideal = the sum over the 5 batches of
the batch's largest kill + start + watch. A second comparator uses medians: 5 x (median kill + median start +
median watch). What the ideal leaves out is the scheduler's own gaps between phases: INSTANCE_UPDATING ->
KILLING, KILLED -> the new task's PENDING, and the last INSTANCE_UPDATED of a batch -> the next batch's
INSTANCE_UPDATING. Their sum is the figure `scheduler_gaps` (total - ideal); each round in the results file has
them one by one (medians_s / max_s: updating_to_killing, killed_to_pending; between_batches_s), with the start
split into PENDING -> ASSIGNED (place) and ASSIGNED -> RUNNING (launch: ASSIGNED -> STARTING, the executor starting
and registering; STARTING -> RUNNING, the runner starting the process). Goal (issue): total <= 1.3 x ideal.
Rounds (BENCH_ROUNDS, default 3) update the same job v1 -> v2 -> v3 ...; printed figures are the medians of the
rounds. Prints `metric value unit | comparator value | ratio`, writes bench/results/update_rollout.json.
"""
from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time

import benchlib

from thermos_executor.aurora_api.gen.ttypes import (JobUpdateAction, JobUpdateQuery, JobUpdateRequest,
                                                    JobUpdateStatus, ResponseCode, ScheduleStatus)
from thermos_executor.config import loader
from thermos_executor.config.thrift import convert, update_settings
from tests.integration.schedmesos import MesosCluster
from tests.zookeeper import ZooKeeperServer

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# More scheduler flags, after (so overriding) schedmesos' fast ones, e.g. Aurora's defaults:
# BENCH_SCHEDULER_FLAGS="-offer_filter_duration=5secs -min_offer_hold_time=5mins"
EXTRA_FLAGS = tuple(os.environ.get("BENCH_SCHEDULER_FLAGS", "").split())
INSTANCES, BATCH, WATCH_SECS = 50, 10, 1
AGENTS = 5            # schedmesos' agents: cpus 4, mem 4 GB each; a task + its executor: 0.2 cpu, 40 MB
GOAL = 1.3
JOB = "bench/prod/roll"
S, U, A = ScheduleStatus, JobUpdateStatus, JobUpdateAction
TEXT = """
task = Task(processes=[Process(name='main', cmdline='echo {version}; exec sleep 600')],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Service(cluster='test', role='bench', environment='prod', name='roll', task=task, instances={n},
                update_config=UpdateConfig(batch_size={batch}, watch_secs={watch},
                                           wait_for_batch_completion=True))]
"""


def text(version: str) -> str:
    return TEXT.format(version=version, n=INSTANCES, batch=BATCH, watch=WATCH_SECS)


def request(cluster: MesosCluster, version: str) -> JobUpdateRequest:
    """startJobUpdate's request, as `aurora update start` builds it from the .aurora file."""
    path = os.path.join(cluster.dir, f"{version}.aurora")
    with open(path, "w") as f:
        f.write(textwrap.dedent(text(version)))
    job = loader.choose_job(loader.load(path))
    config = convert(job, user=os.environ.get("USER", "root"))
    return JobUpdateRequest(taskConfig=config.taskConfig, instanceCount=config.instanceCount,
                            settings=update_settings(job))


def details(client, update_key):
    reply = client.getJobUpdateDetails(None, JobUpdateQuery(key=update_key))
    if reply.responseCode != ResponseCode.OK:
        raise RuntimeError(f"getJobUpdateDetails: {reply}")
    (d,) = reply.result.getJobUpdateDetailsResult.detailsList
    return d


def first(events, status) -> float:
    """Seconds (epoch) of the first of `events` (TaskEvents) with `status`."""
    return next(e.timestamp for e in events if e.status == status) / 1000


def one_round(cluster: MesosCluster, version: str) -> dict:
    client = cluster.client()
    before = {t.assignedTask.instanceId: t for t in cluster.tasks(JOB, {S.RUNNING})}
    if len(before) != INSTANCES:
        raise RuntimeError(f"{len(before)} RUNNING tasks before the update, not {INSTANCES}")
    reply = client.startJobUpdate(request(cluster, version), "bench")
    replied = time.time()
    if reply.responseCode != ResponseCode.OK:
        raise RuntimeError(f"startJobUpdate: {reply}")
    update_key = reply.result.startJobUpdateResult.key

    def finished():
        d = details(client, update_key)
        return d.update.summary.state.status not in (U.ROLLING_FORWARD,) and d
    try:
        d = benchlib.wait_until(finished, "the update to end", 600, interval=0.5)
    except TimeoutError:
        raise RuntimeError(f"update not over after 600 s; leader stderr: {cluster.leader_stderr()[-3000:]}") from None
    if d.update.summary.state.status != U.ROLLED_FORWARD:
        raise RuntimeError(f"update ended {U._VALUES_TO_NAMES[d.update.summary.state.status]}")
    rf = {e.status: e.timestampMs / 1000 for e in d.updateEvents}
    total = rf[U.ROLLED_FORWARD] - rf[U.ROLLING_FORWARD]

    instance_events: dict[int, dict[int, float]] = {}
    for e in d.instanceEvents:
        instance_events.setdefault(e.instanceId, {})[e.action] = e.timestampMs / 1000
    old_ids = {t.assignedTask.taskId for t in before.values()}
    new = {t.assignedTask.instanceId: t for t in cluster.tasks(JOB)
           if t.assignedTask.taskId not in old_ids and t.status == S.RUNNING}
    if len(new) != INSTANCES:
        raise RuntimeError(f"{len(new)} RUNNING new tasks after the update, not {INSTANCES}")
    old = {t.assignedTask.instanceId: t for t in cluster.tasks(JOB) if t.assignedTask.taskId in old_ids}

    per = {}
    for i in range(INSTANCES):
        oe, ne, ie = old[i].taskEvents, new[i].taskEvents, instance_events[i]
        p = {"updating": ie[A.INSTANCE_UPDATING], "killing": first(oe, S.KILLING), "killed": first(oe, S.KILLED),
             "pending": first(ne, S.PENDING), "assigned": first(ne, S.ASSIGNED),
             "starting": first(ne, S.STARTING), "running": first(ne, S.RUNNING),
             "updated": ie[A.INSTANCE_UPDATED]}
        p.update(kill=p["killed"] - p["killing"], start=p["running"] - p["pending"],
                 watch=p["updated"] - p["running"], place=p["assigned"] - p["pending"],
                 launch=p["running"] - p["assigned"], executor=p["starting"] - p["assigned"],
                 runner=p["running"] - p["starting"], updating_to_killing=p["killing"] - p["updating"],
                 killed_to_pending=p["pending"] - p["killed"])
        p["sum"] = p["kill"] + p["start"] + p["watch"]
        per[i] = p
    batches = [sorted(range(b * BATCH, (b + 1) * BATCH)) for b in range(INSTANCES // BATCH)]
    starts = [min(per[i]["updating"] for i in b) for b in batches]
    if starts != sorted(starts):
        raise RuntimeError("batches did not start in instance order")
    ideal = sum(max(per[i]["sum"] for i in b) for b in batches)
    med = {k: benchlib.median([p[k] for p in per.values()])
           for k in ("kill", "start", "watch", "place", "launch", "executor", "runner", "updating_to_killing",
                     "killed_to_pending")}
    ideal_median = len(batches) * (med["kill"] + med["start"] + med["watch"])
    # Between batches: the last INSTANCE_UPDATED of a batch -> the next batch's first INSTANCE_UPDATING.
    between = [min(per[i]["updating"] for i in batches[b + 1]) - max(per[i]["updated"] for i in batches[b])
               for b in range(len(batches) - 1)]
    # Inside each batch: batch's wall time minus its slowest member's kill + start + watch (the scheduler's gaps).
    batch_wall = [max(per[i]["updated"] for i in b) - min(per[i]["updating"] for i in b) for b in batches]
    batch_slowest = [max(per[i]["sum"] for i in b) for b in batches]
    return {"version": version, "total_s": total, "reply_to_rolled_forward_s": rf[U.ROLLED_FORWARD] - replied,
            "ideal_s": ideal, "ideal_median_s": ideal_median, "medians_s": med,
            "max_s": {k: max(p[k] for p in per.values()) for k in med},
            "first_batch_start_s": starts[0] - rf[U.ROLLING_FORWARD],
            "between_batches_s": between, "batch_wall_s": batch_wall, "batch_slowest_member_s": batch_slowest,
            "rolled_forward_after_last_updated_s": rf[U.ROLLED_FORWARD] - max(p["updated"] for p in per.values()),
            "instances": {i: {k: round(v, 3) for k, v in p.items()
                              if k in med}
                          for i, p in per.items()}}


def main() -> int:
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-update-") as d, ZooKeeperServer(os.path.join(d, "zk")) as zk:
        os.makedirs(os.path.join(d, "cluster"))
        with MesosCluster(os.path.join(d, "cluster"), zk.endpoints, agents=AGENTS,
                          extra_args=EXTRA_FLAGS) as cluster:
            cluster.create(text("v0"))
            cluster.wait_tasks(JOB, lambda ts: sum(t.status == S.RUNNING for t in ts) == INSTANCES, timeout=300,
                               what=f"{INSTANCES} RUNNING tasks")
            for r in range(ROUNDS):
                result = one_round(cluster, f"v{r + 1}")
                rounds.append(result)
                m = result["medians_s"]
                print(f"# round {r + 1}: total {result['total_s']:.2f} s, ideal {result['ideal_s']:.2f} s "
                      f"(medians {result['ideal_median_s']:.2f} s); median kill {m['kill']:.2f}, start "
                      f"{m['start']:.2f} (place {m['place']:.3f}, launch {m['launch']:.2f}: "
                      f"ASSIGNED->STARTING {m['executor']:.2f}, STARTING->RUNNING {m['runner']:.2f}), "
                      f"watch {m['watch']:.2f}, killed->pending {m['killed_to_pending']:.3f}; between batches "
                      + ", ".join(f"{g:.3f}" for g in result["between_batches_s"]), flush=True)
    med = benchlib.median
    total, ideal, ideal_median = (med([r[k] for r in rounds]) for k in ("total_s", "ideal_s", "ideal_median_s"))
    gaps = med([r["total_s"] - r["ideal_s"] for r in rounds])
    phase = {k: med([r["medians_s"][k] for r in rounds]) for k in rounds[0]["medians_s"]}
    figures = [
        benchlib.figure("update_rollout_total", total, "s", "ideal_slowest_per_batch", ideal,
                        goal=f"<= {GOAL:g}x ideal", met=total <= GOAL * ideal),
        benchlib.figure("update_rollout_total", total, "s", "ideal_medians", ideal_median),
        benchlib.figure("update_rollout_scheduler_gaps (total - ideal)", gaps, "s", "-", None),
        benchlib.figure("update_rollout_kill_median", phase["kill"], "s", "-", None),
        benchlib.figure("update_rollout_start_median", phase["start"], "s", "-", None),
        benchlib.figure("update_rollout_place_median", phase["place"], "s", "-", None),
        benchlib.figure("update_rollout_launch_median", phase["launch"], "s", "-", None),
        benchlib.figure("update_rollout_watch_median", phase["watch"], "s", "watch_secs", WATCH_SECS),
        benchlib.figure("update_rollout_killed_to_pending_median", phase["killed_to_pending"], "s", "-", None),
    ]
    benchlib.write_results("update_rollout", figures, rounds=rounds, instances=INSTANCES, batch_size=BATCH,
                           watch_secs=WATCH_SECS, agents=AGENTS,
                           extra_scheduler_flags=EXTRA_FLAGS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
