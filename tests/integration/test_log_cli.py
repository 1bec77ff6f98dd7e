"""`aurora-log` as operators use it (issue 12, items 2-6): one process per replica directory, read ranges,
one-line errors, what `--path` shows of a running follower, `append`, the log levels of a normal start."""

import functools
import http.server
import os
import subprocess
import threading
import urllib.error
import urllib.request

import psutil
import pytest
from tests.integration.logcluster import BIN, LogCluster, wait_for

from thermos_executor.daemon import aurora_flags as F
from scheduler.log.client import LogClient


def run(*args, stdin=None, timeout=60):
    p = subprocess.run([BIN, *args], check=False, capture_output=True, text=True, timeout=timeout, input=stdin)
    return p.returncode, p.stdout, p.stderr


def one_line_error(code, err, *words):
    """A non-zero exit with exactly one line on stderr containing `words`, and no traceback."""
    assert code != 0, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return True


@pytest.fixture
def cluster_factory(tmp_path, zookeeper):
    made = []

    def make(size=1, **kw):
        c = LogCluster(tmp_path / f"c{len(made)}", zookeeper.endpoints, size=size, **kw)
        os.makedirs(c.dir)
        made.append(c)
        return c
    yield make
    for c in made:
        c.shutdown()


def serve_args(c, i, port):
    return ["serve", f"-native_log_file_path={c.path(i)}", f"-native_log_zk_group_path={c.group}",
            f"-zk_endpoints={c.zk}", f"-native_log_port={port}", "-native_log_quorum_size=1", "-ip=127.0.0.1"]


# -- item 2 ------------------------------------------------------------------------------------------------

def test_a_replica_directory_is_served_by_one_process_only(cluster_factory):
    c = cluster_factory(size=1)
    c.spawn(0)  # EMPTY and running
    try:
        code, _, err = run(*serve_args(c, 0, 0), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("a second `serve` of the same directory kept running")
    assert one_line_error(code, err, f"replica directory {c.path(0)} is in use by another process (pid "
                                     f"{c.procs[0].pid})")
    code, _, err = run("initialize", f"--path={c.path(0)}")
    assert one_line_error(code, err, "is in use by another process")
    assert c.client(0).status()["replica"]["status"] == "EMPTY"
    c.kill(0)  # the lock goes with the process
    code, out, _ = run("initialize", f"--path={c.path(0)}")
    assert code == 0 and "VOTING" in out


# -- item 3 ------------------------------------------------------------------------------------------------

def test_reads_outside_the_log_are_refused_by_path_and_by_address(cluster_factory):
    c = cluster_factory(size=1)
    c.start()
    assert c.client(0).append([b"a", b"b", b"c"]) == [1, 2, 3]
    wait_for(lambda: run("read", f"--path={c.path(0)}")[1].count("\n") == 3, 30, "the learned mark on disk")
    for where in (f"--path={c.path(0)}", f"--address={c.address(0)}"):
        code, out, err = run("read", where)
        assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["1", "2", "3"], err
        code, out, _ = run("read", where, "--from=2", "--to=99")  # `to` past the end stops at the end
        assert code == 0 and [line.split("\t")[3] for line in out.splitlines()] == ['"b"', '"c"']
        assert one_line_error(*run("read", where, "--from=4")[::2], "Bad read range (past end of log")
        assert one_line_error(*run("read", where, "--from=3", "--to=2")[::2], "Bad read range (to < from")
        assert one_line_error(*run("read", where, "--from=-1")[::2], "Bad read range (from=-1")
        assert one_line_error(*run("read", where, "--to=0")[::2], "Bad read range (to < from")
    # /vars/NAME as every daemon serves it; an unknown path is the log's one-line JSON error, not an HTML page
    for path, status, body in (("/vars/log_recovered", 200, "1\n"),
                               ("/no/such/path", 404, '{"error": "no such path: /no/such/path"}')):
        try:
            response = urllib.request.urlopen(f"http://{c.address(0)}{path}")
        except urllib.error.HTTPError as e:
            response = e
        assert (response.status, response.read().decode()) == (status, body)


# -- item 4 ------------------------------------------------------------------------------------------------

@pytest.fixture
def not_a_replica(tmp_path):
    """An HTTP server that is not a log replica: /log/status and /log/read answer 200 with garbage."""
    root = tmp_path / "www"
    (root / "log").mkdir(parents=True)
    (root / "log" / "status").write_text("<html>hello</html>")
    (root / "log" / "read").write_bytes(b"\x00\x00\xff\xffgarbage")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_bad_places_and_bad_peers_are_one_line_errors(tmp_path, not_a_replica, zookeeper):
    (tmp_path / "file").write_text("")
    zk = [f"-zk_endpoints={zookeeper.endpoints}", "-native_log_zk_group_path=/x", "-native_log_port=0"]
    code, _, err = run("serve", f"-native_log_file_path={tmp_path}/file/r", *zk)
    assert one_line_error(code, err, "cannot create replica directory", "Not a directory")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "replica.sqlite").write_bytes(b"garbage" * 1000)
    code, _, err = run("serve", f"-native_log_file_path={tmp_path}/corrupt", *zk)
    assert one_line_error(code, err, "replica.sqlite is not a usable replica database")
    assert one_line_error(*run("status", f"--address={not_a_replica}")[::2], "did not answer like a log replica")
    assert one_line_error(*run("read", f"--address={not_a_replica}")[::2], "did not answer like a log replica")
    os.remove(tmp_path / "www" / "log" / "status")
    assert one_line_error(*run("status", f"--address={not_a_replica}")[::2], "HTTP 404", "log replica")
    assert one_line_error(*run("initialize", f"--path={tmp_path}/file")[::2], "exists and is not a directory")
    for command in ("status", "read"):
        assert one_line_error(*run(command, f"--path={tmp_path}/file")[::2], "file exists and is not a directory")
    assert one_line_error(*run("read", "--address=127.0.0.1:1")[::2], "cannot reach 127.0.0.1:1: Connection refused")
    run("initialize", f"--path={tmp_path}/r")
    code, _, err = run("status", f"--path={tmp_path}/r", "-zk_endpoints=127.0.0.1:1",
                       "-native_log_zk_group_path=/x")
    assert one_line_error(code, err, "cannot read ZooKeeper group at 127.0.0.1:1")


