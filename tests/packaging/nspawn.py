"""A booted Debian bookworm for the master packaging test: real systemd as PID 1 through `systemd-nspawn -b`.

`Machine` boots an overlay of the cached debootstrap root (debroot.cached_root) in a container: every mount is
made inside a private mount namespace held by one process (as debroot.Chroot), nspawn runs without a scope of
its own (`--keep-unit --register=no`: the host runs no systemd or D-Bus), and the container's network is the
network namespace it is given (several machines may share one: nothing they listen on is visible on the host;
each can be given an address of its own on loopback, 127.0.1.N, named in every machine's /etc/hosts as a LAN's
DNS would, so that services bound to it are reached by host name as on separate hosts). `run()` enters the
container's namespaces as `machinectl shell` would. `close()` kills the container's PID 1 (the kernel then
kills every process of its PID namespace) and the holders, so nothing outlives the test.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess

from tests.packaging.debroot import CACHE, ENV, until


def available() -> str | None:
    """Why machines cannot boot here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "unshare"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")):
            return f"needs {tool} (make setup installs systemd-container and debootstrap)"
    return None


class NetNs:
    """A network namespace with only loopback, held by one process."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep infinity"])
        self.path = f"/proc/{self.holder.pid}/ns/net"
        until("a network namespace", lambda: os.readlink(self.path) != os.readlink("/proc/self/ns/net"))

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


class Machine:
    def __init__(self, lower: str, workdir: str, name: str, netns: NetNs, binds: dict[str, str],
                 hosts: dict[str, str] | None = None):
        """`hosts`: host name -> address, written to /etc/hosts (default: this machine's name at 127.0.1.1)."""
        self.name = name
        self.root = os.path.join(workdir, "root")
        self.log = os.path.join(workdir, "console.log")
        for d in ("root", "upper", "work"):
            os.makedirs(os.path.join(workdir, d))
        archives = os.path.join(CACHE, "archives")
        os.makedirs(os.path.join(archives, "partial"), exist_ok=True)
        self.nspawn = None
        self.pid1 = None
        self.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "infinity"])
        self.ns = f"/proc/{self.holder.pid}/ns/mnt"
        try:
            until("a mount namespace", lambda: os.readlink(self.ns) != os.readlink("/proc/self/ns/mnt"))
            subprocess.run(["nsenter", f"--mount={self.ns}", "--", "mount", "-t", "overlay", "overlay", "-o",
                            f"lowerdir={lower},upperdir={workdir}/upper,workdir={workdir}/work", self.root],
                           check=True)
            # A real install names its host in /etc/hosts (Debian's installer writes 127.0.1.1 HOSTNAME); the
            # other machines of a shared network are there too, as DNS would give them.
            mounted = f"/proc/{self.holder.pid}/root{self.root}"  # the overlay, as the holder's namespace sees it
            with open(f"{mounted}/etc/hostname", "w") as f:
                f.write(name + "\n")
            with open(f"{mounted}/etc/hosts", "a") as f:
                f.writelines(f"{ip}\t{host}\n" for host, ip in (hosts or {name: "127.0.1.1"}).items())
            argv = ["systemd-nspawn", "-D", self.root, "-b", "-M", name, "--register=no", "--keep-unit",
                    "--console=pipe", f"--network-namespace-path={netns.path}",
                    f"--bind={archives}:/var/cache/apt/archives"]
            argv += [f"--bind-ro={outside}:{inside}" for inside, outside in binds.items()]
            with open(self.log, "w") as out:
                self.nspawn = subprocess.Popen(["nsenter", f"--mount={self.ns}", "--", *argv],
                                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            self.pid1 = until(f"systemd to start in {name}", self._find_pid1, timeout=60)
            # Until PID 1 listens on its private socket, systemctl prints nothing or "offline".
            state = until(f"systemd in {name} to answer", self._booted, timeout=120)
            if state not in ("running", "degraded"):
                raise AssertionError(f"{name} did not boot: {state}\n{self.console()}")
        except BaseException:
            self.close()
            raise

    def _booted(self) -> str | None:
        state = self.run("systemctl is-system-running --wait", check=False, timeout=120).strip()
        return state if state not in ("", "offline") else None

    def _find_pid1(self) -> int | None:
        if self.nspawn.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited {self.nspawn.returncode}:\n{self.console()}")
        # nsenter execs nspawn (same pid); nspawn's child is the container's PID 1.
        try:
            with open(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children") as f:
                children = [int(p) for p in f.read().split()]
        except OSError:
            return None
        for pid in children:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "systemd":
                        return pid
            except OSError:
                pass
        return None

    def console(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def argv(self, command: str) -> list[str]:
        return ["nsenter", "-t", str(self.pid1), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
                "/usr/bin/env", "-i", *ENV, "/bin/sh", "-c", command]

    def run(self, command: str, check: bool = True, input: str | None = None, timeout: float = 600) -> str:
        """Output of a shell command inside; on failure one line plus its output."""
        p = subprocess.run(self.argv(command), input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode:
            raise AssertionError(f"in {self.name}, `{command}` exited {p.returncode}:\n"
                                 f"{p.stdout[-3000:]}{p.stderr[-3000:]}")
        return p.stdout

    def get(self, port: int, path: str, host: str = "127.0.0.1") -> tuple[int, str]:
        """HTTP GET inside the machine (its network is not the host's): status (0: no answer) and body."""
        script = ("import sys, urllib.request, urllib.error\n"
                  "try:\n"
                  f"    r = urllib.request.urlopen({f'http://{host}:{port}{path}'!r}, timeout=5)\n"
                  "    print(r.status); sys.stdout.write(r.read().decode(errors='replace'))\n"
                  "except urllib.error.HTTPError as e:\n"
                  "    print(e.code)\n"
                  "except OSError:\n"
                  "    print(0)\n")
        out = self.run(f"python3 -c {shlex.quote(script)}", check=False)
        status, _, body = out.partition("\n")
        return (int(status) if status.strip().isdigit() else 0), body

    def close(self) -> None:
        if self.pid1:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.nspawn:
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        self.holder.kill()
        self.holder.wait()


