"""`aurora-mesos-local`: the stand-in's master and agents in the foreground, until SIGINT or SIGTERM.

    aurora-mesos-local --work_dir /tmp/mesos --resources 'cpus:2;mem:4096;disk:10240;ports:[31000-31999]' \\
                       --attributes 'rack:a'
    aurora-mesos-local --agents 3 --agent_attributes '2=rack:b' --agent_resources '3=cpus:8;mem:16384' \\
                       --zk zk://127.0.0.1:2181/mesos
    aurora-mesos-local launch FILE.aurora --job NAME      # run one task through thermos_executor (launch.py)

Flags keep Mesos' spellings; `-` and `_` are both accepted. Port 0 picks a free port. It prints one line
`master=<ip:port> agent=<ip:port> agent_id=<id> work_dir=<dir>` on stdout once everything listens (and, with
--zk, the master is announced); with several agents the line goes on with `agent2=<ip:port> agent2_id=<id>`
... for the others (the first agent's fields keep their names and places).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from scheduler.mesos_standin import agent_specs, launch
from scheduler.mesos_standin.agent_specs import AgentSpecError
from scheduler.mesos_standin.announce import ZkUrlError, parse_zk_url
from scheduler.mesos_standin.local import Cluster
from scheduler.mesos_standin.resources import ResourceError, Resources, parse_attributes
from thermos_executor.argtypes import port, positive_seconds, seconds
from thermos_executor.daemon.http import ListenError
from thermos_executor.flags import ArgumentParser, add_flag

DEFAULT_RESOURCES = "cpus:2;mem:4096;disk:10240;ports:[31000-31999]"
ZK_ANNOUNCE_TIMEOUT = 15.0


def agent_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of agents, got {text!r}") from None
    if not 1 <= value <= agent_specs.MAX_AGENTS:
        raise argparse.ArgumentTypeError(f"the number of agents must be 1-{agent_specs.MAX_AGENTS}, got {value}")
    return value


def default_work_dir() -> str:
    return os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "aurora-mesos")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="aurora-mesos-local", description="Single-machine Mesos-API stand-in (a master and one "
                "or more agents). `aurora-mesos-local launch --help`: run one task of a job through thermos_executor "
                "on it.")
    add_flag(p, "--work_dir", default=default_work_dir(),
             help="agent work directory (sandboxes); with several agents agent N uses WORK_DIR/agentN [%(default)s]")
    add_flag(p, "--ip", default="127.0.0.1", help="address to listen on [%(default)s]")
    add_flag(p, "--master_port", type=port, default=5050, help="master port, 0 for a free one [%(default)s]")
    add_flag(p, "--agent_port", type=port, default=5051,
             help="agent port, 0 for free ones; agent N listens on AGENT_PORT+N-1 [%(default)s]")
    add_flag(p, "--agents", type=agent_count, default=1, metavar="N",
             help="number of agents, all alike unless overridden below; several are named agent1..agentN, which "
                  "are also their host names [%(default)s]")
    add_flag(p, "--resources", default=DEFAULT_RESOURCES, help="every agent's resources [%(default)s]")
    add_flag(p, "--attributes", default="", help="every agent's attributes, e.g. 'rack:a;zone:b'")
    add_flag(p, "--agent_resources", action="append", default=[], metavar="N=RESOURCES",
             help="agent N's resources, merged by name with --resources, e.g. '2=cpus:8;mem:16384' (repeatable)")
    add_flag(p, "--agent_attributes", action="append", default=[], metavar="N=ATTRIBUTES",
             help="agent N's attributes, merged by name with --attributes, e.g. '2=rack:b' (repeatable)")
    add_flag(p, "--agent_hostname", action="append", default=[], metavar="N=HOSTNAME",
             help="agent N's host name in offers, e.g. '1=127.0.0.1' (repeatable)")
    add_flag(p, "--hostname", default=None,
             help="the master's host name, and the agent's when there is one [this machine's name]")
    add_flag(p, "--zk", default=None, metavar="zk://HOST:PORT[,...]/PATH",
             help="announce the master in ZooKeeper as Mesos masters do (json.info_<seq> under PATH), so "
                  "schedulers given this URL find it")
    add_flag(p, "--heartbeat_interval", type=positive_seconds, default=15.0,
          help="scheduler HEARTBEAT interval, seconds")
    add_flag(p, "--executor_registration_timeout", type=positive_seconds, default=60.0, help="seconds [%(default)s]")
    add_flag(p, "--executor_shutdown_grace_period", type=seconds, default=5.0, help="seconds [%(default)s]")
    add_flag(p, "--executor_environment", action="append", default=[], metavar="NAME=VALUE",
          help="extra executor environment variable (repeatable), e.g. MESOS_LOCAL=1")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["launch"]:
        return launch.main(argv[1:], default_work_dir(), DEFAULT_RESOURCES)
    p = parser()
    args = p.parse_args(argv)
    try:
        resources = Resources.parse(args.resources)
        attributes = parse_attributes(args.attributes)
    except ResourceError as e:
        p.exit(2, f"aurora-mesos-local: --resources/--attributes: {e}\n")
    try:
        overrides = agent_specs.parse_overrides({"resources": args.agent_resources,
                                                 "attributes": args.agent_attributes,
                                                 "hostname": args.agent_hostname}, args.agents)
        specs = agent_specs.build(os.path.abspath(args.work_dir), args.agents, resources, attributes,
                                  hostname=args.hostname, port=args.agent_port, overrides=overrides)
        if args.zk is not None:
            parse_zk_url(args.zk)
    except (AgentSpecError, ZkUrlError) as e:
        p.exit(2, f"aurora-mesos-local: {e}\n")
    env = {}
    for item in args.executor_environment:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.exit(2, f"aurora-mesos-local: --executor_environment {item!r} is not NAME=VALUE\n")
        env[name] = value
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args, specs, env))
    except ListenError as e:
        print(f"aurora-mesos-local: {e}", file=sys.stderr)
        return 1


def ready_line(cluster: Cluster) -> str:
    """`master=... agent=... agent_id=... work_dir=...`, then `agentN=... agentN_id=...` for agents 2..N and
    `zk=<url>` with --zk. Every key is unique, so `dict(f.split('=', 1) for f in line.split())` reads it."""
    first = cluster.agents[0]
    fields = [f"master={cluster.master.address}", f"agent={first.address}", f"agent_id={first.id}",
              f"work_dir={cluster.work_dir}"]
    for agent in cluster.agents[1:]:
        fields += [f"{agent.name}={agent.address}", f"{agent.name}_id={agent.id}"]
    if cluster.zk is not None:
        fields.append(f"zk={cluster.zk}")
    return " ".join(fields)


async def _serve(args, specs, env) -> int:
    cluster = Cluster(args.work_dir, specs, hostname=args.hostname, ip=args.ip, master_port=args.master_port,
                      executor_env=env, heartbeat_interval=args.heartbeat_interval,
                      executor_registration_timeout=args.executor_registration_timeout,
                      executor_shutdown_grace_period=args.executor_shutdown_grace_period, zk=args.zk)
    try:
        cluster.start()
        if not await cluster.announced(ZK_ANNOUNCE_TIMEOUT):
            print(f"aurora-mesos-local: could not announce the master at {args.zk} within "
                  f"{ZK_ANNOUNCE_TIMEOUT:g}s: is ZooKeeper running there?", file=sys.stderr)
            await cluster.stop()
            return 1
    except ListenError:
        await cluster.stop()
        raise
    print(ready_line(cluster), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger(__name__).info("stopping: killing executors")
    await cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
