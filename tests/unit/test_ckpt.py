"""Checkpoint codec: framing, CRC, torn tails for readers and writers, incremental tailing, lock holder."""
import os

import pytest

from thermos_executor.runner import ckpt


def test_round_trip(tmp_path):
    path = str(tmp_path / "s")
    w = ckpt.Writer(path)
    records = [{"task_status": {"state": "ACTIVE", "timestamp": 1.5}}, {"header": {"task_id": "t", "ports": {"a": 1}}}]
    for r in records:
        w.write(r)
    w.close()
    assert ckpt.read_all(path) == records


def test_missing_file_reads_empty(tmp_path):
    assert ckpt.read_all(str(tmp_path / "nope")) == []


@pytest.mark.parametrize("cut", [1, 4, 7, 9, 14])
def test_torn_tail_stops_reader_and_is_truncated_by_writer(tmp_path, cut):
    path = str(tmp_path / "s")
    good = ckpt.encode({"a": 1})
    torn = ckpt.encode({"b": 2})[:cut]
    with open(path, "wb") as f:
        f.write(good + torn)
    assert ckpt.read_all(path) == [{"a": 1}]
    w = ckpt.Writer(path)
    assert w.records == [{"a": 1}]
    assert os.path.getsize(path) == len(good)
    w.write({"c": 3})
    w.close()
    assert ckpt.read_all(path) == [{"a": 1}, {"c": 3}]


def test_corrupt_crc_is_a_tail(tmp_path):
    path = str(tmp_path / "s")
    bad = bytearray(ckpt.encode({"b": 2}))
    bad[-2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(ckpt.encode({"a": 1}) + bytes(bad))
    assert ckpt.read_all(path) == [{"a": 1}]


def test_tailer_returns_only_complete_new_records(tmp_path):
    path = str(tmp_path / "s")
    t = ckpt.Tailer(path)
    assert t.read_new() == []
    data = ckpt.encode({"n": 1}) + ckpt.encode({"n": 2})
    with open(path, "wb") as f:
        f.write(data[:-3])
    assert t.read_new() == [{"n": 1}]
    with open(path, "ab") as f:
        f.write(data[-3:])
    assert t.read_new() == [{"n": 2}]
    assert t.read_new() == []


def test_lock_is_exclusive_and_holder_is_known(tmp_path):
    path = str(tmp_path / "s")
    w = ckpt.Writer(path, lock=True)
    assert ckpt.lock_holder(path) == os.getpid()
    with pytest.raises(ckpt.LockHeld):
        ckpt.Writer(path, lock=True)
    w.close()
    assert ckpt.lock_holder(path) is None
    ckpt.Writer(path, lock=True).close()
