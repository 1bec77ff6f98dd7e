"""`aurora update ...`: start, pause, resume, abort, rollback, list, info, wait -- scheduler-driven rolling
updates (Aurora 0.22's client/cli/update.py: its verbs, options, texts and exit codes).

    aurora update start west/www/prod/hello hello.aurora --wait
    aurora update pause west/www/prod/hello -m "looking at instance 2"
    aurora update list west/www --status active
    aurora update info west/www/prod/hello [UPDATE_ID]

pause/resume/abort/rollback act on the job's one active update (found with getJobUpdateSummaries over the
active statuses): none is "No active update found for this job." (6). Waiting (`start --wait`, `rollback
--wait`, `wait`) prints `Current state <STATUS>` at each change and ends with the update: ROLLED_FORWARD is 0
(ROLLED_BACK for a rollback), the other way round 4, anything else (ABORTED, FAILED, ERROR) 20.

The module stays light for fast help (the status names are spelled out here; tests check them against the
IDL); Thrift and the config machinery are imported inside `execute`.
"""
from __future__ import annotations

import textwrap
import time
from typing import NamedTuple

from . import exits
from .exits import CommandError
from .options import (BIND_OPTION, BROWSER_OPTION, CONFIG_ARGUMENT, HEALTHCHECK_OPTION, INSTANCES_SPEC_ARGUMENT,
                      JOBSPEC_ARGUMENT, JSON_READ_OPTION, JSON_WRITE_OPTION, STRICT_OPTION)
from .registry import Noun, Verb, argument_type, opt

NOUN = Noun("update", "Interact with the aurora update service.")

# Metadata the client puts on the updates it starts, so that a retried startJobUpdate that finds "its" update
# already in progress knows it was accepted (Aurora's CLIENT_UPDATE_ID).
CLIENT_UPDATE_ID = "org.apache.aurora.client.update_id"

# api.thrift's JobUpdateStatus names and the ACTIVE_JOB_UPDATE_STATES among them.
STATUS_NAMES = ("ROLLING_FORWARD", "ROLLING_BACK", "ROLL_FORWARD_PAUSED", "ROLL_BACK_PAUSED", "ROLLED_FORWARD",
                "ROLLED_BACK", "ABORTED", "ERROR", "FAILED", "ROLL_FORWARD_AWAITING_PULSE",
                "ROLL_BACK_AWAITING_PULSE")
ACTIVE_NAMES = frozenset({"ROLLING_FORWARD", "ROLLING_BACK", "ROLL_FORWARD_PAUSED", "ROLL_BACK_PAUSED",
                          "ROLL_FORWARD_AWAITING_PULSE", "ROLL_BACK_AWAITING_PULSE"})
# `update list --status`: Aurora's groups, then every status by its own name.
STATUS_GROUPS = {
    "active": ACTIVE_NAMES,
    "all": frozenset(STATUS_NAMES),
    "blocked": frozenset({"ROLL_FORWARD_AWAITING_PULSE", "ROLL_BACK_AWAITING_PULSE"}),
    "failed": frozenset({"ERROR", "FAILED", "ROLLED_BACK"}),
    "inactive": frozenset(STATUS_NAMES) - ACTIVE_NAMES,
    "paused": frozenset({"ROLL_FORWARD_PAUSED", "ROLL_BACK_PAUSED"}),
    "succeeded": frozenset({"ROLLED_FORWARD"}),
    **{name: frozenset({name}) for name in STATUS_NAMES},
}

# How often a wait asks for the update's status: soon at first, then every MAX_POLL_INTERVAL (Aurora: 5 s).
MIN_POLL_INTERVAL = 0.5
MAX_POLL_INTERVAL = 5.0

MESSAGE_OPTION = opt("--message", "-m", type=str, default=None,
                     help="Message to include with the update state transition")
UPDATE_ID_ARGUMENT = opt("id", type=str, nargs="?", metavar="ID",
                         help="Update identifier provided by the scheduler when an update was started.")


def wait_option(help_text: str):
    return opt("--wait", default=False, action="store_true", help=help_text)


class UpdateFilter(NamedTuple):
    cluster: str
    role: str | None
    env: str | None
    job: str | None


def update_filter(text: str) -> UpdateFilter:
    """CLUSTER[/ROLE[/ENV[/JOB]]], missing parts None (Aurora's ListUpdates.update_filter)."""
    if not text:
        raise ValueError("Update filter must be non-empty")
    parts = text.split("/")
    if len(parts) > 4:
        raise ValueError("Update filter must be a path of the form CLUSTER/ROLE/ENV/JOB.")
    return UpdateFilter(*(parts + [None] * (4 - len(parts))))


# -- the pieces the verbs share


