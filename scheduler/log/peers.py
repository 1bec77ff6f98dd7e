"""Talking to replicas: the local one through a worker thread, remote ones over HTTP.

Both expose the same async methods (`promise`, `write`, `commit`, `accepted`, `learned`, `info`), so the
writer's recovery and append rounds treat its own replica as one more voter.

`RemoteReplica` keeps two connections per peer: one for the ordered stream of writes (where consecutive
writes queued behind a slow peer are coalesced into one message), one for control and bulk catch-up so a
large copy never delays a write round.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from .protocol import Entry, decode, encode
from .replica import Replica
from .transport import PeerConnection, TransportError

MAX_BACKLOG = 200_000  # entries queued for one slow peer before we give up on it (it will catch up in bulk)


class ReplicaUnavailable(Exception):
    """A replica did not answer (down, paused, partitioned, or answered garbage)."""


class LocalReplica:
    """Async facade of a `Replica`; every call runs on one worker thread (fsync never blocks the loop)."""

    address = "local"

    def __init__(self, replica: Replica):
        self.replica = replica
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replica")

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def promise(self, ballot: int, timeout: float = 0) -> dict:
        return await self._call(self.replica.promise, ballot)

    async def write(self, ballot: int, entries, commit: int, writer: str = "", timeout: float = 0) -> dict:
        return await self._call(self.replica.write, ballot, entries, commit)

    async def commit(self, ballot: int, upto: int, writer: str = "", timeout: float = 0) -> bool:
        return await self._call(self.replica.commit, ballot, upto)

    async def accepted(self, lo: int, hi: int, timeout: float = 0) -> list[Entry]:
        return await self._call(self.replica.accepted, lo, hi)

    async def learned(self, lo: int, hi: int, limit: int = 50_000, timeout: float = 0):
        return await self._call(self.replica.learned_entries, lo, hi, limit)

    async def install_learned(self, begin: int, rows) -> None:
        await self._call(self.replica.install_learned, begin, rows)

    async def install_accepted(self, entries, promised: int) -> None:
        await self._call(self.replica.install_accepted, entries, promised)

    async def read(self, lo: int, hi: int) -> list[Entry]:
        return await self._call(self.replica.read, lo, hi)

    async def flush(self) -> None:
        await self._call(self.replica.flush)

    async def set_status(self, status: str) -> None:
        await self._call(self.replica.set_status, status)

    async def info(self, timeout: float = 0) -> dict:
        return self.replica.info()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.replica.close()


class RemoteReplica:
    """A peer replica at ``host:port``."""

    def __init__(self, address: str):
        self.address = address
        self._writes = PeerConnection(address)
        self._control = PeerConnection(address)
        self._outbox: list[tuple[int, list, int, str, asyncio.Future]] = []
        self._sending = False

    def close(self) -> None:
        self._writes.close()
        self._control.close()
        for *_, fut in self._outbox:
            if not fut.done():
                fut.set_exception(ReplicaUnavailable(f"{self.address}: connection closed"))
        self._outbox = []

    async def _rpc(self, conn: PeerConnection, path: str, header: dict, entries=(), timeout: float = 5.0):
        try:
            code, body = await conn.request("POST", path, encode(header, entries), timeout=timeout)
        except TransportError as e:
            raise ReplicaUnavailable(str(e)) from None
        if code != 200:
            raise ReplicaUnavailable(f"{self.address}{path}: HTTP {code} {body[:200]!r}")
        try:
            return decode(body)
        except ValueError as e:
            raise ReplicaUnavailable(f"{self.address}{path}: bad reply: {e}") from None

    async def promise(self, ballot: int, timeout: float = 5.0) -> dict:
        header, _ = await self._rpc(self._control, "/replica/promise", {"ballot": ballot}, timeout=timeout)
        return header

    async def commit(self, ballot: int, upto: int, writer: str = "", timeout: float = 5.0) -> dict:
        header, _ = await self._rpc(self._control, "/replica/commit",
                                    {"ballot": ballot, "commit": upto, "writer": writer}, timeout=timeout)
        return header

    async def accepted(self, lo: int, hi: int, timeout: float = 5.0) -> list[Entry]:
        _, rows = await self._rpc(self._control, "/replica/accepted", {"lo": lo, "hi": hi}, timeout=timeout)
        return [Entry(*r) for r in rows]

    async def learned(self, lo: int, hi: int, limit: int = 50_000, timeout: float = 10.0):
        header, rows = await self._rpc(self._control, "/replica/learned",
                                       {"lo": lo, "hi": hi, "limit": limit}, timeout=timeout)
        return header["begin"], header["learned"], rows

    async def info(self, timeout: float = 5.0) -> dict:
        header, _ = await self._rpc(self._control, "/replica/info", {}, timeout=timeout)
        return header

    def write(self, ballot: int, entries, commit: int, writer: str = "", timeout: float = 5.0) -> asyncio.Future:
        """Queue a write; a future of the peer's reply. Writes queued while one is in flight go out together."""
        fut = asyncio.get_running_loop().create_future()
        self._outbox.append((ballot, entries, commit, writer, fut))
        if sum(len(item[1]) for item in self._outbox) > MAX_BACKLOG:
            dropped, self._outbox = self._outbox[:-1], self._outbox[-1:]
            for *_, f in dropped:
                if not f.done():
                    f.set_exception(ReplicaUnavailable(f"{self.address}: too far behind, left to catch up"))
        if not self._sending:
            self._sending = True
            asyncio.ensure_future(self._drain(timeout))
        return fut

    async def _drain(self, timeout: float) -> None:
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                by_ballot: dict[int, list] = {}
                for item in batch:
                    by_ballot.setdefault(item[0], []).append(item)
                for ballot, items in sorted(by_ballot.items()):
                    entries = [e for item in items for e in item[1]]
                    header = {"ballot": ballot, "commit": max(item[2] for item in items), "writer": items[-1][3]}
                    try:
                        reply, _ = await self._rpc(self._writes, "/replica/write", header, entries, timeout)
                    except ReplicaUnavailable as e:
                        for *_, fut in items:
                            if not fut.done():
                                fut.set_exception(e)
                        continue
                    for *_, fut in items:
                        if not fut.done():
                            fut.set_result(reply)
        finally:
            self._sending = False


def parse_json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("body is not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("body is not a JSON object")  # noqa: TRY004 - callers handle ValueError
    return value
