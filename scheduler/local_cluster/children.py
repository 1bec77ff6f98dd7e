"""One child process of a local cluster, and the sweep that makes sure nothing outlives the cluster.

A `Child` runs in its own process group (so the terminal's Ctrl-C reaches only the supervisor, which then stops
the children in order), with stdin closed and stdout + stderr appended to its log file, and with the kernel's
parent-death signal set to SIGTERM: if the supervisor itself is killed with SIGKILL, every child is still told to
stop. `stop()` sends SIGTERM to the group, waits, then SIGKILLs the group, and always reaps.

Executors and task processes are not our children: the stand-in starts them in sessions of their own and kills
them when it stops. Every child gets `MARKER=<state dir>` in its environment, which the stand-in hands on to its
executors and they to their runners and coordinators; `sweep(state_dir)` SIGKILLs whatever still carries it (and
its descendants) once the children are gone: nothing the cluster started survives `down`.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time

import psutil

MARKER = "AURORA_LOCAL_CLUSTER"
_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - every Linux has a libc
    _libc = None


def _in_child(parent: int):
    def setup():
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before prctl: stop at once
            os._exit(1)
    return setup


class Child:
    """A process of the cluster: `start()`, `alive`, `exit_text()`, `stop()`; `tail()` of its log."""

    def __init__(self, name: str, args: list[str], log_path: str, env: dict | None = None, cwd: str | None = None):
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0

    def start(self) -> Child:
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.cwd, process_group=0,
                                         preexec_fn=_in_child(os.getpid()))
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_text(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def tail(self, lines: int = 1) -> str:
        """The last non-empty lines of its log (for a one-line error)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 8192))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        return " / ".join(kept[-lines:])

    def signal(self, sig: int) -> None:
        if self.alive:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> bool:
        """Whether it has exited (and is reaped) within `timeout` seconds."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM its process group, wait up to `timeout`, then SIGKILL the group; reaped either way."""
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        if not self.wait(timeout):
            self.kill()
        self._kill_group_leftovers()

    def kill(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait()
        self._kill_group_leftovers()

    def _kill_group_leftovers(self) -> None:
        # The leader is reaped; processes it left in its group (none of ours fork into it) go too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def marked(state_dir: str) -> list[psutil.Process]:
    """Processes of this user carrying MARKER=state_dir, and their descendants (this process excluded)."""
    found: dict[int, psutil.Process] = {}
    me = os.getpid()
    uid = os.getuid()
    for p in psutil.process_iter(["uids"]):
        try:
            if p.pid == me or p.info["uids"] is None or p.info["uids"].real != uid:
                continue
            if p.environ().get(MARKER) == state_dir:
                found[p.pid] = p
                for c in p.children(recursive=True):
                    found.setdefault(c.pid, c)
        except (psutil.Error, OSError):
            continue
    found.pop(me, None)
    return list(found.values())


def sweep(state_dir: str) -> int:
    """SIGKILL every process `marked` finds; how many there were."""
    procs = marked(state_dir)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)
    return len(procs)
