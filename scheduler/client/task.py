"""`aurora task run|ssh|scp` (Aurora 0.22's client/cli/task.py): commands in tasks' sandboxes over `ssh`.

Each finds the job's live tasks through getTasksStatus, then runs the system `ssh` or `scp` to the task's
host (`slaveHost`) as the job's role (or `--ssh-user`), in the sandbox `command_runner` locates. `run` prints
every output line as `<host>:  <line>` and exits 0, as Aurora's; `ssh` and `scp` exit with ssh's and scp's
own status. Texts and exit codes are Aurora's: `Job KEY not found` (6) when ssh finds no live task, `Job or
instance KEY/N not found` (6) for scp, `Could not parse tunnel: ...` and `Task ID has no port named NAME` (6).
Light at import for fast help: Thrift and pystachio are imported inside `execute`.
"""
from __future__ import annotations

import textwrap

from . import exits
from .exits import CommandError
from .options import (EXECUTOR_SANDBOX_OPTION, INSTANCES_SPEC_ARGUMENT, SCP_OPTIONS, SSH_INSTANCE_ARGUMENT,
                      SSH_OPTIONS, SSH_USER_OPTION)
from .registry import Noun, Verb, opt

NOUN = Noun("task", "Work with a task running in an Apache Aurora cluster")


def _words(option_lists) -> list[str]:
    return [word for words in option_lists or () for word in words]


def live_tasks(context, jobkey, instances=None) -> tuple:
    """(getTasksStatus's reply, the job's live tasks by instance id): Aurora's build_query (LIVE_STATES), of
    `instances` if given."""
    from thermos_executor.aurora_api.gen.constants import LIVE_STATES
    from thermos_executor.aurora_api.gen.ttypes import TaskQuery
    api = context.get_api(jobkey.cluster)
    query = TaskQuery(jobKeys={jobkey.to_thrift()}, statuses=set(LIVE_STATES),
                      instanceIds=set(instances) if instances is not None else None)
    reply = api.getTasksStatus(query)
    result = reply.result.scheduleStatusResult if reply.result else None
    tasks = (result.tasks if result else None) or []
    return reply, sorted(tasks, key=lambda t: t.assignedTask.instanceId)


def _exit_status(code: int) -> int:
    """A child's status as a shell reports it (a signal N is 128 + N)."""
    return 128 - code if code < 0 else code


@NOUN.verb
class RunCommand(Verb):
    name = "run"
    help = textwrap.dedent("""\
        runs a shell command on machines currently hosting instances of a single job.
        This feature supports the same command line wildcards that are used to
        populate a job's commands.
        This means anything in the {{mesos.*}} and {{thermos.*}} namespaces.""")
    options = (opt("--threads", "-t", type=int, default=1, dest="num_threads", help="Number of threads to use"),
               SSH_USER_OPTION, SSH_OPTIONS, EXECUTOR_SANDBOX_OPTION, INSTANCES_SPEC_ARGUMENT,
               opt("cmd", type=str, metavar="unix_command_line"))

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode

        from .command_runner import run_on_tasks, sandbox_args
        from .context import combine_messages
        o = context.options
        jobkey, instances = o.instance_spec
        cluster = context.cluster(jobkey.cluster)
        sandbox_args(cluster)                                 # a cluster that cannot locate sandboxes: 3, first
        if o.num_threads < 1:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, f"--threads must be at least 1, got {o.num_threads}")
        reply, tasks = live_tasks(context, jobkey, instances)
        if reply.responseCode != ResponseCode.OK:
            # Aurora logs this, then raises a ValueError that its command line reports as an unknown error.
            context.print_err("Error: could not retrieve task information for run command: "
                              f"{combine_messages(reply)}")
            raise CommandError(exits.EXIT_UNKNOWN_ERROR, f"Could not retrieve task information: "
                                                         f"{combine_messages(reply)}", logged=True)
        for output in run_on_tasks(tasks, o.cmd, cluster, ssh_user=o.ssh_user, ssh_options=_words(o.ssh_options),
                                   parallelism=o.num_threads, executor_sandbox=o.executor_sandbox):
            context.print_out(output)
        return exits.EXIT_OK


