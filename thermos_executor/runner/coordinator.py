"""The coordinator: the small process that owns one run of one process, whatever happens to the runner.

The runner's fork server (forkserver.py) forks it (cheap: no new interpreter) with the process's checkpoint
stream, which the runner opened and locked; the child keeps that descriptor, so the lock is held exactly as
long as the run has not been recorded as ended. The coordinator

  1. starts its own session (so it outlives the runner) and becomes a child subreaper (so every process the
     command starts stays its descendant, even one that calls setsid);
  2. records FORKED, drops privileges, sets up the logs (files, or pipes and a pump), spawns
     `/bin/bash -c <cmdline>` and records RUNNING with the pid;
  3. pumps the logs (piped policies) until the process exits, records its exit (SUCCESS, FAILED with the
     code, KILLED with -signal) and lets go of the lock;
  4. keeps draining the pipes until their last writer closes, for at most DRAIN_WAIT seconds, then kills
     what the command left behind, drains what remains, and exits.

Each record is fdatasync'd before the next step, and the runner learns of it through inotify. SIGTERM and
friends are caught and ignored here: they are meant for the user's processes, and the coordinator must live
to record how they ended.
"""
from __future__ import annotations

import _signal
import gc
import os
import pwd
import select
import signal
import sys
import time
from dataclasses import dataclass

import psutil

from thermos_executor.logs.policy import LogPolicy
from thermos_executor.logs.pump import Pump
from thermos_executor.runner import ckpt, process_tree
from thermos_executor.runner.state import ProcessState, process_record

IGNORED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# Python ignores these at start-up; a spawned command must get them back at their defaults.
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ) + IGNORED_SIGNALS
# After the main process exits, background writers get this long to close the log pipes before they are killed.
DRAIN_WAIT = 2.0
REAP_INTERVAL = 60.0


@dataclass(frozen=True)
class Launch:
    """Everything a coordinator needs to start one run."""
    process: str
    run: int
    seq: int                  # the run's WAITING seq; the coordinator writes seq+1 .. seq+3
    cmdline: str
    sandbox: str
    log_dir: str              # <log_dir>/<process>/<run>, created by the coordinator as the user
    env: dict
    user: str | None          # switch to this user (the runner is root); None = stay as we are
    policy: LogPolicy = LogPolicy()


def start(launch: Launch, writer: ckpt.Writer) -> int:
    """Fork a coordinator for `launch`; return its pid. `writer` must hold the process stream's lock."""
    gc.freeze()       # the child's collector must not walk (and so copy) every object it inherited
    pid = os.fork()
    if pid == 0:
        gc.disable()
        try:
            _coordinate(launch, writer)
        except BaseException as e:  # noqa: BLE001 - nothing may escape into a copy of the runner
            _report_crash(launch, writer, e)
        finally:
            os._exit(0)
    return pid


def _report_crash(launch: Launch, writer: ckpt.Writer, error: BaseException) -> None:
    """Our own bug, not the user's: say so in the run's stderr and end the run FAILED, not LOST (which retries)."""
    import traceback
    _report_launch_failure(launch, "".join(traceback.format_exception(error)))
    try:
        run = ckpt.read_all(writer.path) if writer.fd >= 0 else []
        last = max((r["process_status"]["seq"] for r in run if "process_status" in r), default=None)
        if last is not None and last < launch.seq + 3:
            writer.write(process_record(launch.process, ProcessState.FAILED, last + 1, return_code=127,
                                        stop_time=time.time()))
    except Exception:  # noqa: BLE001 - the runner will see the coordinator die and record the run LOST
        pass


def _coordinate(launch: Launch, writer: ckpt.Writer) -> None:
    fork_time = time.time()
    os.setsid()
    close_fds_except(writer.fd)
    if launch.policy.destination not in ("console", "both"):  # do not hold the runner's terminal or pipes open
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
    signal.set_wakeup_fd(-1)                         # the fork server's wake-up pipe is not ours
    ignore_task_signals()
    _signal.signal(signal.SIGCHLD, _signal.SIG_DFL)
    process_tree.set_child_subreaper()
    process_tree.set_name("thermos_coord")
    seq = launch.seq
    # Not synced on its own: the RUNNING record synced next flushes it too, and until then a machine crash
    # leaves nothing of the run to recover (the runner starts it again from its synced WAITING record).
    writer.write(process_record(launch.process, ProcessState.FORKED, seq + 1,
                                coordinator_pid=os.getpid(), fork_time=fork_time), sync=False)
    pump = None
    try:
        if launch.user is not None:
            _become(launch.user)
        _make_log_dir(launch.log_dir)                # as the user, so the user owns it
        os.chdir(launch.sandbox)
        pump = Pump(launch.policy, launch.log_dir) if launch.policy.piped else None
        start_time = time.time()
        pid = _spawn(launch, pump)
    except OSError as e:
        _report_launch_failure(launch, e)
        writer.write(process_record(launch.process, ProcessState.FAILED, seq + 2,
                                    return_code=127, stop_time=time.time()))
        return
    finally:
        if pump is not None:
            pump.close_child_ends()
    writer.write(process_record(launch.process, ProcessState.RUNNING, seq + 2, pid=pid, start_time=start_time))
    _supervise(launch, pid, pump, writer)


