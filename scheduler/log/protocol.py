"""Wire format and shared vocabulary of the replicated log.

A log is a sequence of entries at positions 1, 2, 3, ...  Each stored entry carries the *ballot* (epoch) of
the writer that proposed it. Ballots are plain integers; a replica promises a ballot only if it is strictly
greater than every ballot it promised before, so at most one writer can ever hold a quorum of promises for a
given ballot, which makes ballots unique per writer without any help from ZooKeeper.

Messages travel as HTTP bodies: a 4-byte big-endian length, a JSON header, then a packed run of entries
(``ENTRY_HEAD`` + payload each). Packing keeps bulk catch-up of 100,000 entries cheap in pure Python.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

# Replica statuses, as Mesos names them.
EMPTY = "EMPTY"
RECOVERING = "RECOVERING"
VOTING = "VOTING"

# Entry kinds.
APPEND = 0
NOOP = 1
TRUNCATE = 2
KIND_NAMES = {APPEND: "APPEND", NOOP: "NOOP", TRUNCATE: "TRUNCATE"}

ENTRY_HEAD = struct.Struct(">QQBI")  # position, ballot, kind, payload length
_HEADER_LEN = struct.Struct(">I")

CONTENT_TYPE = "application/x-aurora-log"

MAX_INT = 2 ** 63  # positions and ballots are SQLite INTEGERs (signed 64-bit): every one is below this


class LogError(Exception):
    """A log operation failed; the message is one line meant for an operator."""


class NotWriter(LogError):
    """This node is not the elected, recovered writer."""


class Fenced(LogError):
    """A replica promised a higher ballot: another writer took over, this one must stop writing."""

    def __init__(self, ballot: int, promised: int):
        super().__init__(f"writer with ballot {ballot} was fenced: a replica promised ballot {promised}")
        self.ballot = ballot
        self.promised = promised


class OutOfRange(LogError):
    """A request names positions outside the log (a caller's mistake, not an outage)."""


class QuorumUnreachable(LogError):
    """Fewer than a quorum of VOTING replicas answered within the deadline."""


@dataclass(frozen=True, slots=True)
class Entry:
    position: int
    ballot: int
    kind: int
    payload: bytes


def pack_entries(entries) -> bytes:
    """Entries as one packed byte string (accepts Entry objects or (pos, ballot, kind, payload) tuples)."""
    parts = []
    pack = ENTRY_HEAD.pack
    for e in entries:
        position, ballot, kind, payload = e if isinstance(e, tuple) else (e.position, e.ballot, e.kind, e.payload)
        parts.append(pack(position, ballot, kind, len(payload)))
        parts.append(payload)
    return b"".join(parts)


def unpack_entries(blob: bytes) -> list[tuple[int, int, int, bytes]]:
    """The inverse of `pack_entries`, as (position, ballot, kind, payload) tuples."""
    out = []
    offset, size = 0, len(blob)
    unpack_from, head = ENTRY_HEAD.unpack_from, ENTRY_HEAD.size
    view = memoryview(blob)
    while offset < size:
        if offset + head > size:
            raise ValueError("truncated entry header")
        position, ballot, kind, length = unpack_from(blob, offset)
        if position >= MAX_INT or ballot >= MAX_INT:
            raise ValueError("entry position or ballot out of range")
        offset += head
        if offset + length > size:
            raise ValueError("truncated entry payload")
        out.append((position, ballot, kind, bytes(view[offset:offset + length])))
        offset += length
    return out


def encode(header: dict, entries=()) -> bytes:
    """One message: JSON header plus packed entries."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _HEADER_LEN.pack(len(raw)) + raw + pack_entries(entries)


def decode(body: bytes) -> tuple[dict, list[tuple[int, int, int, bytes]]]:
    """Header and entries of a message made by `encode`; ValueError on anything malformed."""
    if len(body) < _HEADER_LEN.size:
        raise ValueError("message too short")
    (n,) = _HEADER_LEN.unpack_from(body, 0)
    end = _HEADER_LEN.size + n
    if end > len(body):
        raise ValueError("truncated message header")
    header = json.loads(body[_HEADER_LEN.size:end])
    if not isinstance(header, dict):
        raise ValueError("message header is not an object")  # noqa: TRY004 - callers handle ValueError
    return header, unpack_entries(body[end:])


def read_range(lo: int | None, hi: int | None, begin: int, end: int) -> tuple[int, int]:
    """The positions to read for a request of [lo, hi] (None: not given) from a replica holding committed
    positions begin..end. The rules of Mesos' log reader, and their words: `from` must be a position
    (>= 1) not past the end, `to` not below `from`. Without `from` the read starts at the beginning (an
    empty log reads as nothing); `to` past the end stops at the end; positions before `begin` were
    truncated away and are simply not there. The result may be empty (hi < lo)."""
    if lo is not None and lo < 1:
        raise OutOfRange(f"Bad read range (from={lo}: positions start at 1)")
    if hi is not None and hi < (1 if lo is None else lo):
        raise OutOfRange(f"Bad read range (to < from: to={hi}, from={1 if lo is None else lo})")
    if lo is not None and lo > end:
        raise OutOfRange(f"Bad read range (past end of log: from={lo}, the log ends at {end})")
    return max(lo or 1, begin), min(end if hi is None else hi, end)


def majority(n: int) -> int:
    """Smallest quorum that makes any two quorums of n replicas intersect."""
    return n // 2 + 1