class UpdateController:
    """Finds a job's active update and changes it (Aurora's UpdateController)."""

    def __init__(self, api, context):
        self.api, self.context = api, context

    def get_update_key(self, jobkey):
        """The key of the job's one active update; None when there is none."""
        from thermos_executor.aurora_api.gen.constants import ACTIVE_JOB_UPDATE_STATES
        from thermos_executor.aurora_api.gen.ttypes import JobUpdateQuery
        reply = self.api.getJobUpdateSummaries(JobUpdateQuery(jobKey=jobkey.to_thrift(),
                                                              updateStatuses=set(ACTIVE_JOB_UPDATE_STATES)))
        self.context.log_response_and_raise(reply)
        summaries = reply.result.getJobUpdateSummariesResult.updateSummaries or []
        if len(summaries) > 1:
            raise CommandError(exits.EXIT_API_ERROR, "The scheduler returned multiple active updates for this job.")
        return summaries[0].key if summaries else None

    def modify(self, jobkey, call: str, message, error_msg: str, success_msg: str):
        """(exit code, update key) after calling `call`(key, message) on the job's active update."""
        key = self.get_update_key(jobkey)
        if key is None:
            self.context.print_err("No active update found for this job.")
            return exits.EXIT_INVALID_PARAMETER, None
        reply = getattr(self.api, call)(key, message)
        self.context.log_response_and_raise(reply, err_code=exits.EXIT_API_ERROR, err_msg=error_msg)
        self.context.print_out(success_msg)
        return exits.EXIT_OK, key


def update_state_to_err_code(status) -> int:
    from thermos_executor.aurora_api.gen.ttypes import JobUpdateStatus as U
    return (exits.EXIT_OK if status == U.ROLLED_FORWARD else
            exits.EXIT_COMMAND_FAILURE if status == U.ROLLED_BACK else exits.EXIT_UNKNOWN_ERROR)


def rollback_state_to_err_code(status) -> int:
    from thermos_executor.aurora_api.gen.ttypes import JobUpdateStatus as U
    return (exits.EXIT_OK if status == U.ROLLED_BACK else
            exits.EXIT_COMMAND_FAILURE if status == U.ROLLED_FORWARD else exits.EXIT_UNKNOWN_ERROR)


def wait_for_update(context, api, update_key, state_to_err_code, clock=time) -> int:
    """Print `Current state X` at every change of the update's status until it is terminal; its exit code."""
    from thermos_executor.aurora_api.gen.constants import ACTIVE_JOB_UPDATE_STATES
    from thermos_executor.aurora_api.gen.ttypes import JobUpdateQuery, JobUpdateStatus
    current, interval = None, MIN_POLL_INTERVAL
    while True:
        reply = api.getJobUpdateSummaries(JobUpdateQuery(key=update_key))
        context.log_response_and_raise(reply)
        summaries = reply.result.getJobUpdateSummariesResult.updateSummaries or []
        if not summaries:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, "Job update not found.")
        if len(summaries) > 1:
            raise CommandError(exits.EXIT_API_ERROR, f"Scheduler returned multiple updates: {summaries}")
        status = summaries[0].state.status
        if status != current:
            current = status
            context.print_out(f"Current state {JobUpdateStatus._VALUES_TO_NAMES[status]}")
            if status not in ACTIVE_JOB_UPDATE_STATES:
                return state_to_err_code(status)
        clock.sleep(interval)
        interval = min(interval * 2, MAX_POLL_INTERVAL)


def update_page(api, jobkey, update_id: str) -> str:
    """Aurora's get_update_page: the job's scheduler page + /update/<id>."""
    return f"{api.job_page(jobkey)}/update/{update_id}"


def show_update_diff(context, api, request) -> None:
    """Aurora's DiffFormatter.show_job_update_diff without a local task: which instances the update adds,
    removes, updates and leaves alone (getJobUpdateDiff), as ranges."""
    reply = api.getJobUpdateDiff(request)
    context.log_response_and_raise(reply, err_code=exits.EXIT_COMMAND_FAILURE,
                                   err_msg="Error getting diff info from scheduler")
    diff = reply.result.getJobUpdateDiffResult
    context.print_out("This job update will:")
    for header, groups in (("add instances:", diff.add), ("remove instances:", diff.remove),
                           ("update instances:", diff.update), ("not change instances:", diff.unchanged)):
        ranges = sorted((r for group in groups or () for r in group.instances or ()), key=lambda r: r.first)
        if ranges:
            spans = ", ".join(f"[{r.first}]" if r.first == r.last else f"[{r.first}-{r.last}]" for r in ranges)
            context.print_out(f"{header} {spans}")


