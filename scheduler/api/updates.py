"""The update calls of Aurora's API: startJobUpdate, pause/resume/abort/rollbackJobUpdate, pulseJobUpdate.

Checks, their order, messages and codes are Aurora 0.22's (SchedulerThriftInterface.startJobUpdate and the
JobUpdateController calls). The request is checked here, outside any write; what needs the store (the job's
cron template, an update in progress, the diff against the running tasks, quota) is checked inside the one
write that saves the update and starts it. The controller (`controller`, duck-typed: scheduler.app.updater.
JobUpdates in the daemon; api/ imports no app/) owns the writes; a refused change (UpdateStateError) is
answered INVALID_REQUEST with its text, e.g. "Cannot transition update from ROLLED_FORWARD to ABORTED".

Ours, beyond Aurora: instance ranges in updateOnlyTheseInstances that are reversed, negative or overlapping
are refused (Aurora merged overlaps silently and failed on a reversed range with an exception).
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
        scope = _scope(settings.updateOnlyTheseInstances)
        job = JobConfiguration(key=request.taskConfig.job, owner=request.taskConfig.owner,
                               taskConfig=request.taskConfig, instanceCount=request.instanceCount)
        try:
            desired = configs.validate_job(job, self.settings).taskConfig
        except configs.TaskDescriptionError as e:
            raise Refused(INVALID, str(e)) from None

        refusal = {}

        def prepare(store):
            if job_key(desired.job) in store.cron_jobs:
                raise Refused(INVALID, NO_CRON)
            busy = u.active_update(store, desired.job)
            if busy is not None:
                refusal["busy"] = busy.update.summary
                raise Refused(INVALID, IN_PROGRESS)
            current = {t.assignedTask.instanceId: t.assignedTask.task
                       for t in store.tasks.fetch(TaskQuery(jobKeys={desired.job}, statuses=set(ACTIVE)))}
            proposed = dict.fromkeys(range(request.instanceCount), desired)
            if scope:
                missing = sorted(scope - set(current) - set(proposed))
                if missing:
                    raise Refused(INVALID, OUT_OF_SCOPE + "[" + ", ".join(map(str, missing)) + "]")
            replaced, replacements = _diff(current, proposed, scope)
            if not replaced and not replacements:
                return None
            instructions = JobUpdateInstructions(settings=copy.copy(settings), initialState=_groups(replaced),
                                                 desiredState=InstanceTaskConfig(
                                                     task=desired, instances=set(summaries.ranges(replacements)))
                                                 if replacements else None)
            update = JobUpdate(summary=JobUpdateSummary(key=JobUpdateKey(job=desired.job, id=str(uuid.uuid4())),
                                                        user=USER, metadata=request.metadata),
                               instructions=instructions)
            check_task_limits(request.instanceCount, self.settings)
            require_quota(quotas.check_job_update(store, update))
            return update

        try:
            update = await self.controller.start_update(prepare, message)
        except Refused as refused:
            busy = refusal.get("busy")
            if busy is None:
                raise
            result = Result(startJobUpdateResult=StartJobUpdateResult(key=busy.key, updateSummary=busy))
            return envelope.response(refused.code, self.server_info, str(refused), result=result)
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


def _scope(ranges) -> set[int]:
    """updateOnlyTheseInstances as instance ids; reversed, negative or overlapping ranges are refused."""
    ids: set[int] = set()
    for r in sorted(ranges or (), key=lambda r: (r.first, r.last)):
        text = f"[{r.first}, {r.last}]"
        if r.first is None or r.last is None or r.first < 0 or r.first > r.last:
            raise Refused(INVALID, f"Invalid instance range {text} in updateOnlyTheseInstances: "
                                   "first and last must be non-negative and first <= last.")
        span = set(range(r.first, r.last + 1))
        if span & ids:
            raise Refused(INVALID, f"Overlapping instance range {text} in updateOnlyTheseInstances.")
        ids |= span
    return ids


def _diff(current: dict, proposed: dict, scope: set[int]) -> tuple[dict, set[int]]:
    """JobDiff: (instance -> config the update replaces or removes, instances it adds or replaces), within
    `scope` when one is given."""
    replaced = {i: c for i, c in current.items() if proposed.get(i) != c}
    replacements = {i for i, c in proposed.items() if current.get(i) != c}
    if scope:
        replaced = {i: c for i, c in replaced.items() if i in scope}
        replacements &= scope
    return replaced, replacements


def _groups(configs_by_instance: dict) -> set[InstanceTaskConfig]:
    """The initial state: one InstanceTaskConfig per distinct config, with its instance ranges."""
    by_config: dict = {}
    for instance_id, config in configs_by_instance.items():
        by_config.setdefault(config, set()).add(instance_id)
    return {InstanceTaskConfig(task=c, instances=set(summaries.ranges(ids))) for c, ids in by_config.items()}
