"""The executor with a recording driver instead of a Mesos agent: real runners and processes, exact timing.

A driver of our own lets a test act at a precise moment (a kill while the sandbox is being made), which a
real stream cannot promise. The whole path through Mesos is in test_executor_mesos.py.
"""
import base64
import os
import sys
import threading
import urllib.request

import pytest

from tests.helpers import REPO, free_port, wait_for
from tests.task_data import b64, encoded, with_job_json
from thermos_executor import config
from thermos_executor.config import schema
from thermos_executor.executor.executor import ExecutorOptions, ThermosExecutor
from thermos_executor.executor.runner_process import RunnerProcess


class RecordingDriver:
    """Records updates and acknowledges each at once, as an agent does."""

    def __init__(self, executor, on_update=None):
        self.executor = executor
        self.updates = []
        self.stopped = threading.Event()
        self.on_update = on_update

    def sendStatusUpdate(self, status):  # noqa: N802 - pymesos' name
        self.updates.append((status["task_id"]["value"], status["state"], status.get("message")))
        if self.on_update:
            self.on_update(status)
        self.executor.acknowledged(status["task_id"]["value"], status["uuid"])

    def stop(self):
        self.stopped.set()

    def states(self, task_id="t-1"):
        return [state for tid, state, _ in self.updates if tid == task_id]


def task_data(cmdline="echo hi", task_id="t-1", **job):
    """A TaskInfo whose data is the Thrift-binary AssignedTask a scheduler sends (no ports assigned)."""
    process = schema.Process(name="p", cmdline=cmdline)
    task = schema.Task(name="hello", processes=[process],
                       resources=schema.Resources(cpu=0.1, ram=schema.MB, disk=schema.MB))
    service = schema.Service(cluster="c", role="www-data", environment="test", name="hello", task=task, **job)
    return {"task_id": {"value": task_id}, "agent_id": {"value": "agent-1"}, "name": "hello",
            "data": b64(encoded(service, task_id=task_id))}


@pytest.fixture
def executor(tmp_path):
    def make(on_update=None):
        work = tmp_path / "executor"
        work.mkdir(exist_ok=True)
        ex = ThermosExecutor(ExecutorOptions(work_dir=str(work), nosetuid=True, stop_timeout_in_secs=20),
                             str(work))
        ex.driver = RecordingDriver(ex, on_update)
        return ex
    return make


def test_a_kill_during_set_up_never_starts_the_runner(executor, tmp_path):
    holder = {}

    def kill_while_starting(status):
        if status["state"] == "TASK_STARTING":
            holder["ex"].killTask(holder["ex"].driver, {"value": "t-1"})

    ex = holder["ex"] = executor(kill_while_starting)
    ex.launchTask(ex.driver, task_data("touch started; sleep 1000"))
    assert ex.driver.stopped.wait(30)
    assert ex.driver.updates[-1] == ("t-1", "TASK_KILLED", "Task killed during initialization.")
    assert ex.driver.states() == ["TASK_STARTING", "TASK_KILLED"]
    assert not os.path.exists(tmp_path / "executor" / "checkpoints")
    assert not os.path.exists(tmp_path / "executor" / "sandbox" / "started")


def test_the_example_runs_from_its_aurora_file_to_its_kill(executor):
    """examples/hello_world.aurora converted as Aurora's client does, sent as a Thrift-binary AssignedTask."""
    job = config.choose_job(config.load_config(os.path.join(REPO, "examples", "hello_world.aurora")), None)
    port = free_port()
    ex = executor()
    ex.launchTask(ex.driver, {"task_id": {"value": "t-1"}, "agent_id": {"value": "agent-1"}, "name": "hello_world",
                              "data": b64(encoded(job, task_id="t-1", ports={"http": port}))})
    wait_for(lambda: "TASK_RUNNING" in ex.driver.states(), timeout=30, what="running")

    def serving():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200
        except OSError:
            return False
    wait_for(serving, timeout=30, what="the example's server on its assigned port")
    ex.killTask(ex.driver, {"value": "t-1"})
    assert ex.driver.stopped.wait(30)
    assert ex.driver.states() == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]


