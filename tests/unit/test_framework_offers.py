"""Offers with an injected rng and `call_later`: an offer is held until -min_offer_hold_time plus a jitter drawn
within -offer_hold_jitter_window, then declined with -offer_filter_duration (never with -hold_offers_forever); an
unusable offer is declined at once and counted; rescind, a lost agent and clear forget offers (and their timers);
`take` removes an offer; stop cancels outstanding declines."""
import asyncio
import random

from scheduler.framework.offers import Offers
from scheduler.framework.settings import SchedulingSettings
from tests.unit.framework_helpers import offer, until

SETTINGS = SchedulingSettings(min_offer_hold_time=300.0, offer_hold_jitter=60.0, offer_filter_duration=5.0)


class Handle:
    def __init__(self, when, callback, args):
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self):
        self.cancelled = True


class Timers:
    """`call_later` on a fake clock in seconds; `advance` runs what comes due."""

    def __init__(self):
        self.now = 0.0
        self.handles: list[Handle] = []

    def call_later(self, delay, callback, *args):
        handle = Handle(self.now + delay, callback, args)
        self.handles.append(handle)
        return handle

    def live(self):
        return [h for h in self.handles if not h.cancelled]

    def advance(self, seconds):
        self.now += seconds
        for handle in sorted((h for h in self.live() if h.when <= self.now), key=lambda h: h.when):
            handle.cancelled = True
            handle.callback(*handle.args)


def _parse(raw):
    if raw.get("hostname") == "bad":
        raise ValueError("surprising resources")
    return ("parsed", raw["id"]["value"])


class Env:
    def __init__(self, settings=SETTINGS, seed=7):
        self.declined: list[tuple[list[str], float]] = []
        self.timers = Timers()
        self.offers = Offers(_parse, self._decline, settings, random.Random(seed), call_later=self.timers.call_later)

    async def _decline(self, offer_ids, refuse_seconds):
        self.declined.append((list(offer_ids), refuse_seconds))
        return True


def test_held_then_declined_after_hold_time_plus_jitter():
    async def scenario():
        e = Env()
        jitter = random.Random(7).uniform(0, 60.0)
        held = e.offers.add(offer("o1"))
        assert (held.offer_id, held.agent_id, held.hostname, held.parsed) == ("o1", "agent-1", "host-1",
                                                                              ("parsed", "o1"))
        assert len(e.offers) == 1 and e.offers.held() == [held]
        assert held.timer.when == 300.0 + jitter
        e.timers.advance(300.0 + jitter - 0.001)
        await asyncio.sleep(0)
        assert e.declined == [] and len(e.offers) == 1
        e.timers.advance(0.001)
        await until(lambda: e.declined, what="the decline")
        assert e.declined == [(["o1"], 5.0)] and len(e.offers) == 0
        assert e.offers.vars() == {"outstanding_offers": 0, "offers_received": 1, "offers_declined_unusable": 0,
                                   "offers_declined_held": 1, "offers_rescinded": 0,
                                   "offers_declined_for_compaction": 0}
        await e.offers.stop()
    asyncio.run(scenario())


def test_each_offer_draws_its_own_jitter_within_the_window():
    async def scenario():
        e = Env()
        whens = [e.offers.add(offer(f"o{i}", agent=f"a{i}", host=f"h{i}")).timer.when for i in range(20)]
        assert all(300.0 <= w <= 360.0 for w in whens) and len(set(whens)) == 20
        await e.offers.stop()
    asyncio.run(scenario())


def test_never_declined_with_hold_offers_forever():
    async def scenario():
        e = Env(SchedulingSettings(hold_offers_forever=True))
        held = e.offers.add(offer("o1"))
        assert held.timer is None and e.timers.handles == []
        e.timers.advance(10 ** 9)
        await asyncio.sleep(0)
        assert e.declined == [] and e.offers.held() == [held]
        await e.offers.stop()
    asyncio.run(scenario())


