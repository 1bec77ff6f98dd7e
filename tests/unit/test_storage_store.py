"""The in-memory store: each op's effect and its exact undo, task queries with their indexes, and the
snapshot round trip (plain, and deduplicated + deflated as written to the log)."""
import pytest

from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Attribute, HostAttributes, HostMaintenanceRequest, Identity, JobConfiguration,
    JobInstanceUpdateEvent, JobKey, JobUpdate, JobUpdateAction, JobUpdateEvent, JobUpdateKey, JobUpdateStatus,
    JobUpdateState, JobUpdateSummary, MaintenanceMode, Resource, ResourceAggregate, ScheduledTask, ScheduleStatus,
    TaskConfig, TaskQuery)
from scheduler.storage import codec, dedup, snapshot
from scheduler.storage.gen import ttypes as st
from scheduler.storage.store import Store

WWW = JobKey(role="www", environment="prod", name="hello")
DB = JobKey(role="db", environment="test", name="pg")
CONFIGS = {WWW: TaskConfig(job=WWW, resources={Resource(numCpus=1.0)}),
           DB: TaskConfig(job=DB, resources={Resource(ramMb=64)})}
UPDATE = JobUpdateKey(job=WWW, id="u1")


def _task(job, instance, status=ScheduleStatus.PENDING, host=None, task_id=None) -> ScheduledTask:
    """A task; its default id is role-name-instance-status (statuses are ints: PENDING is 0, RUNNING 2)."""
    return ScheduledTask(
        assignedTask=AssignedTask(taskId=task_id or f"{job.role}-{job.name}-{instance}-{status}", task=CONFIGS[job],
                                  instanceId=instance, slaveHost=host, slaveId=host and f"id-{host}"),
        status=status, failureCount=0, taskEvents=[])


def _state(store: Store) -> dict:
    return {"tasks": {t.assignedTask.taskId: t for t in store.tasks}, "fw": store.framework_id,
            "cron": dict(store.cron_jobs), "cron_last_run": dict(store.cron_last_run),
            "quotas": dict(store.quotas), "attrs": dict(store.host_attributes),
            "updates": dict(store.job_updates), "maintenance": dict(store.maintenance),
            "jobs": sorted(store.tasks.job_keys())}


def _populated() -> Store:
    store = Store()
    for op in OPS:
        store.apply(op)
    return store


OPS = [
    st.Op(saveFrameworkId=st.SaveFrameworkId(id="fw-1")),
    st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, 0), _task(WWW, 1, ScheduleStatus.RUNNING, "h1"),
                                        _task(DB, 0, ScheduleStatus.RUNNING, "h2")])),
    st.Op(saveCronJob=st.SaveCronJob(jobConfig=JobConfiguration(key=DB, owner=Identity(user="db"),
                                                                cronSchedule="0 * * * *", taskConfig=CONFIGS[DB],
                                                                instanceCount=1))),
    st.Op(saveQuota=st.SaveQuota(role="www", quota=ResourceAggregate(resources={Resource(numCpus=4.0)}))),
    st.Op(saveHostAttributes=st.SaveHostAttributes(hostAttributes=HostAttributes(
        host="h1", attributes={Attribute(name="rack", values={"a"})}, slaveId="id-h1"))),
    st.Op(saveJobUpdate=st.SaveJobUpdate(jobUpdate=JobUpdate(summary=JobUpdateSummary(key=UPDATE, user="me")))),
    st.Op(saveJobUpdateEvent=st.SaveJobUpdateEvent(
        key=UPDATE, event=JobUpdateEvent(status=JobUpdateStatus.ROLLING_FORWARD, timestampMs=10))),
    st.Op(saveJobInstanceUpdateEvent=st.SaveJobInstanceUpdateEvent(
        key=UPDATE, event=JobInstanceUpdateEvent(instanceId=0, timestampMs=11,
                                                 action=JobUpdateAction.INSTANCE_UPDATING))),
    st.Op(saveHostMaintenanceRequest=st.SaveHostMaintenanceRequest(
        hostMaintenanceRequest=HostMaintenanceRequest(host="h2", timeoutSecs=60, createdTimestampMs=1))),
]

MORE_OPS = [  # applied on top of OPS, each one undone again
    st.Op(saveFrameworkId=st.SaveFrameworkId(id="fw-2")),
    st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, 0, ScheduleStatus.ASSIGNED, "h3", task_id="www-hello-0-0")])),
    st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, 1, ScheduleStatus.FINISHED, "h9",
                                              task_id="www-hello-1-2")])),
    st.Op(removeTasks=st.RemoveTasks(taskIds={"www-hello-1-2", "db-pg-0-2", "nope"})),
    st.Op(removeJob=st.RemoveJob(jobKey=DB)),
    st.Op(removeQuota=st.RemoveQuota(role="www")),
    st.Op(saveHostAttributes=st.SaveHostAttributes(hostAttributes=HostAttributes(
        host="h1", attributes=set(), mode=MaintenanceMode.DRAINED))),
    st.Op(saveJobUpdate=st.SaveJobUpdate(jobUpdate=JobUpdate(summary=JobUpdateSummary(key=UPDATE, user="you")))),
    st.Op(saveJobUpdateEvent=st.SaveJobUpdateEvent(
        key=UPDATE, event=JobUpdateEvent(status=JobUpdateStatus.ROLLED_FORWARD, timestampMs=12))),
    st.Op(removeJobUpdate=st.RemoveJobUpdates(keys=[UPDATE])),
    st.Op(removeHostMaintenanceRequest=st.RemoveHostMaintenanceRequest(host="h2")),
    st.Op(pruneJobUpdateHistory=st.PruneJobUpdateHistory(perJobRetainCount=1, historyPruneThresholdMs=1)),
]


