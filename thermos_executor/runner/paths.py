"""Aurora's on-disk layout (docs/decisions.md, decision 3), and the defaults for a root and a sandbox.

  <root>/checkpoints/<task_id>/runner              runner stream (complete history)
  <root>/checkpoints/<task_id>/coordinator.<proc>  one stream per process, shared by all its runs
  <root>/checkpoints/<task_id>/stop_request        a kill's grace, waiting for the runner to take it
  <root>/tasks/active/<task_id>                    the interpolated task JSON while the task is not terminal
  <root>/tasks/finished/<task_id>                  the same file, moved here when the task ends
  <log_dir>/<proc>/<run>/{stdout,stderr}           log_dir defaults to <sandbox>/.logs
"""
from __future__ import annotations

import os

SYSTEM_ROOT = "/var/run/thermos"
SYSTEM_SANDBOX_ROOT = "/var/lib/thermos/sandbox"


def _user_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "thermos")


def _usable(path: str) -> bool:
    """A system directory is used when it exists and is writable, or when we may create it."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return os.access(path, os.W_OK)


def default_root() -> str:
    """/var/run/thermos (Aurora's) when writable, else a per-user root under $XDG_STATE_HOME/thermos/run."""
    return SYSTEM_ROOT if _usable(SYSTEM_ROOT) else os.path.join(_user_state_dir(), "run")


def default_sandbox(task_id: str) -> str:
    """A sandbox of its own per task (Aurora shared one directory between all tasks)."""
    base = SYSTEM_SANDBOX_ROOT if _usable(SYSTEM_SANDBOX_ROOT) else os.path.join(_user_state_dir(), "sandbox")
    return os.path.join(base, task_id)


class TaskPath:
    def __init__(self, root: str, task_id: str):
        self.root = root
        self.task_id = task_id

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.root, "checkpoints", self.task_id)

    @property
    def runner_checkpoint(self) -> str:
        return os.path.join(self.checkpoint_dir, "runner")

    @property
    def stop_request(self) -> str:
        """A kill's grace for the live runner (stop_request.py)."""
        return os.path.join(self.checkpoint_dir, "stop_request")

    def coordinator_checkpoint(self, process: str) -> str:
        return os.path.join(self.checkpoint_dir, "coordinator." + process)

    def task_file(self, state: str) -> str:
        """state: 'active' or 'finished'."""
        return os.path.join(self.root, "tasks", state, self.task_id)


def process_log_dir(log_dir: str, process: str, run: int) -> str:
    return os.path.join(log_dir, process, str(run))


def list_task_ids(root: str, state: str) -> list[str]:
    """Task ids under <root>/tasks/<state> (state 'active' or 'finished'), sorted; dot files are ours."""
    try:
        return sorted(n for n in os.listdir(os.path.join(root, "tasks", state)) if not n.startswith("."))
    except FileNotFoundError:
        return []
