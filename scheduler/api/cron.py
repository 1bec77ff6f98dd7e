"""The four cron calls of Aurora's API: scheduleCronJob, replaceCronTemplate, descheduleCronJob, startCronJob.

Validation, order of checks, messages and codes are Aurora 0.22's (SchedulerThriftInterface
createOrUpdateCronTemplate, CronJobManagerImpl, SanitizedCronJob). Each mutation is one storage write that
saves or removes the template; a saved template's runs are counted from the moment it is saved (its
lastRunMs, see scheduler.state.cron). The leader's cron timers are told after the write has committed
(`runs.changed(key)`); startCronJob hands the run to them (`runs.trigger(key)`), as Aurora's triggerJob
hands it to Quartz. `runs` is duck-typed (scheduler.app.cron.CronTimers in the daemon): api/ imports no app/.
"""
from __future__ import annotations

from thermos_executor.aurora_api import job_key

import logging
from collections.abc import Callable

from scheduler.api import config as configs
from scheduler.api import envelope
from scheduler.api import quota as quotas
from scheduler.api.handlers import (Refused, answered, check_task_limits, require_key, require_not_updating,
                                    require_quota)
from scheduler.api.settings import ApiSettings
from scheduler.state import cron
from scheduler.state.status import ACTIVE
from thermos_executor.aurora_api.gen.ttypes import ResponseCode, TaskQuery

log = logging.getLogger(__name__)
INVALID = ResponseCode.INVALID_REQUEST


class CronApi:
    """Aurora's cron calls on storage (see the module docstring)."""

    def __init__(self, storage, settings: ApiSettings, *, tz, runs, clock_ms: Callable[[], int]):
        """`tz`: -cron_timezone (a ZoneInfo); `runs`: has `changed(key)` and `trigger(key)`."""
        self._storage = storage
        self.settings = settings
        self.tz = tz
        self.runs = runs
        self.clock_ms = clock_ms
        self.server_info = envelope.server_info(settings)

    @answered
    async def scheduleCronJob(self, description):
        return await self._save(description, update_only=False)

    @answered
    async def replaceCronTemplate(self, config):
        return await self._save(config, update_only=True)

    @answered
    async def descheduleCronJob(self, job):
        require_key(job)
        async with self._storage.write() as w:
            require_not_updating(w.store, job)
            if job_key(job) not in w.store.cron_jobs:
                return self._ok(f"Job {configs.canonical(job)} is not scheduled with cron")
            w.remove_job(job)
            log.info("Deleted cron job %s from storage.", configs.canonical(job))
        self.runs.changed(job_key(job))
        return self._ok()

    @answered
    async def startCronJob(self, job):
        require_key(job)
        if job_key(job) not in self._storage.store.cron_jobs:
            raise Refused(INVALID, f"Failed to start cron job - No cron job found for {configs.canonical(job)}.")
        self.runs.trigger(job_key(job))
        log.info("Triggered cron job for %s.", configs.canonical(job))
        return self._ok()

    # -- createOrUpdateCronTemplate ------------------------------------------------------------------------
    async def _save(self, description, update_only: bool):
        try:
            job = configs.validate_job(description, self.settings)
        except configs.TaskDescriptionError as e:
            raise Refused(INVALID, str(e)) from None
        name = configs.canonical(job.key)
        if not configs.is_cron(job):
            raise Refused(INVALID, f"Job {name} has no cron schedule")
        key = job_key(job.key)
        async with self._storage.write() as w:
            check_task_limits(job.instanceCount, self.settings)
            if update_only or key in w.store.cron_jobs:
                self._checked(job)
                if key not in w.store.cron_jobs:
                    raise Refused(INVALID, f"No cron job found for {name}.")
            else:
                active = w.store.tasks.fetch(TaskQuery(jobKeys={job.key}, statuses=set(ACTIVE)))
                if active:
                    raise Refused(INVALID, f"Job {name} already exists")
                self._checked(job)
            require_quota(quotas.check_cron_update(w.store, job))
            w.save_cron_job(job, self.clock_ms())
            log.info("Saved cron job %s with schedule %s.", name, job.cronSchedule)
        self.runs.changed(key)
        return self._ok()

    def _checked(self, job) -> None:
        """SanitizedCronJob.from, then CronJobManagerImpl.checkNoRunOverlap."""
        if not job.cronSchedule:
            raise Refused(INVALID, f"Not a valid cron job, {configs.canonical(job.key)} has no cron schedule")
        try:
            cron.parse(job.cronSchedule, self.tz)
        except cron.CronError as e:
            raise Refused(INVALID, str(e)) from None
        if job.cronCollisionPolicy == cron.RUN_OVERLAP:
            raise Refused(INVALID, cron.RUN_OVERLAP_REMOVED)

    def _ok(self, *messages: str):
        return envelope.ok(self.server_info, None, *messages)


def next_run_ms(job, tz, now_ms: int) -> int | None:
    """getJobSummary's nextCronRunMs (CronPredictor.predictNextRun): the next run after now, None if the
    stored schedule does not parse or never matches."""
    try:
        return cron.parse(job.cronSchedule, tz).next_after(now_ms)
    except cron.CronError:
        return None
