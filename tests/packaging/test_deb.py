"""The aurora-executor .deb in a clean Debian bookworm: install from Debian, check its units and man pages,
run a task, serve the observer from the unit's own ExecStart line, run thermos-gc's ExecStart, upgrade under a
running task, purge.

Needs root (debootstrap, chroot, mounts) and the network on the first run of a day (debootstrap and apt fetch
from the machine's apt sources); skipped otherwise. No systemd runs in the root: the observer is started with
the unit's ExecStart, expanded from /etc/default/thermos as systemd would, under the unit's user and
capability (setpriv: an unprivileged uid holding only CAP_DAC_READ_SEARCH, as DynamicUser= and
AmbientCapabilities= give).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import urllib.request

import pytest

from tests.packaging.debroot import UPGRADE_SUFFIX, Chroot, cached_root, package_version, until

# Apt's and dpkg's own state, and the operator's scratch: not files of the package.
UNLISTED = ("/proc", "/dev", "/sys", "/tmp", "/root", "/srv", "/var/cache/apt", "/var/lib/apt", "/var/lib/dpkg",
            "/var/log", "/var/cache/debconf", "/var/cache/ldconfig", "/etc/ld.so.cache")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("debootstrap"),
                                reason="needs root and debootstrap (make setup installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read()
    except OSError:
        return 0, b""


@pytest.fixture
def chroot(tmp_path, debs):
    c = Chroot(cached_root(), str(tmp_path / "chroot"), {"/srv/debs": str(debs)})
    yield c
    c.close()


def _listing(c: Chroot) -> set[str]:
    prune = " -o ".join(f"-path {p}" for p in UNLISTED)
    return set(c.run(f"find / \\( {prune} \\) -prune -o -print").split("\n")) - {""}


def _systemd_argv(unit: str, environment: str) -> list[str]:
    """ExecStart as systemd expands it: `${X}` one word, a lone `$X` split on whitespace (empty: no word)."""
    env = {}
    for line in environment.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = " ".join(shlex.split(value))
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    argv = []
    for word in shlex.split(exec_start):
        lone = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if lone:
            argv += env.get(lone.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


def test_lintian_has_no_errors(debs):
    report = (debs / "v1" / "lintian.txt").read_text()
    assert not [line for line in report.splitlines() if line.startswith("E:")], report
    assert "no-manual-page" not in report, report


UNITS = ("thermos-observer.service", "thermos-gc.service", "thermos-gc.timer")
COMMANDS = ("thermos", "thermos_runner", "thermos_executor", "thermos_observer")


def _check_units_and_man_pages(c: Chroot) -> None:
    """Each unit loads (systemd-analyze verify), the gc timer is enabled and its service is not started on its
    own, every command has a man page, and every unit's Documentation= names an installed one."""
    for unit in UNITS:
        c.run(f"systemd-analyze verify --man=no /lib/systemd/system/{unit}")
    assert c.run("systemctl is-enabled thermos-gc.timer", check=False).strip() == "enabled"
    assert c.run("systemctl is-enabled thermos-observer.service", check=False).strip() == "enabled"
    assert c.run("systemctl is-enabled thermos-gc.service", check=False).strip() == "static"
    postinst = c.run("cat /var/lib/dpkg/info/aurora-executor.postinst")
    assert "thermos-gc.service" not in postinst, "the gc service would run at every install and upgrade"
    for command in COMMANDS:
        c.run(f"test -x /usr/bin/{command} && test -s /usr/share/man/man1/{command}.1.gz")
        page = c.run(f"zcat /usr/share/man/man1/{command}.1.gz")
        assert page.startswith(f".TH {command.upper()} 1"), page[:100]
    for unit in UNITS:
        docs = re.findall(r"^Documentation=(.*)$", c.run(f"cat /lib/systemd/system/{unit}"), re.M)
        assert docs, f"{unit} has no Documentation="
        for uri in " ".join(docs).split():
            m = re.fullmatch(r"man:([\w.-]+)\((\d)\)", uri)
            assert m, f"{unit}: Documentation={uri} is not a man page of the package"
            c.run(f"test -s /usr/share/man/man{m.group(2)}/{m.group(1)}.{m.group(2)}.gz")