def test_ops_take_effect_as_aurora_stores_do():
    store = _populated()
    assert store.framework_id == "fw-1"
    assert len(store.tasks) == 3 and sorted(store.tasks.job_keys()) == [("db", "test", "pg"), ("www", "prod", "hello")]
    assert store.cron_jobs[("db", "test", "pg")].cronSchedule == "0 * * * *"
    assert store.host_attributes["h1"].mode == MaintenanceMode.NONE  # unset mode: NONE for a new host
    details = store.job_updates[(("www", "prod", "hello"), "u1")]
    assert [e.timestampMs for e in details.updateEvents] == [10] and len(details.instanceEvents) == 1
    store.apply(MORE_OPS[7])  # a new definition keeps the events
    assert store.job_updates[(("www", "prod", "hello"), "u1")].updateEvents == details.updateEvents
    store.apply(st.Op(saveHostAttributes=st.SaveHostAttributes(hostAttributes=HostAttributes(
        host="h1", attributes=set(), mode=MaintenanceMode.DRAINING))))
    store.apply(OPS[4])  # unset mode keeps the stored one
    assert store.host_attributes["h1"].mode == MaintenanceMode.DRAINING


def test_an_update_state_is_synthesized_from_its_events_in_time_order():
    store = Store()
    saved = JobUpdateState(status=JobUpdateStatus.ABORTED, createdTimestampMs=1, lastModifiedTimestampMs=2)
    definition = JobUpdate(summary=JobUpdateSummary(key=UPDATE, user="me", state=saved))
    store.apply(st.Op(saveJobUpdate=st.SaveJobUpdate(jobUpdate=definition)))
    assert store.job_updates[(("www", "prod", "hello"), "u1")].update.summary.state == saved  # no event yet
    S = JobUpdateStatus
    for status, at in ((S.ROLL_FORWARD_PAUSED, 30), (S.ROLLING_FORWARD, 10)):  # recorded out of order
        store.apply(st.Op(saveJobUpdateEvent=st.SaveJobUpdateEvent(
            key=UPDATE, event=JobUpdateEvent(status=status, timestampMs=at))))
    details = store.job_updates[(("www", "prod", "hello"), "u1")]
    assert [e.timestampMs for e in details.updateEvents] == [10, 30]
    assert details.update.summary.state == JobUpdateState(status=S.ROLL_FORWARD_PAUSED, createdTimestampMs=10,
                                                          lastModifiedTimestampMs=30)
    store.apply(OPS[7])  # an instance event at 11 does not move lastModified back
    assert store.job_updates[(("www", "prod", "hello"), "u1")].update.summary.state.lastModifiedTimestampMs == 30
    store.apply(st.Op(saveJobInstanceUpdateEvent=st.SaveJobInstanceUpdateEvent(
        key=UPDATE, event=JobInstanceUpdateEvent(instanceId=1, timestampMs=40,
                                                 action=JobUpdateAction.INSTANCE_UPDATED))))
    assert store.job_updates[(("www", "prod", "hello"), "u1")].update.summary.state.lastModifiedTimestampMs == 40
    store.apply(st.Op(saveJobUpdate=st.SaveJobUpdate(jobUpdate=definition)))  # re-saved: its events still count
    assert store.job_updates[(("www", "prod", "hello"), "u1")].update.summary.state.status == S.ROLL_FORWARD_PAUSED
    assert definition.summary.state == saved  # the op's struct is not changed


def test_an_event_for_an_unknown_update_is_dropped():
    store = Store()
    store.apply(OPS[6])
    assert store.job_updates == {}


@pytest.mark.parametrize("op", MORE_OPS, ids=lambda op: codec.kind(op))
def test_every_undo_restores_the_store_exactly(op):
    store = _populated()
    before = _state(store)
    undo = store.apply(op)
    undo()
    assert _state(store) == before


def test_undos_in_reverse_restore_a_whole_sequence():
    store = _populated()
    before = _state(store)
    undos = [store.apply(op) for op in MORE_OPS]
    assert _state(store) != before
    for undo in reversed(undos):
        undo()
    assert _state(store) == before


def test_an_op_with_nothing_set_is_refused():
    with pytest.raises(ValueError):
        Store().apply(st.Op())


