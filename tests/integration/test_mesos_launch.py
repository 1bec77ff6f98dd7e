"""`aurora-mesos-local launch`: a config file's job run through the real thermos_executor on the real stand-in,
as a user tries it: its output, its exit status, Ctrl-C, and bad input."""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import threading

import pytest

from tests.helpers import BIN, wait_for, write

LAUNCH = [os.path.join(BIN, "aurora-mesos-local"), "launch"]

JOBS = """
echo = Process(name='p', cmdline='echo instance {{mesos.instance}} port {{thermos.ports[http]}}')
quick = Task(name='quick', processes=[echo], resources=Resources(cpu=0.1, ram=16*MB, disk=16*MB))
failing = quick(name='failing', processes=[Process(name='p', cmdline='exit 3')])
server = quick(name='server', processes=[Process(name='web', cmdline='''python3 -c "
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
http.server.HTTPServer(('127.0.0.1', {{thermos.ports[health]}}), H).serve_forever()
"''')])
jobs = [Service(cluster='local', role='{{role_name}}', environment='test', name=t.name().get(), task=t,
                health_check_config=HealthCheckConfig(initial_interval_secs=1, interval_secs=0.5))
        for t in (quick, failing, server)]
"""


@pytest.fixture
def config(tmp_path):
    return write(tmp_path / "jobs.aurora", JOBS)


def launch(tmp_path, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen([*LAUNCH, *args, "--work_dir", str(tmp_path / "mesos")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def run(tmp_path, *args) -> tuple[int, list[str], str]:
    proc = launch(tmp_path, *args)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.splitlines(), err


def test_a_finished_task_exits_0_after_its_updates(tmp_path, config):
    code, lines, err = run(tmp_path, config, "--job", "quick", "-E", "role_name=www-data", "--instance", "2")
    assert code == 0, err
    assert lines[0].startswith("launching www-data-test-quick-2-") and "Mesos-API stand-in" in lines[0]
    assert [lines[1], *lines[3:]] == ["TASK_STARTING", "TASK_RUNNING: No health-check defined, task is assumed "
                                      "healthy.", "TASK_FINISHED: Task finished."]
    sandbox = lines[2].removeprefix("sandbox: ")
    assert sandbox.startswith(str(tmp_path / "mesos")), lines
    output = open(os.path.join(sandbox, ".logs", "p", "0", "stdout")).read()
    assert output.startswith("instance 2 port ") and int(output.split()[-1]) in range(31000, 32000)
    assert "Traceback" not in err


def test_a_failed_task_exits_1_with_the_executors_message(tmp_path, config):
    code, lines, err = run(tmp_path, config, "--job", "failing", "-E", "role_name=www-data")
    assert code == 1, err
    assert lines[-1] == "TASK_FAILED: Task failed. Process p failed (exit status 3)."


def test_a_healthy_task_is_killed_by_ctrl_c(tmp_path, config):
    proc = launch(tmp_path, config, "--job", "server", "-E", "role_name=www-data")
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: "TASK_RUNNING: Task is healthy." in lines, timeout=60, what="a healthy task")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)         # it kills the task; SIGKILL would leave the task running
            proc.wait(60)
    reader.join(10)
    assert lines[-2:] == [f"SIGINT: killing {lines[0].split()[1]}", "TASK_KILLED: Instructed to kill task."]
    assert not glob.glob(str(tmp_path / "mesos" / "**" / "lifecycle"), recursive=True)
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("args, says", [
    (["missing.aurora"], "config file not found: missing.aurora"),
    (["{config}"], "defines 3 jobs (quick, failing, server): give --job NAME"),
    (["{config}", "--job", "nope"], "no job named nope"),
    (["{config}", "--job", "quick"], "unbound template variables {{role_name}}; bind them with -E NAME=VALUE"),
    (["{config}", "--job", "quick", "-E", "role_name=x", "--resources", "cpus:0.2;mem:64"],
     "more than the agent has"),
    (["{config}", "--job", "quick", "-E", "role_name=x", "--instance", "-1"], "--instance must be 0 or more, got -1"),
    (["{config}", "--job", "quick", "-E", "role_name=x", "--resources", "cpus:lots"], "cpus"),
    (["{config}", "--bogus"], "unrecognized arguments: --bogus"),
    (["{self_referring}", "--job", "quick"], "job.role: template '{{role}}' refers to itself"),
])
def test_bad_input_is_one_line_exit_2_and_starts_nothing(tmp_path, config, args, says):
    self_referring = write(tmp_path / "self.aurora", JOBS.replace("{{role_name}}", "{{role}}"))
    code, lines, err = run(tmp_path, *(a.format(config=config, self_referring=self_referring) for a in args))
    assert (code, lines) == (2, []), err
    assert err.startswith("aurora-mesos-local launch: ") and err.count("\n") == 1 and says in err, err
    assert not os.path.exists(tmp_path / "mesos")
