"""`aurora sla get-task-up-count|get-job-uptime` (Aurora 0.22's client/cli/sla.py and client/api/sla.py).

Both read the job's active tasks (getTasksStatus) and measure each instance's uptime from its task events, as
Aurora's client does: the seconds since the task's STARTING event (Aurora's JobUpTimeSlaVector); an active task
that never started (PENDING, ASSIGNED) is not counted at all.

    $ aurora sla get-task-up-count devcluster/www/prod/hello --durations=1m,1h
    1 mins	- 100.00 %
    1 hrs	- 50.00 %
    $ aurora sla get-job-uptime devcluster/www/prod/hello --percentiles=50,99
    99.0 percentile	- 212 seconds
    50.0 percentile	- 3790 seconds

Durations print as twitter.common.quantity's Amount does (`90 secs`, `10 mins`, `1 hrs`, `7 days`: the largest
unit that divides the duration), percentiles as Python floats. A job without started tasks prints 0.00 % and 0
seconds, exit 0, as Aurora's. This module is pure but for `execute` (fast help).
"""
from __future__ import annotations

import math
import re
import textwrap

from . import exits
from .options import JOBSPEC_ARGUMENT
from .registry import Noun, Verb, argument_type, opt

NOUN = Noun("sla", "Work with SLA data in Aurora cluster.")

UNITS = (("days", 86400), ("hrs", 3600), ("mins", 60), ("secs", 1))


class Duration(int):
    """Whole seconds that print as Aurora's Amount of Time: '90 secs', '1 mins', '7 days'."""

    def __str__(self) -> str:
        for name, seconds in UNITS:
            if self % seconds == 0:
                return f"{int(self) // seconds} {name}"
        raise AssertionError("every integer is a multiple of one second")


def parse_time(text: str) -> Duration:
    """twitter.common.quantity's parse_time: XdYhZmWs, each field optional but in that order."""
    rest = text.lower()
    total = 0
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        parts = rest.split(unit)
        if len(parts) > 2:
            raise ValueError(f"Invalid time span: {text}")
        if len(parts) == 2:
            if not re.fullmatch(r"\s*[-+]?\d+\s*", parts[0]):
                raise ValueError(f"Invalid time span: {text}")
            total += int(parts[0]) * seconds
            rest = parts[1]
    if rest:
        raise ValueError(f"Invalid time span: {text}")
    return Duration(total)


def parse_time_values(text: str) -> list[Duration] | None:
    """'1m,1d,3h25m' -> sorted durations; '' -> None (the default list)."""
    return sorted(parse_time(value) for value in text.split(",")) if text else None


def parse_percentiles(text: str) -> list[float] | None:
    """'10,15,99.9' -> sorted floats, each within (0, 100)."""
    def parse_percentile(value: str) -> float:
        try:
            result = float(value)
            if not 0 < result < 100:
                raise ValueError
        except ValueError:
            raise ValueError(f"Invalid percentile value:{value}. Must be between 0.0 and 100.0 exclusive.") \
                from None
        return result
    return sorted(parse_percentile(value) for value in text.split(",")) if text else None


class JobUpTimeSlaVector:
    """A job's active tasks as instance uptimes (whole seconds since each task's STARTING event, at `now`)."""

    def __init__(self, tasks, now: float):
        from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus
        self._uptimes: dict[int, int] = {}
        for task in tasks:
            for event in task.taskEvents or ():
                if event.status == ScheduleStatus.STARTING:
                    self._uptimes[task.assignedTask.instanceId] = math.floor(now - event.timestamp // 1000)
                    break

    def get_task_up_count(self, duration: float) -> float:
        """The percentage of instances up for at least `duration` seconds."""
        total = len(self._uptimes)
        above = sum(1 for uptime in self._uptimes.values() if uptime >= duration)
        return 100.0 * above / total if total else 0

    def get_job_uptime(self, percentile: float) -> int:
        """The uptime in seconds that `percentile` per cent of the instances exceed."""
        if percentile <= 0 or percentile >= 100:
            raise ValueError(f"Percentile must be within (0, 100), got {percentile!r} instead.")
        total = len(self._uptimes)
        index = total - int(math.floor(percentile / 100.0 * total)) - 1
        return sorted(self._uptimes.values())[index] if 0 <= index < total else 0


def job_uptime_vector(context, jobkey) -> JobUpTimeSlaVector:
    import time

    from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
    from thermos_executor.aurora_api.gen.ttypes import TaskQuery
    reply = context.get_api(jobkey.cluster).getTasksStatus(
        TaskQuery(jobKeys={jobkey.to_thrift()}, statuses=set(ACTIVE_STATES)))
    context.log_response_and_raise(reply, err_msg=f"Error getting task status of job {jobkey}:")
    return JobUpTimeSlaVector(reply.result.scheduleStatusResult.tasks or [], now=time.time())


@NOUN.verb
class GetTaskUpCount(Verb):
    name = "get-task-up-count"
    help = textwrap.dedent("""\
        Print the percentage of tasks that stayed up within the last "duration" s|m|h|d.
        If duration is not specified prints a histogram-like log-scale distribution
        of task uptime percentages.""")
    options = (opt("--durations", type=argument_type(parse_time_values, "durations"), default=None,
                   help="Durations to report uptime for. Format: XdYhZmWs (each field optional but must be in "
                        "that order.) Examples: --durations=1d, --durations=3m,10s,1h3m10s"),
               JOBSPEC_ARGUMENT)

    def execute(self, context):
        vector = job_uptime_vector(context, context.options.jobspec)
        durations = context.options.durations or parse_time_values("1m,10m,1h,12h,7d")
        context.print_out("\n".join(f"{d}\t- {vector.get_task_up_count(d):.2f} %" for d in durations))
        return exits.EXIT_OK


@NOUN.verb
class GetJobUptime(Verb):
    name = "get-job-uptime"
    help = textwrap.dedent("""\
        Prints the job uptime at the specified percentile. If the percentile
        is not specified prints a histogram-like distribution of uptime percentiles.""")
    options = (opt("--percentiles", type=argument_type(parse_percentiles, "percentiles"), default=None,
                   help="Percentiles to report uptime for. Format: values within (0.0, 100.0). "
                        "Example: --percentiles=50,75,95.5"),
               JOBSPEC_ARGUMENT)

    def execute(self, context):
        vector = job_uptime_vector(context, context.options.jobspec)
        percentiles = context.options.percentiles or parse_percentiles("99,95,90,85,75,60,50,30,10")
        context.print_out("\n".join(f"{p} percentile\t- {vector.get_job_uptime(p)} seconds"
                                    for p in sorted(percentiles, reverse=True)))
        return exits.EXIT_OK
