"""`Placer`: the pure placement rules of `scheduler.scheduling`, bound to the scheduler's offers and storage.

    placer = Placer(mesos_settings)
    offer = placer.parse_offer(raw)                  # HostOffer; OfferError (a ValueError) if unusable
    placing = placer.round(held_offers, store, reserved)   # one scheduling round (see task_scheduler.py)
    placing.place(tasks)                             # -> [Assignment(task_id, offer_id, ports)]
    placer.pending_reason(task_config)               # "Insufficient: CPU,..." for getPendingReason

A round sees each held offer with its host's stored maintenance mode, and the job's tasks on hosts for limit
constraints. `place` runs Aurora's first fit (`scheduling.assigner.place`) task by task and, unlike Aurora
0.22 (one task per offer per attempt), goes on with what is left of an offer it used: an offer of 8 cores
takes as many 0.5-core tasks as fit, in one ACCEPT, before the next offer is opened, instead of one task per
offer and a refuse filter (-offer_filter_duration) on the rest. That packing is what places 1,000 tasks on
100 agents at hundreds per second (bench/scheduler_placement.py). The vetoes of
every pass feed NearestFit, whose closest fit is the pending reason of a group. An agent `reserved` for a
group (preemption) is skipped, without a veto, by every other group.
"""
from __future__ import annotations

import dataclasses
import random
import time

from scheduler.api.maintenance import mode_of
from scheduler.scheduling.assigner import PlacementSettings, place
from scheduler.scheduling.constraints import AttributeAggregate
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.nearest_fit import NearestFit
from scheduler.scheduling.offers import HostOffer, parse_offer, with_mode
from scheduler.scheduling.resources import demand_with_overhead, executor_overhead
from scheduler.state.status import SLAVE_ASSIGNED
from scheduler.state.status import ScheduleStatus as S
from thermos_executor.aurora_api.gen.ttypes import TaskQuery

from .settings import MesosSettings
from .task_scheduler import Assignment


class Placer:
    def __init__(self, settings: MesosSettings, *, rng: random.Random | None = None, wall=time.time,
                 monotonic=time.monotonic):
        s = settings.scheduling
        self.settings = PlacementSettings(
            overhead=executor_overhead(settings.executor.cpus, settings.executor.ram_mb),
            offer_order=s.offer_order,
            unavailability_threshold_s=s.unavailability_threshold)
        self.role = settings.framework.role
        self.nearest_fit = NearestFit()
        self._rng = rng or random.Random()
        self._wall, self._monotonic = wall, monotonic
        self._bans: dict[TaskGroupKey, set[str]] = {}   # offers a group can never use (static vetoes)
        self._placed: set[str] = set()   # tasks the last round placed: their leaving PENDING keeps its vetoes

    def parse_offer(self, raw: dict) -> HostOffer:
        return parse_offer(raw, role=self.role, rng=self._rng)

    def pending_reason(self, config) -> str:
        return self.nearest_fit.pending_reason(TaskGroupKey(config), self._monotonic())

    def on_change(self, change) -> None:
        """Forget a group's nearest fit once a task of it leaves PENDING (assigned, killed, deleted), unless the
        last round placed that task: its vetoes were judged against the offers with that task on them, so they
        are the group's current fit (Aurora's async event bus erases them, leaving "" as the reason of the
        tasks a round could not place)."""
        if change.task_id in self._placed:
            self._placed.discard(change.task_id)
            return
        if change.previous == S.PENDING and change.status != S.PENDING and change.task is not None:
            self.nearest_fit.task_left_pending(TaskGroupKey(change.task.assignedTask.task))

    def round(self, held: list, store, reserved=None) -> _Round:
        """`reserved`: agent id -> the TaskGroupKey its offers are kept for (the task scheduler's reservations)."""
        self._placed.clear()
        live = {h.offer_id for h in held}
        for bans in self._bans.values():
            bans &= live                               # a ban lives as long as its offer (Aurora's cache)
        self.nearest_fit.expire(self._monotonic())
        offers = {h.offer_id: with_mode(h.parsed, mode_of(store.host_attributes.get(h.hostname))) for h in held}
        return _Round(self, offers, store, reserved or {})


class _Round:
    def __init__(self, placer: Placer, offers: dict[str, HostOffer], store, reserved):
        self._p = placer
        self._offers = offers
        self._store = store
        self._reserved = reserved

    def place(self, tasks: list) -> list[Assignment]:
        """Place tasks of one group (identical configs) on what is left of this round's offers."""
        p = self._p
        config = tasks[0].assignedTask.task
        key = TaskGroupKey(config)
        job_tasks = self._store.tasks.fetch(TaskQuery(jobKeys={config.job}, statuses=set(SLAVE_ASSIGNED)))
        aggregate = AttributeAggregate.for_job(job_tasks, self._store.host_attributes)
        demand = demand_with_overhead(config, p.settings.overhead)
        placed: list[Assignment] = []
        for task in tasks:          # one at a time: first fit packs each offer before the next one is opened
            result = place([task.assignedTask.taskId], config, self._offers.values(), aggregate, now=p._wall(),
                           rng=p._rng, settings=p.settings, nearest_fit=p.nearest_fit, group_key=key,
                           fit_now=p._monotonic(), static_bans=p._bans.setdefault(key, set()),
                           reserved=self._reserved)
            if not result.assignments:
                break               # the group's other tasks are identical: they would not fit either
            (a,) = result.assignments
            placed.append(Assignment(a.task_id, a.offer_id, dict(a.ports)))
            p._placed.add(a.task_id)
            self._offers[a.offer_id] = _remainder(a.offer, demand, set(a.ports.values()))
            aggregate = result.aggregate
        return placed


def _remainder(offer: HostOffer, used, ports: set[int]) -> HostOffer:
    """What is left of an offer once a task took `used` resources and these ports."""
    ranges = []
    for begin, end in offer.port_ranges:
        start = begin
        for port in sorted(p for p in ports if begin <= p <= end):
            if start < port:
                ranges.append((start, port - 1))
            start = port + 1
        if start <= end:
            ranges.append((start, end))
    return dataclasses.replace(offer, resources=offer.resources - used, port_ranges=tuple(ranges))
