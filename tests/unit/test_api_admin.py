"""The admin storage calls through a Thrift client built from our IDL, in both protocols, in process (protocol.call
to Handlers(SchedulerApi, AdminApi) on a DurableStorage over the in-memory log, with an injected clock): snapshot,
performBackup and listBackups naming, online recovery stage -> query -> delete -> commit (the shutdown callable
called, the log holding a snapshot equal to the edited backup, a replay finding it), Aurora's refusals (staging
twice, nothing staged, missing or corrupt backups), unload, storage not READY."""
import asyncio
import os

import pytest

from scheduler.api import client
from scheduler.api import protocol as wire
from scheduler.api.admin import ALREADY_LOADED, BACKUP_FAILED, NOT_LOADED, AdminApi, Handlers
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, JobKey, ResponseCode, ScheduledTask, ScheduleStatus, TaskConfig, TaskQuery)
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.storage import codec, dedup
from scheduler.storage.backup import Backups, read_backup
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog

OK, ERROR, TRANSIENT = ResponseCode.OK, ResponseCode.ERROR, ResponseCode.ERROR_TRANSIENT
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SETTINGS = ApiSettings(cluster_name="devcluster")
WWW, DB = JobKey(role="www", environment="prod", name="hello"), JobKey(role="db", environment="prod", name="pg")


def _task(job: JobKey, i: int, status=ScheduleStatus.RUNNING) -> ScheduledTask:
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"{job.role}-{job.name}-{i}", instanceId=i,
                                                   task=TaskConfig(job=job, contactEmail="ops@example.com")),
                         status=status, failureCount=0, taskEvents=[])


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


class Env:
    """A READY storage with backups in `tmp`, the admin and jobs APIs behind one handler, a client of it."""

    def __init__(self, tmp, protocol, start=True):
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.log = MemoryLog()
        self.backups = Backups(str(tmp / "backups"), clock=self.clock)
        self.storage = DurableStorage(self.log, clock=self.clock, backups=self.backups, details={"build": "test"})
        manager = StateManager(self.storage, kill=lambda task_id: None, clock_ms=lambda: 1_000, hostname="h")
        self.shutdowns = []
        self.admin = AdminApi(self.storage, self.backups, SETTINGS, shutdown=lambda: self.shutdowns.append(1))
        self.handler = Handlers(SchedulerApi(self.storage, manager, SETTINGS), self.admin)
        self.client = client.client(self._send, protocol)
        if start:
            self.run(self.storage.prepare())
            self.run(self.storage.start())

    def _send(self, body, content_type):
        reply = self.run(wire.call(self.handler, body, content_type, content_type))
        assert reply.status == 200
        return reply.body

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def save(self, *tasks):
        async def save():
            async with self.storage.write() as w:
                w.save_tasks(tasks)
                w.save_framework_id("framework-1")
        self.run(save())

    def replayed(self) -> DurableStorage:
        storage = DurableStorage(self.log)
        self.run(storage.prepare())
        self.run(storage.start())
        return storage


@pytest.fixture(params=["binary", "json"])
def env(request, tmp_path):
    env = Env(tmp_path, request.param)
    yield env
    env.loop.close()


def _ok(response):
    assert (response.responseCode, response.details) == (OK, []), response
    return response.result


def _refused(response, code, message):
    assert (response.responseCode, [d.message for d in response.details]) == (code, [message]), response
    assert response.result is None


def _ids(tasks) -> set[str]:
    return {t.assignedTask.taskId for t in tasks}


def _state(snapshot) -> tuple:
    """What a snapshot holds, comparable whether its collections decoded as lists or sets."""
    return (snapshot.timestamp, snapshot.schedulerMetadata.frameworkId, snapshot.schedulerMetadata.details,
            {t.assignedTask.taskId: t for t in snapshot.tasks or ()})


