"""Cron schedules and the rules of a cron run: when one is due, and what a run does to a job still active.

Pure: every function is given the instant it reasons about (epoch ms); nothing here reads a clock or waits.

    schedule = parse("*/15 * * * *", zone("GMT"))     # CronError with Aurora's message for a bad one
    schedule.next_after(now_ms)                       # the first run strictly after now (None: never)
    due_run(schedule, last_ms, now_ms)                # the run to fire now, if one came due since last_ms

Schedules are the standard five fields (minute hour day-of-month month day-of-week), matched by Debian's
croniter against the wall clock of one time zone (-cron_timezone). Daylight saving is handled as Aurora's
Quartz CronTrigger did (a lenient java.util.Calendar): a wall time that does not exist (the hour skipped in
spring) fires at the same distance after the jump (02:30 -> 03:30), duplicates collapsing into one run; a
wall time that exists twice (the hour repeated in autumn) fires once, at its first occurrence.

A cron job's runs are counted from an anchor kept in storage with the job (the instant of the latest run
handled, or when the schedule was saved): `due_run` is the latest run in (anchor, now], so runs missed while
no scheduler led collapse into one. What a run does when the job still has active tasks is `on_collision`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError

# CronCollisionPolicy's values (aurora.thrift); kept here as numbers so this module imports no Thrift.
KILL_EXISTING, CANCEL_NEW, RUN_OVERLAP = 0, 1, 2
RUN_OVERLAP_REMOVED = "The RUN_OVERLAP collision policy has been removed (AURORA-38)."
KILL_AUDIT_MESSAGE = "Killed by cronScheduler"

_MAX_STEPS = 20_000          # candidate wall times examined for one answer (a safety net, never reached in use)
_RECENT_MS = 86_400_000      # due_run looks at the last day first, so a long gap costs a sparse walk only


class CronError(ValueError):
    """A schedule or time zone that cannot be used; the message is Aurora's one line."""


def zone(name: str) -> ZoneInfo:
    """The time zone of -cron_timezone (IANA names: GMT, UTC, Europe/Berlin ...)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone: {name}") from None


def parse(expression: str | None, tz: ZoneInfo) -> Schedule:
    """A schedule of five fields; CronError("Invalid cron schedule: <expression>") otherwise (Aurora's
    SanitizedCronJob). Seconds fields, @-aliases and other croniter extensions are refused."""
    fields = (expression or "").split()
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise CronError(f"Invalid cron schedule: {expression}")
    return Schedule(" ".join(fields), tz)


@dataclass(frozen=True)
class Schedule:
    expression: str
    tz: ZoneInfo

    def next_after(self, ms: int) -> int | None:
        """The first run strictly after `ms`; None if the expression never matches (e.g. "0 0 31 2 *")."""
        wall = self._wall(ms)
        it = croniter(self.expression, wall)
        for _ in range(_MAX_STEPS):
            try:
                candidate = self._instant(it.get_next(dt.datetime))
            except CroniterBadDateError:
                return None
            if candidate > ms:
                return candidate
        raise CronError(f"no run found after {ms} for {self.expression}")

    def runs(self, after_ms: int, until_ms: int) -> list[int]:
        """Every run in (after_ms, until_ms], in order."""
        runs, t = [], after_ms
        while (t := self.next_after(t)) is not None and t <= until_ms:
            runs.append(t)
        return runs

    def _wall(self, ms: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ms / 1000, self.tz).replace(tzinfo=None, fold=0)

    def _instant(self, wall: dt.datetime) -> int:
        # fold=0: the first occurrence of a repeated wall time; a skipped one is read with the offset from
        # before the jump, which lands it as far after the jump (Java's lenient Calendar does the same).
        return int(wall.replace(tzinfo=self.tz, fold=0).timestamp() * 1000)


def due_run(schedule: Schedule, last_ms: int, now_ms: int) -> int | None:
    """The latest run in (last_ms, now_ms]: the one run to fire now (earlier missed runs collapse into it);
    None if no run came due since `last_ms`."""
    first = schedule.next_after(last_ms)
    if first is None or first > now_ms:
        return None
    recent = schedule.runs(max(last_ms, now_ms - _RECENT_MS), now_ms)
    if recent:
        return recent[-1]
    return schedule.runs(last_ms, now_ms)[-1]    # a sparse schedule: few runs to walk


class Collision(StrEnum):
    """What a run does (AuroraCronJob.doExecute)."""
    LAUNCH = "LAUNCH"                # no active task: insert the job's tasks now
    KILL_THEN_LAUNCH = "KILL_THEN_LAUNCH"   # KILL_EXISTING: kill the active tasks, launch once they are gone
    SKIP = "SKIP"                    # CANCEL_NEW (and a stored RUN_OVERLAP job): this run does nothing


def policy_or_default(policy: int | None) -> int:
    """SanitizedCronJob.orDefault: an unset policy is KILL_EXISTING."""
    return KILL_EXISTING if policy is None else policy


def on_collision(policy: int | None, active_tasks: int) -> Collision:
    """The decision for a run finding `active_tasks` active tasks of its job."""
    if active_tasks == 0:
        return Collision.LAUNCH
    return Collision.KILL_THEN_LAUNCH if policy_or_default(policy) == KILL_EXISTING else Collision.SKIP


def backoff_delays(initial_s: float, maximum_s: float):
    """Aurora's BackoffHelper: waits between checks for a killed run's tasks to be gone: initial, doubling,
    capped at maximum (-cron_start_initial_backoff, -cron_start_max_backoff)."""
    delay = min(initial_s, maximum_s)
    while True:
        yield delay
        delay = min(delay * 2, maximum_s)


__all__ = ["CronError", "Schedule", "zone", "parse", "due_run", "Collision", "on_collision",
           "policy_or_default", "backoff_delays", "KILL_EXISTING", "CANCEL_NEW", "RUN_OVERLAP",
           "RUN_OVERLAP_REMOVED", "KILL_AUDIT_MESSAGE"]
