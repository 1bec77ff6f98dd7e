"""`aurora-cluster-local` as a user runs it: `up` in a state directory, `aurora job create` through the
clusters.json it writes, the tasks RUNNING, `status`, `down` from another process, and nothing left running;
bad input (a second `up` on a running state directory, a port taken, Ctrl-C while starting) is one line, a
non-zero exit, and nothing started or left behind.

One cluster serves the module (starting one costs seconds); every wait has a deadline.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess

import psutil
import pytest

from scheduler.local_cluster.children import marked
from scheduler.local_cluster.cluster import lock_holder
from scheduler.local_cluster.plan import Layout
from tests.helpers import BIN, REPO, wait_for

UP = os.path.join(BIN, "aurora-cluster-local")
AURORA = os.path.join(BIN, "aurora")
JOB = "local/www-data/devel/hello_world"


def start_up(state_dir, *extra) -> tuple[subprocess.Popen, str]:
    out = os.path.join(os.path.dirname(os.fspath(state_dir)), os.path.basename(os.fspath(state_dir)) + ".out")
    with open(out, "wb") as f:
        proc = subprocess.Popen([UP, "up", "--state-dir", os.fspath(state_dir), *extra], stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, out


def read(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def leftovers(state_dir) -> list[str]:
    """Processes the cluster started that still run: marked ones, and any naming the state dir."""
    state_dir = os.fspath(state_dir)
    found = {p.pid: p for p in marked(state_dir)}
    for p in psutil.process_iter(["cmdline"]):
        if any(state_dir in arg for arg in p.info["cmdline"] or ()) and p.pid != os.getpid():
            found[p.pid] = p
    described = []
    for p in found.values():
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                described.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            pass
    return described


def client_env(home) -> dict:
    # HOME elsewhere: the user's own ~/.aurora/clusters.json must not take part.
    return dict(os.environ, AURORA_CONFIG_ROOT="", HOME=os.fspath(home))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster-local")
    state = base / "state"
    proc, out = start_up(state)
    try:
        wait_for(lambda: "is ready in" in read(out) or proc.poll() is not None, timeout=120, interval=0.1,
                 what="aurora-cluster-local up to be ready")
        assert proc.poll() is None, read(out)
        yield proc, state, out, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_job_created_through_the_written_clusters_json_runs(cluster):
    proc, state, out, base = cluster
    text = read(out)
    assert f"export AURORA_CONFIG_ROOT={state}" in text and "/leaderhealth" in text and "observer" in text
    env = dict(client_env(base), AURORA_CONFIG_ROOT=os.fspath(state))
    created = subprocess.run([AURORA, "job", "create", "--wait-until=RUNNING", JOB,
                              os.path.join(REPO, "examples", "hello_world.aurora")],
                             env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Job create succeeded" in created.stdout
    status = subprocess.run([AURORA, "job", "status", JOB], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and status.stdout.count("status: RUNNING") == 2, status.stdout
    shown = subprocess.run([UP, "status", "--state-dir", os.fspath(state)], capture_output=True, text=True,
                           timeout=30)
    assert shown.returncode == 0 and "ready, leader scheduler" in shown.stdout, shown.stdout


def test_a_second_up_on_a_running_state_dir_is_one_line_and_starts_nothing(cluster):
    proc, state, out, base = cluster
    before = {p.pid for p in marked(os.fspath(state))}
    second = subprocess.run([UP, "up", "--state-dir", os.fspath(state)], capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    lines = (second.stdout + second.stderr).strip().splitlines()
    assert len(lines) == 1 and "already running in" in lines[0] and "down --state-dir" in lines[0], lines
    assert {p.pid for p in marked(os.fspath(state))} == before and proc.poll() is None


def test_a_port_taken_is_one_line_and_starts_nothing(tmp_path):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([UP, "up", "--state-dir", os.fspath(tmp_path / "state"), "--port_base", str(port)],
                                capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and lines == [
        f"aurora-cluster-local: port {port} (ZooKeeper) is taken on 127.0.0.1: Address already in use"], lines
    assert leftovers(tmp_path / "state") == [] and lock_holder(Layout(os.fspath(tmp_path / "state"))) is None


def test_ctrl_c_while_starting_stops_what_had_started(tmp_path):
    state = tmp_path / "state"
    proc, out = start_up(state, "--schedulers", "1", "--agents", "1")
    wait_for(lambda: "zookeeper" in read(out) or proc.poll() is not None, timeout=60, interval=0.05,
             what="ZooKeeper to be up")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130, read(out)
    assert read(out).strip().splitlines()[-1].endswith("interrupted while starting; everything stopped")
    assert leftovers(state) == []


def test_down_from_another_shell_stops_everything(cluster):
    proc, state, out, base = cluster
    assert leftovers(state), "the cluster runs processes"
    down = subprocess.run([UP, "down", "--state-dir", os.fspath(state)], capture_output=True, text=True, timeout=90)
    assert down.returncode == 0 and "stopped the cluster" in down.stdout, down.stdout + down.stderr
    assert proc.wait(30) == 0, read(out)
    assert leftovers(state) == [], leftovers(state)
    assert lock_holder(Layout(os.fspath(state))) is None
    assert "stopped (" in read(out)
    again = subprocess.run([UP, "status", "--state-dir", os.fspath(state)], capture_output=True, text=True)
    assert again.returncode == 3 and "no cluster is running" in again.stdout
