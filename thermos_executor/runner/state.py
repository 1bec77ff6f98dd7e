"""Task and process states, checkpoint records, and the one function that applies a record to a state.

The runner applies every record it writes through `RunnerState.apply`; readers (`thermos status`, the
observer) replay a stream through the same function, so what they show is exactly what the runner knew.

Records (JSON objects, one key each):
  {"header": {task_id, launch_time, sandbox, log_dir, hostname, user, uid, ports}}
  {"task_status": {state, timestamp, runner_pid, runner_uid, [target], [deadline], [reason]}}
  {"process_status": {seq, process, state, [coordinator_pid, fork_time, pid, start_time, return_code,
                      stop_time, run]}}

Per process, `seq` grows by exactly one per record across all of its runs (WAITING=n, FORKED=n+1,
RUNNING=n+2, exit=n+3, next WAITING=n+4; a runner-written LOST/KILLED is current+1). A record whose seq is
not the next one is a duplicate (already applied) or out of order; either way it is not applied.

States are StrEnums: equal to (and serialized as) their names, so records read back as plain strings compare
equal to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum, nonmember


class TaskState(StrEnum):
    ACTIVE = "ACTIVE"
    CLEANING = "CLEANING"
    FINALIZING = "FINALIZING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"
    TERMINAL = nonmember(frozenset({"SUCCESS", "FAILED", "KILLED", "LOST"}))


class ProcessState(StrEnum):
    WAITING = "WAITING"
    FORKED = "FORKED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"
    TERMINAL = nonmember(frozenset({"SUCCESS", "FAILED", "KILLED", "LOST"}))
    LIVE = nonmember(frozenset({"FORKED", "RUNNING"}))


# Which state may follow which (None = no run yet, or the previous run ended).
_ALLOWED = {
    ProcessState.WAITING: {None},
    ProcessState.FORKED: {ProcessState.WAITING},
    ProcessState.RUNNING: {ProcessState.FORKED},
    ProcessState.SUCCESS: {ProcessState.RUNNING},
    ProcessState.FAILED: {ProcessState.WAITING, ProcessState.FORKED, ProcessState.RUNNING},
    ProcessState.KILLED: {ProcessState.FORKED, ProcessState.RUNNING},
    ProcessState.LOST: {ProcessState.WAITING, ProcessState.FORKED, ProcessState.RUNNING},
}
_RUN_FIELDS = ("coordinator_pid", "fork_time", "pid", "start_time", "return_code", "stop_time")


@dataclass
class Run:
    """One run of a process, aggregated from its records."""
    run: int
    state: str
    seq: int
    coordinator_pid: int | None = None
    fork_time: float | None = None
    pid: int | None = None
    start_time: float | None = None
    return_code: int | None = None
    stop_time: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in ProcessState.TERMINAL

    def to_json(self) -> dict:
        return {"run": self.run, "state": self.state, "pid": self.pid, "return_code": self.return_code,
                "start_time": self.start_time, "stop_time": self.stop_time}


@dataclass
class RunnerState:
    header: dict | None = None
    statuses: list[dict] = field(default_factory=list)
    processes: dict[str, list[Run]] = field(default_factory=dict)

    # ---- queries --------------------------------------------------------------------------------------
    @property
    def task_state(self) -> str | None:
        return self.statuses[-1]["state"] if self.statuses else None

    def last_run(self, process: str) -> Run | None:
        runs = self.processes.get(process)
        return runs[-1] if runs else None

    def next_seq(self, process: str) -> int:
        run = self.last_run(process)
        return 0 if run is None else run.seq + 1

    def cleaning_started(self) -> float | None:
        """When the task first left ACTIVE: the start of its finalization clock (never reset by restarts)."""
        for status in self.statuses:
            if status["state"] != TaskState.ACTIVE:
                return status["timestamp"]
        return None

    def forced(self) -> tuple[str | None, float | None]:
        """The terminal state and deadline imposed by the latest kill or lose, if any."""
        for status in reversed(self.statuses):
            if "target" in status:
                return status["target"], status.get("deadline")
        return None, None

    # ---- the one place records change state ------------------------------------------------------------
    def apply(self, record: dict) -> bool:
        """Apply one record; return False (and change nothing) for a process record out of sequence."""
        if "process_status" in record:
            return self._apply_process(record["process_status"])
        if "task_status" in record:
            self.statuses.append(record["task_status"])
        elif "header" in record:
            if self.header is not None and self.header != record["header"]:
                raise ValueError("a second, different runner header in one checkpoint stream")
            self.header = record["header"]
        return True

    def admissible(self, status: dict) -> bool:
        """Whether a process record is the next one for its process (right seq, legal transition)."""
        last = self.last_run(status["process"])
        if status["seq"] != (0 if last is None else last.seq + 1):
            return False
        current = None if last is None or last.terminal else last.state
        return current in _ALLOWED.get(status["state"], ())

    def _apply_process(self, status: dict) -> bool:
        if not self.admissible(status):
            return False
        name, state, seq = status["process"], status["state"], status["seq"]
        runs = self.processes.setdefault(name, [])
        last = runs[-1] if runs else None
        if state == ProcessState.WAITING:
            runs.append(Run(run=len(runs), state=state, seq=seq))
            return True
        last.state, last.seq = state, seq
        for key in _RUN_FIELDS:
            if status.get(key) is not None:
                setattr(last, key, status[key])
        return True

    @classmethod
    def replay(cls, records) -> RunnerState:
        state = cls()
        for record in records:
            state.apply(record)
        return state

    def to_json(self) -> dict:
        """The scripting shape of `thermos status --json` / `thermos read --json` (without root)."""
        header = self.header or {}
        processes = {}
        for name, runs in self.processes.items():
            processes[name] = {"state": runs[-1].state if runs else None,
                               "runs": [run.to_json() for run in runs]}
        return {"task_id": header.get("task_id"), "state": self.task_state, "sandbox": header.get("sandbox"),
                "user": header.get("user"), "ports": header.get("ports", {}),
                "launch_time": header.get("launch_time"), "processes": processes}


def process_record(process: str, state: str, seq: int, **fields) -> dict:
    status = {"process": process, "state": state, "seq": seq}
    status.update({k: v for k, v in fields.items() if v is not None})
    return {"process_status": status}