def test_an_unusable_offer_is_declined_at_once_and_counted():
    async def scenario():
        e = Env()
        assert e.offers.add(offer("o1", host="bad")) is None
        await until(lambda: e.declined, what="the decline")
        assert e.declined == [(["o1"], 5.0)] and len(e.offers) == 0 and e.timers.handles == []
        bad = offer("o2", host="bad")
        del bad["id"]                            # nothing to decline: counted only
        assert e.offers.add(bad) is None
        await asyncio.sleep(0)
        assert len(e.declined) == 1
        v = e.offers.vars()
        assert (v["offers_received"], v["offers_declined_unusable"], v["offers_declined_held"]) == (2, 2, 0)
        await e.offers.stop()
    asyncio.run(scenario())


def test_rescind_forgets_the_offer_and_its_timer():
    async def scenario():
        e = Env()
        held = e.offers.add(offer("o1"))
        e.offers.add(offer("o2", agent="agent-2", host="host-2"))
        e.offers.rescind("o1")
        e.offers.rescind("o1")                   # twice, and an unknown one: counted once
        e.offers.rescind("nope")
        assert held.timer.cancelled and [h.offer_id for h in e.offers.held()] == ["o2"]
        assert e.offers.vars()["offers_rescinded"] == 1
        e.timers.advance(1000)
        await until(lambda: e.declined)
        assert e.declined == [(["o2"], 5.0)]    # the rescinded offer is never declined
        await e.offers.stop()
    asyncio.run(scenario())


def test_a_lost_agent_and_clear_forget_offers():
    async def scenario():
        e = Env()
        for i, agent in enumerate(["a1", "a2", "a3"]):
            e.offers.add(offer(f"o{i}", agent=agent, host=f"h-{agent}"))
        e.offers.agent_lost("a1")
        assert [h.offer_id for h in e.offers.held()] == ["o1", "o2"]
        e.offers.agent_lost("unknown")
        assert len(e.offers) == 2
        e.offers.clear()
        assert len(e.offers) == 0 and e.timers.live() == []
        e.timers.advance(1000)
        await asyncio.sleep(0)
        assert e.declined == []
        await e.offers.stop()
    asyncio.run(scenario())


def test_take_removes_the_offer():
    async def scenario():
        e = Env()
        held = e.offers.add(offer("o1"))
        e.offers.add(offer("o2", agent="agent-2", host="host-2"))
        assert e.offers.take("o1") is held and held.timer.cancelled
        assert e.offers.take("o1") is None and [h.offer_id for h in e.offers.held()] == ["o2"]
        await e.offers.stop()
    asyncio.run(scenario())


def test_a_second_offer_of_an_agent_is_declined_with_the_held_one_for_compaction():
    async def scenario():
        e = Env()
        first = e.offers.add(offer("o1"))
        e.offers.add(offer("o2", agent="agent-2", host="host-2"))
        assert e.offers.add(offer("o3")) is None
        await until(lambda: e.declined, what="the decline")
        assert e.declined == [(["o3", "o1"], 5.0)] and first.timer.cancelled
        assert [h.offer_id for h in e.offers.held()] == ["o2"]
        assert e.offers.vars()["offers_declined_for_compaction"] == 2
        await e.offers.stop()
    asyncio.run(scenario())


def test_stop_cancels_outstanding_declines_and_forgets_offers():
    async def scenario():
        gate = asyncio.Event()
        declines = []

        async def slow_decline(offer_ids, refuse_seconds):
            declines.append(offer_ids)
            await gate.wait()
        offers = Offers(_parse, slow_decline, SETTINGS, random.Random(1), call_later=Timers().call_later)
        offers.add(offer("o1", host="bad"))
        offers.add(offer("o2"))
        await until(lambda: declines)
        await offers.stop()
        assert len(offers) == 0 and not offers._declines
    asyncio.run(scenario())


def test_the_default_timer_is_the_running_loops():
    async def scenario():
        declined = []

        async def decline(offer_ids, refuse_seconds):
            declined.append(offer_ids)
        offers = Offers(_parse, decline, SchedulingSettings(min_offer_hold_time=0.0, offer_hold_jitter=0.0))
        held = offers.add(offer("o1"))
        assert isinstance(held.timer, asyncio.TimerHandle)
        await until(lambda: declined, what="the decline")
        assert declined == [["o1"]]
        await offers.stop()
    asyncio.run(scenario())
