"""The storage schema: Aurora's field ids, generated code freshness, every op through encode/decode,
schema-version refusal, and one clear error for garbage."""
import filecmp

import pytest
from thrift.Thrift import TType

from scheduler.api import codegen
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Attribute, HostAttributes, HostMaintenanceRequest, Identity, JobConfiguration,
    JobInstanceUpdateEvent, JobKey, JobUpdate, JobUpdateAction, JobUpdateEvent, JobUpdateKey, JobUpdateStatus,
    JobUpdateSummary, MaintenanceMode, Resource, ResourceAggregate, ScheduledTask, ScheduleStatus, TaskConfig,
    TaskEvent)
from scheduler.storage import codec
from scheduler.storage.gen import ttypes as st
from scheduler.storage.gen.constants import CURRENT_SCHEMA_VERSION

JOB = JobKey(role="www", environment="prod", name="hello")
CONFIG = TaskConfig(job=JOB, owner=Identity(user="www"), isService=True, priority=0, maxTaskFailures=1,
                    resources={Resource(numCpus=1.0), Resource(ramMb=128)}, constraints=set())
TASK = ScheduledTask(assignedTask=AssignedTask(taskId="www-prod-hello-0-x", slaveId="s1", slaveHost="h1",
                                               task=CONFIG, assignedPorts={"http": 31000}, instanceId=0),
                     status=ScheduleStatus.RUNNING, failureCount=1, timesPartitioned=0,
                     taskEvents=[TaskEvent(timestamp=1, status=ScheduleStatus.PENDING, scheduler="s")])
UPDATE_KEY = JobUpdateKey(job=JOB, id="u1")

# One op of every kind, as the writer builds them (sets given as lists where the writer does so).
EVERY_OP = [
    st.Op(saveFrameworkId=st.SaveFrameworkId(id="fw-1")),
    st.Op(saveCronJob=st.SaveCronJob(jobConfig=JobConfiguration(key=JOB, owner=Identity(user="www"),
                                                                cronSchedule="* * * * *", taskConfig=CONFIG,
                                                                instanceCount=1), lastRunMs=60_000)),
    st.Op(removeJob=st.RemoveJob(jobKey=JOB)),
    st.Op(saveTasks=st.SaveTasks(tasks={TASK})),
    st.Op(removeTasks=st.RemoveTasks(taskIds={"a", "b"})),
    st.Op(saveQuota=st.SaveQuota(role="www", quota=ResourceAggregate(resources={Resource(numCpus=2.0)}))),
    st.Op(removeQuota=st.RemoveQuota(role="www")),
    st.Op(saveHostAttributes=st.SaveHostAttributes(hostAttributes=HostAttributes(
        host="h1", attributes={Attribute(name="rack", values={"r1"})}, mode=MaintenanceMode.NONE, slaveId="s1"))),
    st.Op(saveJobUpdate=st.SaveJobUpdate(jobUpdate=JobUpdate(summary=JobUpdateSummary(key=UPDATE_KEY, user="u")))),
    st.Op(saveJobUpdateEvent=st.SaveJobUpdateEvent(
        event=JobUpdateEvent(status=JobUpdateStatus.ROLLING_FORWARD, timestampMs=5), key=UPDATE_KEY)),
    st.Op(saveJobInstanceUpdateEvent=st.SaveJobInstanceUpdateEvent(
        event=JobInstanceUpdateEvent(instanceId=0, timestampMs=6, action=JobUpdateAction.INSTANCE_UPDATED),
        key=UPDATE_KEY)),
    st.Op(pruneJobUpdateHistory=st.PruneJobUpdateHistory(perJobRetainCount=5, historyPruneThresholdMs=1000)),
    st.Op(removeJobUpdate=st.RemoveJobUpdates(keys={UPDATE_KEY})),
    st.Op(saveHostMaintenanceRequest=st.SaveHostMaintenanceRequest(
        hostMaintenanceRequest=HostMaintenanceRequest(host="h1", timeoutSecs=60, createdTimestampMs=7))),
    st.Op(removeHostMaintenanceRequest=st.RemoveHostMaintenanceRequest(host="h1")),
]


def _ids(struct) -> dict[str, tuple[int, int]]:
    return {f[2]: (f[0], f[1]) for f in struct.thrift_spec if f}


