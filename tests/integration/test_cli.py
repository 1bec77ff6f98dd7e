"""The `thermos` commands as a user types them, with their outputs, exit codes and bad inputs."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from tests.helpers import BIN, holds_open, wait_for, write

HELLO = """
export(Task(name='hello', processes=[Process(name='p', cmdline='echo line1; echo line2; echo oops >&2')]))
"""


def test_status_json_contract_and_text(thermos, tmp_path):
    cfg = write(tmp_path / "h.thermos", HELLO)
    thermos.run(cfg, "hello-1", "-P", "http:8123")
    task = thermos.status("hello-1")
    assert set(task) >= {"task_id", "state", "root", "sandbox", "user", "ports", "launch_time", "processes"}
    assert task["root"] == thermos.root and task["ports"] == {"http": 8123}
    assert task["user"] == pwd.getpwuid(os.getuid()).pw_name
    run = task["processes"]["p"]["runs"][0]
    assert set(run) == {"run", "state", "pid", "return_code", "start_time", "stop_time"}
    text = thermos("status", "-vv", check=0).stdout
    assert "Finished tasks:" in text and "hello-1" in text and "http -> 8123" in text and "SUCCESS" in text
    assert thermos("status", "--only", "active").returncode == 1
    assert thermos("status", "nomatch").returncode == 1


def test_read_json_is_the_same_shape_as_status(thermos, tmp_path):
    thermos.run(write(tmp_path / "h.thermos", HELLO), "hello-2")
    path = os.path.join(thermos.root, "checkpoints/hello-2/runner")
    data = json.loads(thermos("read", "--json", path, check=0).stdout)
    status = thermos.status("hello-2")
    status.pop("root")
    assert data == status
    assert "CKPT:" in thermos("read", "--simple", path, check=0).stdout
    bad = thermos("read", str(tmp_path / "missing"))
    assert bad.returncode == 2 and "no checkpoint file" in bad.stderr


def test_tail_prints_the_end_of_a_log(thermos, tmp_path):
    thermos.run(write(tmp_path / "h.thermos", HELLO), "hello-3")
    assert thermos("tail", "hello-3", check=0).stdout == "line1\nline2\n"
    assert thermos("tail", "-n", "1", "hello-3", "p", check=0).stdout == "line2\n"
    assert thermos("tail", "--stderr", "hello-3", check=0).stdout == "oops\n"
    missing = thermos("tail", "nope")
    assert missing.returncode == 1 and "no task nope" in missing.stderr


def test_tail_follow_streams_until_the_run_ends(thermos, tmp_path):
    cfg = write(tmp_path / "f.thermos", """
export(Task(name='f', processes=[Process(name='p',
    cmdline='echo n0; while [ ! -e go ]; do sleep 0.01; done; for i in 1 2 3; do echo n$i; sleep 0.2; done')]))
""")
    runner = thermos.start(cfg, "follow-1")
    wait_for(lambda: thermos.running("follow-1", "p"), what="process running")
    follow = subprocess.Popen(thermos.cmd("tail", "-f", "-n", "0", "follow-1"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # Only once the follower holds the log open may the process go on (-n 0 skips what came before).
    stdout = os.path.join(thermos.sandbox("follow-1"), ".logs/p/0/stdout")
    wait_for(lambda: holds_open(follow.pid, stdout), what="tail -f to open the log")
    open(os.path.join(thermos.sandbox("follow-1"), "go"), "w").close()
    out, err = follow.communicate(timeout=30)
    assert follow.returncode == 0, err
    assert out == "n1\nn2\nn3\n"
    assert runner.wait(timeout=30) == 0


def test_simplerun(thermos, tmp_path):
    result = thermos("simplerun", "--task_id", "simple-1", "--sandbox", str(tmp_path / "sb"), "--",
                     "echo", "hi", "{{thermos.task_id}}")
    assert result.returncode == 0, result.stderr
    assert "Running command: 'echo hi {{thermos.task_id}}'" in result.stdout
    assert open(tmp_path / "sb/.logs/simple/0/stdout").read() == "hi simple-1\n"
    assert thermos("simplerun", "--task_id", "simple-2", "--", "exit 3").returncode == 1
    assert thermos("simplerun").returncode == 2


def test_inspect(thermos, tmp_path):
    cfg = write(tmp_path / "i.thermos", """
