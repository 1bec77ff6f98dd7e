"""Shared by the tests of scheduler.framework: a READY DurableStorage over a MemoryLog with a StateManager (fake
clock, numbered uuids, kills and changes recorded), Mesos v1 JSON offers and statuses, and `until`, which waits on
a condition with a deadline (never a sleep as synchronisation)."""
from __future__ import annotations

import asyncio
import itertools

from scheduler.api.state_manager import StateManager
from scheduler.state.status import ScheduleStatus as S
from scheduler.state.task_ids import TaskIdGenerator
from scheduler.storage import codec
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from tests.unit.test_state_manager import Clock, _config

__all__ = ["World", "until", "offer", "status", "_config"]


async def until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the loop run until `condition()` holds; AssertionError after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0)


class World:
    """Storage + state manager on the in-memory log; `kills` and `changes` are what the manager handed on."""

    def __init__(self, on_change=None):
        self.log = MemoryLog()
        self.storage = DurableStorage(self.log)
        self.clock = Clock()
        self.kills: list[str] = []
        self.changes: list = []
        self._on_change = on_change
        counter = itertools.count()
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=self.clock, hostname="sched-1",
                                    task_ids=TaskIdGenerator(self.clock, lambda: f"uuid{next(counter)}"),
                                    on_change=self._changed)

    def _changed(self, change) -> None:
        self.changes.append(change)
        if self._on_change is not None:
            self._on_change(change)

    async def start(self) -> World:
        await self.storage.prepare()
        await self.storage.start()
        return self

    async def insert(self, config=None, instances=(0,)) -> list[str]:
        async with self.manager.transaction() as tx:
            tasks = tx.insert_pending_tasks(config or _config(), instances)
        return [t.assignedTask.taskId for t in tasks]

    async def assign(self, task_id: str, host: str = "host-1", agent: str = "agent-1") -> None:
        async with self.manager.transaction() as tx:
            assert tx.assign_task(task_id, host, agent, {}) is not None

    async def change(self, task_id: str, target: S, message=None):
        async with self.manager.transaction() as tx:
            return tx.change_state(task_id, target, message)

    def status(self, task_id: str) -> S | None:
        task = self.storage.store.tasks.get(task_id)
        return None if task is None else S(task.status)

    def entries(self) -> list:
        return [codec.decode(self.log.entries[p]) for p in sorted(self.log.entries)]


def offer(offer_id: str, agent: str = "agent-1", host: str = "host-1", cpus: float = 8.0, mem: float = 16384,
          disk: float = 65536, ports=((31000, 31999),), attributes=None) -> dict:
    """A Mesos v1 JSON Offer as pymesos hands it over."""
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                 {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
                 {"name": "disk", "type": "SCALAR", "scalar": {"value": disk}}]
    if ports:
        resources.append({"name": "ports", "type": "RANGES",
                          "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]}})
    raw = {"id": {"value": offer_id}, "framework_id": {"value": "fw-1"}, "agent_id": {"value": agent},
           "hostname": host, "resources": resources}
    if attributes:
        raw["attributes"] = [{"name": k, "type": "TEXT", "text": {"value": v}} for k, v in attributes.items()]
    return raw


def status(task_id: str, state: str, uuid: str | None = "dXVpZA==", reason: str | None = None,
           message: str | None = None) -> dict:
    """A Mesos v1 JSON TaskStatus."""
    s = {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": "agent-1"}, "source": "SOURCE_EXECUTOR"}
    if uuid:
        s["uuid"] = uuid
    if reason:
        s["reason"] = reason
    if message:
        s["message"] = message
    return s
