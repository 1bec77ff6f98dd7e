"""POST /api over real HTTP: a tornado server on loopback (its own loop, in a thread) serving the unit tests'
stub, clients built from our IDL in both protocols, and bad requests that must not stop it serving; and the
maintenance and quota calls served by the real APIs on a storage over the in-memory log."""

import asyncio
import threading
import time
import urllib.error
import urllib.request

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from thrift.Thrift import TApplicationException
from thrift.transport import TTransport

from scheduler.api import client, protocol
from scheduler.api.admin import Handlers
from scheduler.api.endpoint import ApiHandler
from scheduler.api.handlers import SchedulerApi
from scheduler.api.maintenance import MaintenanceApi, MaintenanceController, offer_host_attributes
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.state.status import ScheduleStatus
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from tests.unit.test_api_jobs import _job
from tests.unit.test_api_maintenance import _task
from tests.unit.test_thrift_api import KILL, Stub, exception_in
from thermos_executor.aurora_api.gen.ttypes import (Hosts, HostStatus, JobKey, MaintenanceMode, Resource,
                                                    ResourceAggregate, ResponseCode, TaskQuery)


def _serve(handler_on, started: dict):
    """Serve /api on loopback in a thread of its own until the fixture ends; `handler_on(loop)` builds the
    handler on the server's loop (as the daemon does)."""
    ready = threading.Event()

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        handler = handler_on(loop)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        http = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/api", ApiHandler, {"handler": handler})]))
        http.add_sockets(sockets)
        started.update(loop=loop, port=sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        http.stop()
        loop.run_until_complete(http.close_all_connections())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    return thread


@pytest.fixture(scope="module")
def server():
    """(url, stub) of an /api served until the module's tests end."""
    stub, started = Stub(), {}
    thread = _serve(lambda loop: stub, started)
    yield f"http://127.0.0.1:{started['port']}/api", stub
    started["loop"].call_soon_threadsafe(started["loop"].stop)
    thread.join(10)


@pytest.fixture
def maintenance_server():
    """(url, run) of an /api answering with the real job and maintenance APIs; `run(coro)` runs a coroutine
    on the server's loop and returns its result."""
    started, built = {}, {}

    def handler_on(loop):
        storage = DurableStorage(MemoryLog())
        loop.run_until_complete(storage.prepare())
        loop.run_until_complete(storage.start())
        manager = StateManager(storage, kill=lambda task_id: None, clock_ms=lambda: 1_000, hostname="h",
                               on_change=lambda change: controller.on_change(change))
        controller = MaintenanceController(manager, spawn=loop.create_task)
        built.update(storage=storage, manager=manager)
        settings = ApiSettings(cluster_name="devcluster")
        return Handlers(SchedulerApi(storage, manager, settings), MaintenanceApi(controller, settings))

    thread = _serve(handler_on, started)

    def run(make_coro):
        return asyncio.run_coroutine_threadsafe(make_coro(built), started["loop"]).result(10)
    yield f"http://127.0.0.1:{started['port']}/api", run
    started["loop"].call_soon_threadsafe(started["loop"].stop)
    thread.join(10)


def post(url, body, content_type):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, reply.headers["Content-Type"], reply.read()


@pytest.mark.parametrize("protocol_name", ["binary", "json"])
def test_clients_of_both_protocols(server, protocol_name):
    url, stub = server
    api = client.connect(url, protocol_name, timeout=10)
    assert api.getRoleSummary().result.roleSummaryResult.summaries.pop().role == "www-data"
    assert api.killTasks(JobKey("r", "e", "n"), {1}, "m").responseCode == ResponseCode.WARNING
    assert stub.calls[-1] == ("killTasks", JobKey("r", "e", "n"), {1}, "m")
    with pytest.raises(TApplicationException):
        api.getJobs("www-data")


def test_bad_requests_are_answered_and_the_server_keeps_serving(server):
    url, _ = server
    for body, content_type in ((KILL[:7], protocol.BINARY), (b"\x00garbage", protocol.BINARY),
                               (b"{not json", "application/json"), (b"", "application/x-thrift")):
        status, reply_type, reply = post(url, body, content_type)
        assert status == 200 and reply_type == protocol.JSON
        assert exception_in(reply, binary=False) is not None
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(url, b"[]", "text/plain")
    assert refused.value.code == 415
    assert client.connect(url).getRoleSummary().responseCode == ResponseCode.OK


def test_an_http_error_is_a_transport_error(server):
    url, _ = server
    with pytest.raises(TTransport.TTransportException, match="HTTP 404"):
        client.connect(url.replace("/api", "/nope")).getRoleSummary()


@pytest.mark.parametrize("protocol_name", ["binary", "json"])
def test_maintenance_round_trip(maintenance_server, protocol_name):
    url, run = maintenance_server
    api = client.connect(url, protocol_name, timeout=10)
    M = MaintenanceMode

    async def agents_and_a_task(built):
        async with built["storage"].write() as w:
            for host in ("a1", "a2"):
                w.save_host_attributes(offer_host_attributes(host, f"id-{host}", ()))
            w.save_tasks([_task(0, "a1")])
    run(agents_and_a_task)

    def statuses(response, field):
        assert response.responseCode == ResponseCode.OK, response
        return getattr(response.result, field).statuses

    both = Hosts(hostNames={"a1", "a2", "ghost"})
    assert statuses(api.startMaintenance(both), "startMaintenanceResult") == {
        HostStatus("a1", M.SCHEDULED), HostStatus("a2", M.SCHEDULED)}
    assert statuses(api.drainHosts(Hosts({"a1"})), "drainHostsResult") == {HostStatus("a1", M.DRAINING)}
    tasks = api.getTasksStatus(TaskQuery())
    assert [t.status for t in tasks.result.scheduleStatusResult.tasks] == [ScheduleStatus.DRAINING]

    async def killed(built):
        async with built["manager"].transaction() as tx:
            tx.change_state("task-0", ScheduleStatus.KILLED)
    run(killed)
    deadline = time.monotonic() + 10
    while statuses(api.maintenanceStatus(both), "maintenanceStatusResult") != {
            HostStatus("a1", M.DRAINED), HostStatus("a2", M.SCHEDULED)}:
        assert time.monotonic() < deadline, "a1 never became DRAINED"
    assert statuses(api.endMaintenance(both), "endMaintenanceResult") == {
        HostStatus("a1", M.NONE), HostStatus("a2", M.NONE)}
    refused = api.maintenanceStatus(None)
    assert (refused.responseCode, [d.message for d in refused.details]) == (ResponseCode.ERROR, ["hosts must be set"])


def test_quota_round_trip(maintenance_server):
    """setQuota, a createJob refused over quota and one that fits, getQuota's numbers: real HTTP, TJSON."""
    url, _ = maintenance_server
    api = client.connect(url, "json", timeout=10)
    quota = ResourceAggregate({Resource(numCpus=1.0), Resource(ramMb=256), Resource(diskMb=128)})
    assert api.setQuota("www", quota).responseCode == ResponseCode.OK
    refused = api.createJob(_job(production=True, instances=3))
    assert (refused.responseCode, [d.message for d in refused.details]) == (ResponseCode.INVALID_REQUEST, [
        "Insufficient resource quota: CPU quota exceeded by 0.50 core(s); RAM quota exceeded by 128.00 MB; "
        "disk quota exceeded by 64.00 MB"])
    assert api.createJob(_job(production=True, instances=2)).responseCode == ResponseCode.OK
    result = api.getQuota("www").result.getQuotaResult
    assert (result.quota, result.prodSharedConsumption) == (quota, quota)
