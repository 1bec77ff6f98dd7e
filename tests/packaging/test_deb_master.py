"""The master packages (aurora-scheduler, aurora-tools) and aurora-executor: a cluster of booted Debian bookworms.

Four machines, each booted with real systemd (`systemd-nspawn -b`, tests/packaging/nspawn.py), share one
network namespace with only loopback, where each has an address of its own (127.0.1.N, every machine's
/etc/hosts naming them all, as DNS on a LAN would):

* master1..master3: `aurora-scheduler` and `aurora-tools`; Debian's zookeeperd (a Recommends) on each,
  configured as one three-member ZooKeeper ensemble; the schedulers with QUORUM_SIZE=2;
* agent: `aurora-executor`, the observer's unit, and the Mesos-API stand-in `aurora-mesos-local` (from
  `aurora-scheduler`, installed without Recommends, its scheduler unit disabled: this is not a master), started
  as a transient unit as a Mesos agent runs, as root, launching the packaged thermos_executor; the clients.

Steps, as docs/packaging.md tells an operator: install with apt resolving the rest from Debian; a scheduler
started before the log is initialized says what to run in the journal and systemd restarts it calmly; the
ensemble; per master: stop, `/etc/default/aurora-scheduler` for three masters, `aurora-log initialize`, start;
one leader; `aurora job create example/www-data/devel/hello_world` with the packaged clusters.json pointed at
the ensemble; the task RUNNING on the agent, its sandbox in the observer; /leaderhealth, /scheduler answer; a
backup; the leader killed (SIGKILL), another master takes over with the same task still RUNNING; the new leader
upgraded in place (its edited conffile kept), the job intact; the first leader purged (log and backups kept),
the two left still lead and keep the job.

Slow (minutes) and needs root, systemd-nspawn and, once a day, the network: run by `make test-deb` only
(AURORA_TEST_DEB=1), never by `make test`.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import shlex
import time

import pytest

from tests.packaging import nspawn
from tests.packaging.debroot import UPGRADE_SUFFIX, Chroot, cached_root, package_version, until

LOG = "/var/lib/aurora/scheduler/db"
BACKUPS = "/var/lib/aurora/scheduler/backups"
JOB = "example/www-data/devel/hello_world"
MASTER_PACKAGES = ("aurora-scheduler", "aurora-tools")
PACKAGES = ("aurora-scheduler", "aurora-tools", "aurora-executor")
MASTERS = ("master1", "master2", "master3")
HOSTS = {"master1": "127.0.1.1", "master2": "127.0.1.2", "master3": "127.0.1.3", "agent": "127.0.1.4"}
ENSEMBLE = ",".join(f"{m}:2181" for m in MASTERS)
HTTP = 8081

pytestmark = [
    pytest.mark.skipif(os.environ.get("AURORA_TEST_DEB") != "1", reason="slow: run by `make test-deb`"),
    pytest.mark.skipif(bool(nspawn.available()), reason=str(nspawn.available())),
]

HELLO = """\
hello = Process(name='hello', cmdline='while true; do echo hello world; sleep 10; done')
jobs = [Service(cluster='example', role='www-data', environment='devel', name='hello_world',
                task=Task(processes=[hello], resources=Resources(cpu=0.1, ram=16*MB, disk=16*MB)))]
"""

# Debian's zookeeper, one member of a three-member ensemble per master (its documented edits: zoo.cfg, myid).
ZOO_CFG = """\
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPortAddress={ip}
clientPort=2181
admin.enableServer=false
""" + "".join(f"server.{i}={m}:2888:3888\n" for i, m in enumerate(MASTERS, 1))

# The edits of /etc/default/aurora-scheduler for three masters (docs/packaging.md).
DEFAULTS = {"QUORUM_SIZE": "2", "ZK_ENDPOINTS": f'"{ENSEMBLE}"', "LIBPROCESS_IP": "{ip}",
            "THERMOS_EXECUTOR_FLAGS": f'"--announcer-ensemble {ENSEMBLE}"'}


def _debs(version: str, d: str, packages=PACKAGES) -> str:
    return " ".join(f"/srv/debs/{d}/{p}_{version}_all.deb" for p in packages)


@pytest.fixture
def cluster(tmp_path, debs):
    version = package_version()
    # The machines' network has no way out: fetch what apt will want (kept in the shared archive cache).
    c = Chroot(cached_root(), str(tmp_path / "fetch"), {"/srv/debs": str(debs)})
    try:
        _apt(c, f"install -y -q --download-only {_debs(version, 'v1')}")
    finally:
        c.close()
    net = nspawn.NetNs()
    machines = {}

    def boot(name):
        machines[name] = nspawn.Machine(cached_root(), str(tmp_path / name), name, net, {"/srv/debs": str(debs)},
                                        hosts=HOSTS)

    try:
        with concurrent.futures.ThreadPoolExecutor(len(HOSTS)) as pool:
            for f in [pool.submit(boot, name) for name in HOSTS]:
                f.result()
        yield machines
    finally:
        for m in machines.values():
            m.close()
        net.close()


def _apt(m, args: str, timeout: float = 600) -> str:
    """`apt-get ARGS` in machine or chroot `m`, waiting its turn for the shared archive cache: apt takes that
    directory's lock (even with nothing to download) and fails at once if another apt, here or in another
    packaging test on this host, holds it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return m.run(f"apt-get {args}")
        except AssertionError as e:
            if "Could not get lock /var/cache/apt/archives/lock" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(1)