def _only_snapshot_in(log: MemoryLog):
    entries = [codec.decode(data) for data in log.entries.values()]
    assert len(entries) == 1, entries
    entry = codec.inflate(entries[0])
    assert entry.deduplicatedSnapshot is not None
    return dedup.reduplicate(entry.deduplicatedSnapshot)


# ------------------------------------------------------------------ snapshot and backups

def test_snapshot_writes_one_and_truncates(env):
    env.save(_task(WWW, 0), _task(WWW, 1))
    env.save(_task(DB, 0))
    assert len(env.log.entries) == 2
    _ok(env.client.snapshot())
    assert _ids(_only_snapshot_in(env.log).tasks) == {"www-hello-0", "www-hello-1", "db-pg-0"}
    assert env.storage.vars()["scheduler_log_snapshots"] == 1
    assert env.backups.list() == []  # the interval has not passed since start: no backup rides along


def test_perform_backup_names_files_by_utc_minute_and_list_backups_names_them(env):
    assert _ok(env.client.listBackups()).listBackupsResult.backups == set()
    env.save(_task(WWW, 0))
    _ok(env.client.performBackup())  # at once, whatever -backup_interval
    env.clock.now += 60
    env.save(_task(WWW, 1))
    _ok(env.client.performBackup())
    names = {"scheduler-backup-2023-11-14-22-13", "scheduler-backup-2023-11-14-22-14"}
    assert _ok(env.client.listBackups()).listBackupsResult.backups == names
    open(os.path.join(env.backups.directory, "temp_scheduler-backup-x"), "w").close()  # unfinished: not listed
    assert _ok(env.client.listBackups()).listBackupsResult.backups == names
    backup = read_backup(os.path.join(env.backups.directory, "scheduler-backup-2023-11-14-22-14"))
    assert _ids(backup.tasks) == {"www-hello-0", "www-hello-1"}
    assert backup.timestamp == int(env.clock.now * 1000)


def test_a_failed_backup_is_an_error(env):
    os.rmdir(env.backups.directory)
    _refused(env.client.performBackup(), ERROR, BACKUP_FAILED)
    assert env.storage.vars()["scheduler_backup_failed"] == 1


# ------------------------------------------------------------------ online recovery

def _backup(env) -> str:
    env.save(_task(WWW, 0), _task(WWW, 1), _task(DB, 0, ScheduleStatus.FINISHED))
    _ok(env.client.performBackup())
    return env.backups.list()[-1]


def test_stage_query_delete_commit(env):
    name = _backup(env)
    env.clock.now += 3600
    env.save(_task(WWW, 2))  # after the backup: the recovery forgets it

    _ok(env.client.stageRecovery(name))
    everything = _ok(env.client.queryRecovery(TaskQuery())).queryRecoveryResult.tasks
    assert _ids(everything) == {"www-hello-0", "www-hello-1", "db-pg-0"}
    finished = TaskQuery(statuses={ScheduleStatus.FINISHED})
    assert _ids(_ok(env.client.queryRecovery(finished)).queryRecoveryResult.tasks) == {"db-pg-0"}
    assert len(env.replayed().store.tasks) == 4  # staging touched nothing of the scheduler's

    _ok(env.client.deleteRecoveryTasks(TaskQuery(jobKeys={DB})))
    assert _ids(_ok(env.client.queryRecovery(TaskQuery())).queryRecoveryResult.tasks) == {"www-hello-0",
                                                                                         "www-hello-1"}
    assert env.shutdowns == []
    _ok(env.client.commitRecovery())
    assert env.shutdowns == [1]

    expected = read_backup(os.path.join(env.backups.directory, name))
    expected.tasks = [t for t in expected.tasks if t.assignedTask.task.job != DB]
    assert _state(_only_snapshot_in(env.log)) == _state(expected)  # the edited backup, its timestamp kept
    replayed = env.replayed()
    assert _ids(replayed.store.tasks) == {"www-hello-0", "www-hello-1"}
    assert replayed.store.framework_id == "framework-1"
    # Between the commit and the exit nothing more is written on top of the recovered snapshot.
    _refused(env.client.snapshot(), TRANSIENT, "Storage is not READY")
    _refused(env.client.forceTaskState("www-hello-0", ScheduleStatus.KILLING), TRANSIENT, "Storage is not READY")
    assert len(env.log.entries) == 1


