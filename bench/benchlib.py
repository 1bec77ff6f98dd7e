"""Shared helpers of the benchmarks: run a real `thermos run`, wait for its state, report figures.

Every benchmark prints one line per figure, `metric value unit | floor/comparator value | ratio`, and writes
bench/results/<metric>.json with the same figures (plus whatever detail it adds) through `write_results`:
`{"metric", "time", "figures": [figure(...), ...], "detail"}`, the one shape `read_results` accepts and
run_all.py tabulates. The ratio is always value / floor (floor / value for rates), so 1.0x means "as good as the
floor" and bigger is worse.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
RESULTS = os.environ.get("BENCH_RESULTS") or os.path.join(BENCH_DIR, "results")   # tests give their own
PYTHON = sys.executable
THERMOS = os.path.join(os.path.dirname(PYTHON), "thermos")
MB = 1 << 20          # the benchmarks' MB: 2**20 bytes (a MiB)
sys.path.insert(0, REPO)

from thermos_executor.runner import ckpt, inspector  # noqa: E402
from thermos_executor.runner.paths import TaskPath  # noqa: E402


def median(values) -> float:
    return statistics.median(values)


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def figure(name, value, unit, floor_name, floor, goal=None, met=None, fmt="{:.4g}", rate=False) -> dict:
    """One printed line and its JSON row (rate=True: higher is better, so the ratio is floor / value).
    `floor` None: a figure with nothing to compare it to."""
    ratio = (floor / value if rate else value / floor) if floor and value else None
    ratio_text = f"{ratio:.2f}x" if ratio is not None else "-"
    floor_text = "-" if floor is None else f"{fmt.format(floor)} {unit}"
    print(f"{name} {fmt.format(value)} {unit} | {floor_name} {floor_text} | {ratio_text}", flush=True)
    return {"name": name, "value": value, "unit": unit, "floor_name": floor_name, "floor": floor,
            "ratio": ratio, "goal": goal, "met": met}


def results_path(metric: str) -> str:
    return os.path.join(RESULTS, f"{metric}.json")


def write_results(metric: str, figures: list[dict], **detail) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    data = {"metric": metric, "time": time.time(), "figures": figures, "detail": detail}
    _check_results(metric, data)
    with open(results_path(metric), "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)


class ResultsError(Exception):
    """A results file is missing or not in write_results' shape; the message is one line."""


_FIGURE_FIELDS = {"name": (str,), "value": (int, float), "unit": (str,), "floor_name": (str,),
                  "floor": (int, float, type(None)), "ratio": (int, float, type(None)),
                  "goal": (str, int, float, type(None)),
                  "met": (bool, type(None))}


def read_results(metric: str) -> list[dict]:
    """The figures of bench/results/<metric>.json; ResultsError unless it is exactly write_results' shape."""
    try:
        with open(results_path(metric)) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{metric}: no readable results file: {e}") from None
    _check_results(metric, data)
    return data["figures"]


def _check_results(metric: str, data) -> None:
    if not isinstance(data, dict) or set(data) != {"metric", "time", "figures", "detail"}:
        raise ResultsError(f"{metric}: results must be {{metric, time, figures, detail}} (benchlib.write_results)")
    if data["metric"] != metric or not isinstance(data["figures"], list) or not data["figures"]:
        raise ResultsError(f"{metric}: results name another metric or hold no figures")
    for fig in data["figures"]:
        if not isinstance(fig, dict) or set(fig) != set(_FIGURE_FIELDS):
            raise ResultsError(f"{metric}: a figure is not benchlib.figure's {sorted(_FIGURE_FIELDS)}")
        wrong = [k for k, kinds in _FIGURE_FIELDS.items()
                 if not isinstance(fig[k], kinds) or isinstance(fig[k], bool) and bool not in kinds]
        if wrong:
            raise ResultsError(f"{metric}: figure {fig['name']!r}: " + ", ".join(
                f"{k} {fig[k]!r} is not {' or '.join(t.__name__ for t in _FIGURE_FIELDS[k])}" for k in wrong))


def cpu_seconds(*procs: psutil.Process) -> float:
    """User + system CPU seconds of the processes (their children excluded)."""
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def thrift_call(service, method: str, **args) -> bytes:
    """The Thrift-binary CALL of `service.method(**args)` (`service`: a generated module such as
    AuroraSchedulerManager), the body a client POSTs to /api."""
    from thrift.protocol import TBinaryProtocol
    from thrift.Thrift import TMessageType
    from thrift.transport import TTransport
    buffer = TTransport.TMemoryBuffer()
    prot = TBinaryProtocol.TBinaryProtocol(buffer)
    prot.writeMessageBegin(method, TMessageType.CALL, 1)
    getattr(service, f"{method}_args")(**args).write(prot)
    prot.writeMessageEnd()
    return buffer.getvalue()


def thrift_success(service, method: str, body: bytes):
    """The `success` value of a Thrift-binary reply to `service.method` (None when it carries none)."""
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TTransport
    prot = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body))
    prot.readMessageBegin()
    result = getattr(service, f"{method}_result")()
    result.read(prot)
    return result.success


