"""Backup files of the stored state (Aurora's StorageBackupImpl), and reading one back.

A backup is a plain Thrift-binary `Snapshot` (not deduplicated, not deflated, so any Thrift reader can open
it) in `-backup_dir`, named `scheduler-backup-YYYY-MM-DD-HH-mm` after the UTC minute it was taken. Guarantees:

* a file of that name is always whole: it is written as `temp_<name>`, fsynced, then renamed over, and the
  directory fsynced;
* after each backup at most `max_saved` backups are kept, the oldest (by name, so by time) deleted first;
* `due()` is true once `interval` has passed since the last backup - and the clock starts when `Backups` is
  made, so the first snapshot right after boot does not back up (Aurora's StorageBackupTest.testInterval);
* a failed backup is logged and counted (`scheduler_backup_failed`), never raised into the snapshot that
  carried it.

`Backups.stage(name)` loads a backup into a `StagedBackup`, a temporary in-memory store apart from the
scheduler's (Aurora's TemporaryStorage), for online recovery: its tasks can be queried and deleted, and its
`snapshot()` is the edited backup, timestamped as the backup was.

Pure helpers (`backup_name`, `is_due`, `expired`) are apart from the file I/O; the clock is injected.
"""

from __future__ import annotations

import logging
import contextlib
import os
import tempfile
import time
from collections.abc import Callable

from . import codec
from . import snapshot as snapshots
from .gen.ttypes import Snapshot
from .store import Store

log = logging.getLogger(__name__)

PREFIX = "scheduler-backup-"
TEMP_PREFIX = "temp_"


class BackupDirError(Exception):
    """-backup_dir cannot be created or written; one line for the operator."""


class BackupError(ValueError):
    """A backup that cannot be staged; the message is Aurora's (RecoveryImpl.stage). A ValueError, which is
    what the API layer (which does not import storage) catches: the name given is not a usable backup."""


def backup_name(now: float) -> str:
    return PREFIX + time.strftime("%Y-%m-%d-%H-%M", time.gmtime(now))


def is_due(now: float, last: float, interval: float) -> bool:
    return now >= last + interval


def expired(names: list[str], max_saved: int) -> list[str]:
    """The backups among `names` to delete so that `max_saved` remain, oldest first."""
    backups = sorted(n for n in names if n.startswith(PREFIX))
    return backups[:max(0, len(backups) - max_saved)]


class Backups:
    """Writes backups into one directory (created if missing; refused with `BackupDirError` if unwritable)."""

    def __init__(self, directory: str, interval: float = 3600.0, max_saved: int = 48,
                 clock: Callable[[], float] = time.time):
        self.directory = directory
        self.interval = interval
        self.max_saved = max_saved
        self.clock = clock
        self.last = clock()
        self.success = 0
        self.failed = 0
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise BackupDirError(f"-backup_dir={directory} cannot be created: {e.strerror}") from None
        try:  # a real write, not os.access: a read-only mount refuses root too
            tempfile.TemporaryFile(dir=directory).close()
        except OSError as e:
            raise BackupDirError(f"-backup_dir={directory} is not writable: {e.strerror}") from None

    def due(self) -> bool:
        return is_due(self.clock(), self.last, self.interval)

    def write(self, snapshot: Snapshot) -> str | None:
        """Write `snapshot` as a backup now; its file name, or None if it failed (logged and counted)."""
        now = self.clock()
        name = backup_name(now)
        try:
            _write_atomically(self.directory, name, codec.encode(snapshot))
        except OSError as e:
            self.failed += 1
            log.error("backup %s to %s failed: %s", name, self.directory, e)
            return None
        self.last = now
        self.success += 1
        log.info("backed up the stored state to %s", os.path.join(self.directory, name))
        try:                               # retention failing does not undo the backup just written
            for old in expired(os.listdir(self.directory), self.max_saved):
                os.unlink(os.path.join(self.directory, old))
        except OSError as e:
            log.error("could not delete old backups in %s: %s", self.directory, e)
        return name

    def list(self) -> list[str]:
        """The backups kept, oldest first."""
        return sorted(n for n in os.listdir(self.directory) if n.startswith(PREFIX))

    def stage(self, name: str) -> StagedBackup:
        """The backup file `name` of this directory, loaded; `BackupError` if there is none or it is not a
        backup. A name that is not a plain file name (a path, `.`, `..`) is none: nothing outside the
        directory is read."""
        path = os.path.join(self.directory, name)
        if not name or os.path.basename(name) != name or name in (".", "..") or not os.path.isfile(path):
            raise BackupError(f"Backup {name} does not exist.")
        try:
            return StagedBackup(read_backup(path))
        except (codec.CodingError, AttributeError, TypeError, IndexError, KeyError, ValueError) as e:
            raise BackupError(f"Failed to decode backup {e}") from None
        except OSError as e:
            raise BackupError(f"Failed to read backup {e}") from None


class StagedBackup:
    """A backup in a temporary in-memory store of its own; nothing here touches the scheduler's storage."""

    def __init__(self, snapshot: Snapshot):
        self._timestamp = snapshot.timestamp
        self._details = (snapshot.schedulerMetadata.details if snapshot.schedulerMetadata else None) or {}
        self.store = Store()
        snapshots.load(self.store, snapshot)

    def fetch(self, query) -> list:
        """The staged tasks matching a TaskQuery."""
        return self.store.tasks.fetch(query)

    def delete(self, query) -> None:
        """Delete the staged tasks matching a TaskQuery."""
        for task in self.fetch(query):
            self.store.tasks.remove(task.assignedTask.taskId)

    def snapshot(self) -> Snapshot:
        """The staged state as a Snapshot, with the backup's timestamp and scheduler details."""
        return snapshots.build(self.store, self._timestamp, self._details)


def read_backup(path: str) -> Snapshot:
    """The snapshot a backup file holds; `codec.CodingError` if it is not one."""
    with open(path, "rb") as f:
        snapshot = codec.decode(f.read(), Snapshot)
    if snapshot.timestamp is None:
        raise codec.CodingError(f"{path} is not a scheduler backup")
    return snapshot


def _write_atomically(directory: str, name: str, data: bytes) -> None:
    temp = os.path.join(directory, TEMP_PREFIX + name)
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, os.path.join(directory, name))
    except OSError:
        with contextlib.suppress(OSError):     # no half-written leftovers piling up
            os.unlink(temp)
        raise
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