def test_install_run_observe_upgrade_purge(chroot, debs, tmp_path):
    c = chroot
    version = package_version()
    before = _listing(c)

    # Install: every dependency resolves from Debian.
    c.run(f"apt-get install -y -q /srv/debs/v1/aurora-executor_{version}_all.deb")
    assert c.run("dpkg-query -W -f '${Status} ${Version}' aurora-executor") == f"install ok installed {version}"
    assert c.run("python3 -c 'import pystachio'", check=False) == "", "bundled code leaked onto python3's path"
    assert c.run("test -d /run/thermos && test -d /var/lib/thermos/sandbox && echo yes").strip() == "yes"
    _check_units_and_man_pages(c)

    # A task with a port, as root, in the default roots.
    port = _free_port()
    c.run("cat > /root/web.thermos", input=(
        "web = Process(name='web', cmdline='echo secret > secret.txt && chmod 600 secret.txt && "
        "exec python3 -m http.server {{thermos.ports[http]}} --bind 127.0.0.1')\n"
        "export(Task(name='web', processes=[web], resources=Resources(cpu=0.1, ram=64*MB, disk=64*MB)))\n"))
    c.run(f"thermos run --daemon --task_id pkgtest -P http:{port} /root/web.thermos")
    until("the task's HTTP server", lambda: _get(port, "/")[0] == 200)
    c.run("chmod 700 /var/lib/thermos/sandbox/pkgtest")

    # The observer from the unit's ExecStart and /etc/default/thermos, as the unit's unprivileged user.
    observer_port = _free_port()
    c.run(f"sed -i 's/^OBSERVER_PORT=.*/OBSERVER_PORT={observer_port}/' /etc/default/thermos")
    argv = _systemd_argv(c.run("cat /lib/systemd/system/thermos-observer.service"), c.run("cat /etc/default/thermos"))
    assert argv[:2] == ["/usr/bin/thermos_observer", f"--port={observer_port}"], argv
    caps = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all,+dac_read_search", "--ambient-caps=-all,+dac_read_search",
            "--bounding-set=-all,+dac_read_search", "--"]
    observer = c.spawn(caps + argv, str(tmp_path / "observer.log"))
    try:
        until("observer /health", lambda: _get(observer_port, "/health")[0] == 200 or observer.poll() is not None)
        assert observer.poll() is None, (tmp_path / "observer.log").read_text()
        until("the task in the observer", lambda: b"pkgtest" in _get(observer_port, "/j/task_ids")[1])
        status, body = _get(observer_port, "/files/read?task_id=pkgtest&path=secret.txt&offset=0&length=100")
        assert status == 200 and json.loads(body)["data"] == "secret\n", (status, body)

        # Upgrade under the running task: the same processes live on, the new code reads their state.
        task_pids = {pid: t for pid, t in c.pids().items() if pid != observer.pid}
        c.run(f"apt-get install -y -q /srv/debs/v2/aurora-executor_{version}{UPGRADE_SUFFIX}_all.deb")
        assert c.run("dpkg-query -W -f '${Version}' aurora-executor") == version + UPGRADE_SUFFIX
        after = c.pids()
        assert {pid: after.get(pid) for pid in task_pids} == task_pids, "a task process died in the upgrade"
        assert _get(port, "/")[0] == 200
        state = json.loads(c.run("thermos status --json pkgtest"))["tasks"][0]
        assert state["state"] == "ACTIVE" and state["processes"]["web"]["state"] == "RUNNING", state
    finally:
        observer.terminate()
        observer.wait(timeout=30)

    c.run("thermos kill pkgtest")
    until("the task's processes to end", lambda: _get(port, "/")[0] == 0)

    # thermos-gc.service's ExecStart, with the limits of /etc/default/thermos: the task just finished is kept;
    # with no finished task allowed it would go (dry run: the purge below checks that task data stays).
    gc = _systemd_argv(c.run("cat /lib/systemd/system/thermos-gc.service"), c.run("cat /etc/default/thermos"))
    assert gc[:3] == ["/usr/bin/thermos", "gc", "--root=/var/run/thermos"] and "--max_age" in gc, gc
    assert c.run(shlex.join(gc)).strip() == "nothing to collect"
    assert "would delete pkgtest" in c.run(shlex.join(gc + ["--max_tasks", "0", "--dry_run"]))

    # Purge: nothing of ours is left but the task's own data (the operator's), as documented. The Debian
    # packages it pulled in stay installed (apt marks them automatic) and are not ours to judge.
    package_files = set(c.run("dpkg -L aurora-executor").split("\n")) - {"", "/."}
    enabled = _listing(c)
    assert "/etc/systemd/system/multi-user.target.wants/thermos-observer.service" in enabled
    assert "/etc/systemd/system/timers.target.wants/thermos-gc.timer" in enabled
    c.run("apt-get purge -y -q aurora-executor")
    assert "aurora-executor" not in c.run("dpkg-query -W -f '${Package}\\n'")
    left = _listing(c) - before
    ours = {p for p in left if p in package_files or re.search("thermos|aurora", p)}
    ours -= {p for p in ours if c.run(f"dpkg -S {shlex.quote(p)} >/dev/null 2>&1 && echo shared", check=False)}
    task_data = {p for p in left if p.startswith(("/var/lib/thermos", "/run/thermos"))}
    assert ours == task_data, sorted(ours - task_data)
    assert "/var/lib/thermos/sandbox/pkgtest/secret.txt" in task_data
    assert not [p for p in task_data if p.startswith("/var/lib/thermos/sandbox/") and "pkgtest" not in p]
