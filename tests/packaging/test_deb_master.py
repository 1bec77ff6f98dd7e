"""The master packages (aurora-scheduler, aurora-tools) with aurora-executor in a booted Debian bookworm.

One machine, booted with real systemd (`systemd-nspawn -b`, tests/packaging/nspawn.py) in a network of its own:
it is the master (ZooKeeper from Debian's zookeeperd, the scheduler's unit) and the agent (the Mesos-API
stand-in `aurora-mesos-local`, started as a transient unit as a Mesos agent runs, as root, launching the
packaged thermos_executor; the observer's unit). Steps, as docs/packaging.md tells an operator:
install with apt resolving the rest from Debian; the scheduler, started before the log is initialized, says
what to run in the journal and systemd restarts it calmly; `aurora-log initialize`; the scheduler comes up;
`aurora job create example/www-data/devel/hello_world` with the packaged clusters.json; the task RUNNING, its
sandbox in the observer; /leaderhealth, /scheduler answer; a backup; upgrade in place keeps the job; purge
keeps the log and the backups.

Slow (minutes) and needs root, systemd-nspawn and, once a day, the network: run by `make test-deb` only
(AURORA_TEST_DEB=1), never by `make test`.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.packaging import nspawn
from tests.packaging.debroot import Chroot, cached_root
from tests.packaging.test_deb import UPGRADE_SUFFIX, _build, _version

LOG = "/var/lib/aurora/scheduler/db"
BACKUPS = "/var/lib/aurora/scheduler/backups"
JOB = "example/www-data/devel/hello_world"
PACKAGES = ("aurora-scheduler", "aurora-tools", "aurora-executor")

pytestmark = [
    pytest.mark.skipif(os.environ.get("AURORA_TEST_DEB") != "1", reason="slow: run by `make test-deb`"),
    pytest.mark.skipif(bool(nspawn.available()), reason=str(nspawn.available())),
]

HELLO = """\
hello = Process(name='hello', cmdline='while true; do echo hello world; sleep 10; done')
jobs = [Service(cluster='example', role='www-data', environment='devel', name='hello_world',
                task=Task(processes=[hello], resources=Resources(cpu=0.1, ram=16*MB, disk=16*MB)))]
