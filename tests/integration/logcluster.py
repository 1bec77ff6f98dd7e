"""A cluster of real `aurora-log serve` processes on loopback, with fault knobs, for tests and benchmarks.

    cluster = LogCluster(tmp_path, zk.endpoints, size=3, quorum=2)
    cluster.start()                    # initialize + serve every replica, wait for a READY writer
    w = cluster.wait_writer()          # index of the READY writer
    cluster.client(w).append([b"x"])
    cluster.kill(i); cluster.stop(i); cluster.cont(i); cluster.restart(i); cluster.wipe(i)

Waits poll a condition until a deadline (never a fixed sleep).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

from scheduler.log.client import LogClient
from scheduler.log.protocol import LogError

from tests.helpers import free_port

BIN = os.path.join(os.path.dirname(sys.executable), "aurora-log")


def wait_for(cond, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except (LogError, OSError) as e:
            last = e
        else:
            if last is not None and last is not False:
                return last
        time.sleep(interval)  # polling interval of a condition wait
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class LogCluster:
    def __init__(self, workdir, zk_endpoints: str, size: int = 3, quorum: int | None = None,
                 session_timeout: str = "2secs", write_timeout: str = "3secs", group: str | None = None,
                 extra_args: tuple = ()):
        self.dir = os.fspath(workdir)
        self.zk = zk_endpoints
        self.size = size
        self.quorum = quorum or size // 2 + 1
        self.session_timeout = session_timeout
        self.write_timeout = write_timeout
        self.group = group or f"/aurora/replicated-log-{uuid.uuid4().hex[:8]}"
        self.extra_args = list(extra_args)
        self.ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self.stopped: set[int] = set()
        self._clients: dict[tuple, LogClient] = {}
        self._lock = threading.Lock()

    def path(self, i: int) -> str:
        return os.path.join(self.dir, f"replica{i}")

    def address(self, i: int) -> str:
        return f"127.0.0.1:{self.ports[i]}"

    def client(self, i: int, timeout: float = 10.0) -> LogClient:
        """A client of node i for the calling thread (tornado's blocking client is not thread-safe)."""
        key = (threading.get_ident(), i, timeout)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = LogClient(self.address(i), timeout=timeout)
            return self._clients[key]

    def initialize(self, i: int) -> None:
        subprocess.run([BIN, "initialize", f"--path={self.path(i)}"], check=True, capture_output=True)

    def spawn(self, i: int) -> None:
        with open(os.path.join(self.dir, f"replica{i}.log"), "ab") as log:
            self.procs[i] = self._popen(i, log)
        self.stopped.discard(i)
        wait_for(lambda: self._healthy(i), 30, f"replica {i} to serve")

    def _popen(self, i: int, log) -> subprocess.Popen:
        return subprocess.Popen(
            [BIN, "serve", f"-native_log_file_path={self.path(i)}", f"-native_log_zk_group_path={self.group}",
             f"-zk_endpoints={self.zk}", f"-native_log_port={self.ports[i]}",
             f"-native_log_quorum_size={self.quorum}", f"-native_log_write_timeout={self.write_timeout}",
             f"-zk_session_timeout={self.session_timeout}", "-ip=127.0.0.1", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _healthy(self, i: int) -> bool:
        p = self.procs[i]
        if p.poll() is not None:
            raise AssertionError(f"replica {i} exited with {p.returncode}: {self.log_tail(i)}")
        try:
            self.client(i, timeout=2).status()
            return True
        except LogError:
            return False

    def start(self, initialize: bool = True) -> None:
        for i in range(self.size):
            if initialize:
                self.initialize(i)
            self.spawn(i)
        self.wait_writer()

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p is not None and p.poll() is None]

    def running(self) -> list[int]:
        return [i for i in self.alive() if i not in self.stopped]

    def statuses(self) -> dict[int, dict]:
        out = {}
        for i in self.running():
            try:
                out[i] = self.client(i, timeout=2).status()
            except LogError:
                pass
        return out

    def writer_index(self) -> int | None:
        for i, s in self.statuses().items():
            if s["is_writer"] and s["ready"]:
                return i
        return None

    def wait_writer(self, timeout: float = 60.0) -> int:
        return wait_for(self.writer_index, timeout, "a READY writer")

    def append(self, payloads: list[bytes], timeout: float = 60.0) -> list[int]:
        """Append through whichever node is the writer, retrying until the deadline (for setup only)."""
        def attempt():
            w = self.writer_index()
            if w is None:
                return None
            return self.client(w).append(payloads)
        return wait_for(attempt, timeout, "an append to succeed")

    # -- faults --------------------------------------------------------------------------------------------
    def kill(self, i: int) -> None:
        p = self.procs[i]
        if p and p.poll() is None:
            if i in self.stopped:
                p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()
        self.stopped.discard(i)

    def stop(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGSTOP)
        self.stopped.add(i)

    def cont(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGCONT)
        self.stopped.discard(i)

    def restart(self, i: int) -> None:
        self.kill(i)
        self.spawn(i)

    def wipe(self, i: int) -> None:
        """Disk loss: the replica's directory is gone (the process must be dead)."""
        shutil.rmtree(self.path(i), ignore_errors=True)

    def shutdown(self) -> None:
        for i in range(self.size):
            p = self.procs[i]
            if p and p.poll() is None:
                if i in self.stopped:
                    p.send_signal(signal.SIGCONT)
                p.terminate()
        for i in range(self.size):
            p = self.procs[i]
            if p:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for key, c in list(self._clients.items()):
            if key[0] == threading.get_ident():
                c.close()
        self._clients.clear()

    def log_tail(self, i: int, n: int = 2000) -> str:
        try:
            with open(os.path.join(self.dir, f"replica{i}.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""


def start_followers(workdir: str, zk_endpoints: str) -> LogCluster:
    """Two initialized replicas that never write (`-elect=false`), quorum 2: followers for a writer of one's
    own (the benchmarks' in-process writer)."""
    followers = LogCluster(os.path.join(workdir, "followers"), zk_endpoints, size=2, quorum=2,
                           extra_args=("-elect=false",))
    os.makedirs(followers.dir)
    for i in range(2):
        followers.initialize(i)
        followers.spawn(i)
    return followers
