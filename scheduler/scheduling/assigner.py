"""First fit: place a batch of one group's PENDING tasks on the offers at hand (Aurora's TaskAssignerImpl).

    result = place(task_ids, config, offers, aggregate, now=time.time(), rng=rng,
                   settings=PlacementSettings(), nearest_fit=fits, static_bans=bans_of_group)
    result.assignments   # [Assignment(task_id, offer_id, agent_id, hostname, ports={"http": 31337}, offer)]
    result.vetoes        # {offer_id: (Veto, ...)} of the offers judged and refused
    result.aggregate     # the job's attribute counts with the tasks placed here added

For each task in turn, the offers are tried in Aurora's order (maintenance NONE, then SCHEDULED, then
-offer_order, RANDOM by default: offers.order_offers) and the task takes the first that the filter passes. As
Aurora 0.22, an offer launches at most one task per attempt: the one it takes leaves the set (OfferManager.
launchTask removes it), so the next task of the batch looks further. Each task placed is counted into the job's
attribute counts before the next is judged, so a limit constraint (e.g. host: 1) holds within the batch.

Skipped without a veto, as Aurora: offers without both cpus and mem, offers on an agent reserved for another
group (preemption or update affinity), offers statically banned for this group. An offer whose vetoes are all
static (it can never take this group) joins `static_bans` (the caller's set for this group, which Aurora keeps
in a cache for as long as the offer lives). The attempt's closest fit (lowest total score, the first of equals)
goes to `nearest_fit`: what Aurora's NearestFit keeps of the same vetoes reported one by one.

When a task finds no offer the attempt stops: the rest of the batch is identical and would find none either
(Aurora walks the offers again for each and gets the same answer).

Ports: the task's named ports are drawn at random, without repeats, among all the ports of the offer's ranges
(PortMapper shuffles them all and takes the first), with the injected `rng`.
"""
from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from thermos_executor.aurora_api.gen.ttypes import TaskConfig

from scheduler.scheduling.constraints import AttributeAggregate
from scheduler.scheduling.filter import UNAVAILABILITY_THRESHOLD_S, ResourceRequest, judge
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.nearest_fit import NearestFit
from scheduler.scheduling.offers import HostOffer, OfferOrder, order_offers
from scheduler.scheduling.resources import ResourceBag, executor_overhead, named_ports
from scheduler.scheduling.veto import Veto, VetoType, total_score


@dataclass(frozen=True)
class PlacementSettings:
    """The flags that steer placement: -thermos_executor_cpu/-thermos_executor_ram (the overhead),
    -offer_order, -unavailability_threshold."""
    overhead: ResourceBag = field(default_factory=executor_overhead)
    offer_order: tuple[OfferOrder, ...] = (OfferOrder.RANDOM,)
    unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S


@dataclass(frozen=True, slots=True)
class Assignment:
    """Task `task_id` goes to `offer` (its agent and host), with these ports: accept the offer with it."""
    task_id: str
    offer_id: str
    agent_id: str
    hostname: str
    ports: Mapping[str, int]
    offer: HostOffer = field(repr=False)


@dataclass
class Placement:
    assignments: list[Assignment]
    vetoes: dict[str, tuple[Veto, ...]]
    aggregate: AttributeAggregate


def place(task_ids: Sequence[str], config: TaskConfig, offers: Iterable[HostOffer],
          aggregate: AttributeAggregate | None = None, *, now: float, rng: random.Random,
          settings: PlacementSettings = PlacementSettings(), nearest_fit: NearestFit | None = None,
          group_key: TaskGroupKey | None = None, fit_now: float | None = None,
          static_bans: set[str] | None = None, reserved: Mapping[str, TaskGroupKey] | None = None,
          ordered: bool = False) -> Placement:
    """Place the tasks `task_ids` (all of one group: TaskConfig `config`) on `offers`.

    `aggregate`: the job's attribute counts (constraints.AttributeAggregate.for_job), not changed here.
    `now`: wall-clock seconds (Mesos unavailability); `fit_now`: NearestFit's clock (default `now`).
    `reserved`: agent id -> the group that agent is held for. `ordered`: the offers are already in order.
    """
    request = ResourceRequest.of(config, AttributeAggregate() if aggregate is None else aggregate.copy(),
                                 settings.overhead)
    key = group_key if group_key is not None else (TaskGroupKey(config) if nearest_fit is not None else None)
    fit_time = now if fit_now is None else fit_now
    bans = static_bans if static_bans is not None else set()
    reserved = reserved or {}
    ports_wanted = named_ports(config)
    threshold = settings.unavailability_threshold_s
    candidates = [o for o in (offers if ordered else order_offers(offers, settings.offer_order))
                  if o.has_cpu_and_mem and (not reserved or _usable(o, reserved, key, config))]
    taken: set[str] = set()
    assignments: list[Assignment] = []
    vetoes: dict[str, tuple[Veto, ...]] = {}
    best, best_score = None, 0          # the closest fit of this attempt, reported to NearestFit once
    for task_id in task_ids:
        chosen = None
        for offer in candidates:
            offer_id = offer.offer_id
            if offer_id in taken or offer_id in bans:
                continue
            found = judge(offer.resources, offer.attributes, offer.mode, offer.unavailability_start_s, request,
                          now, threshold)
            if not found:
                chosen = offer
                break
            vetoes[offer_id] = found
            score = found[0].score if len(found) == 1 else total_score(found)
            if best is None or score < best_score:
                best, best_score = found, score
            # The filter returns one class of vetoes; only a limit is dynamic (it lifts when tasks go away).
            if found[0].kind is not _LIMIT:
                bans.add(offer_id)
        if chosen is None:
            break
        taken.add(chosen.offer_id)
        request.aggregate.add(chosen.attributes)
        assignments.append(Assignment(task_id, chosen.offer_id, chosen.agent_id, chosen.hostname,
                                      pick_ports(chosen.port_ranges, ports_wanted, rng), chosen))
    if nearest_fit is not None and best is not None:
        nearest_fit.vetoed(key, best, fit_time)
    return Placement(assignments, vetoes, request.aggregate)


_LIMIT = VetoType.LIMIT_NOT_SATISFIED


def pick_ports(ranges: Sequence[tuple[int, int]], names: Sequence[str], rng: random.Random) -> dict[str, int]:
    """Distinct ports for `names`, drawn uniformly from the inclusive `ranges` (without listing every port).
    ValueError when the ranges hold fewer ports than names (the filter's "Insufficient: ports" prevents it)."""
    if not names:
        return {}
    starts, begins = [], []      # the index of each range's first port among all, and that port
    total = 0
    for begin, end in ranges:
        starts.append(total)
        begins.append(begin)
        total += end - begin + 1
    if total < len(names):
        raise ValueError(f"{len(names)} ports wanted, {total} offered")
    ports = {}
    for name, index in zip(names, rng.sample(range(total), len(names)), strict=True):
        i = bisect.bisect_right(starts, index) - 1
        ports[name] = begins[i] + index - starts[i]
    return ports


def _usable(offer: HostOffer, reserved: Mapping[str, TaskGroupKey], key: TaskGroupKey | None,
            config: TaskConfig) -> bool:
    holder = reserved.get(offer.agent_id)
    if holder is None:
        return True
    return holder == (key if key is not None else TaskGroupKey(config))