def timed(fn, *args, **kwargs) -> float:
    """Seconds `fn(*args, **kwargs)` took."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def wait_until(condition, what: str, timeout: float, interval: float = 0.01):
    """Call `condition` every `interval` s until it returns something truthy, and return that; TimeoutError(what)
    after `timeout` s. For set-up and tear-down only: a poll is never part of a measured figure."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(interval)
    return result


def task_file(directory: str, processes: int, cmdline: str, max_concurrency: int = 0, logger: str | None = None,
              name: str = "bench.thermos", options: str = "") -> str:
    """A .thermos file `name` with `processes` independent processes p000.. running `cmdline`, each with
    `logger` (the text of a Logger(...) expression) if given and `options` (more Process fields, as text)."""
    path = os.path.join(directory, name)
    logger_arg = f", logger={logger}" if logger else ""
    options_arg = f", {options}" if options else ""
    with open(path, "w") as f:
        f.write(f"procs = [Process(name='p%03d' % i, cmdline={cmdline!r}{logger_arg}{options_arg})"
                f" for i in range({processes})]\n"
                f"export(Task(name='bench', processes=procs, max_concurrency={max_concurrency},"
                f" finalization_wait=5))\n")
    return path


class RunningTask:
    """A `thermos run` in the foreground, in a temp root and sandbox, cleaned up on exit (with-statement)."""

    def __init__(self, config: str, task_id: str = "bench"):
        self.tmp = tempfile.TemporaryDirectory(prefix="thermos-bench-")
        self.root = os.path.join(self.tmp.name, "root")
        self.task_id = task_id
        self.paths = TaskPath(self.root, task_id)
        self.log = open(os.path.join(self.tmp.name, "runner.log"), "w+b")
        self.spawned_at = time.time()
        self.proc = subprocess.Popen([THERMOS, "run", "--root", self.root, "--task_id", task_id,
                                      "--sandbox", os.path.join(self.tmp.name, "sandbox"), config],
                                     stdout=subprocess.DEVNULL, stderr=self.log)

    def failure(self, what: str) -> RuntimeError:
        """An error carrying the end of the runner's stderr."""
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace").strip().splitlines()[-3:]
        return RuntimeError(f"{what}: " + " / ".join(tail))

    def records(self) -> list[dict]:
        return ckpt.read_all(self.paths.runner_checkpoint)

    def state(self):
        return inspector.read_state(self.paths)

    def wait_all_running(self, count: int, timeout: float = 120.0, run: int = 0) -> None:
        """Poll (benchmark set-up only, before anything is measured) until `count` processes are RUNNING
        in their run number `run` or a later one."""
        def all_running() -> bool:
            running = [r for r in self.state().processes.values()
                       if r and r[-1].state == "RUNNING" and r[-1].run >= run]
            if len(running) < count and self.proc.poll() is not None:
                raise self.failure(f"thermos run exited early ({self.proc.returncode})")
            return len(running) >= count

        wait_until(all_running, f"fewer than {count} processes RUNNING after {timeout}s", timeout, 0.2)

    def coordinator_pids(self) -> list[int]:
        return [runs[-1].coordinator_pid for runs in self.state().processes.values()
                if runs and runs[-1].coordinator_pid]

    def wait(self, timeout: float = 300.0) -> None:
        """Wait for the task to end; it must end SUCCESS (exit 0)."""
        if self.proc.wait(timeout) != 0:
            raise self.failure(f"thermos run exited {self.proc.returncode}")

    def close(self) -> None:
        """SIGTERM the runner (it kills the task gracefully) and wait; SIGKILL whatever is left after that."""
        leftovers = []
        if self.proc.poll() is None:
            try:
                leftovers = [psutil.Process(pid) for pid in self.coordinator_pids()]
                leftovers += [c for p in leftovers for c in p.children(recursive=True)]
            except psutil.Error:
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for p in leftovers:
            try:
                p.kill()
            except psutil.Error:
                pass
        self.log.close()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def idle_task(processes: int, restarted: bool = False):
    """A `thermos run` of `processes` x `sleep 1000`, all RUNNING and settled: yields (task, runner side,
    coordinators), the last two lists of psutil.Process; the runner side is the runner and its fork server.

    `restarted`: each process first fails after a random 0-3 s and is started again at once, so that the
    coordinators of the sleeping runs were forked one at a time, not in one launch round."""
    cmdline, options = "sleep 1000", ""
    if restarted:
        cmdline = ("[ -e .ran_{{name}} ] && exec sleep 1000; touch .ran_{{name}};"
                   " sleep $((RANDOM % 3)).$((RANDOM % 1000)); exit 1")
        options = "max_failures=2, min_duration=0"
    with tempfile.TemporaryDirectory(prefix="thermos-bench-") as tmp:
        with RunningTask(task_file(tmp, processes, cmdline, options=options)) as task:
            task.wait_all_running(processes, run=1 if restarted else 0)
            time.sleep(1.0)   # let the runner copy the last records and go back to sleep
            runner = psutil.Process(task.proc.pid)
            coordinators = [psutil.Process(pid) for pid in task.coordinator_pids()]
            assert len(coordinators) == processes, len(coordinators)
            forkers = [p for p in runner.children() if p.name() == "thermos_forker"]
            assert len(forkers) == 1, forkers
            yield task, [runner] + forkers, coordinators
