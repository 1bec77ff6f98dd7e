"""Flags as Aurora's Java daemons took them: ``-flag=value``, ``--flag=value``, ``-flag value``; ``_`` and ``-``
are the same; booleans as ``-flag``, ``-flag=false`` or ``-flag false``. For the daemons whose operators know
Aurora's scheduler and log flags (`aurora-log`, the scheduler); the thermos commands use argparse through
`thermos_executor.flags`.

Durations are ``<int><unit>`` with unit ns, us, ms, secs, mins, hrs, days (Aurora's); a bare number is seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


class FlagError(Exception):
    """A bad command line; the message is one line."""


_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_duration(name: str, text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text)
    if not m or (m.group(2) and m.group(2) not in _UNITS):
        raise FlagError(f"-{name}: bad duration {text!r} (expected e.g. 3secs, 500ms)")
    return float(m.group(1)) * _UNITS.get(m.group(2) or "s", 1)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}


def parse_size(name: str, text: str) -> int:
    """Aurora's data sizes: <int><unit>, unit B KB MB GB (1024-based)."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise FlagError(f"-{name}: bad size {text!r} (expected e.g. 512KB, 1MB)")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


@dataclass
class Flag:
    name: str
    kind: str = "str"  # str | int | float | duration | size | bool
    default: object = None


def parse(argv: list[str], flags: list[Flag]) -> dict:
    """Values for `flags` from `argv`, defaults filled in. Positional arguments are an error."""
    known = {f.name: f for f in flags}
    values = {f.name: f.default for f in flags}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            raise FlagError(f"unexpected argument {arg!r}")
        name, eq, value = arg.lstrip("-").partition("=")
        name = name.replace("-", "_")
        if name not in known:
            raise FlagError(f"unknown flag {arg.split('=')[0]!r} (known: "
                            + ", ".join("-" + n for n in sorted(known)) + ")")
        flag = known[name]
        if not eq:
            if flag.kind == "bool":
                # `-elect false` as well as `-elect` alone (true) and `-elect=false`
                value = "true"
                if i < len(argv) and argv[i].lower() in _BOOLS:
                    value = argv[i]
                    i += 1
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise FlagError(f"-{name} needs a value")
        values[name] = _convert(flag, value)
    return values


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_BOOLS = _TRUE + _FALSE


def _convert(flag: Flag, value: str):
    if flag.kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise FlagError(f"-{flag.name}: {value!r} is not an integer") from None
        if not -2 ** 63 <= number < 2 ** 63:
            raise FlagError(f"-{flag.name}: {value} is out of range (a signed 64-bit integer)")
        return number
    if flag.kind == "float":
        try:
            number = float(value)
        except ValueError:
            raise FlagError(f"-{flag.name}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise FlagError(f"-{flag.name}: {value!r} is not a finite number")
        return number
    if flag.kind == "duration":
        return parse_duration(flag.name, value)
    if flag.kind == "size":
        return parse_size(flag.name, value)
    if flag.kind == "bool":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise FlagError(f"-{flag.name}: {value!r} is not true or false")
    return value


def require(values: dict, *names: str) -> None:
    for name in names:
        if values.get(name) in (None, ""):
            raise FlagError(f"-{name} is required")
