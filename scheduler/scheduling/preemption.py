"""Preemption victims, pure: which active tasks of one agent must go so that a PENDING task fits there.

    victims = [Victim.of(task, preemptible=..., revocable=..., overhead=overhead) for task in tasks_on_agent]
    host = Host(attributes, mode, slack=unused_offer_resources, unavailability_start_s=...)
    chosen = find_victims(request, preemptible=False, victims=victims, host=host, now=time.time())
    chosen      # (Victim, ...) to preempt, largest first; None: preempting cannot make room here

Aurora 0.22's PreemptionVictimFilterImpl. A pending task (the candidate) may preempt a victim when

* the candidate's tier is not preemptible (production) and the victim's is, or
* both are (or both are not) preemptible, they belong to the same role, and the candidate's priority is
  higher than the victim's.

Another role's task of the same preemptibility is never a victim, whatever the priorities. The allowed
victims are sorted by the resources they free, largest first (cpus, then RAM, disk, ports, GPUs, compared in
that order, as Aurora's ResourceBag ordering), and added one by one to the agent's unused offer resources
(the slack) until the scheduling filter passes the candidate on the sum: its demand with the executor
overhead, its constraints against the host's stored attributes, the host's maintenance mode and Mesos
unavailability, dedicated hosts. The first passing set is the answer, so no more tasks are preempted than
that order needs. When the filter vetoes for anything but resources, no set of victims can help and the
search stops at once (Aurora goes on adding victims; the answer is the same).

A victim frees its own demand plus the executor overhead it was launched with. A victim in a revocable tier
frees no cpus: revocable cpus are not offered as such to non-revocable tasks (Aurora leaves them out too).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from thermos_executor.aurora_api.gen.ttypes import MaintenanceMode, ScheduledTask

from scheduler.scheduling.constraints import Attributes
from scheduler.scheduling.filter import UNAVAILABILITY_THRESHOLD_S, ResourceRequest, judge
from scheduler.scheduling.resources import EMPTY, ResourceBag, demand_with_overhead
from scheduler.scheduling.veto import VetoType


@dataclass(frozen=True, slots=True)
class Victim:
    """An active task on an agent, as preemption weighs it (Aurora's PreemptionVictim)."""
    task_id: str
    agent_id: str
    host: str
    role: str
    priority: int
    preemptible: bool
    resources: ResourceBag      # what preempting it frees, executor overhead included

    @classmethod
    def of(cls, task: ScheduledTask, *, preemptible: bool, revocable: bool = False,
           overhead: ResourceBag = EMPTY) -> Victim:
        """A stored SLAVE_ASSIGNED task as a victim; its tier's `preemptible`/`revocable` come from the caller
        (tiers are the API's settings, not placement's)."""
        assigned = task.assignedTask
        config = assigned.task
        freed = demand_with_overhead(config, overhead)
        if revocable:
            freed = ResourceBag(0.0, freed.ram_mb, freed.disk_mb, freed.ports, freed.gpus)
        return cls(assigned.taskId, assigned.slaveId or "", assigned.slaveHost or "", config.job.role,
                   config.priority or 0, preemptible, freed)


@dataclass(frozen=True, slots=True)
class Host:
    """The agent's side of the search: its stored attributes and maintenance mode, the resources of its unused
    offer (EMPTY without one) and that offer's Mesos unavailability start."""
    attributes: Attributes
    mode: int = MaintenanceMode.NONE
    slack: ResourceBag = EMPTY
    unavailability_start_s: float | None = None


def may_preempt(candidate_preemptible: bool, candidate_role: str, candidate_priority: int, victim: Victim) -> bool:
    """Aurora's preemptionFilter: a higher tier beats a preemptible one; within a tier, priority decides, but
    only within the same role."""
    if not candidate_preemptible and victim.preemptible:
        return True
    if candidate_preemptible == victim.preemptible:
        return candidate_role == victim.role and candidate_priority > victim.priority
    return False


def largest_first(victims: Iterable[Victim]) -> list[Victim]:
    """Victims by the resources they free, compared resource by resource in Aurora's order, largest first;
    equals by task id, so that the choice does not depend on the order they were listed in."""
    ordered = sorted(victims, key=lambda v: v.task_id)
    ordered.sort(key=lambda v: _vector(v.resources), reverse=True)
    return ordered


def find_victims(request: ResourceRequest, *, preemptible: bool, victims: Iterable[Victim], host: Host,
                 now: float, unavailability_threshold_s: float = UNAVAILABILITY_THRESHOLD_S
                 ) -> tuple[Victim, ...] | None:
    """The fewest victims, in `largest_first` order, whose resources with the host's slack let the filter pass
    `request` (the candidate's config, demand with overhead and job attribute counts); None when even all the
    allowed victims do not make room. `preemptible`: the candidate's tier."""
    config = request.config
    role, priority = config.job.role, config.priority or 0
    allowed = largest_first(v for v in victims if may_preempt(preemptible, role, priority, v))
    total = host.slack
    chosen: list[Victim] = []
    for victim in allowed:
        chosen.append(victim)
        total = total + victim.resources
        vetoes = judge(total, host.attributes, host.mode, host.unavailability_start_s, request, now,
                       unavailability_threshold_s)
        if not vetoes:
            return tuple(chosen)
        if vetoes[0].kind is not VetoType.INSUFFICIENT_RESOURCES:
            return None         # dedicated, maintenance or a constraint: more victims cannot change that
    return None


def _vector(bag: ResourceBag) -> tuple:
    return (bag.cpus, bag.ram_mb, bag.disk_mb, bag.ports, bag.gpus)
