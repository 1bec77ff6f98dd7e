"""The task store: ScheduledTasks by task id, indexed by job and by agent host, queried by TaskQuery.

Guarantees: `fetch` answers exactly the tasks matching every field the query sets (Aurora's TaskQuery is an
AND of its fields; an empty set matches nothing), offset and limit applied last to an order that is
stable while the store does not change (Aurora answers sets: callers sort); the indexes always agree with
the tasks. Stored tasks are shared, never copied: treat them as
immutable and save a new ScheduledTask to change one (rollback and snapshots rely on it).
"""

from __future__ import annotations

from collections.abc import Iterator

from thermos_executor.aurora_api import job_key
from thermos_executor.aurora_api.gen.ttypes import ScheduledTask, TaskQuery


class TaskStore:
    def __init__(self):
        self._tasks: dict[str, ScheduledTask] = {}
        self._by_job: dict[tuple[str, str, str], dict[str, None]] = {}  # dicts: ordered sets
        self._by_host: dict[str, dict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[ScheduledTask]:
        return iter(self._tasks.values())

    def get(self, task_id: str) -> ScheduledTask | None:
        return self._tasks.get(task_id)

    def put(self, task: ScheduledTask) -> ScheduledTask | None:
        """Store `task` (replacing the task of its id); the task it replaced."""
        task_id = task.assignedTask.taskId
        previous = self._tasks.get(task_id)
        if previous is not None:
            self._unindex(previous)
        self._tasks[task_id] = task
        self._by_job.setdefault(job_key(task.assignedTask.task.job), {})[task_id] = None
        host = task.assignedTask.slaveHost
        if host:
            self._by_host.setdefault(host, {})[task_id] = None
        return previous

    def remove(self, task_id: str) -> ScheduledTask | None:
        """Delete the task of `task_id`; the task deleted, if there was one."""
        previous = self._tasks.pop(task_id, None)
        if previous is not None:
            self._unindex(previous)
        return previous

    def fetch(self, query: TaskQuery | None = None) -> list[ScheduledTask]:
        """The tasks matching `query` (all tasks for None)."""
        if query is None:
            return list(self._tasks.values())
        keys = None if query.jobKeys is None else {job_key(k) for k in query.jobKeys}
        tasks = [t for t in self._candidates(query) if _matches(t, query, keys)]
        start = query.offset or 0
        return tasks[start:start + query.limit] if query.limit else tasks[start:]

    def job_keys(self) -> list[tuple[str, str, str]]:
        """Every job that has a task, as (role, environment, name)."""
        return list(self._by_job)

    def _candidates(self, query: TaskQuery) -> Iterator[ScheduledTask]:
        if query.taskIds is not None:
            ids = query.taskIds
        elif query.jobKeys is not None:
            ids = [i for k in query.jobKeys for i in self._by_job.get(job_key(k), ())]
        elif None not in (query.role, query.environment, query.jobName):
            ids = self._by_job.get((query.role, query.environment, query.jobName), ())
        elif query.slaveHosts is not None:
            ids = [i for h in query.slaveHosts for i in self._by_host.get(h, ())]
        elif query.role is not None:    # a role's jobs (getJobs, summaries, quotas): its keys, not every task
            ids = [i for key, job in self._by_job.items() if key[0] == query.role for i in job]
        else:
            return iter(self._tasks.values())
        found = (self._tasks.get(i) for i in dict.fromkeys(ids))
        return (t for t in found if t is not None)

    def _unindex(self, task: ScheduledTask) -> None:
        task_id = task.assignedTask.taskId
        key = job_key(task.assignedTask.task.job)
        ids = self._by_job.get(key)
        if ids is not None:
            ids.pop(task_id, None)
            if not ids:
                del self._by_job[key]
        host = task.assignedTask.slaveHost
        ids = self._by_host.get(host) if host else None
        if ids is not None:
            ids.pop(task_id, None)
            if not ids:
                del self._by_host[host]


def _matches(task: ScheduledTask, q: TaskQuery, job_keys: set | None) -> bool:
    assigned = task.assignedTask
    job = assigned.task.job
    return ((q.role is None or job.role == q.role)
            and (q.environment is None or job.environment == q.environment)
            and (q.jobName is None or job.name == q.jobName)
            and (q.taskIds is None or assigned.taskId in q.taskIds)
            and (q.statuses is None or task.status in q.statuses)
            and (q.instanceIds is None or assigned.instanceId in q.instanceIds)
            and (q.slaveHosts is None or assigned.slaveHost in q.slaveHosts)
            and (job_keys is None or job_key(job) in job_keys))
