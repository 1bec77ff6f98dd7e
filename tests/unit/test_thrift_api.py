"""Aurora's Thrift API: the IDL against Aurora 0.22's facts, bytes against hand-built Aurora encodings,
round trips through a client built from our IDL in both protocols, and every kind of bad request."""

import asyncio
import filecmp
import random
import struct

import pytest
from thrift.protocol import TBinaryProtocol, TJSONProtocol
from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.transport import TTransport

from scheduler.api import client, codegen, envelope, protocol
from thermos_executor.aurora_api.gen import AuroraAdmin
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Container, JobConfiguration, JobKey, MesosContainer, Resource, ResourceAggregate, Response,
    ResponseCode, ResponseDetail, Result, RoleSummary, RoleSummaryResult, ScheduleStatus, ServerInfo, TaskConfig,
    TaskQuery,
)

INFO = ServerInfo(clusterName="devcluster", statsUrlPrefix="")
BOOL, I32, I64, DOUBLE, STRING = TType.BOOL, TType.I32, TType.I64, TType.DOUBLE, TType.STRING
STRUCT, MAP, SET, LIST = TType.STRUCT, TType.MAP, TType.SET, TType.LIST

# ------------------------------------------------------------------ Aurora 0.22's interface facts, restated

# method -> {argument id: (name, wire type)}, as in Aurora 0.22's api.thrift.
AURORA_METHODS = {
    "getRoleSummary": {}, "getJobSummary": {1: ("role", STRING)},
    "getTasksStatus": {1: ("query", STRUCT)}, "getTasksWithoutConfigs": {1: ("query", STRUCT)},
    "getPendingReason": {1: ("query", STRUCT)}, "getConfigSummary": {1: ("job", STRUCT)},
    "getJobs": {1: ("ownerRole", STRING)}, "getQuota": {1: ("ownerRole", STRING)},
    "populateJobConfig": {1: ("description", STRUCT)}, "getJobUpdateSummaries": {1: ("jobUpdateQuery", STRUCT)},
    "getJobUpdateDetails": {1: ("key", STRUCT), 2: ("query", STRUCT)},
    "getJobUpdateDiff": {1: ("request", STRUCT)}, "getTierConfigs": {},
    "createJob": {1: ("description", STRUCT)}, "scheduleCronJob": {1: ("description", STRUCT)},
    "descheduleCronJob": {4: ("job", STRUCT)}, "startCronJob": {4: ("job", STRUCT)},
    "restartShards": {5: ("job", STRUCT), 3: ("shardIds", SET)},
    "killTasks": {4: ("job", STRUCT), 5: ("instances", SET), 6: ("message", STRING)},
    "addInstances": {3: ("key", STRUCT), 4: ("count", I32)}, "replaceCronTemplate": {1: ("config", STRUCT)},
    "startJobUpdate": {1: ("request", STRUCT), 3: ("message", STRING)},
    "pauseJobUpdate": {1: ("key", STRUCT), 3: ("message", STRING)},
    "resumeJobUpdate": {1: ("key", STRUCT), 3: ("message", STRING)},
    "abortJobUpdate": {1: ("key", STRUCT), 3: ("message", STRING)},
    "rollbackJobUpdate": {1: ("key", STRUCT), 2: ("message", STRING)},
    "pulseJobUpdate": {1: ("key", STRUCT)},
    "setQuota": {1: ("ownerRole", STRING), 2: ("quota", STRUCT)},
    "forceTaskState": {1: ("taskId", STRING), 2: ("status", I32)},
    "performBackup": {}, "listBackups": {}, "stageRecovery": {1: ("backupId", STRING)},
    "queryRecovery": {1: ("query", STRUCT)}, "deleteRecoveryTasks": {1: ("query", STRUCT)},
    "commitRecovery": {}, "unloadRecovery": {},
    "startMaintenance": {1: ("hosts", STRUCT)}, "drainHosts": {1: ("hosts", STRUCT)},
    "maintenanceStatus": {1: ("hosts", STRUCT)}, "endMaintenance": {1: ("hosts", STRUCT)},
    "slaDrainHosts": {1: ("hosts", STRUCT), 2: ("defaultSlaPolicy", STRUCT), 3: ("timeoutSecs", I64)},
    "snapshot": {}, "triggerExplicitTaskReconciliation": {1: ("settings", STRUCT)},
    "triggerImplicitTaskReconciliation": {}, "pruneTasks": {1: ("query", STRUCT)},
}

