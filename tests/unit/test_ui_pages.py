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
    AssignedTask, Attribute, Constraint, CronCollisionPolicy, ExecutorConfig, HostAttributes, Identity,
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


class Daemon:
    """What the HTTP app reads of the daemon: leadership, vars, storage, placer, framework, settings."""
    leading = True
    leader = None

    def __init__(self):
        self.storage = DurableStorage(MemoryLog())
        self.placer = FakePlacer()
        self.framework = None
        self.settings = ApiSettings(cluster_name="devcluster")

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
        assert rows(body, "cron") == ["www/prod/nightly 0 3 * * * CANCEL_NEW 2 alice"]
        code, body = await get("/scheduler/www/prod/nightly")
        assert code == 200 and "cron <code>0 3 * * *</code>, CANCEL_NEW, 2 instances" in body
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
