"""`StatusUpdates`: Mesos status updates applied to tasks in batches, acknowledged once committed.

Aurora's TaskStatusHandlerImpl: updates are queued as they arrive; one worker takes what is queued (up to
-max_status_update_batch_size), applies each through the state manager in ONE storage write (one log entry),
and only after that write has committed acknowledges each update to Mesos. An update whose write failed is
never acknowledged, so Mesos sends it again. An update for a task storage does not know (or knows as
terminal) that says the task runs is turned into a kill by the state machine itself.

Counters, as Aurora's: `status_update_<REASON>_<RESULT>` for updates with a reason, `status_updates_queue_size`.
"""
from __future__ import annotations

import asyncio
import collections
import logging

from scheduler.api.state_manager import StateManager
from scheduler.state import conversions

log = logging.getLogger(__name__)


class StatusUpdates:
    def __init__(self, manager: StateManager, acknowledge, *, max_batch_size: int = 1000):
        """`acknowledge(status)`: an async callable that acknowledges one update to Mesos."""
        self.manager = manager
        self._acknowledge = acknowledge
        self.max_batch_size = max_batch_size
        self._queue: collections.deque[dict] = collections.deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self.counters: collections.Counter[str] = collections.Counter()
        self.batches = 0

    def start(self) -> None:
        self._worker = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    def add(self, status: dict) -> None:
        """Queue one TaskStatus (the Mesos v1 JSON dict)."""
        self._queue.append(status)
        self._wakeup.set()

    def vars(self) -> dict[str, int]:
        return {"status_updates_queue_size": len(self._queue), "status_update_batches": self.batches,
                **self.counters}

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch_size))]
                await self._apply(batch)

    async def _apply(self, batch: list[dict]) -> None:
        counted = []
        try:
            async with self.manager.transaction() as tx:
                for status in batch:
                    target = conversions.schedule_status(status.get("state", ""))
                    task_id = (status.get("task_id") or {}).get("value")
                    if target is None or not task_id:
                        log.warning("status update ignored: state %r of task %r", status.get("state"), task_id)
                        continue
                    reason = status.get("reason")
                    result = tx.change_state(task_id, target, conversions.event_message(status.get("message"),
                                                                                          reason))
                    if reason:
                        counted.append(f"status_update_{reason}_{result.value}")
        except Exception as e:  # noqa: BLE001 - not acknowledged: Mesos resends, the next write may succeed
            log.error("status update batch of %d not applied (Mesos will resend): %s", len(batch), e)
            return
        self.batches += 1
        self.counters.update(counted)
        for status in batch:
            if status.get("uuid"):
                await self._acknowledge(status)