def _show(m, unit: str, prop: str) -> str:
    return m.run(f"systemctl show -P {prop} {unit}").strip()


def _journal(m, unit: str = "aurora-scheduler") -> str:
    return m.run(f"journalctl -q -o cat -u {unit} --no-pager | tail -n 30", check=False)


def _zk_mode(m, ip: str) -> str:
    """The `Mode:` ZooKeeper at ip:2181 reports (srvr: the one four-letter word 3.8 allows), or ''."""
    script = (f"import socket; s = socket.create_connection(({ip!r}, 2181), 2); s.sendall(b'srvr'); "
              "print(s.recv(400).decode())")
    out = m.run(f"python3 -c {shlex.quote(script)}", check=False)
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Mode:")), "")


def test_masters_agent_install_failover_upgrade_purge(cluster):
    t0 = time.monotonic()
    timings = []

    def mark(step):
        timings.append(f"{step}: {time.monotonic() - t0:.0f}s")
        print(timings[-1], flush=True)

    masters = {name: cluster[name] for name in MASTERS}
    m1, agent = cluster["master1"], cluster["agent"]
    version = package_version()

    # Masters: the two master packages; apt resolves the rest (zookeeperd too: a Recommends) from Debian. One
    # apt at a time: the machines share the archive cache and its lock.
    for m in masters.values():
        _apt(m, f"install -y -q {_debs(version, 'v1', MASTER_PACKAGES)}")
        for p in MASTER_PACKAGES + ("zookeeperd",):
            assert m.run(f"dpkg-query -W -f '${{Status}}' {p}") == "install ok installed", (m.name, p)
    # The agent: the executor (and the observer), the stand-in from aurora-scheduler without its Recommends (no
    # ZooKeeper here) and the clients. It is no master: its scheduler unit is turned off.
    _apt(agent, f"install -y -q --no-install-recommends {_debs(version, 'v1')}")
    for p in PACKAGES:
        assert agent.run(f"dpkg-query -W -f '${{Status}}' {p}") == "install ok installed", p
    assert "install ok installed" not in agent.run("dpkg-query -W -f '${Status}' zookeeperd", check=False)
    agent.run("systemctl disable --now aurora-scheduler")
    mark("installed")

    # What the packages made, on a master.
    passwd = m1.run("getent passwd aurora").strip().split(":")
    assert passwd[5] == "/var/lib/aurora" and m1.run("getent group aurora").strip(), passwd
    assert m1.run("stat -c %U:%G /var/lib/aurora").strip() == "aurora:aurora"
    m1.run("systemd-analyze verify --man=no /lib/systemd/system/aurora-scheduler.service")
    assert _show(m1, "aurora-scheduler", "UnitFileState") == "enabled"
    assert _show(m1, "aurora-scheduler", "User") == "aurora"
    for conffile in ("/etc/default/aurora-scheduler", "/etc/aurora/clusters.json"):
        assert conffile in m1.run("dpkg-query -W -f '${Conffiles}' aurora-scheduler aurora-tools"), conffile
    clusters = json.loads(m1.run("cat /etc/aurora/clusters.json"))
    assert clusters == [{"auth_mechanism": "UNAUTHENTICATED", "name": "example",
                         "scheduler_zk_path": "/aurora/scheduler", "slave_root": "/var/lib/mesos",
                         "slave_run_directory": "latest", "zk": "127.0.0.1"}], clusters
    for command, section in (("aurora-scheduler", 8), ("aurora-scheduler-startup", 8), ("aurora-log", 1),
                             ("aurora-scheduler-recovery", 1), ("aurora-mesos-local", 1), ("aurora", 1),
                             ("aurora-admin", 1)):
        m1.run(f"command -v {command} >/dev/null && test -s /usr/share/man/man{section}/{command}.{section}.gz")

    # Started before the log is initialized: the journal says what to run; systemd restarts it calmly.
    for m in masters.values():
        until(f"{m.name}'s scheduler journal to say what to run",
               lambda m=m: all(s in _journal(m) for s in (f"aurora-log initialize --path={LOG}",
                                                          "Replica in EMPTY status")),
               diagnose=lambda m=m: _journal(m))
    assert _show(m1, "aurora-scheduler", "Restart") == "always"
    assert _show(m1, "aurora-scheduler", "RestartUSec") == "20s"
    assert _show(m1, "aurora-scheduler", "ActiveState") in ("activating", "failed", "active")

    # ZooKeeper: Debian's service on each master, made one ensemble (zoo.cfg, myid), each member on its address.
    for i, (name, m) in enumerate(masters.items(), 1):
        m.run("cat > /etc/zookeeper/conf/zoo.cfg", input=ZOO_CFG.format(ip=HOSTS[name]))
        m.run(f"echo {i} > /etc/zookeeper/conf/myid && systemctl restart zookeeper")
    for name in MASTERS:
        until(f"ZooKeeper on {name} in the ensemble", lambda name=name: _zk_mode(agent, HOSTS[name])
               in ("leader", "follower"), timeout=120, diagnose=lambda name=name: _journal(masters[name], "zookeeper"))
    mark("ensemble")

    # The stand-in on the agent as a Mesos master + agent would run there (root), announced in the ensemble.
    agent.run("systemd-run --unit=mesos-local --property=Restart=on-failure /usr/bin/aurora-mesos-local "
              f"--ip {HOSTS['agent']} --work_dir /var/lib/mesos --master_port 5050 --agent_port 5051 "
              f"--zk zk://{ENSEMBLE}/mesos --resources 'cpus:2;mem:2048;disk:4096;ports:[31000-31999]'")
    until("the stand-in", lambda: agent.get(5050, "/state", host="agent")[0] == 200,
           diagnose=lambda: _journal(agent, "mesos-local"))
    assert agent.run("systemctl is-active thermos-observer", check=False).strip() == "active"

    # Each master, as docs/packaging.md says for three: stop, the defaults for a quorum of 2 in this ensemble,
    # the finalizing step, start.
    for name, m in masters.items():
        m.run("systemctl stop aurora-scheduler")
        for var, value in DEFAULTS.items():
            value = value.format(ip=HOSTS[name])
            m.run(f"sed -i -E 's|^#?{var}=.*|{var}={value}|' /etc/default/aurora-scheduler")
            assert f"\n{var}={value}\n" in m.run("cat /etc/default/aurora-scheduler"), (name, var)
        m.run(f"runuser -u aurora -- aurora-log initialize --path={LOG}")
        m.run("systemctl start aurora-scheduler")

    def leaderhealth(name) -> int:
        return agent.get(HTTP, "/leaderhealth", host=name)[0]

    def leader(among=MASTERS) -> str | None:
        """The one master whose /leaderhealth is 200 while the others answer 503 (another leads)."""
        codes = {name: leaderhealth(name) for name in among}
        leading = [n for n, c in codes.items() if c == 200]
        return leading[0] if len(leading) == 1 and all(c == 503 for n, c in codes.items() if n != leading[0]) \
            else None

    def journals(names=MASTERS) -> str:
        return "".join(f"--- {n}\n{_journal(masters[n])}" for n in names)

    first = until("one leader among three schedulers", leader, timeout=120, diagnose=journals)
    mark(f"leader {first}")

    # The clients on the agent: the packaged clusters.json, its `zk` pointed at the ensemble (the documented edit).
    zk = ",".join(MASTERS)
    agent.run(f"sed -i 's|\"zk\": \"127.0.0.1\"|\"zk\": \"{zk}\"|' /etc/aurora/clusters.json")
    assert json.loads(agent.run("cat /etc/aurora/clusters.json"))[0]["zk"] == zk
    agent.run("cat > /root/hello_world.aurora", input=HELLO)
    agent.run(f"cd /root && aurora job create {JOB} hello_world.aurora")

    def active() -> list[tuple[str, str]]:
        out = agent.run(f"aurora job status --write-json {JOB}", check=False)
        try:
            return [(t["assignedTask"]["taskId"], t["status"]) for t in json.loads(out)[0]["active"]]
        except (ValueError, LookupError, TypeError):
            return []

    def diagnose() -> str:
        return (agent.run(f"aurora job status {JOB}", check=False) + journals()
                + _journal(agent, "mesos-local"))

    running = until("the task RUNNING", lambda: [t for t, s in active() if s == "RUNNING"], timeout=120,
                     diagnose=diagnose)
    assert len(running) == 1 and len(active()) == 1, active()
    task_id = running[0]
    mark("task RUNNING")
    for path in ("/leaderhealth", "/scheduler", "/scheduler/www-data", "/scheduler/www-data/devel/hello_world"):
        assert agent.get(HTTP, path, host=first)[0] == 200, path
    # On the agent: the task's sandbox in the observer, its process's output.
    assert task_id in until("the task in the observer", lambda: agent.get(1338, "/j/task_ids/active")[1])
    assert agent.get(1338, f"/browse/{task_id}/")[0] == 200
    status, body = agent.get(1338, f"/files/browse?task_id={task_id}")
    assert status == 200 and ".logs" in [row["name"] for row in json.loads(body)], (status, body[-2000:])
    until("hello world in the observer", lambda: "hello world" in agent.get(
        1338, f"/files/read?task_id={task_id}&log=hello/0/stdout&offset=0")[1])
    agent.run("aurora-admin scheduler_backup_now example")
    backups = masters[first].run(f"ls {BACKUPS}").split()
    assert backups, "no backup written"

    # Failover: the leader killed outright; another master takes over, the same task still RUNNING.
    # (--kill-who=main: the scheduler is the unit's main process, the wrapper execs it. Signalling the unit's
    # whole cgroup fails here with EIO: this host's cgroups are v1 with no systemd of its own to delegate them.)
    masters[first].run("systemctl kill --kill-who=main -s KILL aurora-scheduler")
    second = until("another master leading", lambda: (lambda n: n if n and n != first else None)(
        leader([n for n in MASTERS if n != first])), timeout=120, diagnose=journals)
    mark(f"failover to {second}")
    until("the same task RUNNING under the new leader", lambda: active() == [(task_id, "RUNNING")], timeout=60,
           diagnose=diagnose)
    for path in ("/leaderhealth", "/scheduler", "/scheduler/www-data/devel/hello_world"):
        assert agent.get(HTTP, path, host=second)[0] == 200, path
    # systemd brings the killed one back (Restart=always), a follower now.
    until(f"{first} back as a follower", lambda: leaderhealth(first) == 503, timeout=90, diagnose=journals)

    # Upgrade the leader in place: it restarts on the new code (another master leads meanwhile), its edited
    # defaults kept; the cluster keeps the job, the same task RUNNING.
    up = masters[second]
    pid = _show(up, "aurora-scheduler", "MainPID")
    _apt(up, f"install -y -q {_debs(version + UPGRADE_SUFFIX, 'v2', MASTER_PACKAGES)}")
    assert up.run("dpkg-query -W -f '${Version}' aurora-scheduler") == version + UPGRADE_SUFFIX
    assert "\nQUORUM_SIZE=2\n" in up.run("cat /etc/default/aurora-scheduler")
    until("the scheduler restarted", lambda: _show(up, "aurora-scheduler", "MainPID") not in ("0", pid))
    until(f"{second} back after the upgrade, and a leader", lambda: leaderhealth(second) in (200, 503)
           and leader(), timeout=120, diagnose=journals)
    until("the job after the upgrade", lambda: active() == [(task_id, "RUNNING")], timeout=60, diagnose=diagnose)
    assert up.run("dpkg-query -W -f '${Status}' zookeeperd") == "install ok installed"
    mark(f"upgraded {second}; leader {leader()}")

    # Purge the first leader (it holds the backup): the packages' files, conffiles and unit enablement go; the
    # log, the backups (and the user) stay; its ZooKeeper member too. The two left (quorum 2) keep the job.
    p = masters[first]
    _apt(p, "purge -y -q aurora-scheduler aurora-tools")
    left = p.run("ls /etc/default/aurora-scheduler /etc/aurora/clusters.json "
                 "/lib/systemd/system/aurora-scheduler.service "
                 "/etc/systemd/system/multi-user.target.wants/aurora-scheduler.service 2>/dev/null", check=False)
    assert left.strip() == "", left
    assert _show(p, "aurora-scheduler", "LoadState") == "not-found"
    assert p.run(f"ls {LOG}").split(), "the log was removed"
    assert p.run(f"ls {BACKUPS}").split() == backups
    assert p.run("getent passwd aurora").strip()
    assert p.run("dpkg-query -W -f '${Status}' zookeeperd") == "install ok installed"
    rest = [n for n in MASTERS if n != first]
    now = until("a leader among the two left", lambda: leader(rest), timeout=120, diagnose=lambda: journals(rest))
    until("the job after the purge", lambda: active() == [(task_id, "RUNNING")], timeout=60, diagnose=diagnose)
    mark(f"purged {first}; leader {now}")
    print("\n".join(timings))
