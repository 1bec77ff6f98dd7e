"""LocalCluster: start a whole cluster in order, wait until it can take a job, supervise it, stop it.

    cluster = LocalCluster(Layout(state_dir), schedulers=3, agents=3, say=print)
    cluster.lock()          # StartError if a cluster already runs in that state directory
    cluster.start()         # StartError (one line) after stopping whatever had started
    cluster.supervise(lambda: stop_requested)   # returns when asked to stop, or raises Failed
    cluster.stop()          # children in order, then the sweep: nothing the cluster started is left

Start order: ZooKeeper, the Mesos-API stand-in and the observer together (and `aurora-log initialize` for each
replica that does not exist yet), then, once ZooKeeper answers `ruok`, the schedulers; ready once one scheduler's
/leaderhealth is 200 and its /vars.json says `framework_registered 1`. While it runs, a scheduler or the observer
that exits is started again after a back-off (schedulers exit by design when they stop being a safe leader, and
are meant to run under systemd's Restart=always); ZooKeeper or the stand-in exiting ends the cluster.

Every wait polls a condition until a deadline, and gives up at once when `should_stop()` says so (Ctrl-C while
starting). The supervising loop sleeps in select() on a signal wake-up fd: an idle cluster costs it nothing.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from scheduler.local_cluster import plan
from scheduler.local_cluster.children import MARKER, Child, sweep
from scheduler.local_cluster.plan import HOST, Layout, Ports

BIN = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
ZK_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_JAVA_OPTS = ["-Xmx128m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
                "-XX:-UsePerfData", "-Dzookeeper.admin.enableServer=false"]
# What a one-machine cluster changes from Aurora's defaults (docs/local-cluster.md): a session timeout that makes a
# failover take seconds, executors that do not switch users, a new leader that looks at PENDING tasks at once,
# and tasks of a previous run of the cluster (whose stand-in is gone) reconciled soon after it starts again.
SCHEDULER_FLAGS = ("-zk_session_timeout=4secs", "-thermos_executor_flags=--nosetuid",
                   "-max_reschedule_task_delay_on_startup=2secs", "-reconciliation_initial_delay=10secs")
START_TIMEOUT = 90.0
RESTART_BACKOFF = (1.0, 30.0)


class StartError(Exception):
    """The cluster could not start: one line for people (whatever had started is stopped)."""


class Failed(Exception):
    """A part the cluster cannot do without (ZooKeeper, the stand-in) exited: one line."""


class Interrupted(Exception):
    """Asked to stop while starting."""


def command(name: str) -> str:
    """An installed command: beside this one (the venv's bin), else on PATH."""
    beside = os.path.join(BIN, name)
    if BIN and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise StartError(f"`{name}` is not installed (run `make setup`)")
    return found


def four_letter(port: int, word: str = "ruok") -> str:
    try:
        with socket.create_connection((HOST, port), timeout=1) as s:
            s.sendall(word.encode())
            return s.recv(64).decode(errors="replace")
    except OSError:
        return ""


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, bytes]:
    """(status, body); status None when nothing answers. Redirects are not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except (OSError, ValueError):
        return None, b""


def read_state(layout: Layout) -> dict | None:
    try:
        with open(layout.state) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def lock_holder(layout: Layout) -> int | None:
    """The pid of the `up` holding the state directory's lock, or None when no cluster runs there."""
    try:
        fd = os.open(layout.lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class LocalCluster:
    def __init__(self, layout: Layout, *, schedulers: int = 3, agents: int = 3, port_base: int = 0,
                 scheduler_flags: tuple = (), say: Callable[[str], None] = print,
                 should_stop: Callable[[], bool] = lambda: False):
        self.layout = layout
        self.size = schedulers
        self.quorum = schedulers // 2 + 1
        self.agent_count = agents
        self.port_base = port_base
        self.scheduler_flags = tuple(scheduler_flags)
        self.say = say
        self.should_stop = should_stop
        self.ports: Ports | None = None
        self.zookeeper: Child | None = None
        self.mesos: Child | None = None
        self.observer: Child | None = None
        self.schedulers: list[Child] = []
        self.leader: int | None = None
        self._lock_fd: int | None = None
        self._t0 = time.monotonic()
        self._restart_at: dict[str, float] = {}
        self.env = dict(os.environ, **{MARKER: layout.root})

    # -- the state directory's lock -------------------------------------------------------------------------------
    def lock(self) -> None:
        os.makedirs(self.layout.root, exist_ok=True)
        fd = os.open(self.layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise StartError(f"a cluster is already running in {self.layout.root} (pid {text or '?'}); "
                             f"`aurora-cluster-local down --state-dir {self.layout.root}` stops it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.layout.state)
            os.close(self._lock_fd)   # releases the flock
            self._lock_fd = None

    # -- starting --------------------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def step(self, what: str, detail: str) -> None:
        self.say(f"  {what:<12} {detail}  ({self.elapsed():.1f}s)")

    def plan(self) -> Ports:
        if not (os.access("/usr/bin/java", os.X_OK) or shutil.which("java")) or not os.path.exists(ZK_JAR):
            raise StartError("ZooKeeper is not installed: `apt-get install zookeeper` (or `make setup`)")
        if self.port_base:
            ports = plan.fixed_ports(self.port_base, self.size, self.agent_count)
        else:
            ports = plan.free_ports(self.size)
        plan.check_free(ports)
        self.ports = ports
        return ports

    def start(self) -> None:
        """Start everything and wait for a registered leader; on any failure stop what started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop(quiet=True)
            raise

    def _start(self) -> None:
        ports = self.ports or self.plan()
        self.say(f"aurora-cluster-local: starting cluster `{plan.CLUSTER_NAME}` in {self.layout.root}")
        self._write_state(ready=False)
        self.zookeeper = self._zookeeper_child(ports.zookeeper).start()
        self.mesos = self._mesos_child().start()
        self.observer = self._observer_child().start()
        initializing = self._initialize_replicas()
        self.schedulers = [self._scheduler_child(i) for i in range(self.size)]

        self._wait(lambda: four_letter(ports.zookeeper) == "imok", "ZooKeeper to answer `ruok`")
        self.step("zookeeper", f"{HOST}:{ports.zookeeper}")
        for name, proc in initializing:
            self._wait(lambda p=proc: p.poll() is not None, f"`aurora-log initialize` of {name}")
            if proc.returncode != 0:
                raise StartError(f"aurora-log initialize for {name} failed: "
                                 f"{proc.stderr.read().decode(errors='replace').strip()}")
            proc.stderr.close()
        for child in self.schedulers:
            child.start()
        self.step("schedulers", f"{self.size} started, log quorum {self.quorum}"
                  + (f", {len(initializing)} replicas initialized" if initializing else ", replicas kept"))
        self._wait(self._mesos_ready, "the Mesos-API stand-in to listen")
        self.step("mesos", f"stand-in master {HOST}:{ports.master}, {self.agent_count} agents")
        self._wait(lambda: http_get(f"http://{HOST}:{ports.observer}/health")[0] == 200, "the observer")
        self.step("observer", f"http://{HOST}:{ports.observer}/")
        self.leader = self._wait(self.registered_leader, "a leading scheduler registered with Mesos")
        self.step("leader", f"scheduler {self.leader + 1}, registered with Mesos")
        self._write_clusters_json()
        self._write_state(ready=True)

    def _wait(self, condition: Callable, what: str, timeout: float = START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.should_stop():
                raise Interrupted()
            for child in self.children():
                if child.proc is not None and not child.alive:
                    raise StartError(f"{child.name} exited while starting ({child.exit_text()}): "
                                     f"{child.tail() or 'no output'} (log: {child.log_path})")
            value = condition()
            if value is not None and value is not False:
                return value
            if time.monotonic() > deadline:
                raise StartError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.05)  # the polling interval of a condition wait with a deadline

    def children(self) -> list[Child]:
        return [c for c in (self.zookeeper, self.mesos, self.observer, *self.schedulers) if c is not None]

    # -- the children ------------------------------------------------------------------------------------------------
    def _zookeeper_child(self, port: int) -> Child:
        directory = self.layout.zookeeper
        os.makedirs(os.path.join(directory, "data"), exist_ok=True)
        config = os.path.join(directory, "zoo.cfg")
        with open(config, "w") as f:
            f.write("\n".join([
                "tickTime=2000", f"dataDir={os.path.join(directory, 'data')}", f"clientPort={port}",
                f"clientPortAddress={HOST}", "admin.enableServer=false", "4lw.commands.whitelist=ruok,srvr,mntr",
                "maxSessionTimeout=60000", "autopurge.snapRetainCount=3", "autopurge.purgeInterval=1"]) + "\n")
        args = [shutil.which("java") or "/usr/bin/java", *ZK_JAVA_OPTS, "-cp", ZK_CLASSPATH,
                "org.apache.zookeeper.server.ZooKeeperServerMain", config]
        return Child("ZooKeeper", args, os.path.join(directory, "zookeeper.log"),
                     env=dict(self.env, ZOO_LOG_DIR=directory), cwd=directory)

    def _mesos_child(self) -> Child:
        agent_port = self.ports.agents[0] if self.ports.agents else 0
        args = [command("aurora-mesos-local"), f"--work_dir={self.layout.mesos}", f"--agents={self.agent_count}",
                f"--ip={HOST}", f"--master_port={self.ports.master}", f"--agent_port={agent_port}"]
        return Child("the Mesos-API stand-in", args, self.layout.path("mesos.log"), env=self.env,
                     cwd=self.layout.root)

    def _observer_child(self) -> Child:
        args = [command("thermos_observer"), f"--ip={HOST}", f"--port={self.ports.observer}"]
        for j in range(self.agent_count):
            os.makedirs(self.layout.agent_dir(j), exist_ok=True)
            args.append(f"--mesos-root={self.layout.agent_dir(j)}")
        return Child("the observer", args, self.layout.path("observer.log"), env=self.env, cwd=self.layout.root)

    def scheduler_args(self, i: int) -> list[str]:
        p = self.ports
        return [command("aurora-scheduler"), f"-cluster_name={plan.CLUSTER_NAME}",
                f"-zk_endpoints={HOST}:{p.zookeeper}", f"-serverset_path={plan.SERVERSET_PATH}",
                f"-mesos_master_address={HOST}:{p.master}",
                f"-native_log_file_path={self.layout.scheduler(i, 'db')}",
                f"-native_log_zk_group_path={plan.LOG_GROUP_PATH}", f"-native_log_quorum_size={self.quorum}",
                f"-native_log_port={p.scheduler_log[i]}", f"-http_port={p.scheduler_http[i]}",
                f"-ip={HOST}", f"-hostname={HOST}", f"-backup_dir={self.layout.scheduler(i, 'backups')}",
                *SCHEDULER_FLAGS, *self.scheduler_flags]

    def _scheduler_child(self, i: int) -> Child:
        return Child(f"scheduler {i + 1}", self.scheduler_args(i), self.layout.scheduler(i, "scheduler.log"),
                     env=self.env, cwd=self.layout.scheduler(i))

    def _initialize_replicas(self) -> list[tuple[str, subprocess.Popen]]:
        """`aurora-log initialize` (Aurora's `mesos-log initialize`) for each replica not made yet, in parallel."""
        started = []
        for i in range(self.size):
            os.makedirs(self.layout.scheduler(i), exist_ok=True)
            db = self.layout.scheduler(i, "db")
            if os.path.exists(db):
                continue
            started.append((f"scheduler {i + 1}", subprocess.Popen(
                [command("aurora-log"), "initialize", f"--path={db}"], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)))
        return started

    def _mesos_ready(self) -> bool:
        try:
            with open(self.mesos.log_path, errors="replace") as f:
                return any(line.startswith("master=") for line in f)
        except OSError:
            return False

    # -- what it reads -------------------------------------------------------------------------------------------
    def scheduler_url(self, i: int) -> str:
        return f"http://{HOST}:{self.ports.scheduler_http[i]}"

    def registered_leader(self) -> int | None:
        """The index of the scheduler that leads (/leaderhealth 200) and is registered with Mesos."""
        for i, child in enumerate(self.schedulers):
            if not child.alive or http_get(self.scheduler_url(i) + "/leaderhealth", 1.0)[0] != 200:
                continue
            status, body = http_get(self.scheduler_url(i) + "/vars.json", 1.0)
            try:
                if status == 200 and json.loads(body).get("framework_registered") == 1:
                    return i
            except ValueError:
                pass
        return None

    def urls(self) -> dict:
        p = self.ports
        return {"zookeeper": f"{HOST}:{p.zookeeper}", "master": f"http://{HOST}:{p.master}",
                "observer": f"http://{HOST}:{p.observer}",
                "schedulers": [self.scheduler_url(i) for i in range(self.size)]}

    def _write_state(self, ready: bool) -> None:
        state = {"pid": os.getpid(), "state_dir": self.layout.root, "ready": ready, "cluster": plan.CLUSTER_NAME,
                 "clusters_json": self.layout.clusters_json, **self.urls(),
                 "children": {c.name: c.pid for c in self.children() if c.pid}}
        tmp = self.layout.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.layout.state)

    def _write_clusters_json(self) -> None:
        inherited, note = [], None
        try:
            with open("/etc/aurora/clusters.json") as f:
                document = json.load(f)
            inherited = document if isinstance(document, list) else list(document.values())
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as e:
            note = f"/etc/aurora/clusters.json not copied: {e}"
        tmp = self.layout.clusters_json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(plan.clusters_document(self.ports.zookeeper, inherited), f, indent=2)
            f.write("\n")
        os.replace(tmp, self.layout.clusters_json)
        if note:
            self.say(f"  ({note})")

    # -- running -----------------------------------------------------------------------------------------------------
    def supervise(self, should_stop: Callable[[], bool], wakeup_fd: int) -> None:
        """Until `should_stop()`: sleep in select() on `wakeup_fd` (signal.set_wakeup_fd's, SIGCHLD included);
        restart a scheduler or the observer that exited, raise Failed if ZooKeeper or the stand-in did."""
        while not should_stop():
            now = time.monotonic()
            for child in (self.zookeeper, self.mesos):
                if not child.alive:
                    raise Failed(f"{child.name} exited ({child.exit_text()}): {child.tail() or 'no output'} "
                                 f"(log: {child.log_path})")
            for child in (self.observer, *self.schedulers):
                if child.alive:
                    continue
                due = self._restart_at.get(child.name)
                if due is None:
                    lived = now - child.started_at
                    backoff = RESTART_BACKOFF[0] if lived > 60 else min(
                        RESTART_BACKOFF[1], RESTART_BACKOFF[0] * 2 ** min(child.restarts, 5))
                    child.restarts = 0 if lived > 60 else child.restarts + 1
                    self._restart_at[child.name] = now + backoff
                    self.say(f"aurora-cluster-local: {child.name} exited ({child.exit_text()}); starting it again "
                             f"in {backoff:.0f}s, as systemd's Restart=always would")
                elif now >= due:
                    del self._restart_at[child.name]
                    child.start()
                    self._write_state(ready=True)
                    self.say(f"aurora-cluster-local: {child.name} started again (pid {child.pid})")
            timeout = max(0.0, min(self._restart_at.values()) - time.monotonic()) if self._restart_at else None
            with contextlib.suppress(InterruptedError):
                readable, _, _ = select.select([wakeup_fd], [], [], timeout)
                if readable:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wakeup_fd, 4096)

    # -- stopping ----------------------------------------------------------------------------------------------------
    def stop(self, quiet: bool = False) -> int:
        """Stop every child (schedulers and observer, then the stand-in, which kills its executors, then
        ZooKeeper), reap them, sweep what is left; how many leftovers the sweep killed."""
        with contextlib.suppress(OSError):
            if self._lock_fd is not None and os.path.exists(self.layout.state):
                self._write_state(ready=False)
        first = [c for c in (*self.schedulers, self.observer) if c is not None]
        for child in first:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in first:
            child.wait(max(0.1, deadline - time.monotonic()))
            child.stop(timeout=0)
        for child in (self.mesos, self.zookeeper):
            if child is not None:
                child.stop(timeout=15)
        left = sweep(self.layout.root)
        if not quiet:
            self.say(f"aurora-cluster-local: stopped ({len(self.children())} processes"
                     + (f", {left} leftovers killed" if left else "") + ")")
        return left
