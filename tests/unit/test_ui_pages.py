"""The scheduler's web pages through the daemon's real HTTP app (scheduler.app.http.make_app) on a store built
by writes to a DurableStorage over the in-memory log: what each page shows, escaping of user text, paging of
a 1,000-instance job, 404 pages for unknown roles, jobs and updates, 400 for bad page numbers, 503 before
storage is READY."""
from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import quote
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from scheduler.api.settings import ApiSettings
from scheduler.app.http import make_app
from scheduler.state.status import ScheduleStatus as S
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Attribute, BatchJobUpdateStrategy, Constraint, CronCollisionPolicy, ExecutorConfig, HostAttributes,
    Identity, JobUpdateStrategy,
    InstanceTaskConfig, JobConfiguration, JobInstanceUpdateEvent, JobKey, JobUpdate, JobUpdateAction, JobUpdateEvent,
    JobUpdateInstructions, JobUpdateKey, JobUpdateSettings, JobUpdateState, JobUpdateStatus, JobUpdateSummary,
    LimitConstraint, MaintenanceMode, Metadata, Range, Resource, ResourceAggregate, ScheduledTask, TaskConfig,
    TaskConstraint, TaskEvent)

T0 = 1_700_000_000_000
EVIL = "<script>alert(1)</script>"


def config(role="www", env="prod", name="hello", *, processes=("main",), metadata=(), service=True,
           cpus=0.5) -> TaskConfig:
    data = {"task": {"name": name, "processes": [{"name": p, "cmdline": f"echo {p}"} for p in processes]}}
    return TaskConfig(job=JobKey(role, env, name), owner=Identity(user="alice"), isService=service, priority=0,
                      maxTaskFailures=1, production=False, tier="preferred",
                      resources={Resource(numCpus=cpus), Resource(ramMb=128), Resource(diskMb=64),
                                 Resource(namedPort="http")},
                      constraints={Constraint(name="host", constraint=TaskConstraint(limit=LimitConstraint(1)))},
                      metadata={Metadata(key=k, value=v) for k, v in metadata},
                      executorConfig=ExecutorConfig(name="AuroraExecutor", data=json.dumps(data)))


def task(cfg: TaskConfig, instance: int, status=S.RUNNING, *, host="agent1", suffix="a", message="") -> ScheduledTask:
    task_id = f"{cfg.job.role}-{cfg.job.environment}-{cfg.job.name}-{instance}-{suffix}"
    events = [TaskEvent(timestamp=T0, status=S.PENDING, scheduler="sched1")]
    placed = status != S.PENDING
    if placed:
        events += [TaskEvent(timestamp=T0 + 1000, status=S.ASSIGNED, scheduler="sched1"),
                   TaskEvent(timestamp=T0 + 2000 + instance, status=status, message=message or None)]
    return ScheduledTask(assignedTask=AssignedTask(taskId=task_id, task=cfg, instanceId=instance,
                                                   slaveHost=host if placed else None,
                                                   slaveId="S1" if placed else None,
                                                   assignedPorts={"http": 31000 + instance} if placed else {}),
                         status=status, failureCount=0, timesPartitioned=0, taskEvents=events)


@dataclass
class FakeOffers:
    offers: list = field(default_factory=list)

    def held(self):
        return list(self.offers)


@dataclass
class FakeFramework:
    offers: FakeOffers = field(default_factory=FakeOffers)


class FakePlacer:
    def __init__(self):
        self.reasons = {}

    def pending_reason(self, config):
        return self.reasons.get(config.job.name, "")


@dataclass
class FakeCron:
    """The daemon's cron timers as the pages read them: -cron_timezone and the clock."""
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("GMT"))
    now_ms: int = T0

    def clock_ms(self) -> int:
        return self.now_ms


class Daemon:
    """What the HTTP app reads of the daemon: leadership, vars, storage, placer, framework, settings, cron."""
    leading = True
    leader = None

    def __init__(self):
        self.storage = DurableStorage(MemoryLog())
        self.placer = FakePlacer()
        self.framework = None
        self.settings = ApiSettings(cluster_name="devcluster")
        self.cron = FakeCron()

    def vars(self):
        return {}


async def _ready(daemon: Daemon, writes) -> None:
    await daemon.storage.prepare()
    await daemon.storage.start()
    for write in writes:
        async with daemon.storage.write() as w:
            write(w)


def serve(check, *writes, ready=True, setup=None):
    """Run `check(daemon, get)` against the app; `writes(w)` are storage writes done first."""
    async def main():
        daemon = Daemon()
        if ready:
            await _ready(daemon, writes)
        if setup:
            setup(daemon)
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(make_app(daemon, object()))
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        client = AsyncHTTPClient()

        async def get(path):
            reply = await client.fetch(f"http://127.0.0.1:{port}{path}", follow_redirects=False, raise_error=False)
            return reply.code, reply.body.decode()
        try:
            await check(daemon, get)
        finally:
            server.stop()
            client.close()
    asyncio.run(main())