# struct -> {field id: (name, wire type)} for the structs clients and the executor touch most.
AURORA_STRUCTS = {
    "Response": {1: ("responseCode", I32), 5: ("serverInfo", STRUCT), 3: ("result", STRUCT), 6: ("details", LIST)},
    "ServerInfo": {1: ("clusterName", STRING), 3: ("statsUrlPrefix", STRING)},
    "ResponseDetail": {1: ("message", STRING)},
    "JobKey": {1: ("role", STRING), 2: ("environment", STRING), 3: ("name", STRING)},
    "Identity": {2: ("user", STRING)},
    "TaskConfig": {
        28: ("job", STRUCT), 17: ("owner", STRUCT), 7: ("isService", BOOL), 11: ("priority", I32),
        13: ("maxTaskFailures", I32), 18: ("production", BOOL), 30: ("tier", STRING), 32: ("resources", SET),
        20: ("constraints", SET), 33: ("mesosFetcherUris", SET), 22: ("taskLinks", MAP),
        23: ("contactEmail", STRING), 25: ("executorConfig", STRUCT), 27: ("metadata", SET),
        34: ("partitionPolicy", STRUCT), 35: ("slaPolicy", STRUCT), 29: ("container", STRUCT),
    },
    "Resource": {1: ("numCpus", DOUBLE), 2: ("ramMb", I64), 3: ("diskMb", I64), 4: ("namedPort", STRING),
                 5: ("numGpus", I64)},
    "Constraint": {1: ("name", STRING), 2: ("constraint", STRUCT)},
    "TaskConstraint": {1: ("value", STRUCT), 2: ("limit", STRUCT)},
    "ValueConstraint": {1: ("negated", BOOL), 2: ("values", SET)},
    "ExecutorConfig": {1: ("name", STRING), 2: ("data", STRING)},
    "JobConfiguration": {9: ("key", STRUCT), 7: ("owner", STRUCT), 4: ("cronSchedule", STRING),
                         5: ("cronCollisionPolicy", I32), 6: ("taskConfig", STRUCT), 8: ("instanceCount", I32)},
    "AssignedTask": {1: ("taskId", STRING), 2: ("slaveId", STRING), 3: ("slaveHost", STRING), 4: ("task", STRUCT),
                     5: ("assignedPorts", MAP), 6: ("instanceId", I32)},
    "ScheduledTask": {1: ("assignedTask", STRUCT), 2: ("status", I32), 3: ("failureCount", I32),
                      6: ("timesPartitioned", I32), 4: ("taskEvents", LIST), 5: ("ancestorId", STRING)},
    "TaskEvent": {1: ("timestamp", I64), 2: ("status", I32), 3: ("message", STRING), 4: ("scheduler", STRING)},
    "TaskQuery": {14: ("role", STRING), 9: ("environment", STRING), 2: ("jobName", STRING), 4: ("taskIds", SET),
                  5: ("statuses", SET), 7: ("instanceIds", SET), 10: ("slaveHosts", SET), 11: ("jobKeys", SET),
                  12: ("offset", I32), 13: ("limit", I32)},
    "InstanceKey": {1: ("jobKey", STRUCT), 2: ("instanceId", I32)},
    "ResourceAggregate": {4: ("resources", SET)},
    "JobUpdateKey": {1: ("job", STRUCT), 2: ("id", STRING)},
    "JobUpdateRequest": {1: ("taskConfig", STRUCT), 2: ("instanceCount", I32), 3: ("settings", STRUCT),
                         4: ("metadata", SET)},
    "JobUpdateSummary": {5: ("key", STRUCT), 3: ("user", STRING), 4: ("state", STRUCT), 6: ("metadata", SET)},
    "Result": {1: ("populateJobResult", STRUCT), 3: ("scheduleStatusResult", STRUCT), 4: ("getJobsResult", STRUCT),
               5: ("getQuotaResult", STRUCT), 6: ("listBackupsResult", STRUCT),
               7: ("startMaintenanceResult", STRUCT), 8: ("drainHostsResult", STRUCT),
               9: ("queryRecoveryResult", STRUCT), 10: ("maintenanceStatusResult", STRUCT),
               11: ("endMaintenanceResult", STRUCT), 17: ("roleSummaryResult", STRUCT),
               18: ("jobSummaryResult", STRUCT), 20: ("configSummaryResult", STRUCT),
               21: ("getPendingReasonResult", STRUCT), 22: ("startJobUpdateResult", STRUCT),
               23: ("getJobUpdateSummariesResult", STRUCT), 24: ("getJobUpdateDetailsResult", STRUCT),
               25: ("pulseJobUpdateResult", STRUCT), 26: ("getJobUpdateDiffResult", STRUCT),
               27: ("getTierConfigResult", STRUCT)},
}

