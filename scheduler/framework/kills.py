"""`Kills`: killTask for every kill the state machine asks for, re-sent while the task stays being killed.

The state manager hands a kill over once the change asking for it has committed (`kill(task_id)`). It goes
to Mesos at once; if the task is still in a killing state (KILLING, RESTARTING, DRAINING, PREEMPTING) after
-initial_task_kill_retry_interval, the kill is sent again, the wait doubling each time up to
-transient_task_state_timeout (Aurora's KillRetry, which retried KILLING only; a task being restarted,
drained or preempted is killed the same way, so it is retried the same way). Counter `task_kill_retries`.
A task that leaves those states (or is deleted) stops being retried; the transient-state timeout
(`scheduler.app.timers`) moves one that never does to LOST.
"""
from __future__ import annotations

import asyncio
import logging

from scheduler.state.status import ScheduleStatus as S

log = logging.getLogger(__name__)

KILLING_STATES = frozenset({S.KILLING, S.RESTARTING, S.DRAINING, S.PREEMPTING})


class Kills:
    def __init__(self, send_kill, status_of, *, initial_interval: float = 15.0, max_interval: float = 300.0,
                 sleep=asyncio.sleep):
        """`send_kill(task_id)`: async, asks Mesos; `status_of(task_id)`: the stored status, None if deleted;
        `sleep(seconds)`: the wait between retries (injected by tests)."""
        self._send = send_kill
        self._sleep = sleep
        self._status_of = status_of
        self.initial_interval = initial_interval
        self.max_interval = max(max_interval, initial_interval)
        self._retries: dict[str, asyncio.Task] = {}
        self._sends: set[asyncio.Task] = set()
        self.retried = 0
        self.sent = 0

    def kill(self, task_id: str) -> None:
        """Send a kill now; keep retrying while the task is being killed."""
        self._spawn_send(task_id)
        if task_id not in self._retries and self._status_of(task_id) in KILLING_STATES:
            self._retries[task_id] = asyncio.ensure_future(self._retry(task_id))

    async def stop(self) -> None:
        tasks = [*self._retries.values(), *self._sends]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._retries.clear()

    def vars(self) -> dict[str, int]:
        return {"task_kill_retries": self.retried, "task_kills_sent": self.sent}

    def _spawn_send(self, task_id: str) -> None:
        self.sent += 1
        task = asyncio.ensure_future(self._send(task_id))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _retry(self, task_id: str) -> None:
        interval = self.initial_interval
        try:
            while True:
                await self._sleep(interval)
                status = self._status_of(task_id)
                if status not in KILLING_STATES:
                    return
                self.retried += 1
                # S(): a task replayed from the log has its status as a plain int
                log.info("Re-sending kill of %s (still %s)", task_id, S(status).name)
                self._spawn_send(task_id)
                interval = min(interval * 2, self.max_interval)
        finally:
            if self._retries.get(task_id) is asyncio.current_task():
                del self._retries[task_id]