def rows(body: str, table_id: str) -> list[str]:
    """The <tr> texts of one table's body, tags stripped."""
    match = re.search(rf'<table id="{table_id}"[^>]*>.*?<tbody>(.*?)</tbody>', body, re.S)
    assert match, f"no table {table_id}"
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)]


HELLO = config()
BATCH = config(env="devel", name="batch", service=False)
OTHER = config(role="ads", name="serve")


def basic(w):
    w.save_tasks([task(HELLO, 0), task(HELLO, 1, host="agent2"), task(HELLO, 2, S.PENDING),
                  task(HELLO, 0, S.FAILED, suffix="old", message="exit 1"),
                  task(BATCH, 0, S.FINISHED), task(OTHER, 0)])


def test_roles_lists_every_role_with_job_and_task_counts():
    async def check(daemon, get):
        code, body = await get("/scheduler")
        assert code == 200
        assert rows(body, "roles") == ["ads 1 0 1 0 1 0 0", "www 2 1 5 1 2 1 1"]
        assert 'href="/scheduler/www"' in body
        code, body = await get("/scheduler/")
        assert code == 200
    cron = JobConfiguration(key=JobKey("www", "prod", "nightly"), owner=Identity(user="alice"),
                            cronSchedule="0 * * * *", cronCollisionPolicy=CronCollisionPolicy.KILL_EXISTING,
                            taskConfig=config(name="nightly"), instanceCount=2)
    serve(check, basic, lambda w: w.save_cron_job(cron))


def test_role_and_environment_pages_list_jobs():
    async def check(daemon, get):
        code, body = await get("/scheduler/www")
        assert code == 200
        assert rows(body, "jobs") == ["devel batch job preferred 0 0 1 0", "prod hello service preferred 1 2 0 1"]
        assert 'href="/scheduler/www/prod/hello"' in body
        code, body = await get("/scheduler/www/devel")
        assert rows(body, "jobs") == ["devel batch job preferred 0 0 1 0"]
    serve(check, basic)


def test_job_page_shows_tasks_hosts_ports_events_config_and_pending_reasons():
    async def check(daemon, get):
        daemon.placer.reasons["hello"] = "Insufficient: CPU"
        code, body = await get("/scheduler/www/prod/hello")
        assert code == 200
        active = rows(body, "active-tasks")
        assert [r.split()[:3] for r in active] == [["0", "RUNNING", "agent1"], ["1", "RUNNING", "agent2"],
                                                   ["2", "PENDING", "Insufficient:"]]
        assert "http: 31000" in active[0] and "0.5 CPU, 128 MiB RAM, 64 MiB disk" in active[0]
        assert '<div class="pending-reason">Insufficient: CPU</div>' in body
        assert 'href="http://agent1:1338/task/www-prod-hello-0-a"' in body
        assert 'href="http://agent2:1338/task/www-prod-hello-1-a"' in body
        finished = rows(body, "finished-tasks")
        assert len(finished) == 1 and finished[0].startswith("0 FAILED agent1") and "exit 1" in finished[0]
        assert '<details id="events-www-prod-hello-0-a">' in body and "3 events" in body
        assert "<b>main</b> <code>echo main</code>" in body            # the processes of the config
        assert "<code>host limit:1</code>" in body
    serve(check, basic)


def test_a_task_not_yet_tried_says_so():
    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello")
        assert '<div class="pending-reason">not yet tried</div>' in body
    serve(check, basic)


def test_user_text_is_escaped_everywhere():
    evil = config(name="evil", processes=(EVIL,), metadata=[("note", EVIL), (EVIL, "x")])

    def write(w):
        w.save_tasks([task(evil, 0, message=EVIL), task(evil, 1, S.PENDING), task(evil, 2, S.LOST, suffix="b",
                                                                                   message=EVIL)])
        w.save_quota(EVIL, ResourceAggregate(resources={Resource(numCpus=1.0), Resource(ramMb=1), Resource(diskMb=1)}))
        w.save_host_attributes(HostAttributes(host=EVIL, attributes={Attribute(name=EVIL, values={EVIL})},
                                              mode=MaintenanceMode.DRAINING, slaveId=EVIL))

    async def check(daemon, get):
        daemon.placer.reasons["evil"] = EVIL
        for path in ("/scheduler/www/prod/evil", "/pendingtasks", "/quotas", "/agents", "/maintenance",
                     "/scheduler/" + quote(EVIL, safe=""), "/scheduler/www/prod/" + quote(EVIL, safe="")):
            code, body = await get(path)
            assert "<script>alert" not in body, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path
    serve(check, write)