AURORA_ENUMS = {
    "ResponseCode": {"INVALID_REQUEST": 0, "OK": 1, "ERROR": 2, "WARNING": 3, "AUTH_FAILED": 4,
                     "JOB_UPDATING_ERROR": 5, "ERROR_TRANSIENT": 6},
    "ScheduleStatus": {"INIT": 11, "THROTTLED": 16, "PENDING": 0, "ASSIGNED": 9, "STARTING": 1, "RUNNING": 2,
                       "FINISHED": 3, "PREEMPTING": 13, "RESTARTING": 12, "DRAINING": 17, "FAILED": 4,
                       "KILLED": 5, "KILLING": 6, "LOST": 7, "PARTITIONED": 18},
}


def _fields(spec):
    return {f[0]: (f[2], f[1]) for f in spec if f}


def test_every_method_has_aurora_s_name_and_argument_ids():
    assert set(protocol.METHODS) == set(AURORA_METHODS)
    for name, arguments in AURORA_METHODS.items():
        args_class = getattr(protocol.METHODS[name], f"{name}_args")
        assert _fields(args_class.thrift_spec) == arguments, name


def test_structs_and_enums_have_aurora_s_ids_and_types():
    from thermos_executor.aurora_api.gen import ttypes

    for name, fields in AURORA_STRUCTS.items():
        assert _fields(getattr(ttypes, name).thrift_spec) == fields, name
    for name, values in AURORA_ENUMS.items():
        assert getattr(ttypes, name)._NAMES_TO_VALUES == values, name


def test_generated_code_is_fresh(tmp_path):
    codegen.generate(tmp_path / "gen")
    comparison = filecmp.dircmp(tmp_path / "gen", codegen.GEN_DIR, ignore=["__pycache__"])
    stale = comparison.left_only + comparison.right_only + comparison.diff_files
    stale += filecmp.cmpfiles(tmp_path / "gen", codegen.GEN_DIR, comparison.common_files, shallow=False)[1]
    assert not stale, f"thermos_executor/aurora_api/gen is stale ({stale}): run `make gen`"


# ------------------------------------------------------------------ a stub scheduler and in-process clients


class Stub:
    """Answers one method of each service (sync and async alike) and records what it was given."""

    def __init__(self):
        self.calls = []

    def getRoleSummary(self):
        summaries = {RoleSummary(role="www-data", jobCount=2, cronJobCount=1)}
        return envelope.ok(INFO, Result(roleSummaryResult=RoleSummaryResult(summaries=summaries)))

    def getJobSummary(self, role):
        self.calls.append(("getJobSummary", role))
        return envelope.ok(INFO)

    async def killTasks(self, job, instances, message):
        await asyncio.sleep(0)
        self.calls.append(("killTasks", job, instances, message))
        return envelope.response(ResponseCode.WARNING, INFO, "no tasks matched")

    def setQuota(self, ownerRole, quota):
        self.calls.append(("setQuota", ownerRole, quota))
        return envelope.ok(INFO)

    def createJob(self, description):
        self.calls.append(("createJob", description))
        if description is None or description.key is None:
            return envelope.response(ResponseCode.INVALID_REQUEST, INFO, "Job key is required")
        return envelope.ok(INFO)

    def getJobs(self, ownerRole):
        raise RuntimeError("boom")

    def getQuota(self, ownerRole):
        return "not a Response"


def in_process(handler, accept=None):
    """A send function that hands each request body to protocol.call and returns the reply body."""

    def send(body, content_type):
        reply = asyncio.run(protocol.call(handler, body, content_type, accept or content_type))
        assert reply.status == 200
        return reply.body

    return send


@pytest.fixture
def stub():
    return Stub()


@pytest.fixture(params=["binary", "json"])
def api(request, stub):
    return client.client(in_process(stub), request.param)


def test_read_only_method_round_trip(api, stub):
    response = api.getRoleSummary()
    assert response.responseCode == ResponseCode.OK
    assert response.serverInfo == INFO
    assert response.details == []
    assert response.result.roleSummaryResult.summaries == {RoleSummary("www-data", 2, 1)}
    api.getJobSummary(None)  # an unset optional argument arrives as None
    assert stub.calls == [("getJobSummary", None)]


