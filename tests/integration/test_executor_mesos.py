"""The executor end to end through the Mesos-API stand-in: a pymesos framework launches real tasks on a real
agent process tree, with a real ZooKeeper for announcements; every message exchanged is checked against the
real Mesos v1 protos."""
import base64
import json
import os
import signal

import pytest
from kazoo.client import KazooClient

from tests.helpers import BIN, alive, free_port, wait_for
from tests.integration.mesos_helpers import local_mesos
from tests.mesos_framework import task_info
from tests.task_data import encoded, with_job_json
from tests.zookeeper import ZooKeeperServer
from thermos_executor.config import schema
from thermos_executor.executor.task_data import decode
from thermos_executor.runner import ckpt

EXECUTOR = os.path.join(BIN, "thermos_executor")
RESOURCES = {"cpus": 0.1, "mem": 32}


@pytest.fixture
def mesos(tmp_path):
    with local_mesos(str(tmp_path / "mesos"), hostname="127.0.0.1") as m:   # validates every message at the end
        yield m


@pytest.fixture
def framework(mesos):
    return mesos.framework()


def job(cmdline, **kw):
    processes = kw.pop("processes", None) or [schema.Process(name="p", cmdline=cmdline)]
    task = schema.Task(name="hello", processes=processes,
                       resources=schema.Resources(cpu=0.1, ram=schema.MB, disk=schema.MB))
    return schema.Service(cluster="local", role="www-data", environment="test", name="hello", task=task, **kw)


def launch(framework, the_job, task_id="hello-0", ports=None, flags=()):
    """Launch instance 0 of `the_job` with the Thrift-binary AssignedTask a scheduler would send."""
    data = encoded(the_job, task_id=task_id, ports=ports, host="127.0.0.1")
    command = " ".join([EXECUTOR, "--nosetuid", "--stop_timeout_in_secs", "30", *flags])
    framework.launch([task_info(task_id, command, data, RESOURCES)])
    return task_id


def messages(framework, task_id):
    with framework.cond:
        return [(u["state"], u.get("message")) for u in framework.updates if u["task_id"]["value"] == task_id]


def sandbox(mesos, task_id, *parts):
    """A path in the task's Mesos run directory (the executor's sandbox)."""
    return os.path.join(mesos.executor_directory(f"{task_id}-executor"), *parts)


def checkpoint_records(mesos, task_id):
    return ckpt.read_all(sandbox(mesos, task_id, "checkpoints", "checkpoints", task_id, "runner"))


def test_success(mesos, framework):
    task = launch(framework, job("echo hello from {{mesos.instance}}"))
    framework.wait_for_state(task, "TASK_FINISHED", timeout=60)
    assert messages(framework, task) == [("TASK_STARTING", None),
                                         ("TASK_RUNNING", "No health-check defined, task is assumed healthy."),
                                         ("TASK_FINISHED", "Task finished.")]
    assert open(sandbox(mesos, task, "sandbox", ".logs", "p", "0", "stdout")).read() == "hello from 0\n"


def test_failure(mesos, framework):
    task = launch(framework, job("exit 3"))
    framework.wait_for_state(task, "TASK_FAILED", timeout=60)
    assert messages(framework, task)[-1] == ("TASK_FAILED", "Task failed. Process p failed (exit status 3).")


def test_failing_http_health_check(mesos, framework):
    hc = schema.HealthCheckConfig(initial_interval_secs=0.2, interval_secs=0.1)
    port = free_port()
    task = launch(framework, job("exec sleep 1000", health_check_config=hc), ports={"health": port})
    framework.wait_for_state(task, "TASK_FAILED", timeout=60)
    state, message = messages(framework, task)[-1]
    assert message.startswith(f"Failed health check! Failed to signal http://localhost:{port}/health")
    assert "TASK_RUNNING" not in [s for s, _ in messages(framework, task)]


HTTP_APP = """python3 -c "
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
    def do_POST(self):
        open('lifecycle', 'a').write(self.path + '\\\\n'); self.send_response(200); self.end_headers()
http.server.HTTPServer(('127.0.0.1', {{thermos.ports[health]}}), H).serve_forever()
" """


def test_kill_runs_the_graceful_lifecycle_then_final_processes(mesos, framework):
    hc = schema.HealthCheckConfig(initial_interval_secs=30, interval_secs=0.2)
    processes = [schema.Process(name="app", cmdline=HTTP_APP),
                 schema.Process(name="fin", cmdline="echo finalized > fin.out", final=True)]
    lifecycle = schema.LifecycleConfig(http=schema.HttpLifecycleConfig(graceful_shutdown_wait_secs=1,
                                                                       shutdown_wait_secs=1))
    task = launch(framework, job(None, processes=processes, health_check_config=hc, lifecycle=lifecycle),
                  ports={"health": free_port()})
    framework.wait_for_state(task, "TASK_RUNNING", timeout=60)
    assert messages(framework, task)[-1] == ("TASK_RUNNING", "Task is healthy.")
    framework.kill(task)
    framework.wait_for_state(task, "TASK_KILLED", timeout=60)
    assert messages(framework, task)[-1] == ("TASK_KILLED", "Instructed to kill task.")
    root = sandbox(mesos, task, "sandbox")
    assert open(os.path.join(root, "lifecycle")).read().split() == ["/quitquitquit", "/abortabortabort"]
    assert open(os.path.join(root, "fin.out")).read() == "finalized\n"
    assert [s for s, _ in messages(framework, task)].count("TASK_KILLED") == 1


