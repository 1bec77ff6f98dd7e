"""`aurora-admin` scheduler commands (Aurora 0.22's admin/admin.py): quota, task query and pruning, storage
backups, recovery, snapshots, reconciliation, where the leader is, and the cluster's clusters.json entry.

Light at import (help stays fast): Thrift types are imported inside `execute`. Texts and exit codes are
Aurora's: bad input or a refusal prints one line and exits 1 (see admin_cli).
"""
from __future__ import annotations

from . import exits
from .admin_util import AdminError
from .registry import Noun, Verb, opt

ADMIN = Noun("aurora-admin", "Aurora's operator commands")

CLUSTER = opt("cluster", metavar="CLUSTER", help="Cluster name, as in clusters.json")


def _die_on_bad_input(parse, *args):
    from .admin_cli import die
    try:
        return parse(*args)
    except AdminError as e:
        raise die(str(e)) from None


def _resource_aggregate(cpu: float, ram_mb: int, disk_mb: int):
    from thermos_executor.aurora_api.gen.ttypes import Resource, ResourceAggregate
    return ResourceAggregate(resources={Resource(numCpus=cpu), Resource(ramMb=ram_mb), Resource(diskMb=disk_mb)})


def _status_names() -> list[str]:
    from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus
    return list(ScheduleStatus._NAMES_TO_VALUES)


@ADMIN.verb
class SetQuota(Verb):
    name = "set_quota"
    help = ("Alters the amount of production quota allocated to a user.\n\n"
            "usage: set_quota cluster role cpu ram[MGT] disk[MGT]  (e.g. 1.0 10g 50g; no unit means MB)")
    options = (CLUSTER, opt("role"), opt("cpu"), opt("ram"), opt("disk"))

    def execute(self, context):
        from .admin_util import parse_cpu, parse_data_mb
        o = context.options
        cpu = _die_on_bad_input(parse_cpu, o.cpu)
        ram = int(_die_on_bad_input(parse_data_mb, o.ram))
        disk = int(_die_on_bad_input(parse_data_mb, o.disk))
        context.check_and_log_response(context.get_api(o.cluster).setQuota(o.role, _resource_aggregate(cpu, ram,
                                                                                                        disk)))


@ADMIN.verb
class IncreaseQuota(Verb):
    name = "increase_quota"
    help = ("Increases the amount of production quota allocated to a user.\n\n"
            "usage: increase_quota cluster role cpu ram[unit] disk[unit]")
    options = (CLUSTER, opt("role"), opt("cpu"), opt("ram"), opt("disk"))

    def execute(self, context):
        from .admin_util import parse_cpu, parse_data_mb
        from .render import resource_details
        o = context.options
        cpu = _die_on_bad_input(parse_cpu, o.cpu)
        ram = _die_on_bad_input(parse_data_mb, o.ram)
        disk = _die_on_bad_input(parse_data_mb, o.disk)
        api = context.get_api(o.cluster)
        reply = api.getQuota(o.role)
        context.check_and_log_response(reply)
        details = resource_details(reply.result.getQuotaResult.quota.resources)
        current = {name: value for name, value, _ in details}
        context.print_err(f"Current quota for {o.role}:\n\t"
                          + "\n\t".join(f"{name}\t{value}{unit}" for name, value, unit in details))
        new_cpu = float(cpu + current.get("CPU", 0.0))
        new_ram = int(ram + current.get("RAM", 0))
        new_disk = int(disk + current.get("Disk", 0))
        context.print_err(f"Attempting to update quota for {o.role} to\n\tCPU\t{new_cpu}\n\tRAM\t{new_ram} MB\n"
                          f"\tDisk\t{new_disk} MB")
        context.check_and_log_response(api.setQuota(o.role, _resource_aggregate(new_cpu, new_ram, new_disk)))


