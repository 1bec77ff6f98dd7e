"""Rotating writer, policy precedence and follower, without processes."""
import os

import pytest

from thermos_executor.config.spec import LoggerSpec
from thermos_executor.errors import ThermosError
from thermos_executor.logs.follow import Follower
from thermos_executor.logs.policy import LogDefaults, LogPolicy, resolve
from thermos_executor.logs.rotating import RotatingFile, rotated_files


def test_writes_split_exactly_at_the_boundary_and_oldest_is_dropped(tmp_path):
    path = str(tmp_path / "stdout")
    f = RotatingFile(path, log_size=10, backups=2)
    f.write(b"0123456789abcdefghijKLMNOPQRSTuv")
    f.close()
    assert [os.path.basename(p) for p in rotated_files(path)] == ["stdout.2", "stdout.1", "stdout"]
    assert [open(p, "rb").read() for p in rotated_files(path)] == [b"abcdefghij", b"KLMNOPQRST", b"uv"]


def test_splice_from_a_pipe_respects_the_boundary(tmp_path):
    path = str(tmp_path / "stdout")
    f = RotatingFile(path, log_size=7, backups=5)
    r, w = os.pipe()
    os.write(w, b"x" * 20)
    os.close(w)
    while f.splice_from(r, 1 << 20):
        pass
    f.close()
    assert [os.path.getsize(p) for p in rotated_files(path)] == [7, 7, 6]


def test_bad_rotation_values():
    with pytest.raises(ValueError):
        RotatingFile("/nonexistent/x", 0, 1)


def test_precedence_of_process_logger_over_cluster_flags():
    flags = LogDefaults(destination="both", mode="rotate", rotate_log_size_mb=2, rotate_log_backups=3)
    assert resolve(None, flags) == LogPolicy("both", "rotate", 2 * 1024 * 1024, 3)
    assert resolve(None, LogDefaults(rotate_log_size_mb=0)) == LogPolicy()        # 0 means unset, as Aurora
    assert resolve(LoggerSpec(), flags) == LogPolicy()                            # Logger() ignores the flags
    assert resolve(LoggerSpec(mode="rotate", log_size=100, backups=1), flags) == LogPolicy("file", "rotate", 100, 1)
    assert LogPolicy("both").piped and LogPolicy(mode="rotate").piped and not LogPolicy().piped
    assert not LogPolicy("console", "rotate").piped


@pytest.mark.parametrize("kwargs", [{"destination": "x"}, {"mode": "x"}, {"rotate_log_backups": -1}])
def test_bad_cluster_flags(kwargs):
    with pytest.raises(ThermosError):
        LogDefaults(**kwargs)


def test_follower_reads_across_several_rotations_without_gap_or_duplicate(tmp_path):
    path = str(tmp_path / "stdout")
    writer = RotatingFile(path, log_size=10, backups=100)
    follower = Follower(path)
    seen = b""
    data = bytes(range(48, 123)) * 3
    for i in range(0, len(data), 7):
        writer.write(data[i:i + 7])
        if i % 21 == 0:
            seen += follower.read()
    seen += follower.read()
    assert seen == data and follower.rotations > 5 and follower.gaps == 0


def test_follower_flags_a_possible_gap_when_its_file_was_dropped(tmp_path):
    path = str(tmp_path / "stdout")
    writer = RotatingFile(path, log_size=10, backups=2)
    writer.write(b"A" * 10 + b"B" * 5)
    follower = Follower(path)            # holds the live file "BBBBB"
    assert follower.read() == b"B" * 5
    writer.write(b"B" * 5 + b"C" * 10 + b"D" * 10 + b"E" * 3)   # our file becomes .1, then .2, then is dropped
    # The held file is read to its end through its descriptor; the oldest kept file follows it.
    assert follower.read() == b"B" * 5 + b"C" * 10 + b"D" * 10 + b"E" * 3
    assert follower.gaps == 1


def test_tail_lines(tmp_path):
    path = tmp_path / "stdout"
    path.write_bytes(b"a\nb\nc\nd\n")
    f = Follower(str(path))
    assert f.tail(2) == b"c\nd\n"
    path.write_bytes(b"a\nb\nc\nd\ne\n")
    assert f.read() == b"e\n"
