"""The scheduler's one election, and the leader's ServerSet advertisement (kazoo).

`Leadership` is a candidate under ``-serverset_path``: an EPHEMERAL_SEQUENTIAL ``singleton_candidate_`` node
(the prefix of Aurora's SingletonService); the candidate with the lowest sequence number leads. The leader,
once it can serve, advertises itself as an EPHEMERAL_SEQUENTIAL ``member_`` node holding Aurora's ServerSet
JSON (`member_data`); readers of the path (clients, the followers' redirects) look only at ``member_``
children. Guarantees:

* `on_elected()` is called at most once, on the asyncio loop, when our candidate node becomes the lowest;
* `on_lost(reason)` is called once, on the loop, if the ZooKeeper session is LOST, our candidate node
  disappears, or the connection stays SUSPENDED for a whole session timeout (by then the server has expired
  the session, whether or not the client can hear it say so: a server that lost its data refuses the
  reconnect instead): leadership never comes back to this process (the daemon exits; systemd restarts it as a
  new candidate). A shorter suspension is not a loss -- the session may survive it, and the log fences a
  writer that lost its session without knowing it yet;
* `leader` is the advertised leader's (host, port), or None when no ``member_`` node or more than one (an
  ambiguous set, as Aurora's /leaderhealth treats it); it follows ZooKeeper through a children watch.

Kazoo runs its callbacks on its own threads; each hands its result to the loop with
``call_soon_threadsafe``, so every attribute here is only read and written on the loop. Blocking kazoo
calls run in the loop's default executor.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError

log = logging.getLogger(__name__)

CANDIDATE = "singleton_candidate_"
MEMBER = "member_"


def member_data(host: str, port: int, endpoint_name: str) -> dict:
    """Aurora's ServerSet member JSON for a scheduler at host:port."""
    endpoint = {"host": host, "port": port}
    return {"serviceEndpoint": endpoint, "additionalEndpoints": {endpoint_name: dict(endpoint)}, "status": "ALIVE"}


def _sequence(name: str) -> int:
    digits = name.rpartition("_")[2]
    return int(digits) if digits.isdigit() else -1


class Leadership:
    def __init__(self, zk_endpoints: str, path: str, identity: str, loop: asyncio.AbstractEventLoop, *,
                 session_timeout: float, on_elected: Callable[[], None], on_lost: Callable[[str], None]):
        self.path = "/" + path.strip("/")
        self.identity = identity
        self.loop = loop
        self.on_elected, self.on_lost = on_elected, on_lost
        self.client = KazooClient(hosts=zk_endpoints, timeout=session_timeout,
                                  connection_retry={"max_tries": -1, "max_delay": 1.0},
                                  command_retry={"max_tries": 10, "max_delay": 0.5})
        self.candidate: str | None = None  # our node's name (not path)
        self.leading = False
        self.leader: tuple[str, int] | None = None
        self.session_timeout = session_timeout
        self._stopped = False
        self._done = False  # the session or the candidacy was lost: nothing more is reported
        self._suspended: asyncio.TimerHandle | None = None  # fires on_lost unless reconnected in time

    # -- lifecycle (blocking parts run off the loop) -------------------------------------------------------
    async def start(self, connect_timeout: float) -> None:
        """Connect, enter the election and watch the path; kazoo's errors propagate (one line for the CLI)."""
        await self.loop.run_in_executor(None, self._start, connect_timeout)

    def _start(self, connect_timeout: float) -> None:
        self.client.add_listener(self._on_state)
        self.client.start(timeout=connect_timeout)
        self.client.ensure_path(self.path)
        node = self.client.create(f"{self.path}/{CANDIDATE}", self.identity.encode(), ephemeral=True,
                                  sequence=True)
        self.candidate = node.rpartition("/")[2]
        log.info("candidate %s for leadership under %s", self.candidate, self.path)
        self.client.ChildrenWatch(self.path, self._on_children)

    async def advertise(self, host: str, port: int, endpoint_name: str) -> None:
        """Create our ``member_`` node (leader only, once it can serve)."""
        data = json.dumps(member_data(host, port, endpoint_name)).encode()
        node = await self.loop.run_in_executor(
            None, lambda: self.client.create(f"{self.path}/{MEMBER}", data, ephemeral=True, sequence=True))
        log.info("advertised %s:%d as leader at %s", host, port, node)

    async def stop(self) -> None:
        self._stopped = True
        if self._suspended is not None:
            self._suspended.cancel()
        await self.loop.run_in_executor(None, self._close)

    def _close(self) -> None:
        self.client.stop()
        self.client.close()

    # -- kazoo threads -------------------------------------------------------------------------------------
    def _on_state(self, state) -> None:
        if state == KazooState.LOST:
            self._post(lambda: self._session_lost("ZooKeeper session lost"))
        elif state == KazooState.SUSPENDED:
            self._post(self._connection_suspended)
        else:
            self._post(self._connection_back)

    def _on_children(self, children: list[str]):
        if self._stopped:
            return False
        candidates = sorted((n for n in children if n.startswith(CANDIDATE)), key=_sequence)
        members = [n for n in children if n.startswith(MEMBER)]
        leader = None
        if len(members) == 1:
            try:
                data, _ = self.client.get(f"{self.path}/{members[0]}")
                endpoint = json.loads(data)["serviceEndpoint"]
                leader = (str(endpoint["host"]), int(endpoint["port"]))
            except (NoNodeError, ValueError, KeyError, TypeError) as e:
                log.warning("unreadable leader advertisement %s: %s", members[0], e)
        self._post(lambda: self._changed(candidates, leader))
        return None

    def _post(self, callback) -> None:
        try:
            self.loop.call_soon_threadsafe(callback)
        except RuntimeError:
            pass  # the loop closed during shutdown

    # -- on the loop ---------------------------------------------------------------------------------------
    def _changed(self, candidates: list[str], leader: tuple[str, int] | None) -> None:
        if self._stopped or self._done:
            return
        self.leader = leader
        if self.candidate is None:
            return
        if self.candidate not in candidates:
            self._lose(f"our candidate node {self.candidate} is gone")
        elif candidates[0] == self.candidate and not self.leading:
            self.leading = True
            log.info("elected leader under %s (candidate %s)", self.path, self.candidate)
            self.on_elected()

    def _connection_suspended(self) -> None:
        if self._suspended is None:
            log.warning("ZooKeeper connection suspended; the session is lost unless it is back within %gs",
                        self.session_timeout)
            self._suspended = self.loop.call_later(
                self.session_timeout, self._session_lost,
                f"ZooKeeper unreachable for the whole session timeout ({self.session_timeout:g}s)")

    def _connection_back(self) -> None:
        if self._suspended is not None:
            self._suspended.cancel()
            self._suspended = None
            log.info("ZooKeeper connection back")

    def _session_lost(self, reason: str) -> None:
        self._suspended = None
        if not self._stopped and not self._done:
            self._lose(reason)

    def _lose(self, reason: str) -> None:
        self._done = True
        self.leading = False
        self.on_lost(reason)
