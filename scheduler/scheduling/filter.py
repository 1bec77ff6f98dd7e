"""The scheduling filter: may this offer take this task? No veto says yes; else the vetoes say why not.

    request = ResourceRequest.of(task_config, job_aggregate, overhead=executor_overhead(0.25, 128))
    filter_offer(offer, request, now=time.time())            -> tuple[Veto, ...]   # () = fits
    vetoes(offer_resources, host_attributes, maintenance_mode, task_config, job_aggregate, overhead,
           unavailability_start_s=None, now=0.0)              -> tuple[Veto, ...]   # the same, from plain data

Aurora's order, strongest class first, returning at the first class that vetoes (SchedulingFilterImpl.filter),
so NearestFit reports the reason that matters most:
  1. the host is dedicated (has a `dedicated` attribute) and the task has no `dedicated` constraint;
  2. the host is DRAINING or DRAINED ("Host draining/drained for maintenance"), or Mesos says the agent becomes
     unavailable within -unavailability_threshold (6 min) from `now` ("Host draining for maintenance");
  3. the task's constraints, value constraints first, the first failing one only;
  4. resources: demand + executor overhead against the offer, one veto per short resource (all of them).
SCHEDULED hosts pass; they are only tried after NONE ones (offers.order_offers).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from thermos_executor.aurora_api.gen.ttypes import MaintenanceMode, TaskConfig

from scheduler.scheduling.constraints import (AttributeAggregate, Attributes, Rule, check_constraints,
                                              compile_constraints, is_dedicated_task)
from scheduler.scheduling.offers import DEDICATED_ATTRIBUTE, HostOffer
from scheduler.scheduling.resources import ResourceBag, ResourceType, demand_with_overhead, executor_overhead
from scheduler.scheduling.veto import SHORTFALL, Veto

UNAVAILABILITY_THRESHOLD_S = 6 * 60.0          # -unavailability_threshold

# Vetoes are values: the filter hands out the same tuples again and again (thousands of offers an attempt).
_DRAINING = (Veto.maintenance("draining"),)
_DRAINED = (Veto.maintenance("drained"),)
_DEDICATED = (Veto.dedicated(),)
_NONE, _DRAINING_MODE, _DRAINED_MODE = MaintenanceMode.NONE, MaintenanceMode.DRAINING, MaintenanceMode.DRAINED
_CPU, _RAM, _DISK, _PORTS, _GPU = (SHORTFALL[r] for r in ResourceType)


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """A task group's side of the filter, prepared once per attempt: its demand with the executor overhead,
    its constraints in evaluation order, and the job's attribute counts (ResourceRequest in Aurora)."""
    config: TaskConfig
    demand: ResourceBag
    rules: tuple[Rule, ...]
    dedicated: bool
    aggregate: AttributeAggregate
    checks: tuple = ()          # the rules in the filter's fast form (Rule.as_check)

    @classmethod
    def of(cls, config: TaskConfig, aggregate: AttributeAggregate | None = None,
           overhead: ResourceBag | None = None) -> ResourceRequest:
        rules = compile_constraints(config.constraints)
        return cls(config, demand_with_overhead(config, executor_overhead() if overhead is None else overhead),
                   rules, is_dedicated_task(rules), AttributeAggregate() if aggregate is None else aggregate,
                   tuple(rule.as_check() for rule in rules))


def filter_offer(offer: HostOffer, request: ResourceRequest, now: float,
                 unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S) -> tuple[Veto, ...]:
    """The vetoes against placing the request on this offer (wall-clock `now`, in seconds)."""
    return judge(offer.resources, offer.attributes, offer.mode, offer.unavailability_start_s, request, now,
                 unavailability_threshold_s)


def vetoes(offer_resources: ResourceBag, host_attributes: Mapping[str, frozenset[str]], maintenance_mode: int,
           task_config: TaskConfig, job_aggregate: AttributeAggregate | None = None,
           overhead: ResourceBag | None = None, *, unavailability_start_s: float | None = None, now: float = 0.0,
           unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S) -> tuple[Veto, ...]:
    """`filter_offer` from plain data, preparing the request on each call (for one-off checks and tests)."""
    request = ResourceRequest.of(task_config, job_aggregate, overhead)
    return judge(offer_resources, host_attributes, maintenance_mode, unavailability_start_s, request, now,
                 unavailability_threshold_s)


def judge(available: ResourceBag, attributes: Attributes, mode: int, unavailability_start_s: float | None,
          request: ResourceRequest, now: float, threshold_s: float) -> tuple[Veto, ...]:
    """The filter on the parts of an offer, positional (the assigner's loop calls it once per offer)."""
    # 1. Dedicated host, task not asking for one (highest score).
    if not request.dedicated and DEDICATED_ATTRIBUTE in attributes:
        return _DEDICATED
    # 2. Maintenance: Aurora's own mode first, then Mesos' unavailability window.
    if mode != _NONE:
        if mode == _DRAINING_MODE:
            return _DRAINING
        if mode == _DRAINED_MODE:
            return _DRAINED
    if unavailability_start_s is not None and now > unavailability_start_s - threshold_s:
        return _DRAINING
    # 3. Constraints, value before limit, the first failure only.
    if request.checks:
        vetoed = check_constraints(request.checks, attributes, request.aggregate.counts)
        if vetoed is not None:
            return vetoed
    # 4. Resources (lowest scores): every short resource, in Aurora's order.
    d, a = request.demand, available
    if d.cpus <= a.cpus and d.ram_mb <= a.ram_mb and d.disk_mb <= a.disk_mb and d.ports <= a.ports \
            and d.gpus <= a.gpus:
        return ()
    found = []
    if d.cpus > a.cpus:
        found.append(_CPU.veto(d.cpus - a.cpus))
    if d.ram_mb > a.ram_mb:
        found.append(_RAM.veto(d.ram_mb - a.ram_mb))
    if d.disk_mb > a.disk_mb:
        found.append(_DISK.veto(d.disk_mb - a.disk_mb))
    if d.ports > a.ports:
        found.append(_PORTS.veto(d.ports - a.ports))
    if d.gpus > a.gpus:
        found.append(_GPU.veto(d.gpus - a.gpus))
    return tuple(found)
