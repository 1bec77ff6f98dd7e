"""A clean Debian bookworm root for the packaging test: made once by debootstrap, reused through overlays.

`cached_root()` returns a pristine root kept outside the repository (AURORA_DEBOOTSTRAP_CACHE, default
/var/cache/aurora-debootstrap), one per day so its apt lists stay fresh; the machine's own apt sources are
copied in. `Chroot` is one throw-away session on it: every mount (overlay, /proc, the apt archive cache, the
package directory) is made inside a private mount namespace held by one process, so nothing is left mounted
on the host whatever happens; `close()` kills every process of that namespace.
"""
from __future__ import annotations

import datetime
import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import time

from tests.helpers import wait_for

CACHE = os.environ.get("AURORA_DEBOOTSTRAP_CACHE", "/var/cache/aurora-debootstrap")
INCLUDE = "systemd"  # systemd-analyze and systemd-tmpfiles, as on an agent; systemd itself never runs
ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"]


def _mirror() -> str:
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def cached_root() -> str:
    os.makedirs(CACHE, exist_ok=True)
    key = f"bookworm-minbase-{INCLUDE}-{datetime.date.today():%Y%m%d}"
    root = os.path.join(CACHE, key)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(root, ".complete")):
            return root
        for old in os.listdir(CACHE):
            if old.startswith("bookworm-"):
                shutil.rmtree(os.path.join(CACHE, old), ignore_errors=True)
        tmp = root + ".tmp"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={INCLUDE}", "bookworm", tmp, _mirror()],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name in os.listdir("/etc/apt/sources.list.d"):
            if name.endswith((".sources", ".list")):
                shutil.copy(os.path.join("/etc/apt/sources.list.d", name), os.path.join(tmp, "etc/apt/sources.list.d"))
        if any(n.endswith((".sources", ".list")) for n in os.listdir(os.path.join(tmp, "etc/apt/sources.list.d"))):
            os.unlink(os.path.join(tmp, "etc/apt/sources.list"))
        shutil.copy("/etc/resolv.conf", os.path.join(tmp, "etc/resolv.conf"))
        subprocess.run(["chroot", tmp, "/usr/bin/env", "-i", *ENV, "apt-get", "update", "-q"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        subprocess.run(["chroot", tmp, "apt-get", "clean"], check=True)
        open(os.path.join(tmp, ".complete"), "w").close()
        os.rename(tmp, root)
        return root


class Chroot:
    def __init__(self, lower: str, workdir: str, binds: dict[str, str]):
        self.root = os.path.join(workdir, "root")
        for d in ("root", "upper", "work"):
            os.makedirs(os.path.join(workdir, d))
        archives = os.path.join(CACHE, "archives")  # downloaded .debs survive between runs
        os.makedirs(os.path.join(archives, "partial"), exist_ok=True)
        self.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "infinity"])
        self.ns = f"/proc/{self.holder.pid}/ns/mnt"
        deadline = time.monotonic() + 10
        while os.readlink(self.ns) == os.readlink("/proc/self/ns/mnt"):
            if time.monotonic() > deadline:
                raise RuntimeError("unshare made no mount namespace")
            time.sleep(0.01)
        try:
            self._host(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={workdir}/upper,workdir={workdir}/work", self.root])
            self._host(["mount", "-t", "proc", "proc", f"{self.root}/proc"])
            self._host(["mount", "--bind", archives, f"{self.root}/var/cache/apt/archives"])
            for inside, outside in binds.items():
                self._host(["mkdir", "-p", self.root + inside])
                self._host(["mount", "--bind", "-o", "ro", outside, self.root + inside])
        except BaseException:
            self.close()
            raise

    def _host(self, argv, **kw):
        return subprocess.run(["nsenter", f"--mount={self.ns}", "--", *argv], check=True, **kw)

    def argv(self, command: str) -> list[str]:
        return ["nsenter", f"--mount={self.ns}", "--", "chroot", self.root, "/usr/bin/env", "-i", *ENV,
                "/bin/sh", "-c", command]

    def run(self, command: str, check: bool = True, input: str | None = None) -> str:
        """Output of a shell command inside; on failure one line plus its output."""
        p = subprocess.run(self.argv(command), input=input, capture_output=True, text=True, timeout=300)
        if check and p.returncode:
            raise AssertionError(f"in chroot, `{command}` exited {p.returncode}:\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
        return p.stdout

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen:
        with open(log, "w") as out:
            return subprocess.Popen(self.argv(shlex.join(argv)), stdout=out, stderr=subprocess.STDOUT)

    def pids(self) -> dict[int, float]:
        """Every process in this session's mount namespace but its holder: pid -> start time (jiffies)."""
        mine = os.readlink(self.ns)
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == self.holder.pid:
                continue
            try:
                if os.readlink(f"/proc/{name}/ns/mnt") == mine:
                    with open(f"/proc/{name}/stat") as f:
                        found[int(name)] = float(f.read().rsplit(")", 1)[1].split()[19])
            except OSError:
                pass
        return found

    def close(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.holder.kill()
        self.holder.wait()


def until(what: str, check, timeout: float = 60, diagnose=None):
    """`tests.helpers.wait_for` as the packaging tests call it (what first; slow machines: 0.2 s polls)."""
    return wait_for(check, timeout, interval=0.2, what=what, diagnose=diagnose)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPGRADE_SUFFIX = "+upgradetest1"


def package_version() -> str:
    """The packages' version: this tree's pyproject version."""
    import tomllib
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["version"]


def build(out: str, deb_version: str | None = None) -> subprocess.Popen:
    """`packaging/build-debs OUT`, started (every package of this tree, at `deb_version` when given)."""
    # A pip cache per build: two pip runs sharing one race on its origin.json files (seen as a JSONDecodeError).
    env = dict(os.environ, PIP=os.path.join(REPO, ".venv/bin/pip"), PIP_CACHE_DIR=out + ".pip-cache")
    if deb_version:
        env["DEB_VERSION"] = deb_version
    return subprocess.Popen([os.path.join(REPO, "packaging/build-debs"), out], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
