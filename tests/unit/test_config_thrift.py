"""A job converted to Aurora's JobConfiguration as Aurora's client converts it (config/thrift.py convert): every
field, the ports to reserve, the constraint strings, the executor's copy of the job, and bad jobs in one line."""
import json
import os

import pytest
from pystachio import Empty

from tests.helpers import REPO
from thermos_executor import config
from thermos_executor.aurora_api.gen import ttypes
from thermos_executor.config import schema
from thermos_executor.config.thrift import constraints_to_thrift, convert, requested_ports
from thermos_executor.errors import ConfigError

MB = schema.MB


def job(cmdline="true", resources=None, **kw):
    task = schema.Task(name="web", processes=[schema.Process(name="p", cmdline=cmdline)],
                       resources=resources or schema.Resources(cpu=0.5, ram=64 * MB, disk=128 * MB))
    return schema.Job(cluster="c", role="www-data", environment="prod", name="web", task=task, **kw)


def executor_json(job_config) -> dict:
    return json.loads(job_config.taskConfig.executorConfig.data)


def test_the_example_converts_field_for_field():
    loaded = config.load_config(os.path.join(REPO, "examples", "hello_world.aurora"))
    converted = convert(config.choose_job(loaded, None), user="alice")
    key = ttypes.JobKey(role="www-data", environment="devel", name="hello_world")
    assert converted == ttypes.JobConfiguration(
        key=key, owner=ttypes.Identity(user="alice"), cronSchedule=None,
        cronCollisionPolicy=ttypes.CronCollisionPolicy.KILL_EXISTING, instanceCount=2,
        taskConfig=ttypes.TaskConfig(
            job=key, owner=ttypes.Identity(user="alice"), isService=True, priority=0, maxTaskFailures=1,
            production=False, tier=None, contactEmail=None, taskLinks={}, metadata=set(), constraints=set(),
            resources={ttypes.Resource(numCpus=0.1), ttypes.Resource(ramMb=16), ttypes.Resource(diskMb=16),
                       ttypes.Resource(namedPort="http")},
            container=ttypes.Container(mesos=ttypes.MesosContainer()),
            executorConfig=converted.taskConfig.executorConfig))
    assert converted.taskConfig.executorConfig.name == "AuroraExecutor"
    data = executor_json(converted)
    assert data["task"]["processes"][0]["cmdline"] == "python3 -m http.server {{thermos.ports[http]}} --bind 127.0.0.1"
    assert (data["name"], data["cluster"], data["service"]) == ("hello_world", "local", True)


def test_every_job_field_lands_where_aurora_puts_it():
    the_job = job(resources=schema.Resources(cpu=2, ram=1024 * MB, disk=2048 * MB, gpu=1), instances=3,
                  service=True, priority=5, max_task_failures=4, production=True, tier="preferred",
                  contact="ops@example.com", cron_schedule="*/5 * * * *", cron_collision_policy="cancel_new",
                  metadata=[schema.Metadata(key="team", value="web")],
                  partition_policy=schema.PartitionPolicy(reschedule=False, delay_secs=30),
                  sla_policy=schema.PercentageSlaPolicy(percentage=95, duration_secs=600),
                  update_config=schema.UpdateConfig(batch_size=2))
    converted = convert(the_job, metadata=[("build", 42)], user="bob")
    task = converted.taskConfig
    assert (converted.instanceCount, converted.cronSchedule, converted.cronCollisionPolicy) == (
        3, "*/5 * * * *", ttypes.CronCollisionPolicy.CANCEL_NEW)
    assert converted.owner == task.owner == ttypes.Identity(user="bob")
    assert (task.isService, task.priority, task.maxTaskFailures, task.production, task.tier, task.contactEmail) == (
        True, 5, 4, True, "preferred", "ops@example.com")
    assert task.resources == {ttypes.Resource(numCpus=2.0), ttypes.Resource(ramMb=1024),
                              ttypes.Resource(diskMb=2048), ttypes.Resource(numGpus=1)}
    assert task.metadata == {ttypes.Metadata("team", "web"), ttypes.Metadata("build", "42")}
    assert task.partitionPolicy == ttypes.PartitionPolicy(reschedule=False, delaySecs=30)
    assert task.slaPolicy == ttypes.SlaPolicy(percentageSlaPolicy=ttypes.PercentageSlaPolicy(95.0, 600))
    data = executor_json(converted)
    assert "instances" not in data and "update_config" not in data       # Aurora's aliased fields
    assert data["priority"] == 5 and data["tier"] == "preferred"


@pytest.mark.parametrize("constraints, expected", [
    ({"rack": "a"}, ttypes.TaskConstraint(value=ttypes.ValueConstraint(negated=False, values={"a"}))),
    ({"rack": "a,b"}, ttypes.TaskConstraint(value=ttypes.ValueConstraint(negated=False, values={"a", "b"}))),
    ({"rack": "!a"}, ttypes.TaskConstraint(value=ttypes.ValueConstraint(negated=True, values={"a"}))),
    ({"rack": "limit:2"}, ttypes.TaskConstraint(limit=ttypes.LimitConstraint(2))),
])
def test_constraint_strings(constraints, expected):
    assert constraints_to_thrift(constraints) == {ttypes.Constraint(name="rack", constraint=expected)}
    assert convert(job(constraints=constraints)).taskConfig.constraints == constraints_to_thrift(constraints)


def test_a_dedicated_constraint_is_a_value_constraint():
    assert constraints_to_thrift({"dedicated": "www-data/web"}) == {ttypes.Constraint(
        "dedicated", ttypes.TaskConstraint(value=ttypes.ValueConstraint(False, {"www-data/web"})))}


