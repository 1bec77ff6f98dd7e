"""argparse `type=` converters every command line shares (thermos, thermos_runner, thermos_executor,
thermos_observer, aurora-mesos-local), so a flag means and refuses the same everywhere. Each raises
argparse.ArgumentTypeError with one line for people."""
from __future__ import annotations

import argparse
import math


def port(text: str) -> int:
    """A TCP port to listen on: 0-65535, 0 picking a free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds, 0 or more. Not NaN or infinity, which float() takes: a grace of `inf` would reach
    select() as a timeout and a `nan` deadline would never pass."""
    value = _finite_seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A duration in seconds greater than 0 (an interval between two runs of something)."""
    value = _finite_seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _finite_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value
