"""The shared argparse converters, and the thermos commands' duration flags that use them: NaN, infinity and
negative durations are one-line usage errors (exit 2), never a runner that crashes on its first kill."""
import argparse

import pytest

from thermos_executor import argtypes
from thermos_executor.cli import thermos_executor, thermos_runner


def test_seconds_takes_zero_and_fractions():
    assert argtypes.seconds("0") == 0 and argtypes.seconds("2.5") == 2.5
    assert argtypes.positive_seconds("0.1") == 0.1


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "-1", "soon", ""])
def test_seconds_refuses_what_is_no_duration(text):
    with pytest.raises(argparse.ArgumentTypeError):
        argtypes.seconds(text)


@pytest.mark.parametrize("text", ["0", "nan", "inf", "-1"])
def test_positive_seconds_refuses_zero_too(text):
    with pytest.raises(argparse.ArgumentTypeError):
        argtypes.positive_seconds(text)


RUNNER = ["--thermos_json", "t.json", "--sandbox", "s", "--checkpoint_root", "r"]


@pytest.mark.parametrize("parser, argv", [
    (thermos_runner.build_parser, RUNNER + ["--kill_grace_secs", "inf"]),
    (thermos_runner.build_parser, RUNNER + ["--kill_grace_secs", "nan"]),
    (thermos_runner.build_parser, RUNNER + ["--kill_grace_secs", "-5"]),
    (thermos_executor.build_parser, ["--stop_timeout_in_secs", "nan"]),
    (thermos_executor.build_parser, ["--stop_timeout_in_secs", "-1"]),
    (thermos_executor.build_parser, ["--executor_timeout_secs", "inf"]),
])
def test_duration_flags_refuse_bad_values_in_one_line(parser, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "seconds" in err, err


def test_duration_flags_take_good_values():
    assert thermos_runner.build_parser().parse_args(RUNNER + ["--kill_grace_secs", "0"]).kill_grace_secs == 0
    assert thermos_executor.build_parser().parse_args(["--stop_timeout_in_secs", "30"]).stop_timeout_in_secs == 30
