"""The in-memory state the scheduler reads, and `apply`, the one place an op changes it.

A write and a replay both go through `Store.apply(op)`, so what the log says and what memory holds cannot
drift apart. `apply` returns an undo: calling the undos of a write's ops in reverse order restores the store
exactly as it was before them (the write path rolls a failed append back with them).

What each op does, as Aurora's in-memory stores do:

* saveTasks / removeTasks: by assignedTask.taskId (removing an unknown id does nothing);
* saveCronJob / removeJob: the cron job of a job key, and its last cron run (`cron_last_run`; unset: none);
* saveQuota / removeQuota: a role's quota;
* saveHostAttributes: the attributes of a host; an unset mode keeps the stored mode (NONE for a new host);
* saveJobUpdate: a job update's definition, keeping its events; saveJobUpdateEvent and
  saveJobInstanceUpdateEvent add to the events of a stored update, each list kept in timestamp order (an
  event for an unknown update is dropped with a warning); removeJobUpdate deletes updates;
  pruneJobUpdateHistory is ignored (Aurora ignores it on replay too: removeJobUpdate carries the outcome).
  As Aurora's MemJobUpdateStore, an update's summary.state is synthesized from its events once it has any:
  status and createdTimestampMs from the first and last update events, lastModifiedTimestampMs the latest
  of both kinds (an update with no event yet keeps the state it was saved with);
* saveHostMaintenanceRequest / removeHostMaintenanceRequest: a host's maintenance request.

Stored structs are shared, never copied: treat them as immutable (see tasks.py).
"""

from __future__ import annotations

import bisect
import copy
import logging
from collections.abc import Callable

from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import JobUpdateDetails, JobUpdateState, MaintenanceMode

from .gen.ttypes import Op
from .tasks import TaskStore

log = logging.getLogger(__name__)

Undo = Callable[[], None]


def update_key(key) -> tuple:
    """A JobUpdateKey as a dict key: ((role, environment, name), id)."""
    return job_key(key.job), key.id