@pytest.mark.parametrize("query, expected", [
    (None, {"www-hello-0-1", "www-hello-1-2", "db-pg-0-2"}),
    (TaskQuery(role="www"), {"www-hello-0-1", "www-hello-1-2"}),
    (TaskQuery(role="www", environment="prod", jobName="hello"), {"www-hello-0-1", "www-hello-1-2"}),
    (TaskQuery(role="www", environment="test", jobName="hello"), set()),
    (TaskQuery(environment="test"), {"db-pg-0-2"}),
    (TaskQuery(jobName="pg"), {"db-pg-0-2"}),
    (TaskQuery(jobKeys={DB, WWW}, statuses={ScheduleStatus.RUNNING}), {"www-hello-1-2", "db-pg-0-2"}),
    (TaskQuery(jobKeys={WWW}, instanceIds={0}), {"www-hello-0-1"}),
    (TaskQuery(taskIds={"db-pg-0-2", "nope"}), {"db-pg-0-2"}),
    (TaskQuery(taskIds={"db-pg-0-2"}, role="www"), set()),
    (TaskQuery(slaveHosts={"h1", "h2"}), {"www-hello-1-2", "db-pg-0-2"}),
    (TaskQuery(slaveHosts={"h1"}, role="db"), set()),
    (TaskQuery(statuses={ScheduleStatus.PENDING}), {"www-hello-0-1"}),
    (TaskQuery(statuses=set()), set()),
    (TaskQuery(jobKeys=set()), set()),
])
def test_task_queries(query, expected):
    store = Store()
    store.apply(st.Op(saveTasks=st.SaveTasks(tasks=[
        _task(WWW, 0, task_id="www-hello-0-1"), _task(WWW, 1, ScheduleStatus.RUNNING, "h1", task_id="www-hello-1-2"),
        _task(DB, 0, ScheduleStatus.RUNNING, "h2", task_id="db-pg-0-2")])))
    assert {t.assignedTask.taskId for t in store.tasks.fetch(query)} == expected


def test_offset_and_limit_page_through_a_stable_order():
    store = Store()
    store.apply(st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, i, task_id=f"t{i}") for i in range(10)])))
    pages = [store.tasks.fetch(TaskQuery(role="www", offset=o, limit=4)) for o in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 4, 2]
    assert {t.assignedTask.taskId for p in pages for t in p} == {f"t{i}" for i in range(10)}


def test_indexes_follow_moves_and_removals():
    store = Store()
    store.apply(st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, 0, ScheduleStatus.RUNNING, "h1", task_id="t")])))
    store.apply(st.Op(saveTasks=st.SaveTasks(tasks=[_task(WWW, 0, ScheduleStatus.RUNNING, "h2", task_id="t")])))
    assert store.tasks.fetch(TaskQuery(slaveHosts={"h1"})) == []
    assert len(store.tasks.fetch(TaskQuery(slaveHosts={"h2"}))) == 1
    store.apply(st.Op(removeTasks=st.RemoveTasks(taskIds={"t"})))
    assert store.tasks.fetch(TaskQuery(slaveHosts={"h2"})) == [] and store.tasks.job_keys() == []


def test_snapshot_round_trip_plain_and_as_written_to_the_log():
    store = _populated()
    taken = snapshot.build(store, 1234, {"version": "test"})
    assert taken.timestamp == 1234 and taken.schemaVersion == 1
    assert taken.schedulerMetadata == st.SchedulerMetadata(frameworkId="fw-1", details={"version": "test"})

    plain = Store()
    snapshot.load(plain, codec.decode(codec.encode(taken), st.Snapshot))
    assert _state(plain) == _state(store)

    written = codec.deflate(st.LogEntry(deduplicatedSnapshot=dedup.deduplicate(taken)))
    read = codec.inflate(codec.decode(codec.encode(written)))
    from_log = Store()
    from_log.apply(st.Op(saveTasks=st.SaveTasks(tasks=[_task(DB, 5, task_id="left-over")])))
    snapshot.load(from_log, dedup.reduplicate(read.deduplicatedSnapshot))  # replaces what was there
    assert _state(from_log) == _state(store)


def test_deduplication_stores_each_config_once_and_leaves_the_tasks_alone():
    tasks = [_task(WWW, i, task_id=f"w{i}") for i in range(5)] + [_task(DB, 0, task_id="d")]
    tasks.append(_task(WWW, 9, task_id="copy"))
    tasks[-1].assignedTask.task = TaskConfig(job=WWW, resources={Resource(numCpus=1.0)})  # equal, not the same
    deduplicated = dedup.deduplicate(st.Snapshot(timestamp=1, tasks=tasks))
    assert deduplicated.taskConfigs == [CONFIGS[WWW], CONFIGS[DB]]
    assert [p.taskConfigId for p in deduplicated.partialTasks] == [0, 0, 0, 0, 0, 1, 0]
    assert all(p.partialScheduledTask.assignedTask.task is None for p in deduplicated.partialTasks)
    assert all(t.assignedTask.task is not None for t in tasks)
    assert deduplicated.partialSnapshot.tasks is None
    full = dedup.reduplicate(codec.decode(codec.encode(deduplicated), st.DeduplicatedSnapshot))
    assert full.tasks == tasks
    assert full.tasks[0].assignedTask.task is full.tasks[6].assignedTask.task  # one object per config