def close_fds_except(keep: int) -> None:
    """Close every descriptor but stdio and `keep`: what the runner had open is not ours to hold."""
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)


def ignore_task_signals() -> None:
    """SIG_IGN the signals meant for the task's processes. SIG_IGN, not a handler: nothing runs, nothing is
    copied; and `_signal` itself, not signal.signal's wrapper, whose enum conversions are Python code that
    every coordinator would run and copy pages for."""
    for sig in IGNORED_SIGNALS:
        _signal.signal(sig, _signal.SIG_IGN)


def _make_log_dir(path: str) -> None:
    """os.makedirs(path, exist_ok=True), with its Python-level path walk only when the parent is missing
    (the runner made .logs/; <process>/ exists after the first run)."""
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)


def _become(user: str) -> None:
    pw = pwd.getpwnam(user)
    os.initgroups(user, pw.pw_gid)
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def _spawn(launch: Launch, pump: Pump | None) -> int:
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    if pump is not None:
        out, err = pump.child_ends()
        actions += [(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    elif launch.policy.destination == "file":  # standard mode: the file is the child's stdout, nothing copies
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        actions += [(os.POSIX_SPAWN_OPEN, 1, os.path.join(launch.log_dir, "stdout"), flags, 0o644),
                    (os.POSIX_SPAWN_OPEN, 2, os.path.join(launch.log_dir, "stderr"), flags, 0o644)]
    elif launch.policy.destination == "none":
        actions += [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
    # console: the command shares the runner's stdout and stderr, inherited as they are.
    return os.posix_spawn("/bin/bash", ["/bin/bash", "-c", launch.cmdline], launch.env,
                          file_actions=actions, setsigmask=(), setsigdef=RESET_SIGNALS)


def _supervise(launch: Launch, pid: int, pump: Pump | None, writer: ckpt.Writer) -> None:
    """Pump logs and reap children until the run is over: main process ended, pipes drained, leftovers gone.

    Sleeps in one poll on the main process's pidfd and the log pipes. Orphans re-parented to us are reaped
    when the main process ends, and every REAP_INTERVAL seconds meanwhile so that they do not pile up.
    """
    poller = select.poll()
    main_fd = os.pidfd_open(pid)
    poller.register(main_fd, select.POLLIN)
    for fd in pump.open_fds if pump else ():
        poller.register(fd, select.POLLIN)
    deadline, killed = None, False
    while True:
        timeout = REAP_INTERVAL if deadline is None else max(0.0, deadline - time.monotonic())
        for fd, _ in poller.poll(timeout * 1000):
            if fd != main_fd and not pump.transfer(fd):
                poller.unregister(fd)
        code, orphans = _reap(pid)
        if deadline is None:
            if code is None:
                continue
            poller.unregister(main_fd)
            os.close(main_fd)
            state = ProcessState.SUCCESS if code == 0 else ProcessState.FAILED if code > 0 else ProcessState.KILLED
            writer.write(process_record(launch.process, state, launch.seq + 3, return_code=code,
                                        stop_time=time.time()))
            writer.close()                # the run is recorded as ended: its next run may start
            deadline = time.monotonic() + DRAIN_WAIT
        if pump is None or not pump.open_fds:
            break
        if time.monotonic() >= deadline:
            if killed:
                break
            _kill_leftovers()             # what still holds the pipes dies with the run; drain what it wrote
            killed, orphans, deadline = True, False, time.monotonic() + DRAIN_WAIT
    if orphans:
        _kill_leftovers()
    if pump is not None:
        pump.close()


def _reap(main: int) -> tuple[int | None, bool]:
    """Reap every exited child (orphans re-parented to us included): the main process's exit code if it ended,
    and whether any child is still alive (if none, the end of a run needs no scan of /proc for leftovers)."""
    exited, alive = process_tree.reap_exited()
    return (os.waitstatus_to_exitcode(exited[main]) if main in exited else None), alive


def _kill_leftovers() -> None:
    """What the command left running dies with its run (Aurora's semantics), and is reaped."""
    process_tree.signal_all(psutil.Process().children(recursive=True), signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _report_launch_failure(launch: Launch, error) -> None:
    message = f"thermos: could not start process {launch.process!r}: {error}\n"
    try:
        with open(os.path.join(launch.log_dir, "stderr"), "a") as f:
            f.write(message)
    except OSError:
        sys.stderr.write(message)
