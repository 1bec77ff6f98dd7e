"""`aurora-mesos-local`: the stand-in's master and agent in the foreground, until SIGINT or SIGTERM.

    aurora-mesos-local --work_dir /tmp/mesos --resources 'cpus:2;mem:4096;disk:10240;ports:[31000-31999]' \\
                       --attributes 'rack:a'
    aurora-mesos-local launch FILE.aurora --job NAME      # run one task through thermos_executor (launch.py)

Flags keep Mesos' spellings; `-` and `_` are both accepted. Port 0 picks a free port. It prints one line
`master=<ip:port> agent=<ip:port> agent_id=<id> work_dir=<dir>` on stdout once both listen.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from scheduler.mesos_standin import launch
from scheduler.mesos_standin.local import Cluster
from scheduler.mesos_standin.resources import ResourceError, Resources, parse_attributes
from thermos_executor.argtypes import port
from thermos_executor.daemon.http import ListenError
from thermos_executor.flags import ArgumentParser, add_flag

DEFAULT_RESOURCES = "cpus:2;mem:4096;disk:10240;ports:[31000-31999]"


def default_work_dir() -> str:
    return os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "aurora-mesos")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="aurora-mesos-local", description="Single-machine Mesos-API stand-in (master + agent). "
                "`aurora-mesos-local launch --help`: run one task of a job through thermos_executor on it.")
    add_flag(p, "--work_dir", default=default_work_dir(), help="agent work directory (sandboxes) [%(default)s]")
    add_flag(p, "--ip", default="127.0.0.1", help="address to listen on [%(default)s]")
    add_flag(p, "--master_port", type=port, default=5050, help="master port, 0 for a free one [%(default)s]")
    add_flag(p, "--agent_port", type=port, default=5051, help="agent port, 0 for a free one [%(default)s]")
    add_flag(p, "--resources", default=DEFAULT_RESOURCES, help="agent resources [%(default)s]")
    add_flag(p, "--attributes", default="", help="agent attributes, e.g. 'rack:a;zone:b'")
    add_flag(p, "--hostname", default=None, help="host name in offers [this machine's name]")
    add_flag(p, "--heartbeat_interval", type=float, default=15.0, help="scheduler HEARTBEAT interval, seconds")
    add_flag(p, "--executor_registration_timeout", type=float, default=60.0, help="seconds [%(default)s]")
    add_flag(p, "--executor_shutdown_grace_period", type=float, default=5.0, help="seconds [%(default)s]")
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
    env = {}
    for item in args.executor_environment:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.exit(2, f"aurora-mesos-local: --executor_environment {item!r} is not NAME=VALUE\n")
        env[name] = value
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args, resources, attributes, env))
    except ListenError as e:
        print(f"aurora-mesos-local: {e}", file=sys.stderr)
        return 1


async def _serve(args, resources, attributes, env) -> int:
    cluster = Cluster(args.work_dir, resources, attributes, hostname=args.hostname, ip=args.ip,
                      master_port=args.master_port, agent_port=args.agent_port, executor_env=env,
                      heartbeat_interval=args.heartbeat_interval,
                      executor_registration_timeout=args.executor_registration_timeout,
                      executor_shutdown_grace_period=args.executor_shutdown_grace_period)
    cluster.start()
    print(f"master={cluster.master.address} agent={cluster.agent.address} agent_id={cluster.agent.id} "
          f"work_dir={cluster.work_dir}", flush=True)
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
