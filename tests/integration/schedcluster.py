"""Real `aurora-scheduler` processes on loopback (with real ZooKeeper), for tests and benchmarks.

    cluster = SchedulerCluster(tmp_path, zk.endpoints, size=3, quorum=2)
    cluster.start()                     # `aurora-log initialize` every replica, start every scheduler
    i = cluster.wait_leader()           # index of the scheduler whose /leaderhealth is 200 and /api READY
    cluster.client(i).createJob(job_config("www", "prod", "hello"))
    cluster.kill(i); cluster.stop(i); cluster.cont(i); cluster.wait_exit(i)

Waits poll a condition until a deadline (never a fixed sleep).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from scheduler.api import client as api_client
from thermos_executor.aurora_api.gen.ttypes import (
    ExecutorConfig, Identity, JobConfiguration, JobKey, Resource, ResponseCode, TaskConfig, TaskQuery)

from tests.helpers import free_port, wait_for

BIN = os.path.join(os.path.dirname(sys.executable), "aurora-scheduler")
LOG_BIN = os.path.join(os.path.dirname(sys.executable), "aurora-log")


def job_config(role: str, env: str, name: str, instances: int = 1) -> JobConfiguration:
    key = JobKey(role=role, environment=env, name=name)
    task = TaskConfig(job=key, owner=Identity(user=role), isService=False, priority=0, maxTaskFailures=1,
                      resources={Resource(numCpus=0.1), Resource(ramMb=16), Resource(diskMb=16)},
                      constraints=set(), executorConfig=ExecutorConfig(name="AuroraExecutor", data="{}"))
    return JobConfiguration(key=key, owner=Identity(user=role), taskConfig=task, instanceCount=instances)


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, str, dict]:
    """(status, body, headers) of a GET, redirects not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with opener.open(request, timeout=5) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


class SchedulerCluster:
    def __init__(self, workdir, zk_endpoints: str, size: int = 3, quorum: int | None = None,
                 session_timeout: str = "2secs", extra_args: tuple = (), mesos_master: str | None = None):
        """`mesos_master`: the schedulers' -mesos_master_address; None: a port nobody listens on, with a
        registration delay long enough that tests of storage and election never meet Mesos."""
        self.dir = os.fspath(workdir)
        self.zk = zk_endpoints
        self.size = size
        self.quorum = quorum or size // 2 + 1
        self.session_timeout = session_timeout
        self.extra_args = list(extra_args)
        if mesos_master is None:
            mesos_master = f"127.0.0.1:{free_port()}"
            self.extra_args.insert(0, "-max_registration_delay=1days")
        self.mesos_master = mesos_master
        tag = uuid.uuid4().hex[:8]
        self.serverset = f"/aurora/scheduler-{tag}"
        self.group = f"/aurora/replicated-log-{tag}"
        self.http_ports = [free_port() for _ in range(size)]
        self.log_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self._zk: KazooClient | None = None

    def path(self, i: int) -> str:
        return os.path.join(self.dir, f"replica{i}")

    def stderr_path(self, i: int) -> str:
        return os.path.join(self.dir, f"scheduler{i}.stderr")

    def stderr(self, i: int) -> str:
        with open(self.stderr_path(i), errors="replace") as f:
            return f.read()

    def initialize(self, i: int) -> None:
        subprocess.run([LOG_BIN, "initialize", f"--path={self.path(i)}"], check=True, capture_output=True)

    def args(self, i: int) -> list[str]:
        return [BIN, "-cluster_name=test", f"-zk_endpoints={self.zk}", f"-serverset_path={self.serverset}",
                f"-mesos_master_address={self.mesos_master}", f"-native_log_file_path={self.path(i)}",
                f"-native_log_zk_group_path={self.group}", f"-native_log_quorum_size={self.quorum}",
                f"-backup_dir={os.path.join(self.dir, f'backups{i}')}", "-ip=127.0.0.1", "-hostname=127.0.0.1",
                f"-http_port={self.http_ports[i]}", f"-native_log_port={self.log_ports[i]}",
                f"-zk_session_timeout={self.session_timeout}", *self.extra_args]

    def launch(self, i: int) -> subprocess.Popen:
        with open(self.stderr_path(i), "ab") as err:
            self.procs[i] = subprocess.Popen(self.args(i), stdout=subprocess.DEVNULL, stderr=err,
                                             stdin=subprocess.DEVNULL)
        return self.procs[i]

    def start(self, initialize: bool = True) -> None:
        for i in range(self.size):
            if initialize:
                self.initialize(i)
            self.launch(i)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.http_ports[i]}/api"

    def client(self, i: int, protocol: str = "binary", timeout: float = 10.0):
        return api_client.connect(self.url(i), protocol, timeout=timeout)

    def leaderhealth(self, i: int) -> int | None:
        try:
            return http_get(self.http_ports[i], "/leaderhealth")[0]
        except OSError:
            return None

    def leaders(self) -> list[int]:
        return [i for i in range(self.size) if self.alive(i) and self.leaderhealth(i) == 200]

    def ready(self, i: int) -> bool:
        """/api on i answers a read with OK (storage READY)."""
        try:
            return self.client(i, timeout=2).getJobs("nobody").responseCode == ResponseCode.OK
        except Exception:  # noqa: BLE001 - not serving yet
            return False

    def advertised(self) -> list[int]:
        """Indexes of the schedulers with a ``member_`` node under the serverset path."""
        if self._zk is None:
            self._zk = KazooClient(hosts=self.zk)
            self._zk.start(timeout=10)
        try:
            children = self._zk.get_children(self.serverset)
        except NoNodeError:
            return []
        ports = [json.loads(self._zk.get(f"{self.serverset}/{n}")[0])["serviceEndpoint"]["port"]
                 for n in children if n.startswith("member_")]
        return [self.http_ports.index(p) for p in ports]

    def wait_leader(self, timeout: float = 30.0, exclude: tuple = ()) -> int:
        """The index of the leader, once it serves /api (storage READY) and is advertised in ZooKeeper."""
        def ready_leader():
            for i in self.leaders():
                if i not in exclude and self.ready(i) and i in self.advertised():
                    return i + 1  # truthy
            return None
        return wait_for(ready_leader, timeout, interval=0.02, what="a READY leader") - 1

    def alive(self, i: int) -> bool:
        p = self.procs[i]
        return p is not None and p.poll() is None

    def kill(self, i: int) -> None:
        self.procs[i].kill()
        self.procs[i].wait()

    def stop(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGSTOP)

    def cont(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGCONT)

    def wait_exit(self, i: int, timeout: float = 30.0) -> int:
        wait_for(lambda: self.procs[i].poll() is not None, timeout, what=f"scheduler {i} to exit")
        return self.procs[i].returncode

    def vars(self, i: int) -> dict:
        """Scheduler i's /vars.json."""
        return json.loads(http_get(self.http_ports[i], "/vars.json")[1])

    def tasks(self, i: int, role: str) -> list:
        reply = self.client(i).getTasksWithoutConfigs(TaskQuery(role=role))
        assert reply.responseCode == ResponseCode.OK, reply
        return reply.result.scheduleStatusResult.tasks

    def close(self) -> None:
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
