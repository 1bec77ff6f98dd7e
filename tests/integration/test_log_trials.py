"""Randomized fault trials (see logtrials.py). `make test` runs LOG_STRESS_TRIALS=4 by default; `make stress`
runs 100. LOG_STRESS_SEED fixes the seeds to replay a failure."""

import os
import random

import pytest
from tests.integration.logtrials import run_trial

TRIALS = int(os.environ.get("LOG_STRESS_TRIALS", "4"))
BASE_SEED = int(os.environ.get("LOG_STRESS_SEED", str(random.SystemRandom().randrange(1_000_000))))
STEPS = int(os.environ.get("LOG_STRESS_STEPS", "3"))


@pytest.mark.parametrize("seed", [BASE_SEED + i for i in range(TRIALS)])
def test_random_faults_keep_the_four_guarantees(seed, tmp_path, zookeeper):
    report = run_trial(tmp_path, zookeeper.endpoints, seed, steps=STEPS)
    print(report)
    assert report["acked"] > 0
