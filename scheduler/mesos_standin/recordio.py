"""RecordIO, the framing of the Mesos v1 streaming responses.

A stream is a sequence of records, each `<decimal byte length>\\n<that many bytes of JSON>`. Records are carried in
HTTP chunks, but record and chunk boundaries are unrelated: one chunk may hold several records or a part of one.
"""
from __future__ import annotations

import json

MAX_RECORD = 64 * 1024 * 1024


class RecordIOError(ValueError):
    """The byte stream is not valid RecordIO."""


def encode(message: dict) -> bytes:
    """One record holding `message` as compact UTF-8 JSON."""
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return b"%d\n%s" % (len(body), body)


class Decoder:
    """Incremental decoder: feed it bytes as they arrive, get back the complete records."""

    def __init__(self):
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict]:
        self._buffer += data
        records = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > 20:
                    raise RecordIOError(f"no record length in the first {len(self._buffer)} bytes")
                return records
            prefix = self._buffer[:newline]
            if not prefix.isdigit():
                raise RecordIOError(f"bad record length {prefix[:20]!r}")
            length = int(prefix)
            if length > MAX_RECORD:
                raise RecordIOError(f"record of {length} bytes exceeds the {MAX_RECORD} byte limit")
            end = newline + 1 + length
            if len(self._buffer) < end:
                return records
            payload = self._buffer[newline + 1:end]
            self._buffer = self._buffer[end:]
            try:
                records.append(json.loads(payload))
            except ValueError as e:
                raise RecordIOError(f"record is not JSON: {e}") from None

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a complete record."""
        return len(self._buffer)
