"""The client-driven rolling restart and the job monitor, against a fake scheduler and a fake clock: batches,
the watch period, per-instance retries and the total-failure bound."""
import pytest

from scheduler.client.jobkeys import AuroraJobKey
from scheduler.client.monitor import JobMonitor, newest_by_instance, running_or_finished, terminal
from scheduler.client.restarter import Restarter, RestartError, RestartSettings
from thermos_executor.aurora_api.gen.ttypes import (AssignedTask, Response, ResponseCode, Result, ScheduledTask,
                                                    ScheduleStatus, ScheduleStatusResult, TaskEvent)

S = ScheduleStatus
KEY = AuroraJobKey("c", "www", "prod", "web")


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeScheduler:
    """Tasks by instance; a restarted instance gets a new task that is PENDING for one poll, then RUNNING (FAILED
    for instances in `failing`)."""

    def __init__(self, clock, instances=3, failing=()):
        self.clock, self.failing = clock, set(failing)
        self.tasks = {i: self._task(i, f"t{i}-0", S.RUNNING) for i in range(instances)}
        self.restarts, self.generation = [], {i: 0 for i in range(instances)}
        self.starting = {}

    def _task(self, instance, task_id, status):
        return ScheduledTask(assignedTask=AssignedTask(taskId=task_id, instanceId=instance), status=status,
                             taskEvents=[TaskEvent(timestamp=int(self.clock.now * 1000) + 1, status=status)])

    def getTasksWithoutConfigs(self, query):
        for i, polls in list(self.starting.items()):
            if polls:
                self.starting[i] -= 1
                continue
            status = S.FAILED if i in self.failing else S.RUNNING
            self.tasks[i] = self._task(i, self.tasks[i].assignedTask.taskId, status)
            del self.starting[i]
        tasks = [t for t in self.tasks.values() if not query.statuses or t.status in query.statuses]
        return Response(responseCode=ResponseCode.OK,
                        result=Result(scheduleStatusResult=ScheduleStatusResult(tasks=tasks)))

    def restartShards(self, job, shards):
        self.restarts.append(sorted(shards))
        for i in shards:
            self.generation[i] += 1
            self.tasks[i] = self._task(i, f"t{i}-{self.generation[i]}", S.PENDING)
            self.starting[i] = 1
        return Response(responseCode=ResponseCode.OK)


def restart(scheduler, clock, instances=None, **settings):
    logs = []
    Restarter(scheduler, KEY, RestartSettings(**{"watch_secs": 2, "health_check_interval_seconds": 1, **settings}),
              clock=clock, log=logs.append).restart(instances)
    return logs


def test_restarts_in_batches_and_watches_each():
    clock = Clock()
    scheduler = FakeScheduler(clock, instances=5)
    logs = restart(scheduler, clock, batch_size=2)
    assert scheduler.restarts == [[0, 1], [2, 3], [4]]
    assert logs[0] == "Performing rolling restart of job c/www/prod/web (instances: [0, 1, 2, 3, 4])"
    assert all(t.assignedTask.taskId.endswith("-1") for t in scheduler.tasks.values())
    assert clock.now >= 3 * 2                       # each batch watched for watch_secs


def test_only_named_instances_and_they_must_be_active():
    clock = Clock()
    scheduler = FakeScheduler(clock)
    restart(scheduler, clock, instances=[2])
    assert scheduler.restarts == [[2]]
    with pytest.raises(RestartError, match="^Instance 7 not active$"):
        restart(scheduler, clock, instances=[7])


def test_failures_are_retried_per_instance_then_counted():
    clock = Clock()
    scheduler = FakeScheduler(clock, failing={1})
    with pytest.raises(RestartError, match="instance 1 did not stay RUNNING"):
        restart(scheduler, clock, max_per_instance_failures=2)
    assert scheduler.restarts == [[0], [1], [2], [1], [1]]          # first try, then two retries
    clock = Clock()
    scheduler = FakeScheduler(clock, failing={1})
    restart(scheduler, clock, max_total_failures=1)                 # one failed instance is tolerated
    assert scheduler.restarts == [[0], [1], [2]]


def test_no_active_instances():
    clock = Clock()
    scheduler = FakeScheduler(clock, instances=0)
    with pytest.raises(RestartError, match="no active instances found in job c/www/prod/web"):
        restart(scheduler, clock)


def test_monitor_waits_with_progress_and_times_out():
    clock = Clock()
    scheduler = FakeScheduler(clock, instances=2)
    scheduler.restartShards(None, {0, 1})
    lines = []
    monitor = JobMonitor(scheduler, KEY, clock=clock, progress=lines.append)
    assert monitor.wait_until(running_or_finished, what="RUNNING")
    assert lines == ["Waiting for 2 instance(s) of c/www/prod/web to be RUNNING: 0/2 (PENDING: 2)"]
    assert not monitor.wait_until(terminal, instances={0}, timeout=3)
    assert clock.now <= 0.5 + 3 + 1e-9


def test_newest_task_of_each_instance():
    old = ScheduledTask(assignedTask=AssignedTask(taskId="a", instanceId=0), status=S.KILLED,
                        taskEvents=[TaskEvent(timestamp=1)])
    new = ScheduledTask(assignedTask=AssignedTask(taskId="b", instanceId=0), status=S.RUNNING,
                        taskEvents=[TaskEvent(timestamp=5)])
    assert newest_by_instance([new, old])[0].assignedTask.taskId == "b"
