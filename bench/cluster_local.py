"""A whole cluster on one machine: `aurora-cluster-local up` (ZooKeeper, 3 schedulers with log quorum 2, the
Mesos-API stand-in with 3 agents, the observer) in a fresh state directory.

Figures, all against the Mesos-API stand-in:
- cluster_local_ready: `up` spawned -> its "is ready" line (a leader elected, replayed and registered with Mesos).
  Comparator: ZooKeeper alone (the same java command) spawned -> answering `ruok`, measured first in this run:
  the one step every other waits for.
- cluster_local_first_running: `up` spawned -> the first task of examples/hello_world.aurora RUNNING, with
  `aurora job create` run the moment `up` is ready (as `make demo` does). Goal (issue 17) <= 15 s, which is
  also the comparator (no floor to compare with: the JSON has the job's own part, create -> RUNNING).
- cluster_local_idle_cpu: CPU (user + system) of every process of the cluster (up, its children and all their
  descendants) over --seconds (default 30), after the job was killed and 5 s of settling, as % of one core.
  Goal <= 2 %. Floor 0: an idle cluster only has timers (ZooKeeper's tick, sessions' pings, the observer's scan).
- cluster_local_scheduler_rss: the largest RSS of the 3 schedulers at the end of the idle window. Goal <= 80 MB.
  Comparator: the RSS of a python that only imports the scheduler's command (`scheduler.app.cli`), its code.
The JSON's detail has every process's CPU and RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib
import psutil

from scheduler.api import client as api_client
from scheduler.local_cluster import cluster as local
from scheduler.local_cluster.children import marked
from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus, TaskQuery

BIN = os.path.dirname(sys.executable)
UP = os.path.join(BIN, "aurora-cluster-local")
AURORA = os.path.join(BIN, "aurora")
CONFIG = os.path.join(benchlib.REPO, "examples", "hello_world.aurora")
JOB = "local/www-data/devel/hello_world"
MB = benchlib.MB


def zookeeper_alone(directory: str) -> float:
    """Seconds from spawning ZooKeeper (the cluster's own java command) to its `ruok` answer."""
    from scheduler.local_cluster.plan import Layout, free_ports
    c = local.LocalCluster(Layout(directory))
    port = free_ports(1).zookeeper
    child = c._zookeeper_child(port)
    start = time.monotonic()
    child.start()
    try:
        benchlib.wait_until(lambda: local.four_letter(port) == "imok", "ZooKeeper alone answering ruok", 120, 0.01)
        return time.monotonic() - start
    finally:
        child.stop()


def import_rss() -> float:
    """RSS (MB) of a python that imported the scheduler's command and nothing more."""
    proc = subprocess.Popen([sys.executable, "-c", "import scheduler.app.cli, sys; sys.stdout.write('ok\\n'); "
                             "sys.stdout.flush(); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=benchlib.REPO)
    try:
        proc.stdout.readline()
        return psutil.Process(proc.pid).memory_info().rss / MB
    finally:
        proc.stdin.close()
        proc.wait()


def cluster_processes(up: psutil.Process, state_dir: str) -> list[psutil.Process]:
    """`up`, its descendants, and whatever carries the cluster's marker (executors and their runners)."""
    procs = {p.pid: p for p in [up, *up.children(recursive=True), *marked(state_dir)]}
    return list(procs.values())


def is_executor(p: psutil.Process) -> bool:
    try:
        return any(os.path.basename(arg) == "thermos_executor" for arg in p.cmdline()[:2])
    except psutil.Error:
        return False


def leader_client(state_dir: str):
    with open(os.path.join(state_dir, "cluster.json")) as f:
        state = json.load(f)
    for url in state["schedulers"]:
        if local.http_get(url + "/leaderhealth", 1.0)[0] == 200:
            return api_client.connect(url + "/api", timeout=5)
    return None


def running_count(state_dir: str) -> int:
    try:
        client = leader_client(state_dir)
        if client is None:
            return 0
        reply = client.getTasksWithoutConfigs(TaskQuery(role="www-data", statuses={ScheduleStatus.RUNNING}))
        return len(reply.result.scheduleStatusResult.tasks or []) if reply.result else 0
    except Exception:  # noqa: BLE001 - not serving yet
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-cluster-local-")
    state_dir = os.path.join(tmp, "state")
    env = dict(os.environ, AURORA_CONFIG_ROOT=state_dir, HOME=tmp)
    zk_alone = zookeeper_alone(os.path.join(tmp, "zk-alone"))
    rss_floor = import_rss()
    out_path = os.path.join(tmp, "up.out")
    out = open(out_path, "wb")
    start = time.monotonic()
    proc = subprocess.Popen([UP, "up", "--state-dir", state_dir], stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def ready():
            if proc.poll() is not None:
                raise SystemExit(f"aurora-cluster-local up exited: {open(out_path).read()}")
            return "is ready in" in open(out_path).read()
        benchlib.wait_until(ready, "up ready", 180, 0.01)
        ready_s = time.monotonic() - start
        created_at = time.monotonic()
        create = subprocess.Popen([AURORA, "job", "create", JOB, CONFIG], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        benchlib.wait_until(lambda: running_count(state_dir) >= 1, "a task RUNNING", 180, 0.02)
        first_running_s = time.monotonic() - start
        job_path_s = time.monotonic() - created_at
        if create.wait(60) != 0:
            raise SystemExit(f"aurora job create failed: {create.stdout.read().decode()}")
        benchlib.wait_until(lambda: running_count(state_dir) >= 2, "both tasks RUNNING", 120, 0.05)
        kill = subprocess.run([AURORA, "job", "killall", JOB], env=env, capture_output=True, text=True, timeout=120)
        if kill.returncode != 0:
            raise SystemExit(f"aurora job killall failed: {kill.stdout}{kill.stderr}")
        up = psutil.Process(proc.pid)
        benchlib.wait_until(lambda: not any(map(is_executor, cluster_processes(up, state_dir))), "executors gone",
                            120, 0.2)
        time.sleep(5.0)   # settling before the idle window (set-up, not synchronisation)
        procs = cluster_processes(up, state_dir)
        before = {}
        for p in procs:
            try:
                before[p.pid] = benchlib.cpu_seconds(p)
            except psutil.Error:
                pass
        window_start = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - window_start
        per_process, total_cpu, scheduler_rss = {}, 0.0, []
        for p in procs:
            try:
                used = benchlib.cpu_seconds(p) - before.get(p.pid, 0.0)
                rss = p.memory_info().rss / MB
                cmd = " ".join(p.cmdline())
            except psutil.Error:
                continue
            name = ("scheduler" if "aurora-scheduler" in cmd else "zookeeper" if "ZooKeeperServerMain" in cmd
                    else "mesos" if "aurora-mesos-local" in cmd else "observer" if "thermos_observer" in cmd
                    else "up" if p.pid == proc.pid else p.name())
            total_cpu += used
            if name == "scheduler":
                scheduler_rss.append(rss)
            per_process[f"{name}:{p.pid}"] = {"cpu_percent": used / elapsed * 100, "rss_mb": rss}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
        shutil.rmtree(tmp, ignore_errors=True)
    idle = total_cpu / elapsed * 100
    figures = [
        benchlib.figure("cluster_local_ready", ready_s, "s", "zookeeper_alone_ready", zk_alone),
        benchlib.figure("cluster_local_first_running", first_running_s, "s", "issue_goal", 15.0,
                        goal="<= 15 s", met=first_running_s <= 15.0),
        benchlib.figure("cluster_local_idle_cpu", idle, "%core", "floor", 0.0, goal="<= 2 %", met=idle <= 2.0,
                        fmt="{:.3f}"),
        benchlib.figure("cluster_local_scheduler_rss", max(scheduler_rss), "MB", "scheduler_import_rss", rss_floor,
                        goal="<= 80 MB", met=max(scheduler_rss) <= 80.0),
    ]
    benchlib.write_results("cluster_local", figures, idle_window_s=elapsed, job_path_s=job_path_s,
                           processes=per_process, scheduler_rss_mb=scheduler_rss,
                           load_average=os.getloadavg(), note="against the Mesos-API stand-in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
