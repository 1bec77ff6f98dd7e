"""The Jobs API through a Thrift client built from our IDL, in both protocols, in process (the client's calls
go through protocol.call to SchedulerApi on a DurableStorage over the in-memory log): the job calls and what
they leave in storage, every validation error with Aurora's message and code, storage not READY, a failed write."""
import asyncio
import copy

import pytest

from scheduler.api import client
from scheduler.api import protocol as wire
from thermos_executor.aurora_api.gen.ttypes import (
    Constraint, Container, DockerContainer, DockerParameter, ExecutorConfig, Identity, InstanceKey,
    JobConfiguration, JobKey, LimitConstraint, MesosContainer, MesosFetcherURI, Mode, Range, Resource,
    ResourceAggregate, ResponseCode, RoleSummary, ServerInfo, TaskConfig, TaskConstraint, TaskQuery, TierConfig,
    ValueConstraint, Volume)
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings, Tier, Tiers
from scheduler.api.state_manager import StateManager
from scheduler.state.status import ScheduleStatus as S
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog

OK, INVALID, ERROR, TRANSIENT = (ResponseCode.OK, ResponseCode.INVALID_REQUEST, ResponseCode.ERROR,
                                 ResponseCode.ERROR_TRANSIENT)
KEY = JobKey(role="www", environment="prod", name="hello")
SETTINGS = ApiSettings(cluster_name="devcluster", stats_url_prefix="http://stats/")
DOCKER = ApiSettings(cluster_name="devcluster", allowed_container_types=frozenset({"MESOS", "DOCKER"}))


def _task(key=KEY, **fields) -> TaskConfig:
    config = TaskConfig(job=key, owner=Identity(user="alice"), isService=False, priority=0, maxTaskFailures=1,
                        resources={Resource(numCpus=0.5), Resource(ramMb=128), Resource(diskMb=64),
                                   Resource(namedPort="http")},
                        constraints=set(), executorConfig=ExecutorConfig(name="AuroraExecutor", data="{}"))
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def _job(key=KEY, instances=3, **fields) -> JobConfiguration:
    return JobConfiguration(key=key, owner=Identity(user="alice"), taskConfig=_task(key, **fields),
                            instanceCount=instances)


class Env:
    """A READY storage, a manager (kills recorded), the API, and a client of it in one protocol."""

    def __init__(self, protocol, settings=SETTINGS, start=True):
        self.loop = asyncio.new_event_loop()
        self.log = MemoryLog()
        self.storage = DurableStorage(self.log)
        self.kills = []
        self.manager = StateManager(self.storage, kill=self.kills.append, clock_ms=lambda: 1_000, hostname="h")
        self.api = SchedulerApi(self.storage, self.manager, settings)
        self.client = client.client(self._send, protocol)
        if start:
            self.run(self.storage.prepare())
            self.run(self.storage.start())

    def _send(self, body, content_type):
        reply = self.run(wire.call(self.api, body, content_type, content_type))
        assert reply.status == 200
        return reply.body

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def tasks(self, **query):
        response = self.client.getTasksStatus(TaskQuery(**query))
        assert response.responseCode == OK, response
        return sorted(response.result.scheduleStatusResult.tasks, key=lambda t: t.assignedTask.instanceId)

    def change(self, task_id, status):
        async def change():
            async with self.manager.transaction() as tx:
                return tx.change_state(task_id, status)
        return self.run(change())

    def close(self):
        self.loop.close()


@pytest.fixture(params=["binary", "json"])
def protocol(request):
    return request.param


@pytest.fixture
def env(protocol):
    env = Env(protocol)
    yield env
    env.close()


def _ok(response):
    assert (response.responseCode, response.details) == (OK, []), response
    assert response.serverInfo == ServerInfo(clusterName="devcluster", statsUrlPrefix="http://stats/")
    return response.result


def _refused(response, code, message):
    assert response.responseCode == code, response
    assert [d.message for d in response.details] == [message]
    assert response.result is None


# ------------------------------------------------------------------ create and read back

def test_create_job_inserts_pending_instances(env):
    _ok(env.client.createJob(_job()))
    tasks = env.tasks(jobKeys={KEY})
    assert [(t.status, t.assignedTask.instanceId) for t in tasks] == [(S.PENDING, i) for i in range(3)]
    for task in tasks:
        assert task.assignedTask.taskId.startswith(f"1000-www-prod-hello-{task.assignedTask.instanceId}-")
        assert [(e.status, e.scheduler) for e in task.taskEvents] == [(S.PENDING, "h")]
        config = task.assignedTask.task
        assert (config.tier, config.taskLinks) == ("preemptible", {"http": "http://%host%:%port:http%"})
    assert len(env.log.entries) == 1  # one log entry for the whole job
    _refused(env.client.createJob(_job()), INVALID, "Job www/prod/hello already exists")


