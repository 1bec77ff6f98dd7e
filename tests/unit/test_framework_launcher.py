"""launcher.task_info: the Mesos TaskInfo of an ASSIGNED task as Aurora's MesosTaskFactoryImpl builds it - ids,
names, source, labels, the task/executor resource split, ports, the executor command and fetched URIs, mounts,
discovery - its `data` decoding back to the same AssignedTask, and the whole TaskInfo, carried in an ACCEPT call as
the scheduler sends it, validating against the real Mesos v1 protos."""
import base64

from scheduler.framework import launcher
from scheduler.framework.settings import ExecutorSettings, Mount
from scheduler.state.status import ScheduleStatus as S
from tests.mesos_protos import validate
from thermos_executor.aurora_api.gen.ttypes import (AssignedTask, ExecutorConfig, Identity, JobKey, Metadata,
                                                    Resource, ScheduledTask, TaskConfig)
from thermos_executor.executor import task_data

TASK_ID = "1700000000000-www-prod-hello-3-abc"
JOB = JobKey(role="www", environment="prod", name="hello")


def _task(ports=None, gpus=0, disk=64, tier="preferred", metadata=()) -> ScheduledTask:
    resources = {Resource(numCpus=1.5), Resource(ramMb=256)}
    if disk:
        resources.add(Resource(diskMb=disk))
    if gpus:
        resources.add(Resource(numGpus=gpus))
    for name in ports or {}:
        resources.add(Resource(namedPort=name))
    config = TaskConfig(job=JOB, owner=Identity(user="alice"), isService=True, priority=0, maxTaskFailures=1,
                        tier=tier, resources=resources, constraints=set(),
                        metadata={Metadata(key=k, value=v) for k, v in metadata},
                        executorConfig=ExecutorConfig(name="AuroraExecutor", data='{"task": {}}'))
    assigned = AssignedTask(taskId=TASK_ID, slaveId="agent-7", slaveHost="host-7", task=config,
                            assignedPorts=dict(ports or {}), instanceId=3)
    return ScheduledTask(assignedTask=assigned, status=S.ASSIGNED, failureCount=0, timesPartitioned=0, taskEvents=[])


SETTINGS = ExecutorSettings(path="/usr/share/aurora/bin/thermos_executor.pex", cpus=0.25, ram_mb=128)


def _by_name(resources):
    return {r["name"]: r for r in resources}


def test_ids_names_source_and_labels():
    info = launcher.task_info(_task(metadata=[("owner", "team-a"), ("cost", "7")]), "agent-7", SETTINGS)
    assert info["task_id"] == {"value": TASK_ID}
    assert info["agent_id"] == {"value": "agent-7"}
    assert info["name"] == "www/prod/hello"
    executor = info["executor"]
    assert executor["executor_id"] == {"value": "thermos-" + TASK_ID}
    assert executor["name"] == "aurora.task"
    assert executor["source"] == "www.prod.hello.3"
    assert executor["labels"] == {"labels": [{"key": "source", "value": "www.prod.hello.3"}]}
    assert info["labels"] == {"labels": [{"key": "org.apache.aurora.tier", "value": "preferred"},
                                         {"key": "org.apache.aurora.metadata.cost", "value": "7"},
                                         {"key": "org.apache.aurora.metadata.owner", "value": "team-a"}]}
    assert "discovery" not in info and "container" not in executor


def test_resources_are_split_between_task_and_executor_with_ports_as_single_port_ranges():
    info = launcher.task_info(_task(ports={"http": 31005, "admin": 31001, "health": 31003}, gpus=1), "agent-7",
                              SETTINGS, roles={"cpus": "aurora", "ports": "aurora"})
    task = _by_name(info["resources"])
    assert set(task) == {"cpus", "mem", "disk", "gpus", "ports"}
    assert task["cpus"] == {"name": "cpus", "type": "SCALAR", "role": "aurora", "scalar": {"value": 1.5}}
    assert task["mem"]["scalar"] == {"value": 256} and task["mem"]["role"] == "*"
    assert task["disk"]["scalar"] == {"value": 64} and task["gpus"]["scalar"] == {"value": 1}
    assert task["ports"] == {"name": "ports", "type": "RANGES", "role": "aurora", "ranges": {"range": [
        {"begin": 31001, "end": 31001}, {"begin": 31003, "end": 31003}, {"begin": 31005, "end": 31005}]}}
    executor = _by_name(info["executor"]["resources"])
    assert set(executor) == {"cpus", "mem"}
    assert executor["cpus"]["scalar"] == {"value": 0.25} and executor["cpus"]["role"] == "aurora"
    assert executor["mem"]["scalar"] == {"value": 128}


