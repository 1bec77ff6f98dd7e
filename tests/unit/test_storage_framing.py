"""Framing of entries over -dlog_max_entry_size: split and reassembly, aborted frames skipped and counted,
orphan chunks skipped, an MD5 mismatch a hard error."""
import hashlib

import pytest

from scheduler.storage import codec, framing
from scheduler.storage.gen.ttypes import Frame, FrameChunk, LogEntry, Op, SaveFrameworkId


def _entry(n: int) -> bytes:
    """An encoded transaction of roughly n bytes."""
    return codec.encode(codec.transaction([Op(saveFrameworkId=SaveFrameworkId(id="x" * n))]))


def _read(raw: list[bytes]) -> tuple[list[tuple[int, LogEntry]], int]:
    unframer = framing.Unframer()
    out = [w for p, data in enumerate(raw, 1) if (w := unframer.push(p, data)) is not None]
    unframer.close()
    return out, unframer.bad_frames


def test_an_entry_that_fits_is_appended_as_is():
    data = _entry(100)
    assert framing.frame(data, len(data)) == [data]


def test_a_big_entry_is_a_header_and_chunks_that_reassemble():
    data = _entry(10_000)
    raw = framing.frame(data, 1000)
    header = codec.decode(raw[0]).frame.header
    assert header.chunkCount == len(raw) - 1 == -(-len(data) // 1000)
    assert header.checksum == hashlib.md5(data).digest()
    chunks = [codec.decode(r).frame.chunk.data for r in raw[1:]]
    assert all(len(c) == 1000 for c in chunks[:-1]) and b"".join(chunks) == data
    assert _read(raw) == ([(1, codec.decode(data))], 0)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_chunk_boundaries_at_the_limit(extra):
    data = _entry(3000)
    size = len(data) // 3 + extra
    raw = framing.frame(data, size)
    assert len(raw) == 1 + -(-len(data) // size)
    assert _read(raw)[0] == [(1, codec.decode(data))]
    assert framing.frame(data, len(data)) == [data] and len(framing.frame(data, len(data) - 1)) == 3


def test_an_aborted_frame_is_skipped_counted_and_what_follows_is_read():
    big, small = _entry(5000), _entry(10)
    aborted = framing.frame(big, 1000)[:3]  # the header and 2 of its 6 chunks landed, then the append failed
    raw = [small, *aborted, small, *framing.frame(big, 1000)]
    entries, bad = _read(raw)
    assert bad == 1
    assert [p for p, _ in entries] == [1, 5, 6]
    assert entries[2][1] == codec.decode(big)


def test_a_frame_cut_short_by_the_end_of_the_log_is_aborted():
    entries, bad = _read([_entry(10), *framing.frame(_entry(5000), 1000)[:-1]])
    assert (len(entries), bad) == (1, 1)


def test_a_chunk_without_a_header_is_skipped():
    orphan = framing.frame(_entry(5000), 1000)[2]
    entries, bad = _read([orphan, _entry(10)])
    assert [p for p, _ in entries] == [2] and bad == 0


def test_an_md5_mismatch_is_a_hard_error():
    raw = framing.frame(_entry(5000), 1000)
    chunk = codec.decode(raw[2]).frame.chunk
    raw[2] = codec.encode(LogEntry(frame=Frame(chunk=FrameChunk(data=bytes([chunk.data[0] ^ 1]) + chunk.data[1:]))))
    with pytest.raises(codec.CodingError, match="framed entry at position 1 failed its MD5 checksum"):
        _read(raw)


def test_the_size_must_be_positive():
    with pytest.raises(ValueError):
        framing.frame(b"x", 0)
