"""The fork server: coordinators are forked by a quiet copy of the runner, which dies with the runner and is
replaced when it dies on its own, with no run lost or started twice."""
import os
import select
import signal

import psutil
import pytest

from tests.helpers import alive, kill9, wait_for, write
from thermos_executor.logs.policy import LogPolicy
from thermos_executor.runner import ckpt, coordinator, forkserver


def forker_of(runner_pid: int) -> psutil.Process:
    servers = [p for p in psutil.Process(runner_pid).children() if p.name() == "thermos_forker"]
    assert len(servers) == 1, servers
    return servers[0]


def test_the_fork_server_dies_with_the_runner_and_the_coordinators_live_on(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", "export(Task(name='t', processes=[Process(name='srv', "
                                        "cmdline='exec sleep 1000')]))\n")
    proc = thermos.start(cfg, "fs-1")
    run = wait_for(lambda: thermos.running("fs-1", "srv"), what="srv running")
    server = forker_of(proc.pid)
    coordinator_pid = psutil.Process(run["pid"]).ppid()
    assert psutil.Process(coordinator_pid).ppid() == server.pid
    kill9(proc)
    wait_for(lambda: not alive(server.pid), what="the fork server to die with its runner")
    assert alive(coordinator_pid) and alive(run["pid"])
    proc2 = thermos.start(cfg, "fs-1")    # a new runner re-attaches, with a fork server of its own
    wait_for(lambda: [p for p in psutil.Process(proc2.pid).children() if p.name() == "thermos_forker"],
             what="a new fork server")
    proc2.send_signal(signal.SIGTERM)
    assert proc2.wait(timeout=30) == 1
    assert not alive(run["pid"])
    assert [r["pid"] for r in thermos.status("fs-1")["processes"]["srv"]["runs"]] == [run["pid"]]


def test_a_dead_fork_server_is_replaced_and_no_run_is_lost_or_doubled(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
first = Process(name='first', cmdline='echo first >> ran; while [ ! -e go ]; do sleep 0.02; done')
rest = [Process(name='p%d' % i, cmdline='echo p%d >> ran' % i) for i in range(3)]
export(SequentialTask(name='seq', processes=[first] + rest))
""")
    proc = thermos.start(cfg, "fs-2")
    wait_for(lambda: thermos.running("fs-2", "first"), what="first running")
    server = forker_of(proc.pid)
    server.kill()
    wait_for(lambda: not alive(server.pid), what="the fork server gone")
    open(os.path.join(thermos.sandbox("fs-2"), "go"), "w").close()
    assert proc.wait(timeout=30) == 0
    assert "fork server" in proc.stderr.read()
    assert open(os.path.join(thermos.sandbox("fs-2"), "ran")).read().split() == ["first", "p0", "p1", "p2"]
    status = thermos.status("fs-2")
    assert status["state"] == "SUCCESS"
    for name, process in status["processes"].items():
        assert [r["state"] for r in process["runs"]] == ["SUCCESS"], (name, process)


def launch(tmp_path, cmdline: str, **env) -> coordinator.Launch:
    log_dir = tmp_path / "sandbox" / ".logs" / "p" / "0"
    os.makedirs(log_dir.parent.parent)
    return coordinator.Launch(process="p", run=0, seq=1, cmdline=cmdline, sandbox=str(tmp_path / "sandbox"),
                              log_dir=str(log_dir), env={"PATH": os.defpath, **env}, user=None,
                              policy=LogPolicy(destination="file"))


def test_a_coordinator_forked_by_the_server_holds_the_stream_lock_and_records_its_run(tmp_path):
    server = forkserver.ForkServer()
    try:
        path = str(tmp_path / "coordinator.p")
        writer = ckpt.Writer(path, lock=True)
        pid, fork_time, pidfd = server.start(path, launch(tmp_path, "sleep 0.3; echo done"), writer.fd)
        writer.close()
        assert abs(psutil.Process(pid).create_time() - fork_time) < 1
        with pytest.raises(ckpt.LockHeld):       # the coordinator has the lock now, through the server
            ckpt.Writer(path, lock=True)
        assert select.select([pidfd], [], [], 30)[0] == [pidfd]
        os.close(pidfd)
        states = [(r["process_status"]["state"], r["process_status"].get("coordinator_pid"))
                  for r in ckpt.read_all(path)]
        assert states == [("FORKED", pid), ("RUNNING", None), ("SUCCESS", None)]
        assert open(tmp_path / "sandbox" / ".logs" / "p" / "0" / "stdout").read() == "done\n"
        ckpt.Writer(path, lock=True).close()     # and let go of it when it ended
        wait_for(lambda: not alive(pid), what="the coordinator reaped by the server")
    finally:
        server.close()
    assert not alive(server.pid)


def test_a_stuck_fork_server_is_given_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(forkserver, "REPLY_TIMEOUT", 0.3)
    server = forkserver.ForkServer()
    os.kill(server.pid, signal.SIGSTOP)
    path = str(tmp_path / "coordinator.p")
    writer = ckpt.Writer(path, lock=True)
    with pytest.raises(forkserver.ForkServerGone, match="timed out"):
        server.start(path, launch(tmp_path, "true"), writer.fd)
    writer.close()
    assert not alive(server.pid)
    assert ckpt.read_all(path) == []             # it never forked: nothing ran


def test_the_users_process_inherits_no_descriptor_of_ours(thermos, tmp_path):
    """Not the checkpoint stream above all: it would hold the run's lock, and could forge records."""
    cfg = write(tmp_path / "t.thermos", "export(Task(name='t', processes=[Process(name='fds', "
                                        "cmdline='ls /proc/$$/fd > fds')]))\n")
    assert thermos.run(cfg, "fs-3").returncode == 0
    assert open(os.path.join(thermos.sandbox("fs-3"), "fds")).read().split() == ["0", "1", "2"]


def test_an_environment_larger_than_a_socket_message_goes_through(tmp_path):
    server = forkserver.ForkServer()
    try:
        path = str(tmp_path / "coordinator.p")
        writer = ckpt.Writer(path, lock=True)
        # 400 KB in all: more than a SOCK_SEQPACKET message may hold (~208 KiB); each under exec's 128 KiB limit.
        env = {f"BIG{i}": "x" * 100_000 for i in range(4)}
        _, _, pidfd = server.start(path, launch(tmp_path, 'echo $((${#BIG0} + ${#BIG3}))', **env), writer.fd)
        writer.close()
        assert select.select([pidfd], [], [], 30)[0] == [pidfd]
        os.close(pidfd)
        assert open(tmp_path / "sandbox" / ".logs" / "p" / "0" / "stdout").read() == "200000\n"
    finally:
        server.close()