def test_manager_method_round_trip_with_an_async_handler(api, stub):
    job = JobKey(role="www-data", environment="prod", name="hello")
    response = api.killTasks(job, {0, 2}, "bye")
    assert response.responseCode == ResponseCode.WARNING
    assert [d.message for d in response.details] == ["no tasks matched"]
    assert stub.calls == [("killTasks", job, {0, 2}, "bye")]


def test_admin_method_round_trip(api, stub):
    quota = ResourceAggregate(resources={Resource(numCpus=2.5), Resource(ramMb=1024), Resource(diskMb=4096)})
    assert api.setQuota("www-data", quota).responseCode == ResponseCode.OK
    assert stub.calls == [("setQuota", "www-data", quota)]


def test_invalid_request_is_a_response_not_an_exception(api):
    response = api.createJob(JobConfiguration(taskConfig=TaskConfig(isService=True)))
    assert response.responseCode == ResponseCode.INVALID_REQUEST
    assert [d.message for d in response.details] == ["Job key is required"]


def test_handler_failures_are_internal_errors_and_the_next_call_works(api):
    for call in (lambda: api.getJobs("www-data"), lambda: api.getQuota("www-data")):
        with pytest.raises(TApplicationException) as raised:
            call()
        assert raised.value.type == TApplicationException.INTERNAL_ERROR
    assert api.getRoleSummary().responseCode == ResponseCode.OK


def test_a_method_the_handler_lacks_is_unknown(api):
    with pytest.raises(TApplicationException) as raised:
        api.getTierConfigs()
    assert raised.value.type == TApplicationException.UNKNOWN_METHOD


def test_structs_hash_by_value():
    one = TaskConfig(resources={Resource(numCpus=1.0), Resource(ramMb=64)})
    two = TaskConfig(resources={Resource(ramMb=64), Resource(numCpus=1.0)})
    assert one == two and hash(one) == hash(two) and len({one, two}) == 1
    assert hash(TaskQuery(jobKeys={JobKey("a", "b", "c")})) == hash(TaskQuery(jobKeys={JobKey("a", "b", "c")}))


def test_envelope_carries_a_result_only_when_ok():
    with pytest.raises(ValueError):
        envelope.response(ResponseCode.ERROR, INFO, result=Result(roleSummaryResult=RoleSummaryResult(set())))


# ------------------------------------------------------------------ bytes as Aurora writes them, built by hand


def _string(value: str) -> bytes:
    return struct.pack(">i", len(value.encode())) + value.encode()


def _field(ttype: int, fid: int) -> bytes:
    return struct.pack(">bh", ttype, fid)


def _call_header(name: str, seqid: int = 0) -> bytes:
    return struct.pack(">I", 0x80010000 | TMessageType.CALL) + _string(name) + struct.pack(">i", seqid)


def _job_key(role, environment, name) -> bytes:
    return (_field(STRING, 1) + _string(role) + _field(STRING, 2) + _string(environment)
            + _field(STRING, 3) + _string(name) + b"\x00")


def _sent_by(method, *args, protocol_name="binary"):
    """The body our client sends for one call."""
    sent = []

    def send(body, content_type):
        sent.append(body)
        raise TTransport.TTransportException(message="captured")

    with pytest.raises(TTransport.TTransportException):
        getattr(client.client(send, protocol_name), method)(*args)
    return sent[0]


def test_binary_calls_are_byte_for_byte_aurora_s():
    assert _sent_by("getJobSummary", "www-data") == (
        _call_header("getJobSummary") + _field(STRING, 1) + _string("www-data") + b"\x00")
    # killTasks' arguments are 4, 5 and 6: a client using other ids would kill nothing.
    job = JobKey(role="www-data", environment="prod", name="hello")
    assert _sent_by("killTasks", job, {3}, "bye") == (
        _call_header("killTasks")
        + _field(STRUCT, 4) + _job_key("www-data", "prod", "hello")
        + _field(SET, 5) + struct.pack(">bii", I32, 1, 3)
        + _field(STRING, 6) + _string("bye") + b"\x00")


def test_json_call_is_aurora_s():
    assert _sent_by("getRoleSummary", protocol_name="json") == b'[1,"getRoleSummary",1,0,{}]'
    assert _sent_by("forceTaskState", "t-1", ScheduleStatus.LOST, protocol_name="json") == (
        b'[1,"forceTaskState",1,0,{"1":{"str":"t-1"},"2":{"i32":7}}]')


