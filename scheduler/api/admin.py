"""The admin calls for storage: snapshots, backups and online recovery (Aurora's AuroraAdmin, as
SchedulerThriftInterface answers them on RecoveryImpl and StorageBackupImpl).

    admin = AdminApi(storage, backups, settings, shutdown=stop)   # DurableStorage, Backups, ApiSettings
    handler = Handlers(SchedulerApi(storage, manager, settings), admin)
    reply = await protocol.call(handler, body, content_type, accept)

* `snapshot` writes a snapshot now (and truncates the log before it); `performBackup` backs up now, whatever
  `-backup_interval`; `listBackups` names the backups kept in `-backup_dir`.
* Online recovery: `stageRecovery(backupId)` loads a backup of `-backup_dir` into a temporary store of its own
  (the scheduler's state is untouched); `queryRecovery(query)` / `deleteRecoveryTasks(query)` read and edit
  its tasks; `commitRecovery()` writes it to the log as a snapshot that replaces everything, stops the
  storage (no write can land after it) and calls `shutdown()`: the daemon exits and, restarted, replays
  from the recovered snapshot. A failed write stops storage too (its outcome is unknown), so `shutdown()`
  is called then as well, and the call answers ERROR_TRANSIENT with the failure (storage is not READY).
  `unloadRecovery()` discards the staged backup (staged or not: OK).
  One backup at a time: staging a second answers ERROR "Another backup is already loaded."; querying,
  deleting or committing with none answers ERROR "No backup loaded." (Aurora's RecoveryImpl messages;
  "Backup <id> does not exist." and "Failed to decode backup ..." come from `Backups.stage`).
* Failures are answered as the Jobs API answers them (handlers' LoggingInterceptor rule): ERROR with the
  message, ERROR_TRANSIENT "Storage is not READY" while storage is not READY.

`storage` and `backups` are used through their narrow surfaces only (api/ does not import storage/):
`storage.snapshot()`, `.backup_now()`, `.persist(snapshot)`, `.state`; `backups.list()`, `.stage(name)`
returning an object with `fetch(query)`, `delete(query)`, `snapshot()`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from scheduler.api import envelope
from thermos_executor.aurora_api.gen.ttypes import (
    ListBackupsResult, QueryRecoveryResult, ResponseCode, Result)
from scheduler.api.handlers import Refused, answered, required_query
from scheduler.api.protocol import METHODS
from scheduler.api.settings import ApiSettings

log = logging.getLogger(__name__)

ALREADY_LOADED = "Another backup is already loaded."
NOT_LOADED = "No backup loaded."
BACKUP_FAILED = "Backup failed: the scheduler log says why (scheduler_backup_failed counts it)."


class AdminApi:
    def __init__(self, storage, backups, settings: ApiSettings, shutdown: Callable[[], object]):
        self._storage = storage
        self._backups = backups
        self._shutdown = shutdown
        self._staged = None  # the backup staged for recovery, if any
        self.server_info = envelope.server_info(settings)

    @answered
    async def snapshot(self):
        await self._storage.snapshot()
        return self._ok()

    @answered
    async def performBackup(self):
        if await self._storage.backup_now() is None:
            raise Refused(ResponseCode.ERROR, BACKUP_FAILED)
        return self._ok()

    @answered
    async def listBackups(self):
        return self._ok(Result(listBackupsResult=ListBackupsResult(backups=set(self._backups.list()))))

    @answered
    async def stageRecovery(self, backupId):
        try:
            staged = self._backups.stage(backupId or "")  # read first, as Aurora: a missing backup says so
        except ValueError as e:                           # storage's BackupError: no such, or not a backup
            raise Refused(ResponseCode.ERROR, str(e)) from None
        if self._staged is not None:
            raise Refused(ResponseCode.ERROR, ALREADY_LOADED)
        self._staged = staged
        log.info("staged backup %s for recovery (%d tasks)", backupId, len(staged.fetch(None)))
        return self._ok()

    @answered
    async def queryRecovery(self, query):
        tasks = self._loaded().fetch(required_query(query))
        return self._ok(Result(queryRecoveryResult=QueryRecoveryResult(tasks=set(tasks))))

    @answered
    async def deleteRecoveryTasks(self, query):
        self._loaded().delete(required_query(query))
        return self._ok()

    @answered
    async def commitRecovery(self):
        staged = self._loaded()
        try:
            position = await self._storage.persist(staged.snapshot())
            log.warning("committed the staged backup at log position %d; shutting down to replay it", position)
        finally:
            if self._storage.state == "STOPPED":  # written or not, storage takes no more writes: exit
                self._shutdown()
        return self._ok()

    @answered
    async def unloadRecovery(self):
        self._staged = None
        return self._ok()

    def _loaded(self):
        if self._staged is None:
            raise Refused(ResponseCode.ERROR, NOT_LOADED)
        return self._staged

    def _ok(self, result: Result | None = None):
        return envelope.ok(self.server_info, result)




class Handlers:
    """One handler for `protocol.call` made of several APIs: each Aurora method is answered by the first API
    that has it. Only Aurora's method names are looked up, so nothing else of the APIs is reachable."""

    def __init__(self, *apis):
        self._apis = apis

    def __getattr__(self, name: str):
        if name in METHODS:
            for api in self._apis:
                method = getattr(api, name, None)
                if method is not None:
                    return method
        raise AttributeError(name)
