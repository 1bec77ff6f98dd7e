"""Liveness of the writer (issue 12, item 1): every append gets an answer -- committed (200) or failed (503) --
within -native_log_write_timeout, whatever happens to the writer. Real processes, real ZooKeeper."""

import http.client
import threading

import pytest
from tests.integration.logcluster import LogCluster, wait_for

from scheduler.log.protocol import APPEND, encode

WRITE_TIMEOUT = 2.0
SLACK = 4.0  # scheduling on a loaded 2-core machine; a hung append never answers at all


def post_append(address: str, payload: bytes, timeout: float):
    """One raw HTTP append on its own connection: the status code, or 'no answer' if none came in time."""
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", "/log/append", body=encode({}, [(0, 0, APPEND, payload)]))
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except TimeoutError:
        return "no answer"
    finally:
        conn.close()


class Clients:
    """`n` threads appending to one node as fast as it answers; every answer is recorded."""

    def __init__(self, address: str, n: int):
        self.address = address
        self.answers: list = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(n)]

    def _run(self, k: int) -> None:
        i = 0
        while not self._halt.is_set():
            code = post_append(self.address, b"c%d-%d" % (k, i), WRITE_TIMEOUT + SLACK)
            i += 1
            with self._lock:
                self.answers.append(code)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> dict:
        self._halt.set()
        for t in self.threads:
            t.join(WRITE_TIMEOUT + SLACK + 5)
        return {a: self.answers.count(a) for a in set(self.answers)}


@pytest.fixture
def cluster(tmp_path, zookeeper_server):
    c = LogCluster(tmp_path, zookeeper_server.endpoints, size=3, write_timeout="2secs")
    yield c
    c.shutdown()


def test_appends_in_flight_when_zookeeper_dies_are_all_answered(cluster, zookeeper_server):
    cluster.start()
    w = cluster.wait_writer()
    clients = Clients(cluster.address(w), 12).start()
    wait_for(lambda: clients.count() >= 200, 60, "appends to flow")
    zookeeper_server.kill()  # the writer steps down with rounds in flight and appends queued
    n = clients.count()
    wait_for(lambda: clients.count() >= n + 100, 60, "answers after ZooKeeper died")
    answers = clients.stop()
    assert set(answers) <= {200, 503}, answers
    assert answers.get(503, 0) > 0, answers  # the writer did step down
    assert all(not t.is_alive() for t in clients.threads)
    assert "CancelledError" not in cluster.log_tail(w, 1_000_000)


def test_appends_at_a_writer_paused_and_resumed_after_losing_leadership_are_all_answered(cluster):
    cluster.start()
    old = cluster.wait_writer()
    clients = Clients(cluster.address(old), 12).start()
    wait_for(lambda: clients.count() >= 200, 60, "appends to flow")
    cluster.stop(old)  # SIGSTOP with rounds in flight: its ZooKeeper session expires, another replica takes over
    wait_for(lambda: any(i != old and s["is_writer"] and s["ready"] for i, s in cluster.statuses().items()),
             60, "a new writer")
    cluster.append([b"through the new writer"])
    n = clients.count()
    cluster.cont(old)  # it finds its rounds fenced and its election lost, and appends queued in its sockets
    wait_for(lambda: clients.count() >= n + 100, 60, "answers after the old writer resumed")
    answers = clients.stop()
    assert set(answers) <= {200, 503}, answers
    assert all(not t.is_alive() for t in clients.threads)
