"""The observer over HTTP against real runner tasks: Aurora's JSON shapes, files API, safety, errors."""
from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse

import pytest

from tests.helpers import BIN, wait_for, write
from tests.observer_helpers import Observer, started, stop_task

SECRET = "TOP-SECRET-OUTSIDE-THE-SANDBOX"
HOSTILE = "<img src=x onerror=alert(1)>&\"'.txt"

TASK_ROW_KEYS = {"task_id", "name", "role", "launch_timestamp", "state", "state_timestamp", "ports", "cpu", "ram",
                 "user", "system", "rss", "vms", "nice", "status", "threads", "disk"}
TASK_KEYS = {"task_id", "name", "launch_timestamp", "state", "state_timestamp", "user", "resource_consumption",
             "ports", "processes", "task"}
SAMPLE_KEYS = {"cpu", "ram", "user", "system", "rss", "vms", "nice", "status", "threads"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One finished task and one active task (a ticker), a sibling directory and links out of the sandbox."""
    from tests.helpers import Thermos
    tmp = tmp_path_factory.mktemp("observer")
    thermos = Thermos(str(tmp / "root"), str(tmp / "sandboxes"))
    outside = tmp / "outside"
    outside.mkdir()
    write(outside / "secret", SECRET)
    done = write(tmp / "done.thermos", """
p = Process(name='make_files', cmdline='echo hello > hello.txt; mkdir -p sub; echo deep > sub/deep.txt; '
            'echo "<script>alert(1)</script>"')
export(Task(name='done <b>task</b>', processes=[p]))
""")
    result = thermos.run(done, "done_task")
    assert result.returncode == 0, result.stderr
    sandbox = thermos.sandbox("done_task")
    write(os.path.join(sandbox, HOSTILE), "payload\n")        # file names are the task owner's choice
    sibling = sandbox + "_old"                    # a sibling whose name starts with the sandbox's
    os.makedirs(sibling)
    write(os.path.join(sibling, "secret"), SECRET)
    os.symlink(str(outside), os.path.join(sandbox, "out_dir"))
    os.symlink(str(outside / "secret"), os.path.join(sandbox, "out_file"))
    os.symlink("hello.txt", os.path.join(sandbox, "inner_link"))
    os.mkfifo(os.path.join(sandbox, "fifo"))
    ticker = write(tmp / "ticker.thermos", """
p = Process(name='ticker', cmdline='i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done')
export(Task(name='ticker', processes=[p]))
""")
    proc = started(thermos, ticker, "active_task", "ticker")
    observer = Observer("--root", thermos.root, "--task_process_collection_interval_secs", "1",
                        "--task_disk_collection_interval_secs", "1")
    try:
        observer.wait_task("done_task", "finished")
        observer.wait_task("active_task", "active")
        yield {"thermos": thermos, "observer": observer, "sandbox": sandbox, "tmp": tmp}
    finally:
        err = observer.stop()
        stop_task(thermos, "active_task", proc)
        assert "Traceback" not in err, err


def test_task_ids_shapes_and_order(world):
    obs = world["observer"]
    data = obs.json("/j/task_ids")
    assert set(data) == {"tasks", "type", "offset", "num", "task_count"}
    assert (data["type"], data["offset"], data["num"], data["task_count"]) == ("all", 0, 20, 2)
    assert [r["task_id"] for r in data["tasks"]] == ["active_task", "done_task"]     # newest first
    for row in data["tasks"]:
        assert set(row) == TASK_ROW_KEYS
    done = data["tasks"][1]
    assert (done["state"], done["name"], done["ram"]) == ("SUCCESS", "done <b>task</b>", 0)
    assert isinstance(done["launch_timestamp"], int) and isinstance(done["state_timestamp"], int)
    assert obs.json("/j/task_ids/finished")["tasks"][0]["task_id"] == "done_task"
    assert [r["task_id"] for r in obs.json("/j/task_ids/all/1/1")["tasks"]] == ["done_task"]
    assert [r["task_id"] for r in obs.json("/j/task_ids/all/-1/5")["tasks"]] == ["done_task"]   # Aurora: -1 % 2
    assert obs.json("/j/task_ids/active/5")["tasks"] == []
    assert obs.json("/j/task_id_count") == {"active": 1, "finished": 1, "all": 2}


def test_task_and_process_shapes(world):
    obs = world["observer"]
    tasks = obs.json("/j/task?task_id=done_task,active_task")
    assert set(tasks) == {"done_task", "active_task"}
    done = tasks["done_task"]
    assert set(done) == TASK_KEYS
    assert done["processes"] == {"waiting": [], "running": [], "success": ["make_files"], "failed": [],
                                 "killed": []}
    assert done["task"]["name"] == "done <b>task</b>"
    assert set(done["resource_consumption"]) == SAMPLE_KEYS | {"disk"}
    assert obs.json("/j/task/done_task") == {"done_task": done}
    assert obs.json("/j/task") == {}
    process = obs.json("/j/process/done_task/make_files")
    assert process["state"] == "SUCCESS" and process["process_run"] == 0 and process["return_code"] == 0
    assert process["stop_time"] >= process["start_time"]
    assert obs.json("/j/process/done_task/make_files/0") == process
    assert obs.json("/j/process/done_task/make_files/-1") == process
    assert obs.json("/j/process/done_task") == {}
    assert obs.json("/j/processes?task_id=done_task") == {"done_task": {"make_files": process}}


def test_active_task_resources_are_sampled(world):
    obs = world["observer"]
    running = obs.json("/j/process/active_task/ticker")
    assert running["state"] == "RUNNING" and set(running["used"]) >= SAMPLE_KEYS
    row = wait_for(lambda: next((r for r in obs.json("/j/task_ids/active")["tasks"] if r["rss"] > 0
                                 and r["disk"] > 0), None), timeout=20, what="a sample with rss and disk")
    assert row["ram"] == row["rss"] and row["threads"] >= 1
    points = wait_for(lambda: len(obs.json("/j/resources/active_task")["points"]) >= 2 and
                      obs.json("/j/resources/active_task")["points"], timeout=20, what="two history points")
    assert all(len(p) == 4 for p in points)
    page = obs.get("/task/active_task")
    assert page.status == 200 and "<polyline" in page.text


def test_files_browse_read_download(world):
    obs = world["observer"]
    names = {row["name"]: row for row in obs.json("/files/browse?task_id=done_task")}
    assert {"hello.txt", "sub", ".logs", HOSTILE, "out_dir", "out_file", "fifo"} <= set(names)
    assert names["sub"]["mode"].startswith("d") and names["out_dir"]["mode"].startswith("l")
    assert [r["path"] for r in obs.json("/files/browse?task_id=done_task&path=sub")] == ["sub/deep.txt"]
    assert obs.json("/files/read?task_id=done_task&path=hello.txt&offset=-1") == \
        {"offset": 6, "length": 0, "data": "", "size": 6}
    assert obs.json("/files/read?task_id=done_task&path=hello.txt&offset=0")["data"] == "hello\n"
    assert obs.json("/files/read?task_id=done_task&path=hello.txt&offset=2&length=2")["data"] == "ll"
    assert obs.json("/files/read?task_id=done_task&path=hello.txt&offset=100")["offset"] == 6   # clamped
    assert obs.json("/files/read?task_id=done_task&path=sub/deep.txt&offset=0")["data"] == "deep\n"
    stdout = obs.json("/files/read?task_id=done_task&log=make_files/0/stdout&offset=0")
    assert stdout["data"] == "<script>alert(1)</script>\n"
    download = obs.get("/files/download?task_id=done_task&path=" + urllib.parse.quote(HOSTILE))
    assert download.status == 200 and download.body == b"payload\n"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''%3Cimg")


def test_aurora_download_route(world):
    """Aurora's /download/<task_id>/<path>: the file as an attachment, confined like every other file access."""
    obs = world["observer"]
    download = obs.get("/download/done_task/" + urllib.parse.quote(HOSTILE))
    assert download.status == 200 and download.body == b"payload\n"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''%3Cimg")
    deep = obs.get("/download/done_task/sub/deep.txt")
    assert deep.status == 200 and deep.body == b"deep\n" and deep.headers["Content-Length"] == "5"
    assert deep.headers["Content-Disposition"] == "attachment; filename*=UTF-8''deep.txt"
    assert 'class="dl" href="/download/done_task/sub/deep.txt"' in obs.get("/browse/done_task/sub").text
    head = obs.request("HEAD", "/download/done_task/sub/deep.txt")
    assert head.status == 200 and head.body == b"" and head.headers["Content-Length"] == "5"
    for url in ["/download/done_task/sub", "/download/done_task/nope.txt", "/download/nope/hello.txt",
                "/download/done_task/", "/download/done_task%00/hello.txt", "/download/done_task/hello.txt%00"]:
        response = obs.get(url)
        assert response.status == 404, (url, response.status, response.text[:200])


def test_ids_and_paths_with_control_characters_are_404(world):
    """tornado turns control characters into spaces and strips the value: `done_task%00` named done_task."""
    obs = world["observer"]
    assert obs.get("/j/task?task_id=done_task").status == 200
    for suffix in ("%00", "%0a", "%01"):
        for url in [f"/j/task?task_id=done_task{suffix}", f"/j/processes?task_id=done_task{suffix}",
                    f"/j/task?task_id=active_task,done_task{suffix}",
                    f"/files/browse?task_id=done_task{suffix}",
                    f"/files/read?task_id=done_task{suffix}&path=hello.txt&offset=0",
                    f"/files/follow?task_id=done_task{suffix}&path=hello.txt",
                    f"/files/download?task_id=done_task{suffix}&path=hello.txt",
                    f"/files/read?task_id=done_task&path=hello.txt{suffix}&offset=0",
                    f"/files/download?task_id=done_task&path=hello.txt{suffix}",
                    f"/files/read?task_id=done_task&log=make_files/0/stdout{suffix}&offset=0",
                    f"/task/done_task{suffix}", f"/browse/done_task{suffix}"]:
            response = obs.get(url)
            assert response.status == 404, (url, response.status, response.text[:200])


def test_read_length_is_capped_at_one_mib(world):
    obs = world["observer"]
    with open(os.path.join(world["sandbox"], "big.bin"), "wb") as f:
        f.write(b"x" * (3 << 20))
    chunk = obs.json("/files/read?task_id=done_task&path=big.bin&offset=0&length=99999999")
    assert chunk["length"] == 1 << 20


TRAVERSALS = [
    "../done_task_old/secret", "..%2Fdone_task_old%2Fsecret", "%2e%2e/done_task_old/secret",
    "%2E%2E%2Fdone_task_old%2Fsecret", "sub/../../done_task_old/secret", "./../done_task_old/secret",
    "/etc/passwd", "%2Fetc%2Fpasswd", "//etc/passwd", "out_dir/secret", "out_file", "out_dir",
    "inner_link", "fifo", "hello.txt%00.png", "sub/%2e%2e/%2e%2e/done_task_old/secret", "..", "...//..//secret",
    "sub/deep.txt/..", "nope/../hello.txt", "%252e%252e/done_task_old/secret",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_corpus_is_404_everywhere(world, path):
    obs = world["observer"]
    quoted = path if "%" in path else urllib.parse.quote(path, safe="/")
    urls = [f"/files/read?task_id=done_task&path={quoted}&offset=0",
            f"/files/download?task_id=done_task&path={quoted}",
            f"/files/follow?task_id=done_task&path={quoted}&tail=100",
            f"/files/browse?task_id=done_task&path={quoted}",
            f"/files/read?task_id=done_task&log={quoted}&offset=0",
            f"/file/done_task/{quoted.lstrip('/')}", f"/browse/done_task/{quoted.lstrip('/')}",
            f"/download/done_task/{quoted.lstrip('/')}", f"/download/done_task/{quoted}"]
    for url in urls:
        response = obs.get(url)
        assert response.status == 404, (url, response.status, response.text[:200])
        assert SECRET not in response.text and "root:x:0:0" not in response.text, url


def test_unknown_ids_and_processes_are_404(world):
    obs = world["observer"]
    for url in ["/j/task/nope", "/j/task?task_id=done_task,nope", "/j/process/nope/x", "/j/process/done_task/nope",
                "/j/process/done_task/make_files/7", "/j/processes?task_id=nope", "/j/resources/nope",
                "/files/browse?task_id=nope", "/files/read?task_id=nope&path=x", "/files/browse",
                "/task/nope", "/rawtask/nope", "/process/nope/x", "/process/done_task/nope", "/browse/nope",
                "/file/nope/x", "/logs/nope/x/0/stdout", "/logs/done_task/make_files/9/stdout",
                "/logs/done_task/nope/0/stdout", "/j/task_ids/bogus", "/vars/nope", "/nothing/here",
                "/task/..%2F..%2Fetc", "/files/read?task_id=..&path=x"]:
        response = obs.get(url)
        assert response.status == 404, (url, response.status, response.text[:200])
        assert len(error_message(response).splitlines()) == 1, (url, response.text)   # one line for people


def error_message(response) -> str:
    """The one line of an error: the JSON `error`, the text, or a page's `#error-message`."""
    kind = response.headers["Content-Type"]
    if kind.startswith("application/json"):
        return response.json()["error"]
    if kind.startswith("text/html"):
        import re
        match = re.search(r'<p class="error" id="error-message">(.*?)</p>', response.text, re.S)
        assert match, response.text
        return match.group(1)
    return response.text.strip()


def test_html_errors_are_pages_with_the_header_and_a_link_back(world):
    obs = world["observer"]
    for url, back in [("/task/nope", "/"), ("/nothing/here", "/"), ("/browse/done_task/nope", "/task/done_task"),
                      ("/file/done_task/sub", "/task/done_task"), ("/process/done_task/nope", "/task/done_task"),
                      ("/logs/done_task/make_files/9/stdout", "/task/done_task"),
                      ("/download/done_task/nope", "/task/done_task"), ("/?active_offset=x", "/")]:
        response = obs.get(url)
        assert response.status in (400, 404), url
        assert response.headers["Content-Type"].startswith("text/html"), url
        assert '<header><a href="/">thermos(' in response.text, url
        assert f'<a id="back-link" href="{back}">' in response.text, (url, response.text)
        assert "Traceback" not in response.text
    assert "&lt;b&gt;" in obs.get("/task/%3Cb%3Ex").text and "<b>x" not in obs.get("/task/%3Cb%3Ex").text
    for url in ("/j/nope", "/files/nope", "/j/task/nope"):          # the API stays JSON
        response = obs.get(url)
        assert response.status == 404 and response.json()["status"] == 404, url


def test_bad_parameters_are_400(world):
    obs = world["observer"]
    for url in ["/j/task_ids/all/x", "/j/task_ids/all/0/many", "/j/task_ids/all/0/-1",
                "/j/process/done_task/make_files/x",
                "/files/read?task_id=done_task&path=hello.txt&offset=abc",
                "/files/read?task_id=done_task&path=hello.txt&offset=-5",
                "/files/read?task_id=done_task&path=hello.txt&offset=",
                "/files/read?task_id=done_task&path=hello.txt&offset=0&length=",
                "/files/follow?task_id=done_task&path=hello.txt&tail=", "/?finished_offset=",
                "/main/active?offset=",
                "/files/read?task_id=done_task&path=hello.txt&length=-2",
                "/files/read?task_id=done_task&path=hello.txt&log=x",
                "/files/follow?task_id=done_task&path=hello.txt&cursor=garbage",
                "/files/follow?task_id=done_task&path=hello.txt&cursor=1:-1",
                "/files/follow?task_id=done_task&path=hello.txt&tail=x", "/?active_offset=x", "/main/active?num=0"]:
        response = obs.get(url)
        assert response.status == 400, (url, response.status, response.text[:200])
        assert "Traceback" not in response.text


def test_a_parameter_that_is_not_utf8_is_a_400_naming_it(world):
    response = world["observer"].get("/files/read?task_id=done_task&path=%ff")
    assert response.status == 400
    assert response.json()["error"].startswith("Invalid unicode in path"), response.text


def test_html_escapes_everything(world):
    obs = world["observer"]
    for url in ("/browse/done_task", "/", "/task/done_task", "/rawtask/done_task", "/process/done_task/make_files",
                "/main/finished"):
        response = obs.get(url)
        assert response.status == 200, url
        assert "<img src=x" not in response.text and "<b>task</b>" not in response.text, url
        assert "<script>alert" not in response.text, url
    browse = obs.get("/browse/done_task").text
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;.txt" in browse
    assert "/file/done_task/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%26%22%27.txt" in browse
    assert obs.get("/file/done_task/" + urllib.parse.quote(HOSTILE)).status == 200


def test_task_counts_are_one_based(world):
    obs = world["observer"]
    assert "<h2 class=\"count\">active tasks 1&hellip;1 of 1</h2>" in obs.get("/main/active").text
    assert "active tasks (none here, 1 in all)" in obs.get("/main/active?offset=5").text
    assert "active tasks 1&hellip;1 of 1" in obs.get("/").text


def test_breadcrumbs_link_every_directory(world):
    obs = world["observer"]
    os.makedirs(os.path.join(world["sandbox"], "x", "y <z>"), exist_ok=True)
    write(os.path.join(world["sandbox"], "x", "y <z>", "f.txt"), "f\n")
    crumbs = ['<a class="crumb" href="/browse/done_task">/</a>', '<a class="crumb" href="/browse/done_task/x">x</a>',
              '<a class="crumb" href="/browse/done_task/x/y%20%3Cz%3E">y &lt;z&gt;</a>']
    page = obs.get("/browse/done_task/x/y%20%3Cz%3E").text
    assert crumbs[0] + "/".join(crumbs[1:]) in page                  # reads /x/y <z>
    viewer = obs.get("/file/done_task/x/y%20%3Cz%3E/f.txt").text
    assert crumbs[0] + "/".join(crumbs[1:]) + '/<span class="leaf">f.txt</span>' in viewer
    log = obs.get("/logs/done_task/make_files/0/stdout").text
    assert '<a href="/process/done_task/make_files">make_files</a> run 0 stdout' in log


def test_favicon(world):
    obs = world["observer"]
    icon = obs.get("/favicon.ico")
    assert icon.status == 200 and icon.body.startswith(b"\x00\x00\x01\x00")      # an ICO file
    import re
    link = re.search(r'<link rel="icon" href="([^"]+)">', obs.get("/").text).group(1)
    assert obs.get(link).status == 200 and obs.get(link).body == icon.body


def test_head_and_read_only_methods(world):
    obs = world["observer"]
    for url in ["/", "/task/done_task", "/j/task_ids", "/files/read?task_id=done_task&path=hello.txt&offset=0",
                "/files/download?task_id=done_task&path=hello.txt", "/health"]:
        get, head = obs.get(url), obs.request("HEAD", url)
        assert head.status == 200 and head.body == b"", url
        assert head.headers["Content-Length"] == get.headers["Content-Length"], url
    head = obs.request("HEAD", "/metrics")                  # its counters change from one request to the next
    assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) > 0
    assert obs.request("HEAD", "/task/nope").status == 404
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert obs.request(method, "/j/task_ids").status == 405
        assert obs.request(method, "/files/read?task_id=done_task&path=hello.txt").status == 405


def test_follow_survives_rotation(world):
    """A cursor taken before the log rotated still gets every byte, and the answer says it rotated."""
    from thermos_executor.logs.rotating import RotatingFile
    obs = world["observer"]
    log_dir = os.path.join(world["sandbox"], ".logs", "make_files", "0")
    log = RotatingFile(os.path.join(log_dir, "rotating"), log_size=64, backups=5)
    try:
        log.write(b"first line\n")
        start = obs.json("/files/follow?task_id=done_task&log=make_files/0/rotating&tail=1000")
        assert start["data"] == "first line\n" and start["rotated"] == 0
        lines = b"".join(b"line %03d\n" % i for i in range(20))     # 11 + 180 bytes in files of 64: rotates twice
        log.write(lines)
        cursor, seen, rotated = start["cursor"], "", 0
        while True:
            chunk = obs.json(f"/files/follow?task_id=done_task&log=make_files/0/rotating&cursor={cursor}&length=50")
            cursor, seen, rotated = chunk["cursor"], seen + chunk["data"], rotated + chunk["rotated"]
            assert not chunk["gap"]
            if not chunk["more"] and not chunk["data"]:
                break
        assert seen == lines.decode() and rotated == 2
    finally:
        log.close()


def test_follow_reports_a_gap_when_rotation_dropped_the_file(world):
    from thermos_executor.logs.rotating import RotatingFile
    obs = world["observer"]
    log = RotatingFile(os.path.join(world["sandbox"], ".logs", "make_files", "0", "short"), log_size=10, backups=1)
    try:
        log.write(b"abc\n")
        cursor = obs.json("/files/follow?task_id=done_task&log=make_files/0/short")["cursor"]
        log.write(b"0123456789" * 4)        # our file is rotated out and dropped
        chunk = obs.json(f"/files/follow?task_id=done_task&log=make_files/0/short&cursor={cursor}")
        assert chunk["gap"] is True
    finally:
        log.close()


def test_follow_holds_back_a_split_utf8_character(world):
    obs = world["observer"]
    path = os.path.join(world["sandbox"], "utf8.txt")
    with open(path, "wb") as f:
        f.write("é".encode()[:1])
    cursor = obs.json("/files/follow?task_id=done_task&path=utf8.txt&tail=10")
    assert cursor["data"] == "" and cursor["cursor"].split(":")[1] == "0"
    with open(path, "ab") as f:
        f.write("é".encode()[1:] + b"!")
    chunk = obs.json(f"/files/follow?task_id=done_task&path=utf8.txt&cursor={cursor['cursor']}")
    assert chunk["data"] == "é!"


def test_follow_never_holds_back_bytes_of_a_rotated_file(world):
    """A character split by rotation across two files: the cursor stays in the newer file (it was a 500)."""
    from thermos_executor.logs.rotating import RotatingFile
    obs = world["observer"]
    log = RotatingFile(os.path.join(world["sandbox"], ".logs", "make_files", "0", "split"), log_size=10, backups=2)
    try:
        log.write(b"abcdefghi")
        cursor = obs.json("/files/follow?task_id=done_task&log=make_files/0/split")["cursor"]
        log.write("€xyz".encode())          # the euro sign's first byte ends the rotated file, the rest starts the next
        seen = ""
        for _ in range(10):
            response = obs.get(f"/files/follow?task_id=done_task&log=make_files/0/split&cursor={cursor}&length=2")
            assert response.status == 200, response.text[:200]
            chunk = response.json()
            cursor, seen = chunk["cursor"], seen + chunk["data"]
            assert int(cursor.split(":")[1]) >= 0
            if not chunk["more"] and not chunk["data"]:
                break
        assert seen.endswith("xyz")
    finally:
        log.close()


def test_download_cut_by_the_client_logs_no_traceback(world):
    """The world's teardown asserts the observer logged no traceback."""
    import socket
    obs = world["observer"]
    with open(os.path.join(world["sandbox"], "large.bin"), "wb") as f:
        f.write(b"x" * (32 << 20))
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", obs.port)) as sock:
            sock.sendall(b"GET /files/download?task_id=done_task&path=large.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert obs.get("/health").status == 200


def test_metrics_endpoints(world):
    obs = world["observer"]
    assert obs.get("/health").text == "OK\n"
    lines = dict(line.split(" ", 1) for line in obs.get("/vars").text.splitlines())
    assert lines["observer.tasks.active"] == "1" and "sys.uptime" in lines
    assert obs.json("/vars.json")["observer.tasks.finished"] == 1
    assert obs.get("/vars/observer.tasks.all").text == "2\n"
    metrics = obs.get("/metrics").text
    assert "# TYPE thermos_observer_tasks_active gauge\nthermos_observer_tasks_active 1\n" in metrics
    assert "thermos_observer_http_requests " in metrics


def test_no_500_on_odd_requests(world):
    obs = world["observer"]
    odd = ["/j/task_ids/all/99999999999999999999", "/j/task?task_id=%ff%fe", "/task/%ff", "/browse/done_task/%ff",
           "/files/read?task_id=done_task&path=%ff", "/j/process/done_task/make_files/99999999999999999999",
           "/files/read?task_id=done_task&path=sub", "/files/download?task_id=done_task&path=sub",
           "/files/browse?task_id=done_task&path=hello.txt", "/logs/done_task/make_files/0/stdout%00",
           "/static/../../../etc/passwd", "/static/nope.js", "/main/finished?offset=99999", "/j/task_ids/all/0/1000",
           "/file/done_task/", "/files/follow?task_id=done_task&path=&tail=5", "/files/follow?task_id=done_task"]
    for url in odd:
        response = obs.get(url)
        assert response.status < 500, (url, response.status, response.text[:300])


def test_new_task_appears_and_finished_task_goes_with_its_files(world, tmp_path):
    thermos, obs = world["thermos"], world["observer"]
    config = write(tmp_path / "quick.thermos", "export(Task(name='quick', processes=[Process(name='q', "
                                               "cmdline='true')]))")
    assert thermos.run(config, "quick_task").returncode == 0
    obs.wait_task("quick_task", "finished", timeout=5)      # polling interval 1 s
    shutil.rmtree(os.path.join(thermos.root, "checkpoints", "quick_task"))
    os.unlink(os.path.join(thermos.root, "tasks", "finished", "quick_task"))
    wait_for(lambda: obs.get("/j/task/quick_task").status == 404, timeout=5, what="quick_task gone")
    wait_for(lambda: obs.json("/j/task_id_count")["all"] == 2, timeout=5, what="the count back to 2")


def test_mesos_root_skips_latest_and_finds_runs(tmp_path):
    from tests.helpers import Thermos
    run_dir = tmp_path / "mesos" / "slaves" / "S1" / "frameworks" / "F1" / "executors" / "thermos-m1" / "runs"
    (run_dir / "R1").mkdir(parents=True)
    os.symlink("R1", run_dir / "latest")
    thermos = Thermos(str(run_dir / "R1" / "checkpoints"), str(tmp_path / "sandboxes"))
    config = write(tmp_path / "m.thermos", "export(Task(name='m', processes=[Process(name='q', cmdline='true')]))")
    assert thermos.run(config, "mesos_task").returncode == 0
    obs = Observer("--mesos-root", str(tmp_path / "mesos"), "--disable_task_resource_collection")
    try:
        row = obs.wait_task("mesos_task", "finished")
        assert row["state"] == "SUCCESS"
        assert obs.json("/j/task_id_count") == {"active": 0, "finished": 1, "all": 1}
    finally:
        obs.stop()


def _crypt(password: str, setting: str) -> str:
    from thermos_observer.auth import crypt
    return crypt(password, setting)


def test_basic_auth(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    auth = write(tmp_path / "htpasswd", f"# users\nalice:{_crypt('s3cret', '$5$saltsalt$')}\n"
                                        f"bob:{_crypt('hunter2', '$2b$04$abcdefghijklmnopqrstuu')}\n")
    obs = Observer("--root", str(root), "--http-basic-auth-file", auth)
    try:
        assert obs.get("/j/task_ids").status == 401
        assert obs.get("/j/task_ids").headers["WWW-Authenticate"].startswith("Basic")
        import base64

        def basic(user, password):
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        assert obs.get("/j/task_ids", basic("alice", "s3cret")).status == 200
        assert obs.get("/j/task_ids", basic("bob", "hunter2")).status == 200
        assert obs.get("/j/task_ids", basic("alice", "wrong")).status == 401
        assert obs.get("/j/task_ids", {"Authorization": "Basic !!!"}).status == 401
    finally:
        obs.stop()


def _hash_line(user: str, password: str) -> str:
    exe = os.path.join(BIN, "thermos_observer")
    result = subprocess.run([exe, "--hash_password", user], input=password + "\n", capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def _hash_line_on_a_terminal(user: str, password: str) -> str:
    """`thermos_observer --hash_password USER` on a real terminal: asked twice, not echoed."""
    import pty
    import select
    exe = os.path.join(BIN, "thermos_observer")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(exe, [exe, "--hash_password", user])
    seen, closed = b"", False

    def read_until(marker: bytes | None) -> None:
        """Until `marker` shows (None: until the child closes the terminal)."""
        def arrived():
            nonlocal seen, closed
            if not closed and select.select([fd], [], [], 0.1)[0]:
                try:
                    seen += os.read(fd, 4096) or b""
                except OSError:                       # EIO: the child exited
                    closed = True
            return closed if marker is None else marker in seen
        wait_for(arrived, timeout=20, what=f"{marker!r} on the terminal")
    try:
        read_until(f"password for {user}: ".encode())
        os.write(fd, password.encode() + b"\n")
        read_until(b"again: ")
        os.write(fd, password.encode() + b"\n")
        read_until(None)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    text = seen.decode()
    assert password not in text                           # not echoed
    return next(line for line in text.splitlines() if line.startswith(user + ":")) + "\n"


def test_hash_password_writes_lines_the_observer_accepts(tmp_path):
    """docs/observer.md's way to make the auth file, with nothing but what setup installs."""
    import base64
    root = tmp_path / "root"
    root.mkdir()
    auth = write(tmp_path / "htpasswd", _hash_line("carol", "pa ss:wörd") + _hash_line_on_a_terminal("dave", "tty-pw"))
    assert all(line.split(":", 1)[1].startswith("$2b$12$") for line in open(auth).read().splitlines())
    obs = Observer("--root", str(root), "--http_basic_auth_file", auth)
    try:
        def basic(user, password):
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        assert obs.get("/j/task_ids").status == 401
        assert obs.get("/j/task_ids", basic("carol", "pa ss:wörd")).status == 200
        assert obs.get("/j/task_ids", basic("dave", "tty-pw")).status == 200
        assert obs.get("/j/task_ids", basic("carol", "tty-pw")).status == 401
    finally:
        obs.stop()
    exe = os.path.join(BIN, "thermos_observer")
    for user, password in (("a:b", "x"), ("alice", "")):
        result = subprocess.run([exe, "--hash_password", user], input=password + "\n", capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    for raw in (b"\xff\n", b"a\0b\n"):            # not UTF-8; a NUL crypt() would cut the password at
        result = subprocess.run([exe, "--hash_password", "alice"], input=raw, capture_output=True, timeout=30)
        assert result.returncode == 2 and result.stdout == b"" and result.stderr.count(b"\n") == 1, result.stderr


def test_cli_errors_are_one_line(tmp_path):
    exe = os.path.join(BIN, "thermos_observer")
    bad_auth = write(tmp_path / "bad", "alice:plaintext\n")
    result = subprocess.run([exe, "--http_basic_auth_file", bad_auth], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "bad:1" in result.stderr
    result = subprocess.run([exe, "--port", "http"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "expected a port number" in result.stderr
    obs = Observer("--root", str(tmp_path))
    try:
        result = subprocess.run([exe, "--root", str(tmp_path), "--ip", "127.0.0.1", "--port", str(obs.port)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [f"thermos_observer: cannot listen on 127.0.0.1:{obs.port}: "
                                                      "Address already in use"]
    finally:
        obs.stop()


def test_skipped_processes_and_a_dead_runner_are_shown(tmp_path):
    from tests.helpers import Thermos, kill9
    thermos = Thermos(str(tmp_path / "root"), str(tmp_path / "sandboxes"))
    skipped = write(tmp_path / "skip.thermos", """
a = Process(name='a', cmdline='exit 1')
b = Process(name='never_b', cmdline='echo never')
export(Task(name='skip', processes=[a, b], constraints=order(a, b)))
""")
    assert thermos.run(skipped, "skip_task").returncode == 1
    orphan = write(tmp_path / "orphan.thermos",
                   "export(Task(name='o', processes=[Process(name='s', cmdline='sleep 1000')]))")
    proc = started(thermos, orphan, "orphan_task", "s")
    observer = Observer("--root", thermos.root)
    try:
        observer.wait_task("skip_task", "finished")
        observer.wait_task("orphan_task", "active")
        assert observer.json("/j/task/skip_task")["skip_task"]["processes"]["waiting"] == ["never_b"]
        assert observer.json("/j/processes?task_id=skip_task")["skip_task"]["never_b"] == {
            "process_name": "never_b", "state": "WAITING"}
        page = observer.get("/task/skip_task").text
        assert "never_b" in page and "never run" in page and "runner not running" not in page
        assert f"pid {proc.pid}" in observer.get("/task/orphan_task").text
        kill9(proc)
        assert "runner not running" in observer.get("/task/orphan_task").text
    finally:
        err = observer.stop()
        kill9(proc)
        thermos("kill", "--grace", "1", "orphan_task", timeout=60)   # takes over from the dead runner
    assert "Traceback" not in err, err
