"""Pure helpers of `aurora-admin` (Aurora's admin/admin_util.py, client/base.py, common/shellify.py): sizes,
durations, host lists, host grouping, task-query formatting and cluster dumps. No I/O except reading a
host file; every bad input is an `AdminError` carrying Aurora's one-line message.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator

DATA_UNITS = {"": 1.0, "b": 1.0 / (1024 * 1024), "k": 1.0 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 ** 2}
TIME_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
DEFAULT_GROUPING = "by_host"
GROUPINGS = {"by_host": lambda host: host, "none": lambda host: "_all_hosts_"}


class AdminError(ValueError):
    """Bad input: Aurora's die() message."""


def parse_data_mb(text: str) -> float:
    """A data size ('512', '10m', '2G', '1024KB') in MB; no unit means MB (twitter.common's parse_data)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgtBKMGT]?)[bB]?\s*", text or "")
    if not match:
        raise AdminError(f"Invalid data size: {text!r} (expected a number with an optional unit B, K, M, G or T)")
    return float(match.group(1)) * DATA_UNITS[match.group(2).lower()]


def parse_cpu(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AdminError(f"could not convert string to float: {text!r}") from None
    if value != value or value < 0 or value == float("inf"):
        raise AdminError(f"Invalid cpu amount: {text!r}")
    return value


def parse_time_secs(text: str) -> int:
    """A duration in Aurora's XdYhZmWs form (each part optional, in that order), in seconds."""
    match = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", (text or "").strip())
    if not text or not match or not any(match.groups()):
        raise AdminError(f"Invalid time string: {text!r} (format: XdYhZmWs, e.g. 5m, 1d3h45m)")
    return sum(int(v or 0) * unit for v, (_, unit) in zip(match.groups(), TIME_UNITS, strict=True))


def parse_sla_percentage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AdminError(f"Invalid percentage {text}. Must be within (0, 100].") from None
    if not 0 < value <= 100:
        raise AdminError(f"Invalid percentage {text}. Must be within (0, 100].")
    return value


def parse_hostnames(filename: str | None, hosts: str | None) -> list[str]:
    """Hosts from --filename (one a line) or --hosts (comma list); exactly one must be given."""
    if bool(filename) == bool(hosts):
        raise AdminError("Please specify either --filename or --hosts")
    if filename:
        try:
            with open(filename) as f:
                names = [line.strip() for line in f]
        except OSError as e:
            raise AdminError(f"Unable to read {filename}: {e.strerror}") from None
        names = [n for n in names if n]
        if not names:
            raise AdminError(f"No valid hosts found in {filename}.")
        return names
    names = [n.strip() for n in hosts.split(",") if n.strip()]
    if not names:
        raise AdminError("No valid hosts found.")
    return names


def check_grouping(name: str) -> str:
    if name not in GROUPINGS:
        raise AdminError(f"Unknown grouping function {name}. Must be one of: {', '.join(GROUPINGS)}")
    return name


def host_batches(hostnames: Iterable[str], grouping: str = DEFAULT_GROUPING) -> Iterator[set[str]]:
    """The hosts in maintenance batches, in group-name order (Aurora's iter_batches)."""
    group_of = GROUPINGS[check_grouping(grouping)]
    groups: dict[str, set[str]] = {}
    for host in hostnames:
        groups.setdefault(group_of(host), set()).add(host)
    for _, hosts in sorted(groups.items()):
        yield hosts


def parse_states(text: str, valid: Iterable[str]) -> list[str]:
    valid = list(valid)
    states = [s for s in (text or "").split(",")]
    for state in states:
        if state not in valid:
            raise AdminError(f"Unknown state '{state}' specified.  Valid states are: {','.join(valid)}")
    return states


def parse_shards(text: str | None) -> set[int]:
    if not text:
        return set()
    try:
        return {int(s) for s in text.split(",")}
    except ValueError:
        raise AdminError(f"Invalid --shards {text!r}: expected N[,N,...]") from None


def listformat_template(fmt: str) -> str:
    """Aurora's %name% placeholders as %(name)s."""
    return re.sub(r"%(\w+)%", lambda m: f"%({m.group(1)})s", fmt)


def flatten_struct(struct, into: dict | None = None) -> dict:
    """Every leaf field of a Thrift struct tree by its bare name (Aurora's flatten_task). Where two share a
    name the first met wins, so %name% is the job's name, not the executor's that comes later."""
    into = {} if into is None else into
    for key, value in vars(struct).items():
        if hasattr(value, "__dict__") and not isinstance(value, type):
            flatten_struct(value, into)
        else:
            into.setdefault(key, value)
    return into


def format_task(fmt: str, fields: dict) -> str:
    try:
        return listformat_template(fmt) % fields
    except KeyError:
        raise AdminError(f"Unknown key in format string.  Valid keys are: {','.join(sorted(fields))}") from None
    except (ValueError, TypeError) as e:
        raise AdminError(f"Invalid format string {fmt!r}: {e}") from None


def shellify(document: dict, export: bool = False, prefix: str = "") -> Iterator[str]:
    """A dict as shell assignments, keys upper-cased and nested keys joined by '_' (Aurora's shellify)."""
    prefix = ("export " if export else "") + prefix

    def walk(key, value, prefix):
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, (int, float)):
            yield f"{prefix}{key}={value}"
        elif isinstance(value, str):
            yield f"{prefix}{key}={shlex.quote(value)}"
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(str(k).upper(), v, f"{prefix}{key}_")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield from walk(str(i), v, f"{prefix}{key}_")

    for key, value in document.items():
        yield from walk(key.upper(), value, prefix)
