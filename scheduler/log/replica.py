"""One replica of the log: an acceptor persisted in SQLite.

`Replica` holds the durable state of one member of the log and applies the acceptor rules to it:

* ``promise(ballot)`` succeeds only for a ballot strictly greater than any promised before;
* ``write(ballot, entries, commit)`` is accepted only for a ballot at least as high as the promise;
* positions up to ``learned`` are known committed (chosen); they never change again;
* ``commit`` advances ``learned`` over positions whose stored ballot is the committing writer's ballot --
  anything else (a hole, or a value left by an older writer) needs catch-up from a peer first.

Statuses are Mesos': EMPTY (no durable state: takes part in nothing), RECOVERING (copying the log from a
quorum after losing its disk; does not vote) and VOTING.

Durability: SQLite in WAL mode with ``synchronous=FULL`` -- every committed transaction fsyncs the WAL, so a
write is on disk before the replica answers. One transaction per message means one fsync per batch of
entries. See docs/decisions.md ("Replica durability").

Every method is synchronous and guarded by one lock; the server calls them from a single worker thread so
the event loop never waits on an fsync.

One process at a time: opening a replica takes an exclusive ``flock`` on ``<dir>/replica.lock`` (as Mesos'
LevelDB holds its LOCK file) and keeps it until `close`. Two servers on one directory would vote twice with
one disk -- one disk counted twice toward the quorum can lose acknowledged writes -- so the second refuses.
Read-only inspection (``aurora-log status/read --path``) opens the SQLite file directly and needs no lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import uuid

import sqlite_utils

from .protocol import EMPTY, TRUNCATE, VOTING, Entry, LogError

DB_NAME = "replica.sqlite"
LOCK_NAME = "replica.lock"


def db_file(path: str) -> str:
    """The SQLite file inside the replica directory `path` (Aurora's -native_log_file_path is a directory)."""
    return os.path.join(path, DB_NAME)


def lock_directory(path: str) -> int:
    """Take the exclusive lock of the replica directory `path`; its file descriptor (closing it unlocks).
    LogError, naming the holder's pid, if another process (or another opening in this one) holds it."""
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise LogError(f"cannot open the lock file of replica directory {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise LogError(f"replica directory {path} is in use by another process (pid {holder}): "
                       f"one replica directory can be served by one process only") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def truncate_target(payload: bytes) -> int:
    return int.from_bytes(payload, "big")


def truncate_payload(before: int) -> bytes:
    return before.to_bytes(8, "big")


class Replica:
    """Durable acceptor state at `path`. Created EMPTY if nothing is there."""

    def __init__(self, path: str):
        """Open (creating it EMPTY if needed) and lock the replica at directory `path`. LogError, one line,
        if the directory cannot be made, is held by another process, or holds no usable database."""
        self.path = path
        if os.path.exists(path) and not os.path.isdir(path):
            raise LogError(f"{path} exists and is not a directory")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise LogError(f"cannot create replica directory {path}: {e.strerror or e}") from None
        self._lock_fd = lock_directory(path)
        self._conn = None
        try:
            self._open()
        except (sqlite3.Error, KeyError, ValueError) as e:
            if self._conn is not None:
                self._conn.close()
            os.close(self._lock_fd)
            raise LogError(f"{db_file(path)} is not a usable replica database: {e}") from None

    def _open(self) -> None:
        path = self.path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_file(path), isolation_level=None, check_same_thread=False)
        # Durable before acknowledging: WAL + synchronous=FULL fsyncs the WAL at every commit.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        db = sqlite_utils.Database(self._conn)
        db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        db["log"].create({"position": int, "ballot": int, "kind": int, "payload": bytes},
                         pk="position", if_not_exists=True)
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if "id" not in meta:
            meta = {"id": uuid.uuid4().hex[:12], "status": EMPTY, "promised": "0", "learned": "0", "begin": "1"}
            self._put_meta(meta)
        self.replica_id: str = meta["id"]
        self.status: str = meta["status"]
        self.promised = int(meta["promised"])
        self.learned = int(meta["learned"])
        self.begin = int(meta["begin"])
        row = self._conn.execute("SELECT MAX(position) FROM log").fetchone()
        self.end = max(row[0] or 0, self.begin - 1, self.learned)
        self._learned_dirty = False
        self._recent: tuple[int, int, int] | None = None  # (ballot, first, last) of the last write

    # -- helpers -------------------------------------------------------------------------------------------
    def _put_meta(self, values: dict, commit: bool = True) -> None:
        if commit:
            self._conn.execute("BEGIN IMMEDIATE")
        self._conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               [(k, str(v)) for k, v in values.items()])
        if commit:
            self._conn.execute("COMMIT")

    def _tx(self):
        return _Transaction(self._conn)

    def close(self) -> None:
        with self._lock:
            try:
                self.flush()
                self._conn.close()
            finally:
                os.close(self._lock_fd)

    def info(self) -> dict:
        with self._lock:
            return {"id": self.replica_id, "status": self.status, "promised": self.promised,
                    "learned": self.learned, "begin": self.begin, "end": self.end}

    # -- lifecycle -----------------------------------------------------------------------------------------
    def initialize(self) -> None:
        """EMPTY -> VOTING with an empty log (``aurora-log initialize``). Refuses anything but EMPTY."""
        with self._lock:
            if self.status != EMPTY:
                raise LogError(f"replica at {self.path} is {self.status}, not EMPTY: refusing to initialize")
            self._put_meta({"status": VOTING})
            self.status = VOTING

    def set_status(self, status: str) -> None:
        with self._lock:
            self._put_meta({"status": status})
            self.status = status

    # -- acceptor rules ------------------------------------------------------------------------------------
    def promise(self, ballot: int) -> dict:
        """Promise `ballot` if strictly greater than every earlier promise (durably, before answering)."""
        with self._lock:
            reply = {"id": self.replica_id, "status": self.status, "promised": self.promised}
            if self.status != VOTING:
                reply["ok"] = False
                return reply
            if ballot <= self.promised:
                reply["ok"] = False
                return reply
            self._put_meta({"promised": ballot, "learned": self.learned})
            self._learned_dirty = False
            self.promised = ballot
            reply.update(ok=True, promised=ballot, learned=self.learned, begin=self.begin, end=self.end)
            return reply

    def write(self, ballot: int, entries, commit: int = 0) -> dict:
        """Store `entries` (tuples or Entry) under `ballot` if not fenced, durably; then learn up to `commit`."""
        with self._lock:
            reply = {"id": self.replica_id, "status": self.status, "promised": self.promised}
            if self.status != VOTING or ballot < self.promised:
                reply["ok"] = False
                return reply
            rows = []
            for e in entries:
                position, kind, payload = ((e[0], e[2], e[3]) if isinstance(e, tuple)
                                           else (e.position, e.kind, e.payload))
                if position > self.learned:
                    rows.append((position, ballot, kind, payload))
            raise_promise = ballot > self.promised
            with self._tx():
                if raise_promise:
                    self._put_meta({"promised": ballot}, commit=False)
                if rows:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO log(position, ballot, kind, payload) VALUES (?, ?, ?, ?)", rows)
                    self.end = max(self.end, rows[-1][0], max(r[0] for r in rows))
                    contiguous = all(rows[i][0] == rows[0][0] + i for i in range(len(rows)))
                    plain = all(r[2] != TRUNCATE for r in rows)
                    self._recent = (ballot, rows[0][0], rows[-1][0]) if contiguous and plain else None
                self._advance(ballot, commit)
                if self._learned_dirty:
                    self._put_meta({"learned": self.learned, "begin": self.begin}, commit=False)
                    self._learned_dirty = False
            if raise_promise:
                self.promised = ballot  # only once on disk: a failed transaction leaves the promise as it was
            reply.update(ok=True, promised=self.promised, learned=self.learned, end=self.end)
            return reply

    def commit(self, ballot: int, upto: int) -> bool:
        """Learn positions up to `upto` written under `ballot`. True if catch-up is needed to get there.

        The learned mark is advisory (losing it only costs a re-learn), so it is persisted with the next
        write or `flush`.
        """
        with self._lock:
            self._advance(ballot, upto)
            return self.learned < upto

    def flush(self) -> None:
        """Persist the learned mark if it moved since the last write."""
        with self._lock:
            if self._learned_dirty:
                self._put_meta({"learned": self.learned, "begin": self.begin})
                self._learned_dirty = False

    def _advance(self, ballot: int, upto: int) -> None:
        if upto <= self.learned:
            return
        recent = self._recent
        if recent and recent[0] == ballot and recent[1] <= self.learned + 1 and upto <= recent[2]:
            # Fast path: the positions being learned are the ones this writer just wrote here (no query).
            self.learned = upto
            self._learned_dirty = True
            return
        with self._tx():  # joins the transaction of `write`
            cur = self._conn.execute(
                "SELECT position, ballot, kind, payload FROM log WHERE position > ? AND position <= ? "
                "ORDER BY position", (self.learned, upto))
            learned = self.learned
            truncate_to = 0
            for position, b, kind, payload in cur:
                if position != learned + 1 or b != ballot:
                    break
                learned = position
                if kind == TRUNCATE:
                    truncate_to = max(truncate_to, truncate_target(payload))
            cur.close()
            if learned != self.learned:
                self.learned = learned
                self._learned_dirty = True
            if truncate_to:
                self._truncate(min(truncate_to, self.learned + 1))

    def _truncate(self, before: int) -> None:
        if before > self.begin:
            self._conn.execute("DELETE FROM log WHERE position < ?", (before,))
            self.begin = before
            self._learned_dirty = True

    # -- reads ---------------------------------------------------------------------------------------------
    def accepted(self, lo: int, hi: int) -> list[Entry]:
        """Every stored entry in [lo, hi] with its ballot, committed or not (for a writer's recovery)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT position, ballot, kind, payload FROM log WHERE position >= ? AND position <= ? "
                "ORDER BY position", (lo, hi)).fetchall()
        return [Entry(*r) for r in rows]

    def learned_entries(self, lo: int, hi: int, limit: int = 50_000) -> tuple[int, int, list[tuple]]:
        """Committed entries from max(lo, begin) up to min(hi, learned), at most `limit` of them.

        Returns (begin, learned, entries) so a lagging replica can skip what was truncated away.
        """
        with self._lock:
            lo = max(lo, self.begin)
            hi = min(hi, self.learned, lo + limit - 1)
            rows = self._conn.execute(
                "SELECT position, ballot, kind, payload FROM log WHERE position >= ? AND position <= ? "
                "ORDER BY position", (lo, hi)).fetchall() if hi >= lo else []
            return self.begin, self.learned, rows

    def read(self, lo: int, hi: int) -> list[Entry]:
        """Committed entries (all kinds) in [lo, hi]."""
        with self._lock:
            hi = min(hi, self.learned)
            rows = self._conn.execute(
                "SELECT position, ballot, kind, payload FROM log WHERE position >= ? AND position <= ? "
                "ORDER BY position", (lo, hi)).fetchall() if hi >= lo else []
        return [Entry(*r) for r in rows]

    # -- catch-up sinks ------------------------------------------------------------------------------------
    def install_learned(self, begin: int, rows: list[tuple]) -> None:
        """Store committed entries copied from a peer (contiguous, starting at or before learned + 1,
        or at the peer's `begin` when everything before it was truncated away)."""
        with self._lock, self._tx():
            self._recent = None
            if begin > self.learned + 1:
                # Everything we lack was truncated at the source: jump to its beginning.
                self._conn.execute("DELETE FROM log WHERE position < ?", (begin,))
                self.begin = begin
                self.learned = begin - 1
                self._learned_dirty = True
            expected = self.learned + 1
            batch = []
            truncate_to = 0
            for position, ballot, kind, payload in rows:
                if position < expected:
                    continue
                if position != expected:
                    break
                batch.append((position, ballot, kind, payload))
                if kind == TRUNCATE:
                    truncate_to = max(truncate_to, truncate_target(payload))
                expected += 1
            if batch:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO log(position, ballot, kind, payload) VALUES (?, ?, ?, ?)", batch)
                self.learned = batch[-1][0]
                self.end = max(self.end, self.learned)
                self._learned_dirty = True
            if truncate_to:
                self._truncate(min(truncate_to, self.learned + 1))
            if self._learned_dirty:
                self._put_meta({"learned": self.learned, "begin": self.begin}, commit=False)
                self._learned_dirty = False

    def install_accepted(self, entries: list[Entry], promised: int) -> None:
        """Store uncommitted entries with their original ballots and raise the promise (disk-loss recovery)."""
        with self._lock, self._tx():
            self._recent = None
            rows = [(e.position, e.ballot, e.kind, e.payload) for e in entries if e.position > self.learned]
            if rows:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO log(position, ballot, kind, payload) VALUES (?, ?, ?, ?)", rows)
                self.end = max(self.end, max(r[0] for r in rows))
            if promised > self.promised:
                self.promised = promised
                self._put_meta({"promised": promised}, commit=False)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nested use joins the outer transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.outer = False

    def __enter__(self):
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
