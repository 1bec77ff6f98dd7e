"""`aurora job ...`: create, kill, killall, status, list, restart, add, inspect, diff, open.

Texts and exit codes follow Aurora 0.22's client/cli/jobs.py. This module stays light for fast help: the
Thrift and config machinery is imported inside each `execute`.
"""
from __future__ import annotations

import textwrap

from . import exits
from .exits import CommandError
from .options import (BATCH_OPTION, BIND_OPTION, BROWSER_OPTION, CONFIG_ARGUMENT, CONFIG_OPTION, FORCE_OPTION,
                      HEALTHCHECK_OPTION, INSTANCES_SPEC_ARGUMENT, JOBSPEC_ARGUMENT, JSON_READ_OPTION,
                      JSON_WRITE_OPTION, MAX_TOTAL_FAILURES_OPTION, NO_BATCHING_OPTION, STRICT_OPTION,
                      TASK_INSTANCE_ARGUMENT, WAIT_UNTIL_OPTION, WATCH_OPTION, WILDCARD_JOBKEY_OPTION)
from .registry import Noun, Verb, opt

NOUN = Noun("job", "Work with an aurora job")


def wait_until(context, state: str, jobkey, api, instances=None) -> None:
    """Block until the instances are RUNNING (or FINISHED) / terminal, as --wait-until asks."""
    from .monitor import JobMonitor, running_or_finished, terminal
    predicate = {"RUNNING": running_or_finished, "FINISHED": terminal}.get(state)   # PENDING: nothing to wait for
    if predicate:
        JobMonitor(api, jobkey, progress=context.print_err).wait_until(predicate, instances=instances, what=state)


