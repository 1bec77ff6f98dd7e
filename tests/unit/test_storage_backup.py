"""Backups: names by UTC minute, atomic temp + rename, retention by name, the interval with an injected clock
(the first snapshot after boot does not back up), counters, an unwritable -backup_dir refused in one line,
and reading a backup back."""
import os

import pytest

from thermos_executor.aurora_api.gen.ttypes import AssignedTask, JobKey, ScheduledTask, ScheduleStatus, TaskConfig
from scheduler.storage import backup, codec
from scheduler.storage.backup import BackupDirError, Backups
from scheduler.storage.gen.ttypes import SchedulerMetadata, Snapshot

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SNAPSHOT = Snapshot(timestamp=int(T0 * 1000), schemaVersion=1, schedulerMetadata=SchedulerMetadata(frameworkId="fw"),
                    tasks=[ScheduledTask(assignedTask=AssignedTask(taskId="t", instanceId=0, task=TaskConfig(
                        job=JobKey(role="r", environment="prod", name="j"))), status=ScheduleStatus.RUNNING)])


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def test_names_are_the_utc_minute():
    assert backup.backup_name(T0) == "scheduler-backup-2023-11-14-22-13"
    assert backup.backup_name(T0 + 59 - 20) == "scheduler-backup-2023-11-14-22-13"
    assert backup.backup_name(T0 + 40) == "scheduler-backup-2023-11-14-22-14"


def test_retention_deletes_the_oldest_by_name_and_ignores_other_files():
    names = ["scheduler-backup-2023-11-14-22-13", "notes.txt", "scheduler-backup-2023-01-01-00-00",
             "temp_scheduler-backup-2023-11-14-22-15", "scheduler-backup-2023-11-14-22-14"]
    assert backup.expired(names, 2) == ["scheduler-backup-2023-01-01-00-00"]
    assert backup.expired(names, 3) == [] and backup.expired(names, 0) == sorted(n for n in names
                                                                                 if n.startswith("sched"))


def test_the_interval_and_the_first_snapshot_after_boot():
    assert not backup.is_due(T0 + 3599, T0, 3600) and backup.is_due(T0 + 3600, T0, 3600)


def test_a_backup_is_written_atomically_and_reads_back(tmp_path):
    clock = Clock()
    backups = Backups(str(tmp_path / "b"), interval=3600, max_saved=48, clock=clock)
    assert not backups.due()  # the clock starts at construction: boot does not back up
    clock.now += 3600
    assert backups.due()
    name = backups.write(SNAPSHOT)
    assert name == "scheduler-backup-2023-11-14-23-13" and backups.list() == [name]
    assert os.listdir(tmp_path / "b") == [name]  # no temp file left behind
    assert not backups.due() and (backups.success, backups.failed) == (1, 0)
    read = backup.read_backup(str(tmp_path / "b" / name))
    assert read.schedulerMetadata.frameworkId == "fw" and [t.assignedTask.taskId for t in read.tasks] == ["t"]
    with open(tmp_path / "b" / name, "rb") as f:  # plain Thrift-binary Snapshot, any reader can open it
        assert f.read() == codec.encode(SNAPSHOT)


def test_a_failed_write_leaves_the_previous_backup_whole_and_is_counted(tmp_path, monkeypatch):
    clock = Clock()
    backups = Backups(str(tmp_path), clock=clock)
    first = backups.write(SNAPSHOT)
    with open(tmp_path / first, "rb") as f:
        before = f.read()

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", crash)
    clock.now += 1  # the same minute: the same name
    assert backups.write(Snapshot(timestamp=1)) is None
    assert (backups.success, backups.failed) == (1, 1)
    with open(tmp_path / first, "rb") as f:
        assert f.read() == before
    assert backups.last == T0  # a failed backup does not restart the interval


def test_retention_keeps_max_saved(tmp_path):
    clock = Clock()
    backups = Backups(str(tmp_path), max_saved=3, clock=clock)
    written = []
    for _ in range(5):
        written.append(backups.write(SNAPSHOT))
        clock.now += 3600
    assert backups.list() == written[-3:]


def test_backup_dir_is_created(tmp_path):
    Backups(str(tmp_path / "a" / "b"))
    assert os.path.isdir(tmp_path / "a" / "b")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_backup_dir_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(BackupDirError, match=rf"^-backup_dir={locked} is not writable: Permission denied$"):
        Backups(str(locked))
    with pytest.raises(BackupDirError, match=rf"^-backup_dir={locked}/sub cannot be created: Permission denied$"):
        Backups(str(locked / "sub"))


def test_a_file_as_backup_dir_is_one_line(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(BackupDirError, match=rf"^-backup_dir={path} cannot be created: File exists$"):
        Backups(str(path))
    with pytest.raises(BackupDirError, match=rf"^-backup_dir={path}/sub cannot be created: Not a directory$"):
        Backups(str(path / "sub"))


def test_reading_something_else_is_one_coding_error(tmp_path):
    path = tmp_path / "scheduler-backup-x"
    path.write_bytes(b"\x00")
    with pytest.raises(codec.CodingError, match="is not a scheduler backup"):
        backup.read_backup(str(path))
    path.write_bytes(b"\xff\xff")
    with pytest.raises(codec.CodingError):
        backup.read_backup(str(path))
