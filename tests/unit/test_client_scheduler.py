"""The client's way to the scheduler: retries with backoff until a deadline, ERROR_TRANSIENT retried,
307s followed, ServerSet endpoints read as Aurora's client reads them. Time is a fake clock."""
import http.server
import threading

import pytest
from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TMessageType
from thrift.transport import TTransport

from scheduler.client import scheduler_client
from scheduler.client.clusters import Cluster
from scheduler.client.scheduler_client import SchedulerProxy, SchedulerUnreachable, _endpoint_uri
from thermos_executor.aurora_api.gen import ReadOnlyScheduler
from thermos_executor.aurora_api.gen.ttypes import Response, ResponseCode, ResponseDetail


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def reply(code=ResponseCode.OK, message=None) -> bytes:
    buf = TTransport.TMemoryBuffer()
    protocol = TBinaryProtocol.TBinaryProtocol(buf)
    protocol.writeMessageBegin("getJobs", TMessageType.REPLY, 0)
    details = [ResponseDetail(message=message)] if message else None
    ReadOnlyScheduler.getJobs_result(success=Response(responseCode=code, details=details)).write(protocol)
    protocol.writeMessageEnd()
    return buf.getvalue()


def proxy(answers, clock, cluster=None, **kw):
    """A proxy whose POSTs get `answers` in turn (bytes, or an exception to raise)."""
    calls = []

    def post(url, body, timeout, headers=None):
        calls.append(url)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    messages = []
    p = SchedulerProxy(cluster or Cluster("c", scheduler_uri="http://s:1/"), clock=clock, on_retry=messages.append,
                       **kw)
    return p, calls, messages, post


def test_connection_failures_and_transient_answers_are_retried(monkeypatch):
    clock = FakeClock()
    p, calls, messages, post = proxy([TTransport.TTransportException(message="cannot reach"),
                                      reply(ResponseCode.ERROR_TRANSIENT, "storage not ready"), reply()], clock)
    monkeypatch.setattr(scheduler_client, "post", post)
    assert p.getJobs("www").responseCode == ResponseCode.OK
    assert calls == ["http://s:1/api"] * 3 and clock.sleeps == [5.0, 5.0]          # Aurora's 5 s interval
    assert messages == ["Connection error with scheduler: cannot reach, reconnecting...",
                        "Connection error with scheduler: scheduler busy: storage not ready, reconnecting..."]


def test_gives_up_after_the_maximum_wait_with_one_line(monkeypatch):
    clock = FakeClock()
    failures = [TTransport.TTransportException(message=f"refused {i}") for i in range(100)]
    p, calls, _, post = proxy(failures, clock, retry_interval=1.0, maximum_wait=10.0)
    monkeypatch.setattr(scheduler_client, "post", post)
    with pytest.raises(SchedulerUnreachable) as e:
        p.getJobs("www")
    assert str(e.value) == "no scheduler answered at http://s:1/ within 10 s: refused 10"
    assert len(calls) == 11 and clock.now <= 10.0


def test_errors_other_than_transient_come_back_at_once(monkeypatch):
    clock = FakeClock()
    p, calls, _, post = proxy([reply(ResponseCode.INVALID_REQUEST, "no")], clock)
    monkeypatch.setattr(scheduler_client, "post", post)
    assert p.getJobs("www").responseCode == ResponseCode.INVALID_REQUEST and clock.sleeps == []


def test_environment_overrides_and_bad_values(monkeypatch):
    monkeypatch.setenv("AURORA_CLIENT_RPC_MAXIMUM_WAIT", "3")
    monkeypatch.setenv("AURORA_CLIENT_RPC_RETRY_INTERVAL", "0.5")
    p = SchedulerProxy(Cluster("c", scheduler_uri="http://s"))
    assert (p.maximum_wait, p.retry_interval) == (3.0, 0.5)
    monkeypatch.setenv("AURORA_CLIENT_RPC_MAXIMUM_WAIT", "soon")
    with pytest.raises(ValueError, match="AURORA_CLIENT_RPC_MAXIMUM_WAIT must be a number"):
        SchedulerProxy(Cluster("c", scheduler_uri="http://s"))
    with pytest.raises(ValueError, match="does not specify zk or scheduler_uri"):
        SchedulerProxy(Cluster("c"))


def test_proxy_url_is_what_users_see():
    p = SchedulerProxy(Cluster("c", scheduler_uri="http://s:1/", proxy_url="https://aurora.example.com/"))
    assert (p.url, p.raw_url) == ("https://aurora.example.com", "http://s:1")


def test_serverset_endpoint_preference():
    member = {"serviceEndpoint": {"host": "a", "port": 1}, "additionalEndpoints": {}}
    assert _endpoint_uri(member) == "http://a:1"
    member["additionalEndpoints"]["http"] = {"host": "b", "port": 2}
    assert _endpoint_uri(member) == "http://b:2"
    member["additionalEndpoints"]["https"] = {"host": "c", "port": 3}
    assert _endpoint_uri(member) == "https://c:3"


def test_post_follows_307_with_the_body():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, body, self.headers["Content-Type"]))
            if self.path == "/api":
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/leader/api")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert scheduler_client.post(f"http://127.0.0.1:{server.server_port}/api", b"call", 5) == b"ok"
    finally:
        server.shutdown()
        server.server_close()
    assert [(path, body) for path, body, _ in seen] == [("/api", b"call"), ("/leader/api", b"call")]
    assert seen[0][2] == "application/vnd.apache.thrift.binary"


def test_401_and_403_are_auth_errors_not_retried():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clock = FakeClock()
        p = SchedulerProxy(Cluster("c", scheduler_uri=f"http://127.0.0.1:{server.server_port}"), clock=clock)
        with pytest.raises(scheduler_client.AuthError, match="HTTP 401"):
            p.getJobs("www")
        assert clock.sleeps == []
    finally:
        server.shutdown()
        server.server_close()
