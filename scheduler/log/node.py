"""One member of the log: replica + HTTP endpoint + ZooKeeper discovery + (when elected) the writer.

`LogNode` wires the pieces and runs the slow control loop (once per ``tick``):

* an EMPTY or RECOVERING replica looks for a quorum of VOTING peers and recovers from them; while it cannot,
  it says so (the log is not READY);
* a VOTING replica offers itself as writer; when ZooKeeper elects it, it starts a `Coordinator`, which runs
  the recovery round right away (so the log is READY before the first append) and retries until it works;
* when it loses the election, its ZooKeeper session, or is fenced by a higher ballot, it stops writing;
* with ``elect=False`` the node runs no election of its own: its owner (the elected scheduler) grants the
  writer role with `become_writer` and takes it back with `step_down`, so there is one election, not two that
  could disagree. The node then writes while granted and VOTING; fencing is reported to `on_fenced(reason)`
  and never re-offers the role by itself;
* the writer re-sends its commit mark so replicas that were down catch up without waiting for new writes;
* a quorum smaller than a majority of the members seen gets a loud warning.
"""

from __future__ import annotations

import asyncio
import logging
import time

from thermos_executor.zk.group import Discovery

from .catchup import CatchUp, recover_replica
from .coordinator import Coordinator
from .peers import LocalReplica, RemoteReplica
from .protocol import EMPTY, VOTING, Fenced, LogError, NotWriter, majority
from .replica import Replica

log = logging.getLogger(__name__)


