"""A kill's grace, handed to a live runner: `thermos kill --grace N` writes it, then signals the runner.

A signal carries no value, so the grace travels in a small file in the task's checkpoint directory, written
before the signal (atomically: a runner never reads half of it) and taken (read and removed) by the runner when
it handles the signal. A runner signalled without one (the executor, `kill -TERM`) uses its own
`--kill_grace_secs`.
"""
from __future__ import annotations

import json
import math
import os

from thermos_executor.runner.paths import TaskPath


def write(paths: TaskPath, grace: float) -> None:
    tmp = paths.stop_request + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"grace": grace}, f)
    os.replace(tmp, paths.stop_request)


def take(paths: TaskPath) -> float | None:
    """The grace asked for, if a request is waiting (it is consumed); None if none or unreadable."""
    try:
        with open(paths.stop_request) as f:
            grace = json.load(f).get("grace")
        os.unlink(paths.stop_request)
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not math.isfinite(grace) or grace < 0:
        return None
    return float(grace)
