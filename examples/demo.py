"""`make demo`: the whole story, printed as the commands a user would type, each step checked.

1. Thermos on its own (this file): run examples/hello_world.aurora with `thermos run` on a free port, show it
   answering HTTP, `thermos status` and the observer (started on a free port beside the task); kill -9 the
   runner and show the task still serving; start the runner again and show it re-attached to the same process;
   then stop the task cleanly with `thermos kill` and show how it ended.
2. A whole cluster on this machine (examples/demo_cluster.py): `aurora-cluster-local up`, `aurora job create`,
   the tasks RUNNING, the observer's page of one, `aurora job status`, kill -9 of the leading scheduler and a
   follower taking over, a rolling `aurora update start`, `aurora job killall`, `aurora-cluster-local down`.

Everything lives under fresh temporary directories, so the demo leaves nothing behind. A step that does not do
what it says ends the demo with a non-zero exit. At the end: the total time and the time from `up` to the first
task RUNNING.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
THERMOS = os.path.join(os.path.dirname(sys.executable), "thermos")
OBSERVER = os.path.join(os.path.dirname(sys.executable), "thermos_observer")
CONFIG = os.path.join(HERE, "hello_world.aurora")
TASK_ID = "hello_world-demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def show(*args) -> subprocess.CompletedProcess:
    print("$ thermos " + " ".join(args), flush=True)
    result = subprocess.run([THERMOS, *args], text=True, capture_output=True)
    sys.stdout.write(result.stdout + result.stderr)
    return result


def wait_http(url: str, runner: subprocess.Popen, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runner is not None and runner.poll() is not None:
            raise SystemExit(f"demo: the runner exited early with {runner.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return f"HTTP {response.status}, {len(response.read())} bytes"
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"demo: nothing answered at {url} within {timeout:.0f}s")


def wait_reattached(root: str, runner: subprocess.Popen, timeout: float = 30.0) -> None:
    """Until the new runner holds the task (its pid shows in `thermos status`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runner.poll() is None:
        out = subprocess.run([THERMOS, "status", "--root", root], text=True, capture_output=True).stdout
        if f"runner pid {runner.pid}" in out:
            return
        time.sleep(0.05)
    raise SystemExit("demo: the restarted runner did not take the task back")


def start_observer(root: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = ["--root", root, "--ip", "127.0.0.1", "--port", str(port)]
    print(f"$ thermos_observer {' '.join(args)} &", flush=True)
    observer = subprocess.Popen([OBSERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return observer, f"http://127.0.0.1:{port}/"


def show_observer(url: str) -> None:
    """Wait (bounded) until the observer lists the task, then show one JSON answer."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "j/task_ids", timeout=1) as response:
                data = json.loads(response.read())
            if data["tasks"]:
                row = data["tasks"][0]
                print(f"$ curl {url}j/task_ids\n  task {row['task_id']}: {row['state']}, "
                      f"ports {row['ports']}, {data['task_count']} task(s) listed")
                return
        except OSError:
            pass
        time.sleep(0.1)
    print(f"(the observer at {url} did not list the task within 10 s)")


def thermos_part() -> int:
    root = tempfile.mkdtemp(prefix="thermos-demo-")
    observer, observer_url = start_observer(root)
    port = free_port()
    sandbox = os.path.join(root, "sandbox")
    args = ["run", "--root", root, "--task_id", TASK_ID, "--sandbox", sandbox, "-P", f"http:{port}", CONFIG]
    print(f"$ thermos {' '.join(args)} &", flush=True)
    runner = subprocess.Popen([THERMOS, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        print(f"\nThe task serves {url}: {wait_http(url, runner)}")
        print(f"The observer shows it at {observer_url}task/{TASK_ID} (open it in a browser while the demo runs)")
        show_observer(observer_url)
        print()
        show("status", "--root", root, "-vv")
        print()
        show("tail", "--root", root, "--stderr", TASK_ID, "hello_world")
        print(f"\n$ kill -9 {runner.pid}    # the runner dies; its processes live on in their own sessions")
        runner.kill()
        runner.wait()
        print(f"The task still serves {url}: {wait_http(url, None)}\n")
        print(f"$ thermos {' '.join(args)} &    # the same command again: replay, re-attach", flush=True)
        runner = subprocess.Popen([THERMOS, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_reattached(root, runner)
        show("status", "--root", root, "-v")
        print()
        show("kill", "--root", root, "--grace", "10", TASK_ID)
        runner.wait(timeout=30)
        print(f"\n(the `thermos run` process exited {runner.returncode}: 1 means the task ended KILLED)\n")
        result = show("status", "--root", root, "-v")
        return 0 if "KILLED" in result.stdout else 1
    finally:
        if runner.poll() is None:
            runner.terminate()
            runner.wait(timeout=30)
        observer.terminate()
        observer.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)




def main() -> int:
    started = time.monotonic()
    sys.path.insert(0, HERE)
    from demo_cluster import cluster_part
    print("(the commands below are in .venv/bin; put it on your PATH to type them yourself)\n")
    print("== Thermos on its own: a task, its runner killed and re-attached, the observer", flush=True)
    if thermos_part() != 0:
        raise SystemExit("demo: FAILED: the task did not end KILLED after `thermos kill`")
    first_running = cluster_part()
    total = time.monotonic() - started
    print(f"\ndemo: every step did what it said, in {total:.0f} s; the cluster's first task was RUNNING "
          f"{first_running:.1f} s after `aurora-cluster-local up`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
