"""Executor logic without Mesos: health-check rules, task data, port aliases, ZooKeeper auth config."""
import base64
import json

import pytest

from thermos_executor.config import schema
from thermos_executor.config.spec import HealthCheckSpec, LifecycleSpec
from thermos_executor.errors import ThermosError
from thermos_executor.executor import health
from thermos_executor.zk.serverset import load_auth_config, member_data
from thermos_executor.executor.task_data import AssignedTask, TaskDataError, resolve_ports
from thermos_executor.mesos_state import MesosState


def run_policy(results, interval=10, grace=15, failures=0, successes=1):
    policy = health.HealthPolicy(interval, grace, failures, successes)
    verdicts = []
    for ok in results:
        if not policy.due():
            verdicts.append(policy.verdict[0])
            break
        policy.record(ok, "boom")
        verdicts.append(policy.verdict[0])
    return policy, verdicts


def test_grace_period_forgives_early_failures():
    policy, verdicts = run_policy([False, False, True])     # forgiving = ceil(15/10) = 2
    assert verdicts == [MesosState.TASK_STARTING, MesosState.TASK_STARTING, MesosState.TASK_RUNNING]
    assert policy.verdict == (MesosState.TASK_RUNNING, "Task is healthy.")


def test_grace_period_forgives_failures_after_running_too():
    # Aurora counts the grace in attempts, not in time before RUNNING: healthy at once, then failing
    policy, verdicts = run_policy([True, False, False], grace=30)     # forgiving = 3
    assert verdicts == [MesosState.TASK_RUNNING] * 3
    policy.record(False, "boom")
    assert policy.verdict == (MesosState.TASK_FAILED, "Failed health check! boom")


def test_failure_after_grace_fails_with_the_check_reason():
    policy, verdicts = run_policy([False, False, False])
    assert verdicts[-1] == MesosState.TASK_FAILED and policy.verdict[1] == "Failed health check! boom"


def test_consecutive_failures_tolerated_once_running_and_failure_is_sticky():
    policy, verdicts = run_policy([True, True, True, False, True, False, False], grace=0, failures=1)
    assert verdicts == [MesosState.TASK_RUNNING] * 6 + [MesosState.TASK_FAILED]
    policy.record(True)
    assert policy.verdict[0] == MesosState.TASK_FAILED


def test_fail_fast_when_needed_successes_cannot_fit():
    # forgiving 1, S=3, F=1: max_attempts 5; after a failure at attempt 2, 3 successes cannot fit in 3 left? they
    # can (3 == 3); a failure at attempt 3 leaves 2 < 3 needed: fail fast.
    policy, verdicts = run_policy([False, True, False], grace=10, failures=1, successes=3)
    assert verdicts[-1] == MesosState.TASK_FAILED


def test_attempts_running_out_before_healthy():
    policy, verdicts = run_policy([False] * 1 + [True, False] * 10, grace=10, failures=5, successes=2)
    assert verdicts[-1] == MesosState.TASK_FAILED
    assert policy.failure == "Not enough successful health checks in time."


def task_info(data):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {"data": base64.b64encode(raw).decode()}


def good_data(**overrides):
    job = schema.Service(cluster="c", role="www-data", environment="prod", name="web",
                         task=schema.Task(name="web", processes=[schema.Process(name="p", cmdline="true")],
                                          resources=schema.Resources(cpu=1, ram=1, disk=1)),
                         announce=schema.Announcer())
    data = {"task_id": "t-1", "agent_host": "h", "instance_id": 2, "assigned_ports": {"http": 31000},
            "job": {"role": "www-data", "environment": "prod", "name": "web"}, "config": json.loads(job.json_dumps())}
    data.update(overrides)
    return data


def test_task_data_round_trip_and_ports():
    assigned = AssignedTask.from_task_info(task_info(good_data()))
    assert (assigned.task_id, assigned.instance_id, assigned.role) == ("t-1", 2, "www-data")
    assert assigned.ports == {"http": 31000, "aurora": 31000}
    assert assigned.lifecycle == LifecycleSpec(port="health", graceful_shutdown_endpoint="/quitquitquit",
                                               graceful_shutdown_wait_secs=5, shutdown_endpoint="/abortabortabort",
                                               shutdown_wait_secs=5)
    assert assigned.health_check == HealthCheckSpec(
        initial_interval_secs=15.0, interval_secs=10.0, max_consecutive_failures=0, min_consecutive_successes=1,
        timeout_secs=1.0, shell_command=None, endpoint="/health", expected_response="ok", expected_response_code=0)


def test_job_specs_follow_the_config():
    config = good_data()["config"]
    config["health_check_config"] = {"health_checker": {"shell": {"shell_command": "true"}}, "interval_secs": 2}
    config["lifecycle"] = {}
    assigned = AssignedTask.from_task_info(task_info(good_data(config=config)))
    assert (assigned.health_check.shell_command, assigned.health_check.interval_secs) == ("true", 2.0)
    assert assigned.health_check.initial_interval_secs == 15.0 and assigned.lifecycle is None


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"not json", "not base64-encoded JSON"),
    ([1, 2], "must be a JSON object"),
    ({"task_id": "x"}, "lacks instance_id, job, config"),
    ({"task_id": "x", "instance_id": 0, "job": "www-data/prod/web", "config": {}}, "job must be"),
    ({**good_data(), "assigned_ports": {"http": "31000"}}, "assigned_ports"),
    ({**good_data(), "config": {"task": {"processes": "nope"}}}, "not a valid job"),
    ({**good_data(), "config": {"role": "www-data"}}, "the job config has no task"),
    ({**good_data(), "task_id": None}, "task_id must be a non-empty string"),
    ({**good_data(), "instance_id": True}, "instance_id must be an integer >= 0"),
    ({**good_data(), "instance_id": -1}, "instance_id must be an integer >= 0"),
])
def test_bad_task_data(data, message):
    info = {"data": ""} if data == b"" else task_info(data)
    with pytest.raises(TaskDataError, match=message):
        AssignedTask.from_task_info(info)


def test_port_alias_chains_and_cycles():
    assert resolve_ports({"aurora": "http", "http": "web", "web": "8080", "dangling": "nope"}, {"x": 1}) == \
        {"aurora": 8080, "http": 8080, "web": 8080, "x": 1}
    with pytest.raises(TaskDataError, match="cycle"):
        resolve_ports({"a": "b", "b": "a"}, {})


def test_member_data_shape():
    assert member_data("h", {"http": 80, "aurora": 80}, "http", 3) == {
        "serviceEndpoint": {"host": "h", "port": 80},
        "additionalEndpoints": {"aurora": {"host": "h", "port": 80}, "http": {"host": "h", "port": 80}},
        "status": "ALIVE", "shard": 3}
    assert member_data("h", {}, "http", 0)["serviceEndpoint"]["port"] == 0


def test_auth_config(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auth": [{"scheme": "digest", "credential": "u:p"}],
                                "acl": [{"scheme": "digest", "credential": "u:p",
                                         "permissions": {"read": True, "admin": True}}]}))
    auth, acl = load_auth_config(str(path))
    assert auth == [("digest", "u:p")]
    assert acl[0].id.id.startswith("u:") and acl[0].perms == 1 | 16
    for bad in ({"oops": 1}, {"acl": [{"scheme": "digest", "credential": "nocolon"}]},
                {"acl": [{"scheme": "world", "credential": "anyone", "permissions": {"read": "yes"}}]}):
        path.write_text(json.dumps(bad))
        with pytest.raises(ThermosError):
            load_auth_config(str(path))
