"""Acceptor rules and storage of one replica (no processes, no network)."""

import sqlite3

import pytest

from scheduler.log.protocol import APPEND, EMPTY, NOOP, TRUNCATE, VOTING, Entry, LogError, decode, encode
from scheduler.log.replica import Replica, db_file, truncate_payload


@pytest.fixture
def replica(tmp_path):
    r = Replica(str(tmp_path / "r"))
    r.initialize()
    yield r
    r.close()


def e(position, payload=b"x", kind=APPEND):
    return (position, 0, kind, payload)


def test_fresh_replica_is_empty_and_takes_part_in_nothing(tmp_path):
    r = Replica(str(tmp_path / "r"))
    assert r.status == EMPTY
    assert r.promise(5)["ok"] is False
    assert r.write(5, [e(1)], 0)["ok"] is False
    assert r.end == 0
    r.initialize()
    assert r.status == VOTING
    with pytest.raises(LogError, match="not EMPTY"):
        r.initialize()


def test_promise_only_for_strictly_higher_ballot(replica):
    assert replica.promise(3)["ok"]
    assert not replica.promise(3)["ok"]
    assert not replica.promise(2)["ok"]
    reply = replica.promise(7)
    assert reply["ok"] and reply["promised"] == 7


def test_write_rejected_below_promise_and_accepted_at_or_above(replica):
    replica.promise(5)
    assert not replica.write(4, [e(1)], 0)["ok"]
    assert replica.write(5, [e(1)], 0)["ok"]
    assert replica.write(6, [e(2)], 0)["ok"]  # an implicit promise of 6
    assert replica.promised == 6
    assert not replica.promise(6)["ok"]


def test_promise_and_entries_are_durable_across_reopen(tmp_path):
    path = str(tmp_path / "r")
    r = Replica(path)
    r.initialize()
    r.promise(9)
    r.write(9, [e(1, b"a"), e(2, b"b")], 0)
    r.commit(9, 2)
    r.flush()  # the learned mark is advisory: it is persisted by the next write or by flush
    r.close()
    r2 = Replica(path)  # it sees only what is on disk
    assert (r2.status, r2.promised, r2.learned, r2.end) == (VOTING, 9, 2, 2)
    assert [x.payload for x in r2.read(1, 10)] == [b"a", b"b"]
    mode = sqlite3.connect(db_file(path)).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    r2.close()


def test_failed_write_leaves_the_promise_as_it_was(tmp_path):
    path = str(tmp_path / "r")
    r = Replica(path)
    r.initialize()
    r.promise(3)
    with pytest.raises(OverflowError):
        r.write(4, [e(2 ** 63)], 0)  # beyond SQLite's INTEGER: the transaction rolls back
    assert r.promised == 3
    assert r.write(3, [e(1)], 0)["ok"]
    r.close()
    r2 = Replica(path)
    assert r2.promised == 3
    r2.close()


def test_commit_learns_only_entries_of_the_committing_ballot(replica):
    replica.promise(1)
    replica.write(1, [e(1, b"old"), e(2, b"old")], 0)
    replica.promise(2)
    replica.write(2, [e(3, b"new")], 0)
    # Writer 2 says 1..3 are committed, but positions 1 and 2 hold ballot-1 values: they may be stale.
    assert replica.commit(2, 3) is True  # catch-up needed
    assert replica.learned == 0
    assert replica.read(1, 3) == []
    replica.write(2, [e(1, b"v1"), e(2, b"v2")], 3)
    assert replica.learned == 3
    assert [x.payload for x in replica.read(1, 3)] == [b"v1", b"v2", b"new"]


def test_holes_stop_learning(replica):
    replica.promise(1)
    replica.write(1, [e(1), e(3)], 0)
    assert replica.commit(1, 3) is True
    assert replica.learned == 1


def test_learned_positions_are_never_overwritten(replica):
    replica.promise(1)
    replica.write(1, [e(1, b"chosen")], 0)
    replica.commit(1, 1)
    replica.promise(2)
    replica.write(2, [e(1, b"other")], 0)
    assert replica.read(1, 1)[0].payload == b"chosen"


def test_truncate_entry_drops_earlier_entries_once_learned(replica):
    replica.promise(1)
    replica.write(1, [e(i, b"%d" % i) for i in range(1, 6)], 5)
    replica.write(1, [e(6, truncate_payload(4), TRUNCATE)], 0)
    assert replica.begin == 1
    replica.commit(1, 6)
    assert replica.begin == 4
    assert [x.position for x in replica.read(1, 10)] == [4, 5, 6]


def test_install_learned_jumps_over_truncated_prefix(tmp_path, replica):
    other = Replica(str(tmp_path / "o"))
    other.initialize()
    rows = [(p, 3, APPEND, b"p%d" % p) for p in range(10, 13)]
    other.install_learned(10, rows)
    assert (other.begin, other.learned) == (10, 12)
    assert [x.payload for x in other.read(1, 20)] == [b"p10", b"p11", b"p12"]
    other.close()


def test_learned_entries_bounded_by_limit_and_learned(replica):
    replica.promise(1)
    replica.write(1, [e(i) for i in range(1, 11)], 0)
    replica.commit(1, 8)
    begin, learned, rows = replica.learned_entries(1, 100, limit=5)
    assert (begin, learned, [r[0] for r in rows]) == (1, 8, [1, 2, 3, 4, 5])
    _, _, rows = replica.learned_entries(6, 100)
    assert [r[0] for r in rows] == [6, 7, 8]


def test_message_codec_roundtrip():
    entries = [Entry(1, 2, APPEND, b"a" * 1000), Entry(2, 2, NOOP, b"")]
    header, rows = decode(encode({"ballot": 2}, entries))
    assert header == {"ballot": 2}
    assert [Entry(*r) for r in rows] == entries
    with pytest.raises(ValueError):
        decode(encode({}, entries)[:-5])
    with pytest.raises(ValueError):
        decode(b"\x00")
    with pytest.raises(ValueError, match="out of range"):
        decode(encode({}, [Entry(2 ** 63, 1, APPEND, b"")]))
    with pytest.raises(ValueError, match="out of range"):
        decode(encode({}, [Entry(1, 2 ** 64 - 1, APPEND, b"")]))


def test_a_replica_directory_is_held_by_one_opening_at_a_time(tmp_path):
    path = str(tmp_path / "r")
    r = Replica(path)
    with pytest.raises(LogError, match=f"replica directory {path} is in use by another process \\(pid \\d+\\)"):
        Replica(path)
    r.close()
    Replica(path).close()  # released on close


def test_unusable_directories_and_databases_are_one_line_errors(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(LogError, match="cannot create replica directory .*Not a directory"):
        Replica(str(tmp_path / "file" / "r"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "replica.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(LogError, match="replica.sqlite is not a usable replica database"):
        Replica(str(tmp_path / "bad"))
    with pytest.raises(LogError, match="is not a usable"):  # and the failed opening left the lock free
        Replica(str(tmp_path / "bad"))
