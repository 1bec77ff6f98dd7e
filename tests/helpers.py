"""Shared test helpers: waiting on conditions with deadlines (never sleeping as synchronisation), running CLIs."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

BIN = os.path.dirname(sys.executable)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01, what: str = "condition", diagnose=None):
    """Return predicate()'s first truthy value, or fail the test when the deadline passes (with what
    `diagnose()` says, when given: logs, journals)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f"\n{diagnose()}" if diagnose is not None else ""))
        time.sleep(interval)


class Thermos:
    """Runs `thermos` commands against one private checkpoint root."""

    def __init__(self, root: str, sandbox_base: str):
        self.root = root
        self.sandbox_base = sandbox_base

    def sandbox(self, task_id: str) -> str:
        return os.path.join(self.sandbox_base, task_id)

    def cmd(self, *args) -> list[str]:
        return [os.path.join(BIN, "thermos"), args[0], "--root", self.root, *args[1:]]

    def __call__(self, *args, timeout: float = 60, check=None) -> subprocess.CompletedProcess:
        # The default sandbox is the host's (/var/lib/thermos/sandbox as root): a test names its own.
        assert args[0] not in ("run", "simplerun") or "--sandbox" in args, "give the run a --sandbox"
        result = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout)
        if check is not None:
            assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
        return result

    def run(self, config: str, task_id: str, *extra, timeout: float = 60) -> subprocess.CompletedProcess:
        return self("run", "--task_id", task_id, "--sandbox", self.sandbox(task_id), *extra, config,
                    timeout=timeout)

    def start(self, config: str, task_id: str, *extra) -> subprocess.Popen:
        """`thermos run` in the background (its own session, so signals reach only it)."""
        return subprocess.Popen(self.cmd("run", "--task_id", task_id, "--sandbox", self.sandbox(task_id),
                                         *extra, config),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def status(self, task_id: str | None = None) -> dict:
        out = self("status", "--json", *([task_id] if task_id else []), check=0).stdout
        tasks = json.loads(out)["tasks"]
        if task_id is None:
            return {t["task_id"]: t for t in tasks}
        matches = [t for t in tasks if t["task_id"] == task_id]
        return matches[0] if matches else {}

    def running(self, task_id: str, process: str) -> dict | None:
        """The process's last run if it is RUNNING (for wait_for)."""
        runs = self.status(task_id).get("processes", {}).get(process, {}).get("runs") or [{}]
        return runs[-1] if runs[-1].get("state") == "RUNNING" else None

    def runner_records(self, task_id: str) -> list[dict]:
        from thermos_executor.runner import ckpt
        return ckpt.read_all(os.path.join(self.root, "checkpoints", task_id, "runner"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def holds_open(pid: int, path: str) -> bool:
    """Whether process `pid` has `path` open (for wait_for)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
