"""The runner with real processes, through the `thermos` CLI a user types: semantics, kill, signals, exits."""
import os
import signal

from tests.helpers import alive, wait_for, write


def states(status):
    return {name: [r["state"] for r in p["runs"]] for name, p in status["processes"].items()}


def test_ordered_task_succeeds_and_logs_are_written(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
a = Process(name='a', cmdline='echo from-a; echo err-a >&2')
b = Process(name='b', cmdline='echo from-b {{thermos.task_id}}')
export(Task(name='ordered', processes=[b, a], constraints=order(a, b)))
""")
    result = thermos.run(cfg, "ordered-1")
    assert result.returncode == 0, result.stderr
    status = thermos.status("ordered-1")
    assert status["state"] == "SUCCESS"
    assert states(status) == {"a": ["SUCCESS"], "b": ["SUCCESS"]}
    runs = {n: p["runs"][0] for n, p in status["processes"].items()}
    assert runs["b"]["start_time"] >= runs["a"]["stop_time"]
    logs = os.path.join(thermos.sandbox("ordered-1"), ".logs")
    assert open(os.path.join(logs, "a/0/stdout")).read() == "from-a\n"
    assert open(os.path.join(logs, "a/0/stderr")).read() == "err-a\n"
    assert open(os.path.join(logs, "b/0/stdout")).read() == "from-b ordered-1\n"
    assert os.path.exists(os.path.join(thermos.root, "tasks/finished/ordered-1"))
    assert not os.path.exists(os.path.join(thermos.root, "tasks/active/ordered-1"))


def test_failures_are_retried_up_to_max_failures_then_the_task_fails(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='f', processes=[Process(name='p', cmdline='exit 7', max_failures=3, min_duration=0)]))
""")
    assert thermos.run(cfg, "f-1").returncode == 1
    status = thermos.status("f-1")
    assert status["state"] == "FAILED"
    assert [(r["state"], r["return_code"]) for r in status["processes"]["p"]["runs"]] == [("FAILED", 7)] * 3


def test_task_max_failures_zero_tolerates_failed_processes(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='z', max_failures=0, processes=[Process(name='bad', cmdline='false'),
                                                  Process(name='good', cmdline='true')]))
""")
    assert thermos.run(cfg, "z-1").returncode == 0
    assert thermos.status("z-1")["state"] == "SUCCESS"


def test_ephemeral_daemon_sidecar_is_terminated_when_the_main_work_ends(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
side = Process(name='side', cmdline='echo up; exec sleep 1000', daemon=True, ephemeral=True)
work = Process(name='work', cmdline='sleep 0.3')
fin = Process(name='fin', cmdline='echo finalized', final=True)
export(Task(name='s', processes=[side, work, fin]))
""")
    assert thermos.run(cfg, "s-1").returncode == 0
    status = thermos.status("s-1")
    assert status["state"] == "SUCCESS"
    side = status["processes"]["side"]["runs"]
    assert len(side) == 1 and side[0]["state"] == "KILLED" and side[0]["return_code"] == -signal.SIGTERM
    assert not alive(side[0]["pid"])
    assert open(os.path.join(thermos.sandbox("s-1"), ".logs/fin/0/stdout")).read() == "finalized\n"


