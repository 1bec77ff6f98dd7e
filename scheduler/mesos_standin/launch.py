"""`aurora-mesos-local launch FILE.aurora`: run one instance of a job through the Thermos executor on the stand-in,
the way a scheduler would, and follow it to its end. No framework to write, no cluster to set up.

    aurora-mesos-local launch examples/hello_world.aurora --job hello_world

It starts a master and an agent (free ports, in `--work_dir`), registers a framework, and launches the job's
task on the first offer that fits: its resources plus the executor's, one port per `{{thermos.ports[NAME]}}`,
`thermos_executor` as the executor, and as its data the Thrift-binary AssignedTask an Aurora scheduler would send
(the job converted by `config.thrift.convert`, as `aurora job create` does). It prints one line per
status update (`TASK_RUNNING: No health-check defined, task is assumed healthy.`). SIGINT (Ctrl-C) or SIGTERM
asks the executor to kill the task, and the command waits for its end. Exit status: 0 when the task ended
TASK_FINISHED, 1 for any other end, 2 when the command line, the config or the resources are wrong (one line
on stderr, nothing started).
"""
from __future__ import annotations

import argparse
import base64
import os
import pwd
import queue
import random
import shlex
import signal
import sys
import uuid
from dataclasses import dataclass

from pymesos import MesosSchedulerDriver, Scheduler

from scheduler.mesos_standin.local import LocalMesos
from scheduler.mesos_standin.resources import ResourceError, Resources
from thermos_executor import config
from thermos_executor.cli.common import parse_bindings
from thermos_executor.aurora_api.gen import ttypes
from thermos_executor.config.thrift import convert
from thermos_executor.config.validation import check_fields
from thermos_executor.errors import ThermosError
from thermos_executor.flags import ArgumentParser, add_flag
from thermos_executor.executor import task_data
from thermos_executor.mesos_state import MesosState, is_terminal

PROG = "aurora-mesos-local launch"
EXECUTOR_RESOURCES = Resources.from_dict({"cpus": 0.25, "mem": 128})    # Aurora's executor overhead


class LaunchError(ThermosError):
    """Nothing can be launched: the message says why, in one line."""


def parser(default_work_dir: str, default_resources: str) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run one instance of a job through thermos_executor on the stand-in and "
                "print its status updates. Exit status 0 if it finished, 1 if it ended otherwise, 2 for bad input.")
    p.add_argument("config", metavar="FILE", help="an .aurora config file")
    p.add_argument("--job", help="NAME or CLUSTER/ROLE/ENV/NAME (default: the file's only job)")
    p.add_argument("-E", "--bind", action="append", metavar="NAME=VALUE", help="bind a template variable")
    p.add_argument("--instance", type=int, default=0, help="the instance, {{mesos.instance}} [%(default)s]")
    add_flag(p, "--work_dir", default=default_work_dir, help="agent work directory, where sandboxes stay [%(default)s]")
    p.add_argument("--resources", default=default_resources, help="agent resources [%(default)s]")
    p.add_argument("--executor", help="executor command, run by /bin/sh in its sandbox [thermos_executor "
                   "--nosetuid, from beside this command]")
    return p


@dataclass
class Launch:
    """What to launch: the TaskInfo without its agent, resources and data, which an offer decides."""
    task_info: dict
    task_config: ttypes.TaskConfig  # the job's, as the scheduler stores it
    instance: int
    port_names: list[str]
    resources: Resources        # the task's, ports excluded