web = Process(name='web', cmdline='serve {{thermos.ports[http]}} {{thermos.ports[admin]}}')
export(Task(name='i', processes=[web]))
""")
    data = json.loads(thermos("inspect", "--print-json", cfg, check=0).stdout)
    assert data["required_ports"] == ["admin", "http"]
    assert data["task"]["processes"][0]["cmdline"] == "serve {{thermos.ports[http]}} {{thermos.ports[admin]}}"
    text = thermos("inspect", cfg, check=0).stdout
    assert "required ports: admin, http" in text and "process web" in text


def test_gc_deletes_oldest_finished_tasks_beyond_the_limit(thermos, tmp_path):
    cfg = write(tmp_path / "h.thermos", HELLO)
    for i in range(3):
        thermos("run", "--task_id", f"gc-{i}", cfg, check=0)   # default sandboxes: created by thermos
    dry = thermos("gc", "--max_tasks", "1", "--dry_run", check=0).stdout
    assert "would delete gc-0" in dry and "would delete gc-1" in dry and "gc-2" not in dry
    assert len(thermos.status()) == 3
    sandbox0 = thermos.status("gc-0")["sandbox"]
    thermos("gc", "--max-tasks", "1", check=0)
    assert list(thermos.status()) == ["gc-2"]
    assert not os.path.exists(sandbox0)
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/gc-0"))
    assert thermos("gc", "--max_age", "soon").returncode == 2


def test_help(thermos):
    result = subprocess.run([os.path.join(BIN, "thermos"), "help", "run"], capture_output=True, text=True)
    assert result.returncode == 0 and "--task_id" in result.stdout
    result = subprocess.run([os.path.join(BIN, "thermos"), "help", "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown command 'nope'" in result.stderr


@pytest.mark.parametrize("config, extra, message", [
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x {{thermos.ports[http]}} "
     "{{thermos.ports[admin]}}')]))", [], "Unbound ports: admin, http"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["-P", "http"], "bad port 'http'"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["-P", "http:99999"], "bad port"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["-E", "novalue"], "bad binding"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='{{unbound}}')]))", [], "unbound"),
    ("x = 1\nexport(Task(name='p', processes=[Proces(name='w', cmdline='x')]))", [], "t.thermos:2"),
    ("export(Task(name='p', processes=[Process(name='a/b', cmdline='x')]))", [], "a/b"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["--user", "no-such-user-x"],
     "unknown user"),
])
def test_bad_inputs_give_one_line_and_exit_2(thermos, tmp_path, config, extra, message):
    cfg = write(tmp_path / "t.thermos", config)
    result = thermos("run", "--task_id", "bad-1", *extra, cfg)
    assert result.returncode == 2, result
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/bad-1"))


def test_missing_config_file_and_bad_task_id(thermos, tmp_path):
    result = thermos("run", str(tmp_path / "nope.aurora"))
    assert result.returncode == 2 and "nope.aurora" in result.stderr and "Traceback" not in result.stderr
    cfg = write(tmp_path / "h.thermos", HELLO)
    result = thermos("run", "--task_id", "../escape", cfg)
    assert result.returncode == 2 and "bad task id" in result.stderr


def test_rerunning_a_finished_task_id_is_a_no_op(thermos, tmp_path):
    cfg = write(tmp_path / "h.thermos", HELLO)
    thermos.run(cfg, "again-1")
    result = thermos.run(cfg, "again-1")
    assert result.returncode == 0 and "already ended SUCCESS" in result.stdout
    assert len(thermos.status("again-1")["processes"]["p"]["runs"]) == 1


def test_changed_config_for_an_existing_task_id_is_refused(thermos, tmp_path):
    cfg = write(tmp_path / "s.thermos", "export(Task(name='s', processes=[Process(name='p', cmdline='sleep 1000')]))")
    runner = thermos.start(cfg, "chg-1")
    wait_for(lambda: thermos.running("chg-1", "p"))
    from tests.helpers import kill9
    kill9(runner)
    cfg2 = write(tmp_path / "s2.thermos", "export(Task(name='s', processes=[Process(name='p', cmdline='sleep 5')]))")
    result = thermos.run(cfg2, "chg-1")
    assert result.returncode == 2 and "differs from the one on disk" in result.stderr
    thermos("kill", "--grace", "5", "chg-1", check=0)


@pytest.fixture
def shared_dir():
    """A directory other users can reach (pytest's tmp_path is 0700), removed afterwards."""
    base = tempfile.mkdtemp(prefix="thermos-user-")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_run_as_another_user_owns_sandbox_and_logs(thermos, tmp_path, shared_dir):
    sandbox = os.path.join(shared_dir, "sandbox")
    cfg = write(tmp_path / "u.thermos",
                "export(Task(name='u', processes=[Process(name='p', cmdline='id -un; touch mine')]))")
    result = thermos("run", "--task_id", "user-1", "--sandbox", sandbox, "--user", "nobody", cfg)
    assert result.returncode == 0, result.stderr
    nobody = pwd.getpwnam("nobody").pw_uid
    assert open(os.path.join(sandbox, ".logs/p/0/stdout")).read() == "nobody\n"
    for path in (sandbox, os.path.join(sandbox, "mine"), os.path.join(sandbox, ".logs/p/0/stdout")):
        assert os.stat(path).st_uid == nobody, path
    assert thermos.status("user-1")["user"] == "nobody"


def test_daemon_detaches_and_the_task_runs_to_its_end(thermos, tmp_path):
    cfg = write(tmp_path / "d.thermos", """
export(Task(name='dm', processes=[Process(name='p', cmdline='sleep 0.3; echo instance={{mesos.instance}}')]))
""")
    result = thermos.run(cfg, "dm-1", "--daemon", "-E", "mesos.instance=3", timeout=10)
    assert result.returncode == 0 and "Daemonizing and starting runner." in result.stdout
    wait_for(lambda: thermos.status("dm-1").get("state") == "SUCCESS", what="daemonized task to finish")
    sandbox = thermos.sandbox("dm-1")
    assert open(os.path.join(sandbox, ".logs/p/0/stdout")).read() == "instance=3\n"
    assert "task dm-1 SUCCESS" in open(os.path.join(sandbox, ".logs/.runner.log")).read()


def test_bad_task_id_patterns_are_usage_errors(thermos):
    for command in ("status", "kill"):
        result = thermos(command, "[")
        assert result.returncode == 2 and "bad task id pattern '['" in result.stderr
        assert "Traceback" not in result.stderr
