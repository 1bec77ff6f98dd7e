"""A small blocking client of a log node's HTTP API, for tools and tests.

It keeps one HTTP/1.1 connection open across requests (the replicas' own keep-alive `PeerConnection`, run on
a private event loop): tornado's blocking ``HTTPClient`` connects anew for every request, and a connection
per append costs about as much as the HTTP layer itself (bench/log_http_append.py).

Whatever answers at the address -- a replica, something else, nothing -- every failure is a `LogError` with
one line: the replica's own message when it sent one, else what was wrong with the answer.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

from .protocol import APPEND, Entry, LogError, decode, encode
from .transport import PeerConnection, TransportError


class LogClient:
    """Talks to one node at ``host:port``. Errors come back as `LogError` with the server's message."""

    def __init__(self, address: str, timeout: float = 10.0):
        self.address = address
        self.timeout = timeout
        if ":" not in address or not address.rpartition(":")[2].isdigit():
            raise LogError(f"bad address {address!r}: expected HOST:PORT")
        self._loop = asyncio.new_event_loop()
        self._conn = PeerConnection(address)

    def close(self) -> None:
        self._conn.close()
        self._loop.close()

    def _fetch(self, path: str, method: str = "GET", body: bytes | None = None) -> bytes:
        try:
            code, payload = self._loop.run_until_complete(
                self._conn.request(method, path, body, timeout=self.timeout))
        except TransportError as e:
            raise LogError(f"cannot reach {e}") from None
        if code == 200:
            return payload
        try:
            detail = json.loads(payload).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        raise LogError(detail or f"{self.address}{path}: HTTP {code} (is it a log replica?)")

    def _json(self, path: str, method: str = "GET", body: bytes | None = None) -> dict:
        raw = self._fetch(path, method, body)
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise LogError(f"{self.address}{path} did not answer like a log replica (not a JSON object)")
        return value

    def _field(self, value: dict, name: str, path: str):
        if name not in value:
            raise LogError(f"{self.address}{path} did not answer like a log replica (no {name!r})")
        return value[name]

    def append(self, payloads: list[bytes]) -> list[int]:
        body = encode({}, [(0, 0, APPEND, p) for p in payloads])
        return self._field(self._json("/log/append", "POST", body), "positions", "/log/append")

    def truncate(self, before: int) -> int:
        reply = self._json("/log/truncate", "POST", json.dumps({"before": before}).encode())
        return self._field(reply, "position", "/log/truncate")

    def read(self, lo: int | None = None, hi: int | None = None) -> list[Entry]:
        """Committed entries in [lo, hi]; without lo from the beginning, without hi to the end."""
        query = urlencode({k: v for k, v in (("from", lo), ("to", hi)) if v is not None})
        raw = self._fetch("/log/read" + (f"?{query}" if query else ""))
        try:
            _, rows = decode(raw)
        except ValueError as e:
            raise LogError(f"{self.address}/log/read did not answer like a log replica ({e})") from None
        return [Entry(*r) for r in rows]

    def status(self) -> dict:
        return self._json("/log/status")