def big(w):
    w.save_tasks([task(HELLO, i) for i in range(1000)] + [task(HELLO, i, S.KILLED, suffix="old") for i in range(120)])


def test_a_large_job_is_paged():
    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello")
        active = rows(body, "active-tasks")
        assert [int(r.split()[0]) for r in active] == list(range(50))
        assert "1&ndash;50 of 1000" in body and "1&ndash;50 of 120" in body
        assert 'href="/scheduler/www/prod/hello?active_offset=50"' in body
        code, body = await get("/scheduler/www/prod/hello?active_offset=950&finished_offset=100")
        assert [int(r.split()[0]) for r in rows(body, "active-tasks")] == list(range(950, 1000))
        assert len(rows(body, "finished-tasks")) == 20
        assert 'href="/scheduler/www/prod/hello?active_offset=900&amp;finished_offset=100"' in body
        assert "next &rarr;" not in body.split('id="active-tasks"')[0].rsplit("<h2>", 1)[1]
        code, body = await get("/scheduler/www/prod/hello?num=200")
        assert len(rows(body, "active-tasks")) == 200
        code, body = await get("/scheduler/www/prod/hello?active_offset=5000")
        assert code == 200 and "No active tasks" not in body and rows(body, "active-tasks") == []
        # Counts cover every task, not the page.
        assert "1000" in re.search(r'<td class="num active">(\d+)</td>', body).group(0)
    serve(check, big)


@pytest.mark.parametrize("query,message", [
    ("active_offset=-1", "active_offset must be at least 0, got -1"),
    ("finished_offset=x", "finished_offset must be an integer, got 'x'"),
    ("num=0", "num must be between 1 and 1000, got 0"),
    ("num=5000", "num must be between 1 and 1000, got 5000"),
])
def test_bad_page_numbers_are_400_with_one_line(query, message):
    async def check(daemon, get):
        code, body = await get(f"/scheduler/www/prod/hello?{query}")
        assert code == 400
        assert f'<p class="error" id="error-message">{message.replace(chr(39), "&#39;")}</p>' in body
        assert "Traceback" not in body
    serve(check, basic)


def test_unknown_role_env_job_and_update_are_404_pages():
    async def check(daemon, get):
        for path, message in [("/scheduler/nobody", "no jobs of role nobody"),
                              ("/scheduler/www/staging", "no jobs in www/staging"),
                              ("/scheduler/www/prod/nothing", "no job www/prod/nothing"),
                              ("/scheduler/www/prod/hello/update/nope", "no update nope of www/prod/hello"),
                              ("/scheduler/www/prod/hello/extra", "no such page: /scheduler/www/prod/hello/extra"),
                              ("/utilization", "no such page: /utilization")]:
            code, body = await get(path)
            assert code == 404, path
            assert f'id="error-message">{message}</p>' in body, path
            assert body.startswith("<!DOCTYPE html>")
    serve(check, basic)


def test_a_failing_page_is_a_500_page_without_a_traceback():
    async def check(daemon, get):
        def broken(config):
            raise RuntimeError("boom")
        daemon.placer.pending_reason = broken
        code, body = await get("/scheduler/www/prod/hello")
        assert code == 500
        assert "internal error (logged by the scheduler)" in body and "boom" not in body and "Traceback" not in body
    serve(check, basic)


def test_pages_wait_for_storage_ready():
    async def check(daemon, get):
        for path in ("/scheduler", "/scheduler/www/prod/hello", "/updates", "/offers"):
            code, body = await get(path)
            assert code == 503 and "Storage is not READY" in body, path
    serve(check, ready=False)


UPDATE_KEY = JobUpdateKey(job=JobKey("www", "prod", "hello"), id="upd-1")


def update(w):
    summary = JobUpdateSummary(key=UPDATE_KEY, user="alice", metadata={Metadata(key="reason", value=EVIL)},
                               state=JobUpdateState(status=JobUpdateStatus.ROLLING_FORWARD,
                                                    createdTimestampMs=T0, lastModifiedTimestampMs=T0 + 5000))
    instructions = JobUpdateInstructions(
        initialState={InstanceTaskConfig(task=HELLO, instances={Range(0, 2)})},
        desiredState=InstanceTaskConfig(task=config(processes=("main", "sidecar")), instances={Range(0, 4)}),
        settings=JobUpdateSettings(updateGroupSize=2, maxPerInstanceFailures=0, maxFailedInstances=0,
                                   minWaitInInstanceRunningMs=1000, rollbackOnFailure=True))
    w.save_job_update(JobUpdate(summary=summary, instructions=instructions))
    w.save_job_update_event(UPDATE_KEY, JobUpdateEvent(status=JobUpdateStatus.ROLLING_FORWARD, timestampMs=T0,
                                                       user="alice", message="go"))
    A = JobUpdateAction
    for i, at, action in [(0, 1, A.INSTANCE_UPDATING), (0, 2, A.INSTANCE_UPDATED), (1, 3, A.INSTANCE_UPDATING),
                          (2, 4, A.INSTANCE_UPDATE_FAILED)]:
        w.save_job_instance_update_event(UPDATE_KEY, JobInstanceUpdateEvent(instanceId=i, timestampMs=T0 + at,
                                                                            action=action))


