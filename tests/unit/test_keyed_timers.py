"""KeyedTimers on an injected clock and fake `call_later`: one timer per key, never early by the clock, the tasks
it starts owned (a failure logged, `stop` cancels and awaits)."""
from __future__ import annotations

import asyncio
import logging

from scheduler.app.keyed_timers import KeyedTimers
from tests.unit.test_scheduler_timers import FakeLoopTimers
from tests.unit.test_state_manager import Clock


def _timers():
    clock = Clock()
    loop = FakeLoopTimers(clock)
    return KeyedTimers(clock, loop.call_later, what="test action"), loop, clock


def test_arming_a_key_replaces_its_timer_and_cancel_drops_it():
    timers, loop, clock = _timers()
    fired = []
    timers.at("a", clock.now + 100, lambda: fired.append("first"))
    timers.after("a", 0.2, lambda: fired.append("second"))
    timers.at("b", clock.now + 50, lambda: fired.append("b"))
    timers.cancel("b")
    loop.advance(1000)
    assert fired == ["second"] and loop.pending() == []


def test_a_deadline_is_kept_by_the_clock_even_if_the_loop_fires_early():
    timers, loop, clock = _timers()
    fired = []
    timers.at("a", clock.now + 100, lambda: fired.append(clock.now))
    [handle] = loop.pending()
    handle.cancelled = True
    handle.callback(*handle.args)          # the loop's clock ran ahead: fires at +0 by ours
    assert fired == [] and len(loop.pending()) == 1
    loop.advance(100)
    assert fired == [1_000_100]


def test_the_callback_may_arm_its_own_key_again():
    timers, loop, clock = _timers()
    fired = []

    def again():
        fired.append(clock.now)
        if len(fired) < 3:
            timers.after("a", 0.01, again)
    timers.after("a", 0.01, again)
    loop.advance(10)
    loop.advance(10)
    loop.advance(10)
    assert fired == [1_000_010, 1_000_020, 1_000_030] and loop.pending() == []


def test_spawned_tasks_are_owned_a_failure_is_logged_and_stop_cancels_the_rest(caplog):
    async def scenario():
        timers, _, _ = _timers()
        never = asyncio.Event()

        async def fail():
            raise RuntimeError("boom")
        timers.spawn(fail())
        await asyncio.wait_for(timers.idle(), 5)      # it ran, failed, and is no longer owned
        timers.spawn(never.wait())
        await asyncio.wait_for(timers.stop(), 5)      # cancelled and awaited
        await asyncio.wait_for(timers.idle(), 5)
    with caplog.at_level(logging.WARNING, logger="scheduler.app.keyed_timers"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == ["test action failed: boom"]
