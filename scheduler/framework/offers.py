"""`Offers`: the Mesos offers the scheduler holds, until used, rescinded, or declined after a while.

Aurora's OfferManager. An offer is parsed when it arrives (`parse`, e.g. `scheduler.scheduling` offer
parsing); one that cannot be understood (surprising resources or attributes) is declined at once, never
fatal. A held offer is declined with a refuse filter of -offer_filter_duration once it has been held for
-min_offer_hold_time plus a random jitter within -offer_hold_jitter_window (never, with
-hold_offers_forever), so that Mesos can offer its resources to other frameworks. A rescinded offer, every
offer of a lost agent, and every offer on a disconnection (Mesos re-offers after re-subscription) are
forgotten. A second offer from an agent we already hold one of is declined together with the held one, as
Aurora's OfferManager does, so that Mesos compacts them into one offer (after -offer_filter_duration):
resources freed piecemeal (a task's, then its executor's) would otherwise stay fragments no task fits in.

Nothing polls: each held offer has one TimerHandle. `take(offer_id)` hands an offer to a launch.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from .settings import SchedulingSettings

log = logging.getLogger(__name__)


@dataclass
class HeldOffer:
    offer_id: str
    agent_id: str
    hostname: str
    raw: dict          # the Mesos v1 JSON Offer
    parsed: object     # what `parse` made of it
    timer: asyncio.TimerHandle | None = None


class Offers:
    def __init__(self, parse: Callable[[dict], object], decline, settings: SchedulingSettings,
                 rng: random.Random | None = None, *, call_later=None):
        """`parse(raw)` raises ValueError for an offer it cannot use; `decline(offer_ids, refuse_seconds)`: async;
        `call_later(delay, callback, *args)`: the loop's (injected by tests)."""
        self._parse = parse
        self._call_later = call_later
        self._decline = decline
        self.settings = settings
        self._rng = rng or random.Random()
        self._held: dict[str, HeldOffer] = {}
        self._declines: set[asyncio.Task] = set()
        self.received = 0
        self.declined_bad = 0
        self.declined_held = 0
        self.rescinded = 0
        self.compacted = 0

    def __len__(self) -> int:
        return len(self._held)

    def held(self) -> list[HeldOffer]:
        return list(self._held.values())

    def add(self, raw: dict) -> HeldOffer | None:
        """Hold a new offer; None when it was declined (unusable, or returned for compaction)."""
        self.received += 1
        offer_id = (raw.get("id") or {}).get("value")
        try:
            parsed = self._parse(raw)
        except ValueError as e:
            self.declined_bad += 1
            log.warning("declining offer %s from %s: %s", offer_id, raw.get("hostname"), e)
            if offer_id:
                self._spawn_decline([offer_id])
            return None
        held = HeldOffer(offer_id, raw["agent_id"]["value"], raw.get("hostname", ""), raw, parsed)
        same_agent = [h.offer_id for h in self._held.values() if h.agent_id == held.agent_id]
        if same_agent:
            log.info("Returning offers of agent %s for compaction", held.agent_id)
            for other in same_agent:
                self.take(other)
            self.compacted += 1 + len(same_agent)
            self._spawn_decline([offer_id, *same_agent])
            return None
        self._held[offer_id] = held
        if not self.settings.hold_offers_forever:
            delay = self.settings.min_offer_hold_time + self._rng.uniform(0, self.settings.offer_hold_jitter)
            call_later = self._call_later or asyncio.get_running_loop().call_later
            held.timer = call_later(delay, self._expire, offer_id)
        return held

    def take(self, offer_id: str) -> HeldOffer | None:
        """Remove an offer to use it (None if it is gone: rescinded or declined meanwhile)."""
        held = self._held.pop(offer_id, None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        return held

    def rescind(self, offer_id: str) -> None:
        if self.take(offer_id) is not None:
            self.rescinded += 1

    def agent_lost(self, agent_id: str) -> None:
        for held in [h for h in self._held.values() if h.agent_id == agent_id]:
            self.take(held.offer_id)

    def clear(self) -> None:
        """Forget every offer (disconnected: they are void)."""
        for offer_id in list(self._held):
            self.take(offer_id)

    async def stop(self) -> None:
        self.clear()
        for task in list(self._declines):
            task.cancel()
        await asyncio.gather(*self._declines, return_exceptions=True)

    def vars(self) -> dict[str, int]:
        return {"outstanding_offers": len(self._held), "offers_received": self.received,
                "offers_declined_unusable": self.declined_bad, "offers_declined_held": self.declined_held,
                "offers_rescinded": self.rescinded, "offers_declined_for_compaction": self.compacted}

    def _expire(self, offer_id: str) -> None:
        if self.take(offer_id) is not None:
            self.declined_held += 1
            self._spawn_decline([offer_id])

    def _spawn_decline(self, offer_ids: list[str]) -> None:
        task = asyncio.ensure_future(self._decline(offer_ids, self.settings.offer_filter_duration))
        self._declines.add(task)
        task.add_done_callback(self._declines.discard)
