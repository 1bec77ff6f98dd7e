"""Executor logic without Mesos: health-check rules, ZooKeeper members and auth config (task data: test_task_data)."""
import json

import pytest

from thermos_executor.errors import ThermosError
from thermos_executor.executor import health
from thermos_executor.zk.serverset import load_auth_config, member_data
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
