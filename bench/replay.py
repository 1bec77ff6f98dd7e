"""Replay: how long a reader takes to rebuild a long-lived task's state from its checkpoints (median of 7).

The task: 100 processes x 75 runs x 4 process_status records (WAITING, FORKED, RUNNING, exit; one run in 5
FAILED), the last run of every process still RUNNING — 29,900 records plus a header and a task status in the
runner stream, and 100 coordinator streams holding each run's FORKED/RUNNING/exit (224 records each), as a
live runner leaves them. Timed, both in this process:
  - replay: RunnerState.replay(ckpt.read_all(runner stream)), what a restarting runner does;
  - read_state: inspector.read_state(TaskPath(...)), what `thermos status` and the observer do (it also reads
    the coordinator stream of every process whose run is not over).
Goal <= 300 ms each. Floor: plain `json.loads` of the same payloads (already in memory), in the same run:
the decoding no JSON checkpoint can avoid; the rest is framing, CRC, file reads and applying records.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

import benchlib
from benchlib import TaskPath, ckpt, inspector
from thermos_executor.runner.state import RunnerState, process_record

PROCESSES, RUNS = 100, 75
GOAL_MS = 300.0


def build(root: str, task_id: str) -> tuple[list[bytes], list[bytes]]:
    """Write the runner and coordinator streams; return the runner's and the coordinators' JSON payloads."""
    paths = TaskPath(root, task_id)
    os.makedirs(paths.checkpoint_dir)
    t0 = 1.7e9
    runner = [{"header": {"task_id": task_id, "launch_time": t0, "sandbox": "/var/lib/thermos/sandbox/x",
                          "log_dir": "/var/lib/thermos/sandbox/x/.logs", "hostname": "agent-1", "user": "www",
                          "uid": 1000, "ports": {"http": 31337}}},
              {"task_status": {"state": "ACTIVE", "timestamp": t0, "runner_pid": 4242, "runner_uid": 0}}]
    coordinators = {f"proc_{p:03d}": [] for p in range(PROCESSES)}
    for run in range(RUNS):
        for p, name in enumerate(coordinators):
            seq, t, pid = run * 4, t0 + run * 60 + p * 0.01, 10000 + run * PROCESSES * 2 + p * 2
            fail = run % 5 == 4
            records = [process_record(name, "FORKED", seq + 1, coordinator_pid=pid, fork_time=t),
                       process_record(name, "RUNNING", seq + 2, pid=pid + 1, start_time=t + 0.002)]
            if run < RUNS - 1:
                records.append(process_record(name, "FAILED" if fail else "SUCCESS", seq + 3,
                                              return_code=1 if fail else 0, stop_time=t + 59.5))
            runner.append(process_record(name, "WAITING", seq))
            runner += records
            coordinators[name] += records
    payloads = {}
    for path, records in [(paths.runner_checkpoint, runner)] + [
            (paths.coordinator_checkpoint(name), recs) for name, recs in coordinators.items()]:
        with open(path, "wb") as f:
            frames = [ckpt.encode(r) for r in records]
            f.write(b"".join(frames))
        payloads[path] = [frame[ckpt.FRAME.size:] for frame in frames]
    runner_payloads = payloads.pop(paths.runner_checkpoint)
    return runner_payloads, [p for ps in payloads.values() for p in ps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thermos-bench-") as root:
        runner_payloads, coord_payloads = build(root, "replay")
        paths = TaskPath(root, "replay")
        state = inspector.read_state(paths)   # also a check that the streams are what we meant
        assert len(state.processes) == PROCESSES and all(len(r) == RUNS for r in state.processes.values())
        assert all(r[-1].state == "RUNNING" for r in state.processes.values())
        all_payloads = runner_payloads + coord_payloads
        work = {"replay": lambda: RunnerState.replay(ckpt.read_all(paths.runner_checkpoint)),
                "floor_runner": lambda: [json.loads(p) for p in runner_payloads],
                "read_state": lambda: inspector.read_state(paths),
                "floor_all": lambda: [json.loads(p) for p in all_payloads]}
        t = {key: [] for key in work}
        for _ in range(args.repeats):   # interleaved, so noise hits code and floor alike
            for key, fn in work.items():
                t[key].append(benchlib.timed(fn) * 1000)
    m = {key: benchlib.median(values) for key, values in t.items()}
    figures = [
        benchlib.figure("replay_runner_stream", m["replay"], "ms", "json.loads", m["floor_runner"],
                        goal=f"<= {GOAL_MS} ms", met=m["replay"] <= GOAL_MS, fmt="{:.1f}"),
        benchlib.figure("replay_read_state", m["read_state"], "ms", "json.loads", m["floor_all"],
                        goal=f"<= {GOAL_MS} ms", met=m["read_state"] <= GOAL_MS, fmt="{:.1f}"),
    ]
    benchlib.write_results("replay", figures, runner_records=len(runner_payloads),
                           coordinator_records=len(coord_payloads), runs_ms=t)


if __name__ == "__main__":
    main()
