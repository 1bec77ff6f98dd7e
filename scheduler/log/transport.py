"""A keep-alive HTTP/1.1 client on tornado, for replica-to-replica traffic.

Tornado's ``simple_httpclient`` opens a new connection per request; a log round trip is ~0.3 ms, so a connect
per message would dominate. `PeerConnection` keeps one TCP connection per peer (``TCP_NODELAY``) and sends
requests on it one at a time with tornado's own ``HTTP1Connection``, reconnecting when it breaks.
"""

from __future__ import annotations

import asyncio
import socket

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.iostream import StreamClosedError
from tornado.tcpclient import TCPClient

from .protocol import CONTENT_TYPE

_PARAMS = HTTP1ConnectionParameters(no_keep_alive=False, max_body_size=1 << 30)


class TransportError(Exception):
    """The peer could not be reached or did not answer in time."""


class _Collect(httputil.HTTPMessageDelegate):
    def __init__(self):
        self.code = 0
        self.reason = ""
        self.headers = None
        self.chunks: list[bytes] = []

    def headers_received(self, start_line, headers):
        self.code = start_line.code
        self.reason = start_line.reason
        self.headers = headers

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        pass

    def on_connection_close(self):
        pass


class PeerConnection:
    """One persistent connection to ``host:port``; `request` is serialized (one in flight)."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.address = address
        self.host, self.port = host, int(port)
        self._stream = None
        self._lock = asyncio.Lock()
        self._tcp = TCPClient()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    async def request(self, method: str, path: str, body: bytes | None = None,
                      timeout: float = 5.0) -> tuple[int, bytes]:
        """(status code, body). Raises TransportError on connection failure or timeout."""
        async with self._lock:
            try:
                return await asyncio.wait_for(self._request(method, path, body), timeout)
            except (TimeoutError, StreamClosedError, OSError, httputil.HTTPInputError) as e:
                self.close()
                raise TransportError(f"{self.address}: {type(e).__name__} {e}".strip()) from None
            except asyncio.CancelledError:
                self.close()
                raise

    async def _request(self, method, path, body):
        if self._stream is None or self._stream.closed():
            self._stream = await self._tcp.connect(self.host, self.port)
            self._stream.set_nodelay(True)
        stream = self._stream
        stream.set_nodelay(True)
        conn = HTTP1Connection(stream, True, _PARAMS)
        headers = httputil.HTTPHeaders({"Host": self.address, "Connection": "keep-alive"})
        if body is not None:
            headers["Content-Type"] = CONTENT_TYPE
            headers["Content-Length"] = str(len(body))
        conn.write_headers(httputil.RequestStartLine(method, path, "HTTP/1.1"), headers, body)
        conn.finish()
        delegate = _Collect()
        ok = await conn.read_response(delegate)
        if not ok or stream.closed() and not delegate.code:
            raise StreamClosedError()
        if (delegate.headers or {}).get("Connection", "").lower() == "close":
            self.close()
        return delegate.code, b"".join(delegate.chunks)


def set_nodelay(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
