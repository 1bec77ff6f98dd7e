"""POST /api over real HTTP: a tornado server on loopback (its own loop, in a thread) serving the unit tests'
stub, clients built from our IDL in both protocols, and bad requests that must not stop it serving."""

import asyncio
import threading
import urllib.error
import urllib.request

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from thrift.Thrift import TApplicationException
from thrift.transport import TTransport

from scheduler.api import client, protocol
from scheduler.api.endpoint import ApiHandler
from thermos_executor.aurora_api.gen.ttypes import JobKey, ResponseCode
from tests.unit.test_thrift_api import KILL, Stub, exception_in


@pytest.fixture(scope="module")
def server():
    """(url, stub) of an /api served until the module's tests end."""
    stub, ready, started = Stub(), threading.Event(), {}

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        http = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/api", ApiHandler, {"handler": stub})]))
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
    yield f"http://127.0.0.1:{started['port']}/api", stub
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
