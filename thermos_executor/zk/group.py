"""ZooKeeper group membership and election by lowest sequence number (kazoo), as the replicated log uses them.

`Discovery` registers a member at `address` under ``<group>/member-<host:port>-<seq>`` (ephemeral, sequential)
and offers it as candidate under ``<group>/writer/candidate-<host:port>-<seq>``; the candidate with the lowest
sequence number is the writer (the leader). Addresses are in the node names, so one children watch gives both
lists.

ZooKeeper only decides *who tries* to write. It is never trusted for safety: the replicated log (scheduler/log)
fences a writer that lost its session but does not know it yet, as soon as the next writer's recovery round
raises the replicas' promise.

Kazoo calls back on its own threads; every change is handed to the asyncio loop with
``call_soon_threadsafe``. After a session expires, the nodes are created again on the new session.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

log = logging.getLogger(__name__)

MEMBER = "member-"
CANDIDATE = "candidate-"


def parse_children(children: list[str], prefix: str) -> list[tuple[int, str, str]]:
    """(sequence, address, node name) of the children named ``<prefix><address>-<seq>``, by sequence."""
    out = []
    for name in children:
        if not name.startswith(prefix):
            continue
        address, _, seq = name[len(prefix):].rpartition("-")
        if address and seq.isdigit():
            out.append((int(seq), address, name))
    return sorted(out)


class Discovery:
    """Membership and election for one member at `address` (see module docstring)."""

    def __init__(self, zk_endpoints: str, group_path: str, address: str, loop: asyncio.AbstractEventLoop,
                 session_timeout: float = 15.0, candidate: bool = True):
        self.group = "/" + group_path.strip("/")
        self.address = address
        self.loop = loop
        self.candidate = candidate
        self.client = KazooClient(hosts=zk_endpoints, timeout=session_timeout,
                                  connection_retry={"max_tries": -1, "max_delay": 1.0},
                                  command_retry={"max_tries": 10, "max_delay": 0.5})
        self.members: list[str] = []
        self.writer: str | None = None
        self.on_change = None  # callback() on the loop: members or writer changed
        self._member_node: str | None = None
        self._candidate_node: str | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._registered = False
        self._withdraw = False
        self.writer_node: str | None = None
        self._generation = 0
        self.connected = False

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Connect (raises KazooTimeoutError if ZooKeeper cannot be reached within `timeout`) and register."""
        self.client.add_listener(self._on_state)
        self.client.start(timeout=timeout)
        self.connected = True
        self.client.ensure_path(self.group + "/writer")
        self.ensure_registered()
        self._registered = True
        self._watch()

    def _watch(self) -> None:
        """(Re)install the children watches; watches of an older generation remove themselves."""
        self._generation += 1
        gen = self._generation
        self.client.ChildrenWatch(self.group, lambda children: self._on_members(children, gen))
        self.client.ChildrenWatch(self.group + "/writer", lambda children: self._on_candidates(children, gen))

    def stop(self) -> None:
        self._stopped = True
        try:
            self.client.stop()
            self.client.close()
        except KazooException:
            pass

    def withdraw(self) -> None:
        """Give up the writer role: the next `ensure_registered` puts us at the back of the queue."""
        self._withdraw = True

    def ensure_registered(self) -> None:
        """Blocking; called periodically off the loop. (Re)creates our member and candidate nodes if they are
        missing (first start, session expired, withdrawn) and re-installs the watches after a session loss."""
        if self._stopped or self.client.state != KazooState.CONNECTED:
            return
        with self._lock:
            try:
                if self._withdraw:
                    self._withdraw = False
                    node, self._candidate_node = self._candidate_node, None
                    if node:
                        self.client.delete(node)
                if self._member_node is None or not self.client.exists(self._member_node):
                    self._member_node = self.client.create(f"{self.group}/{MEMBER}{self.address}-",
                                                           ephemeral=True, sequence=True)
                    if self._registered:
                        self._watch()
                if self.candidate and (self._candidate_node is None
                                       or not self.client.exists(self._candidate_node)):
                    self._candidate_node = self.client.create(
                        f"{self.group}/writer/{CANDIDATE}{self.address}-", ephemeral=True, sequence=True)
            except NoNodeError:
                self.client.ensure_path(self.group + "/writer")
            except (KazooException, KazooTimeoutError) as e:
                log.warning("could not register in ZooKeeper: %r", e)

    def _on_state(self, state) -> None:
        # Runs on kazoo's connection thread: never block here.
        if self._stopped:
            return
        if state == KazooState.LOST:
            log.warning("ZooKeeper session lost")
            self.connected = False
            self._member_node = self._candidate_node = None
            self._post(members=None, writer=None)
        elif state == KazooState.SUSPENDED:
            log.warning("ZooKeeper connection suspended")
            self.connected = False
            self._post()
        elif state == KazooState.CONNECTED:
            self.connected = True
            self._post()

    # -- watches -------------------------------------------------------------------------------------------
    def _on_members(self, children, gen: int):
        if self._stopped or gen != self._generation:
            return False
        members = []
        for _, address, _ in parse_children(children, MEMBER):
            if address not in members:
                members.append(address)
        self._post(members=members)

    def _on_candidates(self, children, gen: int):
        if self._stopped or gen != self._generation:
            return False
        ordered = parse_children(children, CANDIDATE)
        self.writer_node = f"{self.group}/writer/{ordered[0][2]}" if ordered else None
        self._post(writer=ordered[0][1] if ordered else None)

    _UNSET = object()

    def _post(self, members=_UNSET, writer=_UNSET) -> None:
        def apply():
            if members is not Discovery._UNSET:
                self.members = members or []
            if writer is not Discovery._UNSET:
                self.writer = writer
            if self.on_change:
                self.on_change()
        try:
            self.loop.call_soon_threadsafe(apply)
        except RuntimeError:
            pass  # loop closed during shutdown

    @property
    def is_writer(self) -> bool:
        """Only while connected (not suspended), not withdrawn, and our *current* candidate node is first."""
        return (self.connected and not self._withdraw and self._candidate_node is not None
                and self.writer_node == self._candidate_node)

    def peers(self) -> list[str]:
        return [m for m in self.members if m != self.address]


def read_group(zk_endpoints: str, group_path: str, timeout: float = 5.0) -> tuple[list[str], str | None]:
    """(members, writer) of a group, for `aurora-log status`."""
    client = KazooClient(hosts=zk_endpoints, timeout=timeout)
    client.start(timeout=timeout)
    try:
        group = "/" + group_path.strip("/")
        try:
            members = [a for _, a, _ in parse_children(client.get_children(group), MEMBER)]
        except NoNodeError:
            members = []
        try:
            cands = parse_children(client.get_children(group + "/writer"), CANDIDATE)
        except NoNodeError:
            cands = []
        return members, (cands[0][1] if cands else None)
    finally:
        client.stop()
        client.close()
