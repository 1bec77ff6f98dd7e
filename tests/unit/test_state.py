"""Record replay: sequence numbers, transitions, duplicates, forced terminal states, the JSON shape."""
from thermos_executor.runner.state import ProcessState as P
from thermos_executor.runner.state import RunnerState, process_record


def run_records(name, start, end_state, rc):
    return [process_record(name, P.WAITING, start),
            process_record(name, P.FORKED, start + 1, coordinator_pid=10, fork_time=1.0),
            process_record(name, P.RUNNING, start + 2, pid=11, start_time=1.1),
            process_record(name, end_state, start + 3, return_code=rc, stop_time=2.0)]


def test_runs_aggregate_and_failed_keeps_return_code():
    state = RunnerState.replay(run_records("p", 0, P.FAILED, 3) + run_records("p", 4, P.SUCCESS, 0))
    runs = state.processes["p"]
    assert [(r.run, r.state, r.return_code) for r in runs] == [(0, P.FAILED, 3), (1, P.SUCCESS, 0)]
    assert runs[0].stop_time == 2.0 and runs[0].pid == 11


def test_duplicates_and_out_of_order_records_are_not_applied():
    records = run_records("p", 0, P.SUCCESS, 0)
    state = RunnerState.replay(records)
    assert not state.apply(records[2])                                   # duplicate
    assert not state.apply(process_record("p", P.RUNNING, 4, pid=1))     # RUNNING without WAITING/FORKED
    assert not state.apply(process_record("q", P.FORKED, 0))             # a run must start with WAITING
    assert state.processes["p"][-1].state == P.SUCCESS


def test_lost_may_end_a_waiting_run_and_next_run_follows():
    state = RunnerState.replay([process_record("p", P.WAITING, 0), process_record("p", P.LOST, 1, stop_time=3.0),
                                process_record("p", P.WAITING, 2)])
    assert [r.state for r in state.processes["p"]] == [P.LOST, P.WAITING]
    assert state.next_seq("p") == 3


def test_cleaning_start_and_forced_target():
    state = RunnerState.replay([
        {"task_status": {"state": "ACTIVE", "timestamp": 1.0}},
        {"task_status": {"state": "CLEANING", "timestamp": 5.0, "target": "KILLED", "deadline": 65.0}},
        {"task_status": {"state": "CLEANING", "timestamp": 9.0}},          # a restarted runner re-asserting
    ])
    assert state.cleaning_started() == 5.0
    assert state.forced() == ("KILLED", 65.0)
    assert state.task_state == "CLEANING"


def test_json_shape():
    state = RunnerState.replay([{"header": {"task_id": "t", "user": "u", "ports": {"http": 8}, "sandbox": "/s",
                                            "launch_time": 1.0}},
                                {"task_status": {"state": "ACTIVE", "timestamp": 1.0}}]
                               + run_records("p", 0, P.SUCCESS, 0))
    data = state.to_json()
    assert data["task_id"] == "t" and data["state"] == "ACTIVE" and data["ports"] == {"http": 8}
    assert data["processes"]["p"] == {"state": "SUCCESS", "runs": [
        {"run": 0, "state": "SUCCESS", "pid": 11, "return_code": 0, "start_time": 1.1, "stop_time": 2.0}]}
