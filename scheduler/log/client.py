"""A small blocking client of a log node's HTTP API (tornado's HTTPClient), for tools and tests."""

from __future__ import annotations

import json

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
            detail = ""
            if e.response is not None and e.response.body:
                try:
                    detail = json.loads(e.response.body).get("error", "")
                except ValueError:
                    detail = e.response.body[:200].decode(errors="replace")
            raise LogError(detail or f"{self.address}: HTTP {e.code}") from None
        except OSError as e:
            raise LogError(f"cannot reach {self.address}: {e.strerror or e}") from None

    def append(self, payloads: list[bytes]) -> list[int]:
        body = encode({}, [(0, 0, APPEND, p) for p in payloads])
        return json.loads(self._fetch("/log/append", "POST", body))["positions"]

    def truncate(self, before: int) -> int:
        return json.loads(self._fetch("/log/truncate", "POST", json.dumps({"before": before}).encode()))["position"]

    def read(self, lo: int = 1, hi: int = 2 ** 62) -> list[Entry]:
        _, rows = decode(self._fetch(f"/log/read?from={lo}&to={hi}"))
        return [Entry(*r) for r in rows]

    def status(self) -> dict:
        return json.loads(self._fetch("/log/status"))
