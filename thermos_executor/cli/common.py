"""What `thermos` and `thermos_runner` share: flag spellings, -P/-E parsing, and building a runner for a task."""
from __future__ import annotations

import argparse
import logging
import os
import pwd
import re
import sys
import time

from thermos_executor import config
from thermos_executor.errors import ThermosError
from thermos_executor.flags import add_flag
from thermos_executor.logs.policy import DESTINATIONS, MODES, LogDefaults
from thermos_executor.runner.paths import default_sandbox
from thermos_executor.runner.task_runner import RunnerOptions, TaskRunner

TASK_ID = re.compile(r"^[^./][^/]*$")


class UsageError(ThermosError):
    """A bad flag value: exit 2 like argparse's own errors."""


class UnknownUser(UsageError):
    """The run-as user does not exist (thermos_runner exits 104 for it, as Aurora's did)."""


def parse_ports(values) -> dict[str, int]:
    ports = {}
    for value in values or ():
        name, sep, port = value.partition(":")
        if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"bad port {value!r}: expected NAME:PORT with PORT in 1..65535")
        if name in ports:
            raise UsageError(f"port {name!r} bound twice ({name}:{ports[name]} and {value})")
        ports[name] = int(port)
    return ports


def parse_bindings(values) -> dict[str, str]:
    bindings = {}
    for value in values or ():
        name, sep, val = value.partition("=")
        if not sep or not name:
            raise UsageError(f"bad binding {value!r}: expected NAME=VALUE")
        bindings[name] = val
    return bindings


def check_task_id(task_id: str) -> str:
    if not TASK_ID.match(task_id):
        raise UsageError(f"bad task id {task_id!r}: it may not be empty, start with '.' or contain '/'")
    return task_id


def check_sandbox(sandbox: str) -> str:
    """A sandbox the runner can use or create: checked before anything of the task is written, so that a bad
    one leaves nothing behind. The closest existing part of the path must be a directory we may write in."""
    existing = sandbox
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is not a directory" if existing == sandbox else f"cannot be made: {existing} is not a directory"
        raise UsageError(f"sandbox {sandbox} {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == sandbox else f"cannot be made: {existing} is not writable"
        raise UsageError(f"sandbox {sandbox} {what}")
    return sandbox


def current_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def check_user(user: str | None) -> str:
    """The run-as user: it must exist, and switching to another user needs root."""
    if user is None:
        return current_user()
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        raise UnknownUser(f"unknown user {user!r}") from None
    if uid != os.getuid() and os.geteuid() != 0:
        raise UsageError(f"running processes as {user!r} needs root (we are {current_user()!r})")
    return user


def new_task_id(name: str) -> str:
    now = time.time()
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}.{int(now % 1 * 1e6):06d}"


def add_logger_flags(parser: argparse.ArgumentParser) -> None:
    """The cluster-wide defaults for processes whose config sets no `logger` (Aurora's runner flags)."""
    add_flag(parser, "--process_logger_destination", choices=DESTINATIONS,
             help="where process output goes when a process sets no logger (default file)")
    add_flag(parser, "--process_logger_mode", choices=MODES, help="standard (default) or rotate")
    add_flag(parser, "--rotate_log_size_mb", type=int, metavar="MB", help="rotate mode: file size (default 100)")
    add_flag(parser, "--rotate_log_backups", type=int, metavar="N", help="rotate mode: files kept (default 5)")


def log_defaults(args) -> LogDefaults:
    return LogDefaults(destination=args.process_logger_destination, mode=args.process_logger_mode,
                       rotate_log_size_mb=args.rotate_log_size_mb, rotate_log_backups=args.rotate_log_backups)


def build_runner(task, *, root: str, task_id: str | None, sandbox: str | None, ports: dict, user: str | None,
                 bindings: dict | None = None, hostname: str | None = None, preserve_env: bool = False,
                 kill_grace: float | None = None, logs: LogDefaults | None = None) -> TaskRunner:
    """Validate and interpolate a pystachio task and make the runner that will run (or resume) it."""
    user = check_user(user)
    if task_id is None:
        draft = config.interpolate(task, task_id="pending", ports=ports, user=user, bindings=bindings,
                                   hostname=hostname)
        task_id = new_task_id(config.to_spec(draft).name)
    check_task_id(task_id)
    final = config.interpolate(task, task_id=task_id, ports=ports, user=user, bindings=bindings,
                               hostname=hostname)
    options = RunnerOptions(task_id=task_id, root=os.path.abspath(root),
                            sandbox=check_sandbox(os.path.abspath(sandbox or default_sandbox(task_id))),
                            ports=ports, user=user, hostname=hostname, preserve_env=preserve_env)
    if kill_grace is not None:
        options.kill_grace = kill_grace
    if logs is not None:
        options.log_defaults = logs
    return TaskRunner(config.to_spec(final), config.task_to_json(final), options)


def existing_runner(view) -> TaskRunner:
    """A runner for a task already on disk, rebuilt from its task file and header (to kill or resume it)."""
    task_json, header = view.task_json(), view.state.header
    if view.never_started():
        raise ThermosError(f"task {view.task_id} never started (its runner failed setting it up): "
                           "`thermos gc` removes it")
    if task_json is None or header is None:
        raise ThermosError(f"task {view.task_id}: its task file or checkpoint header is missing or unreadable")
    task = config.task_from_json(task_json)
    options = RunnerOptions(task_id=view.task_id, root=view.root, sandbox=header["sandbox"],
                            ports=header.get("ports", {}), user=header.get("user"),
                            hostname=header.get("hostname"))
    return TaskRunner(config.to_spec(task), task_json, options)


class _FileHandler(logging.FileHandler):
    """A log file whose directory is made when the file is opened (at the first record, with `delay`)."""

    def _open(self):
        os.makedirs(os.path.dirname(self.baseFilename), exist_ok=True)
        return super()._open()


def setup_logging(verbose: bool = True, path: str | None = None, delay: bool = False) -> None:
    """Log to stderr, or to `path` (`delay`: opened, and its directory made, at the first record)."""
    handler = _FileHandler(path, delay=delay) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def fail(prog: str, message: str, code: int = 2) -> int:
    sys.stderr.write(f"{prog}: error: {message}\n")
    return code

