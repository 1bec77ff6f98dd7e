"""The writer's recovery round and fencing, against in-process replicas (real SQLite, no network)."""

import asyncio
import time

import pytest

from thermos_executor.daemon import aurora_flags as F
from scheduler.log.coordinator import Coordinator, recovery_values
from scheduler.log.peers import LocalReplica, ReplicaUnavailable
from scheduler.log.protocol import APPEND, NOOP, Entry, Fenced, LogError, NotWriter, QuorumUnreachable
from scheduler.log.replica import Replica


def test_recovery_values_picks_highest_ballot_and_fills_holes():
    a = [Entry(5, 1, APPEND, b"old"), Entry(6, 3, APPEND, b"x")]
    b = [Entry(5, 2, APPEND, b"new")]
    c = [Entry(8, 1, APPEND, b"z")]
    assert recovery_values([a, b, c], 5, 8) == [(5, APPEND, b"new"), (6, APPEND, b"x"), (7, NOOP, b""),
                                                (8, APPEND, b"z")]
    assert recovery_values([[], []], 1, 2) == [(1, NOOP, b""), (2, NOOP, b"")]


class InProcessPeer(LocalReplica):
    """A replica reached 'remotely' but in-process; `down` makes it unreachable."""

    def __init__(self, replica, address):
        super().__init__(replica)
        self.address = address
        self.down = False

    async def _call(self, fn, *args):
        if self.down:
            raise ReplicaUnavailable(f"{self.address} is down")
        return await super()._call(fn, *args)

    def write(self, ballot, entries, commit, writer="", timeout=0):
        return asyncio.ensure_future(super().write(ballot, entries, commit))


@pytest.fixture
def cluster(tmp_path):
    replicas = []
    for i in range(3):
        r = Replica(str(tmp_path / f"r{i}"))
        r.initialize()
        replicas.append(r)
    peers = {f"p{i}": InProcessPeer(replicas[i], f"p{i}") for i in (1, 2)}
    yield replicas, peers
    for p in peers.values():
        p._pool.shutdown()
    for r in replicas:
        r.close()


def make(replicas, peers, address="p0", write_timeout=2.0):
    local = LocalReplica(replicas[0])
    return Coordinator(local, peers=lambda: list(peers), quorum=2, address=address, write_timeout=write_timeout,
                       remote=peers.__getitem__)


def test_append_commits_on_quorum_and_recovery_adopts_uncommitted_value(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers)
        c.start()
        assert await c.append([b"a", b"b"]) == [1, 2]
        # The old writer's value at position 3 reached two followers (a quorum with them, but the writer died
        # before acknowledging): every quorum of the new writer sees it, so recovery must keep it.
        for r in replicas[1:]:
            r.write(r.promised, [(3, 0, APPEND, b"maybe")], 0)
        await c.stop()
        # A new writer recovers: it must keep 1..2 and adopt 'maybe' at 3 (highest ballot seen there).
        c2 = make(replicas, peers)
        c2.start()
        await c2.recover()
        assert c2.ballot > c.ballot
        assert c2.committed == 3
        assert await c2.append([b"c"]) == [4]
        got = [(x.position, x.payload) for x in await c2.read(1, 10)]
        assert got == [(1, b"a"), (2, b"b"), (3, b"maybe"), (4, b"c")]
        await c2.stop()
    asyncio.run(scenario())


def test_old_writer_is_fenced_after_new_writer_recovers(cluster):
    replicas, peers = cluster

    async def scenario():
        old = make(replicas, peers)
        old.start()
        await old.append([b"1"])
        new = make(replicas, peers)
        new.start()
        # The new writer's replica is a different one in real life; here the promise round is what matters.
        await new.recover()
        with pytest.raises(Fenced):
            await old.append([b"late"])
        assert await new.append([b"2"]) == [2]
        assert [x.payload for x in await new.read(1, 10)] == [b"1", b"2"]  # the late write is not there
        await old.stop()
        await new.stop()
    asyncio.run(scenario())


def test_append_fails_clearly_when_quorum_unreachable(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers)
        c.start()
        await c.append([b"1"])
        for p in peers.values():
            p.down = True
        with pytest.raises(QuorumUnreachable, match="only 1 of quorum 2"):
            await c.append([b"2"])
        peers["p1"].down = False
        assert await c.append([b"3"]) in ([2], [3])  # a new recovery round first
        await c.stop()
    asyncio.run(scenario())


def test_concurrent_appends_share_rounds(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers)
        c.start()
        await c.recover()
        results = await asyncio.gather(*[c.append([b"%d" % i]) for i in range(200)])
        assert sorted(p for r in results for p in r) == list(range(1, 201))
        assert c.stats["rounds"] < 200
        await c.stop()
    asyncio.run(scenario())


def test_empty_append_needs_no_round_and_later_appends_work(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers)
        c.start()
        assert await asyncio.wait_for(c.append([]), 5) == []
        assert c.stats["rounds"] == 0
        assert await asyncio.wait_for(c.append([b"a"]), 5) == [1]
        await c.stop()
    asyncio.run(scenario())


