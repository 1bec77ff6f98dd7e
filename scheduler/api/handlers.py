"""The Jobs API: Aurora's job, task, tier and quota calls, between a Thrift call and storage.

    api = SchedulerApi(storage, manager, settings)      # a DurableStorage, a StateManager on it, ApiSettings
    reply = await protocol.call(api, body, content_type, accept)

Method names and keyword arguments are Aurora 0.22's (scheduler.api.protocol dispatches on them). Behaviour
follows SchedulerThriftInterface / ReadOnlySchedulerImpl, with their messages and response codes:

* Every mutation is one `manager.transaction()` (one storage write): the call answers only after it has
  committed; a refusal found inside it (job exists, instance limits, ...) raises, so nothing is written.
* Like Aurora's LoggingInterceptor, any other failure is answered, never raised: ERROR_TRANSIENT with the
  storage's message ("Storage is not READY") while storage is not READY, ERROR with the error's message
  otherwise (a failed log append included: its write was rolled back).
* Where Aurora answers ERROR with an empty message (an invalid job key given to killTasks and the like, a
  blank argument), we answer ERROR too, with a message saying what was wrong.

Storage is used through its narrow surface (`write()`, `store`, `state`): api/ does not import storage/.
Authentication is not here: every audit message names Aurora's unauthenticated user, UNSECURE.
"""
from __future__ import annotations

from thermos_executor.aurora_api import job_key

import copy
import functools
import logging
from collections.abc import Callable

from scheduler.api import config as configs
from scheduler.api import envelope, summaries
from scheduler.api import quota as quotas
from thermos_executor.aurora_api.gen.ttypes import (ConfigSummary, ConfigSummaryResult, GetJobsResult,
                                      GetPendingReasonResult, GetQuotaResult, PendingReason,
                                      GetTierConfigResult, JobSummary, JobSummaryResult, PopulateJobResult,
                                      ResourceAggregate, ResponseCode, Result, RoleSummaryResult,
                                      ScheduleStatusResult, TaskQuery, TierConfig)
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import ChangeResult, InstanceCollision, StateManager
from scheduler.state.status import ACTIVE, TERMINAL, ScheduleStatus
from scheduler.state.updates import active_update

log = logging.getLogger(__name__)
S = ScheduleStatus

USER = "UNSECURE"  # AuditMessages.DEFAULT_USER
NO_CRON = "Cron jobs may only be created/updated by calling scheduleCronJob."
NO_TASKS_TO_KILL_MESSAGE = "No tasks to kill."
INVALID_INSTANCE_ID = "No active task found for a given instance ID."
INVALID_INSTANCE_COUNT = "Instance count must be positive."
NOT_ALL_SHARDS_ACTIVE = "Not all requested shards are active."
NO_INSTANCES_FOR_CRON = "Instances may not be added to cron jobs."
PRUNE_ACTIVE = "Tasks in non-terminal state cannot be pruned."
JOB_UPDATING = "Job is currently updating"


class Refused(Exception):
    """A call answered with `code` and `message`; raised inside a write, it also rolls the write back."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def answered(method):
    """Turn anything a call raises into Aurora's answer for it (LoggingInterceptor)."""
    @functools.wraps(method)
    async def call(self, **kwargs):
        try:
            return await method(self, **kwargs)
        except Refused as refused:
            return envelope.response(refused.code, self.server_info, str(refused))
        except Exception as error:
            message = str(error) or type(error).__name__
            if self._storage.state != "READY":
                return envelope.response(ResponseCode.ERROR_TRANSIENT, self.server_info, message)
            log.warning("%s failed: %s", method.__name__, message, exc_info=True)
            return envelope.response(ResponseCode.ERROR, self.server_info, message)
    return call