def test_a_failed_commit_still_shuts_down(env):
    _ok(env.client.stageRecovery(_backup(env)))
    env.log.fail_next_append()
    response = env.client.commitRecovery()
    _refused(response, TRANSIENT, "writing the recovered snapshot failed: append failed after 0 of 1 entries")
    assert env.shutdowns == [1] and env.storage.state == "STOPPED"


def test_staging_twice_is_refused_until_unloaded(env):
    name = _backup(env)
    _ok(env.client.stageRecovery(name))
    _ok(env.client.deleteRecoveryTasks(TaskQuery(role="www")))
    _refused(env.client.stageRecovery(name), ERROR, ALREADY_LOADED)
    assert _ids(_ok(env.client.queryRecovery(TaskQuery())).queryRecoveryResult.tasks) == {"db-pg-0"}  # kept
    _ok(env.client.unloadRecovery())
    _ok(env.client.stageRecovery(name))  # a fresh copy of the file
    assert len(_ok(env.client.queryRecovery(TaskQuery())).queryRecoveryResult.tasks) == 3


def test_nothing_staged(env):
    _refused(env.client.queryRecovery(TaskQuery()), ERROR, NOT_LOADED)
    _refused(env.client.deleteRecoveryTasks(TaskQuery()), ERROR, NOT_LOADED)
    _refused(env.client.commitRecovery(), ERROR, NOT_LOADED)
    _ok(env.client.unloadRecovery())  # unloading nothing is fine, as Aurora's
    _ok(env.client.stageRecovery(_backup(env)))
    _ok(env.client.unloadRecovery())
    _refused(env.client.queryRecovery(TaskQuery()), ERROR, NOT_LOADED)
    assert env.shutdowns == []


def test_backups_that_cannot_be_staged(env):
    name = _backup(env)
    _refused(env.client.stageRecovery("scheduler-backup-1999-01-01-00-00"), ERROR,
             "Backup scheduler-backup-1999-01-01-00-00 does not exist.")
    outside = os.path.join(os.path.dirname(env.backups.directory), "elsewhere")
    os.replace(os.path.join(env.backups.directory, name), outside)
    for sneaky in ("../elsewhere", outside, "..", ".", ""):
        _refused(env.client.stageRecovery(sneaky), ERROR, f"Backup {sneaky} does not exist.")
    with open(os.path.join(env.backups.directory, "scheduler-backup-corrupt"), "wb") as f:
        f.write(b"\x0c\x00\x01garbage")
    response = env.client.stageRecovery("scheduler-backup-corrupt")
    assert response.responseCode == ERROR and response.details[0].message.startswith("Failed to decode backup ")
    _refused(env.client.queryRecovery(TaskQuery()), ERROR, NOT_LOADED)  # nothing half-staged


def test_storage_not_ready(tmp_path):
    env = Env(tmp_path, "binary", start=False)
    try:
        _refused(env.client.snapshot(), TRANSIENT, "Storage is not READY")
        _refused(env.client.performBackup(), TRANSIENT, "Storage is not READY")
        _ok(env.client.listBackups())  # backups and staging do not need the scheduler's storage
    finally:
        env.loop.close()


def test_handlers_expose_only_aurora_methods(env):
    assert env.handler.snapshot == env.admin.snapshot
    assert callable(env.handler.createJob)
    for name in ("_loaded", "_storage", "server_info", "nonsense"):
        with pytest.raises(AttributeError):
            getattr(env.handler, name)
