"""The `thermos` commands as a user types them, with their outputs, exit codes and bad inputs."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

import pytest

from tests.helpers import BIN, Thermos, holds_open, kill9, wait_for, write

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
    status.pop("runner_pid")
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
    assert thermos("simplerun", "--task_id", "simple-2", "--sandbox", thermos.sandbox("simple-2"), "--",
                   "exit 3").returncode == 1
    assert thermos("simplerun", "--sandbox", thermos.sandbox("simple-3")).returncode == 2


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
        thermos.run(cfg, f"gc-{i}")   # sandboxes that do not exist yet: created by thermos
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
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["-P", "http:1", "-P", "http:2"],
     "port 'http' bound twice"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["-E", "novalue"], "bad binding"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='{{unbound}}')]))", [], "unbound"),
    ("x = 1\nexport(Task(name='p', processes=[Proces(name='w', cmdline='x')]))", [], "t.thermos:2"),
    ("export(Task(name='p', processes=[Process(name='a/b', cmdline='x')]))", [], "a/b"),
    ("export(Task(name='p', processes=[Process(name='w', cmdline='x')]))", ["--user", "no-such-user-x"],
     "unknown user"),
])
def test_bad_inputs_give_one_line_and_exit_2(thermos, tmp_path, config, extra, message):
    cfg = write(tmp_path / "t.thermos", config)
    result = thermos.run(cfg, "bad-1", *extra)
    assert result.returncode == 2, result
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/bad-1"))


def test_missing_config_file_and_bad_task_id(thermos, tmp_path):
    result = thermos("run", "--sandbox", str(tmp_path / "sb"), str(tmp_path / "nope.aurora"))
    assert result.returncode == 2 and "nope.aurora" in result.stderr and "Traceback" not in result.stderr
    cfg = write(tmp_path / "h.thermos", HELLO)
    result = thermos.run(cfg, "../escape")
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
    wait_for(lambda: "task dm-1 SUCCESS" in open(os.path.join(sandbox, ".logs/.runner.log")).read(),
             what="the runner's last log line")
    wait_for(lambda: thermos.status("dm-1").get("runner_pid") is None, what="the daemon to exit")
    # thermos made the sandbox (it did not exist), so gc deletes all of it, not just its logs
    assert "deleting dm-1" in thermos("gc", "--max_tasks", "0", check=0).stdout
    assert not os.path.exists(sandbox)


def test_bad_task_id_patterns_are_usage_errors(thermos):
    for command in ("status", "kill"):
        result = thermos(command, "[")
        assert result.returncode == 2 and "bad task id pattern '['" in result.stderr
        assert "Traceback" not in result.stderr


# ---- --root, bad sandboxes, reused ids, --daemon, flags, status of what never ran ----------------------------
def test_a_root_given_replaces_the_default_root(thermos, tmp_path, monkeypatch):
    from thermos_executor.cli import thermos as cli
    cfg = write(tmp_path / "h.thermos", HELLO)
    default, mine, other = Thermos(str(tmp_path / "default"), thermos.sandbox_base), thermos, \
        Thermos(str(tmp_path / "other"), thermos.sandbox_base)
    default.run(cfg, "machine-1")
    mine.run(cfg, "mine-1")
    other.run(cfg, "other-1")
    # The machine's default root is the fake one here: `thermos` in this process, with default_root patched.
    monkeypatch.setattr(cli, "default_root", lambda: default.root)
    assert cli.main(["gc", "--root", mine.root, "--max_tasks", "0"]) == 0
    assert os.listdir(os.path.join(default.root, "tasks/finished")) == ["machine-1"]
    assert os.listdir(os.path.join(mine.root, "tasks/finished")) == []
    assert cli.main(["status", "--root", other.root, "machine"]) == 1          # not looked for there
    assert cli.main(["tail", "--root", other.root, "machine-1"]) == 1
    assert cli.main(["kill", "--root", other.root, "machine"]) == 1
    # --root repeated names several roots; none given means the default one
    found = cli.inspector.find_tasks(cli._roots(cli.build_parser().parse_args(
        ["status", "--root", default.root, "--root", other.root])))
    assert sorted(v.task_id for v in found) == ["machine-1", "other-1"]
    assert cli._roots(cli.build_parser().parse_args(["status"])) == [default.root]
    several = thermos("run", "--root", str(tmp_path / "x"), "--task_id", "two-1", "--sandbox",
                      thermos.sandbox("two-1"), cfg)
    assert several.returncode == 2 and "several --root given" in several.stderr
    assert not os.path.exists(thermos.sandbox("two-1"))


@pytest.mark.parametrize("sandbox, message", [
    ("file", "sandbox {} is not a directory"),
    ("file/sub", "sandbox {} cannot be made: {}/file is not a directory"),
])
def test_a_sandbox_that_cannot_be_used_leaves_no_task_behind(thermos, tmp_path, sandbox, message):
    write(tmp_path / "file", "not a directory")
    cfg = write(tmp_path / "h.thermos", HELLO)
    path = str(tmp_path / sandbox)
    result = thermos("run", "--task_id", "sb-1", "--sandbox", path, cfg)
    assert result.returncode == 2 and result.stderr == f"thermos: error: {message.format(path, tmp_path)}\n"
    assert not os.path.exists(os.path.join(thermos.root, "tasks/active/sb-1"))
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/sb-1"))
    for command in ("simplerun", "run --daemon"):
        args = command.split()[1:] + ([cfg] if command.startswith("run") else ["--", "true"])
        result = thermos(command.split()[0], "--task_id", "sb-2", "--sandbox", path, *args)
        assert result.returncode == 2 and "Daemonizing" not in result.stdout and "Running" not in result.stdout
    assert thermos("status").returncode == 1


def test_gc_removes_what_a_run_that_never_started_left(thermos, tmp_path):
    """What an older thermos left when the sandbox could not be made: an active task file and an empty
    checkpoint; no runner holds it and nothing of it ran."""
    cfg = write(tmp_path / "h.thermos", HELLO)
    thermos.run(cfg, "done-1")
    task_json = open(os.path.join(thermos.root, "tasks/finished/done-1")).read()
    write(os.path.join(thermos.root, "tasks/active/phantom-1"), task_json)
    os.makedirs(os.path.join(thermos.root, "checkpoints/phantom-1"))
    write(os.path.join(thermos.root, "checkpoints/phantom-1/runner"), "")
    text = thermos("status", check=0).stdout
    assert "phantom-1" in text and "runner not running" in text
    killed = thermos("kill", "phantom")
    assert killed.returncode == 2 and "task phantom-1 never started" in killed.stderr and "gc" in killed.stderr
    assert "would delete phantom-1 (never started)" in thermos("gc", "--dry_run", check=0).stdout
    assert os.path.exists(os.path.join(thermos.root, "tasks/active/phantom-1"))
    assert "deleted phantom-1 (never started)" in thermos("gc", check=0).stdout
    assert not os.path.exists(os.path.join(thermos.root, "tasks/active/phantom-1"))
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/phantom-1"))
    assert list(thermos.status()) == ["done-1"]
    assert thermos("gc", check=0).stdout == "nothing to collect\n"


def test_a_finished_task_id_reused_with_another_config_is_refused(thermos, tmp_path):
    thermos.run(write(tmp_path / "a.thermos", HELLO), "reuse-1")
    other = write(tmp_path / "b.thermos", "export(Task(name='hello', processes=[Process(name='q', cmdline='true')]))")
    result = thermos.run(other, "reuse-1")
    finished = os.path.join(thermos.root, "tasks/finished/reuse-1")
    assert result.returncode == 2
    assert result.stderr == (f"thermos: error: task reuse-1 differs from the one on disk at {finished}; "
                             "use a new --task_id\n")


def test_daemon_of_a_task_already_running_says_so_before_detaching(thermos, tmp_path):
    cfg = write(tmp_path / "s.thermos", "export(Task(name='s', processes=[Process(name='p', cmdline='sleep 1000')]))")
    runner = thermos.start(cfg, "busy-1")
    try:
        wait_for(lambda: thermos.running("busy-1", "p"), what="the task running")
        result = thermos.run(cfg, "busy-1", "--daemon")
        assert result.returncode == 2 and "Daemonizing" not in result.stdout
        assert result.stderr == f"thermos: error: task busy-1 is already being run by pid {runner.pid}\n"
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)


@pytest.mark.parametrize("args, message", [
    (["status", "--bogus"], "thermos: error: unrecognized arguments: --bogus"),
    (["tail", "-n", "-5", "t-1"], "thermos tail: error: argument -n/--lines: expected a number of lines"),
    (["kill"], "thermos kill: error: the following arguments are required: regex"),
    (["simplerun", "-P", "http", "--", "true"], "thermos: error: bad port 'http'"),
])
def test_usage_errors_are_one_line(thermos, args, message):
    result = thermos(*args, *(["--sandbox", thermos.sandbox("u-1")] if args[0] == "simplerun" else []))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_thermos_without_a_command_is_one_line():
    result = subprocess.run([os.path.join(BIN, "thermos")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "thermos: error: a command is needed: thermos help lists them\n"


@pytest.mark.parametrize("command", ["thermos", "thermos_runner", "thermos_executor", "aurora-log",
                                     "aurora-mesos-local", "thermos_observer"])
def test_every_command_has_version(command):
    from importlib.metadata import version
    result = subprocess.run([os.path.join(BIN, command), "--version"], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{command} {version('aurora-thermos')}\n", "")


def test_status_shows_processes_that_never_ran(thermos, tmp_path):
    cfg = write(tmp_path / "o.thermos", """