class SchedulerApi:
    def __init__(self, storage, manager: StateManager, settings: ApiSettings,
                 pending_reason: Callable[[object], str] = lambda config: "",
                 next_cron_run: Callable[[object], int | None] = lambda job: None):
        """`pending_reason(task_config)`: why tasks of that config are still PENDING (the placement's nearest
        fit, comma-joined veto reasons; "" when nothing has been tried). `next_cron_run(job)`: a cron job's
        next run, epoch ms (getJobSummary's nextCronRunMs; scheduler.api.cron.next_run_ms)."""
        self._storage = storage
        self._manager = manager
        self.settings = settings
        self._pending_reason = pending_reason
        self._next_cron_run = next_cron_run
        self.server_info = envelope.server_info(settings)

    # -- jobs ----------------------------------------------------------------------------------------------
    @answered
    async def createJob(self, description):
        job = self._sanitized(description)
        if configs.is_cron(job):
            raise Refused(ResponseCode.INVALID_REQUEST, NO_CRON)
        async with self._manager.transaction() as tx:
            require_not_updating(tx.store, job.key)
            if self._active(tx.store, job.key) or job_key(job.key) in tx.store.cron_jobs:
                raise Refused(ResponseCode.INVALID_REQUEST, f"Job {configs.canonical(job.key)} already exists")
            check_task_limits(job.instanceCount, self.settings)
            require_quota(quotas.check_instance_addition(tx.store, job.taskConfig, job.instanceCount))
            log.info("Launching %d tasks.", job.instanceCount)
            tx.insert_pending_tasks(job.taskConfig, range(job.instanceCount))
        return self._ok()

    @answered
    async def killTasks(self, job, instances, message):
        require_key(job)
        query = TaskQuery(jobKeys={job}, instanceIds=set(instances) if instances else None, statuses=set(ACTIVE))
        audit = f"Killed by {USER}" + (f".\n{message}" if message is not None else "")
        async with self._manager.transaction() as tx:
            require_not_updating(tx.store, job)
            killed = sum(tx.change_state(t.assignedTask.taskId, S.KILLING, audit) == ChangeResult.SUCCESS
                         for t in tx.store.tasks.fetch(query))
        return self._ok() if killed else self._ok(None, NO_TASKS_TO_KILL_MESSAGE)

    @answered
    async def restartShards(self, job, shardIds):
        require_key(job)
        if not shardIds:
            raise Refused(ResponseCode.ERROR, "shardIds must not be empty")
        query = TaskQuery(jobKeys={job}, instanceIds=set(shardIds), statuses=set(ACTIVE))
        async with self._manager.transaction() as tx:
            require_not_updating(tx.store, job)
            tasks = tx.store.tasks.fetch(query)
            if len(tasks) != len(shardIds):
                raise Refused(ResponseCode.INVALID_REQUEST, NOT_ALL_SHARDS_ACTIVE)
            for task in tasks:
                tx.change_state(task.assignedTask.taskId, S.RESTARTING, f"Restarted by {USER}")
        return self._ok()

    @answered
    async def addInstances(self, key, count):
        job = key.jobKey if key is not None else None
        require_key(job)
        if (count or 0) <= 0:
            raise Refused(ResponseCode.INVALID_REQUEST, INVALID_INSTANCE_COUNT)
        async with self._manager.transaction() as tx:
            if job_key(job) in tx.store.cron_jobs:
                raise Refused(ResponseCode.INVALID_REQUEST, NO_INSTANCES_FOR_CRON)
            require_not_updating(tx.store, job)
            current = self._active(tx.store, job)
            template = next((t for t in current if t.assignedTask.instanceId == key.instanceId), None)
            if template is None:
                raise Refused(ResponseCode.INVALID_REQUEST, INVALID_INSTANCE_ID)
            last = max(t.assignedTask.instanceId for t in current)
            check_task_limits(len(current) + count, self.settings)
            require_quota(quotas.check_instance_addition(tx.store, template.assignedTask.task, count))
            try:
                tx.insert_pending_tasks(template.assignedTask.task, range(last + 1, last + 1 + count))
            except InstanceCollision as e:
                raise Refused(ResponseCode.INVALID_REQUEST, str(e)) from None
        return self._ok()

    @answered
    async def populateJobConfig(self, description):
        try:
            job = configs.validate_job(description, self.settings)
        except configs.TaskDescriptionError as e:
            raise Refused(ResponseCode.INVALID_REQUEST, f"Invalid configuration: {e}") from None
        return self._ok(Result(populateJobResult=PopulateJobResult(taskConfig=job.taskConfig)))

    # -- reads ---------------------------------------------------------------------------------------------
    @answered
    async def getTasksStatus(self, query):
        return self._ok(Result(scheduleStatusResult=ScheduleStatusResult(tasks=self._fetch(query))))

    @answered
    async def getTasksWithoutConfigs(self, query):
        tasks = [_without_executor_config(t) for t in self._fetch(query)]
        return self._ok(Result(scheduleStatusResult=ScheduleStatusResult(tasks=tasks)))

    @answered
    async def getPendingReason(self, query):
        """Why each PENDING task matching `query` is not placed (Aurora's ReadOnlySchedulerImpl)."""
        if query is None:
            raise Refused(ResponseCode.ERROR, "query must be set")
        if query.slaveHosts is not None or query.statuses is not None:
            raise Refused(ResponseCode.INVALID_REQUEST, f"Statuses or slaveHosts are not supported in {query}")
        pending = copy.copy(query)
        pending.statuses = {S.PENDING}
        reasons = {PendingReason(taskId=t.assignedTask.taskId, reason=self._pending_reason(t.assignedTask.task))
                   for t in self._fetch(pending)}
        return self._ok(Result(getPendingReasonResult=GetPendingReasonResult(reasons=reasons)))

    @answered
    async def getJobs(self, ownerRole):
        active = TaskQuery(role=ownerRole, statuses=set(ACTIVE))
        jobs = self._jobs(ownerRole, summaries.by_job(self._fetch(active)))
        return self._ok(Result(getJobsResult=GetJobsResult(configs=set(jobs.values()))))

    @answered
    async def getJobSummary(self, role):
        tasks = summaries.by_job(self._fetch(TaskQuery(role=role)))
        jobs = self._jobs(role, tasks)
        crons = self._storage.store.cron_jobs
        result = {JobSummary(job=job, stats=summaries.job_stats(tasks.get(key, ())),
                             nextCronRunMs=self._next_cron_run(job) if key in crons else None)
                  for key, job in jobs.items()}
        return self._ok(Result(jobSummaryResult=JobSummaryResult(summaries=result)))

    @answered
    async def getRoleSummary(self):
        store = self._storage.store
        result = summaries.role_summaries(store.tasks.job_keys(), store.cron_jobs)
        return self._ok(Result(roleSummaryResult=RoleSummaryResult(summaries=result)))

    @answered
    async def getConfigSummary(self, job):
        require_key(job)
        groups = summaries.config_groups(self._active(self._storage.store, job))
        summary = ConfigSummary(key=job, groups=groups)
        return self._ok(Result(configSummaryResult=ConfigSummaryResult(summary=summary)))

    @answered
    async def getTierConfigs(self):
        tiers = self.settings.tiers
        result = GetTierConfigResult(defaultTierName=tiers.default,
                                     tiers={TierConfig(name=n, settings=t.settings()) for n, t in tiers.tiers})
        return self._ok(Result(getTierConfigResult=result))

    # -- operators -----------------------------------------------------------------------------------------
    @answered
    async def pruneTasks(self, query):
        query = required_query(query)
        if query.statuses and set(query.statuses) & ACTIVE:
            raise Refused(ResponseCode.ERROR, PRUNE_ACTIVE)
        query.statuses = query.statuses or set(TERMINAL)
        query.offset = None  # Aurora's fetch ignores the offset here; the limit applies
        async with self._manager.transaction() as tx:
            tx.delete_tasks(t.assignedTask.taskId for t in tx.store.tasks.fetch(query))
        return self._ok()

    @answered
    async def forceTaskState(self, taskId, status):
        if not taskId or not taskId.strip():
            raise Refused(ResponseCode.ERROR, "taskId must not be blank")
        if status not in S._value2member_map_:
            raise Refused(ResponseCode.ERROR, f"Unknown status {status}")
        async with self._manager.transaction() as tx:
            tx.change_state(taskId, S(status), f"Transition forced by {USER}")
        return self._ok()

    @answered
    async def getQuota(self, ownerRole):
        _require_role(ownerRole)
        info = quotas.role_info(self._storage.store, ownerRole)
        result = GetQuotaResult(quota=info.quota.aggregate(),
                                prodSharedConsumption=info.prod_shared.aggregate(),
                                nonProdSharedConsumption=info.non_prod_shared.aggregate(),
                                prodDedicatedConsumption=info.prod_dedicated.aggregate(),
                                nonProdDedicatedConsumption=info.non_prod_dedicated.aggregate())
        return self._ok(Result(getQuotaResult=result))

    @answered
    async def setQuota(self, ownerRole, quota):
        """Refused (INVALID_REQUEST) with a negative value, below the role's current prod shared use, or for a role
        no job key could name."""
        _require_role(ownerRole)
        if not configs.is_good_identifier(ownerRole):   # ours: Aurora stored a quota no job could ever use
            raise Refused(ResponseCode.INVALID_REQUEST, f"Role contains illegal characters: {ownerRole}")
        if quota is None:
            raise Refused(ResponseCode.ERROR, "quota must be set")
        aggregate = _quota(quota)
        async with self._storage.write() as w:
            error = quotas.saved_quota_error(ownerRole, aggregate, w.store)
            if error is not None:
                raise Refused(ResponseCode.INVALID_REQUEST, error)
            w.save_quota(ownerRole, aggregate)
        return self._ok()

    # -- helpers -------------------------------------------------------------------------------------------
    def _ok(self, result: Result | None = None, *messages: str):
        return envelope.ok(self.server_info, result, *messages)

    def _sanitized(self, job):
        try:
            return configs.validate_job(job, self.settings)
        except configs.TaskDescriptionError as e:
            raise Refused(ResponseCode.INVALID_REQUEST, str(e)) from None

    @staticmethod
    def _active(store, job) -> list:
        return store.tasks.fetch(TaskQuery(jobKeys={job}, statuses=set(ACTIVE)))

    def _fetch(self, query) -> list:
        return self._storage.store.tasks.fetch(required_query(query))

    def _jobs(self, role: str | None, tasks: dict) -> dict:
        """Jobs synthesized from their tasks, then cron templates over them (ReadOnlySchedulerImpl.getJobs)."""
        jobs = {key: summaries.synthesized_job(key, job_tasks) for key, job_tasks in tasks.items()}
        jobs.update((key, job) for key, job in self._storage.store.cron_jobs.items() if role is None or key[0] == role)
        return jobs