def test_field_ids_and_types_are_aurora_0_22s():
    assert _ids(st.LogEntry) == {"snapshot": (1, TType.STRUCT), "transaction": (2, TType.STRUCT),
                                 "noop": (3, TType.BOOL), "frame": (4, TType.STRUCT),
                                 "deflatedEntry": (5, TType.STRING), "deduplicatedSnapshot": (6, TType.STRUCT)}
    assert {k: v[0] for k, v in _ids(st.Op).items()} == {
        "saveFrameworkId": 1, "saveCronJob": 2, "removeJob": 5, "saveTasks": 6, "removeTasks": 7, "saveQuota": 8,
        "removeQuota": 9, "saveHostAttributes": 10, "saveJobUpdate": 14, "saveJobUpdateEvent": 15,
        "saveJobInstanceUpdateEvent": 16, "pruneJobUpdateHistory": 17, "removeJobUpdate": 18,
        "saveHostMaintenanceRequest": 19, "removeHostMaintenanceRequest": 20}
    assert _ids(st.Transaction) == {"ops": (1, TType.LIST), "schemaVersion": (2, TType.I32)}
    assert _ids(st.Snapshot) == {
        "timestamp": (1, TType.I64), "hostAttributes": (3, TType.SET), "tasks": (4, TType.SET),
        "cronJobs": (5, TType.SET), "schedulerMetadata": (6, TType.STRUCT), "quotaConfigurations": (8, TType.SET),
        "jobUpdateDetails": (10, TType.SET), "hostMaintenanceRequests": (13, TType.SET),
        "schemaVersion": (100, TType.I32)}
    assert _ids(st.SaveTasks) == {"tasks": (1, TType.SET)}
    # Aurora's ids, and ours at 100 (the cron run handled last, docs/scheduler.md "Cron").
    assert _ids(st.SaveCronJob) == {"jobConfig": (2, TType.STRUCT), "lastRunMs": (100, TType.I64)}
    assert _ids(st.StoredCronJob) == {"jobConfiguration": (3, TType.STRUCT), "lastRunMs": (100, TType.I64)}
    assert _ids(st.FrameHeader) == {"chunkCount": (1, TType.I32), "checksum": (2, TType.STRING)}
    assert _ids(st.FrameChunk) == {"data": (2, TType.STRING)}
    assert _ids(st.DeduplicatedScheduledTask) == {"partialScheduledTask": (1, TType.STRUCT),
                                                  "taskConfigId": (2, TType.I32)}
    assert _ids(st.SaveJobUpdateEvent) == {"event": (1, TType.STRUCT), "key": (3, TType.STRUCT)}
    assert CURRENT_SCHEMA_VERSION == 1


def test_generated_storage_code_is_fresh(tmp_path):
    codegen.generate(tmp_path / "gen", codegen.STORAGE_IDL)
    comparison = filecmp.dircmp(tmp_path / "gen", codegen.STORAGE_GEN_DIR, ignore=["__pycache__"])
    stale = comparison.left_only + comparison.right_only + comparison.diff_files
    stale += filecmp.cmpfiles(tmp_path / "gen", codegen.STORAGE_GEN_DIR, comparison.common_files, shallow=False)[1]
    assert not stale, f"scheduler/storage/gen is stale ({stale}): run `make gen`"


def test_hand_assembled_noop_entry_decodes():
    # LogEntry{3: bool true}: field header (BOOL=2, id 3), value 1, STOP.
    assert codec.decode(bytes([2, 0, 3, 1, 0])) == st.LogEntry(noop=True)
    assert codec.encode(st.LogEntry(noop=True)) == bytes([2, 0, 3, 1, 0])


@pytest.mark.parametrize("op", EVERY_OP, ids=lambda op: codec.kind(op))
def test_every_op_round_trips_through_a_transaction(op):
    entry = codec.transaction([op])
    decoded = codec.decode(codec.encode(entry))
    assert decoded == entry
    assert decoded.transaction.schemaVersion == CURRENT_SCHEMA_VERSION
    codec.check_version(decoded)


def test_sets_given_as_lists_encode_as_the_same_bytes():
    as_set = codec.transaction([st.Op(saveTasks=st.SaveTasks(tasks={TASK}))])
    as_list = codec.transaction([st.Op(saveTasks=st.SaveTasks(tasks=[TASK]))])
    assert codec.encode(as_set) == codec.encode(as_list)


def test_deflated_entry_round_trips():
    entry = codec.transaction(EVERY_OP)
    deflated = codec.deflate(entry)
    assert deflated.deflatedEntry is not None and len(deflated.deflatedEntry) < len(codec.encode(entry))
    assert codec.inflate(codec.decode(codec.encode(deflated))) == entry


def test_a_newer_schema_is_refused_with_one_clear_error():
    newer = st.LogEntry(transaction=st.Transaction(ops=[EVERY_OP[0]], schemaVersion=CURRENT_SCHEMA_VERSION + 1))
    with pytest.raises(codec.SchemaVersionError, match=r"transaction has storage schema version 2, newer than "
                                                       r"this scheduler's 1: run a scheduler that knows it"):
        codec.check_version(codec.decode(codec.encode(newer)))
    snapshot = st.LogEntry(snapshot=st.Snapshot(timestamp=1, schemaVersion=7))
    with pytest.raises(codec.SchemaVersionError, match="snapshot has storage schema version 7"):
        codec.check_version(snapshot)


def test_aurora_entries_without_versions_read_as_version_1():
    codec.check_version(st.LogEntry(snapshot=st.Snapshot(timestamp=1)))
    codec.check_version(st.LogEntry(transaction=st.Transaction(ops=[])))


def test_unknown_entry_and_op_kinds_are_refused():
    # LogEntry{7: bool true}: a kind a newer writer might add; it decodes to an empty union.
    unknown = codec.decode(bytes([2, 0, 7, 1, 0]))
    with pytest.raises(codec.SchemaVersionError, match="kind this scheduler does not know"):
        codec.kind(unknown)
    with pytest.raises(codec.SchemaVersionError, match="op of a kind this scheduler does not know"):
        codec.check_version(codec.transaction([st.Op()]))


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", b"\x0c\x00\x02\x0f\x00\x01\x0c\x7f\xff\xff\xff",
                                     codec.encode(codec.transaction(EVERY_OP))[:-7]])
def test_garbage_is_one_coding_error(garbage):
    with pytest.raises(codec.CodingError, match="undecodable LogEntry"):
        codec.decode(garbage)
