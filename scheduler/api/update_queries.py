"""The read side of job updates: Aurora's getJobUpdateSummaries, getJobUpdateDetails and getJobUpdateDiff.

    api = UpdateQueriesApi(storage, settings)           # a DurableStorage (READY on the leader), ApiSettings
    handler = Handlers(SchedulerApi(...), api, ...)

As ReadOnlySchedulerImpl and MemJobUpdateStore answer them (messages and codes are Aurora's):

* `getJobUpdateSummaries(jobUpdateQuery)`: the summaries of the stored updates matching the query
  (`fetch_updates`). `getJobUpdateDetails(key, query)`: with a query, every matching update's details in
  `detailsList`; else the one update of `key` in `details`, with the message "The key argument is deprecated,
  use the query argument instead" (INVALID_REQUEST "Invalid update: IJobUpdateKey{...}" when there is none);
  neither given: ERROR "Either key or query must be set.". Details are as stored: the update, its update
  events and its instance events, each in timestamp order, the summary's state synthesized from them.
* `getJobUpdateDiff(request)`: what startJobUpdate of `request` would change. Its taskConfig is validated and
  populated as a job's is (INVALID_REQUEST with the configuration's message); a cron job is INVALID_REQUEST
  "Cron jobs are not supported."; then the job's active tasks are diffed against instances
  0..instanceCount-1 of the populated config, within settings.updateOnlyTheseInstances
  (`scheduler.state.job_diff`), and answered as config groups: `add` (new instances, the new config),
  `remove` (instances that go, their current config), `update` (instances whose config changes, their current
  config), `unchanged`. A job with no active task is all `add`. Bad ranges (first after last, overlapping)
  and a negative instanceCount are ERROR with Guava's message, as Aurora's IllegalArgumentException.
* Where Aurora throws a NullPointerException (a missing query, request, taskConfig or settings), the answer
  is ERROR, as Aurora's, with a message naming what is missing.
"""
from __future__ import annotations

from collections.abc import Iterable

from scheduler.api import config as configs
from scheduler.api import envelope, summaries
from scheduler.api.handlers import Refused, answered
from scheduler.api.settings import ApiSettings
from scheduler.state import job_diff
from scheduler.state.status import ACTIVE
from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import (GetJobUpdateDetailsResult, GetJobUpdateDiffResult,
                                                    GetJobUpdateSummariesResult, JobUpdateDetails, JobUpdateQuery,
                                                    ResponseCode, Result, TaskQuery)

NO_CRON = "Cron jobs are not supported."
KEY_OR_QUERY = "Either key or query must be set."
KEY_DEPRECATED = "The key argument is deprecated, use the query argument instead"


class UpdateQueriesApi:
    def __init__(self, storage, settings: ApiSettings):
        self._storage = storage
        self.settings = settings
        self.server_info = envelope.server_info(settings)

    @answered
    async def getJobUpdateSummaries(self, jobUpdateQuery):
        if jobUpdateQuery is None:
            raise Refused(ResponseCode.ERROR, "jobUpdateQuery must be set")
        found = fetch_updates(self._storage.store.job_updates.values(), jobUpdateQuery)
        result = GetJobUpdateSummariesResult(updateSummaries=[d.update.summary for d in found])
        return self._ok(Result(getJobUpdateSummariesResult=result))

    @answered
    async def getJobUpdateDetails(self, key, query):
        if key is None and query is None:
            raise Refused(ResponseCode.ERROR, KEY_OR_QUERY)
        if query is not None:
            found = fetch_updates(self._storage.store.job_updates.values(), query)
            return self._ok(Result(getJobUpdateDetailsResult=GetJobUpdateDetailsResult(detailsList=found)))
        details = self._storage.store.job_updates.get((job_key(key.job), key.id)) if key.job is not None else None
        if details is None:
            raise Refused(ResponseCode.INVALID_REQUEST, f"Invalid update: {configs.update_key_text(key)}")
        return self._ok(Result(getJobUpdateDetailsResult=GetJobUpdateDetailsResult(details=details)),
                        KEY_DEPRECATED)

    @answered
    async def getJobUpdateDiff(self, request):
        if request is None:
            raise Refused(ResponseCode.ERROR, "request must be set")
        if request.taskConfig is None:
            raise Refused(ResponseCode.ERROR, "request.taskConfig must be set")
        try:
            config = configs.validate_task(request.taskConfig, self.settings)
        except configs.TaskDescriptionError as e:
            raise Refused(ResponseCode.INVALID_REQUEST, str(e)) from None
        store = self._storage.store
        if job_key(config.job) in store.cron_jobs:
            raise Refused(ResponseCode.INVALID_REQUEST, NO_CRON)
        if request.settings is None:
            raise Refused(ResponseCode.ERROR, "request.settings must be set")
        current = job_diff.active_configs(store.tasks.fetch(TaskQuery(jobKeys={config.job}, statuses=set(ACTIVE))))
        try:
            diff = job_diff.compute(current, job_diff.as_map(config, request.instanceCount or 0),
                                    request.settings.updateOnlyTheseInstances)
        except job_diff.InvalidRange as e:   # Aurora: an IllegalArgumentException (ERROR); the issue: INVALID_REQUEST
            raise Refused(ResponseCode.INVALID_REQUEST, str(e)) from None
        result = GetJobUpdateDiffResult(
            add=summaries.groups_of(dict.fromkeys(diff.added(), config)),
            remove=summaries.groups_of({i: diff.replaced[i] for i in diff.removed()}),
            update=summaries.groups_of({i: diff.replaced[i] for i in diff.updated()}),
            unchanged=summaries.groups_of(diff.unchanged))
        return self._ok(Result(getJobUpdateDiffResult=result))

    def _ok(self, result: Result | None = None, *messages: str):
        return envelope.ok(self.server_info, result, *messages)


def fetch_updates(updates: Iterable[JobUpdateDetails], query: JobUpdateQuery) -> list[JobUpdateDetails]:
    """The updates matching `query` (every field set must match; empty statuses mean any), latest change
    first (lastModifiedTimestampMs, as MemJobUpdateStore), then `offset` skipped and at most `limit` (> 0)
    kept. A negative offset is refused (ERROR), as Aurora's Stream.skip refuses it."""
    offset = query.offset or 0
    if offset < 0:
        raise Refused(ResponseCode.ERROR, f"offset must not be negative: {offset}")
    found = [d for d in updates if _matches(d.update.summary, query)]
    found.sort(key=lambda d: (_modified(d), d.update.summary.key.id or ""), reverse=True)
    found = found[offset:]
    return found[:query.limit] if query.limit and query.limit > 0 else found


def _matches(summary, query: JobUpdateQuery) -> bool:
    key = summary.key
    state = summary.state
    return ((query.role is None or key.job.role == query.role)
            and (query.key is None or key == query.key)
            and (query.jobKey is None or key.job == query.jobKey)
            and (query.user is None or summary.user == query.user)
            and (not query.updateStatuses or (state is not None and state.status in query.updateStatuses)))


def _modified(details: JobUpdateDetails) -> int:
    state = details.update.summary.state
    return (state.lastModifiedTimestampMs or 0) if state is not None else 0