@NOUN.verb
class SshCommand(Verb):
    name = "ssh"
    help = "initiates an SSH session on the machine that a task instance is running on."
    options = (SSH_INSTANCE_ARGUMENT, SSH_USER_OPTION, SSH_OPTIONS, EXECUTOR_SANDBOX_OPTION,
               opt("--tunnels", "-L", dest="tunnels", action="append", metavar="PORT:NAME", default=[],
                   help="Add tunnel from local port PART to remote named port NAME"),
               opt("--command", "-c", dest="command", type=str, default=None, metavar="unix_command_line",
                   help="Command to execute through the ssh connection."))

    def execute(self, context):
        import subprocess

        from .command_runner import substitute, task_role
        from .context import combine_messages
        o = context.options
        jobkey, instances = o.instance_spec
        if instances is None and o.command:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, "INSTANCE must be specified when --command option "
                                                             "is given")
        cluster = context.cluster(jobkey.cluster)
        reply, tasks = live_tasks(context, jobkey, instances)
        context.log_response_and_raise(
            reply, err_msg=f"Unable to get information about instance: {combine_messages(reply)}")
        if not tasks:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, f"Job {jobkey} not found")
        first = tasks[0]
        command = substitute(o.command or "bash", first, cluster, executor_sandbox=o.executor_sandbox)
        assigned = first.assignedTask
        host = assigned.slaveHost
        ssh = ["ssh", "-t", *_words(o.ssh_options)]
        ports = assigned.assignedPorts or {}
        for tunnel in o.tunnels:
            try:
                port, name = tunnel.split(":")
                port = int(port)
            except ValueError:
                raise CommandError(exits.EXIT_INVALID_PARAMETER,
                                   f"Could not parse tunnel: {tunnel}.  Must be of form PORT:NAME") from None
            if name not in ports:
                raise CommandError(exits.EXIT_INVALID_PARAMETER, f"Task {assigned.taskId} has no port named {name}")
            ssh += ["-L", f"{port}:{host}:{ports[name]}"]
        ssh += [f"{o.ssh_user or task_role(first)}@{host}", command]
        return _exit_status(subprocess.call(ssh))


@NOUN.verb
class ScpCommand(Verb):
    name = "scp"
    help = textwrap.dedent("""\
        executes an scp to/from/between task instance(s). The task sandbox acts as
        the relative root.""")
    options = (opt("source", nargs="+", type=str, metavar="[CLUSTER/ROLE/ENV/NAME/INSTANCE:]PATH",
                   help="One or more source paths: local, or in a task's sandbox as "
                        "CLUSTER/ROLE/ENV/NAME/INSTANCE:PATH (relative to the sandbox unless absolute)"),
               opt("dest", type=str, metavar="[CLUSTER/ROLE/ENV/NAME/INSTANCE:]PATH",
                   help="The destination path: local, or in a task's sandbox as CLUSTER/ROLE/ENV/NAME/INSTANCE:PATH"),
               SCP_OPTIONS, EXECUTOR_SANDBOX_OPTION)

    JOB_NOT_FOUND_ERROR_MSG = "Job or instance {}/{} not found"
    TILDE_USAGE_ERROR_MSG = "Command does not support tilde expansion for path: {}"

    def execute(self, context):
        import subprocess
        # OpenSSH >= 9 speaks SFTP by default, which does not expand the sandbox path's wildcards for a
        # destination; -O is the original scp protocol, whose remote shell does, as scp did in Aurora's day.
        scp = ["scp", "-O", *_words(context.options.scp_options)]
        scp += [self.build_path(context, path) for path in context.options.source]
        scp.append(self.build_path(context, context.options.dest))
        return _exit_status(subprocess.call(scp))

    def build_path(self, context, target: str) -> str:
        """A local path as is; `KEY/INSTANCE:path` -> `role@host:<sandbox>/path` (absolute paths kept)."""
        import os

        from .command_runner import task_role, task_sandbox
        from .context import combine_messages
        from .jobkeys import task_instance_key
        key, sep, path = target.partition(":")
        if not sep:
            return target
        try:
            task_instance = task_instance_key(key)
        except ValueError as e:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, str(e)) from None
        jobkey, instance = task_instance
        cluster = context.cluster(jobkey.cluster)
        reply, tasks = live_tasks(context, jobkey, [instance])
        context.log_response_and_raise(
            reply, err_msg=f"Unable to get information about instance: {combine_messages(reply)}")
        if not tasks:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, self.JOB_NOT_FOUND_ERROR_MSG.format(jobkey, instance))
        first = tasks[0]
        normalized = os.path.normpath(path)
        if os.path.isabs(normalized):
            final = normalized
        elif normalized == "~" or normalized.startswith("~/"):
            raise CommandError(exits.EXIT_INVALID_PARAMETER, self.TILDE_USAGE_ERROR_MSG.format(path))
        else:
            sandbox = task_sandbox(cluster, first.assignedTask, executor_sandbox=context.options.executor_sandbox)
            final = os.path.join(sandbox, *normalized.split(os.sep))
        return f"{task_role(first)}@{first.assignedTask.slaveHost}:{final}"
