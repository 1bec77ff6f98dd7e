"""A kill's grace, handed to a live runner: `thermos kill --grace N` writes it, then signals the runner.

A signal carries no value, so the grace travels in a small file in the task's checkpoint directory, written
before the signal (atomically: a runner never reads half of it) and taken (read and removed) by the runner when
it handles the signal. A runner signalled without one (the executor, `kill -TERM`) uses its own
`--kill_grace_secs`.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile

from thermos_executor.runner.paths import TaskPath


def write(paths: TaskPath, grace: float) -> None:
    """Leave a grace for the runner (a temporary file of our own, renamed: concurrent kills never collide)."""
    fd, tmp = tempfile.mkstemp(prefix=".stop_request.", dir=paths.checkpoint_dir)
    with os.fdopen(fd, "w") as f:
        json.dump({"grace": grace}, f)
    os.replace(tmp, paths.stop_request)


def take(paths: TaskPath) -> float | None:
    """The grace asked for, if a request is waiting; None if none or unreadable. The request is consumed
    whatever it holds: renamed to a name of our own first, so that one written meanwhile is not lost."""
    taken = f"{paths.stop_request}.taken.{os.getpid()}"
    try:
        os.rename(paths.stop_request, taken)
    except OSError:
        return None
    try:
        with open(taken) as f:
            grace = json.load(f).get("grace")
    except (OSError, ValueError, AttributeError):
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(taken)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not math.isfinite(grace) or grace < 0:
        return None
    return float(grace)
