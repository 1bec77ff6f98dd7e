"""Real ZooKeeper servers for tests and benchmarks (Debian's `zookeeper` package, Java in the foreground).

    with ZooKeeperServer(tmp_path) as zk:          # standalone, on a free 127.0.0.1 port
        KazooClient(hosts=zk.endpoints)
    with ZooKeeperEnsemble(tmp_path, size=3) as ens:  # QuorumPeerMain x 3 on loopback
        ens.endpoints, ens.leader_index(), ens.servers[i].kill()

A server is ready when it answers the four-letter word ``ruok`` with ``imok`` (``srvr`` shows the ensemble
mode); every wait has a deadline and a failure says what the server printed. No sleeps as synchronisation.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from tests.helpers import free_port

CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
JAVA_OPTS = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.admin.enableServer=false"]


def four_letter(port: int, word: str, timeout: float = 1.0) -> str:
    """The answer to a four-letter word, or '' if the server does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperServer:
    """One ZooKeeper server process. Standalone unless `peers` (server.N lines) are given."""

    def __init__(self, workdir, tick_ms: int = 500, port: int | None = None, myid: int | None = None,
                 peers: list[str] | None = None):
        self.dir = os.fspath(workdir)
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.myid = myid
        self.peers = peers
        self.proc: subprocess.Popen | None = None

    @property
    def endpoints(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> str:
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        lines = [f"tickTime={self.tick_ms}", f"dataDir={data}", f"clientPort={self.port}",
                 "clientPortAddress=127.0.0.1", "admin.enableServer=false",
                 "4lw.commands.whitelist=ruok,srvr,mntr", "maxSessionTimeout=60000"]
        if self.peers:
            lines += ["initLimit=20", "syncLimit=10"] + self.peers
            with open(os.path.join(data, "myid"), "w") as f:
                f.write(f"{self.myid}\n")
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        return cfg

    def start(self, wait: bool = True, timeout: float = 30.0) -> ZooKeeperServer:
        cfg = self._write_config()
        main = ("org.apache.zookeeper.server.quorum.QuorumPeerMain" if self.peers
                else "org.apache.zookeeper.server.ZooKeeperServerMain")
        self._log = open(os.path.join(self.dir, "zookeeper.log"), "ab")  # noqa: SIM115 - lives with the process
        env = dict(os.environ, ZOO_LOG_DIR=self.dir)
        self.proc = subprocess.Popen(["java", *JAVA_OPTS, "-cp", CLASSPATH, main, cfg], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.proc.returncode}: {self.tail()}")
            if four_letter(self.port, "ruok", 0.5) == "imok" and (
                    not self.peers or "Mode: " in four_letter(self.port, "srvr", 0.5)):
                return
            time.sleep(0.05)  # polling interval of a condition wait, not synchronisation
        raise RuntimeError(f"ZooKeeper on port {self.port} not ready within {timeout}s: {self.tail()}")

    def mode(self) -> str:
        for line in four_letter(self.port, "srvr").splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return ""

    def tail(self, n: int = 600) -> str:
        try:
            with open(os.path.join(self.dir, "zookeeper.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ZooKeeperEnsemble:
    """`size` QuorumPeerMain servers on loopback, each in its own subdirectory of `workdir`."""

    def __init__(self, workdir, size: int = 3, tick_ms: int = 500):
        ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
        peers = [f"server.{i + 1}=127.0.0.1:{p1}:{p2}" for i, (_, p1, p2) in enumerate(ports)]
        self.servers = [ZooKeeperServer(os.path.join(os.fspath(workdir), f"zk{i + 1}"), tick_ms, port=c,
                                        myid=i + 1, peers=peers) for i, (c, _, _) in enumerate(ports)]

    @property
    def endpoints(self) -> str:
        return ",".join(s.endpoints for s in self.servers)

    def start(self, timeout: float = 60.0) -> ZooKeeperEnsemble:
        for s in self.servers:
            s.start(wait=False)
        for s in self.servers:
            s.wait_ready(timeout)
        return self

    def leader_index(self) -> int | None:
        for i, s in enumerate(self.servers):
            if s.mode() == "leader":
                return i
        return None

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