def update_key(jobkey, update_id: str):
    from thermos_executor.aurora_api.gen.ttypes import JobUpdateKey
    return JobUpdateKey(job=jobkey.to_thrift(), id=update_id)


# -- the verbs


@NOUN.verb
class StartUpdate(Verb):
    name = "start"
    help = textwrap.dedent("""\
        Start a rolling update of a running job, using the update configuration within the config
        file as a control for update velocity and failure tolerance.

        The updater only takes action on instances in a job that have changed, meaning
        that changing a single instance will only induce a restart on the changed task instance.

        You may want to consider using the 'aurora job diff' subcommand before updating,
        to preview what changes will take effect.
        """)
    options = (BIND_OPTION, BROWSER_OPTION, HEALTHCHECK_OPTION, JSON_READ_OPTION, MESSAGE_OPTION, STRICT_OPTION,
               INSTANCES_SPEC_ARGUMENT, CONFIG_ARGUMENT, wait_option("Wait until the update completes"))

    def execute(self, context):
        import uuid

        from thermos_executor.aurora_api.gen.ttypes import JobUpdateRequest, Metadata
        from thermos_executor.config.thrift import update_settings
        from thermos_executor.errors import ConfigError

        from .context import combine_messages
        from .jobs import open_browser
        o = context.options
        jobkey, instances = o.instance_spec
        client_update_id = str(uuid.uuid4())
        config = context.get_job_config(jobkey, o.config_file)
        if config.has_cron_schedule():
            raise CommandError(exits.EXIT_COMMAND_FAILURE,
                               'Cron jobs may only be updated with "aurora cron schedule" command')
        try:
            settings = update_settings(config.job, instances)
        except ConfigError as e:
            raise CommandError(exits.EXIT_INVALID_CONFIGURATION, str(e)) from None
        if instances is not None and o.strict:
            context.get_active_instances_or_raise(jobkey, instances)
        api = context.get_api(jobkey.cluster)
        request = JobUpdateRequest(taskConfig=config.thrift.taskConfig, instanceCount=config.instances,
                                   settings=settings)
        show_update_diff(context, api, request)

        request.metadata = {Metadata(key=CLIENT_UPDATE_ID, value=client_update_id)}
        reply = api.startJobUpdate(request, o.message)
        if not self._already_in_progress(reply, client_update_id):
            context.log_response_and_raise(reply, err_code=exits.EXIT_API_ERROR,
                                           err_msg="Failed to start update due to error:")
        if not reply.result:                    # a no-op update: the scheduler says why
            context.print_out(combine_messages(reply))
            return exits.EXIT_OK
        key = reply.result.startJobUpdateResult.key
        url = update_page(api, jobkey, key.id)
        context.print_out(f"Job update has started. View your update progress at {url}")
        if o.open_browser:
            open_browser(url)
        if o.wait:
            return wait_for_update(context, api, key, update_state_to_err_code)
        return exits.EXIT_OK

    @staticmethod
    def _already_in_progress(reply, client_update_id: str) -> bool:
        """The scheduler refused the start because an update is in progress, and that update is this
        command's own: an earlier attempt of this call was accepted but its answer lost (then retried)."""
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode
        if reply.responseCode != ResponseCode.INVALID_REQUEST or not reply.result:
            return False
        started = reply.result.startJobUpdateResult
        summary = started.updateSummary if started else None
        ids = [m.value for m in (summary.metadata or ()) if m.key == CLIENT_UPDATE_ID] if summary else []
        return ids == [client_update_id]


class _Modify(Verb):
    call = ""
    error_msg = ""
    success_msg = ""
    options = (JOBSPEC_ARGUMENT, MESSAGE_OPTION)

    def modify(self, context):
        jobkey = context.options.jobspec
        api = context.get_api(jobkey.cluster)
        return UpdateController(api, context).modify(jobkey, self.call, context.options.message, self.error_msg,
                                                     self.success_msg)

    def execute(self, context):
        return self.modify(context)[0]


@NOUN.verb
class PauseUpdate(_Modify):
    name, help = "pause", "Pause an update."
    call, error_msg, success_msg = "pauseJobUpdate", "Failed to pause update due to error:", "Update has been paused."


@NOUN.verb
class ResumeUpdate(_Modify):
    name, help = "resume", "Resume an update."
    call, error_msg, success_msg = ("resumeJobUpdate", "Failed to resume update due to error:",
                                    "Update has been resumed.")


@NOUN.verb
class AbortUpdate(_Modify):
    name, help = "abort", "Abort an in-progress update."
    call, error_msg, success_msg = ("abortJobUpdate", "Failed to abort update due to error:",
                                    "Update has been aborted.")


