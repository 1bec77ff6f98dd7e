"""`aurora-mesos-local` in the foreground, and the proto validator itself."""
from __future__ import annotations

import os
import signal
import socket
import subprocess

from tests.helpers import BIN
from tests.integration.mesos_helpers import get_json
from tests.mesos_protos import validate


def test_cli_serves_master_and_agent_until_sigterm(tmp_path):
    proc = subprocess.Popen([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(tmp_path / "w"),
                             "--master-port", "0", "--agent_port", "0", "--resources", "cpus:1;mem:512;ports:[9-10]",
                             "--attributes", "rack:r1;level:2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        assert get_json(fields["master"], "/version")["version"] == "1.11.0"
        (slave,) = get_json(fields["master"], "/state")["slaves"]
        assert slave["id"] == fields["agent_id"] and slave["attributes"] == {"rack": "r1", "level": 2.0}
        assert slave["resources"] == {"cpus": 1.0, "mem": 512.0, "ports": "[9-10]"}
        assert get_json(fields["agent"], "/state")["id"] == fields["agent_id"]
        assert fields["work_dir"] == str(tmp_path / "w")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_cli_bad_flags_one_line_exit_2(tmp_path):
    for flags, says in ((["--resources", "cpus:lots"], "cpus"), (["--attributes", "rack"], "rack"),
                        (["--master_port", "x"], "expected a port number, got 'x'"),
                        (["--master_port", "99999"], "port must be 0-65535, got 99999"),
                        (["--agent-port", "-5"], "port must be 0-65535, got -5"),
                        (["--executor_environment", "NOEQUALS"], "NOEQUALS"),
                        (["--heartbeat_interval", "nan"], "expected a finite number of seconds, got 'nan'"),
                        (["--executor_registration_timeout", "0"], "got '0'"),
                        (["--executor_shutdown_grace_period", "-1"], "0 or more, got '-1'")):
        result = subprocess.run([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(tmp_path), *flags],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (flags, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("aurora-mesos-local:"), result.stderr
        assert says in result.stderr, result.stderr


def test_cli_port_in_use_names_the_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flags, who in ((["--master_port", str(port), "--agent_port", "0"], "master"),
                           (["--master_port", "0", "--agent_port", str(port)], "agent")):
            result = subprocess.run([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(tmp_path), *flags],
                                    capture_output=True, text=True, timeout=30)
            assert (result.returncode, result.stderr) == (
                1, f"aurora-mesos-local: the {who} cannot listen on 127.0.0.1:{port}: Address already in use\n")


def test_proto_validator_catches_bad_messages():
    assert validate("scheduler", "event", {"type": "HEARTBEAT"}) is None
    assert "TASK_BOGUS" in validate("scheduler", "event", {"type": "UPDATE", "update": {"status": {
        "task_id": {"value": "t"}, "state": "TASK_BOGUS"}}})
    assert "required" in validate("scheduler", "event", {"type": "UPDATE", "update": {"status": {
        "state": "TASK_RUNNING"}}})
    assert validate("executor", "call", {"type": "UPDATE", "slave_id": {"value": "x"}}) is not None
    assert validate("executor", "event", {"type": "ACKNOWLEDGED", "acknowledged": {
        "task_id": {"value": "t"}, "uuid": "not base64!"}}) is not None
