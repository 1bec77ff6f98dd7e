"""Specific behaviours of the log with real replica processes and a real ZooKeeper."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from tests.integration.logcluster import BIN, LogCluster, wait_for

from scheduler.log.protocol import APPEND, LogError, encode


@pytest.fixture
def cluster_factory(tmp_path, zookeeper):
    made = []

    def make(size=3, quorum=None, sub="c", **kw):
        c = LogCluster(tmp_path / sub, zookeeper.endpoints, size=size, quorum=quorum, **kw)
        (tmp_path / sub).mkdir(exist_ok=True)
        made.append(c)
        return c
    yield make
    for c in made:
        c.shutdown()


def test_empty_replicas_take_part_in_nothing_until_initialized(cluster_factory):
    c = cluster_factory()
    for i in range(3):
        c.spawn(i)
    wait_for(lambda: "Replica in EMPTY status" in c.log_tail(0, 100_000), 30, "the EMPTY warning")
    assert c.writer_index() is None
    for i in range(3):
        assert c.client(i).status()["replica"]["status"] == "EMPTY"
    with pytest.raises(LogError, match="not the writer"):
        c.client(0).append([b"x"])
    # Initializing one replica is not enough for a quorum of 2; the other two stay EMPTY and nothing is READY.
    c.kill(0)
    c.initialize(0)
    c.spawn(0)
    assert c.client(0).status()["replica"]["status"] == "VOTING"
    c.kill(1)
    c.initialize(1)
    c.spawn(1)
    # Now a quorum is VOTING: a writer recovers, and the EMPTY third replica catches up and votes.
    w = c.wait_writer()
    assert c.client(w).append([b"first"]) == [1]
    wait_for(lambda: c.client(2).status()["replica"]["status"] == "VOTING", 30, "replica 2 to join")


def test_quorum_below_majority_gets_a_loud_warning(cluster_factory):
    c = cluster_factory(size=3, quorum=1)
    c.start()
    wait_for(lambda: any("MISCONFIGURATION" in c.log_tail(i, 100_000) for i in range(3)), 30, "the warning")


def test_append_fails_clearly_within_write_timeout_when_quorum_lost(cluster_factory):
    c = cluster_factory(size=3, write_timeout="2secs", session_timeout="10secs")
    c.start()
    w = c.wait_writer()
    c.client(w).append([b"ok"])
    for i in range(3):
        if i != w:
            c.kill(i)
    t0 = time.monotonic()
    with pytest.raises(LogError, match="quorum 2"):
        c.client(w, timeout=30).append([b"lost"])
    assert time.monotonic() - t0 < 2 + 3  # the write timeout, plus generous slack for a loaded machine
    # Failures heal: progress resumes and the acknowledged entry is still there.
    for i in range(3):
        if i != w:
            c.spawn(i)
    positions = wait_for(lambda: c.client(w).append([b"again"]), 60, "appends to resume")
    entries = c.client(w).read(1, positions[0])
    assert entries[0].payload == b"ok" and entries[-1].payload == b"again"


def test_disk_loss_replica_catches_up_before_voting_and_truncate(cluster_factory):
    c = cluster_factory(size=3)
    c.start()
    w = c.wait_writer()
    for k in range(5):
        c.client(w).append([b"%d-%d" % (k, j) for j in range(100)])
    victim = (w + 1) % 3
    c.kill(victim)
    c.wipe(victim)
    c.client(w).append([b"while-gone"])
    c.spawn(victim)
    wait_for(lambda: c.client(victim).status()["replica"]["status"] == "VOTING", 30, "recovery from disk loss")
    ending = c.client(w).status()["ending"]
    wait_for(lambda: c.client(victim).status()["replica"]["learned"] >= ending, 30, "catch-up")
    ref = c.client(w).read(1, ending)
    assert c.client(victim).read(1, ending) == ref
    # Truncate is a logged entry: every replica drops what is before it.
    pos = c.client(w).truncate(400)
    assert pos == ending + 1
    for i in range(3):
        wait_for(lambda i=i: c.client(i).status()["replica"]["begin"] == 400, 30, f"replica {i} to truncate")
        assert c.client(i).read(1, 399) == []


def test_bad_requests_get_400_and_the_writer_keeps_working(cluster_factory):
    c = cluster_factory(size=1)
    c.start()

    def post(path, body=None):  # no body: GET
        try:
            with urllib.request.urlopen(f"http://{c.address(0)}{path}", data=body, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
    code, body = post("/log/append", encode({}))
    assert code == 400 and "no entries" in json.loads(body)["error"]
    code, body = post("/replica/promise", encode({"ballot": 2 ** 63}))
    assert code == 400 and "2**63" in json.loads(body)["error"]
    code, _ = post("/replica/write", encode({"ballot": 1}, [(2 ** 63, 1, APPEND, b"x")]))
    assert code == 400
    code, _ = post("/log/read?from=99999999999999999999")
    assert code == 400
    assert c.client(0).status()["replica"]["promised"] < 2 ** 63
    assert c.client(0).append([b"after"]) == [1]


def test_cli_errors_are_one_line(tmp_path, zookeeper):
    def run(*args):
        p = subprocess.run([BIN, *args], check=False, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr
    code, _, err = run("serve", "-native_log_quorum_size=two")
    assert code != 0 and "not an integer" in err and "Traceback" not in err
    code, _, err = run("serve", "-bogus=1")
    assert code != 0 and "unknown flag" in err and "Traceback" not in err
    code, _, err = run("status", f"--path={tmp_path}/nowhere")
    assert code != 0 and "does not exist" in err and "Traceback" not in err
    code, out, err = run("initialize", f"--path={tmp_path}/r")
    assert code == 0 and "VOTING" in out
    code, _, err = run("initialize", f"--path={tmp_path}/r")
    assert code != 0 and "not EMPTY" in err and err.count("\n") == 1
    code, out, _ = run("status", f"--native_log_file_path={tmp_path}/r")
    assert code == 0 and '"VOTING"' in out
    code, _, err = run("serve", f"-native_log_file_path={tmp_path}/r", "-native_log_zk_group_path=/x",
                       "-zk_endpoints=127.0.0.1:1", "-zk_session_timeout=2secs", "-native_log_port=0")
    assert code != 0 and "ZooKeeper" in err.splitlines()[-1] and "Traceback" not in err
    code, _, err = run("read", "--address=127.0.0.1:1")
    assert code != 0 and "cannot reach" in err and "Traceback" not in err
    code, _, err = run("read", f"--path={tmp_path}/r", "--from=99999999999999999999")
    assert code != 0 and "out of range" in err and err.count("\n") == 1
    (tmp_path / "file").write_text("")
    code, _, err = run("initialize", f"--path={tmp_path}/file/x")
    assert code != 0 and "Not a directory" in err and err.count("\n") == 1
