"""`Reconciler`: Aurora's TaskReconciler, explicit and implicit task reconciliation with Mesos.

* explicit: after -reconciliation_initial_delay and then every -reconciliation_explicit_interval, the ids of
  every task storage has on an agent (SLAVE_ASSIGNED states) are sent to Mesos in batches of
  -reconciliation_explicit_batch_size, -reconciliation_explicit_batch_interval apart;
* implicit: after the initial delay + -reconciliation_schedule_spread and then every
  -reconciliation_implicit_interval, an empty reconcile: Mesos reports every task it knows of ours.
Mesos answers with status updates that take the usual path (`StatusUpdates`): a task Mesos does not know
comes back LOST and is rescheduled, and one Mesos runs that storage does not know (or knows as terminal) is
killed by the state machine. `explicit(batch_size)` / `implicit()` are also the admin calls
triggerExplicitTaskReconciliation / triggerImplicitTaskReconciliation. pymesos sends task ids only (no agent
ids), which Mesos answers as well.
"""
from __future__ import annotations

import asyncio
import logging

from thermos_executor.aurora_api.gen.ttypes import TaskQuery
from scheduler.state.status import SLAVE_ASSIGNED

from .settings import ReconciliationSettings

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, store_of, reconcile, settings: ReconciliationSettings, *, sleep=asyncio.sleep):
        """`store_of()`: the current Store; `reconcile(task_ids)`: async, sends a RECONCILE call; `sleep(seconds)`:
        every wait (injected by tests)."""
        self._store_of = store_of
        self._sleep = sleep
        self._reconcile = reconcile
        self.settings = settings
        self._tasks: set[asyncio.Task] = set()
        self.explicit_runs = 0
        self.implicit_runs = 0

    def start(self) -> None:
        s = self.settings
        self._spawn(self._every(s.initial_delay, s.explicit_interval, self._explicit_default))
        self._spawn(self._every(s.initial_delay + s.schedule_spread, s.implicit_interval, self.implicit))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def vars(self) -> dict[str, int]:
        return {"reconciliation_explicit_runs": self.explicit_runs,
                "reconciliation_implicit_runs": self.implicit_runs}

    def trigger_explicit(self, batch_size: int | None = None) -> None:
        """Start an explicit reconciliation now (in the background); batch_size None: the flag's."""
        self._spawn(self.explicit(batch_size or self.settings.explicit_batch_size))

    def trigger_implicit(self) -> None:
        self._spawn(self.implicit())

    async def explicit(self, batch_size: int) -> None:
        self.explicit_runs += 1
        tasks = self._store_of().tasks.fetch(TaskQuery(statuses=set(SLAVE_ASSIGNED)))
        ids = sorted(t.assignedTask.taskId for t in tasks)
        log.info("Explicit reconciliation of %d tasks in batches of %d", len(ids), batch_size)
        for start in range(0, len(ids), batch_size):
            if start:
                await self._sleep(self.settings.explicit_batch_interval)
            await self._reconcile(ids[start:start + batch_size])

    async def implicit(self) -> None:
        self.implicit_runs += 1
        log.info("Implicit reconciliation")
        await self._reconcile([])

    async def _explicit_default(self) -> None:
        await self.explicit(self.settings.explicit_batch_size)

    async def _every(self, delay: float, interval: float, run) -> None:
        await self._sleep(delay)
        while True:
            try:
                await run()
            except Exception as e:  # noqa: BLE001 - one failed round must not end reconciliation
                log.warning("reconciliation failed: %s", e)
            await self._sleep(interval)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