def test_updates_and_an_update_with_a_box_per_instance():
    async def check(daemon, get):
        code, body = await get("/updates")
        assert code == 200
        assert rows(body, "updates")[0].startswith("www/prod/hello upd-1 ROLLING_FORWARD 0-4 alice")
        assert 'href="/scheduler/www/prod/hello/update/upd-1"' in body
        code, body = await get("/scheduler/www/prod/hello/update/upd-1")
        assert code == 200
        boxes = re.findall(r'<span class="box ([a-z-]+)" title="instance (\d+)', body)
        assert boxes == [("updated", "0"), ("updating", "1"), ("failed", "2"), ("pending", "3"), ("pending", "4")]
        assert "1 of 5 instances done, 1 failed" in body
        assert "<dt>rollbackOnFailure</dt><dd>true</dd>" in body
        assert rows(body, "update-events") == ["2023-11-14 22:13:20 ROLLING_FORWARD alice go"]
        assert "<b>sidecar</b>" in body and "&lt;script&gt;" in body and "<script>alert" not in body
        code, body = await get("/scheduler/www/prod/hello")
        assert 'class="update-link" href="/scheduler/www/prod/hello/update/upd-1"' in body
    serve(check, basic, update)


def test_an_update_of_a_job_without_tasks_still_has_a_job_page():
    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello")
        assert code == 200 and "No active tasks." in body and "upd-1" in body
    serve(check, update)


def test_pending_tasks_grouped_with_reasons():
    async def check(daemon, get):
        daemon.placer.reasons["hello"] = "Limit not satisfied: host"
        code, body = await get("/pendingtasks")
        assert rows(body, "pending") == [
            "www/prod/hello 2-4 3 0.5 CPU, 128 MiB RAM, 64 MiB disk Limit not satisfied: host",
            "ads/prod/serve 0 1 0.5 CPU, 128 MiB RAM, 64 MiB disk not yet tried"]
    serve(check, lambda w: w.save_tasks([task(HELLO, i, S.PENDING) for i in (2, 3, 4)] + [task(OTHER, 0, S.PENDING)]
                                        + [task(HELLO, 0)]))


def test_quotas_show_quota_and_consumption():
    prod = config(role="ads", name="p", cpus=2.0)
    prod.production = True

    def write(w):
        w.save_tasks([task(prod, 0), task(prod, 1), task(OTHER, 0)])
        w.save_quota("ads", ResourceAggregate(resources={Resource(numCpus=10.0), Resource(ramMb=2048),
                                                         Resource(diskMb=4096)}))

    async def check(daemon, get):
        code, body = await get("/quotas")
        assert rows(body, "quotas") == [
            "ads 10 CPU, 2 GiB RAM, 4 GiB disk 4 CPU, 256 MiB RAM, 128 MiB disk "
            "0.5 CPU, 128 MiB RAM, 64 MiB disk 0 CPU, 0 MiB RAM, 0 MiB disk 0 CPU, 0 MiB RAM, 0 MiB disk"]
    serve(check, write)


def test_quotas_count_cron_templates_as_get_quota_does():
    """The page's consumption is getQuota's (scheduler.api.quota.role_info): a production cron template counts
    at its instance count, even with no task running."""
    nightly = config(role="ads", name="nightly", cpus=2.0)
    nightly.production = True
    cron = JobConfiguration(key=nightly.job, owner=Identity(user="alice"), cronSchedule="0 3 * * *",
                            taskConfig=nightly, instanceCount=3)

    def write(w):
        w.save_cron_job(cron)
        w.save_quota("ads", ResourceAggregate(resources={Resource(numCpus=10.0), Resource(ramMb=2048),
                                                         Resource(diskMb=4096)}))

    async def check(daemon, get):
        code, body = await get("/quotas")
        assert rows(body, "quotas") == [
            "ads 10 CPU, 2 GiB RAM, 4 GiB disk 6 CPU, 384 MiB RAM, 192 MiB disk "
            "0 CPU, 0 MiB RAM, 0 MiB disk 0 CPU, 0 MiB RAM, 0 MiB disk 0 CPU, 0 MiB RAM, 0 MiB disk"]
    serve(check, write)