class LogNode:
    def __init__(self, path: str, address: str, zk_endpoints: str, group_path: str, quorum: int,
                 write_timeout: float = 3.0, session_timeout: float = 15.0, elect: bool = True,
                 tick: float = 0.5):
        self.path = path
        self.address = address
        self.zk_endpoints = zk_endpoints
        self.group_path = group_path
        self.quorum = quorum
        self.write_timeout = write_timeout
        self.session_timeout = session_timeout
        self.elect = elect
        self.tick = tick
        self.replica = Replica(path)
        self.local = LocalReplica(self.replica)
        self.remotes: dict[str, RemoteReplica] = {}
        self.catchup = CatchUp(self.local, self.remote)
        self.coordinator: Coordinator | None = None
        self.discovery: Discovery | None = None
        self._warned_members = -1
        self._empty_said = 0.0
        self._tasks: list[asyncio.Task] = []
        self._recovering = False
        self._registering = False
        self._stopping: set[asyncio.Task] = set()  # stops of coordinators we stepped down from
        self._elected_at = 0.0
        self.started = time.time()
        self._granted = False  # elect=False: the owner granted us the writer role
        self._writer_ready = asyncio.Event()  # set while a Coordinator exists
        self.on_fenced = None  # elect=False: callback(reason) when our writer was fenced

    def remote(self, address: str) -> RemoteReplica:
        if address not in self.remotes:
            self.remotes[address] = RemoteReplica(address)
        return self.remotes[address]

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self, connect_timeout: float | None = None) -> None:
        """Join the group (ZooKeeper reached within `connect_timeout`, default min(session timeout, 10 s))."""
        loop = asyncio.get_running_loop()
        self.discovery = Discovery(self.zk_endpoints, self.group_path, self.address, loop,
                                   session_timeout=self.session_timeout,
                                   candidate=self.elect and self.replica.status == VOTING)
        self.discovery.on_change = self._reconcile
        timeout = min(self.session_timeout, 10.0) if connect_timeout is None else connect_timeout
        await loop.run_in_executor(None, self.discovery.start, timeout)
        self._tasks.append(asyncio.ensure_future(self._control_loop()))
        log.info("replica %s at %s is %s (learned %d, quorum %d, group %s)", self.replica.replica_id,
                 self.address, self.replica.status, self.replica.learned, self.quorum, self.group_path)
        if self.replica.status == EMPTY:
            self._say_empty()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.coordinator:
            await self.coordinator.stop("shutting down")
        await asyncio.gather(*self._stopping, return_exceptions=True)
        if self.discovery:
            await asyncio.get_running_loop().run_in_executor(None, self.discovery.stop)
        for r in self.remotes.values():
            r.close()
        self.local.close()

    # -- role changes --------------------------------------------------------------------------------------
    def _reconcile(self) -> None:
        members = self.discovery.members if self.discovery else []
        n = len(set(members) | {self.address})
        if n != self._warned_members:
            self._warned_members = n
            if self.quorum < majority(n):
                log.warning("MISCONFIGURATION: -native_log_quorum_size=%d is less than a majority of the %d "
                            "replicas in %s (needs %d): two writers could both commit and the log could "
                            "diverge or lose acknowledged writes", self.quorum, n, self.group_path, majority(n))
        chosen = self.discovery and self.discovery.is_writer if self.elect else self._granted
        should_write = bool(chosen and self.replica.status == VOTING)
        if should_write and self.coordinator is None:
            self._become_writer()
        elif not should_write and self.coordinator is not None:
            self._step_down("lost the writer election")

    def become_writer(self) -> None:
        """``elect=False`` only: the owner won its election; write (as soon as the replica is VOTING)."""
        assert not self.elect, "become_writer is for nodes made with elect=False"
        self._granted = True
        self._reconcile()

    def step_down(self, reason: str) -> None:
        """``elect=False`` only: the owner lost its election; stop writing now (pending appends fail)."""
        self._granted = False
        self._step_down(reason)

    async def wait_writer(self) -> Coordinator:
        """The Coordinator, once this node has one (granted or elected, and VOTING); it may not be recovered."""
        while self.coordinator is None:
            await self._writer_ready.wait()
        return self.coordinator

    def _become_writer(self) -> None:
        coord = Coordinator(self.local, self._peer_addresses, self.quorum, self.address, self.write_timeout,
                            remote=self.remote)
        coord.on_fenced = self._on_fenced
        self.coordinator = coord
        self._writer_ready.set()
        self._elected_at = time.monotonic()
        coord.start()
        log.info("elected writer; running the recovery round")
        asyncio.ensure_future(self._recover_writer(coord))

    async def _recover_writer(self, coord: Coordinator) -> None:
        if self._recovering:
            return
        self._recovering = True
        # Right after an election the peers may not have registered yet (a normal start): that is news, not
        # an error, until the grace period has passed.
        grace_until = self._elected_at + max(self.write_timeout, self.session_timeout)
        try:
            while self.coordinator is coord and not coord.stopped and not coord.recovered:
                try:
                    await coord.recover()
                except Fenced as e:
                    self._on_fenced(e)
                    return
                except LogError as e:
                    coord.last_error = str(e)
                    level = logging.INFO if time.monotonic() < grace_until else logging.ERROR
                    log.log(level, "log is not READY: %s", e)
                    await asyncio.sleep(self.tick)
        finally:
            self._recovering = False

    def _on_fenced(self, error: Fenced) -> None:
        log.error("%s; stepping down", error)
        self._step_down(str(error))
        if not self.elect:
            self._granted = False
            if self.on_fenced:
                self.on_fenced(str(error))
        elif self.discovery:
            self.discovery.withdraw()

    def _step_down(self, reason: str) -> None:
        coord, self.coordinator = self.coordinator, None
        self._writer_ready.clear()
        if coord is not None:
            log.warning("no longer the writer: %s", reason)
            coord.close(f"not the writer ({reason})")  # every waiting append is answered right here
            task = asyncio.ensure_future(coord.stop(f"not the writer ({reason})"))  # awaits its pump
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _peer_addresses(self) -> list[str]:
        return self.discovery.peers() if self.discovery else []

    # -- control loop --------------------------------------------------------------------------------------
    async def _control_loop(self) -> None:
        while True:
            try:
                await self._control_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - keep the node alive; say what went wrong
                log.warning("control loop: %s", e)
            await asyncio.sleep(self.tick)

    async def _control_once(self) -> None:
        if self.discovery and not self._registering:
            self._registering = True
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.discovery.ensure_registered)
            finally:
                self._registering = False
        if self.replica.status != VOTING:
            peers = [self.remote(a) for a in self._peer_addresses()]
            if await recover_replica(self.local, peers, self.quorum, timeout=self.write_timeout):
                if self.discovery and self.elect:
                    self.discovery.candidate = True
            else:
                self._say_empty()
            return
        coord = self.coordinator
        if coord is not None and coord.recovered:
            await coord.heartbeat()
        elif coord is not None and not self._recovering:
            # A failed round left the writer unrecovered: try again so progress resumes once failures heal.
            asyncio.ensure_future(self._recover_writer(coord))
        self._reconcile()

    def _say_empty(self) -> None:
        now = time.monotonic()
        if now - self._empty_said >= 5:
            self._empty_said = now
            voting = f"fewer than -native_log_quorum_size={self.quorum} VOTING peers are reachable"
            log.warning("Replica in %s status: it takes part in nothing and the log is not READY (%s). "
                        "On a new cluster run `aurora-log initialize --path=%s` on a quorum of replicas",
                        self.replica.status, voting, self.path)

    # -- what the HTTP layer and an embedding scheduler use ------------------------------------------------
    def writer(self) -> Coordinator:
        coord = self.coordinator
        if coord is None or coord.stopped:
            w = self.discovery.writer if self.discovery else None
            raise NotWriter(f"{self.address} is not the writer (writer: {w or 'none elected'})")
        return coord

    def status(self) -> dict:
        info = self.replica.info()
        coord = self.coordinator
        members = self.discovery.members if self.discovery else []
        return {
            "address": self.address,
            "replica": info,
            "quorum": self.quorum,
            "members": members,
            "writer": self.discovery.writer if self.discovery else None,
            "is_writer": coord is not None,
            "ready": bool(coord and coord.recovered) if coord else info["status"] == VOTING,
            "ballot": coord.ballot if coord else None,
            "beginning": info["begin"],
            "ending": coord.committed if coord and coord.recovered else info["learned"],
            "zk_connected": bool(self.discovery and self.discovery.connected),
            "last_error": coord.last_error if coord else "",
            "caught_up_entries": self.catchup.copied,
        }

    def vars(self) -> dict:
        info = self.replica.info()
        coord = self.coordinator
        v = {
            "log_recovered": int(info["status"] == VOTING and (coord is None or coord.recovered)),
            "log_replica_voting": int(info["status"] == VOTING),
            "log_replica_empty": int(info["status"] == EMPTY),
            "log_learned_position": info["learned"],
            "log_end_position": info["end"],
            "log_begin_position": info["begin"],
            "log_promised_ballot": info["promised"],
            "log_is_writer": int(coord is not None),
            "log_members": len(self.discovery.members) if self.discovery else 0,
            "log_caught_up_entries": self.catchup.copied,
            "uptime_secs": int(time.time() - self.started),
        }
        if coord:
            v.update({f"log_writer_{k}": val for k, val in coord.stats.items()})
        return v
