"""`KeyedTimers`: at most one timer per key, and the asyncio tasks those timers start, owned in one place.

What the leader's task timers (one per task, `timers.py`) and cron timers (one per cron job, `cron.py`) both
need. Guarantees:

* arming a key (`at`, `after`) replaces the timer the key had: a key has at most one, and `cancel` drops it;
* a deadline is in the injected clock's milliseconds (the clock task events are stamped with): a timer that
  fires before its deadline by that clock waits for the rest, so the callback never runs early;
* the callback runs on the loop, once, after the key's timer is gone (it may arm the key again);
* `spawn`ed coroutines run in tasks this object owns; one that fails is logged (one line), never lost;
  `stop` cancels every timer and task and awaits the tasks, `idle` waits until no task runs.

Nothing polls: waits are TimerHandles from `call_later` (the running loop's unless one is injected).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable

log = logging.getLogger(__name__)


class KeyedTimers:
    """Timers by key and the tasks they start (see the module docstring); `what` names them in the log."""

    def __init__(self, clock_ms: Callable[[], int], call_later: Callable[..., asyncio.TimerHandle] | None = None,
                 *, what: str):
        self.clock_ms = clock_ms
        self._call_later = call_later
        self.what = what
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._actions: set[asyncio.Task] = set()

    def at(self, key: Hashable, deadline_ms: int, due: Callable[[], None]) -> None:
        """Call `due()` once the clock reads `deadline_ms` (at once if it already does)."""
        self._arm(key, max(0, deadline_ms - self.clock_ms()) / 1000, deadline_ms, due)

    def after(self, key: Hashable, delay_s: float, due: Callable[[], None]) -> None:
        """Call `due()` after `delay_s` seconds of the loop's clock."""
        self._arm(key, delay_s, None, due)

    def cancel(self, key: Hashable) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def spawn(self, coro: Coroutine) -> None:
        """Run `coro` in a task owned here."""
        action = asyncio.ensure_future(coro)
        self._actions.add(action)
        action.add_done_callback(self._done)

    async def stop(self) -> None:
        """Cancel every timer and running task, and wait for the tasks to end."""
        for key in list(self._timers):
            self.cancel(key)
        for action in list(self._actions):
            action.cancel()
        await asyncio.gather(*self._actions, return_exceptions=True)

    async def idle(self) -> None:
        """Return once no task is running (including tasks started by the ones awaited)."""
        while self._actions:
            await asyncio.gather(*self._actions, return_exceptions=True)

    def _arm(self, key: Hashable, delay_s: float, deadline_ms: int | None, due: Callable[[], None]) -> None:
        self.cancel(key)
        call_later = self._call_later or asyncio.get_running_loop().call_later
        self._timers[key] = call_later(delay_s, self._fire, key, deadline_ms, due)

    def _fire(self, key: Hashable, deadline_ms: int | None, due: Callable[[], None]) -> None:
        self._timers.pop(key, None)
        if deadline_ms is not None and self.clock_ms() < deadline_ms:
            self.at(key, deadline_ms, due)  # the loop's clock ran ahead of ours: wait for the rest
        else:
            due()

    def _done(self, action: asyncio.Task) -> None:
        self._actions.discard(action)
        if not action.cancelled() and action.exception() is not None:
            e = action.exception()
            log.warning("%s failed: %s", self.what, str(e) or type(e).__name__)