def test_reads_after_create(env):
    _ok(env.client.createJob(_job()))
    _ok(env.client.createJob(_job(JobKey(role="www", environment="devel", name="other"), instances=1)))
    summary = _ok(env.client.getJobSummary("www")).jobSummaryResult.summaries
    by_name = {s.job.key.name: s for s in summary}
    assert by_name["hello"].job.instanceCount == 3 and by_name["hello"].stats.pendingTaskCount == 3
    assert by_name["hello"].job.taskConfig.tier == "preemptible"
    assert _ok(env.client.getJobSummary("nobody")).jobSummaryResult.summaries == set()
    assert _ok(env.client.getRoleSummary()).roleSummaryResult.summaries == {RoleSummary("www", 2, 0)}
    jobs = _ok(env.client.getJobs(None)).getJobsResult.configs
    assert {(j.key.name, j.instanceCount) for j in jobs} == {("hello", 3), ("other", 1)}
    groups = _ok(env.client.getConfigSummary(KEY)).configSummaryResult.summary.groups
    assert [g.instances for g in groups] == [{Range(0, 2)}]
    without = _ok(env.client.getTasksWithoutConfigs(TaskQuery(jobKeys={KEY}))).scheduleStatusResult.tasks
    assert len(without) == 3 and all(t.assignedTask.task.executorConfig is None for t in without)
    assert env.tasks(jobKeys={KEY})[0].assignedTask.task.executorConfig.name == "AuroraExecutor"  # store untouched
    assert len(env.tasks(role="www", limit=2)) == 2 and len(env.tasks(role="www", offset=3)) == 1
    assert len(env.tasks(statuses=set(), role="  ")) == 4  # empty sets and a blank role are unset, as Aurora's


def test_kill_deletes_pending_tasks_and_kills_assigned_ones(env):
    _ok(env.client.createJob(_job()))
    first, second, third = env.tasks(jobKeys={KEY})
    env.change(first.assignedTask.taskId, S.ASSIGNED)
    _ok(env.client.killTasks(KEY, {0, 1}, "bye"))
    remaining = env.tasks(jobKeys={KEY})
    assert [(t.assignedTask.instanceId, t.status) for t in remaining] == [(0, S.KILLING), (2, S.PENDING)]
    assert remaining[0].taskEvents[-1].message == "Killed by UNSECURE.\nbye"
    assert env.kills == [first.assignedTask.taskId]
    _ok(env.client.killTasks(KEY, None, None))
    assert [t.taskEvents[-1].message for t in env.tasks(jobKeys={KEY})] == ["Killed by UNSECURE.\nbye"]
    response = env.client.killTasks(KEY, None, None)  # only the KILLING one is left: nothing more to kill
    assert response.responseCode == OK and [d.message for d in response.details] == ["No tasks to kill."]


def test_restart_shards(env):
    _ok(env.client.createJob(_job()))
    tasks = env.tasks(jobKeys={KEY})
    for task in tasks[:2]:
        env.change(task.assignedTask.taskId, S.ASSIGNED)
        env.change(task.assignedTask.taskId, S.RUNNING)
    _refused(env.client.restartShards(KEY, {1, 7}), INVALID, "Not all requested shards are active.")
    assert env.kills == []
    _ok(env.client.restartShards(KEY, {0, 1}))
    restarted = env.tasks(jobKeys={KEY}, statuses={S.RESTARTING})
    assert [t.assignedTask.instanceId for t in restarted] == [0, 1]
    assert restarted[0].taskEvents[-1].message == "Restarted by UNSECURE"
    assert sorted(env.kills) == sorted(t.assignedTask.taskId for t in tasks[:2])
    env.change(tasks[0].assignedTask.taskId, S.KILLED)
    replacement = [t for t in env.tasks(jobKeys={KEY}) if t.ancestorId == tasks[0].assignedTask.taskId]
    assert [(t.status, t.assignedTask.instanceId) for t in replacement] == [(S.PENDING, 0)]


def test_add_instances(env):
    _ok(env.client.createJob(_job()))
    _ok(env.client.addInstances(InstanceKey(KEY, 1), 2))
    tasks = env.tasks(jobKeys={KEY})
    assert [t.assignedTask.instanceId for t in tasks] == [0, 1, 2, 3, 4]
    assert tasks[4].assignedTask.task == tasks[1].assignedTask.task
    _refused(env.client.addInstances(InstanceKey(KEY, 1), 0), INVALID, "Instance count must be positive.")
    _refused(env.client.addInstances(InstanceKey(KEY, 9), 1), INVALID,
             "No active task found for a given instance ID.")
    _refused(env.client.addInstances(InstanceKey(KEY, 0), 3996), INVALID,
             "Instance count must be between 1 and 4000 inclusive.")
    assert len(env.tasks(jobKeys={KEY})) == 5