@ADMIN.verb
class Query(Verb):
    name = "query"
    help = ("Query Mesos about jobs and tasks.\n\n"
            "usage: query [--force] [--listformat=FORMAT] [--shards=N[,N,...]] [--states=State[,State,...]]\n"
            "             cluster [role [job]]")
    options = (opt("--force", action="store_true", default=False, help="Force expensive queries to run."),
               opt("--shards", default=None, help="Only match given shards of a job."),
               opt("--states", default="RUNNING", help="Only match tasks with given state(s)."),
               opt("-l", "--listformat", default="%role%/%name%/%instanceId% %status%",
                   help="Format string of job/task items to print out."),
               CLUSTER, opt("role", nargs="?", default=None), opt("job", nargs="?", default=None))

    def execute(self, context):
        from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode, ScheduleStatus, TaskQuery

        from .admin_cli import combine_messages, die
        from .admin_util import flatten_struct, format_task, parse_shards, parse_states
        o = context.options
        names = _die_on_bad_input(parse_states, o.states, _status_names())
        states = {ScheduleStatus._NAMES_TO_VALUES[n] for n in names}
        instances = _die_on_bad_input(parse_shards, o.shards)
        if not o.role and not o.force:
            raise die("--force is required for expensive queries (no role specified)")
        if not o.job and not o.force:
            raise die("--force is required for expensive queries (no job specified)")
        if not states <= set(ACTIVE_STATES) and not o.force:
            raise die("--force is required for expensive queries (states outside ACTIVE states")
        reply = context.get_api(o.cluster).getTasksStatus(
            TaskQuery(role=o.role, jobName=o.job, instanceIds=instances or None, statuses=states))
        if reply.responseCode != ResponseCode.OK:
            raise die(f"Failed to query scheduler: {combine_messages(reply)}")
        tasks = reply.result.scheduleStatusResult.tasks or []
        for task in sorted(tasks, key=lambda t: (t.assignedTask.task.job.role, t.assignedTask.task.job.name,
                                                 t.assignedTask.instanceId, t.assignedTask.taskId)):
            fields = flatten_struct(task)
            fields["status"] = ScheduleStatus._VALUES_TO_NAMES.get(fields.get("status"), fields.get("status"))
            context.print_out(_die_on_bad_input(format_task, o.listformat, fields))


@ADMIN.verb
class PruneTasks(Verb):
    name = "prune_tasks"
    help = ("Deletes terminal tasks from the scheduler's storage.\n\n"
            "usage: prune_tasks [--states=State[,State,...]] [--role=ROLE] [--env=ENV] [--limit=N] cluster")
    options = (opt("--states", default=None, help="Only match tasks with given state(s)."),
               opt("--role", default=None, help="Only match tasks with given role."),
               opt("--env", dest="environment", default=None, help="Only match tasks with given environment."),
               opt("--limit", type=int, default=None, help="Limit the number of total tasks to prune."),
               CLUSTER)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode, ScheduleStatus, TaskQuery

        from .admin_cli import combine_messages, die
        from .admin_util import parse_states
        o = context.options
        query = TaskQuery()
        if o.states:
            query.statuses = {ScheduleStatus._NAMES_TO_VALUES[n]
                              for n in _die_on_bad_input(parse_states, o.states, _status_names())}
        if o.role:
            query.role = o.role
        if o.environment:
            query.environment = o.environment
        if o.limit:
            query.limit = o.limit
        reply = context.get_api(o.cluster).pruneTasks(query)
        if reply.responseCode != ResponseCode.OK:
            raise die(f"Failed to prune tasks: {combine_messages(reply)}")
        context.print_out("Tasks pruned.")


def _simple(name: str, help: str, method: str):
    """A command that makes one argument-less call and reports the answer."""
    class Simple(Verb):
        options = (CLUSTER,)

        def execute(self, context):
            context.check_and_log_response(getattr(context.get_api(context.options.cluster), method)())
    Simple.name, Simple.help = name, help
    Simple.__name__ = Simple.__qualname__ = "".join(p.title() for p in name.split("_"))
    return ADMIN.verb(Simple)


_simple("scheduler_backup_now", "Immediately initiates a full storage backup.", "performBackup")
_simple("scheduler_commit_recovery", "Commits a staged recovery.", "commitRecovery")
_simple("scheduler_unload_recovery", "Unloads a staged recovery.", "unloadRecovery")
_simple("scheduler_snapshot", "Request that the scheduler perform a storage snapshot and block until complete.",
        "snapshot")


@ADMIN.verb
class ListBackups(Verb):
    name = "scheduler_list_backups"
    help = "Lists backups available for recovery."
    options = (CLUSTER,)

    def execute(self, context):
        reply = context.get_api(context.options.cluster).listBackups()
        context.check_and_log_response(reply)
        backups = sorted(reply.result.listBackupsResult.backups or [])
        context.print_out(f"{len(backups)} available backups:")
        for backup in backups:
            context.print_out(backup)


