"""The coordinator: the small process that owns one run of one process, whatever happens to the runner.

The runner forks it (cheap: no new interpreter) holding the process's checkpoint stream locked; the child
keeps that descriptor, so the lock is held exactly as long as the coordinator lives. The coordinator

  1. starts its own session (so it outlives the runner) and becomes a child subreaper (so every process the
     command starts stays its descendant, even one that calls setsid);
  2. records FORKED, drops privileges, opens the log files, spawns `/bin/bash -c <cmdline>` and records
     RUNNING with the pid;
  3. waits for that process, records its exit (SUCCESS, FAILED with the code, KILLED with -signal), then
     kills what the command left behind and exits.

Each record is fdatasync'd before the next step, and the runner learns of it through inotify. SIGTERM and
friends are caught and ignored here: they are meant for the user's processes, and the coordinator must live
to record how they ended.
"""
from __future__ import annotations

import os
import pwd
import signal
import sys
import time
from dataclasses import dataclass

import psutil

from thermos_executor.runner import ckpt, process_tree
from thermos_executor.runner.state import ProcessState, process_record

IGNORED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# Python ignores these at start-up; a spawned command must get them back at their defaults.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ) + IGNORED_SIGNALS


@dataclass(frozen=True)
class Launch:
    """Everything a coordinator needs to start one run."""
    process: str
    run: int
    seq: int                  # the run's WAITING seq; the coordinator writes seq+1 .. seq+3
    cmdline: str
    sandbox: str
    log_dir: str              # <log_dir>/<process>/<run>, already created and owned by the user
    env: dict
    user: str | None          # switch to this user (the runner is root); None = stay as we are
    destination: str = "file"  # file | console | none


def start(launch: Launch, writer: ckpt.Writer) -> int:
    """Fork a coordinator for `launch`; return its pid. `writer` must hold the process stream's lock."""
    pid = os.fork()
    if pid == 0:
        try:
            _coordinate(launch, writer)
        except BaseException:  # noqa: BLE001 - nothing may escape into a copy of the runner
            pass
        finally:
            os._exit(0)
    return pid


def _coordinate(launch: Launch, writer: ckpt.Writer) -> None:
    fork_time = time.time()
    os.setsid()
    signal.set_wakeup_fd(-1)
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, _ignore)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _close_fds_except(writer.fd)
    if launch.destination != "console":  # do not hold the runner's terminal or pipes open after it exits
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
    process_tree.set_child_subreaper()
    seq = launch.seq
    writer.write(process_record(launch.process, ProcessState.FORKED, seq + 1,
                                coordinator_pid=os.getpid(), fork_time=fork_time))
    try:
        if launch.user is not None:
            _become(launch.user)
        os.chdir(launch.sandbox)
        start_time = time.time()
        pid = _spawn(launch)
    except OSError as e:
        _report_launch_failure(launch, e)
        writer.write(process_record(launch.process, ProcessState.FAILED, seq + 2,
                                    return_code=127, stop_time=time.time()))
        return
    writer.write(process_record(launch.process, ProcessState.RUNNING, seq + 2, pid=pid, start_time=start_time))
    code = _wait_for(pid)
    state = (ProcessState.SUCCESS if code == 0 else ProcessState.FAILED if code > 0 else ProcessState.KILLED)
    writer.write(process_record(launch.process, state, seq + 3, return_code=code, stop_time=time.time()))
    _kill_leftovers()


def _ignore(signum, frame):
    pass


def _close_fds_except(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)


def _become(user: str) -> None:
    pw = pwd.getpwnam(user)
    os.initgroups(user, pw.pw_gid)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def _spawn(launch: Launch) -> int:
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    if launch.destination == "file":
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        actions += [(os.POSIX_SPAWN_OPEN, 1, os.path.join(launch.log_dir, "stdout"), flags, 0o644),
                    (os.POSIX_SPAWN_OPEN, 2, os.path.join(launch.log_dir, "stderr"), flags, 0o644)]
    elif launch.destination == "none":
        actions += [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
    # console: the command shares the runner's stdout and stderr, inherited as they are.
    return os.posix_spawn("/bin/bash", ["/bin/bash", "-c", launch.cmdline], launch.env,
                          file_actions=actions, setsigmask=(), setsigdef=RESET_SIGNALS)


def _wait_for(pid: int) -> int:
    """Reap children (orphans re-parented to us included) until `pid` exits; return its exit code."""
    while True:
        reaped, status = os.waitpid(-1, 0)
        if reaped == pid:
            return os.waitstatus_to_exitcode(status)


def _kill_leftovers() -> None:
    """What the command left running dies with its run (Aurora's semantics), and is reaped."""
    process_tree.signal_all(psutil.Process().children(recursive=True), signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _report_launch_failure(launch: Launch, error: OSError) -> None:
    message = f"thermos: could not start process {launch.process!r}: {error}\n"
    try:
        with open(os.path.join(launch.log_dir, "stderr"), "a") as f:
            f.write(message)
    except OSError:
        sys.stderr.write(message)
