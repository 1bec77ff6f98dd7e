"""Chaos: SIGKILL the runner at random moments and restart it until the task ends; every process must run
exactly as often as its recorded runs say, and the runs must be the ones a runner never killed would record.

`make test` runs RUNNER_CHAOS_TRIALS=4 trials; `make stress` runs 100. RUNNER_CHAOS_SEED fixes the seeds to
replay a failure. The random delays are the faults injected, not synchronisation: each trial ends by waiting
for the last runner to exit.
"""
import os
import random
import subprocess

import pytest

from tests.helpers import kill9, write

TRIALS = int(os.environ.get("RUNNER_CHAOS_TRIALS", "4"))
BASE_SEED = int(os.environ.get("RUNNER_CHAOS_SEED", str(random.SystemRandom().randrange(1_000_000))))
MAX_KILLS = 6

# a -> b (fails twice, min_duration's back-off between runs; the task tolerates it), and a final c: kills land
# in every phase.
CONFIG = """
a = Process(name='a', cmdline='echo x >> a.count; sleep 0.4')
b = Process(name='b', cmdline='echo x >> b.count; sleep 0.4; exit 1', max_failures=2, min_duration=1)
c = Process(name='c', cmdline='echo x >> c.count; sleep 0.4', final=True)
export(Task(name='angry', processes=[a, b, c], constraints=order(a, b), max_failures=2, finalization_wait=5))
"""


@pytest.mark.parametrize("seed", [BASE_SEED + i for i in range(TRIALS)])
def test_runner_killed_at_random_never_runs_a_process_twice(thermos, tmp_path, seed):
    rng, task_id = random.Random(seed), f"angry-{seed}"
    cfg = write(tmp_path / "angry.thermos", CONFIG)
    for _ in range(MAX_KILLS):
        proc = thermos.start(cfg, task_id)
        try:
            proc.wait(timeout=rng.uniform(0.01, 0.9))
            break                        # the task ended before this kill was due
        except subprocess.TimeoutExpired:
            kill9(proc)
    else:
        proc = thermos.start(cfg, task_id)
    proc.communicate(timeout=60)
    status = thermos.status(task_id)
    runs = {name: [r["state"] for r in p["runs"]] for name, p in status["processes"].items()}
    sandbox = thermos.sandbox(task_id)
    executions = {name: len(open(os.path.join(sandbox, f"{name}.count")).readlines())
                  if os.path.exists(os.path.join(sandbox, f"{name}.count")) else 0 for name in "abc"}
    assert (status["state"], runs, executions) == (
        "SUCCESS", {"a": ["SUCCESS"], "b": ["FAILED", "FAILED"], "c": ["SUCCESS"]}, {"a": 1, "b": 2, "c": 1}), \
        f"seed {seed} (replay: RUNNER_CHAOS_SEED={seed} RUNNER_CHAOS_TRIALS=1)"
