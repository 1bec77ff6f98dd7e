"""A keep-alive HTTP/1.1 client on tornado, for replica-to-replica traffic.

Tornado's ``simple_httpclient`` opens a new connection per request; a log round trip is ~0.3 ms, so a connect
per message would dominate. `PeerConnection` keeps one TCP connection per peer (``TCP_NODELAY``) on a tornado
``IOStream`` and sends HTTP/1.1 requests on it one at a time -- each request as a single write, the response
read by Content-Length -- reconnecting when it breaks. A timeout closes the connection. An idle connection
that became readable was closed by the peer (it restarted, or timed the connection out): it is replaced
before the request is sent, so a restart of the peer costs no failed request.
"""

from __future__ import annotations

import asyncio
import select

from tornado import httputil
from tornado.iostream import StreamClosedError
from tornado.tcpclient import TCPClient

from .protocol import CONTENT_TYPE


class TransportError(Exception):
    """The peer could not be reached or did not answer in time."""


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
            loop = asyncio.get_running_loop()
            timer = loop.call_later(timeout, self._expire)
            self._expired = False
            try:
                return await self._request(method, path, body or b"")
            except (StreamClosedError, OSError, httputil.HTTPInputError, ValueError) as e:
                self.close()
                cause = getattr(e, "real_error", None) or e     # tornado hides "Connection refused" behind a close
                what = (f"no answer within {timeout:g}s" if self._expired else
                        getattr(cause, "strerror", None) or f"{type(cause).__name__} {cause}".strip())
                raise TransportError(f"{self.address}: {what}") from None
            except asyncio.CancelledError:
                self.close()
                raise
            finally:
                timer.cancel()

    def _expire(self) -> None:
        self._expired = True
        self.close()

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._stream is not None and _closed_by_peer(self._stream):
            self.close()
        if self._stream is None or self._stream.closed():
            self._stream = await self._tcp.connect(self.host, self.port)
            self._stream.set_nodelay(True)
        stream = self._stream
        # One buffer, one send: request line, headers and body.
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.address}\r\nContent-Type: {CONTENT_TYPE}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        stream.write(head + body)
        data = await stream.read_until(b"\r\n\r\n", max_bytes=65536)
        first, _, rest = data.decode("latin1").partition("\r\n")
        start = httputil.parse_response_start_line(first)
        headers = httputil.HTTPHeaders.parse(rest)
        if "Content-Length" in headers:
            payload = await stream.read_bytes(int(headers["Content-Length"]))
        elif headers.get("Transfer-Encoding", "").lower() == "chunked":
            payload = await _read_chunked(stream)
        else:
            payload = b""
        if headers.get("Connection", "").lower() == "close":
            self.close()
        return start.code, payload


def _closed_by_peer(stream) -> bool:
    """An idle keep-alive connection has nothing to read; if it has, it is EOF (or junk): do not reuse it."""
    if stream.closed():
        return True
    try:
        return bool(select.select([stream.socket], [], [], 0)[0])
    except (OSError, ValueError):
        return True


async def _read_chunked(stream) -> bytes:
    parts = []
    while True:
        size = int((await stream.read_until(b"\r\n", max_bytes=64)).strip().split(b";")[0], 16)
        if size == 0:
            await stream.read_until(b"\r\n", max_bytes=65536)
            return b"".join(parts)
        parts.append(await stream.read_bytes(size))
        await stream.read_bytes(2)

