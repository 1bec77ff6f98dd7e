"""A Mesos offer as placement sees it, parsed once from the v1 JSON dict pymesos hands the framework.

    offer = parse_offer(mesos_offer_dict, mode=MaintenanceMode.NONE, role="aurora", rng=random.Random(7))
    offer.resources           # ResourceBag of the non-revocable cpus/mem/disk/ports/gpus, same names summed
    offer.port_ranges         # ((31000, 31999), ...): where the assigner picks ports from
    offer.attributes          # {"rack": frozenset({"a"}), ...}: the agent's --attributes, as Aurora stores them
    offer = with_mode(offer, MaintenanceMode.DRAINING)   # maintenance changed: same offer, new mode
    ordered = order_offers(offers, [OfferOrder.RANDOM])  # Aurora's order: NONE, SCHEDULED, ...; then the flag

Anything surprising in the dict (a missing id, a negative or non-numeric scalar, a malformed range) raises
OfferError with one line; the caller declines that offer. Resources Aurora does not schedule (other names) are
ignored, as are revocable ones (Aurora's non-revocable bag). With `role` given, an entry reserved for another
role is ignored too; Mesos never offers such an entry to our framework, and Aurora sums every entry it gets.

The maintenance mode comes from the caller (the scheduler's host store), as Aurora's HostOffer pairs an offer
with the host's stored attributes; Mesos' own unavailability window is kept as `unavailability_start_s` and
judged by the filter against the clock (-unavailability_threshold).
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from thermos_executor.aurora_api.gen.ttypes import Attribute, HostAttributes, MaintenanceMode

from scheduler.scheduling.resources import BY_MESOS_NAME, ResourceBag, ResourceType

DEDICATED_ATTRIBUTE = "dedicated"

# Aurora's base order of hosts (OfferOrderBuilder): NONE first, DRAINED last.
_MODE_RANK = {MaintenanceMode.NONE: 0, MaintenanceMode.SCHEDULED: 1, MaintenanceMode.DRAINING: 2,
              MaintenanceMode.DRAINED: 3}


class OfferError(ValueError):
    """An offer the scheduler cannot read; the message is one line, and the offer is declined."""


class OfferOrder(StrEnum):
    """-offer_order: how offers are tried after the maintenance order (several compound, in flag order)."""
    RANDOM = "RANDOM"
    CPU = "CPU"
    MEMORY = "MEMORY"
    DISK = "DISK"
    REVOCABLE_CPU = "REVOCABLE_CPU"


@dataclass(frozen=True, slots=True, eq=False)
class HostOffer:
    """One offer of one agent, with the host's attributes and maintenance mode. Compared by identity."""
    offer_id: str
    agent_id: str
    hostname: str
    resources: ResourceBag
    port_ranges: tuple[tuple[int, int], ...]
    attributes: Mapping[str, frozenset[str]]
    mode: int = MaintenanceMode.NONE
    unavailability_start_s: float | None = None
    revocable_cpus: float = 0.0
    # Aurora's Ordering.arbitrary(): a random but stable place among equals, drawn once per offer.
    arbitrary: float = 0.0
    # Aurora skips offers without both (HostOffer.hasCpuAndMem) before judging them: no veto recorded.
    has_cpu_and_mem: bool = field(init=False)
    # order_key's first two parts (maintenance, unavailability), and with `arbitrary` the default order's key.
    base_order: tuple = field(init=False, repr=False)
    random_order: tuple = field(init=False, repr=False)

    def __post_init__(self):
        start = self.unavailability_start_s
        base = (_MODE_RANK[self.mode], -math.inf if start is None else -start)
        object.__setattr__(self, "has_cpu_and_mem",
                           (self.resources.cpus > 0 or self.revocable_cpus > 0) and self.resources.ram_mb > 0)
        object.__setattr__(self, "base_order", base)
        object.__setattr__(self, "random_order", base + (self.arbitrary,))

    @property
    def is_dedicated(self) -> bool:
        return DEDICATED_ATTRIBUTE in self.attributes


def with_mode(offer: HostOffer, mode: int) -> HostOffer:
    """The same offer under a new maintenance mode (Aurora re-adds a host's offer when its mode changes)."""
    return replace(offer, mode=mode)


