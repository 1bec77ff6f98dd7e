"""Mesos resources and attributes: parsing, arithmetic and their v1 JSON form. Pure logic, no I/O.

A `Resources` value holds scalar resources (`cpus`, `mem` and `disk` in MB, ...) and range resources (`ports`).
Arithmetic follows Mesos: scalars are fixed-point with three decimals, ranges are sets of integers kept as sorted,
merged `(begin, end)` pairs (both ends included). Roles and reservations are not modelled: every resource is in
the default role `*`, which is what a one-machine stand-in offers.

    total = Resources.parse("cpus:2;mem:4096;disk:10240;ports:[31000-31999]")
    task = Resources.from_proto(task_info["resources"])
    if total.contains(task):
        left = total - task
"""
from __future__ import annotations

import re

_SCALAR_PRECISION = 3
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class ResourceError(ValueError):
    """A resource specification or a Resource message is invalid; the message says which and why."""


def _round(value: float) -> float:
    return round(float(value), _SCALAR_PRECISION)


def _merge(ranges) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for begin, end in sorted((int(b), int(e)) for b, e in ranges):
        if begin > end:
            raise ResourceError(f"range [{begin}-{end}] has its begin after its end")
        if merged and begin <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return tuple((b, e) for b, e in merged)


def _subtract_ranges(have, take) -> tuple[tuple[int, int], ...]:
    out = []
    for begin, end in have:
        pieces = [(begin, end)]
        for tb, te in take:
            next_pieces = []
            for pb, pe in pieces:
                if te < pb or tb > pe:
                    next_pieces.append((pb, pe))
                    continue
                if pb < tb:
                    next_pieces.append((pb, tb - 1))
                if te < pe:
                    next_pieces.append((te + 1, pe))
            pieces = next_pieces
        out.extend(pieces)
    return _merge(out)


def _ranges_contain(have, want) -> bool:
    return all(any(hb <= b and e <= he for hb, he in have) for b, e in want)