@pytest.mark.parametrize("the_job, ports", [
    (job("serve {{thermos.ports[http]}} {{thermos.ports[admin]}}"), {"admin", "http"}),
    (job("true", announce=schema.Announcer()), {"http"}),                           # the announced primary port
    (job("serve {{thermos.ports[aurora]}}", announce=schema.Announcer(primary_port="web")), {"web"}),
    (job("serve {{thermos.ports[debug]}}", announce=schema.Announcer(portmap={"debug": "9999"})), set()),
    (job("true"), set()),
])
def test_requested_ports_are_aurora_s(the_job, ports):
    assert requested_ports(the_job) == ports
    assert {r.namedPort for r in convert(the_job).taskConfig.resources if r.namedPort} == ports


@pytest.mark.parametrize("container, expected", [
    (schema.Docker(image="debian:12", parameters=[schema.Parameter(name="env", value="A=1")]),
     ttypes.Container(docker=ttypes.DockerContainer("debian:12", [ttypes.DockerParameter("env", "A=1")]))),
    (schema.Container(docker=schema.Docker(image="debian:12")),
     ttypes.Container(docker=ttypes.DockerContainer("debian:12", []))),
    (schema.Mesos(image=schema.DockerImage(name="debian", tag="12"),
                  volumes=[schema.Volume(container_path="/c", host_path="/h", mode=schema.Mode("RO"))]),
     ttypes.Container(mesos=ttypes.MesosContainer(image=ttypes.Image(docker=ttypes.DockerImage("debian", "12")),
                                                  volumes=[ttypes.Volume("/c", "/h", ttypes.Mode.RO)]))),
    (schema.Mesos(image=schema.AppcImage(name="app", image_id="sha512-x")),
     ttypes.Container(mesos=ttypes.MesosContainer(image=ttypes.Image(appc=ttypes.AppcImage("app", "sha512-x")),
                                                  volumes=[]))),
])
def test_containers(container, expected):
    assert convert(job(container=container)).taskConfig.container == expected


def test_deprecated_bindings_are_rewritten_and_executor_bindings_left_unbound():
    the_job = job("echo {{thermos.user}} {{mesos.role}} {{mesos.cluster}} {{mesos.instance}} {{mesos.hostname}} "
                  "{{thermos.task_id}} {{thermos.ports[http]}}")
    cmdline = executor_json(convert(the_job))["task"]["processes"][0]["cmdline"]
    assert cmdline == ("echo www-data www-data c {{mesos.instance}} {{mesos.hostname}} {{thermos.task_id}} "
                       "{{thermos.ports[http]}}")


def test_task_links_carry_the_ui_placeholders_in_the_job():
    the_job = job("serve {{thermos.ports[http]}}", task_links={"http": "http://%host%:{{thermos.ports[http]}}/"
                                                                       "{{mesos.instance}}"})
    converted = convert(the_job)
    assert converted.taskConfig.taskLinks == {}               # as Aurora: the scheduler fills in defaults
    assert executor_json(converted)["task_links"] == {"http": "http://%host%:%port:http%/%shard_id%"}


def test_another_executor_gets_its_own_data():
    converted = convert(job(executor_config=schema.ExecutorConfig(name="custom", data='{"x": 1}')))
    assert converted.taskConfig.executorConfig == ttypes.ExecutorConfig(name="custom", data='{"x": 1}')


def test_user_defaults_to_who_runs_it():
    assert convert(job()).owner.user


@pytest.mark.parametrize("the_job, message", [
    (job(resources=schema.Resources(cpu=1, ram=0, disk=MB)), "Must specify ram and disk resources, got ram:0 disk:"),
    (job(resources=schema.Resources(cpu=0, ram=MB, disk=MB)), "Task has invalid resources.  cpu/ramMb/diskMb must"),
    (job(resources=schema.Resources(cpu=1, ram=1, disk=MB)), "Task has invalid resources."),
    (schema.Job(cluster="c", role="r", environment="e", name="n",
                task=schema.Task(name="t", processes=[schema.Process(name="p", cmdline="true")])),
     "Task must specify resources!"),
    (job()(role="bad role"), "Invalid role 'bad role'"),
    (job()(environment="prod/x"), "Invalid environment 'prod/x'"),
    (job()(cluster=Empty), "cluster is required for job 'web'"),
    (job("echo {{unbound}}"), "Config contains unbound variables: {{unbound}}"),
    (job(health_check_config=schema.HealthCheckConfig(timeout_secs="{{later}}")),
     "Config contains unbound variables: {{later}}"),
    (job(constraints={"host": "limit:many"}), "constraint host: 'limit:many' is not a valid limit"),
    (job(cron_collision_policy="SOMETIMES"), "cron_collision_policy: invalid value 'SOMETIMES'"),
    (job(priority="high"), "job.priority"),
    (job()(task=schema.Task(name="t", processes=[], resources=schema.Resources(cpu=1, ram=MB, disk=MB))),
     "has no processes"),
    (job()(task=schema.Task(name="t", processes=[schema.Process(name="p", cmdline="a"),
                                                 schema.Process(name="p", cmdline="b")],
                            resources=schema.Resources(cpu=1, ram=MB, disk=MB))), "duplicate process name 'p'"),
    (job("x", announce=schema.Announcer(portmap={"a": "b", "b": "a"})), "announce.portmap aliases form a cycle"),
])
def test_bad_jobs_are_one_line_config_errors(the_job, message):
    with pytest.raises(ConfigError) as error:
        convert(the_job)
    text = str(error.value)
    assert message in text and "\n" not in text
