"""`UpdateHistoryPruner`: the leader deletes old finished job updates, every -job_update_history_pruning_interval.

Aurora's JobUpdateHistoryPruner, on a fixed delay: the first round one interval after `start` (promotion),
each next one an interval after the previous ended. A round is one storage write: the rule of
`scheduler.state.update_history` picks the terminal updates to delete (never an active one), and one
removeJobUpdate op deletes them; counter `job_updates_pruned`. A round that fails (its write rolled back) is
logged, and the next comes an interval later. The timer and its round are a `KeyedTimers` (deadlines in the
injected clock's ms, never early); `stop` cancels both and awaits the round. The daemon starts this on
promotion and stops it at teardown, so only the leader prunes.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from scheduler.state.update_history import JOB_UPDATES_PRUNED_COUNTER, UpdateHistorySettings, updates_to_prune

from .keyed_timers import KeyedTimers

log = logging.getLogger(__name__)

_KEY = "job update history"


class UpdateHistoryPruner:
    """The leader's job update history pruning (see the module docstring); `storage` a DurableStorage."""

    def __init__(self, storage, settings: UpdateHistorySettings, clock_ms: Callable[[], int],
                 call_later: Callable[..., asyncio.TimerHandle] | None = None):
        self.storage = storage
        self.settings = settings
        self.clock_ms = clock_ms
        self._keyed = KeyedTimers(clock_ms, call_later, what="job update history pruning")
        self.pruned = 0
        self._armed = False  # between start and stop

    def start(self) -> None:
        self._armed = True
        self._arm()

    async def stop(self) -> None:
        self._armed = False
        await self._keyed.stop()

    async def idle(self) -> None:
        """Return once no round is running (tests)."""
        await self._keyed.idle()

    def vars(self) -> dict[str, int]:
        return {JOB_UPDATES_PRUNED_COUNTER: self.pruned}

    async def prune(self) -> list:
        """One round now: delete what the rule says, in one write; the keys deleted."""
        async with self.storage.write() as w:
            summaries = [d.update.summary for d in w.store.job_updates.values()]
            pruned = updates_to_prune(summaries, self.clock_ms(), self.settings)
            if pruned:
                w.remove_job_updates(pruned)
        self.pruned += len(pruned)
        if pruned:
            log.info("Pruned job update history: %s",
                     ",".join(f"{'/'.join((k.job.role, k.job.environment, k.job.name))}/{k.id}" for k in pruned))
        else:
            log.info("No job update history to prune.")
        return pruned

    def _arm(self) -> None:
        if self._armed:
            self._keyed.at(_KEY, self.clock_ms() + self.settings.interval_ms, lambda: self._keyed.spawn(self._round()))

    async def _round(self) -> None:
        try:
            await self.prune()
        finally:
            self._arm()  # fixed delay: the next round an interval after this one ended (none after stop)