@NOUN.verb
class RollbackUpdate(_Modify):
    name, help = "rollback", "Rollback an in-progress update."
    call, error_msg, success_msg = ("rollbackJobUpdate", "Failed to rollback update due to error:",
                                    "Update rollback has started.")
    options = _Modify.options + (wait_option("Wait until the update rolls back"),)

    def execute(self, context):
        code, key = self.modify(context)
        if code == exits.EXIT_OK and context.options.wait:
            api = context.get_api(context.options.jobspec.cluster)
            return wait_for_update(context, api, key, rollback_state_to_err_code)
        return code


@NOUN.verb
class ListUpdates(Verb):
    name = "list"
    help = "List summaries of job updates."
    options = (opt("filter", type=argument_type(update_filter, "filter"), metavar="CLUSTER[/ROLE[/ENV[/JOB]]]",
                   help="A path-like specifier for the scope of updates to list."),
               opt("--status", choices=list(STATUS_GROUPS), default=[], action="append",
                   help="Update state to filter by. This may be specified multiple times, in which case\n"
                        "updates matching any of the specified statuses will be included."),
               opt("--user", default=None, metavar="username",
                   help="The name of the user who initiated the update"),
               JSON_WRITE_OPTION)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import JobUpdateQuery, JobUpdateStatus

        from . import render
        from .jobkeys import AuroraJobKey
        o = context.options
        f = o.filter
        jobkey = None
        if f.role is not None and f.env is not None and f.job is not None:
            try:
                jobkey = AuroraJobKey.of(f.cluster, f.role, f.env, f.job)
            except ValueError as e:
                raise CommandError(exits.EXIT_INVALID_PARAMETER, str(e)) from None
        statuses = {JobUpdateStatus._NAMES_TO_VALUES[name] for group in o.status for name in STATUS_GROUPS[group]}
        api = context.get_api(f.cluster)
        reply = api.getJobUpdateSummaries(JobUpdateQuery(
            role=f.role if jobkey is None else None, jobKey=jobkey.to_thrift() if jobkey else None,
            user=o.user, updateStatuses=statuses or None))
        context.log_response_and_raise(reply)
        summaries = reply.result.getJobUpdateSummariesResult.updateSummaries or []
        # The API cannot query by environment: a CLUSTER/ROLE/ENV filter queries the role and filters here.
        if jobkey is None and f.env is not None:
            summaries = [s for s in summaries if s.key.job.environment == f.env]
        if o.write_json:
            context.print_out(render.updates_json(f.cluster, summaries))
        elif summaries:
            context.print_out(render.updates_table(f.cluster, summaries))
        return exits.EXIT_OK


@NOUN.verb
class UpdateInfo(Verb):
    name = "info"
    help = textwrap.dedent("""\
        Display detailed status information about a scheduler-driven in-progress update.

        If no update ID is provided, information will be displayed about the active
        update for the job.""")
    options = (JSON_WRITE_OPTION, JOBSPEC_ARGUMENT, UPDATE_ID_ARGUMENT)

    def execute(self, context):
        from thermos_executor.aurora_api.gen.ttypes import JobUpdateQuery

        from . import render
        o = context.options
        api = context.get_api(o.jobspec.cluster)
        key = _named_or_active(context, api, "There is no active update for this job.")
        if key is None:
            return exits.EXIT_INVALID_PARAMETER
        reply = api.getJobUpdateDetails(key, JobUpdateQuery(key=key))
        context.log_response_and_raise(reply)
        result = reply.result.getJobUpdateDetailsResult
        if result.detailsList is not None:
            if not result.detailsList:
                context.print_err(f"There is no update for key: {key}")
                return exits.EXIT_INVALID_PARAMETER
            details = result.detailsList[0]
        else:
            details = result.details
        if o.write_json:
            context.print_out(render.update_info_json(o.jobspec, details))
        else:
            for indent, line in render.update_info_pretty(o.jobspec, details):
                context.print_out(line, indent=indent)
        return exits.EXIT_OK


@NOUN.verb
class UpdateWait(Verb):
    name = "wait"
    help = "Block until an update has entered a terminal state."
    options = (JOBSPEC_ARGUMENT, UPDATE_ID_ARGUMENT)

    def execute(self, context):
        api = context.get_api(context.options.jobspec.cluster)
        key = _named_or_active(context, api, "No active update found for this job.")
        if key is None:
            return exits.EXIT_INVALID_PARAMETER
        return wait_for_update(context, api, key, update_state_to_err_code)


def _named_or_active(context, api, missing: str):
    """The update the command names (its ID), else the job's active one; None (`missing` said) if none."""
    o = context.options
    if o.id:
        return update_key(o.jobspec, o.id)
    key = UpdateController(api, context).get_update_key(o.jobspec)
    if key is None:
        context.print_err(missing)
    return key