def hosts(w):
    w.save_host_attributes(HostAttributes(host="agent1", attributes={Attribute(name="rack", values={"a"})},
                                          mode=MaintenanceMode.DRAINING, slaveId="S1"))
    w.save_host_attributes(HostAttributes(host="agent2", attributes=set(), mode=MaintenanceMode.NONE, slaveId="S2"))
    w.save_host_attributes(HostAttributes(host="agent3", attributes=set(), mode=MaintenanceMode.SCHEDULED,
                                          slaveId="S3"))


def test_agents_and_maintenance():
    async def check(daemon, get):
        for path in ("/agents", "/slaves"):
            code, body = await get(path)
            assert code == 200
            assert rows(body, "agents") == ["agent1 S1 DRAINING rack: a 2", "agent2 S2 NONE 1", "agent3 S3 SCHEDULED 0"]
        code, body = await get("/maintenance")
        assert rows(body, "maintenance-draining") == ["agent1 ads-prod-serve-0-a www-prod-hello-0-a"]
        assert rows(body, "maintenance-scheduled") == ["agent3"]
        assert "No hosts." in body                   # nothing DRAINED
    serve(check, lambda w: w.save_tasks([task(HELLO, 0), task(OTHER, 0), task(HELLO, 1, host="agent2")]), hosts)


@dataclass
class Held:
    offer_id: str
    agent_id: str
    hostname: str
    raw: dict


def test_offers_held_and_before_registration():
    async def check(daemon, get):
        code, body = await get("/offers")
        assert "Not registered with Mesos yet." in body
        ports = {"range": [{"begin": 31000, "end": 31999}]}
        raw = {"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 3.5}},
                             {"name": "ports", "type": "RANGES", "ranges": ports}],
               "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "a"}}]}
        daemon.framework = FakeFramework(FakeOffers([Held("o1", "S1", "agent1", raw)]))
        code, body = await get("/offers")
        assert rows(body, "offers") == ["agent1 o1 S1 cpus: 3.5 ports: [31000-31999] rack: a"]
        daemon.framework = FakeFramework()
        assert "No offers held." in (await get("/offers"))[1]
    serve(check)


def test_cron_and_tiers():
    cron = JobConfiguration(key=JobKey("www", "prod", "nightly"), owner=Identity(user="alice"),
                            cronSchedule="0 3 * * *", cronCollisionPolicy=CronCollisionPolicy.CANCEL_NEW,
                            taskConfig=config(name="nightly"), instanceCount=2)

    async def check(daemon, get):
        code, body = await get("/cron")
        assert rows(body, "cron") == [
            "www/prod/nightly 0 3 * * * 2023-11-15 03:00:00 GMT none yet 0 CANCEL_NEW 2 alice"]
        code, body = await get("/scheduler/www/prod/nightly")
        assert code == 200 and "cron <code>0 3 * * *</code>, CANCEL_NEW, 2 instances" in body
        assert 'next run <span class="next-run">2023-11-15 03:00:00 GMT</span>' in body
        code, body = await get("/tiers")
        assert rows(body, "tiers") == ["preferred no no", "preemptible yes no", "revocable yes yes"]
        assert '<b id="default-tier">preemptible</b>' in body
    serve(check, lambda w: w.save_cron_job(cron))


def test_pages_carry_the_refresh_script_and_static_files_are_served():
    async def check(daemon, get):
        code, body = await get("/scheduler")
        script = re.search(r'<script src="(/assets/ui\.js\?v=\w+)"', body).group(1)
        assert 'data-refresh="10"' in body
        code, js = await get(script)
        assert code == 200 and "setInterval" in js
        code, css = await get(re.search(r'href="(/assets/ui\.css\?v=\w+)"', body).group(1))
        assert code == 200
    serve(check, basic)


def cells(body: str, table_id: str) -> list[list[str]]:
    """The cell texts of one table's body rows, tags stripped and entities left as sent."""
    match = re.search(rf'<table id="{table_id}"[^>]*>.*?<tbody>(.*?)</tbody>', body, re.S)
    assert match, f"no table {table_id}"
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)]


