"""Observer pieces without HTTP: discovery, the incremental reader, follow cursors, auth, the model's shapes."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from tests.observer_helpers import synthetic_task
from thermos_executor.logs.follow import Follower, fingerprint
from thermos_executor.logs.rotating import RotatingFile
from thermos_executor.runner import ckpt, inspector
from thermos_executor.runner.paths import TaskPath
from thermos_executor.runner.state import process_record
from thermos_observer import auth, cli
from thermos_observer.discovery import Discovery
from thermos_observer.handlers.api import BadRequest, _complete_utf8, parse_cursor
from thermos_observer.observer import TaskObserver
from thermos_observer.sampler import add_samples, disk_usage, empty_sample


# ---- discovery ---------------------------------------------------------------------------------------------
def test_discovery_sees_new_finished_and_removed_tasks(tmp_path):
    root = str(tmp_path / "root")
    synthetic_task(root, "old", str(tmp_path / "sb"), mtime=1000)
    synthetic_task(root, "new", str(tmp_path / "sb"), status="active", mtime=2000)
    d = Discovery([root])
    assert d.scan() is True
    assert [e.task_id for e in d.listing("all")] == ["new", "old"]
    assert d.counts() == {"active": 1, "finished": 1, "all": 2}
    assert d.scan() is False                                          # nothing changed
    os.makedirs(os.path.join(root, "tasks", "finished"), exist_ok=True)
    os.replace(os.path.join(root, "tasks", "active", "new"), os.path.join(root, "tasks", "finished", "new"))
    assert d.scan() is True and d.get("new").status == "finished"
    os.unlink(os.path.join(root, "tasks", "finished", "old"))
    assert d.scan() is True and d.get("old") is None and d.counts()["all"] == 1


def test_discovery_relists_a_directory_changed_within_its_mtime_tick(tmp_path):
    root = str(tmp_path / "root")
    synthetic_task(root, "a", str(tmp_path / "sb"))
    d = Discovery([root])
    d.scan()
    finished = os.path.join(root, "tasks", "finished")
    before = os.stat(finished).st_mtime_ns
    synthetic_task(root, "b", str(tmp_path / "sb"))
    os.utime(finished, ns=(before, before))        # as if both changes fell in one coarse mtime tick
    d.scan()
    assert d.get("b") is not None


def test_discovery_mesos_layout_skips_latest(tmp_path):
    runs = tmp_path / "slaves" / "S" / "frameworks" / "F" / "executors" / "E" / "runs"
    synthetic_task(str(runs / "R1" / "checkpoints"), "m1", str(tmp_path / "sb"))
    os.symlink("R1", runs / "latest")
    synthetic_task(str(runs / "R2" / "checkpoints"), "m2", str(tmp_path / "sb"), status="active")
    d = Discovery(mesos_roots=[str(tmp_path)], finished_every=3)
    d.scan()
    assert sorted(d.tasks) == ["m1", "m2"] and d.get("m1").root == str(runs / "R1" / "checkpoints")
    shutil.rmtree(runs / "R1")
    os.unlink(runs / "latest")
    d.scan()
    assert sorted(d.tasks) == ["m2"]


def test_discovery_first_root_wins_for_duplicate_ids(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    synthetic_task(a, "same", str(tmp_path / "sb"))
    synthetic_task(b, "same", str(tmp_path / "sb"))
    d = Discovery([a, b])
    d.scan()
    assert d.get("same").root == a and d.counts()["all"] == 1


# ---- the incremental reader -----------------------------------------------------------------------------------
def test_state_reader_matches_read_state_as_records_arrive(tmp_path):
    paths = TaskPath(str(tmp_path), "t")
    os.makedirs(paths.checkpoint_dir)
    runner = ckpt.Writer(paths.runner_checkpoint)
    reader = inspector.StateReader(paths)
    assert reader.read().header is None
    runner.write({"header": {"task_id": "t", "sandbox": "/x"}})
    runner.write(process_record("p", "WAITING", 0))
    runner.write(process_record("p", "FORKED", 1, coordinator_pid=5, fork_time=1.0))
    state = reader.read()
    assert state.header["task_id"] == "t" and state.processes["p"][-1].state == "FORKED"
    coordinator = ckpt.Writer(paths.coordinator_checkpoint("p"))      # the coordinator is ahead of the runner
    coordinator.write(process_record("p", "RUNNING", 2, pid=6, start_time=1.0))
    assert reader.read().processes["p"][-1].state == "RUNNING"
    coordinator.write(process_record("p", "SUCCESS", 3, return_code=0, stop_time=2.0))
    runner.write(process_record("p", "RUNNING", 2, pid=6, start_time=1.0))   # the runner copies: duplicates
    runner.write(process_record("p", "SUCCESS", 3, return_code=0, stop_time=2.0))
    state = reader.read()
    assert state.processes["p"][-1].state == "SUCCESS" and state.processes["p"][-1].return_code == 0
    assert state.to_json() == inspector.read_state(paths).to_json()
    offset = reader._runner.offset
    assert reader.read() is state and reader._runner.offset == offset          # nothing new: nothing decoded
    runner.close()
    coordinator.close()
    reader.close()


def test_state_reader_starts_over_when_the_stream_is_replaced(tmp_path):
    paths = TaskPath(str(tmp_path), "t")
    os.makedirs(paths.checkpoint_dir)
    with_writer = ckpt.Writer(paths.runner_checkpoint)
    with_writer.write({"header": {"task_id": "t", "sandbox": "/one"}})
    with_writer.close()
    reader = inspector.StateReader(paths)
    assert reader.read().header["sandbox"] == "/one"
    os.unlink(paths.runner_checkpoint)
    assert reader.read().header is None
    again = ckpt.Writer(paths.runner_checkpoint)
    again.write({"header": {"task_id": "t", "sandbox": "/two"}})
    again.close()
    assert reader.read().header["sandbox"] == "/two"
    reader.close()


# ---- follow cursors ------------------------------------------------------------------------------------
def test_resume_finds_the_rotated_file_by_inode_within_a_directory_fd(tmp_path):
    log = RotatingFile(str(tmp_path / "stdout"), log_size=8, backups=3)
    log.write(b"abcd")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        f = Follower("stdout", 0, dir_fd=fd)
        assert f.read() == b"abcd"
        cursor = (f.inode, f.offset, f.fingerprint())
        f.close()
        log.write(b"efghijklmn")                       # rotates: our file is stdout.1 now
        f = Follower.resume("stdout", cursor[0], cursor[1], dir_fd=fd, print_=cursor[2])
        assert f.read() == b"efghijklmn" and f.rotations == 1 and f.gaps == 0
        f.close()
    finally:
        os.close(fd)
        log.close()


def test_resume_rejects_a_file_that_reused_the_inode(tmp_path):
    path = tmp_path / "stdout"
    path.write_bytes(b"first file\n")
    f = Follower(str(path), 0)
    f.read()
    inode, offset, print_ = f.inode, f.offset, f.fingerprint()
    f.close()
    path.write_bytes(b"other file, same inode\n")      # same inode, other contents
    f = Follower.resume(str(path), inode, offset, print_=print_)
    assert f.gaps == 1 and f.read() == b"other file, same inode\n"
    f.close()


def test_follower_read_limit(tmp_path):
    (tmp_path / "log").write_bytes(b"x" * 100)
    f = Follower(str(tmp_path / "log"))
    assert len(f.read(limit=30)) == 30 and len(f.read(limit=100)) == 70 and f.read(limit=5) == b""
    f.close()


def test_fingerprint_covers_only_bytes_before_the_offset(tmp_path):
    (tmp_path / "log").write_bytes(b"abc")
    fd = os.open(tmp_path / "log", os.O_RDONLY)
    first = fingerprint(fd, 3)
    with open(tmp_path / "log", "ab") as out:
        out.write(b"more")
    assert fingerprint(fd, 3) == first and fingerprint(fd, 7) != first
    os.close(fd)


@pytest.mark.parametrize("raw,parsed", [("12:34", (12, 34, None)), ("12:34:ff", (12, 34, 255)), ("", None),
                                        (None, None)])
def test_parse_cursor(raw, parsed):
    assert parse_cursor(raw) == parsed


@pytest.mark.parametrize("raw", ["x", "1", "1:2:3:4", "-1:2", "1:-2", "1:2:zz", "a:b"])
def test_parse_cursor_rejects(raw):
    with pytest.raises(BadRequest):
        parse_cursor(raw)


@pytest.mark.parametrize("data,keep", [(b"", 0), (b"abc", 3), ("é".encode()[:1], 0), (b"a" + "€".encode()[:2], 1),
                                       ("€".encode(), 3), (b"x" + "😀".encode()[:3], 1), ("😀".encode(), 4)])
def test_complete_utf8(data, keep):
    assert _complete_utf8(data) == keep


# ---- auth ---------------------------------------------------------------------------------------------------
def _basic(user, password):
    import base64
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_bcrypt_and_sha256(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text(f"a:{auth.crypt('pw1', '$5$abcdefgh$')}\nb:{auth.crypt('pw2', '$2b$04$abcdefghijklmnopqrstuu')}\n")
    checker = auth.BasicAuth.load(str(path))
    assert checker.check_header(_basic("a", "pw1")) == "a"
    assert checker.check_header(_basic("a", "pw1")) == "a"           # remembered
    assert checker.check_header(_basic("b", "pw2")) == "b"
    for header in (None, "", _basic("a", "pw2"), _basic("c", "pw1"), "Basic ???", "Bearer x", _basic("a", ""),
                   _basic("a", "pw1\0more"), _basic("b", "pw2\0")):     # C would read only up to the NUL
        assert checker.check_header(header) is None


@pytest.mark.parametrize("content", ["", "# only a comment\n", "alice\n", "alice:plain\n", "alice:{SHA}abc\n"])
def test_auth_file_errors(tmp_path, content):
    path = tmp_path / "htpasswd"
    path.write_text(content)
    with pytest.raises(auth.AuthFileError):
        auth.BasicAuth.load(str(path))


# ---- cli -------------------------------------------------------------------------------------------------------
def test_cli_accepts_both_spellings():
    for spelling in ("--polling_interval_secs", "--polling-interval-secs"):
        args = cli.parser().parse_args([spelling, "2", "--mesos_root", "/m", "--root", "/a", "--root", "/b"])
        assert args.polling_interval == 2 and args.roots == ["/a", "/b"] and args.mesos_roots == ["/m"]
    args = cli.parser().parse_args(["--disable-task-resource-collection", "--task-disk-collection-interval-secs",
                                    "5"])
    assert args.disable_collection and args.disk_interval == 5 and args.ip == "0.0.0.0" and args.port == 1338


@pytest.mark.parametrize("argv", [["--port", "x"], ["--port", "70000"], ["--polling_interval_secs", "0"],
                                  ["--polling_interval_secs", "nan"], ["--polling_interval_secs", "inf"],
                                  ["--task_process_collection_interval_secs", "soon"]])
def test_cli_rejects_bad_flags(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parser().parse_args(argv)
    assert exc.value.code == 2


# ---- model and sampler ----------------------------------------------------------------------------------------
def test_observer_shapes_and_bounded_cache(tmp_path):
    root = str(tmp_path / "root")
    now = time.time()
    for i in range(30):
        synthetic_task(root, f"t{i:02d}", str(tmp_path / "sb"), mtime=now - 1000 + i)
    observer = TaskObserver(Discovery([root]), cache_size=8)
    observer.refresh()
    page = observer.main("finished", 0, 5)
    assert [r["task_id"] for r in page["tasks"]] == ["t29", "t28", "t27", "t26", "t25"]
    assert page["task_count"] == 30
    assert observer.main("all", -2, 5)["offset"] == 28
    assert observer.main("all", -50, 5)["offset"] == 0
    for i in range(30):
        assert observer.task(f"t{i:02d}")["state"] == "SUCCESS"
    assert observer.stats()["finished_cache"] <= 8
    assert observer.task("nope") is None and observer.process("t00", "nope") is None
    assert observer.process("t00", "p0", 1) is None and observer.process("t00", "p0", -1)["process_run"] == 0
    assert observer.processes(["t00", "nope"])["nope"] is None


def test_samples_add_up_and_disk_usage_counts_blocks(tmp_path):
    one = dict(empty_sample(), cpu=0.5, rss=10, ram=10, threads=2, procs=1, status="sleeping")
    total = add_samples([one, one])
    assert (total["cpu"], total["rss"], total["threads"], total["status"]) == (1.0, 20, 4, "sleeping")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "d" / "f", tmp_path / "d" / "hard")
    os.symlink("/usr", tmp_path / "d" / "link")
    used = disk_usage(str(tmp_path / "d"))
    assert 100_000 <= used < 200_000                      # the hard link counted once, the link not followed


# ---- charts and samples --------------------------------------------------------------------------------------
def test_chart_spans_the_samples_on_hand_with_labelled_axes():
    from thermos_observer.handlers.pages import CHART, _chart
    t = 1_700_000_000.0
    points = [(t, 0.5, 100, None), (t + 20, 1.0, 200, None), (t + 40, 0.25, 300, 4096)]
    chart = _chart("cpu (cores)", points, 1, lambda v: f"{v:.2f}")
    xs = [float(p.split(",")[0]) for p in chart["points"].split()]
    ys = [float(p.split(",")[1]) for p in chart["points"].split()]
    assert xs[0] == CHART["left"] and xs[-1] == CHART["left"] + chart["plot_w"]     # 40 s fill the width
    assert min(ys) == CHART["top"]                                                  # the peak at the top
    assert [label for _, _, label in chart["ticks"]] == ["22:13:20", "22:13:40", "22:14:00"]   # UTC
    assert (chart["top_label"], chart["zero_label"], chart["now_label"], chart["span_label"]) == \
        ("1.00", "0.00", "0.25", "40 s")
    disk = _chart("disk", points, 3, str)                   # not measured before the last point: left out
    assert disk["count"] == 1 and disk["points"].count(",") == 1
    assert _chart("disk", points[:2], 3, str) == {"title": "disk", "empty": True}
    flat = _chart("rss", points[:1], 2, str)                # one sample: a point at the right, no division by 0
    assert flat["last"][0] == CHART["left"] + flat["plot_w"]


def test_disk_is_unknown_until_the_sandbox_was_measured(tmp_path):
    from thermos_observer.sampler import Sampler
    sampler = Sampler(process_interval=1, disk_interval=60)
    root = str(tmp_path / "root")
    synthetic_task(root, "t", str(tmp_path), status="active")
    state = inspector.read_state(TaskPath(root, "t"))
    sampler.sample_processes({"t": state})
    assert sampler.disk("t") is None and sampler.history("t")[-1][3] is None
    assert sampler.task_sample("t")["disk"] == 0                       # Aurora's JSON shape stays an int
    sampler.record_disk({"t": 8192}, 0.01)
    sampler.sample_processes({"t": state})
    assert sampler.disk("t") == 8192 and sampler.history("t")[-1][3] == 8192


def test_a_new_task_s_first_disk_sample_measures_only_new_sandboxes(tmp_path):
    from thermos_observer.sampler import Sampler
    sampler = Sampler(process_interval=1, disk_interval=60)
    root = str(tmp_path / "root")
    states = {}
    for task_id in ("old", "new"):
        synthetic_task(root, task_id, str(tmp_path / task_id), status="active")
        states[task_id] = inspector.read_state(TaskPath(root, task_id))
    sampler.sample_processes(states)
    assert [t for t, _ in sampler.disk_jobs({"new"})] == ["new"]
    assert sorted(t for t, _ in sampler.disk_jobs()) == ["new", "old"]
    sampler.record_disk({"old": 1}, 2.5)
    sampler.record_disk({"new": 1}, None)            # a partial walk does not stand for the whole one's time
    assert sampler.last_disk_seconds == 2.5


def test_a_new_task_s_first_disk_sample_is_not_dropped_while_a_full_walk_runs(tmp_path):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from thermos_observer.app import AppState, Options
    root = str(tmp_path / "root")
    for task_id in ("old", "new"):
        os.makedirs(tmp_path / task_id)
        synthetic_task(root, task_id, str(tmp_path / task_id), status="active")
    app = AppState(Options(roots=[root]))
    app.observer.refresh()
    app.sample_processes()
    app._disk_pool = ThreadPoolExecutor(max_workers=1)
    try:
        app._disk_running = True                     # the timer's walk of every sandbox is under way
        asyncio.run(app.sample_disk())               # a second full walk is skipped ...
        assert app.observer.sampler.disk("old") is None
        asyncio.run(app.sample_disk({"new"}))        # ... but a new task's first sample is taken
        assert app.observer.sampler.disk("new") is not None and app.observer.sampler.disk("old") is None
        assert app._disk_running                     # still the walk's, which clears it when it ends
    finally:
        app._disk_pool.shutdown()
