"""Runner death and restart: no process lost, none run twice, correct final states, torn tails tolerated.

Each process appends its name to `ran` in the sandbox: that file, not the checkpoint, is the witness that a
process did not run twice.
"""
import os
import signal

import pytest

from tests.helpers import alive, kill9, wait_for, write

SEQUENTIAL = """
def step(i):
    return Process(name='s%d' % i, cmdline='echo s%d >> ran; sleep 0.15' % i)
steps = [step(i) for i in range(4)]
fin = Process(name='fin', cmdline='echo fin >> ran', final=True)
export(SequentialTask(name='seq', processes=steps)(processes=steps + [fin]))
"""


@pytest.mark.parametrize("kill_after_records", [2, 3, 4, 5, 6, 8, 11, 14, 17, 19])
def test_kill9_of_the_runner_at_any_point_then_restart(thermos, tmp_path, kill_after_records):
    cfg = write(tmp_path / "seq.thermos", SEQUENTIAL)
    task_id = f"seq-{kill_after_records}"
    proc = thermos.start(cfg, task_id)
    wait_for(lambda: len(thermos.runner_records(task_id)) >= kill_after_records or proc.poll() is not None,
             what=f"{kill_after_records} records")
    kill9(proc)
    result = thermos.run(cfg, task_id)
    assert result.returncode == 0, result.stderr
    status = thermos.status(task_id)
    assert status["state"] == "SUCCESS"
    ran = open(os.path.join(thermos.sandbox(task_id), "ran")).read().split()
    assert ran == ["s0", "s1", "s2", "s3", "fin"]
    for name, process in status["processes"].items():
        assert [r["state"] for r in process["runs"]] == ["SUCCESS"], (name, process)


def test_live_processes_are_reattached_not_restarted(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='live', processes=[Process(name='srv', cmdline='echo start >> ran; exec sleep 1000'),
                                     Process(name='quick', cmdline='sleep 0.5; echo quick >> ran')]))
""")
    proc = thermos.start(cfg, "live-1")
    srv = wait_for(lambda: thermos.running("live-1", "srv"), what="srv running")["pid"]
    kill9(proc)
    assert alive(srv)
    # `quick` ends while no runner exists; the new runner must learn that from its coordinator's stream.
    wait_for(lambda: "quick" in open(os.path.join(thermos.sandbox("live-1"), "ran")).read(), what="quick ran")
    proc2 = thermos.start(cfg, "live-1")
    wait_for(lambda: thermos.status("live-1")["processes"]["quick"]["state"] == "SUCCESS", what="quick recorded")
    status = thermos.status("live-1")
    assert [r["pid"] for r in status["processes"]["srv"]["runs"]] == [srv]
    assert status["processes"]["srv"]["state"] == "RUNNING"
    proc2.send_signal(signal.SIGTERM)
    assert proc2.wait(timeout=30) == 1
    assert not alive(srv)
    assert open(os.path.join(thermos.sandbox("live-1"), "ran")).read().split() == ["start", "quick"]


def test_coordinator_killed_means_lost_and_the_process_runs_again(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='lost', processes=[Process(name='p', min_duration=0,
            cmdline='echo run >> ran; test -e second && exit 0; touch second; exec sleep 1000')]))
""")
    proc = thermos.start(cfg, "lost-1")
    run = wait_for(lambda: thermos.running("lost-1", "p"), what="first run")
    records = thermos.runner_records("lost-1")
    coordinator = [r["process_status"]["coordinator_pid"] for r in records
                   if r.get("process_status", {}).get("state") == "FORKED"][0]
    os.kill(coordinator, signal.SIGKILL)
    assert proc.wait(timeout=30) == 0
    status = thermos.status("lost-1")
    assert [r["state"] for r in status["processes"]["p"]["runs"]] == ["LOST", "SUCCESS"]
    assert not alive(run["pid"])          # the orphaned first run was killed before the second started
    assert open(os.path.join(thermos.sandbox("lost-1"), "ran")).read().split() == ["run", "run"]