def test_aurora_s_json_reply_decodes():
    # What Aurora's servlet answers to getJobSummary: Response{1: OK, 5: ServerInfo, 6: [ResponseDetail]}.
    body = (b'[1,"getJobSummary",2,0,{"0":{"rec":{"1":{"i32":1},"5":{"rec":{"1":{"str":"devcluster"},'
            b'"3":{"str":"http://stats/"}}},"6":{"lst":["rec",1,{"1":{"str":"hi"}}]}}}}]')
    response = client.client(lambda _body, _type: body, "json").getJobSummary("www-data")
    assert response == Response(responseCode=ResponseCode.OK, result=None,
                                serverInfo=ServerInfo("devcluster", "http://stats/"),
                                details=[ResponseDetail("hi")])


def test_assigned_task_from_aurora_s_binary_decodes():
    # What Aurora puts in Mesos TaskInfo.data: AssignedTask{1 taskId, 4 task, 5 assignedPorts, 6 instanceId},
    # TaskConfig{28 job, 7 isService, 32 resources (set of Resource unions, 1: numCpus double, 2: ramMb i64)}.
    task = (_field(STRUCT, 28) + _job_key("www-data", "prod", "hello") + _field(BOOL, 7) + b"\x01"
            + _field(SET, 32) + struct.pack(">bi", STRUCT, 2)
            + _field(DOUBLE, 1) + struct.pack(">d", 0.5) + b"\x00"
            + _field(I64, 2) + struct.pack(">q", 128) + b"\x00"
            + b"\x00")
    data = (_field(STRING, 1) + _string("task-1") + _field(STRUCT, 4) + task
            + _field(MAP, 5) + struct.pack(">bbi", STRING, I32, 1) + _string("http") + struct.pack(">i", 31337)
            + _field(I32, 6) + struct.pack(">i", 3) + b"\x00")
    decoded = AssignedTask()
    decoded.read(TBinaryProtocol.TBinaryProtocolAccelerated(TTransport.TMemoryBuffer(data)))
    assert decoded == AssignedTask(
        taskId="task-1", instanceId=3, assignedPorts={"http": 31337},
        task=TaskConfig(job=JobKey("www-data", "prod", "hello"), isService=True,
                        resources={Resource(numCpus=0.5), Resource(ramMb=128)},
                        container=Container(mesos=MesosContainer())))  # Aurora's default when absent


# ------------------------------------------------------------------ content types


@pytest.mark.parametrize("content_type", [None, "", "application/x-thrift", "application/json",
                                          "application/vnd.apache.thrift.json",
                                          "application/vnd.apache.thrift.json; charset=utf-8"])
def test_json_content_types(stub, content_type):
    reply = asyncio.run(protocol.call(stub, b'[1,"getRoleSummary",1,0,{}]', content_type))
    assert (reply.status, reply.content_type) == (200, protocol.JSON)
    assert reply.body.startswith(b'[1,"getRoleSummary",2,0,{"0":{"rec":{"1":{"i32":1}')


def test_binary_in_json_out_unless_binary_is_accepted(stub):
    body = _call_header("getRoleSummary") + b"\x00"
    as_json = asyncio.run(protocol.call(stub, body, protocol.BINARY, "application/json"))
    as_binary = asyncio.run(protocol.call(stub, body, protocol.BINARY, protocol.BINARY))
    assert as_json.content_type == protocol.JSON and as_json.body.startswith(b'[1,"getRoleSummary",2,')
    assert as_binary.content_type == protocol.BINARY and as_binary.body.startswith(b"\x80\x01\x00\x02")


def test_other_content_types_are_unsupported(stub):
    reply = asyncio.run(protocol.call(stub, b"[]", "text/plain"))
    assert reply.status == 415 and reply.body == b"Unsupported Content-Type: text/plain"


# ------------------------------------------------------------------ bad requests


def exception_in(body: bytes, binary: bool) -> TApplicationException | None:
    """The TApplicationException a reply carries, or None for a normal reply."""
    transport = TTransport.TMemoryBuffer(body)
    prot = TBinaryProtocol.TBinaryProtocol(transport) if binary else TJSONProtocol.TJSONProtocol(transport)
    _, message_type, _ = prot.readMessageBegin()
    if message_type != TMessageType.EXCEPTION:
        return None
    error = TApplicationException()
    error.read(prot)
    return error