a = Process(name='a', cmdline='exit 1')
b = Process(name='b', cmdline='echo b')
export(Task(name='o', processes=[a, b], constraints=order(a, b)))
""")
    thermos.run(cfg, "order-1")
    task = thermos.status("order-1")
    assert task["state"] == "FAILED" and task["processes"]["a"]["state"] == "FAILED"
    assert task["processes"]["b"] == {"state": "WAITING", "runs": []}
    lines = thermos("status", "-v", "order-1", check=0).stdout.splitlines()
    assert any(line.split() == ["b", "WAITING", "never", "run"] for line in lines), lines


def test_status_says_when_the_runner_of_an_active_task_is_gone(thermos, tmp_path):
    cfg = write(tmp_path / "s.thermos", "export(Task(name='s', processes=[Process(name='p', cmdline='sleep 1000')]))")
    runner = thermos.start(cfg, "gone-1")
    try:
        wait_for(lambda: thermos.running("gone-1", "p"), what="the task running")
        assert thermos.status("gone-1")["runner_pid"] == runner.pid
        assert f"runner pid {runner.pid}" in thermos("status", "gone-1", check=0).stdout
        kill9(runner)
        assert thermos.status("gone-1")["runner_pid"] is None
        assert "runner not running" in thermos("status", "gone-1", check=0).stdout
    finally:
        kill9(runner)
        thermos("kill", "--grace", "5", "gone-1")      # takes over: the task's processes end with it
