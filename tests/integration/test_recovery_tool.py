"""`aurora-scheduler-recovery` as an operator runs it (docs/storage.md, "Recovery"): a backup of a store is loaded
into a fresh log initialized with `aurora-log initialize`, over real ZooKeeper; the rehydrated replica and a
blank one then form a quorum-2 log in this process and storage replays every task of the backup from it. A
second run refuses the now non-empty log; every bad input is one line and a non-zero exit."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from tornado.httpserver import HTTPServer

from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Attribute, HostAttributes, JobKey, Resource, ResourceAggregate, ScheduledTask, ScheduleStatus,
    TaskConfig)
from scheduler.app.recovery import batches, snapshot_ops
from scheduler.log.node import LogNode
from scheduler.log.server import make_app
from scheduler.storage import snapshot as snapshots
from scheduler.storage.backup import Backups, read_backup
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from scheduler.storage.replicated import ReplicatedLog
from scheduler.storage.store import Store

from tests.helpers import free_port

BIN = os.path.dirname(sys.executable)
TASKS = 120


def _task(job: JobKey, i: int) -> ScheduledTask:
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"{job.role}-{job.name}-{i}", instanceId=i,
                                                   slaveHost=f"host{i % 3}", task=TaskConfig(job=job)),
                         status=ScheduleStatus.RUNNING, failureCount=0, taskEvents=[])


def _make_backup(directory) -> str:
    """A backup of a store holding TASKS tasks in two jobs, host attributes, a quota and a framework id."""
    async def make():
        storage = DurableStorage(MemoryLog(), backups=Backups(str(directory)))
        await storage.prepare()
        await storage.start()
        async with storage.write() as w:
            for name in ("web", "db"):
                w.save_tasks(_task(JobKey("www", "prod", name), i) for i in range(TASKS // 2))
            w.save_framework_id("framework-1")
            w.save_quota("www", ResourceAggregate(resources={Resource(numCpus=4.0)}))
            w.save_host_attributes(HostAttributes(host="host0", attributes={Attribute("rack", {"r1"})}))
        return os.path.join(str(directory), await storage.backup_now())
    return asyncio.run(make())


def _run(*args, timeout=120):
    p = subprocess.run([os.path.join(BIN, args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def _recover(backup, path, group, zk, *extra):
    return _run("aurora-scheduler-recovery", "-from", "BACKUP", "-to", "LOG", f"-backup={backup}",
                f"-native_log_file_path={path}", f"-native_log_zk_group_path={group}", f"-zk_endpoints={zk}",
                "-native_log_port=0", "-zk_session_timeout=4secs", *extra)


def _end(path) -> int:
    code, out, err = _run("aurora-log", "status", f"--path={path}")
    assert code == 0, err
    return json.loads(out)["end"]


def _one_line_error(result, *words):
    code, _, err = result
    assert code != 0, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_snapshot_ops_rebuild_the_snapshot_and_batch(tmp_path):
    backup = read_backup(_make_backup(tmp_path))
    loaded, replayed = Store(), Store()
    snapshots.load(loaded, backup)
    ops = list(snapshot_ops(backup, 50))
    assert [len(op.saveTasks.tasks) for op in ops if op.saveTasks] == [50, 50, 20]
    for op in ops:
        replayed.apply(op)
    assert snapshots.build(replayed, 0) == snapshots.build(loaded, 0)
    assert [len(b) for b in batches(iter(ops), 4)] == [4, 2]


async def _serve(path, zk, group) -> tuple[LogNode, HTTPServer]:
    port = free_port()
    node = LogNode(path, f"127.0.0.1:{port}", zk, group, quorum=2, write_timeout=2.0, session_timeout=4.0, tick=0.1)
    server = HTTPServer(make_app(node))
    server.listen(port, "127.0.0.1")
    await node.start()
    return node, server


async def _replay_from_quorum(paths, zk, group) -> tuple[DurableStorage, list]:
    """Start log nodes on `paths` (quorum 2), wait for a recovered writer, replay storage from it."""
    started = [await _serve(p, zk, group) for p in paths]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        writers = [n for n, _ in started if n.coordinator and n.coordinator.recovered]
        if writers:
            storage = DurableStorage(ReplicatedLog(writers[0].writer()))
            await storage.prepare()
            await storage.start()
            return storage, started
        await asyncio.sleep(0.05)  # condition poll with a deadline
    raise AssertionError("no recovered writer within 60s")


def test_backup_then_offline_recovery_into_fresh_logs(tmp_path, zookeeper):
    backup = _make_backup(tmp_path / "backups")
    paths = [str(tmp_path / f"replica{i}") for i in range(3)]
    for path in paths:  # every scheduler's log is moved away and initialized fresh
        assert _run("aurora-log", "initialize", f"--path={path}")[0] == 0
    group = f"/aurora/recovery-{uuid.uuid4().hex[:8]}"

    code, out, err = _recover(backup, paths[0], group, zookeeper.endpoints, "-batch-size=7")
    assert code == 0, err
    assert f"recovered {TASKS} tasks" in out
    assert "Saving batch 2" in err and _end(paths[0]) > 1
    before = _end(paths[0])

    # Again into the same log: refused, nothing written.
    _, _, err = refused = _recover(backup, paths[0], group, zookeeper.endpoints)
    assert refused[0] == 1 and err.strip().splitlines()[-1].endswith("Refusing to recover into non-empty persistence")
    assert _end(paths[0]) == before

    # The rehydrated replica and one blank one make the quorum; the scheduler replays the backup from them.
    async def bring_up():
        storage, started = await _replay_from_quorum(paths[:2], zookeeper.endpoints, group)
        try:
            tasks = {t.assignedTask.taskId: t for t in storage.store.tasks}
            assert tasks == {t.assignedTask.taskId: t for t in read_backup(backup).tasks}
            assert len(tasks) == TASKS
            assert storage.store.framework_id == "framework-1"
            assert storage.store.quotas["www"].resources == {Resource(numCpus=4.0)}
            assert storage.store.host_attributes["host0"].attributes == {Attribute("rack", {"r1"})}
        finally:
            for node, server in started:
                server.stop()
                await node.stop()
    asyncio.run(asyncio.wait_for(bring_up(), 120))


@pytest.fixture
def bad(tmp_path, zookeeper):
    backup = _make_backup(tmp_path / "backups")
    log_path = str(tmp_path / "replica")
    assert _run("aurora-log", "initialize", f"--path={log_path}")[0] == 0
    group = f"/aurora/recovery-bad-{uuid.uuid4().hex[:8]}"
    return backup, log_path, group, zookeeper.endpoints, tmp_path


def test_bad_backups(bad):
    backup, log_path, group, zk, tmp = bad
    _one_line_error(_recover(str(tmp / "nope"), log_path, group, zk), f"Backup {tmp / 'nope'} does not exist.")
    corrupt = tmp / "scheduler-backup-corrupt"
    corrupt.write_bytes(b"\x0c\x00\x01not a snapshot")
    _one_line_error(_recover(str(corrupt), log_path, group, zk), "cannot read backup", str(corrupt))
    _one_line_error(_recover(str(tmp), log_path, group, zk), "cannot read backup")  # a directory
    assert _end(log_path) == 0


def test_bad_endpoints_and_flags(bad):
    backup, log_path, group, zk, _ = bad
    base = [f"-backup={backup}", f"-native_log_file_path={log_path}", f"-native_log_zk_group_path={group}",
            f"-zk_endpoints={zk}"]
    tool = "aurora-scheduler-recovery"
    _one_line_error(_run(tool, "-from", "TAPE", "-to", "LOG", *base), "-from", "'TAPE' is not one of LOG, BACKUP")
    _one_line_error(_run(tool, "-from", "BACKUP", "-to", "DISK", *base), "-to", "is not one of")
    _one_line_error(_run(tool, "-from", "BACKUP", "-to", "BACKUP", *base), "Backups are read-only")
    _one_line_error(_run(tool, "-from", "LOG", "-to", "LOG", *base), "-from LOG")
    _one_line_error(_run(tool, "-to", "LOG", *base), "-from is required")
    _one_line_error(_run(tool, "-from", "BACKUP", "-to", "LOG", *base[:1], *base[2:]),
                    "-native_log_file_path is required")
    _one_line_error(_run(tool, "-from", "BACKUP", "-to", "LOG", "-batch-size=0", *base), "-batch-size")
    _one_line_error(_run(tool, "-from", "BACKUP", "-to", "LOG", "-bogus=1", *base), "unknown flag '-bogus'")


def test_bad_logs(bad):
    backup, _, group, zk, tmp = bad
    a_file = tmp / "a-file"
    a_file.write_text("x")
    _one_line_error(_recover(backup, str(a_file), group, zk), "exists and is not a directory")
    _one_line_error(_recover(backup, str(tmp / "missing"), group, zk), "aurora-log initialize")
    assert not (tmp / "missing").exists()
    empty = tmp / "empty"
    empty.mkdir()
    _one_line_error(_recover(backup, str(empty), group, zk), "EMPTY, not initialized", "aurora-log initialize")
    _one_line_error(_recover(backup, str(tmp / "replica"), group, "127.0.0.1:1", "-zk_session_timeout=1secs"),
                    "cannot reach ZooKeeper at 127.0.0.1:1")


def test_refuses_while_another_replica_is_the_writer(bad):
    backup, log_path, group, zk, tmp = bad
    running = str(tmp / "running")
    assert _run("aurora-log", "initialize", f"--path={running}")[0] == 0

    async def scenario():
        node = LogNode(running, f"127.0.0.1:{free_port()}", zk, group, quorum=1, session_timeout=4.0, tick=0.1)
        await node.start()
        try:
            deadline = time.monotonic() + 30
            while not (node.coordinator and node.coordinator.recovered):
                assert time.monotonic() < deadline, "the running replica never became the writer"
                await asyncio.sleep(0.05)  # condition poll with a deadline
            result = await asyncio.to_thread(_recover, backup, log_path, group, zk)
        finally:
            await node.stop()
        code, _, err = result
        assert code == 1 and f"{node.address} is the log's writer" in err.strip().splitlines()[-1], err
    asyncio.run(scenario())
    assert _end(log_path) == 0


def test_an_unreachable_zookeeper_without_a_message_still_says_why(tmp_path, monkeypatch):
    """kazoo's errors may carry no text: the one line then names the error's type, never ends in nothing."""
    from scheduler.app import recovery

    async def unreachable(self, *args, **kwargs):
        raise TimeoutError()
    monkeypatch.setattr(LogNode, "start", unreachable)
    path = str(tmp_path / "log")
    assert _run("aurora-log", "initialize", f"--path={path}")[0] == 0
    values = {"native_log_file_path": path, "ip": "127.0.0.1", "native_log_port": 0, "zk_endpoints": "127.0.0.1:1",
              "native_log_zk_group_path": "/g", "native_log_quorum_size": 1, "native_log_write_timeout": 3.0,
              "zk_session_timeout": 2.0, "backup": "unused", "batch_size": 50}
    with pytest.raises(recovery.RecoveryError, match=r"^cannot reach ZooKeeper at 127\.0\.0\.1:1: TimeoutError$"):
        asyncio.run(recovery.recover(values, None))
