"""The cluster half of `make demo`: a whole Aurora cluster on this machine, driven as a user drives it.

`aurora-cluster-local up` in the background; `aurora job create` of examples/hello_world.aurora through the
clusters.json it wrote; its tasks RUNNING and answering HTTP; the observer's page of one; `aurora job status`;
kill -9 of the leading scheduler and a follower taking over with the job intact; a rolling `aurora update start`
to examples/hello_world_v2.aurora (when this `aurora` has the command); `aurora job killall`; then
`aurora-cluster-local down` and nothing left running. Every step is checked: one that does not do what it says
ends the demo with `demo: FAILED: ...` and a non-zero exit. Its state directory is a fresh temporary one.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
JOB = "local/www-data/devel/hello_world"
V1 = "examples/hello_world.aurora"
V2 = "examples/hello_world_v2.aurora"
REPO = os.path.dirname(HERE)


class Failed(SystemExit):
    def __init__(self, what: str):
        super().__init__(f"demo: FAILED: {what}")


def check(condition, what: str) -> None:
    if not condition:
        raise Failed(what)


def wait(condition, what: str, timeout: float = 60.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"{what} (not within {timeout:.0f} s)")
        time.sleep(interval)


def get(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return None, ""


class Demo:
    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="aurora-demo-")
        self.env = dict(os.environ, AURORA_CONFIG_ROOT=self.state)
        self.up: subprocess.Popen | None = None
        self.up_lines: list[str] = []
        self.t_up = 0.0
        self.t_first_running = None

    # -- running commands as a user types them ---------------------------------------------------------------------
    def run(self, *args: str, show: bool = True, timeout: float = 180, expect: int = 0,
            note: str = "") -> subprocess.CompletedProcess:
        print(f"$ {' '.join(args)}" + (f"    # {note}" if note else ""), flush=True)
        result = subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=self.env, cwd=REPO, text=True,
                                capture_output=True, timeout=timeout)
        if show:
            sys.stdout.write(result.stdout + result.stderr)
        check(result.returncode == expect, f"`{' '.join(args)}` exited {result.returncode}, not {expect}: "
              f"{(result.stdout + result.stderr).strip()[-500:]}")
        return result

    def quiet(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([os.path.join(BIN, args[0]), *args[1:]], env=self.env, cwd=REPO, text=True,
                              capture_output=True, timeout=120)

    def tasks(self) -> list[dict]:
        """The job's active tasks, from `aurora job status --write-json`."""
        result = self.quiet("aurora", "job", "status", "--write-json", JOB)
        try:
            jobs = json.loads(result.stdout)
        except ValueError:
            return []
        return [t for j in jobs if isinstance(j, dict) for t in j.get("active", [])] if isinstance(jobs, list) \
            else []

    def state_file(self) -> dict:
        with open(os.path.join(self.state, "cluster.json")) as f:
            return json.load(f)

    def leader(self) -> int | None:
        for i, url in enumerate(self.state_file()["schedulers"]):
            if get(url + "/leaderhealth", 1.0)[0] == 200:
                return i
        return None

    # -- the story -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        print(f"$ aurora-cluster-local up --state-dir {self.state} &", flush=True)
        self.t_up = time.monotonic()
        self.up = subprocess.Popen([os.path.join(BIN, "aurora-cluster-local"), "up", "--state-dir", self.state],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   text=True, start_new_session=True)
        threading.Thread(target=self._echo_up, daemon=True).start()
        wait(lambda: self.up.poll() is not None or any("is ready in" in line for line in self.up_lines),
             "`aurora-cluster-local up` to say the cluster is ready", timeout=180)
        check(self.up.poll() is None, f"`aurora-cluster-local up` exited {self.up.returncode}")
        print(f"\n$ export AURORA_CONFIG_ROOT={self.state}", flush=True)

    def _echo_up(self) -> None:
        for line in self.up.stdout:
            self.up_lines.append(line)
            sys.stdout.write("  | " + line)
            sys.stdout.flush()

    def create(self) -> None:
        print()
        self.run("aurora", "job", "create", "--wait-until=RUNNING", JOB, V1)
        tasks = self.tasks()
        check(len(tasks) == 2 and all(t["status"] == "RUNNING" for t in tasks),
              f"2 tasks RUNNING after create, found {[t.get('status') for t in tasks]}")
        running_at = [e["timestamp"] / 1000 for t in tasks for e in t["taskEvents"] if e["status"] == "RUNNING"]
        # Scheduler timestamps are wall-clock: convert to the demo's monotonic clock.
        self.t_first_running = min(running_at) - time.time() + time.monotonic() - self.t_up
        print(f"(both instances RUNNING; the first {self.t_first_running:.1f} s after `up` was typed)")

    def serving(self) -> None:
        observer = self.state_file()["observer"]
        status, body = get(observer + "/j/task_ids")
        check(status == 200, f"the observer's /j/task_ids answered {status}")
        rows = [r for r in json.loads(body)["tasks"] if r["state"] == "ACTIVE"]
        check(len(rows) == 2, f"the observer lists 2 active tasks, it lists {len(rows)}")
        row = rows[0]
        print(f"\n$ curl -s http://127.0.0.1:{row['ports']['http']}/    # a task's own web server")
        status, _ = get(f"http://127.0.0.1:{row['ports']['http']}/")
        check(status == 200, f"the task's server answered {status}")
        print(f"HTTP {status}")
        url = f"{observer}/task/{row['task_id']}"
        print(f"\n$ curl -s {url}    # the observer's page of the task (open it in a browser)")
        status, page = get(url)
        check(status == 200 and row["task_id"] in page, f"the observer's task page answered {status}"
              + ("" if row["task_id"] in page else " without the task id"))
        print(f"HTTP {status}, {len(page)} bytes, showing task {row['task_id']} and its process hello_world")
        print()
        self.run("aurora", "job", "status", JOB)

    def failover(self) -> None:
        leader = self.leader()
        check(leader is not None, "a scheduler answers /leaderhealth 200")
        state = self.state_file()
        url = state["schedulers"][leader]
        pid = state["children"][f"scheduler {leader + 1}"]
        print(f"\n$ curl -s -o /dev/null -w '%{{http_code}}' {url}/leaderhealth    # scheduler {leader + 1} leads")
        print("200")
        print(f"$ kill -9 {pid}    # the leading scheduler dies", flush=True)
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new = wait(lambda: (lambda i: i + 1 if i is not None and i != leader else None)(self.leader()),
                   "a follower to take over as leader", timeout=90) - 1
        took = time.monotonic() - killed_at
        new_url = state["schedulers"][new]
        print(f"$ curl -s -o /dev/null -w '%{{http_code}}' {new_url}/leaderhealth    # scheduler {new + 1} now")
        print(f"200    (took over {took:.1f} s after the kill: its ZooKeeper session expiring, "
              "-zk_session_timeout=4secs, then the log's recovery and replay)")
        print()
        self.run("aurora", "job", "list", "local/www-data", note="the job is still there")
        tasks = wait(lambda: (lambda ts: ts if len(ts) == 2 and all(t["status"] == "RUNNING" for t in ts)
                              else None)(self.tasks()), "the job's 2 tasks RUNNING on the new leader")
        print(f"({len(tasks)} tasks RUNNING, as before the kill: Mesos kept them while no scheduler was registered)")

    def update(self) -> None:
        print()
        has_update = self.quiet("aurora", "update", "start", "--help").returncode == 0
        if not has_update:
            print(f"$ aurora update start {JOB} {V2} --wait")
            print("(skipped: this `aurora` has no `aurora update` command yet -- the scheduler runs updates, the "
                  "client's commands come next; see docs/client.md)")
            return
        self.run("aurora", "update", "start", JOB, V2, "--wait", timeout=300)
        tasks = wait(lambda: (lambda ts: ts if len(ts) == 2 and all(t["status"] == "RUNNING" for t in ts)
                              else None)(self.tasks()), "2 tasks RUNNING after the update")
        for t in tasks:
            port = t["assignedTask"]["assignedPorts"]["http"]
            status, body = get(f"http://127.0.0.1:{port}/")
            check(status == 200 and "version 2" in body, f"instance {t['assignedTask']['instanceId']} serves "
                  f"version 2 (got {status}: {body[:80]!r})")
        print(f"$ curl -s http://127.0.0.1:{tasks[0]['assignedTask']['assignedPorts']['http']}/")
        print(get(f"http://127.0.0.1:{tasks[0]['assignedTask']['assignedPorts']['http']}/")[1].strip())

    def killall(self) -> None:
        print()
        self.run("aurora", "job", "killall", JOB)
        check(self.tasks() == [], "no active task after killall")

    def stop(self) -> None:
        print()
        self.run("aurora-cluster-local", "down", "--state-dir", self.state)
        code = self.up.wait(60)
        check(code == 0, f"`aurora-cluster-local up` exited {code} after down")
        sys.path.insert(0, REPO)
        from scheduler.local_cluster.children import marked
        left = marked(self.state)
        check(left == [], f"processes left after down: {[p.pid for p in left]}")
        print("(nothing of the cluster is left running)")

    def cleanup(self) -> None:
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGTERM)
            try:
                self.up.wait(60)
            except subprocess.TimeoutExpired:
                self.up.kill()
                self.up.wait()
        shutil.rmtree(self.state, ignore_errors=True)


def cluster_part() -> float | None:
    """Run the story; the seconds from `up` to the first task RUNNING."""
    print("\n== A whole cluster on this machine: ZooKeeper, 3 schedulers (log quorum 2), the Mesos-API stand-in "
          "with 3 agents, the observer", flush=True)
    demo = Demo()
    try:
        demo.start()
        demo.create()
        demo.serving()
        demo.failover()
        demo.update()
        demo.killall()
        demo.stop()
        return demo.t_first_running
    finally:
        demo.cleanup()
