"""Entries larger than -dlog_max_entry_size, as a header and chunks, and their reassembly (Aurora's
EntrySerializer and StreamManagerImpl.readFromBeginning).

`frame(data, max_size)` is what a writer appends, all in one append: `data` itself when it fits, otherwise a
`FrameHeader{chunkCount, md5(data)}` entry followed by `chunkCount` `FrameChunk` entries of at most `max_size`
bytes of `data` each (a chunk entry is a few bytes bigger than its data, as Aurora's are).

`Unframer` is given raw entries in log order and answers whole, decoded `LogEntry`s:

* a header followed by fewer chunks than it announces (the log ends, or another entry comes first) is an
  append that failed part way: it is skipped, counted in `bad_frames`, and the entry that cut it short is
  read normally;
* a chunk without a header is skipped with a warning (Aurora does not count it either);
* chunks whose joined data fails the header's MD5 raise `CodingError`: that is corruption, not an abort.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import logging
from . import codec
from .gen.ttypes import Frame, FrameChunk, FrameHeader, LogEntry

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRY_SIZE = 512 * 1024  # -dlog_max_entry_size's default


def frame(data: bytes, max_size: int) -> list[bytes]:
    """The entries to append for one encoded entry (see the module docstring)."""
    if max_size < 1:
        raise ValueError(f"max entry size must be positive, not {max_size}")
    if len(data) <= max_size:
        return [data]
    chunks = [data[i:i + max_size] for i in range(0, len(data), max_size)]
    header = FrameHeader(chunkCount=len(chunks), checksum=hashlib.md5(data).digest())
    return [codec.encode(LogEntry(frame=Frame(header=header))),
            *(codec.encode(LogEntry(frame=Frame(chunk=FrameChunk(data=c)))) for c in chunks)]


class Unframer:
    """Turns raw log entries, pushed in log order, into whole entries (see the module docstring).

    One per read of the log: `push` each (position, bytes), then `close` at the end of the log.
    """

    def __init__(self):
        self.bad_frames = 0
        self._header: FrameHeader | None = None
        self._start = 0
        self._chunks: list[bytes] = []

    def push(self, position: int, data: bytes) -> tuple[int, LogEntry] | None:
        """The whole entry this raw entry completes, if any, as (position, entry); a reassembled entry
        carries the position of its header."""
        entry = codec.decode(data)
        if self._header is not None:
            if entry.frame is not None and entry.frame.chunk is not None:
                return self._add_chunk(entry.frame.chunk.data or b"")
            self._abort()
        if entry.frame is None:
            return position, entry
        if entry.frame.header is not None:
            self._header, self._start, self._chunks = entry.frame.header, position, []
            if (self._header.chunkCount or 0) < 1:
                self._abort()
        else:
            log.warning("found a frame chunk with no preceding header at position %d, skipping", position)
        return None

    def close(self) -> None:
        """The log ended: a frame still missing chunks was aborted."""
        if self._header is not None:
            self._abort()

    def _add_chunk(self, data: bytes) -> tuple[int, LogEntry] | None:
        self._chunks.append(data)
        if len(self._chunks) < self._header.chunkCount:
            return None
        whole = b"".join(self._chunks)
        if hashlib.md5(whole).digest() != self._header.checksum:
            raise codec.CodingError(f"framed entry at position {self._start} failed its MD5 checksum")
        self._header, self._chunks = None, []
        return self._start, codec.decode(whole)

    def _abort(self) -> None:
        log.info("found an aborted transaction at position %d: required %d frames and found %d",
                 self._start, self._header.chunkCount or 0, len(self._chunks))
        self.bad_frames += 1
        self._header, self._chunks = None, []
