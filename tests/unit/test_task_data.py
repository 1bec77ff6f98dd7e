"""Task data, both directions: the Thrift-binary AssignedTask we encode is what we decode, bytes written by hand as
Aurora's scheduler writes them decode right, a real .aurora example goes the whole way to an interpolated task,
and every kind of bad data is refused with one line."""
import base64
import json
import os
import random
import struct

import pytest
from thrift.Thrift import TType

from tests.helpers import REPO
from tests.task_data import assigned_task, b64, encoded, with_job_json
from thermos_executor import config
from thermos_executor.aurora_api.gen import ttypes
from thermos_executor.config import schema
from thermos_executor.config.spec import HealthCheckSpec, LifecycleSpec
from thermos_executor.errors import ConfigError
from thermos_executor.executor.task_data import AssignedTask, TaskDataError, decode, encode, resolve_ports

BOOL, I32, I64, DOUBLE, STRING = TType.BOOL, TType.I32, TType.I64, TType.DOUBLE, TType.STRING
STRUCT, MAP, SET = TType.STRUCT, TType.MAP, TType.SET


def job(cmdline="true", **kw):
    task = schema.Task(name="web", processes=[schema.Process(name="p", cmdline=cmdline)],
                       resources=schema.Resources(cpu=1, ram=schema.MB, disk=schema.MB))
    return schema.Service(cluster="c", role="www-data", environment="prod", name="web", task=task, **kw)


def from_data(data: bytes) -> AssignedTask:
    return AssignedTask.from_task_info({"data": b64(data)})


def cmdline(assigned: AssignedTask) -> str:
    return config.task_to_json(assigned.thermos_task(assigned.ports, "nobody"))["processes"][0]["cmdline"]


# ------------------------------------------------------------------ round trips


def test_encode_decode_round_trip():
    assigned = assigned_task(job(announce=schema.Announcer(), constraints={"rack": "!a"}), task_id="t-9",
                             instance=4, ports={"http": 31000}, host="agent7")
    data = encode(assigned)
    assert decode(data) == assigned
    assert decode(encode(decode(data))) == assigned      # not byte for byte: a set's order is its hash order


def test_the_example_goes_from_aurora_file_to_an_interpolated_task():
    loaded = config.load_config(os.path.join(REPO, "examples", "hello_world.aurora"))
    the_job = config.choose_job(loaded, None)
    data = encoded(the_job, task_id="hello-3", instance=3, ports={"http": 31555}, host="agent1")
    assigned = from_data(data)
    assert (assigned.task_id, assigned.instance_id, assigned.agent_host) == ("hello-3", 3, "agent1")
    assert (assigned.environment, assigned.name) == ("devel", "hello_world")
    assert assigned.ports == {"http": 31555} and assigned.announce is None and not assigned.uses_container_image
    assert cmdline(assigned) == "python3 -m http.server 31555 --bind 127.0.0.1"


def test_mesos_and_thermos_variables_are_bound_from_the_assigned_task():
    the_job = job("echo {{mesos.instance}} {{mesos.hostname}} {{thermos.task_id}} {{thermos.ports[admin]}} "
                  "{{thermos.ports[aurora]}} {{role}}/{{environment}}",
                  announce=schema.Announcer(portmap={"aurora": "http", "admin": "8080"}))
    assigned = from_data(encoded(the_job, task_id="t-2", instance=5, ports={"http": 31001}, host="agent9"))
    assert assigned.ports == {"aurora": 31001, "admin": 8080, "http": 31001}
    assert cmdline(assigned) == "echo 5 agent9 t-2 8080 31001 www-data/prod"


def test_role_environment_and_name_come_from_the_job_key():
    assigned = assigned_task(job())
    assigned.task.job = ttypes.JobKey(role="other", environment="staging", name="renamed")
    decoded = from_data(encode(assigned))
    assert (decoded.role, decoded.environment, decoded.name) == ("other", "staging", "renamed")


def test_health_check_and_lifecycle_follow_the_job():
    assigned = from_data(encoded(job(announce=schema.Announcer())))
    assert assigned.lifecycle == LifecycleSpec(port="health", graceful_shutdown_endpoint="/quitquitquit",
                                               graceful_shutdown_wait_secs=5, shutdown_endpoint="/abortabortabort",
                                               shutdown_wait_secs=5)
    assert assigned.health_check == HealthCheckSpec(
        initial_interval_secs=15.0, interval_secs=10.0, max_consecutive_failures=0, min_consecutive_successes=1,
        timeout_secs=1.0, shell_command=None, endpoint="/health", expected_response="ok", expected_response_code=0)
    shell = schema.HealthCheckConfig(health_checker=schema.HealthCheckerConfig(
        shell=schema.ShellHealthChecker(shell_command="check {{mesos.instance}} {{thermos.ports[admin]}} "
                                                      "{{thermos.task_id}}")), interval_secs=2)
    assigned = from_data(encoded(job(health_check_config=shell, lifecycle=schema.LifecycleConfig()), instance=7,
                                 task_id="t-7", ports={"admin": 31007}))
    assert (assigned.health_check.shell_command, assigned.health_check.interval_secs) == ("check 7 31007 t-7", 2.0)
    assert assigned.lifecycle is None