def test_force_task_state_and_prune(env):
    _ok(env.client.createJob(_job()))
    tasks = env.tasks(jobKeys={KEY})
    task_id = tasks[0].assignedTask.taskId
    env.change(task_id, S.ASSIGNED)
    _ok(env.client.forceTaskState(task_id, S.FINISHED))
    finished = env.tasks(statuses={S.FINISHED})
    assert [(t.assignedTask.taskId, t.taskEvents[-1].message) for t in finished] == [
        (task_id, "Transition forced by UNSECURE")]
    response = env.client.pruneTasks(TaskQuery(statuses={S.FINISHED, S.PENDING}))
    _refused(response, ERROR, "Tasks in non-terminal state cannot be pruned.")
    _ok(env.client.pruneTasks(TaskQuery(jobKeys={KEY})))
    assert [t.status for t in env.tasks(jobKeys={KEY})] == [S.PENDING, S.PENDING]


def test_populate_job_config_and_tiers(env):
    populated = _ok(env.client.populateJobConfig(_job(production=True))).populateJobResult.taskConfig
    assert (populated.tier, populated.production) == ("preferred", True)
    populated = _ok(env.client.populateJobConfig(_job(tier="revocable"))).populateJobResult.taskConfig
    assert (populated.tier, populated.production) == ("revocable", False)
    _refused(env.client.populateJobConfig(_job(instances=0)), INVALID,
             "Invalid configuration: Instance count must be positive.")
    assert env.tasks() == []
    tiers = _ok(env.client.getTierConfigs()).getTierConfigResult
    assert tiers.defaultTierName == "preemptible"
    assert tiers.tiers == {TierConfig("preferred", {"preemptible": "false", "revocable": "false"}),
                           TierConfig("preemptible", {"preemptible": "true", "revocable": "false"}),
                           TierConfig("revocable", {"preemptible": "true", "revocable": "true"})}


def test_quotas_are_stored(env):
    empty = _ok(env.client.getQuota("www")).getQuotaResult
    assert empty.quota == ResourceAggregate({Resource(numCpus=0.0), Resource(ramMb=0), Resource(diskMb=0)})
    quota = ResourceAggregate({Resource(numCpus=10.0), Resource(ramMb=1024), Resource(diskMb=2048)})
    _ok(env.client.setQuota("www", quota))
    _ok(env.client.createJob(_job(production=True)))
    result = _ok(env.client.getQuota("www")).getQuotaResult
    assert result.quota == quota
    assert result.prodSharedConsumption == ResourceAggregate(
        {Resource(numCpus=1.5), Resource(ramMb=384), Resource(diskMb=192)})
    _refused(env.client.setQuota("www", ResourceAggregate({Resource(numCpus=1.0)})), ERROR,
             "Quota resources must be exactly: [CPUS, RAM_MB, DISK_MB]")
    _refused(env.client.getQuota(" "), ERROR, "ownerRole must not be blank")


# ------------------------------------------------------------------ validation: Aurora's messages and codes

def _set(path, value):
    def mutate(job):
        target = job
        *parents, last = path.split(".")
        for name in parents:
            target = getattr(target, name)
        setattr(target, last, value)
    return mutate


def _docker(**fields):
    return Container(docker=DockerContainer(**{"image": "img", **fields}))


ENV_PATTERN = r"^(prod|devel|test|staging\d*)$"
VALIDATION = [
    # (what is wrong, mutation, settings, code, message)
    ("no task config", _set("taskConfig", None), SETTINGS, INVALID, "Job configuration must have taskConfig set."),
    ("no instances", _set("instanceCount", 0), SETTINGS, INVALID, "Instance count must be positive."),
    ("bad role", _set("key", JobKey("a b", "prod", "hello")), SETTINGS, INVALID,
     "Job key IJobKey{role=a b, environment=prod, name=hello} is invalid."),
    ("bad environment", _set("key", JobKey("www", "qa", "hello")), SETTINGS, INVALID,
     f"Job environment qa doesn't match: {ENV_PATTERN}"),
    ("bad user", _set("owner", Identity(user="al ice")), SETTINGS, INVALID,
     "Job user contains illegal characters: al ice"),
    ("bad tier name", _set("taskConfig.tier", "pr/d"), SETTINGS, INVALID, "Tier contains illegal characters: pr/d"),
    ("unknown tier", _set("taskConfig.tier", "gold"), SETTINGS, INVALID, "Invalid tier 'gold' in TaskConfig."),
    ("bad task key", _set("taskConfig.job", JobKey("www", "prod", "")), SETTINGS, INVALID,
     "Job key IJobKey{role=www, environment=prod, name=} is invalid."),
    ("no executor", _set("taskConfig.executorConfig", None), SETTINGS, INVALID, "Configuration may not be null."),
    ("unnamed executor", _set("taskConfig.executorConfig", ExecutorConfig(data="{}")), SETTINGS, INVALID,
     "Executor name may not be left unset."),
    ("unknown executor", _set("taskConfig.executorConfig", ExecutorConfig("Other", "{}")), SETTINGS, INVALID,
     "Configuration for executor 'Other' doesn't exist."),
    ("dedicated limit", _set("taskConfig.constraints", {Constraint(
        "dedicated", TaskConstraint(limit=LimitConstraint(1)))}), SETTINGS, INVALID,
     "A dedicated constraint must be of value type."),
    ("dedicated two values", _set("taskConfig.constraints", {Constraint(
        "dedicated", TaskConstraint(value=ValueConstraint(False, {"www/a", "www/b"})))}), SETTINGS, INVALID,
     "A dedicated constraint must have exactly one value"),
    ("dedicated to another role", _set("taskConfig.constraints", {Constraint(
        "dedicated", TaskConstraint(value=ValueConstraint(False, {"ads/gpu"})))}), SETTINGS, INVALID,
     "Only ads may use hosts dedicated for that role."),
    ("docker not allowed", _set("taskConfig.container", _docker()), SETTINGS, INVALID,
     "This scheduler is not configured to allow the container type DOCKER"),
    ("docker without image", _set("taskConfig.container", _docker(image=None)), DOCKER, INVALID,
     "A container must specify an image."),
    ("docker parameters", _set("taskConfig.container", _docker(parameters=[DockerParameter("net", "host")])),
     DOCKER, INVALID, "This scheduler is configured to disallow Docker parameters."),
    ("docker without executor", lambda j: (_set("taskConfig.container", _docker())(j),
                                           _set("taskConfig.executorConfig", None)(j)), DOCKER, INVALID,
     "This scheduler is configured to require an executor for Docker-based tasks."),
    ("no container type", _set("taskConfig.container", Container()), SETTINGS, INVALID,
     "A job must have a container type."),
    ("two cpu values", _set("taskConfig.resources", {Resource(numCpus=1.0), Resource(numCpus=2.0),
                                                     Resource(ramMb=1), Resource(diskMb=1)}), SETTINGS, INVALID,
     "Multiple resource values are not supported for CPU"),
    ("no cpus", _set("taskConfig.resources", {Resource(ramMb=1), Resource(diskMb=1)}), SETTINGS, INVALID,
     "num_cpus must be greater than 0.0"),
    ("no ram", _set("taskConfig.resources", {Resource(numCpus=1.0), Resource(ramMb=0), Resource(diskMb=1)}),
     SETTINGS, INVALID, "ram_mb must be greater than 0.0"),
    ("no disk", _set("taskConfig.resources", {Resource(numCpus=1.0), Resource(ramMb=1)}), SETTINGS, INVALID,
     "disk_mb must be greater than 0.0"),
    ("gpus", _set("taskConfig.resources", {Resource(numCpus=1.0), Resource(ramMb=1), Resource(diskMb=1),
                                           Resource(numGpus=1)}), SETTINGS, INVALID,
     "GPU resource support is disabled in this cluster."),
    ("fetcher", _set("taskConfig.mesosFetcherUris", {MesosFetcherURI("http://x/y")}), SETTINGS, INVALID,
     "Mesos Fetcher for individual jobs is disabled in this cluster."),
    ("volumes", _set("taskConfig.container", Container(mesos=MesosContainer(volumes=[Volume("/a", "/b", Mode.RO)]))),
     SETTINGS, INVALID, "This scheduler is configured to disallow container volumes."),
    ("cron", _set("cronSchedule", "* * * * *"), SETTINGS, INVALID,
     "Cron jobs may only be created/updated by calling scheduleCronJob."),
    ("too many instances", _set("instanceCount", 4001), SETTINGS, INVALID,
     "Instance count must be between 1 and 4000 inclusive."),
    ("no implicit tier", _set("taskConfig.production", True),
     ApiSettings(cluster_name="devcluster", tiers=Tiers("p", (("p", Tier(True, False)),))), ERROR,
     "No matching implicit tier for task of job IJobKey{role=www, environment=prod, name=hello}"),
]