def parse_offer(data: Any, *, mode: int = MaintenanceMode.NONE, role: str | None = None,
                rng: random.Random | None = None) -> HostOffer:
    """A HostOffer from a Mesos v1 JSON Offer; OfferError (one line) on anything surprising."""
    if not isinstance(data, dict):
        raise OfferError(f"offer is {type(data).__name__}, not an object")
    offer_id = _id(data, "id", "?")
    agent_id = _id(data, "agent_id", offer_id)
    hostname = data.get("hostname")
    if not isinstance(hostname, str) or not hostname:
        raise OfferError(f"offer {offer_id}: no hostname")
    if mode not in _MODE_RANK:
        raise OfferError(f"offer {offer_id}: unknown maintenance mode {mode!r}")
    amounts = dict.fromkeys(ResourceType, 0.0)
    revocable_cpus = 0.0
    ranges: list[tuple[int, int]] = []
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise OfferError(f"offer {offer_id}: resources is not a list")
    for entry in resources:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise OfferError(f"offer {offer_id}: a resource without a name")
        rtype = BY_MESOS_NAME.get(entry["name"])
        if rtype is None:
            continue
        if role is not None and _role(entry) not in ("*", role):
            continue
        where = f"offer {offer_id}: resource {entry['name']}"
        if rtype is ResourceType.PORTS:
            entry_ranges = _ranges(entry, where)
            if "revocable" not in entry:
                ranges += entry_ranges
                amounts[rtype] += sum(end - begin + 1 for begin, end in entry_ranges)
            continue
        value = _scalar(entry, where)
        if "revocable" in entry:
            if rtype is ResourceType.CPUS:
                revocable_cpus += value
            continue
        amounts[rtype] += value
    bag = ResourceBag(amounts[ResourceType.CPUS], amounts[ResourceType.RAM_MB], amounts[ResourceType.DISK_MB],
                      int(amounts[ResourceType.PORTS]), amounts[ResourceType.GPUS])
    return HostOffer(offer_id=offer_id, agent_id=agent_id, hostname=hostname, resources=bag,
                     port_ranges=tuple(sorted(ranges)), attributes=_attributes(data, offer_id), mode=mode,
                     unavailability_start_s=_unavailability(data, offer_id), revocable_cpus=revocable_cpus,
                     arbitrary=(rng or random).random())


def host_attributes(offer: HostOffer) -> HostAttributes:
    """The Thrift HostAttributes to store for the offer's host, with `mode` unset: a save keeps the host's stored
    mode (scheduler.api.maintenance.offer_host_attributes; docs/decisions.md, "Offers save attributes with the
    mode unset"), which the caller then passes back as `parse_offer(mode=...)`."""
    return HostAttributes(host=offer.hostname, mode=None, slaveId=offer.agent_id,
                          attributes={Attribute(name=name, values=set(values))
                                      for name, values in offer.attributes.items()})


def attributes_of(host: HostAttributes | Mapping[str, Iterable[str]] | None) -> dict[str, frozenset[str]]:
    """Name -> values from a stored HostAttributes (same-named attributes merged, as ConstraintMatcher merges
    them) or from a plain mapping; {} for an unknown host."""
    if host is None:
        return {}
    if isinstance(host, HostAttributes):
        merged: dict[str, set[str]] = {}
        for attribute in host.attributes or ():
            merged.setdefault(attribute.name, set()).update(attribute.values or ())
        return {name: frozenset(values) for name, values in merged.items()}
    return {name: frozenset(values) for name, values in host.items()}


def order_key(offer: HostOffer, orders: Sequence[OfferOrder]) -> tuple:
    """Aurora's offer order as a sort key: maintenance mode (NONE, SCHEDULED, DRAINING, DRAINED), then the
    host whose Mesos unavailability starts later (none: last of all, so first), then each -offer_order in turn
    (CPU/MEMORY/DISK: least first, to pack; REVOCABLE_CPU: least revocable first, none last; RANDOM: arbitrary)."""
    key = list(offer.base_order)
    for order in orders:
        if order is OfferOrder.CPU:
            key.append(offer.resources.cpus)
        elif order is OfferOrder.MEMORY:
            key.append(offer.resources.ram_mb)
        elif order is OfferOrder.DISK:
            key.append(offer.resources.disk_mb)
        elif order is OfferOrder.REVOCABLE_CPU:
            key.append(offer.revocable_cpus or math.inf)
        else:
            key.append(offer.arbitrary)
    return tuple(key)


def order_offers(offers: Iterable[HostOffer], orders: Sequence[OfferOrder] = (OfferOrder.RANDOM,)) -> list[HostOffer]:
    """The offers in the order a placement attempt tries them."""
    if tuple(orders) == (OfferOrder.RANDOM,):
        return sorted(offers, key=_RANDOM_ORDER)
    return sorted(offers, key=lambda o: order_key(o, orders))