def check_task_limits(total: int, settings: ApiSettings) -> None:
    """Refuse (INVALID_REQUEST) a job of `total` tasks outside 1..-max_tasks_per_job (validateTaskLimits)."""
    maximum = settings.max_tasks_per_job
    if total <= 0 or total > maximum:
        raise Refused(ResponseCode.INVALID_REQUEST, f"Instance count must be between 1 and {maximum} inclusive.")


def require_quota(check: quotas.QuotaCheck) -> None:
    """Refuse (INVALID_REQUEST, Aurora's "Insufficient resource quota: ...") a change the role's quota lacks."""
    if not check.sufficient:
        raise Refused(ResponseCode.INVALID_REQUEST, check.message)


def require_not_updating(store, job) -> None:
    """Refuse (JOB_UPDATING_ERROR) a change to a job an active update owns (JobUpdateController
    .assertNotUpdating)."""
    if active_update(store, job) is not None:
        raise Refused(ResponseCode.JOB_UPDATING_ERROR, JOB_UPDATING)


def require_key(job) -> None:
    """JobKeys.assertValid (an IllegalArgumentException: ERROR)."""
    if not configs.is_valid_key(job):
        raise Refused(ResponseCode.ERROR, f"Job key {configs.key_text(job)} is invalid.")


def _require_role(role: str | None) -> None:
    if not role or not role.strip():
        raise Refused(ResponseCode.ERROR, "ownerRole must not be blank")


