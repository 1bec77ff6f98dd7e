"""The update calls of Aurora's API: startJobUpdate, pause/resume/abort/rollbackJobUpdate, pulseJobUpdate.

Checks, their order, messages and codes are Aurora 0.22's (SchedulerThriftInterface.startJobUpdate and the
JobUpdateController calls). The request is checked here, outside any write; what needs the store (the job's
cron template, an update in progress, the diff against the running tasks, quota) is checked inside the one
write that saves the update and starts it. The controller (`controller`, duck-typed: scheduler.app.updater.
JobUpdates in the daemon; api/ imports no app/) owns the writes; a refused change (UpdateStateError) is
answered INVALID_REQUEST with its text, e.g. "Cannot transition update from ROLLED_FORWARD to ABORTED".

Instance ranges in updateOnlyTheseInstances that are reversed or overlap are refused with Guava's texts, as
INVALID_REQUEST (Aurora's IllegalArgumentException was an ERROR; the issue asks for INVALID_REQUEST).
"""
from __future__ import annotations

import copy
import logging
import uuid

from scheduler.api import config as configs
from scheduler.api import envelope
from scheduler.api import quota as quotas
from scheduler.api.handlers import USER, NO_CRON, Refused, answered, check_task_limits, require_key, require_quota
from scheduler.api.settings import ApiSettings
from scheduler.state import job_diff
from scheduler.state import updates as u
from scheduler.state.status import ACTIVE
from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import (InstanceTaskConfig, JobConfiguration, JobUpdate,
                                                    JobUpdateInstructions, JobUpdateKey, JobUpdateSummary,
                                                    PulseJobUpdateResult, ResponseCode, Result,
                                                    StartJobUpdateResult, TaskQuery)
from scheduler.api import summaries

log = logging.getLogger(__name__)
INVALID = ResponseCode.INVALID_REQUEST

NOOP_JOB_UPDATE_MESSAGE = "Job is unchanged by proposed update."
NON_SERVICE_TASK = "Updates are not supported for non-service tasks."
INVALID_GROUP_SIZE = "updateGroupSize must be positive."
INVALID_MAX_FAILED_INSTANCES = "maxFailedInstances must be non-negative."
TOO_MANY_POTENTIAL_FAILED_INSTANCES = ("Your update allows too many failures to occur, consider decreasing the "
                                       "per-instance failures or maxFailedInstances.")
INVALID_MAX_INSTANCE_FAILURES = "maxPerInstanceFailures must be non-negative."
INVALID_MIN_WAIT_TO_RUNNING = "minWaitInInstanceRunningMs must be non-negative."
INVALID_PULSE_TIMEOUT = "blockIfNoPulsesAfterMs must be positive."
IN_PROGRESS = ("An active update already exists for this job, please terminate it before starting another. "
               "Active updates are those in states [ROLLING_FORWARD, ROLLING_BACK, ROLL_FORWARD_PAUSED, "
               "ROLL_BACK_PAUSED, ROLL_FORWARD_AWAITING_PULSE, ROLL_BACK_AWAITING_PULSE]")
OUT_OF_SCOPE = ("The update request attempted to update specific instances, not all of which exist in either "
                "the current job or the update: ")


