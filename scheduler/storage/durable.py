"""`DurableStorage`: the in-memory store, made durable by writing every change to the log first
(Aurora's DurableStorage + StreamManagerImpl + SnapshotService, in one asyncio loop).

Guarantees:

* **Writes are serialized and atomic.** `async with storage.write() as w:` takes the one write lock, runs
  the mutations (each applied to memory at once, its op recorded and coalesced), then appends the
  transaction as one log entry (framed if over -dlog_max_entry_size) and only then returns. If the block
  raises or the append fails, every change of the write is rolled back and the caller gets the error
  (`StorageError` for a failed append). A write nested in another in the same asyncio task joins it; a
  task spawned inside a write does not (it waits for the lock like any other writer).
  Reads do not take the lock: a read running while a write awaits its append sees the write before it is
  durable, as Aurora's lock-free reads may - answer a client only after your own write returned. A failed
  append's outcome is unknown (the log may still hold it); the scheduler must then stop being the leader.
* **Replay rebuilds memory from the log** (`start`): a snapshot deletes everything and loads itself;
  transactions apply their ops in order; no-ops are skipped; an aborted frame is skipped and counted
  (`scheduler_log_bad_frames_read`); a frame failing its MD5, an undecodable entry, or one from a newer
  schema stops replay with a `StorageError` naming the position, and storage stays not READY.
* **Snapshots** (`snapshot`), under the write lock: the whole store, deduplicated and deflated as Aurora
  writes it, appended, then the log truncated before it; `scheduler_log_snapshots` counts them,
  `scheduler_log_un_snapshotted_transactions` counts the transactions since the last one. When a
  `Backups` is given and due, the same snapshot is then backed up (off the loop).
* **Persisting a given snapshot** (`persist`, online recovery's commit) appends it and truncates the log
  before it, as `snapshot` does, and then stops the storage while still holding the write lock (also when
  the append failed: its outcome is unknown): memory is not reloaded, and no write can land after it. The
  scheduler must then exit; its restart replays from it.
* **Lifecycle**: CONSTRUCTED -> `prepare` -> PREPARED -> `start` -> READY -> `stop` -> STOPPED; anything
  else raises `TransientStorageError("Storage is not <STATE>")` (see lifecycle.py).

Time is injected (`clock`, seconds since the epoch), for snapshot timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable

from . import codec, dedup, framing
from . import snapshot as snapshots
from .backup import Backups
from .gen.ttypes import LogEntry
from .lifecycle import Lifecycle, State, StorageError, TransientStorageError
from .log import Log
from .store import Store
from .writer import Transaction, Writer

log = logging.getLogger(__name__)

# (storage, its open transaction, the asyncio task that opened it) of the write this context is inside, if any.
# Tasks spawned inside a write inherit the context but not the write: they check the task.
_open_write: contextvars.ContextVar[tuple[DurableStorage, Transaction, asyncio.Task] | None] = \
    contextvars.ContextVar("open_storage_write", default=None)

__all__ = ["DurableStorage", "StorageError", "TransientStorageError", "State"]


class DurableStorage:
    def __init__(self, log_: Log, *, max_entry_size: int = framing.DEFAULT_MAX_ENTRY_SIZE,
                 clock: Callable[[], float] = time.time, backups: Backups | None = None,
                 details: dict[str, str] | None = None):
        self.log = log_
        self.max_entry_size = max_entry_size
        self.clock = clock
        self.backups = backups
        self.details = details or {}  # goes into every snapshot's schedulerMetadata.details
        self.lifecycle = Lifecycle()
        self._store = Store()
        self._lock = asyncio.Lock()
        self.snapshots = 0
        self.un_snapshotted_transactions = 0
        self.bad_frames_read = 0
        self.entries_read = 0
        self.entries_written = 0
        self.bytes_written = 0

    @property
    def state(self) -> State:
        return self.lifecycle.state

    @property
    def store(self) -> Store:
        """The in-memory store, for reads (READY only)."""
        self.lifecycle.require(State.READY)
        return self._store

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def prepare(self) -> None:
        self.lifecycle.advance(State.CONSTRUCTED, State.PREPARED)

    async def start(self) -> None:
        """Replay the log into memory, then become READY."""
        self.lifecycle.require(State.PREPARED)
        started = time.monotonic()
        self._store.reset()
        unframer = framing.Unframer()
        position = 0
        with _gc_paused():  # replay allocates millions of objects that all live: collecting would only scan
            try:
                async for position, data in self.log.read():
                    whole = unframer.push(position, data)
                    if whole is not None:
                        self._replay(*whole)
                unframer.close()
            except codec.CodingError as e:
                raise StorageError(f"cannot replay the log at position {position}: {e}") from e
            except (AttributeError, TypeError, IndexError, KeyError, ValueError) as e:  # decoded, but malformed
                raise StorageError(f"cannot replay the log at position {position}: a malformed entry "
                                   f"({type(e).__name__}: {e})") from e
            finally:
                self.bad_frames_read += unframer.bad_frames
        self.lifecycle.advance(State.PREPARED, State.READY)
        log.info("storage READY: replayed %d entries (%d tasks) in %.2fs", self.entries_read,
                 len(self._store.tasks), time.monotonic() - started)

    async def stop(self) -> None:
        self.lifecycle.state = State.STOPPED

    # -- writes --------------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Writer]:
        """A write transaction (see the module docstring)."""
        joined = _open_write.get()
        if joined is not None and joined[0] is self and joined[2] is asyncio.current_task():
            yield Writer(joined[1])
            return
        self.lifecycle.require(State.READY)
        async with self._lock:
            self.lifecycle.require(State.READY)
            tx = Transaction(self._store)
            token = _open_write.set((self, tx, asyncio.current_task()))
            try:
                try:
                    yield Writer(tx)
                except BaseException:
                    tx.rollback()
                    raise
                if tx.recorder.ops:
                    await self._append_or_roll_back(tx)
            finally:
                _open_write.reset(token)

    async def _append_or_roll_back(self, tx: Transaction) -> None:
        try:
            await self._append(codec.transaction(tx.recorder.ops))
        except BaseException as e:
            tx.rollback()
            if isinstance(e, Exception):
                raise StorageError(f"the write failed and was undone in memory: {e}") from e
            raise
        self.un_snapshotted_transactions += 1

    async def _append(self, entry: LogEntry) -> int:
        """Append one entry (framed if too big) in one log append; the position of its first log entry."""
        entries = framing.frame(codec.encode(entry), self.max_entry_size)
        positions = await self.log.append(entries)
        self.entries_written += 1
        self.bytes_written += sum(map(len, entries))
        return positions[0]

    # -- snapshots and backups -----------------------------------------------------------------------------
    async def snapshot(self) -> int:
        """Write a snapshot and truncate the log before it; its position. Backs it up when due."""
        self.lifecycle.require(State.READY)
        async with self._lock:
            self.lifecycle.require(State.READY)
            snapshot = snapshots.build(self._store, int(self.clock() * 1000), self.details)
            position = await self._write_snapshot(snapshot, "snapshot failed")
            self.snapshots += 1
            self.un_snapshotted_transactions = 0
            log.info("snapshot of %d tasks at log position %d", len(snapshot.tasks), position)
        if self.backups is not None and self.backups.due():
            await asyncio.to_thread(self.backups.write, snapshot)
        return position

    async def _write_snapshot(self, snapshot, failure: str) -> int:
        """Append `snapshot` (deduplicated, deflated) and truncate the log before it; its position."""
        entry = codec.deflate(LogEntry(deduplicatedSnapshot=dedup.deduplicate(snapshot)))
        try:
            position = await self._append(entry)
            await self.log.truncate(position)
        except Exception as e:
            raise StorageError(f"{failure}: {e}") from e
        return position

    async def persist(self, snapshot) -> int:
        """Make `snapshot` the log's whole state, then stop (see the module docstring); its position."""
        self.lifecycle.require(State.READY)
        async with self._lock:
            self.lifecycle.require(State.READY)
            try:
                position = await self._write_snapshot(snapshot, "writing the recovered snapshot failed")
            finally:
                self.lifecycle.state = State.STOPPED
            log.warning("recovered snapshot of %d tasks written at log position %d; storage STOPPED",
                        len(snapshot.tasks or ()), position)
        return position

    async def backup_now(self) -> str | None:
        """Back up the current state now, whatever the interval (admin performBackup); the file name."""
        if self.backups is None:
            raise StorageError("no -backup_dir configured")
        async with self._lock:
            snapshot = snapshots.build(self.store, int(self.clock() * 1000), self.details)
        return await asyncio.to_thread(self.backups.write, snapshot)

    def vars(self) -> dict[str, int]:
        return {
            "scheduler_log_snapshots": self.snapshots,
            "scheduler_log_un_snapshotted_transactions": self.un_snapshotted_transactions,
            "scheduler_log_bad_frames_read": self.bad_frames_read,
            "scheduler_log_entries_read": self.entries_read,
            "scheduler_log_entries_written": self.entries_written,
            "scheduler_log_bytes_written": self.bytes_written,
            "scheduler_backup_success": self.backups.success if self.backups else 0,
            "scheduler_backup_failed": self.backups.failed if self.backups else 0,
        }

    # -- replay --------------------------------------------------------------------------------------------
    def _replay(self, position: int, entry: LogEntry) -> None:
        if entry.deflatedEntry is not None:
            entry = codec.inflate(entry)
        codec.check_version(entry)
        kind = codec.kind(entry)
        self.entries_read += 1
        if kind == "transaction":
            apply = self._store.apply
            for op in entry.transaction.ops or ():
                apply(op)
            self.un_snapshotted_transactions += 1
        elif kind in ("snapshot", "deduplicatedSnapshot"):
            full = entry.snapshot if kind == "snapshot" else dedup.reduplicate(entry.deduplicatedSnapshot)
            snapshots.load(self._store, full)
            self.un_snapshotted_transactions = 0
        elif kind != "noop":
            raise codec.CodingError(f"unexpected {kind} entry")


@contextlib.contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