def test_a_second_task_gets_lost_and_the_first_goes_on(executor):
    ex = executor()
    ex.launchTask(ex.driver, task_data("sleep 0.5"))
    ex.launchTask(ex.driver, task_data("true", task_id="t-2"))
    assert ("t-2", "TASK_LOST", "Task already running on this executor: t-1") in ex.driver.updates
    assert ex.driver.states("t-2") == ["TASK_LOST"]
    assert ex.driver.stopped.wait(30)
    assert ex.driver.states() == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]


def test_many_kills_one_terminal_update(executor):
    ex = executor()
    ex.launchTask(ex.driver, task_data("exec sleep 1000"))
    wait_for(lambda: "TASK_RUNNING" in ex.driver.states(), what="running")
    threads = [threading.Thread(target=ex.killTask, args=(ex.driver, {"value": "t-1"})) for _ in range(5)]
    threads.append(threading.Thread(target=ex.shutdown, args=(ex.driver,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert ex.driver.stopped.wait(30)
    assert ex.driver.states() == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
    ex.killTask(ex.driver, {"value": "t-1"})
    ex.killTask(ex.driver, {"value": "someone-else"})
    assert ex.driver.states() == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]


def test_a_failed_task_names_the_failed_process(executor):
    ex = executor()
    ex.launchTask(ex.driver, task_data("exit 3"))
    assert ex.driver.stopped.wait(30)
    assert ex.driver.updates[-1] == ("t-1", "TASK_FAILED", "Task failed. Process p failed (exit status 3).")


@pytest.mark.parametrize("data, message", [
    ("bm90IGpzb24=", "Could not deserialize task: task data is not a Thrift-binary AssignedTask"),   # "not json"
    ("not base64!", "Could not deserialize task: task data is not base64"),
    ("", "Could not deserialize task: task data is empty"),
])
def test_malformed_task_data_fails_with_a_clear_message(executor, data, message):
    ex = executor()
    info = task_data()
    info["data"] = data
    ex.launchTask(ex.driver, info)
    assert ex.driver.stopped.wait(30)
    assert ex.driver.states() == ["TASK_STARTING", "TASK_FAILED"]
    assert ex.driver.updates[-1][2].startswith(message)


def with_config(info, change):
    """`info` with its AssignedTask's job config (executorConfig.data) changed by `change(config)`, in place."""
    return {**info, "data": b64(with_job_json(base64.b64decode(info["data"]), change))}


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("task"), "Could not deserialize task: the job config has no task"),
    (lambda c: c.update(announce={"portmap": {"a": "b", "b": "a"}}),
     "Could not deserialize task: port aliases form a cycle: a -> b -> a"),
    (lambda c: c["health_check_config"].update(interval_secs="often"),
     "Invalid task: health_check_config.interval_secs: 'often' is not a number"),
    (lambda c: c["health_check_config"].update(interval_secs=0),
     "Invalid task: health_check_config.interval_secs must be positive, got 0.0"),
    (lambda c: c["health_check_config"].update(initial_interval_secs=float("inf")),   # 1e999 in JSON
     "Invalid task: health_check_config.initial_interval_secs must be a finite number, got inf"),
    (lambda c: c["health_check_config"].update(timeout_secs="{{later}}"),
     "Invalid task: health_check_config: unbound template variables {{later}}"),
    (lambda c: c["health_check_config"].update(health_checker={"shell": {}}),
     "Invalid task: health_check_config.health_checker.shell.shell_command is required"),
    (lambda c: c["lifecycle"]["http"].update(graceful_shutdown_wait_secs="soon"),
     "Invalid task: lifecycle.http.graceful_shutdown_wait_secs: 'soon' is not an integer"),
    (lambda c: c["lifecycle"]["http"].update(shutdown_wait_secs=-1),
     "Invalid task: lifecycle.http.shutdown_wait_secs must not be negative, got -1"),
])
def test_malformed_job_config_fails_before_the_sandbox_without_a_traceback(executor, tmp_path, caplog, change,
                                                                             message):
    ex = executor()
    ex.launchTask(ex.driver, with_config(task_data(), change))
    assert ex.driver.stopped.wait(30)
    assert ex.driver.updates == [("t-1", "TASK_STARTING", None), ("t-1", "TASK_FAILED", message)]
    assert not any(record.exc_info for record in caplog.records)
    assert not os.path.exists(tmp_path / "executor" / "sandbox")