def main(argv: list[str], default_work_dir: str, default_resources: str) -> int:
    args = parser(default_work_dir, default_resources).parse_args(argv)
    try:
        agent_resources = Resources.parse(args.resources)
        launch = prepare(args, agent_resources)
    except (ThermosError, ResourceError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    mesos = LocalMesos(args.work_dir, args.resources)
    try:
        mesos.start()
    except OSError as e:
        print(f"{PROG}: cannot start the stand-in in {args.work_dir}: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        launcher = _Launcher(launch)
        framework = {"user": pwd.getpwuid(os.getuid()).pw_name, "name": PROG}
        driver = MesosSchedulerDriver(launcher, framework, mesos.master_address, use_addict=False)
        return _follow(mesos, driver, launcher)
    finally:
        mesos.stop()


def prepare(args, agent_resources: Resources) -> Launch:
    """Check everything the executor and the agent would refuse, before anything starts (raises LaunchError,
    ConfigError)."""
    if args.instance < 0:
        raise LaunchError(f"--instance must be 0 or more, got {args.instance}")
    loaded = config.load_config(args.config, bindings=parse_bindings(args.bind))
    job = config.choose_job(loaded, args.job)
    check_fields(job, "job")
    _, unbound = job.interpolate()
    unbound = sorted({str(ref) for ref in unbound if ref.components()[0].value not in ("thermos", "mesos")})
    if unbound:
        raise LaunchError(f"unbound template variables {', '.join(unbound)}; bind them with -E NAME=VALUE")
    task_config = convert(job).taskConfig
    port_names = sorted(r.namedPort for r in task_config.resources if r.namedPort is not None)
    scalars = {kind: next(getattr(r, field) for r in task_config.resources if getattr(r, field) is not None)
               for kind, field in (("cpus", "numCpus"), ("mem", "ramMb"), ("disk", "diskMb"))}
    resources = Resources.from_dict(scalars)
    agent_ports = sum(end - begin + 1 for begin, end in agent_resources.ranges.get("ports", ()))
    if not agent_resources.contains(resources + EXECUTOR_RESOURCES) or agent_ports < len(port_names):
        raise LaunchError(f"the task and its executor need {resources + EXECUTOR_RESOURCES} and {len(port_names)} "
                          f"ports, more than the agent has ({agent_resources}); see --resources")
    key = [task_config.job.role, task_config.job.environment, task_config.job.name]
    task_id = "-".join([*key, str(args.instance), uuid.uuid4().hex[:8]])
    command = args.executor or f"{shlex.quote(_beside_this_command('thermos_executor'))} --nosetuid"
    info = {"name": task_id, "task_id": {"value": task_id},
            "executor": {"executor_id": {"value": f"thermos-{task_id}"}, "name": "AuroraExecutor",
                         "command": {"value": command, "shell": True}, "resources": EXECUTOR_RESOURCES.to_proto()}}
    return Launch(info, task_config, args.instance, port_names, resources)


def _beside_this_command(name: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), name)


class _Launcher(Scheduler):
    """A framework of one task: launched on the first offer that fits it, every other offer declined. Status
    updates go to `updates` (pymesos calls back on its own thread)."""

    def __init__(self, launch: Launch):
        self.launch = launch
        self.launched = False
        self.updates: queue.Queue = queue.Queue()

    @property
    def task_id(self) -> str:
        return self.launch.task_info["task_id"]["value"]

    def resourceOffers(self, driver, offers):  # noqa: N802 - pymesos' name
        for offer in offers:
            task = None if self.launched else self._fit(offer)
            if task is None:
                driver.declineOffer(offer["id"], {"refuse_seconds": 3600})
            else:
                self.launched = True
                driver.launchTasks(offer["id"], [task])

    def _fit(self, offer) -> dict | None:
        available = Resources.from_proto(offer["resources"])
        free = [p for begin, end in available.ranges.get("ports", ()) for p in range(begin, end + 1)]
        if len(free) < len(self.launch.port_names):
            return None
        # at random: other stand-ins on this machine (tests, other launches) offer the same ports
        ports = dict(zip(self.launch.port_names, random.sample(free, len(self.launch.port_names)), strict=True))
        resources = self.launch.resources + Resources.from_dict({"ports": [(p, p) for p in ports.values()]})
        if not available.contains(resources + EXECUTOR_RESOURCES):
            return None
        assigned = ttypes.AssignedTask(taskId=self.task_id, slaveId=offer["agent_id"]["value"],
                                       slaveHost=offer["hostname"], task=self.launch.task_config,
                                       assignedPorts=ports, instanceId=self.launch.instance)
        data = task_data.encode(assigned)
        return {**self.launch.task_info, "agent_id": offer["agent_id"], "resources": resources.to_proto(),
                "data": base64.b64encode(data).decode("ascii")}

    def statusUpdate(self, driver, update):  # noqa: N802 - pymesos' name
        self.updates.put((update["state"], update.get("message")))

    def error(self, driver, message):
        self.updates.put((MesosState.TASK_LOST, f"Framework error: {message}"))


def _follow(mesos: LocalMesos, driver: MesosSchedulerDriver, launcher: _Launcher) -> int:
    """Print each status update until a terminal one; the first SIGINT/SIGTERM kills the task."""
    task_id = launcher.task_id

    def kill(signum, frame):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        print(f"{signal.Signals(signum).name}: killing {task_id}", flush=True)
        driver.killTask({"value": task_id})

    previous = {sig: signal.signal(sig, kill) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"launching {task_id} on the Mesos-API stand-in (master {mesos.master_address}, work dir "
          f"{mesos.work_dir})", flush=True)
    driver.start()
    try:
        while True:
            state, message = launcher.updates.get()
            print(f"{state}: {message}" if message else state, flush=True)
            if state == MesosState.TASK_STARTING:
                print(f"sandbox: {mesos.executor_directory('thermos-' + task_id)}/sandbox", flush=True)
            if is_terminal(state):
                return 0 if state == MesosState.TASK_FINISHED else 1
    finally:
        driver.stop()
        driver.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