def test_torn_tail_of_the_runner_checkpoint_is_repaired_on_restart(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(SequentialTask(name='torn', processes=[Process(name='a', cmdline='echo a >> ran'),
                                              Process(name='b', cmdline='sleep 1000')]))
""")
    proc = thermos.start(cfg, "torn-1")
    wait_for(lambda: thermos.running("torn-1", "b"))
    kill9(proc)
    path = os.path.join(thermos.root, "checkpoints/torn-1/runner")
    good_size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x01\x00garbage-from-a-crash")
    assert thermos.status("torn-1")["processes"]["b"]["state"] == "RUNNING"      # readers stop at the tail
    proc2 = thermos.start(cfg, "torn-1")
    wait_for(lambda: len(thermos.runner_records("torn-1")) > 0 and os.path.getsize(path) > good_size
             and thermos.status("torn-1")["state"] == "ACTIVE", what="restart")
    thermos("kill", "--grace", "5", "torn-1", check=0)
    assert proc2.wait(timeout=30) == 1
    records = thermos.runner_records("torn-1")
    assert records[-1]["task_status"]["state"] == "KILLED"       # later records reachable: the tail was cut
    assert open(os.path.join(thermos.sandbox("torn-1"), "ran")).read().split() == ["a"]


def test_kill_of_a_task_whose_runner_died_takes_over(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='orph', processes=[Process(name='s', cmdline='exec sleep 1000'),
                                     Process(name='fin', cmdline='echo fin >> ran', final=True)]))
""")
    proc = thermos.start(cfg, "orph-1")
    pid = wait_for(lambda: thermos.running("orph-1", "s"))["pid"]
    kill9(proc)
    result = thermos("kill", "orph-1", check=0)
    assert "done (KILLED)" in result.stdout
    assert not alive(pid)
    assert thermos.status("orph-1")["state"] == "KILLED"
    assert open(os.path.join(thermos.sandbox("orph-1"), "ran")).read().split() == ["fin"]


def _pidfd_targets(pid: int) -> set[int]:
    """The pids that process `pid` holds pidfds for (what a runner is following)."""
    targets = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                targets.update(int(line.split()[1]) for line in f if line.startswith("Pid:"))
        except OSError:
            pass
    return targets


def test_an_earlier_runs_coordinator_is_not_taken_for_the_current_ones(thermos, tmp_path):
    """Run 0's coordinator still lives (draining its logs) when a restarted runner replays the stream, which
    holds run 0's records too: its exit must not make the live run 1 LOST and run a third time."""
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='drain', processes=[Process(name='p', min_duration=0, max_failures=3, logger=Logger(mode='rotate'),
  cmdline='echo run >> ran; if [ ! -e first ]; then touch first; (sleep 1000 &); exit 1; fi; exec sleep 1000')]))
""")
    proc = thermos.start(cfg, "drain-1")
    forked = lambda: [r["process_status"]["coordinator_pid"] for r in thermos.runner_records("drain-1")  # noqa: E731
                      if r.get("process_status", {}).get("state") == "FORKED"]
    # Run 1 is forked as soon as run 0 failed: records are in order, so run 0's coordinator is the first FORKED.
    wait_for(lambda: forked() and thermos.status("drain-1")["processes"]["p"]["runs"][0]["state"] == "FAILED",
             what="run 0 failed")
    first = forked()[0]
    os.kill(first, signal.SIGSTOP)        # alive (its background writer holds the log pipe) for as long as we like
    try:
        assert alive(first), "run 0's coordinator ended before the test could hold it"
        wait_for(lambda: thermos.running("drain-1", "p"), what="run 1 running")
        kill9(proc)
        second = forked()[1]
        proc2 = thermos.start(cfg, "drain-1")
        runner = wait_for(lambda: thermos.runner_records("drain-1")[-1].get("task_status", {}).get("runner_pid"),
                          what="restarted runner")
        wait_for(lambda: second in _pidfd_targets(runner), what="the restarted runner following run 1")
    finally:
        os.kill(first, signal.SIGCONT)
    wait_for(lambda: not alive(first), what="run 0's coordinator to exit")
    thermos("kill", "--grace", "5", "drain-1", check=0)
    assert proc2.wait(timeout=30) == 1
    assert [r["state"] for r in thermos.status("drain-1")["processes"]["p"]["runs"]] == ["FAILED", "KILLED"]
    assert open(os.path.join(thermos.sandbox("drain-1"), "ran")).read().split() == ["run", "run"]
