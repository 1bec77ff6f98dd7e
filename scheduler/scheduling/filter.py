"""The scheduling filter: may this offer take this task? An empty list says yes; else the vetoes say why not.

    request = ResourceRequest.of(task_config, job_aggregate, overhead=executor_overhead(0.25, 128))
    filter_offer(offer, request, now=time.time())            -> list[Veto]      # the assigner's call
    vetoes(offer_resources, host_attributes, maintenance_mode, task_config, job_aggregate, overhead,
           unavailability_start_s=None, now=0.0)              -> list[Veto]      # the same, from plain data

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

from scheduler.scheduling.constraints import (AttributeAggregate, Attributes, Rule, compile_constraints,
                                              constraint_veto, is_dedicated_task)
from scheduler.scheduling.offers import DEDICATED_ATTRIBUTE, HostOffer
from scheduler.scheduling.resources import ResourceBag, demand_with_overhead, executor_overhead
from scheduler.scheduling.veto import Veto

UNAVAILABILITY_THRESHOLD_S = 6 * 60.0          # -unavailability_threshold

_DRAINING = Veto.maintenance("draining")
_DRAINED = Veto.maintenance("drained")


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """A task group's side of the filter, prepared once per attempt: its demand with the executor overhead,
    its constraints in evaluation order, and the job's attribute counts (ResourceRequest in Aurora)."""
    config: TaskConfig
    demand: ResourceBag
    rules: tuple[Rule, ...]
    dedicated: bool
    aggregate: AttributeAggregate

    @classmethod
    def of(cls, config: TaskConfig, aggregate: AttributeAggregate | None = None,
           overhead: ResourceBag | None = None) -> ResourceRequest:
        rules = compile_constraints(config.constraints)
        return cls(config, demand_with_overhead(config, executor_overhead() if overhead is None else overhead),
                   rules, is_dedicated_task(rules), AttributeAggregate() if aggregate is None else aggregate)


def filter_offer(offer: HostOffer, request: ResourceRequest, now: float,
                 unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S) -> list[Veto]:
    """The vetoes against placing the request on this offer (wall-clock `now`, in seconds)."""
    return _check(offer.resources, offer.attributes, offer.mode, offer.unavailability_start_s, request, now,
                  unavailability_threshold_s)


def vetoes(offer_resources: ResourceBag, host_attributes: Mapping[str, frozenset[str]], maintenance_mode: int,
           task_config: TaskConfig, job_aggregate: AttributeAggregate | None = None,
           overhead: ResourceBag | None = None, *, unavailability_start_s: float | None = None, now: float = 0.0,
           unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S) -> list[Veto]:
    """`filter_offer` from plain data, preparing the request on each call (for one-off checks and tests)."""
    request = ResourceRequest.of(task_config, job_aggregate, overhead)
    return _check(offer_resources, host_attributes, maintenance_mode, unavailability_start_s, request, now,
                  unavailability_threshold_s)


def _check(available: ResourceBag, attributes: Attributes, mode: int, unavailability_start_s: float | None,
           request: ResourceRequest, now: float, threshold_s: float) -> list[Veto]:
    # 1. Dedicated host, task not asking for one (highest score).
    if not request.dedicated and DEDICATED_ATTRIBUTE in attributes:
        return [Veto.dedicated()]
    # 2. Maintenance: Aurora's own mode first, then Mesos' unavailability window.
    if mode == MaintenanceMode.DRAINING:
        return [_DRAINING]
    if mode == MaintenanceMode.DRAINED:
        return [_DRAINED]
    if unavailability_start_s is not None and now > unavailability_start_s - threshold_s:
        return [_DRAINING]
    # 3. Constraints, value before limit, the first failure only.
    if request.rules:
        veto = constraint_veto(request.rules, attributes, request.aggregate)
        if veto is not None:
            return [veto]
    # 4. Resources (lowest scores): every short resource.
    demand = request.demand
    if demand.fits(available):
        return []
    return [Veto.insufficient(rtype, excess) for rtype, excess in demand.shortfalls(available)]
