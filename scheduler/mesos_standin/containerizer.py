"""Running an executor on this machine: the Mesos-shaped sandbox, its environment, the process, and killing it.

Like Mesos' POSIX launcher (no isolation): the executor runs as the agent's user in its own session, with its
stdout and stderr in files of the run directory

    <work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>/
    <work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/latest -> <container_id>

and it is destroyed by SIGKILL to its process group and to every descendant found at that moment (Mesos'
`killtree`). A process that double-forked away from the tree escapes, as under Mesos without cgroups.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import psutil

from scheduler.mesos_standin.resources import format_duration


class LaunchError(Exception):
    """The executor could not be started; the message says why (becomes the tasks' TASK_FAILED message)."""


def run_directory(work_dir: str, agent_id: str, framework_id: str, executor_id: str, container_id: str) -> str:
    return os.path.join(executor_directory(work_dir, agent_id, framework_id, executor_id), "runs", container_id)


def executor_directory(work_dir: str, agent_id: str, framework_id: str, executor_id: str) -> str:
    for what, value in (("agent", agent_id), ("framework", framework_id), ("executor", executor_id)):
        if not value or "/" in value or value in (".", "..") or "\x00" in value:
            raise LaunchError(f"{what} ID {value!r} cannot name a directory")
    return os.path.join(work_dir, "slaves", agent_id, "frameworks", framework_id, "executors", executor_id)


def prepare_sandbox(directory: str) -> None:
    """Create the run directory and point `runs/latest` at it (replaced atomically)."""
    os.makedirs(directory, exist_ok=True)
    runs = os.path.dirname(directory)
    tmp = os.path.join(runs, f".latest.{os.getpid()}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.basename(directory), tmp)
    os.replace(tmp, os.path.join(runs, "latest"))


def grace_period(executor_info: dict, default: float) -> float:
    nanos = (executor_info.get("shutdown_grace_period") or {}).get("nanoseconds")
    try:
        return max(0.0, int(nanos) / 1e9) if nanos is not None else default
    except (TypeError, ValueError):
        return default


def environment(*, base: dict, extra: dict, agent_endpoint: str, agent_id: str, framework_id: str,
                executor_id: str, directory: str, checkpoint: bool, grace: float, command: dict) -> dict:
    """The executor's environment: the agent's, then `extra`, then Mesos' variables, then the command's own."""
    env = dict(base)
    env.update(extra)
    env.update({
        "MESOS_AGENT_ENDPOINT": agent_endpoint,
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_EXECUTOR_ID": executor_id,
        "MESOS_DIRECTORY": directory,
        "MESOS_SANDBOX": directory,
        # Mesos passes "1" or "0"; note that pymesos reads any non-empty value, even "0", as true.
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": format_duration(grace),
        "MESOS_SLAVE_ID": agent_id,
        "MESOS_AGENT_ID": agent_id,
        "MESOS_SLAVE_PID": f"slave(1)@{agent_endpoint}",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
    })
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = "15mins"
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
    for variable in (command.get("environment") or {}).get("variables") or []:
        if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
            raise LaunchError("command.environment.variables[] needs a 'name'")
        if variable.get("type", "VALUE") != "VALUE":
            raise LaunchError(f"environment variable {variable['name']}: only VALUE variables are supported")
        env[variable["name"]] = str(variable.get("value", ""))
    return env


def argv(command: dict) -> tuple[list[str], str | None]:
    """(argv, executable) for a CommandInfo: `/bin/sh -c value` when shell (the default), else value + arguments."""
    value = command.get("value", "")
    if command.get("shell", True):
        return ["/bin/sh", "-c", value], None
    arguments = command.get("arguments") or []
    if not value:
        raise LaunchError("command.value names no executable")
    return [str(a) for a in arguments] or [value], value


def fetch(command: dict, directory: str) -> None:
    """Mesos' fetcher, for local paths and file:// URIs only: copy (or extract) each URI into the sandbox."""
    for uri in command.get("uris") or []:
        value = uri.get("value", "") if isinstance(uri, dict) else ""
        path = value[len("file://"):] if value.startswith("file://") else value
        if not path or "://" in path:
            raise LaunchError(f"cannot fetch {value!r}: the stand-in fetches only local paths and file:// URIs")
        if not os.path.exists(path):
            raise LaunchError(f"cannot fetch {value!r}: no such file")
        if uri.get("extract", True) and _is_archive(path):
            try:
                shutil.unpack_archive(path, directory)
            except (shutil.ReadError, OSError) as e:
                raise LaunchError(f"cannot extract {value!r}: {e}") from None
            continue
        target = os.path.join(directory, uri.get("output_file") or os.path.basename(path.rstrip("/")))
        try:
            shutil.copy2(path, target)
        except OSError as e:
            raise LaunchError(f"cannot fetch {value!r}: {e.strerror}") from None
        if uri.get("executable"):
            os.chmod(target, 0o755)


def _is_archive(path: str) -> bool:
    return path.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"))


def spawn(args: list[str], executable: str | None, env: dict, directory: str) -> subprocess.Popen:
    """Start the executor in its own session, output to `stdout`/`stderr` in its run directory."""
    with open(os.path.join(directory, "stdout"), "ab") as out, open(os.path.join(directory, "stderr"), "ab") as err:
        try:
            return subprocess.Popen(args, executable=executable, cwd=directory, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True, close_fds=True)
        except OSError as e:
            raise LaunchError(f"cannot start {args[0] if executable is None else executable}: {e.strerror}") from None


def kill_tree(pid: int) -> None:
    """SIGKILL the executor's process group and every descendant (snapshotted first, then killed)."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass
