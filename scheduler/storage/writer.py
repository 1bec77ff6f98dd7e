"""What a storage write may do: one method per op kind, each applied to the store at once and recorded.

A `Writer` is handed out by `DurableStorage.write()`; every call builds the op, applies it to the in-memory
store (keeping its undo) and adds it to the transaction's `TransactionRecorder`. Nothing reaches the log
until the outermost write ends. `writer.store` reads the store, this write's changes included.
"""

from __future__ import annotations

from collections.abc import Iterable

from .gen.ttypes import (Op, RemoveHostMaintenanceRequest, RemoveJob, RemoveJobUpdates, RemoveQuota, RemoveTasks,
                         SaveCronJob, SaveFrameworkId, SaveHostAttributes, SaveHostMaintenanceRequest,
                         SaveJobInstanceUpdateEvent, SaveJobUpdate, SaveJobUpdateEvent, SaveQuota, SaveTasks)
from .recorder import TransactionRecorder
from .store import Store, Undo


class Transaction:
    """The ops and undos of one outermost write."""

    def __init__(self, store: Store):
        self.store = store
        self.recorder = TransactionRecorder()
        self.undos: list[Undo] = []

    def record(self, op: Op) -> None:
        self.undos.append(self.store.apply(op))
        self.recorder.add(op)

    def rollback(self) -> None:
        """Undo every op recorded, newest first: the store is as it was before the write."""
        while self.undos:
            self.undos.pop()()


class Writer:
    def __init__(self, transaction: Transaction):
        self._tx = transaction
        self.store = transaction.store

    def save_framework_id(self, framework_id: str) -> None:
        self._tx.record(Op(saveFrameworkId=SaveFrameworkId(id=framework_id)))

    def save_cron_job(self, job_config, last_run_ms: int | None = None) -> None:
        self._tx.record(Op(saveCronJob=SaveCronJob(jobConfig=job_config, lastRunMs=last_run_ms)))

    def remove_job(self, job_key) -> None:
        self._tx.record(Op(removeJob=RemoveJob(jobKey=job_key)))

    def save_tasks(self, tasks: Iterable) -> None:
        self._tx.record(Op(saveTasks=SaveTasks(tasks=list(tasks))))

    def remove_tasks(self, task_ids: Iterable[str]) -> None:
        self._tx.record(Op(removeTasks=RemoveTasks(taskIds=set(task_ids))))

    def save_quota(self, role: str, quota) -> None:
        self._tx.record(Op(saveQuota=SaveQuota(role=role, quota=quota)))

    def remove_quota(self, role: str) -> None:
        self._tx.record(Op(removeQuota=RemoveQuota(role=role)))

    def save_host_attributes(self, attributes) -> None:
        self._tx.record(Op(saveHostAttributes=SaveHostAttributes(hostAttributes=attributes)))

    def save_job_update(self, job_update) -> None:
        self._tx.record(Op(saveJobUpdate=SaveJobUpdate(jobUpdate=job_update)))

    def save_job_update_event(self, key, event) -> None:
        self._tx.record(Op(saveJobUpdateEvent=SaveJobUpdateEvent(event=event, key=key)))

    def save_job_instance_update_event(self, key, event) -> None:
        self._tx.record(Op(saveJobInstanceUpdateEvent=SaveJobInstanceUpdateEvent(event=event, key=key)))

    def remove_job_updates(self, keys: Iterable) -> None:
        self._tx.record(Op(removeJobUpdate=RemoveJobUpdates(keys=list(keys))))

    def save_host_maintenance_request(self, request) -> None:
        self._tx.record(Op(saveHostMaintenanceRequest=SaveHostMaintenanceRequest(hostMaintenanceRequest=request)))

    def remove_host_maintenance_request(self, host: str) -> None:
        self._tx.record(Op(removeHostMaintenanceRequest=RemoveHostMaintenanceRequest(host=host)))
