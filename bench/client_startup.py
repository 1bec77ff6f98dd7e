"""`aurora --help` and `aurora job --help`: how fast the client starts, the interpreter's own start beside it.

Timed: the wall time of the real `aurora` executable (a fresh process each run), median of 15 runs after 2
warm-ups. Comparator in the same run, interleaved: `python3 -c pass` of the same interpreter, the floor no
Python command can beat. Goal (issue 16): <= 300 ms each (heavy imports -- Thrift, pystachio, kazoo -- stay
lazy, inside the verbs).
Prints `metric value unit | comparator value | ratio` and writes bench/results/client_startup.json.
"""
from __future__ import annotations

import os
import subprocess
import time

import benchlib

AURORA = os.path.join(os.path.dirname(benchlib.PYTHON), "aurora")
GOAL_MS = 300.0
RUNS, WARMUP = 15, 2


def wall_ms(argv) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    commands = {"client_help": [AURORA, "--help"], "client_job_help": [AURORA, "job", "--help"]}
    floor = [benchlib.PYTHON, "-c", "pass"]
    times = {name: [] for name in commands}
    floors = []
    for run in range(WARMUP + RUNS):
        sample = {name: wall_ms(argv) for name, argv in commands.items()}
        base = wall_ms(floor)
        if run >= WARMUP:
            for name, ms in sample.items():
                times[name].append(ms)
            floors.append(base)
    figures = []
    for name in commands:
        p50 = benchlib.median(times[name])
        figures.append(benchlib.figure(f"{name}_p50", p50, "ms", "python_c_pass_p50", benchlib.median(floors),
                                       goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}"))
    benchlib.write_results("client_startup", figures, runs=RUNS, times_ms=times, python_c_pass_ms=floors)


if __name__ == "__main__":
    main()
