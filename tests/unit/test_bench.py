"""bench/run_all.py and the one result shape every benchmark writes (bench/benchlib.py)."""
import os
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import benchlib  # noqa: E402
import run_all  # noqa: E402

GOOD = """import sys; sys.path.insert(0, {bench!r}); import benchlib
benchlib.write_results("{name}", [benchlib.figure("{name}_x", 2.0, "ms", "floor", 1.0)], runs=3)
"""
SCRIPTS = {
    "good": GOOD,
    "own_shape": "import json, os\njson.dump({{'ours': 1}}, open(os.path.join(os.environ['BENCH_RESULTS'], "
                 "'own_shape.json'), 'w'))\n",
    "nothing": "pass\n",
    "crashes": "raise SystemExit(3)\n",
}


def test_every_benchmark_writes_through_benchlib():
    for name in run_all.SCRIPTS:
        source = (BENCH / f"{name}.py").read_text()
        assert "write_results(" in source and "json.dump(" not in source, name


def test_results_round_trip_and_other_shapes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(benchlib, "RESULTS", str(tmp_path))
    benchlib.write_results("m", [benchlib.figure("m_rate", 5.0, "ops/s", "peer", 10.0, rate=True, goal=">= 1",
                                                 met=True), benchlib.figure("m_alone", 3.0, "s", "-", None)])
    assert [(f["name"], f["ratio"]) for f in benchlib.read_results("m")] == [("m_rate", 2.0), ("m_alone", None)]
    try:
        benchlib.write_results("m", [benchlib.figure("m_met", 1.0, "ms", "peer", 2.0, goal=300.0, met="yes")])
    except benchlib.ResultsError as e:
        assert str(e) == "m: figure 'm_met': met 'yes' is not bool or NoneType"
    else:
        raise AssertionError("a text as met accepted")
    (tmp_path / "m.json").write_text('{"ours": {"seq_per_s": 1}}')
    for metric in ("m", "missing"):
        try:
            benchlib.read_results(metric)
        except benchlib.ResultsError as e:
            assert str(e).startswith(f"{metric}: ")
        else:
            raise AssertionError(f"{metric} accepted")


def test_run_all_prints_the_table_and_fails_on_a_bad_or_missing_result(tmp_path):
    scripts = tmp_path / "bench"
    scripts.mkdir()
    for name, text in SCRIPTS.items():
        (scripts / f"{name}.py").write_text(text.format(bench=str(BENCH), name=name))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "nothing.json").write_text(open(__file__).read())   # stale: must not be read
    driver = (f"import sys; sys.path.insert(0, {str(BENCH)!r}); import run_all; run_all.BENCH_DIR = {str(scripts)!r}"
              f"; run_all.SCRIPTS = {list(SCRIPTS)!r}; sys.exit(run_all.main())")
    result = subprocess.run([sys.executable, "-c", driver, "--idle-seconds", "1"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "BENCH_RESULTS": str(tmp_path / "results")})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    table = result.stdout[result.stdout.index("\nfigure"):].split("\n")
    assert table[3].split() == ["good_x", "2", "ms", "floor", "1", "2.00x"]
    assert [row.split() for row in table[4:7]] == [[name, "FAILED"] for name in ("own_shape", "nothing", "crashes")]
    assert "own_shape: FAILED: own_shape: results must be {metric, time, figures, detail}" in result.stdout
    assert "crashes: FAILED: exited with status 3" in result.stdout