def test_daemon_is_rerun_after_success_and_deadlock_fails_the_task(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
d = Process(name='d', cmdline='test -e stop && exit 9; touch stop', daemon=True, min_duration=0)
export(Task(name='dd', processes=[d]))
""")
    assert thermos.run(cfg, "dd-1").returncode == 1
    assert states(thermos.status("dd-1"))["d"] == ["SUCCESS", "FAILED"]
    cfg2 = write(tmp_path / "t2.thermos", """
a = Process(name='a', cmdline='false')
b = Process(name='b', cmdline='true')
export(Task(name='dl', processes=[a, b], constraints=order(a, b), max_failures=5))
""")
    assert thermos.run(cfg2, "dl-1").returncode == 1
    status = thermos.status("dl-1")
    assert status["state"] == "FAILED" and status["processes"]["b"] == {"state": "WAITING", "runs": []}  # never ran


def test_max_concurrency_is_never_exceeded(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='mc', max_concurrency=2,
            processes=[Process(name='p%d' % i, cmdline='sleep 0.2') for i in range(6)]))
""")
    assert thermos.run(cfg, "mc-1").returncode == 0
    runs = [p["runs"][0] for p in thermos.status("mc-1")["processes"].values()]
    events = sorted([(r["start_time"], 1) for r in runs] + [(r["stop_time"], -1) for r in runs])
    running, peak = 0, 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_sigterm_to_thermos_run_kills_gracefully_and_final_processes_run(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
main = Process(name='main', cmdline='trap "echo got-term; exit 3" TERM; echo ready; sleep 1000 & wait')
fin = Process(name='fin', cmdline='echo cleaned', final=True)
export(Task(name='k', processes=[main, fin]))
""")
    proc = thermos.start(cfg, "k-1")
    stdout = os.path.join(thermos.sandbox("k-1"), ".logs/main/0/stdout")
    wait_for(lambda: os.path.exists(stdout) and "ready" in open(stdout).read(), what="main ready")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 1
    status = thermos.status("k-1")
    assert status["state"] == "KILLED"
    assert open(stdout).read() == "ready\ngot-term\n"
    assert open(os.path.join(thermos.sandbox("k-1"), ".logs/fin/0/stdout")).read() == "cleaned\n"


def test_finalization_wait_bounds_cleanup_of_a_process_ignoring_sigterm(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
stubborn = Process(name='stubborn', cmdline='trap "" TERM; echo ready; while true; do sleep 0.05; done',
                   daemon=True, ephemeral=True)
quick = Process(name='quick', cmdline='true')
export(Task(name='fw', finalization_wait=1, processes=[stubborn, quick]))
""")
    result = thermos.run(cfg, "fw-1")
    assert result.returncode == 0, result.stderr
    run = thermos.status("fw-1")["processes"]["stubborn"]["runs"][-1]
    assert run["state"] == "KILLED" and run["return_code"] == -signal.SIGKILL
    assert not alive(run["pid"])


def test_thermos_kill_of_a_task_whose_runner_is_alive(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='tk', processes=[Process(name='s', cmdline='sleep 1000'),
                                   Process(name='fin', cmdline='echo bye', final=True)]))
""")
    proc = thermos.start(cfg, "tk-1")
    wait_for(lambda: thermos.running("tk-1", "s"))
    result = thermos("kill", "tk-1", check=0)
    assert "Killing tk-1...done (KILLED)." in result.stdout
    assert proc.wait(timeout=10) == 1
    assert thermos.status("tk-1")["state"] == "KILLED"
    assert open(os.path.join(thermos.sandbox("tk-1"), ".logs/fin/0/stdout")).read() == "bye\n"


STUBBORN = """
export(Task(name='stub', processes=[Process(name='s', cmdline="trap '' TERM; echo up; sleep 1000 & wait")]))
"""


def _kill_status(thermos, task_id) -> dict:
    return [r["task_status"] for r in thermos.runner_records(task_id) if "target" in r.get("task_status", {})][0]


def test_kill_grace_reaches_a_live_runner(thermos, tmp_path):
    # The runner was started with its default grace (60 s); `kill --grace 1` must be the deadline it records,
    # and the CLI answers with the task's real end instead of giving up on the runner.
    cfg = write(tmp_path / "t.thermos", STUBBORN)
    proc = thermos.start(cfg, "kg-1")
    pid = wait_for(lambda: thermos.running("kg-1", "s"))["pid"]
    result = thermos("kill", "--grace", "1", "kg-1", check=0)
    assert "Killing kg-1...done (KILLED)." in result.stdout, result.stderr
    assert proc.wait(timeout=10) == 1
    status = _kill_status(thermos, "kg-1")
    assert status["target"] == "KILLED" and status["deadline"] - status["timestamp"] <= 1.01
    run = thermos.status("kg-1")["processes"]["s"]["runs"][-1]
    assert run["state"] == "KILLED" and run["return_code"] == -signal.SIGKILL and not alive(pid)
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints/kg-1/stop_request"))


def test_kill_takes_over_from_a_runner_that_does_not_end_the_kill(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", STUBBORN)
    proc = thermos.start(cfg, "kg-2")
    pid = wait_for(lambda: thermos.running("kg-2", "s"))["pid"]
    proc.send_signal(signal.SIGSTOP)                 # alive, holding its lock, deaf
    result = thermos("kill", "--grace", "0", "kg-2", check=0, timeout=60)
    assert "did not end the kill" in result.stdout and "done (KILLED)." in result.stdout, result
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert thermos.status("kg-2")["state"] == "KILLED" and not alive(pid)


def test_kill_refuses_a_bad_grace(thermos, tmp_path):
    for bad in ("-1", "nan", "inf"):
        result = thermos("kill", "--grace", bad, "anything")
        assert result.returncode == 2 and "--grace" in result.stderr, (bad, result.stderr)
        assert "Traceback" not in result.stderr and "usage:" not in result.stderr


def test_a_second_runner_for_a_live_task_refuses(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", "export(Task(name='two', processes=[Process(name='s', cmdline='sleep 1000')]))")
    proc = thermos.start(cfg, "two-1")
    wait_for(lambda: thermos.status("two-1").get("state") == "ACTIVE")
    second = thermos.run(cfg, "two-1", timeout=30)
    assert second.returncode == 2
    assert f"task two-1 is already being run by pid {proc.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 1


def test_background_children_die_with_their_run(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='bg', processes=[Process(name='p', cmdline='setsid sleep 1000 & echo $! > bgpid')]))
""")
    assert thermos.run(cfg, "bg-1").returncode == 0
    pid = int(open(os.path.join(thermos.sandbox("bg-1"), "bgpid")).read())
    wait_for(lambda: not alive(pid), what="escaped background child to die")