def test_a_job_running_two_configs_shows_how_the_second_differs_from_the_first():
    """Mid-update: instances 0-1 run the old config, 2-3 a new one (more CPU, a sidecar process, new
    metadata, another tier); the page lists the fields that differ, old value then new, escaped."""
    new = config(processes=("main", EVIL), cpus=1.0, metadata=[("build", EVIL)])
    new.tier = "preemptible"

    def write(w):
        w.save_tasks([task(HELLO, 0), task(HELLO, 1), task(new, 2, suffix="b"), task(new, 3, suffix="b")])

    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello")
        assert code == 200
        assert "The active tasks run 2 configurations" in body
        assert re.search(r'<table id="config-diff-1" class="config-diff"><thead><tr><th>field</th>'
                         r'<th>instances 0-1</th><th>instances 2-3</th>', body)
        assert cells(body, "config-diff-1") == [
            ["cpus", "0.5", "1"],
            ["tier", "preferred", "preemptible"],
            ["metadata build", "(none)", "&lt;script&gt;alert(1)&lt;/script&gt;"],
            ["process &lt;script&gt;alert(1)&lt;/script&gt;", "(none)", "echo &lt;script&gt;alert(1)&lt;/script&gt;"]]
        assert "<script>alert" not in body
        assert len(re.findall(r'<dl class="config">', body)) == 2        # both configs still shown in full
    serve(check, write)

    async def one_config(daemon, get):
        code, body = await get("/scheduler/www/prod/hello")
        assert 'id="config-diffs"' not in body and "config-diff-1" not in body
    serve(one_config, basic)


def data_config(processes: dict, **extra) -> TaskConfig:
    """HELLO with executor data of these processes (name -> dict of process fields) and job fields."""
    c = config()
    data = {"task": {"name": "hello", "processes": [{"name": n, **fields} for n, fields in processes.items()]},
            **extra}
    c.executorConfig = ExecutorConfig(name="AuroraExecutor", data=json.dumps(data))
    return c


UPDATE_KEY_2 = JobUpdateKey(job=JobKey("www", "prod", "hello"), id="upd-2")


def shrinking_update(w):
    """An update from two initial configs (0-1, 2-3) to one desired config on 0-2: instance 3 is removed;
    batches of 2 with autopause; instance 0 updated, 1 rolling back, 3 removed, 2 rolled back then ..."""
    old_a = data_config({"main": {"cmdline": "./serve --v1", "daemon": False}})
    old_b = data_config({"main": {"cmdline": "./serve --v1", "daemon": True}})
    new = data_config({"main": {"cmdline": f"./serve --v2 {EVIL}", "daemon": False}},
                      health_check_config={"interval_secs": 5.0})
    strategy = JobUpdateStrategy(batchStrategy=BatchJobUpdateStrategy(groupSize=2, autopauseAfterBatch=True))
    summary = JobUpdateSummary(key=UPDATE_KEY_2, user="bob",
                               state=JobUpdateState(status=JobUpdateStatus.ROLLING_BACK, createdTimestampMs=T0,
                                                    lastModifiedTimestampMs=T0 + 9000))
    instructions = JobUpdateInstructions(
        initialState={InstanceTaskConfig(task=old_a, instances={Range(0, 1)}),
                      InstanceTaskConfig(task=old_b, instances={Range(2, 3)})},
        desiredState=InstanceTaskConfig(task=new, instances={Range(0, 2)}),
        settings=JobUpdateSettings(updateGroupSize=2, maxPerInstanceFailures=1, maxFailedInstances=1,
                                   minWaitInInstanceRunningMs=1000, rollbackOnFailure=True, updateStrategy=strategy))
    w.save_job_update(JobUpdate(summary=summary, instructions=instructions))
    for at, status in [(0, JobUpdateStatus.ROLLING_FORWARD), (6, JobUpdateStatus.ROLLING_BACK)]:
        w.save_job_update_event(UPDATE_KEY_2, JobUpdateEvent(status=status, timestampMs=T0 + at, user="bob"))
    A = JobUpdateAction
    for i, at, action in [(0, 1, A.INSTANCE_UPDATING), (0, 2, A.INSTANCE_UPDATED), (3, 3, A.INSTANCE_UPDATING),
                          (3, 4, A.INSTANCE_UPDATED), (1, 5, A.INSTANCE_UPDATING), (1, 6, A.INSTANCE_UPDATE_FAILED),
                          (1, 7, A.INSTANCE_ROLLING_BACK), (2, 8, A.INSTANCE_ROLLING_BACK),
                          (2, 9, A.INSTANCE_ROLLED_BACK)]:
        w.save_job_instance_update_event(UPDATE_KEY_2, JobInstanceUpdateEvent(instanceId=i, timestampMs=T0 + at,
                                                                              action=action))


