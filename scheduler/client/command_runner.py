"""Commands in a task's sandbox over `ssh`, as Aurora's client/api/command_runner.py builds them.

    sandbox = thermos_sandbox(cluster)     # <slave_root>/slaves/*/frameworks/*/executors/thermos-{{thermos.task_id}}
                                           #   /runs/<slave_run_directory>/sandbox
    substitute("ls {{thermos.ports[http]}}", scheduled_task, cluster)
        # 'cd /var/lib/mesos/slaves/*/.../thermos-www-prod-hello-0-1a2b/runs/latest/sandbox && ls 31001'
    ssh_run_command("agent1", "www", command, ["-F", "ssh_config"])
        # ['ssh', '-n', '-q', '-F', 'ssh_config', 'www@agent1', command]
    for output in run_on_tasks(tasks, "ls", cluster, ssh_user=None, ssh_options=[], parallelism=4): print(output)

The sandbox is found on the task's host the way an operator finds it: the agent's work dir (`slave_root` of
clusters.json) with the agent and framework IDs left as shell globs, the executor's ID (`thermos-<task id>`)
and the run directory (`slave_run_directory`, usually `latest`); `-E/--executor-sandbox` stops one level up,
in the executor's run directory. The remote shell expands the globs. The command is a pystachio template:
`{{thermos.task_id}}`, `{{thermos.ports[name]}}` and `{{mesos.instance}}` are the task's; references it
cannot bind are left as written. Tasks without an executor config (Aurora's pre-Thermos tasks) get Aurora's
older `%shard_id%`, `%task_id%` and `%port:name%` substitution instead.

Pure but for `run_on_tasks`, which runs `ssh` processes in threads and returns their output as Aurora's
client printed it: every line prefixed with `<host>:  `.
"""
from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from . import exits
from .exits import CommandError

EXECUTOR_PREFIX = "thermos-"


def sandbox_args(cluster) -> dict:
    """slave_root and slave_run_directory of the cluster (both required, as Aurora's CommandRunnerTrait)."""
    values = {key: cluster.get(key) for key in ("slave_root", "slave_run_directory")}
    missing = [key for key, value in values.items() if not isinstance(value, str) or not value]
    if missing:
        raise CommandError(exits.EXIT_INVALID_CONFIGURATION,
                           f"Cluster {cluster.name} needs {' and '.join(missing)} in clusters.json to find task "
                           f"sandboxes")
    return values


def make_executor_path(cluster, executor_name: str) -> str:
    args = sandbox_args(cluster)
    return posixpath.join(args["slave_root"], "slaves/*/frameworks/*/executors", executor_name, "runs",
                          args["slave_run_directory"])


def thermos_sandbox(cluster, executor_sandbox: bool = False) -> str:
    """The sandbox path template, with `{{thermos.task_id}}` still to bind."""
    sandbox = make_executor_path(cluster, EXECUTOR_PREFIX + "{{thermos.task_id}}")
    return sandbox if executor_sandbox else posixpath.join(sandbox, "sandbox")


def bind_task(template: str, assigned) -> str:
    """`template` with the task's thermos.* and mesos.* bound (unbound references stay as written)."""
    from pystachio import Environment, String

    from thermos_executor.config.schema import MesosContext, ThermosContext
    thermos = ThermosContext(task_id=assigned.taskId, ports=dict(assigned.assignedPorts or {}))
    mesos = MesosContext(instance=assigned.instanceId)
    return (String(template) % Environment(thermos=thermos, mesos=mesos)).get()


def task_sandbox(cluster, assigned, executor_sandbox: bool = False) -> str:
    """The sandbox path (with globs) of one task."""
    return bind_task(thermos_sandbox(cluster, executor_sandbox), assigned)


def substitute(command: str, scheduled, cluster, executor_sandbox: bool = False) -> str:
    """The remote command line: cd into the task's sandbox, then `command` with the task's values bound."""
    assigned = scheduled.assignedTask
    if assigned.task is not None and assigned.task.executorConfig is not None:
        return bind_task(f"cd {thermos_sandbox(cluster, executor_sandbox)} && {command}", assigned)
    if executor_sandbox:
        sandbox = make_executor_path(cluster, "twitter")
    else:
        sandbox = "/var/run/nexus/%task_id%/sandbox"
    command = f"cd {sandbox} && {command}"
    command = command.replace("%shard_id%", str(assigned.instanceId)).replace("%task_id%", assigned.taskId)
    for name, port in (assigned.assignedPorts or {}).items():
        command = command.replace(f"%port:{name}%", str(port))
    return command


def task_role(scheduled) -> str:
    task = scheduled.assignedTask.task
    return task.job.role if task.job is not None else task.owner.role


def ssh_run_command(host: str, user: str, command: str, ssh_options: Iterable[str] = ()) -> list[str]:
    """What `aurora task run` runs per task: no stdin, quiet."""
    return ["ssh", "-n", "-q", *ssh_options, f"{user}@{host}", command]


def execute(host: str, user: str, command: str, ssh_options: Iterable[str] = ()) -> str:
    """Run one remote command; its output (stdout and stderr) with each line prefixed by `<host>:  `."""
    result = subprocess.run(ssh_run_command(host, user, command, ssh_options), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = result.stdout.decode("utf-8", "replace")
    return "\n".join(f"{host}:  {line}" for line in output.splitlines())


def run_on_tasks(tasks, command: str, cluster, *, ssh_user: str | None = None, ssh_options: Iterable[str] = (),
                 parallelism: int = 1, executor_sandbox: bool = False) -> Iterator[str]:
    """The output of `command` in each task's sandbox, in the order the commands finish (Aurora's
    imap_unordered), at most `parallelism` at a time."""
    ssh_options = list(ssh_options)
    jobs = [(t.assignedTask.slaveHost, ssh_user or task_role(t),
             substitute(command, t, cluster, executor_sandbox=executor_sandbox)) for t in tasks]
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [pool.submit(execute, host, user, remote, ssh_options) for host, user, remote in jobs]
        for future in as_completed(futures):
            yield future.result()