def test_unbound_template_is_an_invalid_task(executor):
    ex = executor()
    ex.launchTask(ex.driver, task_data("echo {{thermos.ports[http]}}"))
    assert ex.driver.stopped.wait(30)
    assert ex.driver.updates[-1][1:] == ("TASK_FAILED", "Invalid task: Unbound ports: http")


def test_custom_serverset_path_needs_the_flag(executor):
    ex = executor()
    ex.launchTask(ex.driver, task_data(announce=schema.Announcer(zk_path="/elsewhere")))
    assert ex.driver.stopped.wait(30)
    assert "announce.zk_path" in ex.driver.updates[-1][2] and ex.driver.updates[-1][1] == "TASK_FAILED"


def test_shell_health_check_failure(executor):
    ex = executor()
    checker = schema.HealthCheckerConfig(shell=schema.ShellHealthChecker(shell_command="echo nope; exit 1"))
    ex.launchTask(ex.driver, task_data("exec sleep 1000", health_check_config=schema.HealthCheckConfig(
        health_checker=checker, initial_interval_secs=0.1, interval_secs=0.1)))
    assert ex.driver.stopped.wait(30)
    assert ex.driver.updates[-1][1:] == ("TASK_FAILED", "Failed health check! Command 'echo nope; exit 1' "
                                                        "returned non-zero exit status 1 with output 'nope'")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_as_root_the_task_runs_as_its_role_in_a_sandbox_it_owns(tmp_path):
    import pwd
    import shutil
    import tempfile
    base = tempfile.mkdtemp(prefix="thermos-executor-")       # reachable by the role, unlike pytest's 0700 tmp
    os.chmod(base, 0o755)
    try:
        ex = ThermosExecutor(ExecutorOptions(work_dir=base, stop_timeout_in_secs=20), base)
        ex.driver = RecordingDriver(ex)
        ex.launchTask(ex.driver, task_data("id -un > whoami"))
        assert ex.driver.stopped.wait(30)
        assert ex.driver.states() == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"], ex.driver.updates
        sandbox = os.path.join(base, "sandbox")
        role = pwd.getpwnam("www-data")
        assert open(os.path.join(sandbox, "whoami")).read() == "www-data\n"
        assert os.stat(sandbox).st_uid == role.pw_uid and os.stat(sandbox).st_mode & 0o777 == 0o700
        assert os.stat(base).st_uid == role.pw_uid
    finally:
        shutil.rmtree(base)


def test_the_executor_exits_when_no_task_is_launched(tmp_path):
    import socket
    import subprocess
    import sys
    with socket.socket() as s:                                 # a port nobody listens on: no agent, no launch
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MESOS_AGENT_ENDPOINT=f"127.0.0.1:{port}", MESOS_FRAMEWORK_ID="f", MESOS_EXECUTOR_ID="e",
               MESOS_DIRECTORY=str(tmp_path), MESOS_SANDBOX=str(tmp_path), MESOS_LOCAL="1")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "thermos_executor"),
                             "--executor_timeout_secs", "0.5"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "no task launched within 0.5s: exiting" in result.stderr


# A runner as slow as a real one between showing its task and taking signals (a restarted runner finds the task
# file already there, before it has even started Python); it writes its status record once it takes them.
SLOW_RUNNER = """
import os, signal, sys, time
from thermos_executor.runner import ckpt
task_file, stream = sys.argv[1:]
os.makedirs(os.path.dirname(task_file), exist_ok=True)
open(task_file, "w").close()
time.sleep(0.5)
signal.signal(signal.SIGUSR1, lambda *a: sys.exit(0))
os.makedirs(os.path.dirname(stream), exist_ok=True)
ckpt.Writer(stream).write({"task_status": {"state": "ACTIVE", "timestamp": time.time(), "runner_pid": os.getpid()}})
signal.pause()
"""


def test_a_kill_right_after_start_waits_for_the_runner_to_take_signals(tmp_path):
    root = tmp_path / "checkpoints"
    exited = threading.Event()
    runner = RunnerProcess([sys.executable, "-c", SLOW_RUNNER, str(root / "tasks" / "active" / "t-1"),
                            str(root / "checkpoints" / "t-1" / "runner")],
                           str(tmp_path), str(root), "t-1", exited.set)
    runner.start()
    assert runner.wait_started(30)
    runner.kill()
    assert exited.wait(30)
    assert runner.returncode == 0                 # asked to stop, not killed by SIGUSR1's default action
