"""`aurora task run|ssh|scp` and `aurora sla get-task-up-count|get-job-uptime`, end to end: the real `aurora`
executable against a real scheduler on the Mesos-API stand-in (two agents, real Thermos executors), the system
`ssh`/`scp` talking to a real OpenSSH server (`/usr/sbin/sshd`, Debian's openssh-server) that this module runs
on a loopback port with keys of its own. The agents' host names (localhost, 127.0.0.1) reach it through the ssh
config handed over with `--ssh-options=-F ...`, as an operator's ssh config would set keys and ports."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest

from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus

from tests.helpers import free_port, wait_for
from tests.integration.schedmesos import MesosCluster
from tests.integration.test_client import AURORA, Aurora

S = ScheduleStatus
SSHD = "/usr/sbin/sshd"
WEB = """
task = Task(processes=[Process(name='web', cmdline='echo {{mesos.instance}} > marker && '
                                               'exec python3 -m http.server {{thermos.ports[http]}} --bind 127.0.0.1')],
            resources=Resources(cpu=0.1, ram=32*MB, disk=8*MB))
jobs = [Service(cluster='test', role='root', environment='prod', name='web', task=task, instances=2)]
"""
SLEEPER = """
task = Task(processes=[Process(name='main', cmdline='sleep 600')], resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Service(cluster='test', role='root', environment='prod', name='{name}', task=task, instances=1)]
"""


class Sshd:
    """A real sshd on 127.0.0.1:<free port> with its own host key, one authorized client key, and an ssh config
    (`self.config`) that sends every host name there with that key."""

    def __init__(self, directory: str):
        self.dir = directory
        self.port = free_port()
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.path(name)], check=True)
        os.replace(self.path("client_key.pub"), self.path("authorized_keys"))
        self.sshd_config = self.write("sshd_config", f"""\
            ListenAddress 127.0.0.1
            Port {self.port}
            HostKey {self.path('host_key')}
            AuthorizedKeysFile {self.path('authorized_keys')}
            PidFile none
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            AllowTcpForwarding yes
            Subsystem sftp internal-sftp
            LogLevel ERROR
            """)
        self.config = self.write("ssh_config", f"""\
            Host *
              HostName 127.0.0.1
              Port {self.port}
              IdentityFile {self.path('client_key')}
              IdentitiesOnly yes
              BatchMode yes
              StrictHostKeyChecking no
              UserKnownHostsFile /dev/null
              LogLevel ERROR
            """)
        self.process = None

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def write(self, name: str, text: str) -> str:
        with open(self.path(name), "w") as f:
            f.write("\n".join(line.strip() for line in text.splitlines()) + "\n")
        return self.path(name)

    def start(self) -> None:
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)     # sshd's privilege separation directory
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", self.sshd_config],
                                        stdout=subprocess.DEVNULL, stderr=open(self.path("sshd.log"), "w"))
        wait_for(self._greets, timeout=20, interval=0.05, what="sshd to greet")

    def _greets(self) -> bool:
        assert self.process.poll() is None, open(self.path("sshd.log")).read()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} is missing: `make setup` installs Debian's openssh-server")
    server = Sshd(str(tmp_path_factory.mktemp("sshd")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    # Agent host names that resolve (the -L tunnels name the task's host as seen from its sshd).
    agents = [{"hostname": "localhost"}, {"hostname": "127.0.0.1"}]
    with MesosCluster(tmp_path_factory.mktemp("cluster"), zookeeper.endpoints, size=1, agents=agents) as c:
        c.sched.wait_leader()
        yield c


@pytest.fixture(scope="module")
def aurora(cluster, zookeeper, tmp_path_factory):
    # Two agents on one machine: agent1's work dir is <mesos>/agent1, agent2's <mesos>/agent2; a glob covers both
    # (the remote shell expands it, as it expands the agent and framework IDs of Aurora's sandbox path).
    return Aurora(tmp_path_factory.mktemp("client"), [{
        "name": "test", "zk": zookeeper.endpoints, "scheduler_zk_path": cluster.sched.serverset,
        "slave_root": os.path.join(cluster.mesos.work_dir, "agent*"), "slave_run_directory": "latest"}])


@pytest.fixture(scope="module")
def web(cluster, aurora):
    """The `web` job, both instances RUNNING with their marker files written: {instance: ScheduledTask}."""
    r = aurora("job", "create", "--wait-until=RUNNING", "test/root/prod/web", aurora.config("web", text=WEB))
    assert r.returncode == 0, r.stderr
    tasks = {t.assignedTask.instanceId: t for t in cluster.tasks("root/prod/web", {S.RUNNING})}
    assert sorted(tasks) == [0, 1]
    for instance, task in tasks.items():
        directory = sandbox(cluster, task)
        wait_for(lambda d=directory, i=instance: read(d, "marker") == f"{i}\n", timeout=30, what="marker")
    yield tasks
    aurora("job", "killall", "test/root/prod/web")


def sandbox(cluster, task) -> str:
    return os.path.join(cluster.mesos.executor_directory("thermos-" + task.assignedTask.taskId), "sandbox")


def read(directory: str, name: str) -> str | None:
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_task_run(cluster, sshd, aurora, web, tmp_path):
    ssh = f"--ssh-options=-F {sshd.config}"
    r = aurora("task", "run", ssh, "--threads=2", "test/root/prod/web",
               "cat marker; echo {{thermos.task_id}} {{mesos.instance}} {{thermos.ports[http]}}; pwd -P")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 6
    for instance, task in web.items():
        a = task.assignedTask
        prefix = f"{a.slaveHost}:  "
        expected = [f"{instance}", f"{a.taskId} {instance} {a.assignedPorts['http']}",
                    os.path.realpath(sandbox(cluster, task))]
        assert [prefix + line for line in expected] in (lines[:3], lines[3:]), lines

    r = aurora("task", "run", ssh, "--executor-sandbox", "test/root/prod/web/1", "ls")     # one instance, run dir
    assert r.returncode == 0, r.stderr
    host = web[1].assignedTask.slaveHost
    assert f"{host}:  sandbox" in r.stdout.splitlines() and "marker" not in r.stdout

    # --ssh-user replaces the role: no such user, no login; as Aurora's (ssh -q), an empty line per task and 0.
    r = aurora("task", "run", ssh, "-l", "no-such-user", "test/root/prod/web", "cat marker")
    assert (r.returncode, r.stdout) == (0, "\n\n")
    r = aurora("task", "run", ssh, "test/root/prod/nothing", "true")                     # no live task: nothing
    assert (r.returncode, r.stdout) == (0, "")

    r = aurora("task", "run", "test/root/prod/web/0-x", "true")
    assert r.returncode == 2 and "Invalid instance list '0-x': expected ids and ranges like 0-2,5" in r.stderr
    r = aurora("task", "run", "nope/root/prod/web", "true")
    assert (r.returncode, r.stderr.strip()) == (3, "Error executing command: Unknown cluster nope, valid clusters: "
                                                   "test")
    r = aurora("task", "run", "test/root/prod", "true")
    assert r.returncode == 2 and "Instance specifier must be a CLUSTER/ROLE/ENV/JOB/INSTANCES tuple" in r.stderr
    assert "Traceback" not in r.stderr
    bare = Aurora(tmp_path, [{"name": "bare", "scheduler_uri": "http://127.0.0.1:1"}])   # no sandbox location
    r = bare("task", "run", "bare/root/prod/web", "true")
    assert (r.returncode, r.stderr.strip()) == (3, "Error executing command: Cluster bare needs slave_root and "
                                                   "slave_run_directory in clusters.json to find task sandboxes")


def test_task_ssh(cluster, sshd, aurora, web):
    ssh = f"--ssh-options=-F {sshd.config}"
    r = aurora("task", "ssh", ssh, "test/root/prod/web/1", "-c", "cat marker; echo {{thermos.task_id}}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", web[1].assignedTask.taskId]
    assert aurora("task", "ssh", ssh, "test/root/prod/web/0", "-c", "exit 3").returncode == 3   # ssh's own status

    # A tunnel from a local port to the task's named port, held open until the test lets the command end.
    local = free_port()
    done = os.path.join(sandbox(cluster, web[0]), "tunnel-done")
    session = subprocess.Popen([AURORA, "task", "ssh", ssh,
                                "-L", f"{local}:http", "test/root/prod/web/0",
                                "-c", "while [ ! -e tunnel-done ]; do sleep 0.1; done"],
                               env=aurora.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = wait_for(lambda: _get(f"http://127.0.0.1:{local}/marker"), timeout=30, what="the tunnel")
        assert body == "0\n"
    finally:
        open(done, "w").close()
        out, err = session.communicate(timeout=30)
    assert session.returncode == 0, err

    r = aurora("task", "ssh", ssh, "-L", "abc", "test/root/prod/web/0", "-c", "true")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Could not parse tunnel: abc.  Must be "
                                                   "of form PORT:NAME")
    r = aurora("task", "ssh", ssh, "-L", "9999:nope", "test/root/prod/web/0", "-c", "true")
    assert (r.returncode, r.stderr.strip()) == (6, f"Error executing command: Task {web[0].assignedTask.taskId} "
                                                   f"has no port named nope")
    r = aurora("task", "ssh", ssh, "test/root/prod/web", "-c", "true")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: INSTANCE must be specified when "
                                                   "--command option is given")
    r = aurora("task", "ssh", ssh, "test/root/prod/nothing/0", "-c", "true")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Job test/root/prod/nothing not found")
    r = aurora("task", "ssh", "test/root/prod/w@b/0")
    assert r.returncode == 2 and "Invalid name 'w@b'" in r.stderr and "Traceback" not in r.stderr


def test_task_scp(cluster, sshd, aurora, web, tmp_path):
    scp = f"--scp-options=-F {sshd.config}"
    local = tmp_path / "upload.txt"
    local.write_text("to the sandbox\n")
    r = aurora("task", "scp", scp, str(local), "test/root/prod/web/0:")               # into the sandbox
    assert r.returncode == 0, r.stderr
    assert read(sandbox(cluster, web[0]), "upload.txt") == "to the sandbox\n"
    assert read(sandbox(cluster, web[1]), "upload.txt") is None

    r = aurora("task", "scp", scp, "test/root/prod/web/1:marker", str(tmp_path / "got"))   # from it
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got").read_text() == "1\n"

    r = aurora("task", "scp", scp, "test/root/prod/web/1:no-such-file", str(tmp_path / "none"))
    assert r.returncode == 1 and "no-such-file" in r.stderr                            # scp's own failure
    r = aurora("task", "scp", scp, str(local), "test/root/prod/web/0:~/x")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Command does not support tilde "
                                                   "expansion for path: ~/x")
    r = aurora("task", "scp", scp, str(local), "test/root/prod/web/7:")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Job or instance test/root/prod/web/7 "
                                                   "not found")
    r = aurora("task", "scp", scp, str(local), "test/root/web/0:x")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Task instance specifier test/root/web/0 "
                                                   "is not in the form CLUSTER/ROLE/ENV/NAME/INSTANCE")


def test_sla(cluster, aurora):
    r = aurora("job", "create", "--wait-until=RUNNING", "test/root/prod/sla",
               aurora.config("sla", text=SLEEPER.format(name="sla")))
    assert r.returncode == 0, r.stderr
    (first,) = cluster.tasks("root/prod/sla")
    started = starting_time(first)
    wait_for(lambda: time.time() - started >= 3, timeout=30, what="instance 0 to be up 3 s")   # the measured time
    r = aurora("job", "add", "--wait-until=RUNNING", "test/root/prod/sla/0", "1")
    assert r.returncode == 0, r.stderr

    before = uptimes(cluster, "root/prod/sla", time.time())
    r = aurora("sla", "get-task-up-count", "--durations=3s,1h,1m30s", "test/root/prod/sla")
    after = uptimes(cluster, "root/prod/sla", time.time())
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t- ") for line in r.stdout.splitlines()]
    assert [label for label, _ in lines] == ["3 secs", "90 secs", "1 hrs"]             # sorted, Aurora's units
    for (_, value), duration in zip(lines, (3, 90, 3600), strict=True):
        assert value.endswith(" %")
        assert up_count(before, duration) <= float(value[:-2]) <= up_count(after, duration), (value, before, after)
    assert lines[0][1] in ("50.00 %", "100.00 %") and lines[2][1] == "0.00 %"

    before = uptimes(cluster, "root/prod/sla", time.time())
    r = aurora("sla", "get-job-uptime", "--percentiles=50,99,10", "test/root/prod/sla")
    after = uptimes(cluster, "root/prod/sla", time.time())
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t- ") for line in r.stdout.splitlines()]
    assert [label for label, _ in lines] == ["99.0 percentile", "50.0 percentile", "10.0 percentile"]
    for (_, value), percentile in zip(lines, (99, 50, 10), strict=True):
        seconds = int(value.removesuffix(" seconds"))
        assert job_uptime(before, percentile) <= seconds <= job_uptime(after, percentile), (value, before, after)
    # Of two instances, 50% and more are up at least as long as the newer one, 10% as long as the older one.
    assert int(lines[2][1].split()[0]) >= 3 and lines[0][1] == lines[1][1]

    r = aurora("sla", "get-task-up-count", "test/root/prod/sla")                         # Aurora's defaults
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["1 mins", "10 mins", "1 hrs", "12 hrs",
                                                                       "7 days"]
    r = aurora("sla", "get-job-uptime", "test/root/prod/sla")
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == [
        f"{p} percentile" for p in (99.0, 95.0, 90.0, 85.0, 75.0, 60.0, 50.0, 30.0, 10.0)]
    assert aurora("job", "killall", "test/root/prod/sla").returncode == 0

    # No started task: zeros, as Aurora's client prints them.
    r = aurora("sla", "get-task-up-count", "--durations=1m", "test/root/prod/sla")
    assert (r.returncode, r.stdout) == (0, "1 mins\t- 0.00 %\n")
    r = aurora("sla", "get-job-uptime", "--percentiles=50", "test/root/prod/sla")
    assert (r.returncode, r.stdout) == (0, "50.0 percentile\t- 0 seconds\n")

    r = aurora("sla", "get-job-uptime", "--percentiles=50,100", "test/root/prod/sla")
    assert r.returncode == 2 and "Invalid percentile value:100. Must be between 0.0 and 100.0 exclusive." in r.stderr
    r = aurora("sla", "get-task-up-count", "--durations=1m,5x", "test/root/prod/sla")
    assert r.returncode == 2 and "argument --durations: Invalid time span: 5x" in r.stderr
    r = aurora("sla", "get-task-up-count", "nope/root/prod/sla")
    assert (r.returncode, r.stderr.strip()) == (3, "Error executing command: Unknown cluster nope, valid clusters: "
                                                   "test")
    r = aurora("sla", "get-job-uptime", "test/root/sla")
    assert r.returncode == 2 and "Invalid path 'test/root/sla'" in r.stderr and "Traceback" not in r.stderr


def starting_time(task) -> float:
    return next(e.timestamp for e in task.taskEvents if e.status == S.STARTING) / 1000


def uptimes(cluster, job: str, now: float) -> list[int]:
    """Aurora's instance uptimes: whole seconds since each active task's STARTING event."""
    active = [t for t in cluster.tasks(job) if t.status in (S.STARTING, S.RUNNING)]
    return sorted(int(now - int(starting_time(t))) for t in active)


def up_count(times: list[int], duration: int) -> float:
    return round(100.0 * sum(1 for t in times if t >= duration) / len(times), 2)


def job_uptime(times: list[int], percentile: float) -> int:
    index = len(times) - int(percentile / 100.0 * len(times)) - 1
    return times[index] if 0 <= index < len(times) else 0


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.read().decode()
    except OSError:
        return None