_RANDOM_ORDER = attrgetter("random_order")


def parse_offer_order(text: str) -> tuple[OfferOrder, ...]:
    """-offer_order's value ("RANDOM", "CPU,MEMORY"); ValueError with one line on an unknown name."""
    names = [n.strip().upper() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in OfferOrder.__members__]
    if unknown:
        raise ValueError(f"-offer_order: {unknown[0]!r} is not one of {', '.join(OfferOrder)}")
    return tuple(OfferOrder(n) for n in names) or (OfferOrder.RANDOM,)


def java_double(value: float) -> str:
    """`String.valueOf(double)` as Java prints it: Aurora stores a SCALAR attribute's value in this form
    ("1.0", "0.5", "1.0E7"), so constraints are written against that text."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        if "e" in text or "E" in text:     # repr goes scientific below 1e-4 only; not reached, kept for safety
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    power = exponent + len(digits) - 1
    mantissa = f"{digits[0]}." + ("".join(map(str, digits[1:])) or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def _id(data: dict, key: str, offer_id: str) -> str:
    value = data.get(key)
    text = value.get("value") if isinstance(value, dict) else None
    if not isinstance(text, str) or not text:
        raise OfferError(f"offer {offer_id}: no {key}.value")
    return text


def _role(entry: dict) -> str:
    reservations = entry.get("reservations")
    if isinstance(reservations, list) and reservations and isinstance(reservations[-1], dict):
        return reservations[-1].get("role", "*")
    role = entry.get("role", "*")
    return role if isinstance(role, str) else "*"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _scalar(entry: dict, where: str) -> float:
    if entry.get("type", "SCALAR") != "SCALAR":
        raise OfferError(f"{where}: type {entry.get('type')!r}, not SCALAR")
    scalar = entry.get("scalar")
    value = _number(scalar.get("value")) if isinstance(scalar, dict) else None
    if value is None or value < 0:
        shown = scalar.get("value") if isinstance(scalar, dict) else scalar
        raise OfferError(f"{where}: scalar value {shown!r} is not a number >= 0")
    return float(value)


def _ranges(entry: dict, where: str) -> list[tuple[int, int]]:
    if entry.get("type", "RANGES") != "RANGES":
        raise OfferError(f"{where}: type {entry.get('type')!r}, not RANGES")
    ranges = entry.get("ranges")
    items = ranges.get("range", []) if isinstance(ranges, dict) else None
    if not isinstance(items, list):
        raise OfferError(f"{where}: no ranges.range list")
    result = []
    for item in items:
        begin = item.get("begin") if isinstance(item, dict) else None
        end = item.get("end") if isinstance(item, dict) else None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (begin, end)) \
                or not 0 <= begin <= end <= 65535:
            raise OfferError(f"{where}: bad range {item!r} (want 0 <= begin <= end <= 65535)")
        result.append((begin, end))
    return result


def _attributes(data: dict, offer_id: str) -> dict[str, frozenset[str]]:
    """Conversions.getAttributes: grouped by name; TEXT as its text, SCALAR as Java prints a double, other
    types ignored (their name stays, with no value)."""
    attributes = data.get("attributes", [])
    if not isinstance(attributes, list):
        raise OfferError(f"offer {offer_id}: attributes is not a list")
    merged: dict[str, set[str]] = {}
    for entry in attributes:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise OfferError(f"offer {offer_id}: an attribute without a name")
        values = merged.setdefault(entry["name"], set())
        kind = entry.get("type")
        if kind == "TEXT":
            text = entry.get("text")
            value = text.get("value") if isinstance(text, dict) else None
            if not isinstance(value, str):
                raise OfferError(f"offer {offer_id}: attribute {entry['name']}: no text.value")
            values.add(value)
        elif kind == "SCALAR":
            scalar = entry.get("scalar")
            value = _number(scalar.get("value")) if isinstance(scalar, dict) else None
            if value is None:
                raise OfferError(f"offer {offer_id}: attribute {entry['name']}: scalar value is not a number")
            values.add(java_double(float(value)))
    return {name: frozenset(values) for name, values in merged.items()}


def _unavailability(data: dict, offer_id: str) -> float | None:
    window = data.get("unavailability")
    if window is None:
        return None
    start = window.get("start") if isinstance(window, dict) else None
    nanos = start.get("nanoseconds") if isinstance(start, dict) else None
    if not isinstance(nanos, int) or isinstance(nanos, bool):
        raise OfferError(f"offer {offer_id}: unavailability without start.nanoseconds")
    return nanos / 1e9
