"""Reaching a cluster's leading scheduler, as Aurora's client does (client/api/scheduler_client.py).

    proxy = SchedulerProxy(cluster)
    reply = proxy.getJobs("www")          # any AuroraAdmin method; retried until it answers or time runs out

Where: a cluster with `zk` finds the leader in ZooKeeper -- the first ``member_`` child of
`scheduler_zk_path`, its `https` then `http` additional endpoint, else its serviceEndpoint; a cluster with
only `scheduler_uri` uses that. Calls are Thrift binary (accelerated when the C codec is there) over POST
<uri>/api; a follower's 307 to the leader is followed (the POST body is sent again, as `requests` does).

Retries (Aurora's SchedulerProxy): a connection failure, an HTTP error or an ERROR_TRANSIENT answer
forgets the scheduler (the next attempt looks the leader up again, so a failover is followed), waits
RPC_RETRY_INTERVAL and tries again until RPC_MAXIMUM_WAIT has passed since the call began; then
`SchedulerUnreachable` says once where it looked and the last error. The two bounds are Aurora's (5 s, 10 min);
`AURORA_CLIENT_RPC_RETRY_INTERVAL` / `AURORA_CLIENT_RPC_MAXIMUM_WAIT` (seconds) change them, for scripts and
tests that would rather fail fast.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from thermos_executor.aurora_api.gen import AuroraAdmin
from thermos_executor.aurora_api.gen.ttypes import ResponseCode

from .clusters import Cluster

RPC_RETRY_INTERVAL = 5.0
RPC_MAXIMUM_WAIT = 600.0
SERVERSET_TIMEOUT = 10.0
MAX_REDIRECTS = 5
USER_AGENT = "Aurora V2"
# Aurora's TRequestsTransport sends and accepts this (a plain application/x-thrift body is read as TJSON).
CONTENT_TYPE = "application/vnd.apache.thrift.binary"


class CouldNotConnect(Exception):
    """No scheduler to talk to right now (ZooKeeper unreachable, no leader advertised, connection refused)."""


class SchedulerUnreachable(Exception):
    """Every attempt failed until the retry deadline."""


class AuthError(Exception):
    """The scheduler answered 401 or 403 (Aurora's TRequestsTransport.AuthError): not retried."""


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None


class _HttpTransport(TTransport.TTransportBase, TTransport.CReadableTransport):
    """Buffers one call; flush POSTs it and makes the reply readable (also by the C codec)."""

    def __init__(self, send):
        self._send = send
        self._request = []
        self._reply = TTransport.BufferIO(b"")

    def isOpen(self):
        return True

    def write(self, buf):
        self._request.append(buf)

    def flush(self):
        body, self._request = b"".join(self._request), []
        self._reply = TTransport.BufferIO(self._send(body))

    def read(self, sz):
        return self._reply.read(sz)

    @property
    def cstringio_buf(self):
        return self._reply

    def cstringio_refill(self, partialread, reqlen):
        raise EOFError()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, body: bytes, timeout: float, headers: dict | None = None) -> bytes:
    """POST `body` to `url`, following 307/308 redirects; any failure is a TTransportException."""
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(MAX_REDIRECTS + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE, "User-Agent": USER_AGENT, **(headers or {})})
        try:
            with opener.open(request, timeout=timeout) as reply:
                return reply.read()
        except urllib.error.HTTPError as error:
            location = error.headers.get("Location")
            if error.code in (307, 308) and location:
                url = urllib.parse.urljoin(url, location)
                continue
            if error.code in (401, 403):
                raise AuthError(f"HTTP {error.code} from {url}: not authorized") from None
            detail = error.read().decode(errors="replace").strip().splitlines()
            raise TTransport.TTransportException(
                message=f"HTTP {error.code} from {url}" + (f": {detail[0]}" if detail else "")) from None
        except OSError as error:
            reason = getattr(error, "reason", None) or error
            raise TTransport.TTransportException(message=f"cannot reach {url}: {reason}") from None
    raise TTransport.TTransportException(message=f"too many redirects from {url}")


def scheduler_uri_from_zk(cluster: Cluster, timeout: float = SERVERSET_TIMEOUT) -> str:
    """The leading scheduler's base URI, read from the cluster's ServerSet in ZooKeeper."""
    if not cluster.scheduler_zk_path:
        raise ValueError("Cluster has no defined scheduler path, must specify scheduler_zk_path in your "
                         "cluster config!")
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError
    import logging
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)     # its retries are not the user's business

    hosts = ",".join(h if ":" in h else f"{h}:{cluster.zk_port}" for h in cluster.zk.split(","))
    zk = KazooClient(hosts=hosts, timeout=timeout)
    try:
        zk.start(timeout=timeout)
    except KazooTimeoutError:
        zk.close()
        raise CouldNotConnect(f"Failed to connect to Zookeeper within {timeout:g} seconds.") from None
    try:
        path = "/" + cluster.scheduler_zk_path.strip("/")
        try:
            members = sorted(n for n in zk.get_children(path) if n.startswith("member_"))
        except NoNodeError:
            members = []
        for member in members:
            try:
                data = json.loads(zk.get(f"{path}/{member}")[0])
            except (NoNodeError, ValueError):
                continue            # gone meanwhile, or not ServerSet JSON: look at the next one
            return _endpoint_uri(data)
        raise CouldNotConnect(f"No schedulers detected in {cluster.name}!")
    finally:
        zk.stop()
        zk.close()


