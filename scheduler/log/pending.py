"""Every unanswered append of one writer, owned in one place, so that none can be left without an answer.

`Pending` guarantees, by construction rather than by care on every path of the writer:

* every future it hands out is resolved within ``timeout`` seconds of being created: by the writer (committed
  or failed), or else by its own deadline timer with `QuorumUnreachable` (the outcome is then unknown, as
  with any failed append of Mesos' log: the entries may still be committed by a later round);
* `close` fails every future not yet resolved and every one asked for afterwards, at once, on the spot
  (no task has to run first), so step-down, shutdown or a cancelled pump answer everyone still waiting,
  including the appends of a batch the pump had already taken out of its queue.

The writer keeps its own queue of what to write; a future resolved early (deadline, close, or a caller that
gave up) is simply skipped when its turn comes.

Usage::

    pending = Pending(timeout=3.0)
    fut = pending.add()              # resolve it with set_result / set_exception as usual
    pending.fail_all(error)          # this batch and everything queued failed; later appends may succeed
    pending.close(NotWriter("..."))  # nothing more will ever succeed here
"""

from __future__ import annotations

import asyncio

from .protocol import LogError, QuorumUnreachable


class Pending:
    """The futures of the appends a writer has accepted and not answered yet (see module docstring)."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._timers: dict[asyncio.Future, asyncio.TimerHandle] = {}
        self._closed: LogError | None = None

    def add(self) -> asyncio.Future:
        """A new future with its deadline armed (already failed if `close` was called)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if self._closed is not None:
            fut.set_exception(self._closed)
            return fut
        self._timers[fut] = loop.call_later(self.timeout, self._expire, fut)
        fut.add_done_callback(self._forget)
        return fut

    def fail_all(self, error: LogError) -> None:
        """Fail every future not resolved yet with `error`."""
        for fut in list(self._timers):
            if not fut.done():
                fut.set_exception(error)

    def close(self, error: LogError) -> None:
        """Fail everything now and every later `add` too."""
        if self._closed is None:
            self._closed = error
        self.fail_all(error)

    def _expire(self, fut: asyncio.Future) -> None:
        if not fut.done():
            fut.set_exception(QuorumUnreachable(
                f"append not committed within -native_log_write_timeout={self.timeout:g}s "
                f"(its outcome is unknown: it may still be committed)"))

    def _forget(self, fut: asyncio.Future) -> None:
        timer = self._timers.pop(fut, None)
        if timer is not None:
            timer.cancel()
