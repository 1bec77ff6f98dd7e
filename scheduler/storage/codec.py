"""Log entries to bytes and back: Thrift binary (Debian's C-accelerated codec), deflate, schema versions.

Guarantees: `decode(encode(entry)) == entry`; `decode` turns any malformed input into one `CodingError`;
`check_version` refuses an entry written by a newer schema, or of a kind this code does not know, with one
`SchemaVersionError` naming the versions, instead of replaying it wrongly.

Sets in the schema (SaveTasks.tasks, Snapshot.tasks, ...) may be given as lists when encoding: the wire is the
same, and building a set would hash every task by value for nothing.
"""

from __future__ import annotations

import zlib

from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated, TBinaryProtocolAcceleratedFactory
from thrift.transport.TTransport import TMemoryBuffer

from .gen.constants import CURRENT_SCHEMA_VERSION
from .gen.ttypes import LogEntry, Op, Transaction

_FACTORY = TBinaryProtocolAcceleratedFactory()


class CodingError(Exception):
    """Bytes that are not a valid entry (or a framed entry that fails its checksum)."""


class SchemaVersionError(CodingError):
    """An entry written by a newer storage schema than this code knows."""


def encode(struct) -> bytes:
    buffer = TMemoryBuffer()
    struct.write(_FACTORY.getProtocol(buffer))
    return buffer.getvalue()


def decode(data: bytes, cls=LogEntry):
    """A `cls` decoded from Thrift binary; `CodingError` for anything malformed.

    No string or container may claim more elements than the input has bytes: a corrupt length is refused at
    once instead of making the C decoder build billions of empty values.
    """
    limit = len(data)
    protocol = TBinaryProtocolAccelerated(TMemoryBuffer(data), string_length_limit=limit,
                                          container_length_limit=limit)
    try:
        struct = cls()
        struct.read(protocol)
        return struct
    except Exception as e:  # noqa: BLE001 - the C decoder raises many kinds; callers get one
        raise CodingError(f"undecodable {cls.__name__} ({len(data)} bytes): {e}") from None


def transaction(ops: list[Op]) -> LogEntry:
    return LogEntry(transaction=Transaction(ops=ops, schemaVersion=CURRENT_SCHEMA_VERSION))


def deflate(entry: LogEntry) -> LogEntry:
    """The entry, Thrift-binary encoded and zlib-compressed, wrapped as a `deflatedEntry` (Aurora's Entries)."""
    return LogEntry(deflatedEntry=zlib.compress(encode(entry), 6))


def inflate(entry: LogEntry) -> LogEntry:
    try:
        data = zlib.decompress(entry.deflatedEntry)
    except zlib.error as e:
        raise CodingError(f"corrupt deflated entry: {e}") from None
    return decode(data)


def kind(entry: LogEntry) -> str:
    """The name of the union field set; `SchemaVersionError` if none we know is (a newer writer's kind)."""
    for field in entry.thrift_spec:
        if field and getattr(entry, field[2]) is not None:
            return field[2]
    raise SchemaVersionError("log entry of a kind this scheduler does not know (written by a newer scheduler?)")


def check_version(entry: LogEntry) -> None:
    """Refuse transactions and snapshots of a newer schema, and ops of a kind we do not know."""
    if entry.transaction is not None:
        _check(entry.transaction.schemaVersion, "transaction")
        for op in entry.transaction.ops or ():
            if not any(f and getattr(op, f[2]) is not None for f in op.thrift_spec):
                raise SchemaVersionError("transaction holds an op of a kind this scheduler does not know "
                                         "(written by a newer scheduler?)")
    elif entry.snapshot is not None:
        _check(entry.snapshot.schemaVersion, "snapshot")
    elif entry.deduplicatedSnapshot is not None and entry.deduplicatedSnapshot.partialSnapshot is not None:
        _check(entry.deduplicatedSnapshot.partialSnapshot.schemaVersion, "snapshot")


def _check(version: int | None, what: str) -> None:
    # Aurora writes schemaVersion 1 in transactions and none in snapshots: both read as version 1.
    if (version or 1) > CURRENT_SCHEMA_VERSION:
        raise SchemaVersionError(f"{what} has storage schema version {version}, newer than this scheduler's "
                                 f"{CURRENT_SCHEMA_VERSION}: run a scheduler that knows it")
