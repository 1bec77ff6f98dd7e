"""The observer's model of a node: which tasks exist, their state, and the shapes the pages and /j/ serve.

`TaskObserver` joins discovery (which tasks), the one checkpoint reader (`thermos_executor.runner.inspector`)
and the sampler. Active tasks keep an incremental `StateReader` (new records only are decoded); finished
tasks are read when asked and kept in a bounded LRU cache, validated by the checkpoint's size and mtime, so
memory does not grow with the number of finished tasks. The dict shapes follow Aurora's TaskObserver
(docs/observer.md), with its bugs fixed: unknown ids are None (the handlers answer 404),
timestamps are integer seconds computed with //, and `return_code` is present whenever it is known.
"""
from __future__ import annotations

import collections
import json
import os

from thermos_executor.runner import inspector
from thermos_executor.runner.paths import TaskPath
from thermos_executor.runner.state import ProcessState, RunnerState, TaskState
from thermos_observer.discovery import Discovery, Entry
from thermos_observer.sampler import Sampler, empty_sample

TYPES = ("all", "active", "finished")
_PROCESS_BUCKETS = {ProcessState.WAITING: "waiting", ProcessState.FORKED: "running",
                    ProcessState.RUNNING: "running", ProcessState.SUCCESS: "success",
                    ProcessState.FAILED: "failed", ProcessState.KILLED: "killed", ProcessState.LOST: "waiting"}


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self._data: collections.OrderedDict = collections.OrderedDict()

    def get(self, key, validator):
        item = self._data.get(key)
        if item is None or item[0] != validator:
            return None
        self._data.move_to_end(key)
        return item[1]

    def put(self, key, validator, value) -> None:
        self._data[key] = (validator, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def discard(self, key) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


def _stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _seconds(value) -> int | None:
    return None if value is None else int(value // 1)


class TaskObserver:
    def __init__(self, discovery: Discovery, sampler: Sampler | None = None, cache_size: int = 256):
        self.discovery = discovery
        self.sampler = sampler or Sampler(enabled=False)
        self._readers: dict[str, inspector.StateReader] = {}
        self._finished = _LRU(cache_size)
        self._task_json = _LRU(cache_size)

    # ---- keeping up with the disk ---------------------------------------------------------------------
    def refresh(self) -> bool:
        changed = self.discovery.scan()
        if changed:
            active = {e.task_id for e in self.discovery.listing("active")}
            for task_id in [t for t in self._readers if t not in active]:
                self._readers.pop(task_id).close()
            self.sampler.retain(active)
        return changed

    def active_states(self) -> dict[str, RunnerState]:
        states = {}
        for entry in self.discovery.listing("active"):
            state = self.state(entry)
            if state is not None:
                states[entry.task_id] = state
        return states

    # ---- reading one task -----------------------------------------------------------------------------
    def entry(self, task_id: str) -> Entry | None:
        return self.discovery.get(task_id)

    def state(self, entry: Entry) -> RunnerState | None:
        paths = TaskPath(entry.root, entry.task_id)
        if entry.status == "active":
            reader = self._readers.get(entry.task_id)
            if reader is None:
                reader = self._readers[entry.task_id] = inspector.StateReader(paths)
            state = reader.read()
        else:
            stamp = _stamp(paths.runner_checkpoint)
            if stamp is None:
                return None
            state = self._finished.get(entry.task_id, stamp)
            if state is None:
                state = inspector.read_state(paths)
                self._finished.put(entry.task_id, stamp, state)
        return state if state.header is not None else None

    def task_json(self, entry: Entry) -> dict | None:
        path = TaskPath(entry.root, entry.task_id).task_file(entry.status)
        stamp = _stamp(path)
        if stamp is None:
            other = "finished" if entry.status == "active" else "active"   # it may have moved since the scan
            path = TaskPath(entry.root, entry.task_id).task_file(other)
            stamp = _stamp(path)
            if stamp is None:
                return None
        task = self._task_json.get((entry.task_id, path), stamp)
        if task is None:
            try:
                with open(path) as f:
                    task = json.load(f)
            except (OSError, ValueError):
                return None
            if not isinstance(task, dict):
                return None
            self._task_json.put((entry.task_id, path), stamp, task)
        return task

    def lookup(self, task_id: str):
        """(entry, state, task json) of a known, readable task, or None."""
        entry = self.entry(task_id)
        if entry is None:
            return None
        state = self.state(entry)
        if state is None:
            return None
        return entry, state, self.task_json(entry) or {}

    # ---- Aurora's shapes ------------------------------------------------------------------------------
    def main(self, which: str = "all", offset: int = 0, num: int = 20) -> dict:
        entries = self.discovery.listing(which)
        if offset < 0:
            offset = offset % len(entries) if len(entries) > -offset else 0
        rows = []
        for entry in entries[offset:offset + num]:
            row = self.task_row(entry.task_id)
            if row:
                rows.append(row)
        return {"tasks": rows, "type": which, "offset": offset, "num": num, "task_count": len(entries)}

    def task_row(self, task_id: str) -> dict | None:
        task = self.task(task_id)
        if task is None:
            return None
        row = {k: task[k] for k in ("task_id", "name", "launch_timestamp", "state", "state_timestamp", "ports")}
        row["role"] = task["user"]
        row.update(task["resource_consumption"])
        return row

    def task(self, task_id: str, found=None) -> dict | None:
        """`found`: the task's `lookup()`, if the caller did it already."""
        found = found or self.lookup(task_id)
        if found is None:
            return None
        entry, state, task_json = found
        header = state.header
        statuses = state.statuses
        current = state.task_state or TaskState.ACTIVE
        since = None
        for status in reversed(statuses):
            if status["state"] != current:
                break
            since = status["timestamp"]
        processes = {"waiting": [], "running": [], "success": [], "failed": [], "killed": []}
        for name, runs in state.processes.items():
            bucket = _PROCESS_BUCKETS.get(runs[-1].state if runs else None, "waiting")
            processes[bucket].append(name)
        processes["waiting"] += inspector.never_run(state, task_json)   # skipped, or not started yet
        if entry.status == "active":
            consumption = self.sampler.task_sample(task_id)
        else:
            consumption = dict(empty_sample(), disk=0)
        consumption.pop("procs", None)
        return {"task_id": task_id, "name": task_json.get("name", ""),
                "launch_timestamp": _seconds(statuses[0]["timestamp"] if statuses else header.get("launch_time")),
                "state": current, "state_timestamp": _seconds(since), "user": header.get("user"),
                "resource_consumption": consumption, "ports": header.get("ports") or {},
                "processes": processes, "task": task_json}

    def tasks(self, task_ids) -> dict:
        return {task_id: self.task(task_id) for task_id in task_ids}

    def process(self, task_id: str, name: str, run: int | None = None) -> dict | None:
        found = self.lookup(task_id)
        return None if found is None else self._process(found[0], found[1], name, run)

    def _process(self, entry: Entry, state: RunnerState, name: str, run: int | None = None) -> dict | None:
        task_id = entry.task_id
        runs = state.processes.get(name)
        if not runs:
            return None
        if run is None or run == -1:
            run = len(runs) - 1
        if run < 0 or run >= len(runs):
            return None
        r = runs[run]
        data = {"process_name": name, "process_run": run, "state": r.state}
        for key in ("start_time", "stop_time", "return_code", "pid"):
            if getattr(r, key) is not None:
                data[key] = getattr(r, key)
        if r.state == ProcessState.RUNNING and run == len(runs) - 1 and entry.status == "active":
            data["used"] = self.sampler.process_sample(task_id, name)
        return data

    def processes(self, task_ids) -> dict:
        out = {}
        for task_id in task_ids:
            found = self.lookup(task_id)
            if found is None:
                out[task_id] = None
                continue
            entry, state, task_json = found
            out[task_id] = {name: self._process(entry, state, name) for name in state.processes}
            out[task_id].update((name, {"process_name": name, "state": ProcessState.WAITING})
                                for name in inspector.never_run(state, task_json))
        return out

    def process_runs(self, task_id: str, name: str, found=None) -> list[dict] | None:
        """Every run of a process, oldest first (the process page). `found`: the task's `lookup()`, if done."""
        found = found or self.lookup(task_id)
        if found is None or name not in found[1].processes:
            return None
        entry, state, _ = found
        return [self._process(entry, state, name, run) for run in range(len(state.processes[name]))]

    def task_id_count(self) -> dict:
        return self.discovery.counts()

    def stats(self) -> dict:
        return {"readers": len(self._readers), "finished_cache": len(self._finished)}