def format_ranges(ranges) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def _format_scalar(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Resources:
    """An immutable bag of scalar and range resources with Mesos' arithmetic."""

    __slots__ = ("scalars", "ranges")

    def __init__(self, scalars: dict | None = None, ranges: dict | None = None):
        self.scalars = {k: _round(v) for k, v in (scalars or {}).items() if _round(v) != 0}
        self.ranges = {k: _merge(v) for k, v in (ranges or {}).items() if v}
        for name, value in self.scalars.items():
            if value < 0:
                raise ResourceError(f"resource {name} is negative ({_format_scalar(value)})")

    # -- construction --------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, spec: str) -> Resources:
        """From Mesos' text form `cpus:2;mem:4096;disk:10240;ports:[31000-31999]` (`ports:[a-b,c-d]` allowed)."""
        scalars, ranges = {}, {}
        for item in filter(None, (part.strip() for part in spec.split(";"))):
            name, sep, value = item.partition(":")
            name, value = name.strip(), value.strip()
            if not sep or not name or not value:
                raise ResourceError(f"resource {item!r} is not name:value")
            if name in scalars or name in ranges:
                raise ResourceError(f"resource {name} is given twice")
            if value.startswith("["):
                if not value.endswith("]"):
                    raise ResourceError(f"resource {name}: ranges {value!r} lack the closing ']'")
                pairs = []
                for part in filter(None, (p.strip() for p in value[1:-1].split(","))):
                    m = _RANGE.match(part)
                    if not m:
                        raise ResourceError(f"resource {name}: range {part!r} is not begin-end")
                    pairs.append((int(m.group(1)), int(m.group(2))))
                ranges[name] = _merge(pairs)
            else:
                try:
                    number = float(value)
                except ValueError:
                    raise ResourceError(f"resource {name}: {value!r} is not a number") from None
                if number < 0 or number != number:
                    raise ResourceError(f"resource {name}: {value!r} is not a non-negative number")
                scalars[name] = number
        return cls(scalars, ranges)

    @classmethod
    def from_dict(cls, values: dict) -> Resources:
        """From `{'cpus': 2.0, 'mem': 4096, 'ports': [(31000, 31999)]}`; a list value is a list of ranges."""
        scalars, ranges = {}, {}
        for name, value in values.items():
            if isinstance(value, (list, tuple)):
                ranges[name] = _merge(value)
            else:
                scalars[name] = float(value)
        return cls(scalars, ranges)

    @classmethod
    def from_proto(cls, resources: list | None) -> Resources:
        """From a list of v1 `Resource` JSON objects; raises ResourceError naming the bad one."""
        scalars: dict[str, float] = {}
        ranges: dict[str, list] = {}
        if resources is None:
            return cls()
        if not isinstance(resources, list):
            raise ResourceError("resources must be a list of Resource objects")
        for resource in resources:
            if not isinstance(resource, dict) or not isinstance(resource.get("name"), str) or not resource["name"]:
                raise ResourceError(f"resource {resource!r} has no name")
            name, kind = resource["name"], resource.get("type")
            if kind == "SCALAR":
                try:
                    value = float(resource["scalar"]["value"])
                except (KeyError, TypeError, ValueError):
                    raise ResourceError(f"scalar resource {name} has no numeric scalar.value") from None
                if value < 0 or value != value:
                    raise ResourceError(f"scalar resource {name} is negative or not a number")
                scalars[name] = scalars.get(name, 0.0) + value
            elif kind == "RANGES":
                try:
                    pairs = [(int(r["begin"]), int(r["end"])) for r in resource["ranges"].get("range", [])]
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise ResourceError(f"ranges resource {name} has no valid ranges.range list") from None
                ranges.setdefault(name, []).extend(pairs)
            else:
                raise ResourceError(f"resource {name} has type {kind!r}; the stand-in supports SCALAR and RANGES")
            if name in scalars and name in ranges:
                raise ResourceError(f"resource {name} is given both as SCALAR and as RANGES")
        return cls(scalars, ranges)

    # -- views ---------------------------------------------------------------------------------------------------
    def to_proto(self, role: str = "*") -> list[dict]:
        out = []
        for name in sorted(self.scalars):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": self.scalars[name]}, "role": role})
        for name in sorted(self.ranges):
            out.append({"name": name, "type": "RANGES", "role": role,
                        "ranges": {"range": [{"begin": b, "end": e} for b, e in self.ranges[name]]}})
        return out

    def summary(self) -> dict:
        """The shape of Mesos' /state: `{"cpus": 2.0, "mem": 4096.0, "ports": "[31000-31999]"}`."""
        out: dict = dict(self.scalars)
        out.update({name: format_ranges(r) for name, r in self.ranges.items()})
        return out

    def empty(self) -> bool:
        return not self.scalars and not self.ranges

    def __bool__(self) -> bool:
        return not self.empty()

    def __str__(self) -> str:
        parts = [f"{n}:{_format_scalar(v)}" for n, v in sorted(self.scalars.items())]
        parts += [f"{n}:{format_ranges(r)}" for n, r in sorted(self.ranges.items())]
        return ";".join(parts) or "{}"

    def __repr__(self) -> str:
        return f"Resources({self})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Resources) and self.scalars == other.scalars and self.ranges == other.ranges

    def __hash__(self):
        return hash(str(self))

    # -- arithmetic ----------------------------------------------------------------------------------------------
    def contains(self, other: Resources) -> bool:
        """True if every resource of `other` is available in `self`."""
        for name, value in other.scalars.items():
            if self.scalars.get(name, 0.0) + 1e-9 < value:
                return False
        return all(_ranges_contain(self.ranges.get(name, ()), want) for name, want in other.ranges.items())

    def __add__(self, other: Resources) -> Resources:
        scalars = dict(self.scalars)
        for name, value in other.scalars.items():
            scalars[name] = scalars.get(name, 0.0) + value
        ranges = {name: list(r) for name, r in self.ranges.items()}
        for name, r in other.ranges.items():
            ranges.setdefault(name, []).extend(r)
        return Resources(scalars, ranges)

    def __sub__(self, other: Resources) -> Resources:
        """What is left of `self` after taking `other`; like Mesos, taking more than there is leaves nothing."""
        scalars = {name: max(0.0, value - other.scalars.get(name, 0.0)) for name, value in self.scalars.items()}
        ranges = {name: _subtract_ranges(r, other.ranges.get(name, ())) for name, r in self.ranges.items()}
        return Resources(scalars, ranges)


def parse_attributes(spec: str) -> list[dict]:
    """Mesos' `--attributes` text form `rack:a;zone:b;level:3;slots:[1-4]` as v1 `Attribute` JSON objects.

    Like Mesos, a number is a SCALAR, `[a-b,...]` is RANGES and anything else is TEXT.
    """
    attributes = []
    seen = set()
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        name, sep, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ResourceError(f"attribute {item!r} is not name:value")
        if name in seen:
            raise ResourceError(f"attribute {name} is given twice")
        seen.add(name)
        attributes.append(_attribute(name, value))
    return attributes


def attributes_from_dict(values: dict) -> list[dict]:
    return [_attribute(str(name), str(value)) for name, value in values.items()]


def _attribute(name: str, value: str) -> dict:
    if value.startswith("[") and value.endswith("]"):
        ranges = Resources.parse(f"{name}:{value}").ranges.get(name, ())
        return {"name": name, "type": "RANGES", "ranges": {"range": [{"begin": b, "end": e} for b, e in ranges]}}
    try:
        number = float(value)
    except ValueError:
        return {"name": name, "type": "TEXT", "text": {"value": value}}
    return {"name": name, "type": "SCALAR", "scalar": {"value": number}}


def attributes_summary(attributes: list[dict]) -> dict:
    """The shape of Mesos' /state: `{"rack": "a", "level": 3.0, "slots": "[1-4]"}`."""
    out = {}
    for attribute in attributes:
        kind = attribute["type"]
        if kind == "TEXT":
            out[attribute["name"]] = attribute["text"]["value"]
        elif kind == "SCALAR":
            out[attribute["name"]] = attribute["scalar"]["value"]
        else:
            out[attribute["name"]] = format_ranges((r["begin"], r["end"]) for r in attribute["ranges"]["range"])
    return out


def format_duration(seconds: float) -> str:
    """A Mesos duration string (`5secs`, `250ms`), the form of MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}secs"
    millis = seconds * 1000
    if float(millis).is_integer():
        return f"{int(millis)}ms"
    return f"{int(round(seconds * 1e9))}ns"
