"""argparse `type=` converters every daemon's command line shares (thermos_observer, aurora-mesos-local), so a
flag means and refuses the same everywhere. Each raises argparse.ArgumentTypeError with one line for people."""
from __future__ import annotations

import argparse


def port(text: str) -> int:
    """A TCP port to listen on: 0-65535, 0 picking a free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value