"""


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("debs")
    version = _version()
    builds = [_build(str(out / "v1")), _build(str(out / "v2"), version + UPGRADE_SUFFIX)]
    for b in builds:
        output = b.communicate(timeout=900)[0]
        assert b.returncode == 0, output
    return out


def _debs(version: str, d: str) -> str:
    return " ".join(f"/srv/debs/{d}/{p}_{version}_all.deb" for p in PACKAGES)


@pytest.fixture
def master(tmp_path, debs):
    version = _version()
    # The machine's network has no way out: fetch what apt will want (kept in the shared archive cache).
    c = Chroot(cached_root(), str(tmp_path / "fetch"), {"/srv/debs": str(debs)})
    try:
        c.run(f"apt-get install -y -q --download-only {_debs(version, 'v1')}")
    finally:
        c.close()
    net = nspawn.NetNs()
    try:
        m = nspawn.Machine(cached_root(), str(tmp_path / "master"), "master", net, {"/srv/debs": str(debs)})
    except BaseException:
        net.close()
        raise
    yield m
    m.close()
    net.close()


def _until(what: str, check, timeout: float = 60, diagnose=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{diagnose()}")


def _show(m, unit: str, prop: str) -> str:
    return m.run(f"systemctl show -P {prop} {unit}").strip()


def test_master_install_initialize_create_upgrade_purge(master, debs):
    m = master
    version = _version()

    def journal() -> str:
        return m.run("journalctl -q -o cat -u aurora-scheduler --no-pager | tail -n 30", check=False)

    # Install the three packages; apt resolves the rest (zookeeperd too: a Recommends) from Debian.
    m.run(f"apt-get install -y -q {_debs(version, 'v1')}")
    for p in PACKAGES + ("zookeeperd",):
        assert m.run(f"dpkg-query -W -f '${{Status}}' {p}") == "install ok installed", p
    passwd = m.run("getent passwd aurora").strip().split(":")
    assert passwd[5] == "/var/lib/aurora" and m.run("getent group aurora").strip(), passwd
    assert m.run("stat -c %U:%G /var/lib/aurora").strip() == "aurora:aurora"
    m.run("systemd-analyze verify --man=no /lib/systemd/system/aurora-scheduler.service")
    assert _show(m, "aurora-scheduler", "UnitFileState") == "enabled"
    assert _show(m, "aurora-scheduler", "User") == "aurora"
    for conffile in ("/etc/default/aurora-scheduler", "/etc/aurora/clusters.json"):
        assert conffile in m.run("dpkg-query -W -f '${Conffiles}' aurora-scheduler aurora-tools"), conffile
    clusters = json.loads(m.run("cat /etc/aurora/clusters.json"))
    assert clusters == [{"auth_mechanism": "UNAUTHENTICATED", "name": "example",
                         "scheduler_zk_path": "/aurora/scheduler", "slave_root": "/var/lib/mesos",
                         "slave_run_directory": "latest", "zk": "127.0.0.1"}], clusters
    for command, section in (("aurora-scheduler", 8), ("aurora-scheduler-startup", 8), ("aurora-log", 1),
                             ("aurora-scheduler-recovery", 1), ("aurora-mesos-local", 1), ("aurora", 1),
                             ("aurora-admin", 1)):
        m.run(f"command -v {command} >/dev/null && test -s /usr/share/man/man{section}/{command}.{section}.gz")

    # Started before the log is initialized: the journal says what to run; systemd restarts it calmly.
    _until("the scheduler's journal to say what to run",
           lambda: f"aurora-log initialize --path={LOG}" in journal() and "Replica in EMPTY status" in journal(),
           diagnose=journal)
    assert _show(m, "aurora-scheduler", "Restart") == "always"
    assert _show(m, "aurora-scheduler", "RestartUSec") == "20s"
    assert _show(m, "aurora-scheduler", "ActiveState") in ("activating", "failed", "active")

    # ZooKeeper (Debian's service), the stand-in as a Mesos master + agent would run (root), the observer.
    _until("ZooKeeper on 2181", lambda: "Zookeeper version" in m.run(  # srvr: the one four-letter word 3.8 allows
        "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', 2181), 2); s.sendall(b'srvr');"
        " print(s.recv(200).decode())\"", check=False), timeout=120)
    m.run("systemd-run --unit=mesos-local --property=Restart=on-failure /usr/bin/aurora-mesos-local "
          "--work_dir /var/lib/mesos --master_port 5050 --agent_port 5051 --zk zk://127.0.0.1:2181/mesos "
          "--resources 'cpus:2;mem:2048;disk:4096;ports:[31000-31999]'")
    _until("the stand-in", lambda: m.get(5050, "/health")[0] == 200 or m.get(5050, "/state")[0] == 200,
           diagnose=lambda: m.run("journalctl -q -o cat -u mesos-local --no-pager | tail", check=False))
    assert m.run("systemctl is-active thermos-observer", check=False).strip() == "active"

    # The finalizing step (docs/packaging.md); the next restart finds the log initialized.
    m.run(f"runuser -u aurora -- aurora-log initialize --path={LOG}")
    m.run("systemctl restart aurora-scheduler")
    _until("/leaderhealth 200", lambda: m.get(8081, "/leaderhealth")[0] == 200, timeout=90, diagnose=journal)

    # A job, with the packaged clusters.json as it is.
    m.run("cat > /root/hello_world.aurora", input=HELLO)
    m.run(f"cd /root && aurora job create {JOB} hello_world.aurora")

    def status() -> str:
        return m.run(f"aurora job status {JOB}", check=False)

    _until("the task RUNNING", lambda: "RUNNING" in status(), timeout=120,
           diagnose=lambda: status() + journal() + m.run("journalctl -q -o cat -u mesos-local | tail -n 20"))
    for path in ("/leaderhealth", "/scheduler", "/scheduler/www-data", "/scheduler/www-data/devel/hello_world"):
        assert m.get(8081, path)[0] == 200, path
    task_ids = _until("the task in the observer", lambda: "hello_world" in m.get(1338, "/j/task_ids")[1])
    assert task_ids
    m.run("aurora-admin scheduler_backup_now example")
    backups = m.run(f"ls {BACKUPS}").split()
    assert backups, "no backup written"

    # Upgrade in place: the scheduler restarts on the new code and comes back with the job, still RUNNING.
    pid = _show(m, "aurora-scheduler", "MainPID")
    m.run(f"apt-get install -y -q {_debs(version + UPGRADE_SUFFIX, 'v2')}")
    assert m.run("dpkg-query -W -f '${Version}' aurora-scheduler") == version + UPGRADE_SUFFIX
    _until("the scheduler restarted", lambda: _show(m, "aurora-scheduler", "MainPID") not in ("0", pid))
    _until("/leaderhealth 200 after the upgrade", lambda: m.get(8081, "/leaderhealth")[0] == 200, timeout=90,
           diagnose=journal)
    _until("the job after the upgrade", lambda: "RUNNING" in status(), timeout=60, diagnose=status)
    assert m.run("dpkg-query -W -f '${Status}' zookeeperd") == "install ok installed"

    # Purge: the packages' files, conffiles and unit enablement go; the log, the backups (and the user) stay.
    m.run("systemctl stop mesos-local")
    m.run("apt-get purge -y -q aurora-scheduler aurora-tools")
    left = m.run("ls /etc/default/aurora-scheduler /etc/aurora/clusters.json "
                 "/lib/systemd/system/aurora-scheduler.service "
                 "/etc/systemd/system/multi-user.target.wants/aurora-scheduler.service 2>/dev/null", check=False)
    assert left.strip() == "", left
    assert _show(m, "aurora-scheduler", "LoadState") == "not-found"
    assert m.run(f"ls {LOG}").split(), "the log was removed"
    assert m.run(f"ls {BACKUPS}").split() == backups
    assert m.run("getent passwd aurora").strip()
