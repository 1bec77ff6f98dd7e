"""Checkpoint streams: append-only files of framed records.

A record is ``>II`` (payload length, CRC32 of the payload) followed by a JSON payload. Readers stop cleanly at
the first incomplete or corrupt record (a torn tail left by a crash); a writer that reopens a stream truncates
that tail first so later records stay reachable. Every write is fdatasync'd before it returns, so a record
that anyone has been told about is on disk (docs/decisions.md, decision 4).
"""
from __future__ import annotations

import fcntl
import json
import os
import struct
import zlib

FRAME = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024


class LockHeld(Exception):
    """Another live process holds the stream's lock."""


def _unencodable(value):
    raise TypeError(f"checkpoint records hold JSON values only, not {type(value).__name__}")


# The C encoder json.dumps(record, separators=(",", ":"), sort_keys=True) would build, made once: json.dumps
# builds a JSONEncoder and a new C encoder per call, Python code that each forked coordinator would run (and
# copy the pages of) for every record it writes.
_encode_json = json.encoder.c_make_encoder(None, _unencodable, json.encoder.encode_basestring_ascii, None,
                                           ":", ",", True, False, True)


def encode(record: dict) -> bytes:
    payload = "".join(_encode_json(record, 0)).encode()
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def decode(data: bytes | memoryview, offset: int = 0) -> tuple[list[dict], int]:
    """Decode every complete, intact record from ``offset``; return them and the offset just past the last."""
    records = []
    view = memoryview(data)
    end = len(view)
    while offset + FRAME.size <= end:
        length, crc = FRAME.unpack_from(view, offset)
        start = offset + FRAME.size
        if length > MAX_RECORD or start + length > end:
            break
        payload = view[start:start + length]
        if zlib.crc32(payload) != crc:
            break
        try:
            records.append(json.loads(bytes(payload)))
        except ValueError:
            break
        offset = start + length
    return records, offset


def read_all(path: str) -> list[dict]:
    """Every intact record of a stream (empty if the file does not exist)."""
    try:
        with open(path, "rb") as f:
            return decode(f.read())[0]
    except FileNotFoundError:
        return []


def lock_holder(path: str) -> int | None:
    """Pid of the process that took the flock on `path` if anyone holds it (read from /proc/locks, no probe).

    For a runner stream that is the live runner. Probing with a lock of our own would race with a runner
    starting at that moment; reading the kernel's table cannot.
    """
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            table = f.read()
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            return int(fields[4])
    return None


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """Appends records durably to one stream, optionally holding an exclusive flock on it.

    The lock belongs to the open file description, so a forked child that keeps the descriptor keeps the lock:
    that is how a coordinator holds its stream while it lives and releases it when it dies, however it dies.
    """

    def __init__(self, path: str, lock: bool = False, durable_name: bool = True):
        """`durable_name`: fsync the directory when the file is created, so the file survives a machine crash."""
        self.path = path
        created = durable_name and not os.path.exists(path)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if lock:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise LockHeld(path) from None
            self.records = self._truncate_torn_tail()
            os.lseek(self.fd, 0, os.SEEK_END)
            if created:
                _fsync_dir(path)
        except BaseException:
            os.close(self.fd)
            raise

    @classmethod
    def inherit(cls, path: str, fd: int) -> Writer:
        """A writer on `fd`, a descriptor of the stream at `path` that another process opened (and locked):
        what a coordinator writes through (see forkserver.py)."""
        writer = cls.__new__(cls)
        writer.path, writer.fd, writer.records = path, fd, []
        return writer

    def _truncate_torn_tail(self) -> list[dict]:
        size = os.fstat(self.fd).st_size
        data = os.pread(self.fd, size, 0) if size else b""
        records, end = decode(data)
        if end < size:
            os.ftruncate(self.fd, end)
            os.fdatasync(self.fd)
        return records

    def write(self, record: dict, sync: bool = True) -> None:
        """Append a record; with `sync` it is on disk when this returns, and so is every record before it."""
        data = encode(record)
        written = os.write(self.fd, data)
        if written != len(data):  # a short write on a regular file means the disk is full
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        if sync:
            os.fdatasync(self.fd)

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Tailer:
    """Reads a stream incrementally: each call returns the records completed since the last one."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self._fd = -1

    def read_new(self) -> list[dict]:
        if self._fd < 0:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return []
        size = os.fstat(self._fd).st_size
        if size <= self.offset:
            return []
        data = os.pread(self._fd, size - self.offset, self.offset)
        records, consumed = decode(data)
        self.offset += consumed
        return records

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