def answer(handler, body, binary=True) -> TApplicationException | None:
    content_type = protocol.BINARY if binary else protocol.JSON
    reply = asyncio.run(protocol.call(handler, body, content_type, content_type))
    assert reply.status == 200
    return exception_in(reply.body, binary)


KILL = _sent_by("killTasks", JobKey("www-data", "prod", "hello"), {1, 2}, "bye")


@pytest.mark.parametrize("cut", range(len(KILL) - 1))
def test_every_truncation_is_refused(stub, cut):
    error = answer(stub, KILL[:cut])
    assert error is not None and error.type == TApplicationException.PROTOCOL_ERROR
    assert stub.calls == []


KILL_JSON = _sent_by("killTasks", JobKey("www-data", "prod", "hello"), {1, 2}, "bye", protocol_name="json")


@pytest.mark.parametrize("body", [KILL_JSON[:-1], KILL_JSON + b" trailing", KILL + b"\x00"],
                         ids=["json-without-its-closing-bracket", "json-padded", "binary-padded"])
def test_a_truncated_or_padded_call_is_refused_not_run(stub, body):
    error = answer(stub, body, binary=body[:1] != b"[")
    assert error is not None and error.type == TApplicationException.PROTOCOL_ERROR
    assert stub.calls == []


def test_a_sequence_id_out_of_i32_range_is_refused(stub):
    error = answer(stub, b'[1,"getRoleSummary",1,99999999999999999999,{}]', binary=False)
    assert error is not None and error.type == TApplicationException.PROTOCOL_ERROR
    assert "sequence id" in error.message and stub.calls == []


def test_garbage_is_refused_and_the_next_call_works(stub):
    rng = random.Random(13)
    for _ in range(300):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        for binary in (True, False):
            assert answer(stub, garbage, binary) is not None
    for junk in (b"", b"{}", b"[1]", b'[1,"getRoleSummary"', b"\xff" * 8, b'[1,"getJobs",1,0,{"1":{"str":"\xff"}}]'):
        assert answer(stub, junk, binary=False) is not None
    assert answer(stub, KILL) is None


def test_a_wrong_argument_type_is_refused():
    stub = Stub()
    as_i32 = _call_header("getJobSummary") + _field(I32, 1) + struct.pack(">i", 7) + b"\x00"
    nested = (_call_header("killTasks") + _field(STRUCT, 4) + _field(I64, 1) + struct.pack(">q", 1) + b"\x00"
              + b"\x00")
    elements = _call_header("killTasks") + _field(SET, 5) + struct.pack(">bii", STRING, 1, 1) + b"x" + b"\x00"
    json_args = b'[1,"getJobSummary",1,0,{"1":{"i32":7}}]'
    for body, binary, where in ((as_i32, True, "role"), (nested, True, "role"), (elements, True, "instances"),
                                (json_args, False, "role")):
        error = answer(stub, body, binary)
        assert error.type == TApplicationException.PROTOCOL_ERROR and where in error.message
    assert stub.calls == []


def test_unknown_fields_are_skipped_as_thrift_does(stub):
    # A newer client's extra field (id 99) inside JobKey and among the arguments.
    body = (_call_header("killTasks") + _field(STRUCT, 4) + _field(STRING, 99) + _string("new")
            + _job_key("r", "e", "n")[:-1] + b"\x00" + _field(I64, 99) + struct.pack(">q", 5) + b"\x00")
    assert answer(stub, body) is None
    assert stub.calls == [("killTasks", JobKey("r", "e", "n"), None, None)]


def test_unknown_method_and_non_calls_are_refused(stub):
    unknown = answer(stub, _call_header("getFrobs", seqid=9) + b"\x00")
    assert unknown.type == TApplicationException.UNKNOWN_METHOD and "getFrobs" in unknown.message
    reply = struct.pack(">I", 0x80010000 | TMessageType.REPLY) + _string("getRoleSummary") + b"\0\0\0\0\0"
    assert answer(stub, reply).type == TApplicationException.INVALID_MESSAGE_TYPE


def test_refusals_carry_the_call_s_name_and_sequence_id(stub):
    reply = asyncio.run(protocol.call(stub, _call_header("getFrobs", seqid=9) + b"\x00", protocol.BINARY,
                                      protocol.BINARY))
    prot = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(reply.body))
    assert prot.readMessageBegin() == ("getFrobs", TMessageType.EXCEPTION, 9)


def test_the_client_is_the_generated_admin_client():
    assert isinstance(client.client(in_process(Stub())), AuroraAdmin.Client)
