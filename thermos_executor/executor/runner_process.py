"""The `thermos_runner` the executor starts for its task: start it, learn when it ends, signal it, read the end.

The runner runs in its own session, so it and the task's processes outlive the executor's process group
(pymesos SIGKILLs that group when the agent goes away). Its outcome is read from the checkpoint, the one
source of truth, and mapped to a Mesos state with a message a person can act on.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

from thermos_executor.mesos_state import MesosState
from thermos_executor.runner import ckpt, inspector
from thermos_executor.runner.inotify import IN_CREATE, IN_MODIFY, Inotify
from thermos_executor.runner.paths import TaskPath
from thermos_executor.runner.state import ProcessState, TaskState

log = logging.getLogger("thermos.executor")

# thermos_runner's exit codes for failures before the task ran (Aurora's).
EXIT_CODES = {101: (MesosState.TASK_LOST, "Thermos failed with internal error."),
              102: (MesosState.TASK_FAILED, "Thermos received an invalid task."),
              103: (MesosState.TASK_LOST, "Thermos failed with an unknown error."),
              104: (MesosState.TASK_FAILED, "Task started with unknown user.")}


def runner_command() -> list[str]:
    """`thermos_runner` on this interpreter, importing thermos_executor from where this process found it.

    `python3 -m` would search the default path (the .deb keeps its modules in /usr/share/aurora-executor,
    off it) and the runner's working directory, the sandbox, which must never shadow a module.
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import sys; sys.path[0] = {root!r}; "
            "from thermos_executor.cli.thermos_runner import main; sys.exit(main())")
    return [sys.executable, "-c", code]


class RunnerProcess:
    def __init__(self, argv: list[str], cwd: str, checkpoint_root: str, task_id: str, on_exit):
        self.argv = argv
        self.cwd = cwd
        self.paths = TaskPath(checkpoint_root, task_id)
        self.on_exit = on_exit
        self.proc: subprocess.Popen | None = None
        self.exited = threading.Event()
        self.returncode: int | None = None

    def start(self) -> None:
        self.exited.clear()
        self.returncode = None
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, start_new_session=True, stdin=subprocess.DEVNULL)
        threading.Thread(target=self._wait, args=(self.proc,), name="runner-wait", daemon=True).start()
        log.info("started thermos_runner pid %d", self.proc.pid)

    def _wait(self, proc: subprocess.Popen) -> None:
        self.returncode = proc.wait()
        self.exited.set()
        self.on_exit()

    def wait_started(self, timeout: float) -> bool:
        """Until this runner has taken the task (or exited); False on timeout.

        Taken = a task status written by this runner's pid is in the runner stream: a runner writes one as soon
        as it holds the task, and installs its signal handlers before that, so from then on a kill or lose
        is handled, never fatal by the signal's default action. A task file on disk is not enough: a runner
        restarted for a task already has one before it has even started Python. Woken by inotify on the
        checkpoint directory, or by the runner's pidfd.
        """
        watch = Inotify()
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except ProcessLookupError:
            watch.close()
            return True
        tailer = ckpt.Tailer(self.paths.runner_checkpoint)
        try:
            os.makedirs(self.paths.checkpoint_dir, exist_ok=True)
            watch.watch(self.paths.checkpoint_dir, IN_CREATE | IN_MODIFY)
            deadline = time.monotonic() + timeout
            while not any(r.get("task_status", {}).get("runner_pid") == self.proc.pid for r in tailer.read_new()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ready = select.select([watch.fd, pidfd], [], [], left)[0]
                if pidfd in ready:
                    return True
                watch.read_names()
            return True
        finally:
            tailer.close()
            os.close(pidfd)
            watch.close()

    def signal(self, sig: int) -> None:
        if self.proc is not None and not self.exited.is_set():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Graceful: the runner SIGTERMs the processes, runs the final ones, ends KILLED."""
        self.signal(signal.SIGUSR1)

    def lose(self) -> None:
        """Immediate: SIGKILL everything, no finalizers, ends LOST."""
        self.signal(signal.SIGUSR2)

    def task_state(self) -> str | None:
        view = inspector.read_task(self.paths.root, self.paths.task_id)
        return view.state.task_state if view else None

    @property
    def restartable(self) -> bool:
        """Died (a signal, or a clean exit) with the task unfinished: a new runner can re-attach to it."""
        return self.exited.is_set() and (self.returncode or 0) <= 0 and self.task_state() not in TaskState.TERMINAL

    def outcome(self) -> tuple[str, str]:
        """The Mesos state and message for the way the runner ended (call once it has exited)."""
        code = self.returncode
        if code in EXIT_CODES:
            return EXIT_CODES[code]
        if code is not None and code > 0:
            return MesosState.TASK_LOST, f"Thermos exited for unknown reason (exit status: {code})"
        view = inspector.read_task(self.paths.root, self.paths.task_id)
        state = view.state.task_state if view else None
        if state == TaskState.SUCCESS:
            return MesosState.TASK_FINISHED, "Task finished."
        if state == TaskState.FAILED:
            return MesosState.TASK_FAILED, "Task failed." + _failed_processes(view.state)
        if state == TaskState.KILLED:
            return MesosState.TASK_KILLED, "Task killed."
        if state == TaskState.LOST:
            return MesosState.TASK_LOST, "Task lost."
        if code is not None and code < 0:
            return MesosState.TASK_KILLED, f"Task killed by signal {-code}."
        if state is None:
            return MesosState.TASK_LOST, "Task checkpoint could not be read."
        return MesosState.TASK_LOST, "Runner died while task was active."


def _failed_processes(state) -> str:
    failed = [(name, runs[-1].return_code) for name, runs in state.processes.items()
              if runs and runs[-1].state == ProcessState.FAILED]
    if not failed:
        return ""
    return " " + "; ".join(f"Process {name} failed (exit status {rc})." for name, rc in failed)
