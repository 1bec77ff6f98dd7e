"""The whole store as a Snapshot, and a Snapshot loaded into a store (Aurora's SnapshotStoreImpl).

Guarantees: `load(store, build(store, t))` leaves an equal store; `load` first deletes everything, so a
snapshot read from the log replaces whatever replay had built before it. Pure (the time is given).

The snapshots built here hold lists where the schema says set (see codec's docstring); `load` takes either.
"""

from __future__ import annotations

from thermos_executor.aurora_api.gen.ttypes import JobUpdateDetails

from .gen.constants import CURRENT_SCHEMA_VERSION
from .gen.ttypes import (Op, QuotaConfiguration, SaveFrameworkId, SchedulerMetadata, Snapshot, StoredCronJob,
                         StoredJobUpdateDetails)
from .store import Store, update_key
from thermos_executor.aurora_api import job_key


def build(store: Store, timestamp_ms: int, details: dict[str, str] | None = None) -> Snapshot:
    """A snapshot of `store` taken at `timestamp_ms`; `details` goes to schedulerMetadata.details."""
    return Snapshot(
        timestamp=timestamp_ms,
        schemaVersion=CURRENT_SCHEMA_VERSION,
        hostAttributes=list(store.host_attributes.values()),
        tasks=list(store.tasks),
        cronJobs=[StoredCronJob(jobConfiguration=c, lastRunMs=store.cron_last_run.get(k))
                  for k, c in store.cron_jobs.items()],
        schedulerMetadata=SchedulerMetadata(frameworkId=store.framework_id, details=dict(details or {})),
        quotaConfigurations=[QuotaConfiguration(role=r, quota=q) for r, q in store.quotas.items()],
        jobUpdateDetails=[StoredJobUpdateDetails(details=d) for d in store.job_updates.values()],
        hostMaintenanceRequests=list(store.maintenance.values()),
    )


def load(store: Store, snapshot: Snapshot) -> None:
    """Replace everything in `store` with the contents of `snapshot`."""
    store.reset()
    metadata = snapshot.schedulerMetadata
    if metadata is not None and metadata.frameworkId is not None:
        store.apply(Op(saveFrameworkId=SaveFrameworkId(id=metadata.frameworkId)))
    put = store.tasks.put
    for task in snapshot.tasks or ():
        put(task)
    for attributes in snapshot.hostAttributes or ():
        store.host_attributes[attributes.host] = attributes
    for cron in snapshot.cronJobs or ():
        store.cron_jobs[job_key(cron.jobConfiguration.key)] = cron.jobConfiguration
        if cron.lastRunMs is not None:
            store.cron_last_run[job_key(cron.jobConfiguration.key)] = cron.lastRunMs
    for quota in snapshot.quotaConfigurations or ():
        store.quotas[quota.role] = quota.quota
    for stored in snapshot.jobUpdateDetails or ():
        d = stored.details
        store.job_updates[update_key(d.update.summary.key)] = JobUpdateDetails(
            update=d.update, updateEvents=list(d.updateEvents or ()), instanceEvents=list(d.instanceEvents or ()))
    for request in snapshot.hostMaintenanceRequests or ():
        store.maintenance[request.host] = request