def test_a_mesos_task_instance_is_read_as_aurora_s_old_clients_wrote_it():
    task = schema.Task(name="old", processes=[schema.Process(name="p", cmdline="echo {{mesos.instance}} {{role}}")],
                       resources=schema.Resources(cpu=1, ram=schema.MB, disk=schema.MB))
    instance = schema.MesosTaskInstance(task=task, instance=2, role="www-data", environment="prod",
                                        announce=schema.Announcer())
    assigned = assigned_task(job(), instance=2, ports={"http": 31002})
    assigned.task.executorConfig.data = instance.json_dumps()
    decoded = from_data(encode(assigned))
    assert decoded.lifecycle is None                     # a bare MesosTaskInstance has none, unlike a MesosJob
    assert decoded.ports == {"http": 31002, "aurora": 31002}
    assert cmdline(decoded) == "echo 2 www-data"


@pytest.mark.parametrize("container, uses", [
    (None, False),
    (schema.Mesos(), False),
    (schema.Mesos(image=schema.DockerImage(name="debian", tag="12")), True),
    (schema.Docker(image="debian"), True),
])
def test_a_container_image_is_seen_from_the_task_config(container, uses):
    the_job = job() if container is None else job(container=container)
    assert from_data(encoded(the_job)).uses_container_image is uses


# ------------------------------------------------------------------ bytes as Aurora's scheduler writes them


def _string(value: str) -> bytes:
    return struct.pack(">i", len(value.encode())) + value.encode()


def _field(ttype: int, fid: int) -> bytes:
    return struct.pack(">bh", ttype, fid)


def _job_key(role, environment, name) -> bytes:
    return (_field(STRING, 1) + _string(role) + _field(STRING, 2) + _string(environment)
            + _field(STRING, 3) + _string(name) + b"\x00")


def aurora_bytes(executor_data: str) -> bytes:
    """AssignedTask{1 taskId, 3 slaveHost, 4 task, 5 assignedPorts, 6 instanceId}, TaskConfig{28 job,
    7 isService, 32 resources (a set of Resource unions), 25 executorConfig{1 name, 2 data}}, in Aurora's
    field order (the Java generator writes fields in IDL order)."""
    task = (_field(STRUCT, 28) + _job_key("www-data", "prod", "hello") + _field(BOOL, 7) + b"\x01"
            + _field(SET, 32) + struct.pack(">bi", STRUCT, 2)
            + _field(DOUBLE, 1) + struct.pack(">d", 0.5) + b"\x00"
            + _field(I64, 2) + struct.pack(">q", 128) + b"\x00"
            + _field(STRUCT, 25) + _field(STRING, 1) + _string("AuroraExecutor")
            + _field(STRING, 2) + _string(executor_data) + b"\x00"
            + b"\x00")
    return (_field(STRING, 1) + _string("task-1") + _field(STRING, 3) + _string("agent3") + _field(STRUCT, 4) + task
            + _field(MAP, 5) + struct.pack(">bbi", STRING, I32, 1) + _string("http") + struct.pack(">i", 31337)
            + _field(I32, 6) + struct.pack(">i", 3) + b"\x00")


def test_aurora_s_bytes_decode_and_run():
    data = aurora_bytes(job("serve {{thermos.ports[http]}} #{{mesos.instance}}").json_dumps())
    decoded = decode(data)
    assert (decoded.taskId, decoded.slaveHost, decoded.assignedPorts, decoded.instanceId) == (
        "task-1", "agent3", {"http": 31337}, 3)
    assert decoded.task.resources == {ttypes.Resource(numCpus=0.5), ttypes.Resource(ramMb=128)}
    assigned = from_data(data)
    assert (assigned.role, assigned.environment, assigned.name) == ("www-data", "prod", "hello")
    assert cmdline(assigned) == "serve 31337 #3"


# ------------------------------------------------------------------ bad data: one line each


def one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and text
    return text


