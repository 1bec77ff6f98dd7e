"""`Preemptor`: finds preemption slots for long-PENDING tasks, and preempts a slot's victims when its task group
still cannot be placed.

Aurora 0.22's PendingTaskProcessor and PreemptorImpl, in two steps that never block placement:

1. **Search** (`search`, every -preemption_slot_search_interval after -preemption_slot_search_initial_delay,
   on the loop): the task groups of tasks PENDING for at least -preemption_delay (measured from their latest
   event, the PENDING one) and without a slot yet are matched against every agent that runs tasks, in turn
   (batches of up to -preemption_reservation_max_batch_size tasks of one group, then the next group, as
   Aurora's preemption sequence): `scheduling.preemption.find_victims` on the agent's active tasks and its
   held offer. An agent that yields a slot is not offered to another task in this search; a group that finds
   no agent is not tried again in this search. A slot (victims, agent) is kept for the group for
   -preemption_slot_hold_time.
2. **Preemption** (`attempt_preemption_for`, called by the task scheduler inside the write of a round in which
   a task of the group found no offer, and only while no agent is reserved for the group): the group's slots
   are taken one by one and checked again against the agent's offer now; the first that still holds moves its
   victims to PREEMPTING ("Preempting in favor of <task id>", so the kill path kills them and the state
   machine reschedules them) and returns the agent, which the task scheduler then reserves for the group for
   -offer_reservation_duration.

Tiers decide who may preempt whom (`tier_of`): a task's tier from -tier_config, or, for a tier the settings no
longer know, its `production` flag. -enable_preemptor=false: no Preemptor is made at all (Aurora's
NULL_PREEMPTOR). The counters are Aurora's PreemptorMetrics names.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from thermos_executor.aurora_api.gen.ttypes import ScheduledTask, TaskConfig, TaskQuery

from scheduler.api.maintenance import mode_of
from scheduler.api.settings import Tier, Tiers
from scheduler.scheduling.bicache import BiCache
from scheduler.scheduling.constraints import AttributeAggregate
from scheduler.scheduling.filter import ResourceRequest
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.offers import attributes_of
from scheduler.scheduling.preemption import Host, Victim, find_victims
from scheduler.scheduling.resources import EMPTY, ResourceBag
from scheduler.state.status import SLAVE_ASSIGNED
from scheduler.state.status import ScheduleStatus as S

from .offers import Offers
from .settings import PreemptorSettings

log = logging.getLogger(__name__)

# The states a victim can be moved to PREEMPTING from; one already being killed (or gone) is left alone.
PREEMPTIBLE_STATES = frozenset({S.ASSIGNED, S.STARTING, S.RUNNING, S.PARTITIONED})


@dataclass(frozen=True)
class Proposal:
    """A preemption slot (Aurora's PreemptionProposal): these victims, as they were found, on this agent."""
    victims: tuple[Victim, ...]
    agent_id: str


def tier_of(config: TaskConfig, tiers: dict[str, Tier]) -> Tier:
    """The task's tier (Aurora's TierManager.getTier); a name no longer in -tier_config falls back to what its
    `production` flag says."""
    tier = tiers.get(config.tier) if config.tier is not None else None
    return tier if tier is not None else Tier(preemptible=not config.production)


class Preemptor:
    def __init__(self, storage, offers: Offers, settings: PreemptorSettings, *, tiers: Tiers,
                 overhead: ResourceBag, unavailability_threshold: float, on_slots: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep=asyncio.sleep):
        """`on_slots()`: new slots were found (the task scheduler is woken: a group with a slot has an attempt
        to make even without offers). `clock` ages the slots, `wall` (seconds) is compared with task events."""
        self.storage = storage
        self.offers = offers
        self.settings = settings
        self._tiers = tiers.by_name
        self.overhead = overhead
        self.unavailability_threshold = unavailability_threshold
        self._on_slots = on_slots
        self._wall = wall
        self._sleep = sleep
        self.slots: BiCache[Proposal, TaskGroupKey] = BiCache(settings.slot_hold_time, clock)
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._worker: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._worker = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    def vars(self) -> dict[str, int]:
        return {**self.counters, "preemption_slot_cache_size": len(self.slots)}

    async def _run(self) -> None:
        await self._sleep(self.settings.search_initial_delay)
        while True:
            try:
                if self.search():
                    self._on_slots()
            except Exception as e:  # noqa: BLE001 - one failed search must not end the searching
                log.error("preemption slot search failed: %s", e)
            await self._sleep(self.settings.search_interval)

    # -- what the task scheduler asks ----------------------------------------------------------------------
    def has_slots(self, key: TaskGroupKey | None = None) -> bool:
        """Whether a slot is held for this group (any group: None)."""
        return bool(self.slots.keys_of(key)) if key is not None else bool(len(self.slots))

    def attempt_preemption_for(self, tx, task: ScheduledTask) -> str | None:
        """Aurora's PreemptorImpl.attemptPreemptionFor, in the caller's transaction `tx`: the agent whose
        victims were moved to PREEMPTING for `task`, or None when none of the group's slots holds any more.
        Every slot tried is used up."""
        assigned = task.assignedTask
        config = assigned.task
        key = TaskGroupKey(config)
        store = self.storage.store
        request = None
        for proposal in self.slots.keys_of(key):
            self.slots.remove(proposal, key)
            if request is None:
                request = self._request(config, store)
            host = self._host(proposal.victims[0].host, self._held_offers().get(proposal.agent_id), store)
            victims = None if host is None else find_victims(
                request, preemptible=self._preemptible(config), victims=proposal.victims, host=host,
                now=self._wall(), unavailability_threshold_s=self.unavailability_threshold)
            if victims is None:
                self.counters["preemptor_slot_validation_failed"] += 1
                continue
            self.counters["preemptor_slot_validation_successful"] += 1
            message = f"Preempting in favor of {assigned.taskId}"
            for victim in victims:
                current = store.tasks.get(victim.task_id)
                if current is None or current.status not in PREEMPTIBLE_STATES:
                    continue        # finished or being killed meanwhile: its resources are freed either way
                self.counters[f"preemptor_tasks_preempted_{_prod(current.assignedTask.task)}"] += 1
                log.info("Preempting %s on %s in favor of %s", victim.task_id, victim.host, assigned.taskId)
                tx.change_state(victim.task_id, S.PREEMPTING, message)
            return proposal.agent_id
        return None

    # -- the search ----------------------------------------------------------------------------------------
    def search(self) -> int:
        """One PendingTaskProcessor run: slots for the idle PENDING groups. Returns how many were found."""
        self.counters["preemptor_task_processor_runs"] += 1
        store = self.storage.store
        by_agent: dict[str, list[Victim]] = {}
        for task in store.tasks.fetch(TaskQuery(statuses=set(SLAVE_ASSIGNED))):
            if task.assignedTask.slaveId:
                by_agent.setdefault(task.assignedTask.slaveId, []).append(self._victim(task))
        if not by_agent:
            return 0
        held = self._held_offers()
        agents = list(dict.fromkeys([*held, *by_agent]))
        pending = self._idle_groups(store)
        requests: dict[TaskGroupKey, ResourceRequest] = {}
        found = 0
        last = None
        position = 0
        while pending:
            key = pending.pop(0)
            config = key.config
            prod = _prod(config)
            self.counters[f"preemptor_slot_search_attempts_for_{prod}"] += 1
            if key != last:
                position = 0            # a new group starts over; the same one goes on where it stopped
            last = key
            request = requests.get(key)
            if request is None:
                request = requests[key] = self._request(config, store)
            matched = False
            while position < len(agents):
                agent = agents[position]
                victims = by_agent.get(agent, [])
                offer = held.get(agent)
                slot = None
                if victims:
                    host = self._host(victims[0].host, offer, store)
                    if host is not None:
                        slot = find_victims(request, preemptible=self._preemptible(config), victims=victims,
                                            host=host, now=self._wall(),
                                            unavailability_threshold_s=self.unavailability_threshold)
                self.counters[f"preemptor_slot_search_{'successful' if slot else 'failed'}_for_{prod}"] += 1
                if slot:
                    agents.pop(position)   # one reservation per agent and search
                    self.slots.put(Proposal(slot, agent), key)
                    found += 1
                    matched = True
                    break
                position += 1
            if not matched:
                pending = [k for k in pending if k != key]
                self.counters["preemptor_unmatched_tasks"] += 1
        return found

    def _idle_groups(self, store) -> list[TaskGroupKey]:
        """The groups of tasks PENDING for -preemption_delay without a slot, as Aurora's preemption sequence:
        up to -preemption_reservation_max_batch_size of each group in turn ({G1 x3, G2 x2}, batch 2 ->
        G1 G1 G2 G2 G1)."""
        now_ms = self._wall() * 1000
        delay_ms = self.settings.delay * 1000
        counts: Counter[TaskGroupKey] = Counter()
        for task in store.tasks.fetch(TaskQuery(statuses={S.PENDING})):
            events = task.taskEvents or ()
            if not events or now_ms - events[-1].timestamp < delay_ms:
                continue
            key = TaskGroupKey(task.assignedTask.task)
            if key in counts or not self.slots.keys_of(key):
                counts[key] += 1
        batch = self.settings.reservation_batch_size
        sequence: list[TaskGroupKey] = []
        while counts:
            for key in list(counts):
                n = min(batch, counts[key])
                sequence.extend([key] * n)
                counts[key] -= n
                if not counts[key]:
                    del counts[key]
        return sequence

    # -- helpers -------------------------------------------------------------------------------------------
    def _held_offers(self) -> dict:
        return {h.agent_id: h for h in self.offers.held()}

    def _victim(self, task: ScheduledTask) -> Victim:
        tier = tier_of(task.assignedTask.task, self._tiers)
        return Victim.of(task, preemptible=tier.preemptible, revocable=tier.revocable, overhead=self.overhead)

    def _preemptible(self, config: TaskConfig) -> bool:
        return tier_of(config, self._tiers).preemptible

    def _request(self, config: TaskConfig, store) -> ResourceRequest:
        jobs = store.tasks.fetch(TaskQuery(jobKeys={config.job}, statuses=set(SLAVE_ASSIGNED)))
        return ResourceRequest.of(config, AttributeAggregate.for_job(jobs, store.host_attributes), self.overhead)

    def _host(self, hostname: str, held, store) -> Host | None:
        """The agent as the filter sees it; None (and counted) when its host's attributes are not stored."""
        stored = store.host_attributes.get(hostname)
        if stored is None:
            self.counters["preemptor_missing_attributes"] += 1
            return None
        offer = held.parsed if held is not None else None
        return Host(attributes_of(stored), mode_of(stored), offer.resources if offer is not None else EMPTY,
                    offer.unavailability_start_s if offer is not None else None)


def _prod(config: TaskConfig) -> str:
    return "prod" if config.production else "non_prod"


COUNTERS = ("preemptor_task_processor_runs", "preemptor_missing_attributes", "preemptor_unmatched_tasks",
            "preemptor_slot_validation_successful", "preemptor_slot_validation_failed",
            *(f"preemptor_{name}_{p}" for p in ("prod", "non_prod")
              for name in ("slot_search_attempts_for", "tasks_preempted", "slot_search_successful_for",
                           "slot_search_failed_for")))