def _endpoint_uri(member: dict) -> str:
    additional = member.get("additionalEndpoints") or {}
    for scheme in ("https", "http"):
        if scheme in additional:
            endpoint = additional[scheme]
            return f"{scheme}://{endpoint['host']}:{endpoint['port']}"
    endpoint = member["serviceEndpoint"]
    return f"http://{endpoint['host']}:{endpoint['port']}"


class SchedulerProxy:
    """A retrying AuroraAdmin client of one cluster's leading scheduler.

    `proxy.<method>(*args)` calls that API method and returns its Response; only a Response that is not
    ERROR_TRANSIENT comes back. `on_retry(message)` hears about every failed attempt (default: stderr)."""

    def __init__(self, cluster: Cluster, *, retry_interval: float | None = None, maximum_wait: float | None = None,
                 call_timeout: float = 60.0, clock=time, on_retry=None):
        if not cluster.zk and not cluster.scheduler_uri:
            raise ValueError(f'cluster {cluster.name} does not specify zk or scheduler_uri')
        self.cluster = cluster
        self.retry_interval = _seconds("AURORA_CLIENT_RPC_RETRY_INTERVAL", RPC_RETRY_INTERVAL) \
            if retry_interval is None else retry_interval
        self.maximum_wait = _seconds("AURORA_CLIENT_RPC_MAXIMUM_WAIT", RPC_MAXIMUM_WAIT) \
            if maximum_wait is None else maximum_wait
        self.call_timeout = call_timeout
        self._clock = clock
        self._on_retry = on_retry or (lambda message: print(message, file=sys.stderr))
        self._uri: str | None = None
        self._client = None
        self._zk_timeout = SERVERSET_TIMEOUT

    # -- where the scheduler is

    def where(self) -> str:
        """Where we look for the scheduler, for messages."""
        if self.cluster.zk:
            return f"{self.cluster.zk} ({self.cluster.scheduler_zk_path})"
        return self.cluster.scheduler_uri

    @property
    def raw_url(self) -> str:
        """The leading scheduler's base URI (looked up once)."""
        if self._uri is None:
            self._uri = (scheduler_uri_from_zk(self.cluster, self._zk_timeout) if self.cluster.zk
                         else self.cluster.scheduler_uri).rstrip("/")
        return self._uri

    @property
    def url(self) -> str:
        """The URI to show users: the cluster's proxy_url when it has one."""
        return (self.cluster.proxy_url or self.raw_url).rstrip("/")

    def invalidate(self) -> None:
        self._uri = self._client = None

    def _thrift_client(self):
        if self._client is None:
            api = self.raw_url + "/api"
            transport = _HttpTransport(lambda body: post(api, body, self.call_timeout))
            protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
            self._client = AuroraAdmin.Client(protocol)
        return self._client

    # -- calls

    def call(self, method: str, *args):
        start = self._clock.monotonic()
        last = None
        while True:
            # A ZooKeeper lookup never outlasts the call's own deadline (but gets at least a second).
            self._zk_timeout = min(SERVERSET_TIMEOUT, max(1.0, self.maximum_wait - (self._clock.monotonic() - start)))
            try:
                reply = getattr(self._thrift_client(), method)(*args)
                if reply is not None and reply.responseCode == ResponseCode.ERROR_TRANSIENT:
                    details = ", ".join(d.message for d in reply.details or [] if d.message)
                    raise CouldNotConnect(f"scheduler busy: {details or 'ERROR_TRANSIENT'}")
                return reply
            except (TTransport.TTransportException, CouldNotConnect) as error:
                last = str(error) or type(error).__name__
            self.invalidate()
            elapsed = self._clock.monotonic() - start
            if elapsed + self.retry_interval > self.maximum_wait:
                raise SchedulerUnreachable(f"no scheduler answered at {self.where()} within "
                                           f"{self.maximum_wait:g} s: {last}")
            self._on_retry(f"Connection error with scheduler: {last}, reconnecting...")
            self._clock.sleep(self.retry_interval)

    def __getattr__(self, method: str):
        if method.startswith("_") or not callable(getattr(AuroraAdmin.Client, method, None)):
            raise AttributeError(method)
        return lambda *args: self.call(method, *args)