@pytest.mark.parametrize("raw, message", [
    ("", "task data is empty"),
    ("not base64!", "task data is not base64"),
    (b64(b'{"task_id": "t-1", "instance_id": 0}'), "task data is JSON, not a Thrift-binary AssignedTask"),
    (b64(b"\x7f\x00\x01garbage"), "task data is not a Thrift-binary AssignedTask"),
    (b64(b"\x00"), "the AssignedTask has no taskId"),
    (b64(b"\x0c\x00\x01" * 5000), "task data is"),                      # nested deeper than any recursion limit
    (b64(_field(STRING, 1) + struct.pack(">i", 1 << 30) + b"x"), "task data is"),     # a length beyond the data
])
def test_bytes_that_are_not_an_assigned_task(raw, message):
    with pytest.raises(TaskDataError) as error:
        AssignedTask.from_task_info({"data": raw})
    assert one_line(error).startswith(message)


def test_every_truncation_and_trailing_bytes_are_refused():
    data = encoded(job())
    for cut in range(1, len(data)):
        with pytest.raises(TaskDataError) as error:
            decode(data[:cut])
        assert one_line(error).startswith(("task data is truncated", "task data is not a Thrift-binary"))
    with pytest.raises(TaskDataError, match="2 bytes after its end"):
        decode(data + b"\x00\x00")


def test_random_garbage_never_escapes_as_another_error():
    rng = random.Random(7)
    for _ in range(300):
        garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        try:
            from_data(garbage)
        except (TaskDataError, ConfigError) as e:
            assert "\n" not in str(e)


def _assigned(**changes):
    assigned = assigned_task(job())
    for path, value in changes.items():
        target = assigned
        *parents, name = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return encode(assigned)


@pytest.mark.parametrize("data, message", [
    (_assigned(task=None), "the AssignedTask has no task (TaskConfig)"),
    (_assigned(task__executorConfig=None), "the AssignedTask's task has no executorConfig data"),
    (_assigned(task__executorConfig__data=""), "the AssignedTask's task has no executorConfig data"),
    (_assigned(task__executorConfig__data="{not json"), "executorConfig.data is not JSON"),
    (_assigned(task__executorConfig__data="[1, 2]"), "executorConfig.data is not a job: expected a JSON object"),
    (_assigned(task__executorConfig__data='{"task": {"processes": "nope"}}'), "executorConfig.data is not a valid job"),
    (_assigned(task__executorConfig__data='{"role": "www-data"}'), "the job config has no task"),
    (_assigned(task__job=None), "the AssignedTask's task has no job key"),
    (_assigned(task__job__role=""), "the AssignedTask's task has no job key"),
    (_assigned(taskId=""), "the AssignedTask has no taskId"),
    (_assigned(instanceId=-1), "the AssignedTask's instanceId must be 0 or more, got -1"),
    (_assigned(instanceId=None), "the AssignedTask's instanceId must be 0 or more, got None"),
    (_assigned(assignedPorts={"http": 0}), "the AssignedTask's assignedPorts: http is 0, not a port"),
    (_assigned(assignedPorts={"http": 70000}), "the AssignedTask's assignedPorts: http is 70000, not a port"),
    (with_job_json(encoded(job()), lambda c: c.update(announce={"portmap": {"a": "b", "b": "a"}})),
     "port aliases form a cycle: a -> b -> a"),
])
def test_an_assigned_task_the_executor_cannot_use(data, message):
    with pytest.raises(TaskDataError) as error:
        from_data(data)
    assert one_line(error).startswith(message)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["health_check_config"].update(interval_secs="often"),
     "health_check_config.interval_secs: 'often' is not a number"),
    (lambda c: c["health_check_config"].update(timeout_secs="{{later}}"),
     "health_check_config: unbound template variables {{later}}"),
])
def test_an_invalid_job_is_a_config_error(change, message):
    with pytest.raises(ConfigError) as error:
        from_data(with_job_json(encoded(job()), change))
    assert one_line(error) == message


def test_port_alias_chains_and_cycles():
    assert resolve_ports({"aurora": "http", "http": "web", "web": "8080", "dangling": "nope"}, {"x": 1}) == \
        {"aurora": 8080, "http": 8080, "web": 8080, "x": 1}
    with pytest.raises(TaskDataError, match="cycle"):
        resolve_ports({"a": "b", "b": "a"}, {})


def test_the_old_json_form_is_gone():
    old = {"task_id": "t-1", "agent_host": "h", "instance_id": 0, "assigned_ports": {},
           "job": {"role": "r", "environment": "e", "name": "n"}, "config": json.loads(job().json_dumps())}
    with pytest.raises(TaskDataError, match="the old JSON task data is no longer read"):
        AssignedTask.from_task_info({"data": base64.b64encode(json.dumps(old).encode()).decode()})