def test_no_ports_no_disk_no_gpus_no_such_resources():
    info = launcher.task_info(_task(disk=0), "agent-7", SETTINGS)
    assert set(_by_name(info["resources"])) == {"cpus", "mem"}


def test_command_and_uris():
    plain = launcher.command(SETTINGS)
    assert plain == {"value": "${MESOS_SANDBOX=.}/thermos_executor.pex", "shell": True,
                     "uris": [{"value": "/usr/share/aurora/bin/thermos_executor.pex", "executable": True}]}
    full = launcher.command(ExecutorSettings(path="/opt/thermos_executor", home_in_sandbox=True,
                                             flags="--announcer-ensemble zk:2181 --nosetuid-health-checks",
                                             resources=("/opt/a.sh", "http://x/b.tgz")))
    assert full["value"] == ("HOME=${MESOS_SANDBOX=.} ${MESOS_SANDBOX=.}/thermos_executor "
                             "--announcer-ensemble zk:2181 --nosetuid-health-checks")
    assert full["uris"] == [{"value": v, "executable": True}
                            for v in ("/opt/thermos_executor", "/opt/a.sh", "http://x/b.tgz")]
    # no -thermos_executor_path: the executor's name alone, fetched from nowhere but the PATH's URI
    assert launcher.command(ExecutorSettings())["value"] == "${MESOS_SANDBOX=.}/thermos_executor"


def test_mounts_make_a_mesos_container():
    settings = ExecutorSettings(path="/opt/thermos_executor", mounts=(Mount("/etc/ssl", "/etc/ssl", "RO"),
                                                                       Mount("/var/cache", "/cache", "RW")))
    executor = launcher.task_info(_task(), "agent-7", settings)["executor"]
    assert executor["container"] == {"type": "MESOS", "mesos": {}, "volumes": [
        {"host_path": "/etc/ssl", "container_path": "/etc/ssl", "mode": "RO"},
        {"host_path": "/var/cache", "container_path": "/cache", "mode": "RW"}]}


def test_discovery_info_with_populate_discovery_info():
    settings = ExecutorSettings(path="/opt/thermos_executor", populate_discovery_info=True, cluster_name="devcluster")
    info = launcher.task_info(_task(ports={"http": 31005, "admin": 31001}), "agent-7", settings)
    assert info["discovery"] == {
        "visibility": "CLUSTER", "name": "hello.prod.www", "environment": "prod", "location": "devcluster",
        "ports": {"ports": [{"name": "admin", "number": 31001, "protocol": "TCP"},
                            {"name": "http", "number": 31005, "protocol": "TCP"}]}}


def test_data_decodes_to_the_same_assigned_task():
    task = _task(ports={"http": 31005}, metadata=[("k", "v")])
    info = launcher.task_info(task, "agent-7", SETTINGS)
    decoded = task_data.decode(base64.b64decode(info["data"], validate=True))
    assert decoded == task.assignedTask
    assert (decoded.slaveHost, decoded.slaveId, decoded.assignedPorts) == ("host-7", "agent-7", {"http": 31005})


def test_an_accept_carrying_every_variant_validates_against_the_mesos_protos():
    settings = ExecutorSettings(path="/opt/thermos_executor", resources=("/opt/a.sh",), flags="--x",
                                home_in_sandbox=True, mounts=(Mount("/etc/ssl", "/etc/ssl", "RO"),),
                                populate_discovery_info=True, cluster_name="devcluster")
    infos = [launcher.task_info(_task(ports={"http": 31005}, gpus=1, metadata=[("k", "v")]), "agent-7", settings,
                                roles={"cpus": "aurora"}),
             launcher.task_info(_task(disk=0, tier=None), "agent-7", SETTINGS)]
    # as Driver.accept hands it to pymesos' acceptOffers, which wraps it in an ACCEPT call
    call = {"type": "ACCEPT", "framework_id": {"value": "fw-1"},
            "accept": {"offer_ids": [{"value": "offer-1"}],
                       "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
                       "filters": {"refuse_seconds": 5.0}}}
    assert validate("scheduler", "call", call) is None
    # the validator does catch a malformed TaskInfo
    broken = dict(infos[1], resources=[{"name": "cpus", "type": "SCALAR", "scalar": {"value": "lots"}}])
    call["accept"]["operations"][0]["launch"]["task_infos"] = [broken]
    assert validate("scheduler", "call", call) is not None
