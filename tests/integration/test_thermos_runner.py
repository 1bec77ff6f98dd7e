"""`thermos_runner`, as the executor will start it: JSON task in, checkpoint out, Aurora's exit codes."""
import json
import os
import signal
import subprocess

from tests.helpers import BIN, REPO, wait_for, write
from thermos_executor.runner.inspector import read_task

RUNNER = os.path.join(BIN, "thermos_runner")


def task_json(tmp_path, cmdline, name="rt"):
    return write(tmp_path / "task.json", json.dumps({"name": name, "processes": [{"name": "p", "cmdline": cmdline}]}))


def runner(tmp_path, task_file, *extra):
    return [RUNNER, "--thermos_json", task_file, "--sandbox", str(tmp_path / "sb"),
            "--checkpoint_root", str(tmp_path / "ckpt"), "--task_id", "rt-1", *extra]


def final_state(tmp_path, task_id="rt-1"):
    return read_task(str(tmp_path / "ckpt"), task_id).state


def is_running(tmp_path, task_id="rt-1"):
    view = read_task(str(tmp_path / "ckpt"), task_id)
    runs = view.state.processes.get("p") if view else None
    return bool(runs) and runs[-1].state == "RUNNING"


def test_runs_a_json_task_with_ports_and_exits_0(tmp_path):
    path = task_json(tmp_path, "echo port={{thermos.ports[http]}}")
    result = subprocess.run(runner(tmp_path, path, "--port", "http:8080", "--hostname", "agent-1"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    state = final_state(tmp_path)
    assert state.task_state == "SUCCESS" and state.header["hostname"] == "agent-1"
    assert open(tmp_path / "sb/.logs/p/0/stdout").read() == "port=8080\n"


def test_a_failed_task_still_exits_0_and_the_checkpoint_says_failed(tmp_path):
    result = subprocess.run(runner(tmp_path, task_json(tmp_path, "exit 4")), capture_output=True, timeout=60)
    assert result.returncode == 0
    assert final_state(tmp_path).task_state == "FAILED"


def test_invalid_task_unknown_user_and_missing_port(tmp_path):
    bad = write(tmp_path / "bad.json", json.dumps({"name": "x", "processes": [{"name": "a/b", "cmdline": "x"}]}))
    result = subprocess.run(runner(tmp_path, bad), capture_output=True, text=True, timeout=60)
    assert result.returncode == 102 and "a/b" in result.stderr and "Traceback" not in result.stderr
    good = task_json(tmp_path, "true")
    result = subprocess.run(runner(tmp_path, good, "--setuid", "no-such-user-x"), capture_output=True, text=True)
    assert result.returncode == 104 and "unknown user" in result.stderr
    result = subprocess.run(runner(tmp_path, task_json(tmp_path, "{{thermos.ports[http]}}")),
                            capture_output=True, text=True)
    assert result.returncode == 102 and "Unbound ports: http" in result.stderr
    result = subprocess.run([RUNNER, "--sandbox", "x"], capture_output=True, text=True)
    assert result.returncode == 2 and "--thermos_json" in result.stderr


def test_sigusr1_kills_gracefully_sigusr2_loses_and_a_second_runner_refuses(tmp_path):
    path = task_json(tmp_path, "exec sleep 1000")
    proc = subprocess.Popen(runner(tmp_path, path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: is_running(tmp_path), what="running")
    second = subprocess.run(runner(tmp_path, path), capture_output=True, text=True, timeout=60)
    assert second.returncode == 103 and f"already being run by pid {proc.pid}" in second.stderr
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=60) == 0
    state = final_state(tmp_path)
    assert state.task_state == "KILLED" and state.processes["p"][-1].return_code == -signal.SIGTERM

    path2 = task_json(tmp_path, "trap '' TERM; exec sleep 1000", name="rt2")
    cmd = runner(tmp_path, path2)
    cmd[cmd.index("rt-1")] = "rt-2"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: is_running(tmp_path, "rt-2"), what="running")
    proc.send_signal(signal.SIGUSR2)
    assert proc.wait(timeout=30) == 0
    assert final_state(tmp_path, "rt-2").task_state == "LOST"


def test_hello_world_aurora_needs_its_port(thermos):
    cfg = os.path.join(REPO, "examples/hello_world.aurora")
    result = thermos.run(cfg, "hw-1")
    assert result.returncode == 2 and "Unbound ports: http" in result.stderr
    result = thermos("inspect", "--print-json", cfg, check=0)
    assert json.loads(result.stdout)["required_ports"] == ["http"]