@pytest.mark.parametrize("mutate,settings,code,message", [v[1:] for v in VALIDATION], ids=[v[0] for v in VALIDATION])
def test_create_job_validation(protocol, mutate, settings, code, message):
    env = Env(protocol, settings)
    job = copy.deepcopy(_job())
    mutate(job)
    response = env.client.createJob(job)
    assert response.responseCode == code, response
    assert [d.message for d in response.details] == [message]
    assert env.tasks() == [] and env.log.entries == {}
    env.close()


def test_the_allowed_settings_accept_what_the_defaults_refuse(protocol):
    settings = ApiSettings(cluster_name="devcluster", allowed_container_types=frozenset({"DOCKER"}),
                           allow_docker_parameters=True, default_docker_parameters=(("label", "x"),),
                           require_docker_use_executor=False, allowed_job_environments=r"qa\d?",
                           max_tasks_per_job=2, allow_gpu_resource=True)
    env = Env(protocol, settings)
    created = env.client.createJob(_job(JobKey("www", "qa1", "d"), instances=2, executorConfig=None,
                                        container=_docker()))
    assert created.responseCode == OK, created
    (task, _) = env.tasks()
    assert task.assignedTask.task.container.docker.parameters == [DockerParameter("label", "x")]
    refused = env.client.createJob(_job(JobKey("www", "qa2", "d"), instances=3, container=_docker()))
    assert [d.message for d in refused.details] == ["Instance count must be between 1 and 2 inclusive."]
    env.close()


def test_a_service_may_not_run_on_cron(env):
    response = env.client.createJob(JobConfiguration(key=KEY, owner=Identity("alice"), taskConfig=_task(isService=True),
                                                     instanceCount=1, cronSchedule="* * * * *"))
    assert response.responseCode == INVALID
    assert response.details[0].message.startswith("A service task may not be run on a cron schedule: ")


def test_invalid_job_keys_are_errors(env):
    bad = JobKey("www", "prod", "he llo")
    for response in (env.client.killTasks(bad, None, None), env.client.restartShards(bad, {0}),
                     env.client.getConfigSummary(bad), env.client.addInstances(InstanceKey(bad, 0), 1)):
        _refused(response, ERROR, "Job key IJobKey{role=www, environment=prod, name=he llo} is invalid.")
    _refused(env.client.restartShards(KEY, set()), ERROR, "shardIds must not be empty")


# ------------------------------------------------------------------ storage

def test_storage_not_ready_is_error_transient(protocol):
    env = Env(protocol, start=False)
    for response in (env.client.createJob(_job()), env.client.getTasksStatus(TaskQuery()),
                     env.client.killTasks(KEY, None, None), env.client.getRoleSummary()):
        _refused(response, TRANSIENT, "Storage is not READY")
    env.run(env.storage.prepare())
    env.run(env.storage.start())
    _ok(env.client.createJob(_job()))
    env.run(env.storage.stop())
    _refused(env.client.getJobSummary(None), TRANSIENT, "Storage is not READY")
    env.close()


def test_a_failed_write_answers_error_and_changes_nothing(env):
    env.log.fail_next_append()
    response = env.client.createJob(_job())
    assert response.responseCode == ERROR
    assert response.details[0].message.startswith("the write failed and was undone in memory")
    assert env.tasks() == []
    _ok(env.client.createJob(_job()))
    assert len(env.tasks()) == 3


def test_missing_or_unknown_arguments_are_refused_in_words(env, caplog):
    _refused(env.client.createJob(None), INVALID, "Job configuration must be set.")
    _refused(env.client.populateJobConfig(None), INVALID, "Invalid configuration: Job configuration must be set.")
    _refused(env.client.pruneTasks(None), ERROR, "query must be set")
    _refused(env.client.forceTaskState("some-task", 999), ERROR, "Unknown status 999")
    assert "Traceback" not in caplog.text


def test_a_task_config_naming_another_job_is_filed_under_the_job_s_key(env):
    other = JobKey(role="other", environment="prod", name="elsewhere")
    job = _job()
    job.taskConfig.job = other
    _ok(env.client.createJob(job))
    tasks = _ok(env.client.getTasksWithoutConfigs(TaskQuery(role=KEY.role))).scheduleStatusResult.tasks
    assert len(tasks) == 3 and {t.assignedTask.task.job for t in tasks} == {KEY}
    assert not _ok(env.client.getTasksWithoutConfigs(TaskQuery(role="other"))).scheduleStatusResult.tasks
