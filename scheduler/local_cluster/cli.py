"""`aurora-cluster-local`: a whole Aurora cluster on this machine, in the foreground (docs/local-cluster.md).

    aurora-cluster-local up [--state-dir DIR] [--schedulers 3] [--agents 3] [--port_base N] [--scheduler_flag F]
    aurora-cluster-local down [--state-dir DIR]       # from another shell: stop the one running there
    aurora-cluster-local status [--state-dir DIR]     # its URLs and leader; exit 3 when none runs

`up` prints a line per part as it comes up, then every URL and how to point `aurora` at it, and stays in the
foreground until Ctrl-C (SIGINT), SIGTERM, SIGHUP or `down`, then stops everything. Bad input (a port taken,
a cluster already running in that state directory, ZooKeeper not installed) is one line and exit status 1,
with nothing left running; a bad flag is exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time

from scheduler.local_cluster import plan
from scheduler.local_cluster.children import sweep
from scheduler.local_cluster.cluster import (Failed, Interrupted, LocalCluster, StartError, http_get, lock_holder,
                                             read_state)
from scheduler.local_cluster.plan import Layout, PlanError
from thermos_executor.argtypes import port
from thermos_executor.flags import ArgumentParser, add_flag

PROG = "aurora-cluster-local"
EXAMPLE = "aurora job create local/www-data/devel/hello_world examples/hello_world.aurora"


def _count(limit: int, what: str):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {what}, got {text!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"the number of {what} must be 1-{limit}, got {value}")
        return value
    return convert


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="A whole Aurora cluster on this machine: ZooKeeper, schedulers with "
                       "their replicated log, the Mesos-API stand-in with agents, the Thermos observer.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{up,down,status}")
    up = sub.add_parser("up", help="start a cluster and stay in the foreground until Ctrl-C")
    down = sub.add_parser("down", help="stop the cluster running in the state directory")
    status = sub.add_parser("status", help="the running cluster's URLs and leader (exit 3: none runs)")
    for s in (up, down, status):
        s.error = p.error  # one line, as every command of the project
        add_flag(s, "--state-dir", default=plan.default_state_dir(),
                 help="where everything lives: logs, ZooKeeper data, log replicas, sandboxes [%(default)s]")
    add_flag(up, "--schedulers", type=_count(plan.MAX_SCHEDULERS, "schedulers"), default=3,
             help="schedulers, each with a log replica; the quorum is floor(N/2)+1 [%(default)s]")
    add_flag(up, "--agents", type=_count(plan.MAX_AGENTS, "agents"), default=3,
             help="agents of the Mesos-API stand-in [%(default)s]")
    add_flag(up, "--port_base", type=port, default=0,
             help="0: free ports; B: ZooKeeper B, master B+1, observer B+2, scheduler i B+10+i (log B+20+i), "
                  "agent j B+30+j [%(default)s]")
    add_flag(up, "--scheduler_flag", action="append", default=[], metavar="-FLAG=VALUE",
             help="one more aurora-scheduler flag for every scheduler (repeatable)")
    return p


def say(text: str) -> None:
    """Print a line at once; a reader that went away (a closed pipe) is no reason to stop the cluster."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    layout = Layout(os.path.abspath(os.path.expanduser(args.state_dir)))
    if args.command == "up":
        return up(args, layout)
    if args.command == "down":
        return down(layout)
    return status(layout)


class _Signals:
    """SIGINT, SIGTERM, SIGHUP ask to stop; every signal (SIGCHLD too) wakes the supervisor's select()."""

    def __init__(self):
        self.stop = False
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.write_fd)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._ask_to_stop)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _ask_to_stop(self, *_):
        self.stop = True


def up(args, layout: Layout) -> int:
    signals = _Signals()
    cluster = LocalCluster(layout, schedulers=args.schedulers, agents=args.agents, port_base=args.port_base,
                           scheduler_flags=tuple(args.scheduler_flag), say=say, should_stop=lambda: signals.stop)
    try:
        cluster.lock()
    except StartError as e:
        say(f"{PROG}: {e}")
        return 1
    except OSError as e:
        say(f"{PROG}: cannot use {layout.root}: {e.strerror}")
        return 1
    try:
        try:
            cluster.plan()
            cluster.start()
        except (StartError, PlanError) as e:
            say(f"{PROG}: {e}")
            return 1
        except Interrupted:
            say(f"{PROG}: interrupted while starting; everything stopped")
            return 130
        summary(cluster)
        try:
            cluster.supervise(lambda: signals.stop, signals.read_fd)
        except Failed as e:
            say(f"{PROG}: {e}; stopping the cluster")
            cluster.stop()
            return 1
        say(f"{PROG}: stopping")
        cluster.stop()
        return 0
    finally:
        cluster.unlock()


def summary(cluster: LocalCluster) -> None:
    urls, root = cluster.urls(), cluster.layout.root
    say(f"\nCluster `{plan.CLUSTER_NAME}` is ready in {cluster.elapsed():.1f}s: {cluster.size} schedulers, "
        f"{cluster.agent_count} agents, ZooKeeper and the observer.")
    for i, url in enumerate(urls["schedulers"]):
        lead = "   (leader)" if i == cluster.leader else ""
        say(f"  scheduler {i + 1}   {url}/scheduler   {url}/leaderhealth{lead}")
    say(f"  mesos master  {urls['master']}/state")
    say(f"  observer      {urls['observer']}/")
    say(f"  zookeeper     {urls['zookeeper']}   (schedulers at {plan.SERVERSET_PATH})")
    say(f"  state, logs   {root}")
    say("\nIn another shell:")
    say(f"  export AURORA_CONFIG_ROOT={root}     # its clusters.json names this cluster `{plan.CLUSTER_NAME}`")
    say(f"  {EXAMPLE}")
    say(f"Ctrl-C here stops everything, as does `{PROG} down --state-dir {root}`.")


def down(layout: Layout, timeout: float = 60.0) -> int:
    pid = lock_holder(layout)
    if pid is None:
        left = sweep(layout.root) if os.path.isdir(layout.root) else 0
        say(f"{PROG}: no cluster is running in {layout.root}"
            + (f" ({left} leftover processes killed)" if left else ""))
        return 0
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while lock_holder(layout) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # the polling interval of a condition wait with a deadline
    if lock_holder(layout) is not None and pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    left = sweep(layout.root)
    say(f"{PROG}: stopped the cluster in {layout.root}" + (f" ({left} leftover processes killed)" if left else ""))
    return 0


def status(layout: Layout) -> int:
    pid = lock_holder(layout)
    state = read_state(layout)
    if pid is None or state is None:
        say(f"{PROG}: no cluster is running in {layout.root}")
        return 3
    leader = None
    for i, url in enumerate(state["schedulers"]):
        if http_get(url + "/leaderhealth", 1.0)[0] == 200:
            leader = i
    say(f"cluster `{state['cluster']}` in {layout.root}: pid {pid}, "
        + ("ready" if state.get("ready") else "starting") + ", "
        + (f"leader scheduler {leader + 1}" if leader is not None else "no leader"))
    say(json.dumps({k: state[k] for k in ("zookeeper", "master", "observer", "schedulers", "clusters_json")},
                   indent=2))
    return 0

if __name__ == "__main__":
    sys.exit(main())
