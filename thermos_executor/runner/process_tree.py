"""Finding and signalling the processes of a run, verified by pid *and* start time so a reused pid is never hit.

A coordinator is a child subreaper, so while it lives every process its command started, including ones that
escaped with setsid, is among its descendants. When it has died, the run is found through the recorded user
pid, its descendants, and the members of the coordinator's process group started after the fork.
"""
from __future__ import annotations

import ctypes
import os
import signal

import psutil

# create_time comes from the kernel in clock ticks; our recorded times are taken just around the fork/spawn.
START_TOLERANCE = 1.0
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36


try:  # looked up once, before any fork, so that coordinators share it instead of each building its own
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def set_name(name: str) -> None:
    """The name `ps -e`, `top` and `pgrep` show (15 bytes), so that a forked coordinator is not taken for its runner."""
    if _prctl is not None:
        _prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def set_child_subreaper() -> None:
    """Best effort: orphaned descendants are re-parented to us instead of init, so we can find and reap them."""
    if _prctl is not None:
        _prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def set_parent_death_signal(sig: int) -> None:
    """Best effort: the kernel sends us `sig` when our parent dies (check getppid() after, for a race)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def reap_exited() -> tuple[dict[int, int], bool]:
    """Reap every child that has exited, without waiting: ({pid: wait status}, whether a child is still alive).

    For a child subreaper no live child means no live descendant at all: orphans are re-parented to it."""
    exited = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return exited, False
        if pid == 0:
            return exited, True
        exited[pid] = status


def find(pid: int | None, started: float | None) -> psutil.Process | None:
    """The live process with this pid if it started when recorded (not a zombie, not a reused pid)."""
    if not pid or started is None:
        return None
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) > START_TOLERANCE or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def _alive(procs) -> list[psutil.Process]:
    alive = []
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.Error:
            pass
    return alive


def _group_members(pgid: int, not_before: float) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["create_time"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["create_time"] >= not_before - START_TOLERANCE:
                members.append(proc)
        except (OSError, psutil.Error):
            pass
    return members


def coordinator(run) -> psutil.Process | None:
    return find(run.coordinator_pid, run.fork_time)


def user_processes(run) -> list[psutil.Process]:
    """Every live process of a run except its coordinator."""
    coord = coordinator(run)
    if coord is not None:
        try:
            return _alive(coord.children(recursive=True))
        except psutil.Error:
            pass
    found = {}
    user = find(run.pid, run.start_time)
    if user is not None:
        found[user.pid] = user
        try:
            found.update((p.pid, p) for p in user.children(recursive=True))
        except psutil.Error:
            pass
    if run.coordinator_pid and run.fork_time is not None:
        found.update((p.pid, p) for p in _group_members(run.coordinator_pid, run.fork_time))
    found.pop(os.getpid(), None)
    return _alive(found.values())


def signal_all(procs, sig: int) -> int:
    sent = 0
    for proc in procs:
        try:
            proc.send_signal(sig)
            sent += 1
        except psutil.Error:
            pass
    return sent


def kill_run(run) -> None:
    """SIGKILL every process of a run, its coordinator last so that it can still record the exit."""
    signal_all(user_processes(run), signal.SIGKILL)
