"""Read-only views of tasks on disk: discovery under checkpoint roots and each task's current state.

This is the one reader of checkpoints outside the runner (the CLI and the observer use it). A task's state is
its runner stream replayed, plus what coordinators recorded that the runner has not copied yet (the runner
may be dead, or just about to copy it), so a reader never shows less than what really happened.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from thermos_executor.runner import ckpt
from thermos_executor.runner.paths import TaskPath, list_task_ids
from thermos_executor.runner.state import ProcessState, RunnerState


@dataclass
class TaskView:
    root: str
    task_id: str
    status: str            # 'active' or 'finished', from where the task file is
    state: RunnerState

    @property
    def paths(self) -> TaskPath:
        return TaskPath(self.root, self.task_id)

    def runner_pid(self) -> int | None:
        """The live runner of this task, if one holds its checkpoint lock."""
        return runner_pid(self.paths)

    def task_json(self) -> dict | None:
        try:
            with open(self.paths.task_file(self.status)) as f:
                task = json.load(f)
        except (OSError, ValueError):
            return None
        return task if isinstance(task, dict) else None

    def never_run(self) -> list[str]:
        return never_run(self.state, self.task_json())

    def never_started(self) -> bool:
        """An active task whose runner never got as far as its header (it failed setting up, or was killed
        then) and that no runner holds now: nothing of it ever ran, and nothing will."""
        return self.status == "active" and self.state.header is None and self.runner_pid() is None

    def to_json(self) -> dict:
        """The `thermos status --json` shape: the replayed state, plus root, the live runner's pid (None: no
        runner runs the task) and the processes that never ran (state WAITING, no runs)."""
        data = self.state.to_json()
        data["task_id"] = self.task_id
        data["root"] = self.root
        data["runner_pid"] = self.runner_pid()
        for name in self.never_run():
            data["processes"][name] = {"state": ProcessState.WAITING, "runs": []}
        return data


def runner_pid(paths: TaskPath) -> int | None:
    """The pid of the live runner of a task, None when no runner runs it (it ended, or died)."""
    return ckpt.lock_holder(paths.runner_checkpoint)


def never_run(state: RunnerState, task_json: dict | None) -> list[str]:
    """The processes of the task (from its task file) that have no run: not started yet, or never to be (a
    predecessor failed, the task was killed first), in the task's order."""
    processes = (task_json or {}).get("processes") or []
    names = [p.get("name") for p in processes if isinstance(p, dict)]
    return [name for name in names if isinstance(name, str) and name not in state.processes]


def read_state(paths: TaskPath) -> RunnerState:
    state = RunnerState.replay(ckpt.read_all(paths.runner_checkpoint))
    for name, runs in list(state.processes.items()):
        if runs and not runs[-1].terminal:
            for record in ckpt.read_all(paths.coordinator_checkpoint(name)):
                state.apply(record)
    return state


def read_task(root: str, task_id: str) -> TaskView | None:
    paths = TaskPath(root, task_id)
    for status in ("active", "finished"):
        if os.path.exists(paths.task_file(status)):
            return TaskView(root, task_id, status, read_state(paths))
    return None


def find_tasks(roots, patterns=(), only: str | None = None) -> list[TaskView]:
    """Tasks under `roots` whose id starts with a match of one of `patterns` (all if none), newest first."""
    regexes = [re.compile(p) for p in patterns]
    views, seen = [], set()
    for root in roots:
        for status in ("active", "finished"):
            if only and only != status:
                continue
            for task_id in list_task_ids(root, status):
                if (root, task_id) in seen or (regexes and not any(r.match(task_id) for r in regexes)):
                    continue
                seen.add((root, task_id))
                views.append(TaskView(root, task_id, status, read_state(TaskPath(root, task_id))))
    views.sort(key=lambda v: (v.state.header or {}).get("launch_time") or 0, reverse=True)
    return views


class StateReader:
    """One task's state kept current incrementally: each `read()` decodes only the records appended since.

    It gives the same state as `read_state` (the runner stream, plus coordinator records for runs the runner
    has not seen end), but remembers how far it read each stream, so a reader that looks at a task often (the
    observer) pays for new records only. A stream that was replaced (another inode) or shrank below what was
    read starts the state over. The returned state is shared: callers must not change it. `close()` lets go
    of the open files.
    """

    def __init__(self, paths: TaskPath):
        self.paths = paths
        self._reset()

    def _reset(self) -> None:
        self.state = RunnerState()
        self._runner = ckpt.Tailer(self.paths.runner_checkpoint)
        self._coordinators: dict[str, ckpt.Tailer] = {}
        self._seen = None

    def read(self) -> RunnerState:
        try:
            st = os.stat(self.paths.runner_checkpoint)
        except FileNotFoundError:
            if self._seen is not None:
                self.close()
                self._reset()
            return self.state
        if self._seen is not None and (st.st_ino != self._seen or st.st_size < self._runner.offset):
            self.close()
            self._reset()
        self._seen = st.st_ino
        for record in self._runner.read_new():
            self.state.apply(record)
        for name, runs in list(self.state.processes.items()):
            if runs and not runs[-1].terminal:
                tailer = self._coordinators.get(name)
                if tailer is None:
                    tailer = self._coordinators[name] = ckpt.Tailer(self.paths.coordinator_checkpoint(name))
                for record in tailer.read_new():
                    self.state.apply(record)
            elif name in self._coordinators:
                self._coordinators.pop(name).close()
        return self.state

    def close(self) -> None:
        self._runner.close()
        for tailer in self._coordinators.values():
            tailer.close()
        self._coordinators = {}
