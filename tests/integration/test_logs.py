"""Process logs with real processes: destinations, modes, precedence, rotation, zero loss, following."""
import os
import subprocess

import pytest

from tests.helpers import alive, holds_open, kill9, wait_for, write
from thermos_executor.logs.rotating import rotated_files

# Numbered lines: any loss, duplicate or reordering shows in the text itself.
COUNT = "i=0; while [ $i -lt {n} ]; do echo line-$i; i=$((i+1)); done"


def logs(thermos, task_id, process="p", run=0):
    return os.path.join(thermos.sandbox(task_id), ".logs", process, str(run))


def joined(path):
    return b"".join(open(f, "rb").read() for f in rotated_files(path))


def written_so_far(path, marker: bytes) -> bool:
    """For polling while the process writes: a file listed may be renamed by a rotation before it is opened."""
    try:
        return marker in joined(path)
    except FileNotFoundError:
        return False


def expected(n):
    return "".join(f"line-{i}\n" for i in range(n)).encode()


def test_destinations(thermos, tmp_path):
    cfg = write(tmp_path / "d.thermos", """
def p(name, dest):
    return Process(name=name, cmdline='echo out-%s; echo err-%s >&2' % (name, name), logger=Logger(destination=dest))
export(Task(name='d', processes=[p('f', 'file'), p('c', 'console'), p('b', 'both'), p('n', 'none')]))
""")
    result = thermos.run(cfg, "d-1")
    assert result.returncode == 0, result.stderr
    for name in ("f", "b"):
        assert open(os.path.join(logs(thermos, "d-1", name), "stdout")).read() == f"out-{name}\n"
        assert open(os.path.join(logs(thermos, "d-1", name), "stderr")).read() == f"err-{name}\n"
    for name in ("c", "n"):
        assert os.listdir(logs(thermos, "d-1", name)) == []
    for name in ("c", "b"):
        assert f"out-{name}\n" in result.stdout and f"err-{name}\n" in result.stderr
    assert "out-f" not in result.stdout and "out-n" not in result.stdout + result.stderr


def test_rotation_boundaries_and_backups(thermos, tmp_path):
    cfg = write(tmp_path / "r.thermos", f"""
export(Task(name='r', processes=[Process(name='p', cmdline='{COUNT.format(n=5000)}',
            logger=Logger(mode='rotate', rotate=RotatePolicy(log_size=1000, backups=200)))]))
""")
    assert thermos.run(cfg, "r-1").returncode == 0
    stdout = os.path.join(logs(thermos, "r-1"), "stdout")
    files = rotated_files(stdout)
    assert all(os.path.getsize(f) <= 1000 for f in files)
    assert all(os.path.getsize(f) == 1000 for f in files[:-1])       # splits exactly at the boundary
    assert joined(stdout) == expected(5000)

    cfg2 = write(tmp_path / "r2.thermos", f"""
export(Task(name='r', processes=[Process(name='p', cmdline='{COUNT.format(n=5000)}',
            logger=Logger(mode='rotate', rotate=RotatePolicy(log_size=1000, backups=3)))]))
""")
    assert thermos.run(cfg2, "r-2").returncode == 0
    stdout = os.path.join(logs(thermos, "r-2"), "stdout")
    assert [os.path.basename(f) for f in rotated_files(stdout)] == ["stdout.3", "stdout.2", "stdout.1", "stdout"]
    kept = joined(stdout)
    assert expected(5000).endswith(kept) and len(kept) > 3000         # the kept tail is byte-exact


def test_cluster_flags_apply_only_to_processes_without_a_logger(thermos, tmp_path):
    cfg = write(tmp_path / "p.thermos", f"""
export(Task(name='prec', processes=[
    Process(name='p', cmdline='{COUNT.format(n=3000)}'),
    Process(name='own', cmdline='{COUNT.format(n=3000)}', logger=Logger()),
    Process(name='none', cmdline='echo hidden', logger=Logger(destination='none'))]))
""")
    result = thermos.run(cfg, "prec-1", "--process_logger_mode", "rotate", "--rotate_log_size_mb", "1",
                         "--rotate_log_backups", "2", "--process_logger_destination", "both")
    assert result.returncode == 0, result.stderr
    assert "line-2999" in result.stdout                                  # `both` from the flags
    p_files = rotated_files(os.path.join(logs(thermos, "prec-1", "p"), "stdout"))
    assert p_files == [os.path.join(logs(thermos, "prec-1", "p"), "stdout")]  # 1 MiB is not reached
    own = os.path.join(logs(thermos, "prec-1", "own"), "stdout")
    assert open(own, "rb").read() == expected(3000)                     # Logger(): file/standard, flags ignored
    assert result.stdout.count("line-2999") == 1                         # only p went to the console
    assert "hidden" not in result.stdout