def test_runner_killed_the_task_goes_on(mesos, framework):
    task = launch(framework, job("echo run >> ran; sleep 2; echo done >> ran"))
    framework.wait_for_state(task, "TASK_RUNNING", timeout=60)
    runner_pid = wait_for(lambda: next((r["task_status"]["runner_pid"] for r in checkpoint_records(mesos, task)
                                        if "task_status" in r), None), what="runner pid")
    os.kill(runner_pid, signal.SIGKILL)
    framework.wait_for_state(task, "TASK_FINISHED", timeout=60)
    assert open(sandbox(mesos, task, "sandbox", "ran")).read().split() == ["run", "done"]
    pids = {r["task_status"]["runner_pid"] for r in checkpoint_records(mesos, task) if "task_status" in r}
    assert len(pids) == 2 and not any(alive(p) for p in pids)


def test_malformed_task_data(mesos, framework):
    command = f"{EXECUTOR} --nosetuid"
    framework.launch([task_info("bad-0", command, b"{not json", RESOURCES)])
    framework.wait_for_state("bad-0", "TASK_FAILED", timeout=60)
    assert messages(framework, "bad-0")[-1][1].startswith("Could not deserialize task: task data is JSON, not a "
                                                          "Thrift-binary AssignedTask")


def test_a_job_without_a_task_cannot_be_deserialized_and_leaves_no_traceback(mesos, framework):
    data = with_job_json(encoded(job("true"), task_id="notask-0"), lambda config: config.pop("task"))
    framework.launch([task_info("notask-0", f"{EXECUTOR} --nosetuid", data, RESOURCES)])
    framework.wait_for_state("notask-0", "TASK_FAILED", timeout=60)
    assert messages(framework, "notask-0") == [("TASK_STARTING", None), (
        "TASK_FAILED", "Could not deserialize task: the job config has no task")]
    stderr = sandbox(mesos, "notask-0", "stderr")
    wait_for(lambda: mesos.executor_pid("notask-0-executor") is None, what="the executor's exit")
    assert "Traceback" not in open(stderr).read()


def members(zk, path):
    try:
        return {name: json.loads(zk.get(f"{path}/{name}")[0]) for name in zk.get_children(path)}
    except Exception:  # noqa: BLE001 - no node yet
        return {}


@pytest.fixture
def quick_zookeeper(tmp_path):
    """A private ZooKeeper whose 100 ms tick caps sessions at 2 s, so that an expiry takes seconds."""
    with ZooKeeperServer(tmp_path / "zookeeper", tick_ms=100) as server:
        yield server.endpoints


def test_announcer_member_content_removal_and_reannounce_after_session_expiry(mesos, framework, quick_zookeeper):
    announce = schema.Announcer(primary_port="http", portmap={"aurora": "http"})
    port = free_port()
    task = launch(framework, job("exec sleep 1000", announce=announce), ports={"http": port},
                  flags=["--announcer-ensemble", quick_zookeeper, "--announcer-serverset-path", "/aurora"])
    framework.wait_for_state(task, "TASK_RUNNING", timeout=60)
    zk = KazooClient(hosts=quick_zookeeper)
    zk.start()
    try:
        path = "/aurora/www-data/test/hello"
        first = wait_for(lambda: members(zk, path), what="member node")
        (name, data), = first.items()
        assert name.startswith("member_") and len(name) == len("member_0000000000")
        assert data == {"serviceEndpoint": {"host": "127.0.0.1", "port": port},
                        "additionalEndpoints": {"aurora": {"host": "127.0.0.1", "port": port},
                                                "http": {"host": "127.0.0.1", "port": port}},
                        "status": "ALIVE", "shard": 0}
        # Freeze the executor until ZooKeeper expires its session (the member vanishes), then let it go on.
        # (the agent's /bin/sh and the executor share a process group; the runner has a session of its own)
        group = os.getpgid(mesos.executor_pid(f"{task}-executor"))
        os.killpg(group, signal.SIGSTOP)
        try:
            wait_for(lambda: name not in members(zk, path), timeout=60, what="session expiry")
        finally:
            os.killpg(group, signal.SIGCONT)
        second = wait_for(lambda: {n for n in members(zk, path) if n != name} or None, timeout=30,
                          what="re-announced member")
        assert len(second) == 1
        framework.kill(task)
        framework.wait_for_state(task, "TASK_KILLED", timeout=60)
        wait_for(lambda: members(zk, path) == {}, what="member removed")
    finally:
        zk.stop()


def test_data_is_base64_on_the_wire(mesos, framework):
    task = launch(framework, job("true"))
    framework.wait_for_state(task, "TASK_FINISHED", timeout=60)
    sent = [m for _, _, m in mesos.message_log.entries() if m.get("type") == "LAUNCH"]
    assert sent and decode(base64.b64decode(sent[0]["launch"]["task"]["data"])).taskId == task