def open_browser(url: str) -> bool:
    """Open `url` in a browser only when there is one to show it (a display or $BROWSER)."""
    import os
    if not (os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser
    try:
        return webbrowser.open_new_tab(url)
    except webbrowser.Error:
        return False


@NOUN.verb
class CreateJob(Verb):
    name = "create"
    help = "Create a service or ad hoc job using aurora"
    options = (BIND_OPTION, JSON_READ_OPTION, WAIT_UNTIL_OPTION, BROWSER_OPTION, JOBSPEC_ARGUMENT, CONFIG_ARGUMENT)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode, TaskQuery
        o = context.options
        config = context.get_job_config(o.jobspec, o.config_file)
        if config.has_cron_schedule():
            raise CommandError(exits.EXIT_COMMAND_FAILURE,
                               'Cron jobs may only be scheduled with "aurora cron schedule" command')
        api = context.get_api(o.jobspec.cluster)
        reply = api.createJob(config.thrift)
        context.log_response_and_raise(reply, err_code=exits.EXIT_COMMAND_FAILURE,
                                       err_msg="Job creation failed due to error:")
        if o.open_browser:
            open_browser(api.job_page(o.jobspec))
        wait_until(context, o.wait_until, o.jobspec, api)
        status = api.getTasksWithoutConfigs(TaskQuery(jobKeys={o.jobspec.to_thrift()}))
        if status.responseCode != ResponseCode.OK or not status.result.scheduleStatusResult.tasks:
            context.print_err(f"Error occurred while creating job {o.jobspec}")
            return exits.EXIT_COMMAND_FAILURE
        context.print_out(f"Job create succeeded: job url={api.job_page(o.jobspec)}")
        return exits.EXIT_OK


@NOUN.verb
class Diff(Verb):
    name = "diff"
    help = textwrap.dedent("""\
        Compare a job configuration against a running job.
        By default the diff will be displayed using 'diff', though you may choose an
        alternate diff command by setting the DIFF_VIEWER environment variable.""")
    options = (BIND_OPTION, JSON_READ_OPTION,
               opt("--from", dest="rename_from", default=None, metavar="cluster/role/env/name",
                   help="If specified, the job key to diff against."),
               INSTANCES_SPEC_ARGUMENT, CONFIG_ARGUMENT)

    def execute(self, context):
        from .diff import job_diff
        return job_diff(context)


@NOUN.verb
class Inspect(Verb):
    name = "inspect"
    help = textwrap.dedent("""\
        Verify that a job can be parsed from a configuration file, and display
        the parsed configuration.""")
    options = (BIND_OPTION, JSON_READ_OPTION, JSON_WRITE_OPTION,
               opt("--raw", dest="raw", default=False, action="store_true", help="Show the raw configuration."),
               JOBSPEC_ARGUMENT, CONFIG_ARGUMENT)

    def execute(self, context):
        o = context.options
        config = context.get_job_config(o.jobspec, o.config_file)
        if o.raw:
            context.print_out(str(config.thrift))
        elif o.write_json:
            context.print_out(config.job.json_dumps())
        else:
            from .render import inspect_pretty
            for indent, line in inspect_pretty(config):
                context.print_out(line, indent=indent)
        return exits.EXIT_OK


KILL_OPTIONS = (BROWSER_OPTION, BIND_OPTION, JSON_READ_OPTION, CONFIG_OPTION, BATCH_OPTION,
                MAX_TOTAL_FAILURES_OPTION, NO_BATCHING_OPTION,
                opt("--message", "-m", type=str, default=None,
                    help="Message to include with the kill state transition"))


class _Kill(Verb):
    def wait_killed(self, context, api, jobkey, instances=None) -> int:
        from .monitor import KILL_TIMEOUT, JobMonitor, terminal
        monitor = JobMonitor(api, jobkey, progress=context.print_err)
        if not monitor.wait_until(terminal, instances=instances, timeout=KILL_TIMEOUT):
            context.print_err(f"Instances {instances} were not killed in time")
            return exits.EXIT_TIMEOUT
        return exits.EXIT_OK

    def kill(self, context, jobkey, instances) -> int:
        o = context.options
        api = context.get_api(jobkey.cluster)
        if o.config:
            context.get_job_config(jobkey, o.config)      # a config that does not load stops the kill
        if o.no_batching:
            reply = api.killTasks(jobkey.to_thrift(), set(instances) if instances is not None else None, o.message)
            context.log_response_and_raise(reply)
            return self.wait_killed(context, api, jobkey, instances)
        tasks = context.get_active_tasks(jobkey)
        if not tasks:
            context.print_err(f"No tasks to kill found for job {jobkey}")
            return exits.EXIT_INVALID_PARAMETER
        ids = {t.assignedTask.instanceId for t in tasks}
        todo = sorted(ids & set(instances) if instances is not None else ids)
        errors = 0
        while todo:
            batch, todo = todo[:max(o.batch_size, 1)], todo[max(o.batch_size, 1):]
            reply = api.killTasks(jobkey.to_thrift(), set(batch), o.message)
            context.log_response_and_raise(reply, err_msg=f"Kill of instances {batch} failed with error:")
            if self.wait_killed(context, api, jobkey, batch) != exits.EXIT_OK:
                errors += 1
                if errors > o.max_total_failures:
                    raise CommandError(exits.EXIT_COMMAND_FAILURE,
                                       "Exceeded maximum number of errors while killing instances")
            else:
                context.print_out(f"Successfully killed instances {batch}")
        if errors:
            raise CommandError(exits.EXIT_COMMAND_FAILURE, "Errors occurred while killing instances")
        return exits.EXIT_OK


@NOUN.verb
class Kill(_Kill):
    name = "kill"
    help = "Kill instances in a scheduled job"
    options = KILL_OPTIONS + (INSTANCES_SPEC_ARGUMENT, STRICT_OPTION)

    def execute(self, context):
        o = context.options
        jobkey, instances = o.instance_spec
        if instances is None:
            raise CommandError(exits.EXIT_INVALID_PARAMETER,
                               "The instances list cannot be omitted in a kill command!; "
                               "use killall to kill all instances")
        if o.strict:
            context.get_active_instances_or_raise(jobkey, instances)
        code = self.kill(context, jobkey, instances)
        if code != exits.EXIT_OK:
            return code
        if o.open_browser:
            open_browser(context.get_api(jobkey.cluster).job_page(jobkey))
        context.print_out("Job kill succeeded")
        return exits.EXIT_OK


@NOUN.verb
class KillAll(_Kill):
    name = "killall"
    help = "Kill all instances of a scheduled job"
    options = KILL_OPTIONS + (JOBSPEC_ARGUMENT,)

    def execute(self, context):
        jobkey = context.options.jobspec
        code = self.kill(context, jobkey, None)
        if code != exits.EXIT_OK:
            return code
        if context.options.open_browser:
            open_browser(context.get_api(jobkey.cluster).job_page(jobkey))
        context.print_out("Job killall succeeded")
        return exits.EXIT_OK


@NOUN.verb
class ListJobs(Verb):
    name = "list"
    help = "List jobs that match a jobkey or jobkey pattern."
    options = (WILDCARD_JOBKEY_OPTION,)

    def execute(self, context):
        for key in context.get_jobs_matching_key(context.options.jobspec):
            context.print_out(key.to_path())
        return exits.EXIT_OK


@NOUN.verb
class Open(Verb):
    name = "open"
    help = "Open a job's scheduler page in the web browser."
    options = (opt("key", type=str, metavar="cluster[/role[/env[/job]]]",
                   help="A key for the cluster, role, env, or job whose scheduler page should be opened."),)

    def execute(self, context):
        from .context import synthesize_url
        parts = (context.options.key.split("/") + [None] * 4)[:4]
        cluster, role, env, name = parts
        url = synthesize_url(context.get_api(cluster).url, role, env, name)
        context.print_out(url)
        open_browser(url)
        return exits.EXIT_OK


@NOUN.verb
class Restart(Verb):
    name = "restart"
    help = textwrap.dedent("""\
        Perform a rolling restart of instances within a job.
        Restarts are fully controlled client-side, so aborting halts the restart.""")
    options = (BATCH_OPTION, BIND_OPTION, BROWSER_OPTION, CONFIG_OPTION, FORCE_OPTION, HEALTHCHECK_OPTION,
               INSTANCES_SPEC_ARGUMENT, JSON_READ_OPTION, MAX_TOTAL_FAILURES_OPTION, STRICT_OPTION, WATCH_OPTION,
               opt("--max-per-instance-failures", type=int, default=0,
                   help="Maximum number of restarts per instance during restart. Increments total failure "
                        "count when this limit is exceeded."),
               opt("--restart-threshold", type=int, default=60,
                   help="Maximum number of seconds before an instance must move into the RUNNING state "
                        "before considered a failure."))

    def execute(self, context):
        from .restarter import Restarter, RestartError, RestartSettings
        o = context.options
        if o.max_total_failures < 0:
            context.print_err(f"max_total_failures option must be >0, but you specified {o.max_total_failures}")
            return exits.EXIT_INVALID_PARAMETER
        if o.batch_size < 1:
            context.print_err(f"batch_size option must be >0, but you specified {o.batch_size}")
            return exits.EXIT_INVALID_PARAMETER
        jobkey, instances = o.instance_spec
        if instances is not None and o.strict:
            context.get_active_instances_or_raise(jobkey, instances)
        api = context.get_api(jobkey.cluster)
        context.get_job_config_optional(jobkey, o.config)
        settings = RestartSettings(batch_size=o.batch_size, watch_secs=o.watch_secs,
                                   max_per_instance_failures=o.max_per_instance_failures,
                                   max_total_failures=o.max_total_failures,
                                   health_check_interval_seconds=o.healthcheck_interval_seconds,
                                   restart_threshold=o.restart_threshold)
        try:
            Restarter(api, jobkey, settings, log=context.print_err).restart(instances)
        except RestartError as e:
            context.print_err(f"Error restarting job {jobkey}:")
            context.print_err(f"\t{e}")
            raise CommandError(exits.EXIT_API_ERROR, f"Error restarting job {jobkey}:", logged=True) from None
        context.print_out(f"Job {jobkey} restarted successfully")
        if o.open_browser:
            open_browser(api.job_page(jobkey))
        return exits.EXIT_OK


@NOUN.verb
class Status(Verb):
    name = "status"
    help = textwrap.dedent("""\
        Get status information about a scheduled job or group of jobs.
        The jobspec parameter can omit parts of the jobkey, or use shell-style globs.""")
    options = (JSON_WRITE_OPTION, WILDCARD_JOBKEY_OPTION)

    def execute(self, context):
        import json

        from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
        from thermos_executor.aurora_api.gen.ttypes import TaskQuery

        from . import render
        o = context.options
        results = []
        for key in context.get_jobs_matching_key(o.jobspec):
            api = context.get_api(key.cluster)
            reply = api.getTasksWithoutConfigs(TaskQuery(jobKeys={key.to_thrift()}))
            context.log_response_and_raise(reply, err_code=exits.EXIT_INVALID_PARAMETER)
            tasks = reply.result.scheduleStatusResult.tasks or []
            if not tasks:
                continue
            active = sorted((t for t in tasks if t.status in ACTIVE_STATES), key=lambda t: t.assignedTask.instanceId)
            inactive = sorted((t for t in tasks if t.status not in ACTIVE_STATES),
                              key=lambda t: t.assignedTask.instanceId)
            results.append(render.tasks_json(key, active, inactive) if o.write_json
                           else render.tasks_pretty(active, inactive))
        if not results:
            if o.write_json:
                context.print_out(json.dumps({"jobspec": str(o.jobspec), "error": "No matching jobs found"},
                                             separators=(",", ":")))
                return exits.EXIT_OK
            context.print_err(f"Found no jobs matching {o.jobspec}")
            return exits.EXIT_INVALID_PARAMETER
        context.print_out(json.dumps(results, indent=2, separators=(",", ": ")) if o.write_json
                          else "".join(results))
        return exits.EXIT_OK


@NOUN.verb
class Add(Verb):
    name = "add"
    help = textwrap.dedent("""\
        Add instances to a scheduled job. The task config to replicate is specified by the
        /INSTANCE value of the task_instance argument.""")
    options = (BROWSER_OPTION, BIND_OPTION, WAIT_UNTIL_OPTION, CONFIG_OPTION, JSON_READ_OPTION,
               TASK_INSTANCE_ARGUMENT, opt("instance_count", type=int, help="Number of instances to add."))

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import InstanceKey
        o = context.options
        jobkey, instance = o.task_instance
        if o.instance_count < 1:
            raise CommandError(exits.EXIT_INVALID_PARAMETER,
                               f"Instance count must be positive, but got {o.instance_count}")
        active = context.get_active_instances_or_raise(jobkey, [instance])
        start = max(active) + 1
        api = context.get_api(jobkey.cluster)
        reply = api.addInstances(InstanceKey(jobKey=jobkey.to_thrift(), instanceId=instance), o.instance_count)
        context.log_response_and_raise(reply)
        wait_until(context, o.wait_until, jobkey, api, range(start, start + o.instance_count))
        if o.open_browser:
            open_browser(api.job_page(jobkey))
        return exits.EXIT_OK
