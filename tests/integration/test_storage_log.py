"""Storage over the real replicated log, in this process: 3 LogNodes (quorum 2) with their HTTP endpoints on
loopback and a real ZooKeeper electing the writer. An acknowledged write - framed, before and after a
snapshot that truncated the log - is all there when another node becomes the writer and replays; losing the
quorum makes a write fail and roll back."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from tornado.httpserver import HTTPServer

from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, JobKey, ScheduledTask, ScheduleStatus, TaskConfig, TaskQuery)
from scheduler.log.node import LogNode
from scheduler.log.replica import Replica
from scheduler.log.server import make_app
from scheduler.storage.durable import DurableStorage, StorageError
from scheduler.storage.replicated import ReplicatedLog

from tests.helpers import free_port

JOB = JobKey(role="www", environment="prod", name="hello")
CONFIG = TaskConfig(job=JOB, contactEmail="ops@example.com")


def _task(i: int, status=ScheduleStatus.PENDING) -> ScheduledTask:
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"www-prod-hello-{i}", task=CONFIG, instanceId=i),
                         status=status, failureCount=0, taskEvents=[])


class Cluster:
    """Three in-process log nodes sharing one ZooKeeper group."""

    def __init__(self, workdir, zk_endpoints: str):
        self.group = f"/aurora/storage-test-{uuid.uuid4().hex[:8]}"
        self.nodes: list[LogNode | None] = []
        self.servers: list[HTTPServer | None] = []
        self.workdir = workdir
        self.zk = zk_endpoints

    async def start(self, size: int = 3) -> None:
        for i in range(size):
            path = str(self.workdir / f"replica{i}")
            replica = Replica(path)
            replica.initialize()
            replica.close()
            port = free_port()
            node = LogNode(path, f"127.0.0.1:{port}", self.zk, self.group, quorum=2, write_timeout=1.0,
                           session_timeout=4.0, tick=0.1)
            server = HTTPServer(make_app(node))
            server.listen(port, "127.0.0.1")
            await node.start()
            self.nodes.append(node)
            self.servers.append(server)

    async def writer(self, timeout: float = 30.0) -> int:
        """Index of the node that is the recovered writer, waiting for one until the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, node in enumerate(self.nodes):
                if node and node.coordinator and node.coordinator.recovered and not node.coordinator.stopped:
                    return i
            await asyncio.sleep(0.05)  # condition poll with a deadline
        raise AssertionError(f"no writer within {timeout}s")

    async def stop(self, i: int) -> None:
        node, server = self.nodes[i], self.servers[i]
        self.nodes[i] = self.servers[i] = None
        server.stop()
        await node.stop()

    async def stop_all(self) -> None:
        for i, node in enumerate(self.nodes):
            if node is not None:
                await self.stop(i)


async def _storage(node: LogNode) -> DurableStorage:
    storage = DurableStorage(ReplicatedLog(node.writer()), max_entry_size=2048)
    await storage.prepare()
    await storage.start()
    return storage


def _view(storage: DurableStorage) -> dict:
    return {t.assignedTask.taskId: t.status for t in storage.store.tasks}


def test_acknowledged_writes_survive_a_new_writer_replaying(tmp_path, zookeeper):
    async def scenario():
        cluster = Cluster(tmp_path, zookeeper.endpoints)
        await cluster.start()
        try:
            first = await cluster.writer()
            storage = await _storage(cluster.nodes[first])
            async with storage.write() as w:  # big enough to be framed at 2 KB
                w.save_tasks([_task(i) for i in range(40)])
                w.save_framework_id("framework-1")
            await storage.snapshot()
            async with storage.write() as w:
                w.save_tasks([_task(0, ScheduleStatus.ASSIGNED), _task(40)])
                w.remove_tasks(["www-prod-hello-39"])
            acknowledged = _view(storage)
            assert storage.vars()["scheduler_log_snapshots"] == 1

            await cluster.stop(first)  # the leader goes away
            second = await cluster.writer()
            assert second != first
            replayed = await _storage(cluster.nodes[second])
            assert _view(replayed) == acknowledged
            assert replayed.store.framework_id == "framework-1"
            assert replayed.vars()["scheduler_log_bad_frames_read"] == 0
            assert len(replayed.store.tasks.fetch(TaskQuery(role="www", statuses={ScheduleStatus.ASSIGNED}))) == 1

            # The new writer keeps writing; with its last peer gone it has no quorum: the write fails and
            # nothing of it stays in memory.
            async with replayed.write() as w:
                w.save_tasks([_task(41)])
            before = _view(replayed)
            await cluster.stop(next(i for i, n in enumerate(cluster.nodes) if n is not None and i != second))
            with pytest.raises(StorageError, match="undone in memory"):
                async with replayed.write() as w:
                    w.save_tasks([_task(42)])
                    w.remove_tasks(["www-prod-hello-0"])
            assert _view(replayed) == before
        finally:
            await cluster.stop_all()

    asyncio.run(asyncio.wait_for(scenario(), 120))
