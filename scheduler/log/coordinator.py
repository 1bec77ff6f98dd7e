"""The writer: recovery round, batched appends, truncation, fencing.

`Coordinator` is what the elected scheduler uses to write the log. It guarantees:

* nothing is appended before a *recovery round* at a fresh ballot has succeeded against a quorum of VOTING
  replicas: the writer learns the highest position, copies what is known committed, adopts for every other
  position the value accepted under the highest ballot (a no-op where none was), and commits all of it under
  its own ballot;
* ``append`` returns positions only once ``quorum`` replicas (its own included) have the entries durably;
* appends that arrive while a round is in flight go out together in the next round (one fsync per replica);
* a replica that promised a higher ballot makes every later write of this writer fail (`Fenced`): a paused
  old writer can never commit after a new one recovered, whatever ZooKeeper says;
* a round that cannot reach a quorum within ``write_timeout`` fails with `QuorumUnreachable`, and the next
  append starts a new recovery round (the outcome of a failed append is unknown, as with Mesos' log);
* every append is answered -- committed, or failed -- within ``write_timeout`` of its submission, whatever
  happens to the writer (step-down, fencing, a cancelled pump, a stuck round): its future is owned by
  `Pending`, which has a deadline per append and fails them all when the writer closes.

Usage::

    coord = Coordinator(local, peers=lambda: ["10.0.0.2:8083", ...], quorum=2, address="10.0.0.1:8083",
                        remote=node.remote)  # address -> RemoteReplica, cached by the caller
    await coord.recover()                      # optional; the first append does it otherwise
    positions = await coord.append([b"a", b"b"])
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from .catchup import copy_learned, highest_ballot
from .pending import Pending
from .peers import LocalReplica, RemoteReplica, ReplicaUnavailable
from .protocol import (APPEND, NOOP, TRUNCATE, VOTING, Entry, Fenced, LogError, NotWriter, OutOfRange,
                       QuorumUnreachable)
from .replica import truncate_payload

log = logging.getLogger(__name__)

MAX_BATCH_ENTRIES = 20_000
MAX_BATCH_BYTES = 8 << 20


def recovery_values(replies: list[list[Entry]], lo: int, hi: int) -> list[tuple[int, int, bytes]]:
    """For every position in [lo, hi]: the value accepted under the highest ballot among the quorum's
    replies, or a NOOP where no replica of the quorum holds one. Returns (position, kind, payload)."""
    best = highest_ballot(replies)
    out = []
    for position in range(lo, hi + 1):
        e = best.get(position)
        out.append((position, e.kind, e.payload) if e else (position, NOOP, b""))
    return out


class Coordinator:
    """The single writer of the log (see module docstring)."""

    def __init__(self, local: LocalReplica, peers, quorum: int, address: str, write_timeout: float = 3.0, *,
                 remote):
        self.local = local
        self._peers = peers  # () -> addresses of the members
        self._remote = remote  # address -> RemoteReplica (the node's cache of peer connections)
        self.quorum = quorum
        self.address = address
        self.write_timeout = write_timeout
        self.ballot = 0
        self.recovered = False
        self.stopped = False
        self._settled = asyncio.Event()      # set once recovered (first time) or closed: what waiters wait for
        self.committed = 0
        self.next_position = 1
        self._queue: deque[tuple[list, asyncio.Future]] = deque()  # what to write; the futures are owned by _pending
        self._pending = Pending(write_timeout)
        self._wakeup = asyncio.Event()
        self._pump_task: asyncio.Task | None = None
        self._idle_commit: asyncio.TimerHandle | None = None
        self._seen_promise = 0
        self._recover_lock = asyncio.Lock()
        self.on_fenced = None  # callback(Fenced)
        self.stats = {"rounds": 0, "entries": 0, "recoveries": 0, "failed_rounds": 0}
        self.last_error = ""

    # -- public API ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._pump_task is None:
            self._pump_task = asyncio.ensure_future(self._pump())

    def close(self, reason: str = "writer stopped") -> None:
        """Stop writing now: every append not answered yet, and every later one, fails with NotWriter at once
        (synchronously, so a step-down answers everyone before anything else runs). `stop` also awaits the
        pump."""
        self.stopped = True
        self.recovered = False
        if self._idle_commit:
            self._idle_commit.cancel()
        self._queue.clear()
        self._pending.close(NotWriter(reason))
        self._settled.set()
        self._wakeup.set()
        if self._pump_task:
            self._pump_task.cancel()

    async def stop(self, reason: str = "writer stopped") -> None:
        if not self.stopped:                    # a step-down has closed it already
            self.close(reason)
        if self._pump_task:
            await asyncio.gather(self._pump_task, return_exceptions=True)
            self._pump_task = None

    async def wait_recovered(self) -> bool:
        """Until the first recovery round has succeeded (True: the log is READY) or the writer is closed (False).
        The node retries the rounds; this only waits for their outcome."""
        await self._settled.wait()
        return not self.stopped

    async def append(self, payloads: list[bytes]) -> list[int]:
        """Append entries; their positions once a quorum has them durably (nothing to append: no round)."""
        if not payloads:
            return []
        return await self._submit([(APPEND, bytes(p)) for p in payloads])

    async def truncate(self, before: int) -> int:
        """Log a truncation: once committed, every replica drops entries before `before`."""
        if before < 1 or before > self.committed + 1:
            raise OutOfRange(f"cannot truncate before {before}: the log ends at {self.committed}")
        (position,) = await self._submit([(TRUNCATE, truncate_payload(before))])
        return position

    def beginning(self) -> int:
        return self.local.replica.begin

    def ending(self) -> int:
        return self.committed

    async def read(self, lo: int, hi: int) -> list[Entry]:
        return await self.local.read(lo, min(hi, self.committed))

    # -- peers ---------------------------------------------------------------------------------------------
    def remotes(self) -> list[RemoteReplica]:
        return [self._remote(a) for a in self._peers() if a != self.address]

    # -- pump ----------------------------------------------------------------------------------------------
    async def _submit(self, items: list[tuple[int, bytes]]) -> list[int]:
        fut = self._pending.add()  # already failed, with the reason, if this writer was closed
        if not fut.done():
            self._queue.append((items, fut))
            self._wakeup.set()
        return await fut

    def _fail_queue(self, error: LogError) -> None:
        """Fail everything waiting: the queue and any batch in flight (their futures are all in _pending)."""
        self._queue.clear()
        self._pending.fail_all(error)

    async def _pump(self) -> None:
        try:
            await self._pump_loop()
        finally:
            # However the pump ends (stop, cancellation with a batch taken from the queue, a bug), nobody
            # waits for it in vain.
            self.stopped = True
            self._queue.clear()
            self._pending.close(NotWriter("not the writer (its append pump stopped)"))

    async def _pump_loop(self) -> None:
        while not self.stopped:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not self.recovered:
                try:
                    await self.recover()
                except Exception as exc:  # noqa: BLE001 - the pump must survive: fail the queue, retry later
                    e = _as_log_error(exc, "recovery")
                    self.last_error = str(e)
                    log.error("%s", e)
                    self._fail_queue(e)
                    continue
            batch, nbytes, count = [], 0, 0
            while self._queue and count < MAX_BATCH_ENTRIES and nbytes < MAX_BATCH_BYTES:
                items, fut = self._queue.popleft()
                if fut.done():
                    continue  # already answered (its deadline passed, or its caller gave up): not written
                batch.append((items, fut))
                count += len(items)
                nbytes += sum(len(p) for _, p in items)
            if not batch:
                continue
            entries, spans = [], []
            for items, fut in batch:
                first = self.next_position + len(entries)
                entries.extend((first + i, self.ballot, kind, payload) for i, (kind, payload) in enumerate(items))
                spans.append((fut, list(range(first, first + len(items)))))
            try:
                await self._round(entries)
            except Exception as exc:  # noqa: BLE001 - the pump must survive: fail this batch, recover next time
                e = _as_log_error(exc, f"append of {len(entries)} entries")
                self.stats["failed_rounds"] += 1
                self.last_error = str(e)
                self.recovered = False
                log.error("append of %d entries failed: %s", len(entries), e)
                for fut, _ in spans:
                    if not fut.done():
                        fut.set_exception(e)
                if isinstance(e, Fenced):
                    self._fail_queue(e)
                    if self.on_fenced:
                        self.on_fenced(e)
                continue
            for fut, positions in spans:
                if not fut.done():
                    fut.set_result(positions)

    async def _round(self, entries: list[tuple]) -> None:
        """Write `entries` under our ballot to every replica; return once a quorum acknowledged them."""
        commit = self.committed
        last = entries[-1][0]
        local = asyncio.ensure_future(self.local.write(self.ballot, entries, commit, self.address))
        await self._gather_quorum(
            [local] + [r.write(self.ballot, entries, commit, self.address, self.write_timeout)
                       for r in self.remotes()],
            what=f"append at {entries[0][0]}..{last}")
        # Our own copy must be there too (reads on the writer are served from it), even if two peers
        # answered first.
        try:
            mine = await asyncio.wait_for(asyncio.shield(local), self.write_timeout)
        except TimeoutError:
            raise QuorumUnreachable(f"local replica did not write within {self.write_timeout:g}s") from None
        except Exception as e:  # noqa: BLE001 - storage errors of our own replica fail the round, clearly
            raise LogError(f"local replica write failed: {e}") from None
        if not mine.get("ok"):
            raise Fenced(self.ballot, mine.get("promised", 0))
        self.next_position = last + 1
        self.committed = last
        self.stats["rounds"] += 1
        self.stats["entries"] += len(entries)
        self.local.replica.commit(self.ballot, last)  # in memory: these are the entries just written here
        self._schedule_idle_commit()

    async def _gather_quorum(self, aws: list, what: str) -> list[dict]:
        """Wait for `quorum` ok replies from distinct replicas; Fenced on a higher promise; QuorumUnreachable
        if the deadline passes or too many replicas answered no."""
        tasks = [asyncio.ensure_future(a) for a in aws]
        ok: dict[str, dict] = {}
        failures: list[str] = []
        deadline = time.monotonic() + self.write_timeout
        pending = set(tasks)
        try:
            while pending and len(ok) < self.quorum:
                done, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()),
                                                   return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break
                for t in done:
                    try:
                        reply = t.result()
                    except ReplicaUnavailable as e:
                        failures.append(str(e))
                        continue
                    if reply.get("ok"):
                        ok[reply["id"]] = reply
                    elif reply.get("promised", 0) >= self.ballot and reply.get("status") == VOTING:
                        self._seen_promise = max(self._seen_promise, reply["promised"])
                        raise Fenced(self.ballot, reply["promised"])
                    else:
                        failures.append(f"replica {reply.get('id')} is {reply.get('status')}")
        finally:
            for t in pending:
                t.add_done_callback(_consume)
        if len(ok) < self.quorum:
            detail = "; ".join(failures[:3]) or "no answer"
            raise QuorumUnreachable(
                f"{what}: only {len(ok)} of quorum {self.quorum} replicas acknowledged within "
                f"{self.write_timeout:g}s ({detail})")
        return list(ok.values())

    def _schedule_idle_commit(self) -> None:
        """Tell followers what is committed if no further round does it soon."""
        if self._idle_commit:
            self._idle_commit.cancel()
        self._idle_commit = asyncio.get_running_loop().call_later(0.05, self._send_commit)

    def _send_commit(self) -> None:
        self._idle_commit = None
        if self.stopped or not self.recovered or self._queue:
            return
        asyncio.ensure_future(self._broadcast_commit())

    async def _broadcast_commit(self) -> None:
        await self.local.flush()
        for r in self.remotes():
            asyncio.ensure_future(_quiet(r.commit(self.ballot, self.committed, self.address, 2.0)))

    async def heartbeat(self) -> None:
        """Periodic commit broadcast so replicas that restarted or fell behind catch up without new writes."""
        if self.recovered and not self.stopped:
            await self._broadcast_commit()

    # -- recovery ------------------------------------------------------------------------------------------
    async def recover(self) -> None:
        """Win a quorum of promises at a fresh ballot and make every possibly committed entry committed.
        Concurrent callers share one round."""
        async with self._recover_lock:
            if not self.recovered and not self.stopped:
                await self._recover()

    async def _recover(self) -> None:
        deadline = time.monotonic() + self.write_timeout
        attempt = 0
        while True:
            attempt += 1
            ballot = max(self.local.replica.promised, self._seen_promise, self.ballot) + 1
            try:
                await self._recover_at(ballot)
                return
            except Fenced as e:
                self._seen_promise = max(self._seen_promise, e.promised)
                if time.monotonic() >= deadline or attempt >= 5:
                    raise LogError(f"recovery lost to competing writers (last promise seen {e.promised})") from None
                log.info("ballot %d lost to %d; retrying higher", ballot, e.promised)

    async def _recover_at(self, ballot: int) -> None:
        self.ballot = ballot
        self.recovered = False
        remotes = self.remotes()
        voters = [self.local] + remotes
        promises = await self._gather_quorum([_tag(v, v.promise(ballot, self.write_timeout)) for v in voters],
                                             what=f"recovery at ballot {ballot}")
        by_id = {p["id"]: p for p in promises}
        max_learned = max(p["learned"] for p in promises)
        end = max(p["end"] for p in promises)
        # 1. Copy what is known committed from whoever knows most.
        if self.local.replica.learned < max_learned:
            source = next(p["_voter"] for p in promises if p["learned"] == max_learned)
            await copy_learned(self.local, source, max_learned, deadline=time.monotonic() + 30)
            if self.local.replica.learned < max_learned:
                raise QuorumUnreachable(f"could not copy committed entries up to {max_learned}")
        lo = max(self.local.replica.learned, max_learned) + 1
        # 2. Adopt the highest-ballot value at every position not known committed; fill holes with no-ops.
        if end >= lo:
            collected = await asyncio.gather(*[p["_voter"].accepted(lo, end, self.write_timeout)
                                               for p in by_id.values()], return_exceptions=True)
            if any(isinstance(c, Exception) for c in collected):
                raise QuorumUnreachable(f"recovery at ballot {ballot}: a promising replica did not answer")
            values = recovery_values(collected, lo, end)
            for i in range(0, len(values), MAX_BATCH_ENTRIES):
                chunk = [(p, ballot, k, v) for p, k, v in values[i:i + MAX_BATCH_ENTRIES]]
                self.committed = chunk[0][0] - 1
                await self._round(chunk)
        self.committed = max(end, self.local.replica.learned)
        self.next_position = self.committed + 1
        await self.local.commit(ballot, self.committed)  # persisted by the flush of _broadcast_commit below
        self.recovered = True
        self._settled.set()
        self.last_error = ""
        self.stats["recoveries"] += 1
        log.info("writer %s recovered at ballot %d: log is READY, positions %d..%d (%d replicas promised)",
                 self.address, ballot, self.local.replica.begin, self.committed, len(promises))
        asyncio.ensure_future(self._broadcast_commit())


async def _tag(voter, aw):
    reply = await aw
    reply = dict(reply)
    reply["_voter"] = voter
    return reply


async def _quiet(aw):
    try:
        await aw
    except Exception as e:  # noqa: BLE001 - best effort notification; the next one will do
        log.debug("commit notification failed: %s", e)


def _as_log_error(error: Exception, what: str) -> LogError:
    """`error` itself if it is a LogError; otherwise a LogError saying what failed (and it is logged)."""
    if isinstance(error, LogError):
        return error
    log.error("%s failed unexpectedly", what, exc_info=error)
    return LogError(f"{what} failed unexpectedly: {type(error).__name__}: {error}")


def _consume(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
