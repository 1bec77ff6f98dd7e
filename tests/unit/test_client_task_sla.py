"""The pure halves of `aurora task` and `aurora sla`: sandbox paths, remote command lines, durations,
percentiles and the uptime vector, as Aurora's command_runner.py and api/sla.py compute them."""
import pytest

from scheduler.client.clusters import Cluster
from scheduler.client.command_runner import (ssh_run_command, substitute, task_sandbox, thermos_sandbox)
from scheduler.client.exits import CommandError
from scheduler.client.options import split_options
from scheduler.client.sla import JobUpTimeSlaVector, parse_percentiles, parse_time, parse_time_values
from thermos_executor.aurora_api.gen.ttypes import (AssignedTask, ExecutorConfig, JobKey, ScheduledTask,
                                                    ScheduleStatus, TaskConfig, TaskEvent)

CLUSTER = Cluster.from_dict({"name": "west", "slave_root": "/var/lib/mesos", "slave_run_directory": "latest"})


def scheduled(instance=0, task_id="www-prod-hello-0-abc", ports=None, executor=True, events=()):
    config = TaskConfig(job=JobKey(role="www", environment="prod", name="hello"),
                        executorConfig=ExecutorConfig(name="AuroraExecutor", data="{}") if executor else None)
    return ScheduledTask(assignedTask=AssignedTask(taskId=task_id, slaveHost="agent1", instanceId=instance,
                                                   assignedPorts=ports or {}, task=config),
                         taskEvents=[TaskEvent(timestamp=ms, status=status) for ms, status in events])


def test_sandbox_paths_are_aurora_s():
    assert thermos_sandbox(CLUSTER) == ("/var/lib/mesos/slaves/*/frameworks/*/executors/thermos-{{thermos.task_id}}"
                                        "/runs/latest/sandbox")
    assert task_sandbox(CLUSTER, scheduled().assignedTask, executor_sandbox=True) == \
        "/var/lib/mesos/slaves/*/frameworks/*/executors/thermos-www-prod-hello-0-abc/runs/latest"


def test_a_cluster_without_slave_root_cannot_locate_sandboxes():
    with pytest.raises(CommandError) as e:
        thermos_sandbox(Cluster.from_dict({"name": "east", "slave_root": "/x"}))
    assert e.value.code == 3
    assert e.value.message == "Cluster east needs slave_run_directory in clusters.json to find task sandboxes"


def test_the_remote_command_binds_the_task_and_leaves_the_rest():
    task = scheduled(instance=2, ports={"http": 31001})
    command = substitute("echo {{mesos.instance}} {{thermos.ports[http]}} {{thermos.ports[nope]}} {{x}}", task,
                         CLUSTER)
    assert command == ("cd /var/lib/mesos/slaves/*/frameworks/*/executors/thermos-www-prod-hello-0-abc/runs/latest"
                       "/sandbox && echo 2 31001 {{thermos.ports[nope]}} {{x}}")
    # A task without an executor config gets Aurora's older %name% substitution.
    old = substitute("echo %shard_id% %task_id% %port:http%", scheduled(instance=1, ports={"http": 8}, executor=False),
                     CLUSTER)
    assert old == "cd /var/run/nexus/www-prod-hello-0-abc/sandbox && echo 1 www-prod-hello-0-abc 8"
    assert ssh_run_command("agent1", "www", "ls", ["-F", "cfg"]) == ["ssh", "-n", "-q", "-F", "cfg", "www@agent1",
                                                                      "ls"]
    assert split_options("-F 'my config' -o Port=2") == ["-F", "my config", "-o", "Port=2"]


@pytest.mark.parametrize("text, seconds, shown", [("1m", 60, "1 mins"), ("90s", 90, "90 secs"),
                                                  ("1m30s", 90, "90 secs"), ("1h3m10s", 3790, "3790 secs"),
                                                  ("2h", 7200, "2 hrs"), ("7d", 604800, "7 days"),
                                                  ("1D12H", 129600, "36 hrs"), ("0s", 0, "0 days")])
def test_durations_parse_and_print_as_aurora_s(text, seconds, shown):
    duration = parse_time(text)
    assert (duration, str(duration)) == (seconds, shown)


@pytest.mark.parametrize("text", ["5x", "10", "1m1d", "1h1h", "m", "1.5m"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match=f"^Invalid time span: {text}$"):
        parse_time(text)


def test_lists_are_sorted_and_empty_means_default():
    assert parse_time_values("1h,1m,10m") == [60, 600, 3600] and parse_time_values("") is None
    assert parse_percentiles("99,50.5,10") == [10.0, 50.5, 99.0] and parse_percentiles("") is None
    for bad in ("0", "100", "x"):
        with pytest.raises(ValueError, match=f"^Invalid percentile value:{bad}. Must be between 0.0 and 100.0 "):
            parse_percentiles(f"50,{bad}")


def test_uptime_vector():
    S = ScheduleStatus
    now = 10_000.0
    tasks = [scheduled(0, events=[(1_000_000, S.PENDING), (2_000_500, S.STARTING), (2_500_000, S.RUNNING)]),
             scheduled(1, events=[(9_000_000, S.STARTING)]),
             scheduled(2, events=[(9_999_000, S.STARTING)]),
             scheduled(3, events=[(9_999_000, S.PENDING)])]          # never started: not counted
    vector = JobUpTimeSlaVector(tasks, now=now)                       # uptimes 8000, 1000, 1
    assert [vector.get_task_up_count(d) for d in (0, 1, 2, 1000, 8000, 8001)] == \
        [100.0, 100.0, 200 / 3, 200 / 3, 100 / 3, 0.0]
    assert [vector.get_job_uptime(p) for p in (10, 33, 34, 50, 66, 67, 99)] == [8000, 8000, 1000, 1000, 1000, 1, 1]
    empty = JobUpTimeSlaVector([], now=now)
    assert (empty.get_task_up_count(60), empty.get_job_uptime(50)) == (0, 0)
    with pytest.raises(ValueError):
        vector.get_job_uptime(100)