class UpdateApi:
    """Aurora's update mutations (see the module docstring)."""

    def __init__(self, storage, settings: ApiSettings, controller):
        self._storage = storage
        self.settings = settings
        self.controller = controller
        self.server_info = envelope.server_info(settings)

    @answered
    async def startJobUpdate(self, request, message=None):
        if request is None or request.taskConfig is None:
            raise Refused(ResponseCode.ERROR, "request and its taskConfig must be set")
        require_key(request.taskConfig.job)
        if not request.taskConfig.isService:
            raise Refused(INVALID, NON_SERVICE_TASK)
        settings = request.settings
        if settings is None:
            raise Refused(ResponseCode.ERROR, "settings must be set")
        _check_settings(settings, request.instanceCount or 0, self.settings.max_update_instance_failures)
        try:
            scope = job_diff.instance_ids(settings.updateOnlyTheseInstances or ())
        except job_diff.InvalidRange as e:
            raise Refused(INVALID, str(e)) from None
        job = JobConfiguration(key=request.taskConfig.job, owner=request.taskConfig.owner,
                               taskConfig=request.taskConfig, instanceCount=request.instanceCount)
        try:
            desired = configs.validate_job(job, self.settings).taskConfig
        except configs.TaskDescriptionError as e:
            raise Refused(INVALID, str(e)) from None

        def prepare(store):
            if job_key(desired.job) in store.cron_jobs:
                raise Refused(INVALID, NO_CRON)
            busy = u.active_update(store, desired.job)
            if busy is not None:
                raise _InProgress(busy.update.summary)
            current = job_diff.active_configs(
                store.tasks.fetch(TaskQuery(jobKeys={desired.job}, statuses=set(ACTIVE))))
            diff = job_diff.compute(current, job_diff.as_map(desired, request.instanceCount),
                                    settings.updateOnlyTheseInstances)
            missing = diff.out_of_scope(scope)
            if missing:
                raise Refused(INVALID, OUT_OF_SCOPE + "[" + ", ".join(map(str, sorted(missing))) + "]")
            if diff.is_noop():
                return None
            desired_state = InstanceTaskConfig(task=desired, instances=set(job_diff.to_ranges(diff.replacements)))
            instructions = JobUpdateInstructions(settings=copy.copy(settings),
                                                 initialState=_initial_state(dict(diff.replaced)),
                                                 desiredState=desired_state if diff.replacements else None)
            update = JobUpdate(summary=JobUpdateSummary(key=JobUpdateKey(job=desired.job, id=str(uuid.uuid4())),
                                                        user=USER, metadata=request.metadata),
                               instructions=instructions)
            check_task_limits(request.instanceCount, self.settings)
            require_quota(quotas.check_job_update(store, update))
            return update

        try:
            update = await self.controller.start_update(prepare, message)
        except _InProgress as busy:   # Aurora's one refusal with a result: the update in the way
            result = Result(startJobUpdateResult=StartJobUpdateResult(key=busy.summary.key,
                                                                      updateSummary=busy.summary))
            return envelope.response(busy.code, self.server_info, str(busy), result=result)
        if update is None:
            return envelope.ok(self.server_info, None, NOOP_JOB_UPDATE_MESSAGE)
        log.info("Started update %s of %s", update.summary.key.id, configs.canonical(desired.job))
        result = StartJobUpdateResult(key=update.summary.key, updateSummary=update.summary)
        return envelope.ok(self.server_info, Result(startJobUpdateResult=result))

    @answered
    async def pauseJobUpdate(self, key, message=None):
        return await self._change(key, u.PAUSED_OF.get, message)

    @answered
    async def resumeJobUpdate(self, key, message=None):
        return await self._change(key, u.RESUMED_OF.get, message)

    @answered
    async def abortJobUpdate(self, key, message=None):
        return await self._change(key, lambda status: u.U.ABORTED, message)

    @answered
    async def rollbackJobUpdate(self, key, message=None):
        return await self._change(key, lambda status: u.ROLLBACK_OF.get(status, u.RB), message)

    @answered
    async def pulseJobUpdate(self, key):
        _require_update_key(key)
        try:
            status = await self.controller.pulse(key)
        except u.UpdateStateError as e:
            raise Refused(INVALID, str(e)) from None
        return envelope.ok(self.server_info, Result(pulseJobUpdateResult=PulseJobUpdateResult(status=status)))

    async def _change(self, key, transition, message):
        _require_update_key(key)
        try:
            await self.controller.change(key, transition, message)
        except u.UpdateStateError as e:
            raise Refused(INVALID, str(e)) from None
        return envelope.ok(self.server_info)


class _InProgress(Refused):
    """startJobUpdate refused because the job already has an active update (`summary`)."""

    def __init__(self, summary):
        super().__init__(INVALID, IN_PROGRESS)
        self.summary = summary


def _require_update_key(key) -> None:
    """validateJobUpdateKey: a valid job key and a non-blank id (IllegalArgumentException: ERROR)."""
    if key is None:
        raise Refused(ResponseCode.ERROR, "key must be set")
    require_key(key.job)
    if not key.id or not key.id.strip():
        raise Refused(ResponseCode.ERROR, "update id must not be blank")


def _check_settings(settings, instance_count: int, max_update_instance_failures: int) -> None:
    if any((size or 0) <= 0 for size in u.group_sizes(settings)) or not u.group_sizes(settings):
        raise Refused(INVALID, INVALID_GROUP_SIZE)
    per_instance = settings.maxPerInstanceFailures or 0
    if per_instance < 0:
        raise Refused(INVALID, INVALID_MAX_INSTANCE_FAILURES)
    if (settings.maxFailedInstances or 0) < 0:
        raise Refused(INVALID, INVALID_MAX_FAILED_INSTANCES)
    if per_instance * instance_count > max_update_instance_failures:
        raise Refused(INVALID, TOO_MANY_POTENTIAL_FAILED_INSTANCES)
    if (settings.minWaitInInstanceRunningMs or 0) < 0:
        raise Refused(INVALID, INVALID_MIN_WAIT_TO_RUNNING)
    if settings.blockIfNoPulsesAfterMs is not None and settings.blockIfNoPulsesAfterMs <= 0:
        raise Refused(INVALID, INVALID_PULSE_TIMEOUT)


def _initial_state(replaced: dict) -> set[InstanceTaskConfig]:
    """The instances an update replaces, as one InstanceTaskConfig per config they run (buildInitialState)."""
    return {InstanceTaskConfig(task=g.config, instances=g.instances) for g in summaries.groups_of(replaced)}