def test_an_update_page_shows_its_progress_diff_settings_and_strategy():
    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello/update/upd-2")
        assert code == 200
        boxes = re.findall(r'<span class="box ([a-z-]+)" title="instance (\d+): ([A-Z_ ()a-z]+) ', body)
        assert boxes == [("updated", "0", "INSTANCE_UPDATED"), ("rolling-back", "1", "INSTANCE_ROLLING_BACK"),
                         ("rolled-back", "2", "INSTANCE_ROLLED_BACK"), ("removed", "3", "INSTANCE_UPDATED (removed)")]
        counts = dict(re.findall(r'<span class="count count-([a-z-]+)">.*?<b>(\d+)</b>', body))
        assert counts == {"pending": "0", "updating": "0", "updated": "1", "rolling-back": "1", "rolled-back": "1",
                          "failed": "0", "removed": "1"}
        assert "ROLLING_BACK: 3 of 4 instances done" in body
        evil = "&lt;script&gt;alert(1)&lt;/script&gt;"
        assert cells(body, "update-diff-0") == [
            ["process main", "./serve --v1", f"./serve --v2 {evil}"],
            ["health_check_config.interval_secs", "(none)", "5"]]
        assert re.search(r'<table id="update-diff-0" class="config-diff"><thead><tr><th>field</th>'
                         r'<th>before: instances 0-1</th><th>desired: instances 0-2</th>', body)
        assert cells(body, "update-diff-1") == [
            ["process main", "./serve --v1", f"./serve --v2 {evil}"],
            ["process main daemon", "true", "false"],
            ["health_check_config.interval_secs", "(none)", "5"]]
        assert 'Instances <span class="instances">3</span> are removed.' in body
        assert "are added" not in body
        assert "<dt>updateStrategy</dt><dd>batch, group size 2, autopause after each batch</dd>" in body
        assert "<dt>maxFailedInstances</dt><dd>1</dd>" in body
        assert "<script>alert" not in body
    serve(check, shrinking_update)


def test_an_update_adding_instances_says_which_and_a_scoped_update_shows_only_its_scope():
    def write(w):
        update(w)      # upd-1: 0-2 -> 0-4 (3 and 4 added)
        key = JobUpdateKey(job=JobKey("www", "prod", "hello"), id="upd-3")
        summary = JobUpdateSummary(key=key, user="alice", state=JobUpdateState(
            status=JobUpdateStatus.ROLLING_FORWARD, createdTimestampMs=T0, lastModifiedTimestampMs=T0))
        instructions = JobUpdateInstructions(
            initialState={InstanceTaskConfig(task=HELLO, instances={Range(1, 1)})},
            desiredState=InstanceTaskConfig(task=config(cpus=2.0), instances={Range(1, 1)}),
            settings=JobUpdateSettings(updateGroupSize=1, updateOnlyTheseInstances={Range(1, 1)}))
        w.save_job_update(JobUpdate(summary=summary, instructions=instructions))

    async def check(daemon, get):
        code, body = await get("/scheduler/www/prod/hello/update/upd-1")
        assert 'Instances <span class="instances">3-4</span> are added with the desired configuration.' in body
        assert cells(body, "update-diff-0")[0] == ["process sidecar", "(none)", "echo sidecar"]
        code, body = await get("/scheduler/www/prod/hello/update/upd-3")
        assert re.findall(r'<span class="box ([a-z-]+)" title="instance (\d+)', body) == [("pending", "1")]
        assert cells(body, "update-diff-0") == [["cpus", "0.5", "2"]]
        assert "<dt>updateOnlyTheseInstances</dt><dd>1</dd>" in body
    serve(check, write)


def test_cron_page_shows_next_and_last_runs_in_the_cron_timezone_and_runs_in_flight():
    def cron_job(name, schedule, owner="alice"):
        return JobConfiguration(key=JobKey("www", "prod", name), owner=Identity(user=owner), cronSchedule=schedule,
                                cronCollisionPolicy=CronCollisionPolicy.KILL_EXISTING,
                                taskConfig=config(name=name), instanceCount=1)

    def write(w):
        # T0 is 2023-11-14 23:13:20 in Berlin (CET, UTC+1). "0 3 * * *" last ran 2023-11-14 03:00 CET.
        w.save_cron_job(cron_job("nightly", "0 3 * * *"), 1_699_927_200_000)
        w.save_cron_job(cron_job("hourly", "0 * * * *"), T0 - 5)          # saved, not yet run
        w.save_cron_job(cron_job("never", "0 0 31 2 *"))
        w.save_cron_job(cron_job("broken", EVIL, owner=EVIL))
        w.save_tasks([task(config(name="hourly"), 0)])

    async def check(daemon, get):
        daemon.cron.tz = ZoneInfo("Europe/Berlin")
        code, body = await get("/cron")
        assert code == 200
        assert '<b id="cron-zone">Europe/Berlin</b>' in body
        table = cells(body, "cron")
        evil = "&lt;script&gt;alert(1)&lt;/script&gt;"
        assert [r[:5] for r in table] == [
            ["www/prod/broken", evil, "never", "none yet", "0"],
            ["www/prod/hourly", "0 * * * *", "2023-11-15 00:00:00 CET", "none since saved 2023-11-14 23:13:19 CET",
             "1 (running)"],
            ["www/prod/never", "0 0 31 2 *", "never", "none yet", "0"],
            ["www/prod/nightly", "0 3 * * *", "2023-11-15 03:00:00 CET", "2023-11-14 03:00:00 CET", "0"]]
        assert table[0][7] == evil and "<script>alert" not in body
        code, body = await get("/scheduler/www/prod/nightly")
        assert ('next run <span class="next-run">2023-11-15 03:00:00 CET</span>; '
                'last run <span class="last-run">2023-11-14 03:00:00 CET</span>') in body
    serve(check, write)


