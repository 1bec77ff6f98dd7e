"""Randomized fault trials of the replicated log, checking its four guarantees on every trial.

A trial starts a fresh cluster (3 or 5 replica processes, quorum = majority) on a shared real ZooKeeper, runs
a background appender that writes unique payloads through whichever node is the writer and records every
acknowledged (payload, position), and injects a random sequence of faults, each followed by healing:

  kill9      kill -9 a random minority (writer included or not), then restart it
  pause      SIGSTOP the writer until another is elected, append through the new one, SIGCONT the old one
             and send it a write at once: it must fail (guarantee 2)
  pause_f    SIGSTOP a follower for a while, then SIGCONT
  disk_loss  kill -9 one replica, delete its directory, restart it EMPTY: it must catch up, then vote

Faults are paced by the appender's progress (after N more acknowledged appends, with a deadline), not by
sleeps. At the end every replica must have caught up and:
  1. every acknowledged append is committed at its acknowledged position, once;
  2. no late write of a paused old writer succeeded;
  3. all VOTING replicas hold byte-identical committed logs;
  4. after each heal a writer was elected and appends succeeded again.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from tests.integration.logcluster import LogCluster, wait_for

from scheduler.log.client import LogClient
from scheduler.log.protocol import APPEND, LogError

ACTIONS = ("kill9", "pause", "pause_f", "disk_loss")


class Appender(threading.Thread):
    """Appends unique payloads one at a time through the current writer; records what was acknowledged."""

    def __init__(self, cluster: LogCluster, tag: str):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.tag = tag
        self.acked: dict[bytes, int] = {}
        self.failed = 0
        self.n = 0
        self._halt = threading.Event()
        self._acked = threading.Condition()  # guards `acked`; notified on every acknowledgement
        self.errors: list[str] = []

    def run(self) -> None:
        clients: dict[int, LogClient] = {}
        writer = None
        while not self._halt.is_set():
            if writer is None:
                writer = self.cluster.writer_index()
                if writer is None:
                    self._halt.wait(0.05)  # polling interval while no writer is READY
                    continue
            payload = f"{self.tag}-{self.n}".encode()
            self.n += 1
            client = clients.get(writer)
            if client is None:
                client = clients[writer] = LogClient(self.cluster.address(writer), timeout=8)
            try:
                (position,) = client.append([payload])
                with self._acked:
                    self.acked[payload] = position
                    self._acked.notify_all()
            except LogError as e:
                self.failed += 1
                if len(self.errors) < 20:
                    self.errors.append(str(e))
                writer = None
        for c in clients.values():
            c.close()

    def count(self) -> int:
        with self._acked:
            return len(self.acked)

    def wait_progress(self, n: int, timeout: float) -> bool:
        with self._acked:
            target = len(self.acked) + n
            return self._acked.wait_for(lambda: len(self.acked) >= target, timeout)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


def run_trial(workdir, zk_endpoints: str, seed: int, steps: int = 3, sizes=(3, 5)) -> dict:
    rng = random.Random(seed)
    size = rng.choice(sizes)
    cluster = LogCluster(workdir, zk_endpoints, size=size, session_timeout="2secs", write_timeout="3secs")
    report = {"seed": seed, "size": size, "actions": [], "late_writes_rejected": 0}
    try:
        cluster.start()
        appender = Appender(cluster, f"s{seed}")
        appender.start()
        try:
            assert appender.wait_progress(5, 60), f"no progress at start: {appender.errors}"
            for _ in range(steps):
                action = rng.choice(ACTIONS)
                report["actions"].append(action)
                _inject(cluster, appender, rng, action, report)
                # Guarantee 4: after healing, a writer is READY and appends succeed again.
                assert appender.wait_progress(3, 60), (
                    f"no progress after {action} (seed {seed}): {appender.errors[-3:]}")
        finally:
            appender.stop()
        report["acked"] = len(appender.acked)
        report["failed"] = appender.failed
        check(cluster, appender.acked)
        return report
    except BaseException:
        for i in range(cluster.size):
            report[f"log{i}"] = cluster.log_tail(i, 3000)
        raise
    finally:
        cluster.shutdown()


def _inject(cluster: LogCluster, appender: Appender, rng: random.Random, action: str, report: dict) -> None:
    minority = (cluster.size - 1) // 2
    writer = cluster.wait_writer()
    appender.wait_progress(rng.randint(0, 20), 10)
    if action == "kill9":
        victims = rng.sample(range(cluster.size), rng.randint(1, minority))
        if rng.random() < 0.5 and writer not in victims:
            victims[0] = writer
        for i in victims:
            cluster.kill(i)
        appender.wait_progress(rng.randint(1, 20), 15)
        for i in victims:
            cluster.spawn(i)
    elif action == "pause":
        cluster.stop(writer)
        new = wait_for(lambda: _other_writer(cluster, writer), 60, "a new writer while the old one is paused")
        # Each attempt has its own payload: a failed append has an unknown outcome and may still commit.
        attempts = iter(range(1_000_000))
        wait_for(lambda: cluster.client(new).append([b"after-pause-%d-%d" % (writer, next(attempts))]), 30,
                 "an append through the new writer")
        cluster.cont(writer)
        # Guarantee 2: the old writer's late write must fail (fenced by ballot, or it already stepped down).
        late = LogClient(cluster.address(writer), timeout=10)
        try:
            positions = late.append([b"late-write-%d-%d" % (writer, len(report["actions"]))])
        except LogError:
            report["late_writes_rejected"] += 1
        else:
            raise AssertionError(f"paused old writer {writer} committed a late write at {positions} after "
                                 f"writer {new} took over: {cluster.statuses()}")
        finally:
            late.close()
    elif action == "pause_f":
        followers = [i for i in range(cluster.size) if i != writer]
        victims = rng.sample(followers, rng.randint(1, minority))
        for i in victims:
            cluster.stop(i)
        appender.wait_progress(rng.randint(1, 30), 15)
        for i in victims:
            cluster.cont(i)
    elif action == "disk_loss":
        victim = rng.randrange(cluster.size)
        cluster.kill(victim)
        cluster.wipe(victim)
        appender.wait_progress(rng.randint(0, 10), 15)
        cluster.spawn(victim)
        wait_for(lambda: cluster.client(victim).status()["replica"]["status"] == "VOTING", 60,
                 f"replica {victim} to recover from disk loss")


def _other_writer(cluster: LogCluster, old: int):
    for i, s in cluster.statuses().items():
        if i != old and s["is_writer"] and s["ready"]:
            return i
    return None


def check(cluster: LogCluster, acked: dict[bytes, int]) -> None:
    """Guarantees 1 and 3 once every replica has caught up with the writer."""
    writer = cluster.wait_writer()
    ending = cluster.client(writer).status()["ending"]
    for i in range(cluster.size):
        wait_for(lambda i=i: cluster.client(i).status()["replica"]["learned"] >= ending, 60,
                 f"replica {i} to catch up to {ending}")
    logs = {}
    for i in range(cluster.size):
        st = cluster.client(i).status()
        assert st["replica"]["status"] == "VOTING", f"replica {i} is {st['replica']['status']}"
        logs[i] = [(e.position, e.kind, e.payload) for e in cluster.client(i).read(1, ending)]
    # 3. No divergence: byte-identical committed prefixes (every replica has all of 1..ending here).
    reference = logs[writer]
    for i, entries in logs.items():
        assert entries == reference, f"replica {i} diverges from writer {writer}: {_first_diff(entries, reference)}"
    # 1. Every acknowledged append is there, at its position, exactly once; the late writes are not.
    by_position = {p: (k, v) for p, k, v in reference}
    for payload, position in acked.items():
        assert by_position.get(position) == (APPEND, payload), (
            f"acknowledged {payload!r} at {position} but the log has {by_position.get(position)!r}")
    times = Counter(v for _, k, v in reference if k == APPEND)
    dups = sorted({(p, v) for p, k, v in reference if k == APPEND and times[v] > 1})
    assert not dups, f"a payload was committed twice: {dups[:10]}"
    assert [p for p, _, _ in reference] == list(range(reference[0][0], ending + 1)) if reference else True


def _first_diff(a, b):
    for x, y in zip(a, b, strict=False):
        if x != y:
            return f"{x!r} != {y!r}"
    return f"lengths {len(a)} != {len(b)}"