class Store:
    def __init__(self):
        self.tasks = TaskStore()
        self.framework_id: str | None = None
        self.cron_jobs: dict[tuple, object] = {}  # job_key -> JobConfiguration
        self.cron_last_run: dict[tuple, int] = {}  # job_key -> SaveCronJob.lastRunMs (epoch ms), when set
        self.quotas: dict[str, object] = {}  # role -> ResourceAggregate
        self.host_attributes: dict[str, object] = {}  # host -> HostAttributes
        self.job_updates: dict[tuple, JobUpdateDetails] = {}  # update_key -> JobUpdateDetails
        self.maintenance: dict[str, object] = {}  # host -> HostMaintenanceRequest

    def reset(self) -> None:
        """Delete everything (what a snapshot does before it loads)."""
        self.__init__()

    def apply(self, op: Op) -> Undo:
        """Apply one op (see the module docstring); returns what undoes it."""
        for field in op.thrift_spec:
            if field and (value := getattr(op, field[2])) is not None:
                return getattr(self, "_" + field[2])(value)
        raise ValueError("an Op with no field set")

    # -- one method per op kind, named after the Op field --------------------------------------------------
    def _saveFrameworkId(self, op) -> Undo:
        previous, self.framework_id = self.framework_id, op.id

        def undo():
            self.framework_id = previous
        return undo

    def _saveTasks(self, op) -> Undo:
        replaced = [(t.assignedTask.taskId, self.tasks.put(t)) for t in op.tasks or ()]
        return lambda: self._restore_tasks(replaced)

    def _removeTasks(self, op) -> Undo:
        removed = [(i, self.tasks.remove(i)) for i in op.taskIds or ()]
        return lambda: self._restore_tasks(removed)

    def _restore_tasks(self, previous: list) -> None:
        for task_id, task in reversed(previous):
            if task is None:
                self.tasks.remove(task_id)
            else:
                self.tasks.put(task)

    def _saveCronJob(self, op) -> Undo:
        key = job_key(op.jobConfig.key)
        return _chain([_put(self.cron_jobs, key, op.jobConfig), _put(self.cron_last_run, key, op.lastRunMs)])

    def _removeJob(self, op) -> Undo:
        key = job_key(op.jobKey)
        return _chain([_put(self.cron_jobs, key, None), _put(self.cron_last_run, key, None)])

    def _saveQuota(self, op) -> Undo:
        return _put(self.quotas, op.role, op.quota)

    def _removeQuota(self, op) -> Undo:
        return _put(self.quotas, op.role, None)

    def _saveHostAttributes(self, op) -> Undo:
        attributes = op.hostAttributes
        if attributes.mode is None:
            stored = self.host_attributes.get(attributes.host)
            attributes = copy.copy(attributes)
            attributes.mode = stored.mode if stored is not None else MaintenanceMode.NONE
        return _put(self.host_attributes, attributes.host, attributes)

    def _saveJobUpdate(self, op) -> Undo:
        key = update_key(op.jobUpdate.summary.key)
        stored = self.job_updates.get(key)
        details = JobUpdateDetails(update=op.jobUpdate, updateEvents=stored.updateEvents if stored else [],
                                   instanceEvents=stored.instanceEvents if stored else [])
        return _put(self.job_updates, key, _with_state(details))

    def _saveJobUpdateEvent(self, op) -> Undo:
        return self._add_event(op.key, "updateEvents", op.event)

    def _saveJobInstanceUpdateEvent(self, op) -> Undo:
        return self._add_event(op.key, "instanceEvents", op.event)

    def _add_event(self, key, field: str, event) -> Undo:
        stored = self.job_updates.get(update_key(key))
        if stored is None:
            log.warning("dropping a job update event for unknown update %s", update_key(key))
            return _nothing
        details = copy.copy(stored)
        events = list(getattr(stored, field) or ())
        # Timestamp order, an equal time after the ones already there (stable, as Aurora's sort); events come in
        # order almost always, so this is an append, not a sort of the whole list per event.
        bisect.insort_right(events, event, key=_event_time)
        setattr(details, field, events)
        return _put(self.job_updates, update_key(key), _with_state(details))

    def _pruneJobUpdateHistory(self, op) -> Undo:
        return _nothing

    def _removeJobUpdate(self, op) -> Undo:
        undos = [_put(self.job_updates, update_key(k), None) for k in op.keys or ()]
        return _chain(undos)

    def _saveHostMaintenanceRequest(self, op) -> Undo:
        request = op.hostMaintenanceRequest
        return _put(self.maintenance, request.host, request)

    def _removeHostMaintenanceRequest(self, op) -> Undo:
        return _put(self.maintenance, op.host, None)


def _with_state(details: JobUpdateDetails) -> JobUpdateDetails:
    """`details` with its summary's state synthesized from its events (MemJobUpdateStore); the structs given
    (an op's, a stored one's) are copied, never changed."""
    updates, instances = details.updateEvents or [], details.instanceEvents or []
    if not updates and not instances:
        return details
    state = JobUpdateState(status=updates[-1].status if updates else None,
                           createdTimestampMs=updates[0].timestampMs if updates else None,
                           lastModifiedTimestampMs=updates[-1].timestampMs if updates else 0)
    if instances:
        state.lastModifiedTimestampMs = max(state.lastModifiedTimestampMs or 0, instances[-1].timestampMs or 0)
    summary = copy.copy(details.update.summary)
    summary.state = state
    update = copy.copy(details.update)
    update.summary = summary
    details = copy.copy(details)
    details.update = update
    return details


def _event_time(event) -> int:
    return event.timestampMs or 0


def _put(mapping: dict, key, value) -> Undo:
    """mapping[key] = value (None: delete); returns what restores the previous state."""
    absent = key not in mapping
    previous = mapping.pop(key, None) if value is None else mapping.get(key)
    if value is not None:
        mapping[key] = value

    def undo():
        if absent:
            mapping.pop(key, None)
        else:
            mapping[key] = previous
    return undo


def _chain(undos: list[Undo]) -> Undo:
    def undo():
        for u in reversed(undos):
            u()
    return undo


def _nothing() -> None:
    pass