@ADMIN.verb
class StageRecovery(Verb):
    name = "scheduler_stage_recovery"
    help = "Stages a backup for recovery."
    options = (CLUSTER, opt("backup_id"))

    def execute(self, context):
        o = context.options
        context.check_and_log_response(context.get_api(o.cluster).stageRecovery(o.backup_id))


@ADMIN.verb
class PrintRecoveryTasks(Verb):
    name = "scheduler_print_recovery_tasks"
    help = "Prints all active tasks in a staged recovery."
    options = (CLUSTER,)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
        from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus, TaskQuery
        reply = context.get_api(context.options.cluster).queryRecovery(TaskQuery(statuses=set(ACTIVE_STATES)))
        context.check_and_log_response(reply)
        context.print_out("Role\tJob\tShard\tStatus\tTask ID")
        tasks = reply.result.queryRecoveryResult.tasks or []
        for task in sorted(tasks, key=lambda t: (t.assignedTask.task.job.role, t.assignedTask.task.job.name,
                                                 t.assignedTask.instanceId)):
            assigned = task.assignedTask
            context.print_out("\t".join((assigned.task.job.role, assigned.task.job.name, str(assigned.instanceId),
                                         ScheduleStatus._VALUES_TO_NAMES[task.status], assigned.taskId)))


@ADMIN.verb
class DeleteRecoveryTasks(Verb):
    name = "scheduler_delete_recovery_tasks"
    help = "Deletes a comma-separated list of task IDs from a staged recovery."
    options = (CLUSTER, opt("task_ids"))

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import TaskQuery
        o = context.options
        ids = {i for i in o.task_ids.split(",") if i}
        context.check_and_log_response(context.get_api(o.cluster).deleteRecoveryTasks(TaskQuery(taskIds=ids)))


@ADMIN.verb
class ReconcileTasks(Verb):
    name = "reconcile_tasks"
    help = ("Reconcile the Mesos master and the scheduler.\n\nDefault runs explicit reconciliation with a batch "
            "size set in\nreconciliation_explicit_batch_size scheduler configuration option.")
    options = (opt("-t", "--type", default="explicit", choices=("implicit", "explicit"),
                   help="Type of reconciliation to run - implicit or explicit"),
               opt("-b", "--batch_size", "--batch-size", dest="batch_size", type=int, default=None,
                   help="Batch size for explicit reconciliation"),
               CLUSTER)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import ExplicitReconciliationSettings
        o = context.options
        api = context.get_api(o.cluster)
        if o.type == "implicit":
            reply = api.triggerImplicitTaskReconciliation()
        else:
            reply = api.triggerExplicitTaskReconciliation(ExplicitReconciliationSettings(batchSize=o.batch_size))
        context.check_and_log_response(reply)


@ADMIN.verb
class GetScheduler(Verb):
    name = "get_scheduler"
    help = "Dumps the leading scheduler endpoint URL."
    options = (CLUSTER,)

    def execute(self, context):
        api = context.get_api(context.options.cluster)
        context.print_out(f"Found leading scheduler at: {api._guard(lambda: api.proxy.raw_url)}")


@ADMIN.verb
class GetClusterConfig(Verb):
    name = "get_cluster_config"
    help = ("Dumps the configuration for CLUSTER.\n\nBy default we emit a json blob to stdout equivalent to an\n"
            "entry in clusters.json. With --sh a shell script is written to stdout that can be used with eval\n"
            "in a script to load the cluster config. With --export the shell script is prefixed with 'export '.")
    options = (opt("--sh", action="store_true", default=False, help="Emit a shell script instead of JSON."),
               opt("--export", action="store_true", default=False,
                   help="Emit a shell script prefixed with 'export'."),
               CLUSTER)

    def execute(self, context):
        import json

        from .admin_util import shellify
        o = context.options
        cluster = context.cluster(o.cluster)
        document = {k: getattr(cluster, k) for k in cluster.__dataclass_fields__ if k != "extra"
                    and getattr(cluster, k) is not None}
        document.update(cluster.extra)
        if o.sh:
            for line in shellify(document, o.export, prefix="AURORA_CLUSTER_"):
                context.print_out(line)
        else:
            context.print_out(json.dumps(document))
        return exits.EXIT_OK
