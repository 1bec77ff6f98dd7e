"""A small blocking client of a log node's HTTP API (tornado's HTTPClient), for tools and tests.

Whatever answers at the address -- a replica, something else, nothing -- every failure is a `LogError` with
one line: the replica's own message when it sent one, else what was wrong with the answer.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tornado.httpclient import HTTPClient, HTTPClientError

from .protocol import APPEND, Entry, LogError, decode, encode


class LogClient:
    """Talks to one node at ``host:port``. Errors come back as `LogError` with the server's message."""

    def __init__(self, address: str, timeout: float = 10.0):
        self.address = address
        self.timeout = timeout
        self._http = HTTPClient()

    def close(self) -> None:
        self._http.close()

    def _fetch(self, path: str, method: str = "GET", body: bytes | None = None):
        try:
            resp = self._http.fetch(f"http://{self.address}{path}", method=method, body=body,
                                    request_timeout=self.timeout, connect_timeout=self.timeout)
            return resp.body
        except HTTPClientError as e:
            if e.response is None:  # tornado's 599: no HTTP answer at all
                raise LogError(f"cannot reach {self.address}: {e.message or e}") from None
            detail = ""
            if e.response.body:
                try:
                    detail = json.loads(e.response.body).get("error", "")
                except (ValueError, AttributeError):
                    detail = ""
            raise LogError(detail or f"{self.address}{path}: HTTP {e.code} (is it a log replica?)") from None
        except OSError as e:
            raise LogError(f"cannot reach {self.address}: {e.strerror or e}") from None
        except ValueError as e:  # a malformed HTTP answer (tornado's HTTPInputError and friends)
            raise LogError(f"{self.address} did not answer like a log replica: {e}") from None

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