def test_processes_get_aurora_minimal_environment(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='env', processes=[Process(name='p', cmdline='echo $HOME; echo $USER; pwd; echo ${FOO:-unset}')]))
""")
    sandbox = thermos.sandbox("env-1")
    os.makedirs(sandbox)
    write(os.path.join(sandbox, ".thermos_profile"), "export FOO=profiled\n")
    assert thermos.run(cfg, "env-1").returncode == 0
    home, user, cwd, foo = open(os.path.join(sandbox, ".logs/p/0/stdout")).read().split("\n")[:4]
    assert home == sandbox and cwd == sandbox and user and foo == "profiled"


def test_a_lose_right_after_a_launch_leaves_nothing_running(thermos, tmp_path):
    # The lose's SIGKILL may go out before the run has a process; the run must not outlive its task.
    cfg = write(tmp_path / "t.thermos",
                "export(Task(name='l', processes=[Process(name='s', cmdline='echo $$ > pidfile; exec sleep 1000')]))")
    proc = thermos.start(cfg, "lr-1")
    stream = os.path.join(thermos.root, "checkpoints/lr-1/coordinator.s")
    wait_for(lambda: os.path.exists(stream), interval=0.001, what="the launch")
    proc.send_signal(signal.SIGUSR2)
    assert proc.wait(timeout=30) == 1
    assert thermos.status("lr-1")["state"] == "LOST"
    pidfile = os.path.join(thermos.sandbox("lr-1"), "pidfile")
    if os.path.exists(pidfile):                  # it ran: it must be gone with its task
        pid = int(wait_for(lambda: open(pidfile).read().strip(), what="the pid"))
        wait_for(lambda: not alive(pid), what="the lost run's process to die")


def test_a_lose_pending_with_a_kill_stays_a_lose(thermos, tmp_path):
    cfg = write(tmp_path / "t.thermos", """
export(Task(name='lk', processes=[Process(name='s', cmdline='exec sleep 1000'),
                                   Process(name='fin', cmdline='echo fin >> ran', final=True)]))
""")
    proc = thermos.start(cfg, "lk-1")
    wait_for(lambda: thermos.running("lk-1", "s"))
    proc.send_signal(signal.SIGSTOP)             # both signals pending at once; SIGTERM's handler runs last
    proc.send_signal(signal.SIGUSR2)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    assert proc.wait(timeout=30) == 1
    assert thermos.status("lk-1")["state"] == "LOST"
    assert not os.path.exists(os.path.join(thermos.sandbox("lk-1"), "ran"))   # a lose runs no finalizer
