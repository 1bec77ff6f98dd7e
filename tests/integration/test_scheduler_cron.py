"""Cron across a failover, with three real `aurora-scheduler` processes and real ZooKeeper: scheduleCronJob
and startCronJob on the leader, kill -9 of the leader, and the next natural run of a `* * * * *` schedule
fired once by its successor (KILL_EXISTING: the manual run's task killed, a new one launched after
-cron_start_initial_backoff). About one minute of wall time: the schedule's next minute boundary."""

from __future__ import annotations

import time

import pytest
from schedcluster import SchedulerCluster, job_config

from thermos_executor.aurora_api.gen.ttypes import JobKey, ResponseCode, ScheduleStatus
from tests.helpers import wait_for

OK = ResponseCode.OK
KEY = JobKey(role="www", environment="prod", name="tick")
ACTIVE = {ScheduleStatus.PENDING, ScheduleStatus.ASSIGNED, ScheduleStatus.RUNNING}


@pytest.fixture
def cluster(tmp_path, zookeeper):
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=3, quorum=2,
                         extra_args=("-cron_timezone=Europe/Berlin", "-cron_start_initial_backoff=200ms"))
    yield c
    c.close()


def _next_run_ms(cluster, i) -> int:
    summaries = cluster.client(i).getJobSummary("www").result.jobSummaryResult.summaries
    return next(s.nextCronRunMs for s in summaries if s.job.key == KEY)


def test_a_cron_run_after_a_failover_fires_once(cluster):
    cluster.start()
    leader = cluster.wait_leader()
    job = job_config("www", "prod", "tick")
    job.cronSchedule = "* * * * *"
    assert cluster.client(leader).scheduleCronJob(job).responseCode == OK
    next_run = _next_run_ms(cluster, leader)
    if next_run - time.time() * 1000 < 15_000:        # too close to the boundary to fail over before it
        wait_for(lambda: time.time() * 1000 > next_run + 1000, 20, what="the minute boundary to pass")
        wait_for(lambda: len(cluster.tasks(leader, "www")) >= 1, 10, what="the run at the boundary")
        next_run = _next_run_ms(cluster, leader)
    assert cluster.client(leader).startCronJob(KEY).responseCode == OK
    wait_for(lambda: any(t.status in ACTIVE for t in cluster.tasks(leader, "www")), 10, what="the manual run")
    before = {t.assignedTask.taskId for t in cluster.tasks(leader, "www")}

    cluster.kill(leader)
    successor = cluster.wait_leader(exclude=(leader,))
    assert {t.assignedTask.taskId for t in cluster.tasks(successor, "www")} == before   # nothing fired twice
    assert _next_run_ms(cluster, successor) == next_run

    wait_for(lambda: cluster.vars(successor).get("cron_job_launches") == 1, 90, what="the natural run")
    tasks = cluster.tasks(successor, "www")
    new = [t for t in tasks if t.assignedTask.taskId not in before]
    assert len(new) == 1 and new[0].status in ACTIVE
    assert not any(t.status in ACTIVE for t in tasks if t.assignedTask.taskId in before)   # killed first
    assert cluster.vars(successor)["cron_job_triggers"] == 1
    assert _next_run_ms(cluster, successor) == next_run + 60_000