def test_pump_survives_an_unexpected_error_in_a_round(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers)
        c.start()
        await c.recover()
        real_round = c._round

        async def broken_round(entries):
            c._round = real_round
            raise RuntimeError("boom")
        c._round = broken_round
        with pytest.raises(LogError, match="failed unexpectedly: RuntimeError: boom"):
            await asyncio.wait_for(c.append([b"a"]), 5)
        # The failed round's outcome is unknown; a new recovery round runs and appends work again.
        assert await asyncio.wait_for(c.append([b"b"]), 5) in ([1], [2])
        await c.stop()
    asyncio.run(scenario())


def test_flags_accept_aurora_spellings():
    flags = [F.Flag("native_log_quorum_size", "int", 1), F.Flag("native_log_write_timeout", "duration", 3.0),
             F.Flag("zk_endpoints")]
    values = F.parse(["-native_log_quorum_size=2", "--native-log-write-timeout", "500ms",
                         "-zk_endpoints", "a:1"], flags)
    assert values == {"native_log_quorum_size": 2, "native_log_write_timeout": 0.5, "zk_endpoints": "a:1"}
    with pytest.raises(F.FlagError, match="unknown flag"):
        F.parse(["-nope=1"], flags)
    with pytest.raises(F.FlagError, match="bad duration"):
        F.parse(["-native_log_write_timeout=3 fortnights"], flags)
    with pytest.raises(F.FlagError, match="not an integer"):
        F.parse(["-native_log_quorum_size=two"], flags)
    with pytest.raises(F.FlagError, match="out of range"):
        F.parse(["-native_log_quorum_size=99999999999999999999"], flags)
    with pytest.raises(F.FlagError, match="unexpected argument"):
        F.parse(["extra"], flags)


# -- item 1 of issue 12: every append is answered within the write timeout, whatever happens to the writer --

class HangingPeer(InProcessPeer):
    """A peer whose writes are never answered (a paused process, a partition without resets)."""

    def write(self, ballot, entries, commit, writer="", timeout=0):
        if self.down:
            return asyncio.get_running_loop().create_future()  # never resolved
        return super().write(ballot, entries, commit, writer, timeout)


@pytest.fixture
def hanging_cluster(tmp_path):
    replicas = []
    for i in range(3):
        r = Replica(str(tmp_path / f"r{i}"))
        r.initialize()
        replicas.append(r)
    peers = {f"p{i}": HangingPeer(replicas[i], f"p{i}") for i in (1, 2)}
    yield replicas, peers
    for p in peers.values():
        p._pool.shutdown()
    for r in replicas:
        r.close()


async def _round_in_flight(c, peers):
    """Start an append whose round hangs on the (silent) peers; return its task once the writer's own replica
    has the entry (the batch was popped and its round is in flight)."""
    for p in peers.values():
        p.down = True
    end = c.local.replica.end
    task = asyncio.ensure_future(c.append([b"in-flight"]))
    deadline = time.monotonic() + 5
    while c.local.replica.end == end:
        assert time.monotonic() < deadline, "the round never started"
        await asyncio.sleep(0.001)  # a condition wait on the loop, bounded by the deadline above
    assert not task.done() and not c._queue
    return task


def test_step_down_fails_the_batch_in_flight(hanging_cluster):
    replicas, peers = hanging_cluster

    async def scenario():
        c = make(replicas, peers, write_timeout=30.0)  # the round itself would wait this long: stop must not
        c.start()
        await c.recover()
        task = await _round_in_flight(c, peers)
        queued = asyncio.ensure_future(c.append([b"queued"]))
        await c.stop("lost the writer election")
        for t in (task, queued):
            with pytest.raises(NotWriter, match="lost the writer election"):
                await asyncio.wait_for(t, 1.0)
    asyncio.run(scenario())


def test_cancelling_the_pump_fails_the_popped_batch(hanging_cluster):
    replicas, peers = hanging_cluster

    async def scenario():
        c = make(replicas, peers, write_timeout=30.0)
        c.start()
        await c.recover()
        task = await _round_in_flight(c, peers)
        c._pump_task.cancel()
        with pytest.raises(LogError):
            await asyncio.wait_for(task, 1.0)
        with pytest.raises(NotWriter):  # a writer whose pump is gone takes nothing more
            await asyncio.wait_for(c.append([b"after"]), 1.0)
        await c.stop()
    asyncio.run(scenario())


def test_an_append_stuck_anywhere_fails_at_its_deadline(cluster):
    replicas, peers = cluster

    async def scenario():
        c = make(replicas, peers, write_timeout=0.5)
        c.start()
        await c.recover()

        async def stuck_round(entries):  # a round with no deadline of its own: only the append's can help
            await asyncio.Event().wait()
        c._round = stuck_round
        t0 = time.monotonic()
        with pytest.raises(QuorumUnreachable, match="not committed within -native_log_write_timeout=0.5s"):
            await asyncio.wait_for(c.append([b"a"]), 5.0)
        assert time.monotonic() - t0 < 5.0
        await c.stop()
    asyncio.run(scenario())
