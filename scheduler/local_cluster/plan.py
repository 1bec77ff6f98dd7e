"""Where a local cluster lives: the state directory's layout and the ports, decided before anything starts.

    <state>/cluster.lock          held (flock) by the running `up`: a second `up` on the same directory is refused
    <state>/cluster.json          the running cluster: supervisor pid, ports, URLs, `ready` (read by down/status)
    <state>/clusters.json         the `local` cluster for the `aurora` client (AURORA_CONFIG_ROOT=<state>)
    <state>/zookeeper/            zoo.cfg, data/, zookeeper.log
    <state>/mesos/agentN/         the stand-in's agents' work dirs (sandboxes); mesos.log, mesos.out
    <state>/schedulerN/db         scheduler N's log replica; backups/; scheduler.log
    <state>/observer.log

Ports are free ones picked now (all held open together so that no two are the same; the stand-in picks its
agents' own), or with `port_base` B a
fixed layout: ZooKeeper B, master B+1, observer B+2, scheduler i's HTTP B+10+i and log port B+20+i, agent j
B+30+j (i, j from 0). Either way each is checked free on 127.0.0.1 before the first process starts.
"""
from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

HOST = "127.0.0.1"
MAX_SCHEDULERS = 9
MAX_AGENTS = 60
CLUSTER_NAME = "local"
SERVERSET_PATH = "/aurora/scheduler"
LOG_GROUP_PATH = "/aurora/replicated-log"


class PlanError(Exception):
    """Bad input found before anything starts: one line for people."""


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "aurora-local")


@dataclass(frozen=True)
class Ports:
    zookeeper: int
    master: int
    observer: int
    scheduler_http: tuple[int, ...]
    scheduler_log: tuple[int, ...]
    agents: tuple[int, ...]

    def named(self) -> list[tuple[str, int]]:
        """(what, port) for every port, in start order: for messages."""
        named = [("ZooKeeper", self.zookeeper), ("the Mesos master", self.master), ("the observer", self.observer)]
        named += [(f"scheduler {i + 1}'s HTTP", p) for i, p in enumerate(self.scheduler_http)]
        named += [(f"scheduler {i + 1}'s log", p) for i, p in enumerate(self.scheduler_log)]
        named += [(f"agent {j + 1}", p) for j, p in enumerate(self.agents)]
        return named


def fixed_ports(base: int, schedulers: int, agents: int) -> Ports:
    top = base + 30 + agents - 1
    if top > 65535:
        raise PlanError(f"--port_base {base} puts agent {agents}'s port at {top}, beyond 65535")
    return Ports(zookeeper=base, master=base + 1, observer=base + 2,
                 scheduler_http=tuple(base + 10 + i for i in range(schedulers)),
                 scheduler_log=tuple(base + 20 + i for i in range(schedulers)),
                 agents=tuple(base + 30 + j for j in range(agents)))


def free_ports(schedulers: int) -> Ports:
    """Free ports for everything but the agents (the stand-in picks theirs: `--agent_port 0`)."""
    count = 3 + 2 * schedulers
    with contextlib.ExitStack() as stack:
        picked = []
        for _ in range(count):
            s = stack.enter_context(socket.socket())
            s.bind((HOST, 0))
            picked.append(s.getsockname()[1])
    it = iter(picked)
    return Ports(zookeeper=next(it), master=next(it), observer=next(it),
                 scheduler_http=tuple(next(it) for _ in range(schedulers)),
                 scheduler_log=tuple(next(it) for _ in range(schedulers)), agents=())


def check_free(ports: Ports) -> None:
    """PlanError naming the first port that cannot be listened on (as the servers listen: SO_REUSEADDR)."""
    for what, port in ports.named():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
                s.listen(1)
            except OSError as e:
                raise PlanError(f"port {port} ({what}) is taken on {HOST}: {e.strerror}") from None


@dataclass(frozen=True)
class Layout:
    """Paths under the state directory (see the module docs)."""
    root: str

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def lock(self) -> str:
        return self.path("cluster.lock")

    @property
    def state(self) -> str:
        return self.path("cluster.json")

    @property
    def clusters_json(self) -> str:
        return self.path("clusters.json")

    @property
    def zookeeper(self) -> str:
        return self.path("zookeeper")

    @property
    def mesos(self) -> str:
        return self.path("mesos")

    def agent_dir(self, j: int) -> str:
        """Agent j's (0-based) work dir, as `aurora-mesos-local --agents N` lays it out."""
        return self.path("mesos", f"agent{j + 1}")

    def scheduler(self, i: int, *parts: str) -> str:
        return self.path(f"scheduler{i + 1}", *parts)


def clusters_document(zk_port: int, inherited: list | None = None) -> list:
    """clusters.json for AURORA_CONFIG_ROOT=<state>: the clusters of /etc/aurora/clusters.json (`inherited`,
    so that setting the variable hides none of them), then `local` as Aurora's format spells it."""
    local = {"name": CLUSTER_NAME, "zk": HOST, "zk_port": zk_port, "scheduler_zk_path": SERVERSET_PATH,
             "auth_mechanism": "UNAUTHENTICATED"}
    return [c for c in inherited or [] if isinstance(c, dict) and c.get("name") != CLUSTER_NAME] + [local]