def test_help_and_space_separated_booleans(tmp_path):
    for cmd in ("read", "status", "serve", "initialize", "append"):
        code, out, err = run(cmd, "--help")
        assert code == 0 and out.startswith(f"  aurora-log {cmd}") and not err, (cmd, out, err)
    flags = [F.Flag("elect", "bool", True), F.Flag("zk_endpoints")]
    assert F.parse(["-elect", "false", "-zk_endpoints", "a:1"], flags) == {"elect": False, "zk_endpoints": "a:1"}
    assert F.parse(["-elect", "-zk_endpoints=a:1"], flags) == {"elect": True, "zk_endpoints": "a:1"}
    assert F.parse(["--elect=no"], flags)["elect"] is False


# -- item 5 ------------------------------------------------------------------------------------------------

def test_read_by_path_of_a_running_follower_catches_up_without_further_writes(cluster_factory):
    c = cluster_factory(size=3)
    c.start()
    w = c.wait_writer()
    positions = c.client(w).append([b"x%d" % k for k in range(5)])
    for i in range(3):
        wait_for(lambda i=i: run("read", f"--path={c.path(i)}")[1].count("\n") == positions[-1], 30,
                 f"replica {i}'s file to show every committed entry")
        code, out, _ = run("status", f"--path={c.path(i)}")
        assert code == 0 and f'"learned": {positions[-1]}' in out


# -- item 6 ------------------------------------------------------------------------------------------------

def test_append_command_truncate_printing_and_a_quiet_normal_start(cluster_factory):
    c = cluster_factory(size=3)
    c.start()
    w = c.wait_writer()
    code, out, err = run("append", f"--address={c.address(w)}", "--data=hello")
    assert (code, out) == (0, "1\n"), err
    code, out, err = run("append", f"--address={c.address(w)}", stdin="a\nb\n")
    assert (code, out) == (0, "2\n3\n"), err
    follower = (w + 1) % 3
    assert one_line_error(*run("append", f"--address={c.address(follower)}", "--data=x")[::2],
                          "is not the writer")
    assert one_line_error(*run("append")[::2], "-address is required")
    assert c.client(w).truncate(2) == 4
    code, out, _ = run("read", f"--address={c.address(w)}")
    assert out.splitlines()[-1].split("\t")[1:] == ["TRUNCATE", out.splitlines()[-1].split("\t")[2], "2"]
    # A normal start: the first writer may recover before its peers registered; that is not an ERROR.
    for i in range(3):
        assert not [line for line in c.log_tail(i, 1_000_000).splitlines() if " ERROR " in line], c.log_tail(i)


# -- item 7 ------------------------------------------------------------------------------------------------

def test_log_client_keeps_one_connection_and_survives_a_server_restart(cluster_factory):
    c = cluster_factory(size=1)
    c.start()
    client = LogClient(c.address(0))

    def my_connections():
        return {conn.laddr.port for conn in psutil.Process().connections("tcp")
                if conn.raddr and conn.raddr.port == c.ports[0] and conn.status == psutil.CONN_ESTABLISHED}
    others = my_connections()  # the cluster's own clients
    assert client.append([b"a"]) == [1]
    mine = my_connections() - others
    assert len(mine) == 1  # kept open after the request
    assert client.append([b"b"]) == [2] and client.status()["ending"] == 2 and client.read()[-1].payload == b"b"
    assert my_connections() - others == mine  # and reused
    c.restart(0)
    c.wait_writer()
    assert client.status()["replica"]["learned"] >= 2  # the connection the old process closed is replaced
    client.close()
