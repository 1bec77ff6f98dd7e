"""`aurora cron schedule|deschedule|start|show` (Aurora 0.22's client/cli/cron.py).

Texts, options and exit codes are Aurora's: `schedule` refuses a config without a cron schedule (4) and
prints the job page; an API error is the server's message under "Error ... cron job KEY:" (10); `show`
answers from getJobs, `No cron entry found for job KEY` (6) when the role has no such cron job. This module
stays light for fast help: Thrift and the config machinery are imported inside each `execute`.
"""
from __future__ import annotations

import textwrap

from . import exits
from .exits import CommandError
from .options import BIND_OPTION, BROWSER_OPTION, CONFIG_ARGUMENT, CONFIG_OPTION, JOBSPEC_ARGUMENT, JSON_READ_OPTION
from .registry import Noun, Verb

NOUN = Noun("cron", "Work with entries in the aurora cron scheduler")


@NOUN.verb
class Schedule(Verb):
    name = "schedule"
    help = textwrap.dedent("""\
        Create a cron schedule for a job or replace the existing cron template with a new one.
        Only future runs will be affected, any existing active tasks are left intact.""")
    options = (BIND_OPTION, JSON_READ_OPTION, JOBSPEC_ARGUMENT, CONFIG_ARGUMENT)

    def execute(self, context):
        o = context.options
        api = context.get_api(o.jobspec.cluster)
        config = context.get_job_config(o.jobspec, o.config_file)
        if not config.has_cron_schedule():
            raise CommandError(exits.EXIT_COMMAND_FAILURE,
                               'Non-cron jobs may only be created with "aurora job create" command')
        reply = api.scheduleCronJob(config.thrift)
        context.log_response_and_raise(reply, err_msg=f"Error scheduling cron job {o.jobspec}:")
        context.print_out(f"Cron job scheduled, status can be viewed at {api.job_page(o.jobspec)}")
        return exits.EXIT_OK


@NOUN.verb
class Deschedule(Verb):
    name = "deschedule"
    help = textwrap.dedent("""\
        Remove the cron schedule for a job. Any active tasks are not affected.
        Use "aurora job kill" command to terminate active tasks.""")
    options = (JOBSPEC_ARGUMENT,)

    def execute(self, context):
        jobkey = context.options.jobspec
        reply = context.get_api(jobkey.cluster).descheduleCronJob(jobkey.to_thrift())
        context.log_response_and_raise(reply, err_msg=f"Error descheduling cron job {jobkey}:")
        context.print_out("Cron descheduling succeeded.")
        return exits.EXIT_OK


@NOUN.verb
class Start(Verb):
    name = "start"
    help = "Start a cron job immediately, outside of its normal cron schedule."
    options = (BIND_OPTION, BROWSER_OPTION, CONFIG_OPTION, JSON_READ_OPTION, JOBSPEC_ARGUMENT)

    def execute(self, context):
        from .jobs import open_browser
        o = context.options
        api = context.get_api(o.jobspec.cluster)
        context.get_job_config_optional(o.jobspec, o.config)   # Aurora's hooks config: must load, else unused
        reply = api.startCronJob(o.jobspec.to_thrift())
        context.log_response_and_raise(reply, err_msg=f"Error starting cron job {o.jobspec}:")
        if o.open_browser:
            open_browser(api.job_page(o.jobspec))
        return exits.EXIT_OK


@NOUN.verb
class Show(Verb):
    name = "show"
    help = "Get the scheduling status of a cron job"
    options = (JOBSPEC_ARGUMENT,)

    def execute(self, context):
        jobkey = context.options.jobspec
        reply = context.get_api(jobkey.cluster).getJobs(jobkey.role)
        # Aurora's text has a stray "%self" ("Error getting cron status for KEYelf from server"); not copied.
        context.log_response_and_raise(reply, err_code=exits.EXIT_INVALID_PARAMETER,
                                       err_msg=f"Error getting cron status for {jobkey} from server")
        for job in reply.result.getJobsResult.configs or []:
            if job.key.environment == jobkey.env and job.key.name == jobkey.name:
                if not job.cronSchedule:
                    break
                context.print_out(f"{jobkey}\t {job.cronSchedule}")
                return exits.EXIT_OK
        context.print_err(f"No cron entry found for job {jobkey}")
        return exits.EXIT_INVALID_PARAMETER