def required_query(query: TaskQuery | None) -> TaskQuery:
    """The query normalized; None (Aurora's NullPointerException) is refused."""
    if query is None:
        raise Refused(ResponseCode.ERROR, "query must be set")
    return normalized_query(query)


def normalized_query(query: TaskQuery) -> TaskQuery:
    """As Aurora's task store reads a TaskQuery: an empty set, a blank role, a non-positive offset or limit
    mean the field is not set."""
    q = copy.copy(query)
    for field in ("taskIds", "statuses", "instanceIds", "slaveHosts", "jobKeys"):
        if not getattr(q, field):
            setattr(q, field, None)
    if q.role is not None and not q.role.strip():
        q.role = None
    q.offset = q.offset if q.offset and q.offset > 0 else None
    q.limit = q.limit if q.limit and q.limit > 0 else None
    return q


def _without_executor_config(task):
    task = copy.copy(task)
    task.assignedTask = copy.copy(task.assignedTask)
    task.assignedTask.task = copy.copy(task.assignedTask.task)
    task.assignedTask.task.executorConfig = None
    return task


def _quota(quota: ResourceAggregate) -> ResourceAggregate:
    """ThriftBackfill.backfillResourceAggregate and QuotaManager.saveQuota's checks."""
    resources = quota.resources or set()
    if not resources:
        return summaries.aggregate(0.0, 0, 0)  # Aurora reads the removed legacy fields here: unset, they are zeros
    if len(resources) > 3:
        raise Refused(ResponseCode.ERROR, "Too many resource values in quota.")
    kinds = {configs.resource_kind(r) for r in resources}
    if kinds != {"numCpus", "ramMb", "diskMb"}:
        raise Refused(ResponseCode.ERROR, "Quota resources must be exactly: [CPUS, RAM_MB, DISK_MB]")
    return quota