def test_cron_maintenance_and_quotas_answer_aurora_json_when_asked():
    cron = JobConfiguration(key=JobKey("www", "prod", "nightly"), owner=Identity(user="alice"),
                            cronSchedule="0 3 * * *", taskConfig=config(name="nightly"), instanceCount=1)

    def write(w):
        w.save_cron_job(cron)
        w.save_quota("ads", ResourceAggregate(resources={Resource(numCpus=2.5), Resource(ramMb=1024),
                                                         Resource(diskMb=4096)}))
        w.save_quota("www", ResourceAggregate(resources={Resource(numCpus=1.0), Resource(ramMb=1), Resource(diskMb=1)}))
        w.save_tasks([task(HELLO, 0), task(OTHER, 0), task(HELLO, 1, host="agent2")])
        hosts(w)
        w.save_host_attributes(HostAttributes(host="agent4", attributes=set(), mode=MaintenanceMode.DRAINED,
                                              slaveId="S4"))

    async def check(daemon, get):
        code, body = await get("/cron?format=json")
        assert code == 200 and json.loads(body) == {"scheduled": {"www/prod/nightly": "0 3 * * *"}}
        code, body = await get("/maintenance?format=json")
        assert json.loads(body) == {"DRAINED": ["agent4"], "SCHEDULED": ["agent3"],
                                    "DRAINING": {"agent1": ["ads-prod-serve-0-a", "www-prod-hello-0-a"]}}
        code, body = await get("/quotas?format=json")
        assert json.loads(body) == {"ads": {"cpu_cores": 2.5, "ram_mb": 1024, "disk_mb": 4096},
                                    "www": {"cpu_cores": 1.0, "ram_mb": 1, "disk_mb": 1}}
        assert json.loads((await get("/quotas?format=json&role=ads"))[1]) == {
            "ads": {"cpu_cores": 2.5, "ram_mb": 1024, "disk_mb": 4096}}
        assert json.loads((await get("/quotas?format=json&role=nobody"))[1]) == {}
        code, body = await get("/cron")                      # a browser (or no Accept) still gets the page
        assert body.startswith("<!DOCTYPE html>")
    serve(check, write)


def test_an_accept_header_asking_for_json_gets_json():
    async def main():
        daemon = Daemon()
        await _ready(daemon, [lambda w: w.save_quota("ads", ResourceAggregate(
            resources={Resource(numCpus=1.0), Resource(ramMb=2), Resource(diskMb=3)}))])
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(make_app(daemon, object()))
        server.add_sockets(sockets)
        client = AsyncHTTPClient()
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/quotas"
        try:
            reply = await client.fetch(url, headers={"Accept": "application/json"})
            assert reply.headers["Content-Type"].startswith("application/json")
            assert json.loads(reply.body) == {"ads": {"cpu_cores": 1.0, "ram_mb": 2, "disk_mb": 3}}
            browser_accept = "text/html,application/xhtml+xml,application/json;q=0.9"
            reply = await client.fetch(url, headers={"Accept": browser_accept})
            assert reply.body.decode().startswith("<!DOCTYPE html>")
        finally:
            server.stop()
            client.close()
    asyncio.run(main())


def test_a_daemon_without_cron_timers_shows_cron_times_in_gmt():
    cron = JobConfiguration(key=JobKey("www", "prod", "nightly"), owner=Identity(user="alice"),
                            cronSchedule="0 3 * * *", taskConfig=config(name="nightly"), instanceCount=1)

    async def check(daemon, get):
        code, body = await get("/cron")
        assert code == 200 and '<b id="cron-zone">GMT</b>' in body
        assert re.search(r'<td class="next-run">\d{4}-\d\d-\d\d 03:00:00 GMT</td>', body)
    serve(check, lambda w: w.save_cron_job(cron), setup=lambda daemon: delattr(daemon, "cron"))
