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
from thermos_executor.runner.state import RunnerState


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
        return ckpt.lock_holder(self.paths.runner_checkpoint)

    def task_json(self) -> dict | None:
        try:
            with open(self.paths.task_file(self.status)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def to_json(self) -> dict:
        data = self.state.to_json()
        data["task_id"] = self.task_id
        data["root"] = self.root
        return data


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