def test_zero_loss_when_the_runner_is_killed_mid_stream(thermos, tmp_path):
    n = 20000
    cfg = write(tmp_path / "z.thermos", f"""
export(Task(name='z', processes=[Process(name='p',
    cmdline='i=0; while [ $i -lt {n} ]; do echo line-$i; i=$((i+1)); if [ $i = 5000 ]; then sleep 0.5; fi; done',
    logger=Logger(mode='rotate', rotate=RotatePolicy(log_size=4096, backups=1000)))]))
""")
    proc = thermos.start(cfg, "z-1")
    stdout = os.path.join(logs(thermos, "z-1"), "stdout")
    wait_for(lambda: written_so_far(stdout, b"line-4000"), what="output flowing")
    kill9(proc)
    assert thermos.run(cfg, "z-1").returncode == 0
    assert joined(stdout) == expected(n)
    assert thermos.status("z-1")["processes"]["p"]["runs"][0]["state"] == "SUCCESS"


def test_background_writer_is_drained_then_the_run_ends(thermos, tmp_path):
    cfg = write(tmp_path / "b.thermos", """
export(Task(name='bg', processes=[Process(name='p',
    cmdline='(sleep 0.3; echo late) & (exec sleep 1000) & echo $! > holder; echo main',
    logger=Logger(mode='rotate', rotate=RotatePolicy(log_size=1000, backups=2)))]))
""")
    assert thermos.run(cfg, "bg-1").returncode == 0
    run = thermos.status("bg-1")["processes"]["p"]["runs"][0]
    assert run["state"] == "SUCCESS"
    # The run ended when `main` exited; the pipe was drained until the writers closed or were killed.
    assert open(os.path.join(logs(thermos, "bg-1"), "stdout")).read() == "main\nlate\n"
    holder = int(open(os.path.join(thermos.sandbox("bg-1"), "holder")).read())
    assert not alive(holder)


def test_tail_follows_across_rotations(thermos, tmp_path):
    n = 3000
    cfg = write(tmp_path / "f.thermos", f"""
export(Task(name='fol', processes=[Process(name='p',
    cmdline='while [ ! -e go ]; do sleep 0.01; done; i=0; while [ $i -lt {n} ]; do echo line-$i; i=$((i+1)); done',
    logger=Logger(mode='rotate', rotate=RotatePolicy(log_size=2000, backups=100)))]))
""")
    runner = thermos.start(cfg, "fol-1")
    wait_for(lambda: thermos.running("fol-1", "p"), what="process running")
    stdout = os.path.join(logs(thermos, "fol-1"), "stdout")
    follow = subprocess.Popen(thermos.cmd("tail", "-f", "-n", "0", "fol-1", "p"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # Only once the follower holds the log open may the process start writing (-n 0 skips what came before).
    wait_for(lambda: holds_open(follow.pid, stdout), what="tail -f to open the log")
    open(os.path.join(thermos.sandbox("fol-1"), "go"), "w").close()
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    assert out.encode() == expected(n)
    assert runner.wait(timeout=30) == 0


@pytest.mark.parametrize("logger, message", [
    ("Logger(destination='nowhere')", "only accepts the following values: file, console, both, none"),
    ("Logger(mode='sometimes')", "only accepts the following values: standard, rotate"),
    ("Logger(mode='rotate', rotate=RotatePolicy(log_size=0))", "log_size"),
    ("Logger(mode='rotate', rotate=RotatePolicy(backups=0))", "backups"),
])
def test_bad_logger_is_refused_when_the_config_loads(thermos, tmp_path, logger, message):
    cfg = write(tmp_path / "bad.thermos", f"export(Task(name='b', processes=[Process(name='p', cmdline='true', "
                                          f"logger={logger})]))")
    for command in (["inspect", cfg], ["run", "--task_id", "bad-1", "--sandbox", thermos.sandbox("bad-1"), cfg]):
        result = thermos(*command)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(os.path.join(thermos.root, "checkpoints", "bad-1"))


@pytest.mark.parametrize("flags, message", [
    (["--process_logger_destination", "nowhere"], "invalid choice"),
    (["--process_logger_mode", "sometimes"], "invalid choice"),
    (["--rotate_log_size_mb", "-1"], "--rotate_log_size_mb must be a positive number"),
    (["--rotate_log_backups", "x"], "invalid int value"),
])
def test_bad_logger_flags(thermos, tmp_path, flags, message):
    cfg = write(tmp_path / "ok.thermos", "export(Task(name='ok', processes=[Process(name='p', cmdline='true')]))")
    result = thermos.run(cfg, "flags-1", *flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
