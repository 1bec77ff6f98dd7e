"""Catch-up: bringing a replica's committed prefix up to date, in bulk.

* `copy_learned` copies committed entries from one source in chunks of up to 50,000 entries per request.
* `CatchUp` runs one such copy at a time in the background on a follower, triggered when the writer tells it
  that positions are committed which it does not hold (it was down, paused, or missed writes).
* `recover_replica` is what an EMPTY replica does when it finds a quorum of VOTING peers (it lost its disk,
  or was added to a running cluster): mark itself RECOVERING, copy the committed prefix, copy the
  highest-ballot accepted value of every later position from a quorum, raise its promise to the highest one
  seen, and only then become VOTING. Copying from a quorum *other than itself* is what keeps acknowledged
  writes safe: every quorum that acknowledged a write while counting this replica still has quorum - 1 other
  members holding it, and those intersect any quorum of the other replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .protocol import EMPTY, RECOVERING, VOTING, Entry, LogError

log = logging.getLogger(__name__)

CHUNK = 50_000


def highest_ballot(replies: list[list[Entry]]) -> dict[int, Entry]:
    """Per position, the entry accepted under the highest ballot among `replies` (lists of entries)."""
    best: dict[int, Entry] = {}
    for entries in replies:
        for e in entries:
            cur = best.get(e.position)
            if cur is None or e.ballot > cur.ballot:
                best[e.position] = e
    return best


async def copy_learned(local, source, upto: int, deadline: float) -> int:
    """Copy committed entries from `source` until `local` has learned `upto` (or the source has no more).

    Returns the number of entries installed. Fetching the next chunk overlaps installing the current one.
    """
    installed = 0
    replica = local.replica
    nxt = None
    while replica.learned < upto and time.monotonic() < deadline:
        lo = replica.learned + 1
        if nxt is None:
            nxt = asyncio.ensure_future(source.learned(lo, upto, CHUNK))
        begin, _src_learned, rows = await nxt
        nxt = None
        if not rows and begin <= lo:
            break
        last = rows[-1][0] if rows else begin - 1
        if last < upto:
            nxt = asyncio.ensure_future(source.learned(last + 1, upto, CHUNK))
        await local.install_learned(begin, rows)
        installed += len(rows)
    if nxt is not None:
        nxt.cancel()
    return installed


class CatchUp:
    """At most one background copy at a time into `local`, from whichever writer asked last."""

    def __init__(self, local, remote_for):
        self.local = local
        self._remote_for = remote_for  # address -> RemoteReplica
        self._task: asyncio.Task | None = None
        self._want: tuple[str, int] | None = None
        self.copied = 0

    def request(self, source_address: str, upto: int) -> None:
        if not source_address or upto <= self.local.replica.learned:
            return
        self._want = (source_address, max(upto, self._want[1] if self._want else 0))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._want:
            address, upto = self._want
            self._want = None
            try:
                n = await copy_learned(self.local, self._remote_for(address), upto, time.monotonic() + 60)
                self.copied += n
                if n:
                    log.info("caught up %d entries from %s; learned %d", n, address, self.local.replica.learned)
            except Exception as e:  # noqa: BLE001 - a failed copy is retried on the writer's next message
                log.warning("catch-up from %s failed: %s", address, e)


async def recover_replica(local, remotes: list, quorum: int, timeout: float) -> bool:
    """Make an EMPTY or RECOVERING replica VOTING from a quorum of VOTING peers. False if none was found."""
    infos = await asyncio.gather(*[r.info(timeout) for r in remotes], return_exceptions=True)
    voting = [(r, i) for r, i in zip(remotes, infos, strict=True)
              if isinstance(i, dict) and i.get("status") == VOTING and i.get("id") != local.replica.replica_id]
    if len(voting) < quorum:
        return False
    if local.replica.status == EMPTY:
        await local.set_status(RECOVERING)
    log.info("replica %s is RECOVERING from %d VOTING peers", local.replica.replica_id, len(voting))
    promised = max(i["promised"] for _, i in voting)
    max_learned = max(i["learned"] for _, i in voting)
    end = max(i["end"] for _, i in voting)
    source = next(r for r, i in voting if i["learned"] == max_learned)
    await copy_learned(local, source, max_learned, time.monotonic() + 120)
    if local.replica.learned < max_learned:
        raise LogError(f"recovery copied only up to {local.replica.learned} of {max_learned}")
    lo = local.replica.learned + 1
    if end >= lo:
        collected = await asyncio.gather(*[r.accepted(lo, end, timeout) for r, _ in voting],
                                         return_exceptions=True)
        good = [c for c in collected if not isinstance(c, Exception)]
        if len(good) < quorum:
            raise LogError("recovery: fewer than a quorum of peers returned their uncommitted entries")
        best = highest_ballot(good)
        await local.install_accepted(sorted(best.values(), key=lambda e: e.position), promised)
    else:
        await local.install_accepted([], promised)
    await local.set_status(VOTING)
    log.info("replica %s is VOTING again: learned %d, promised %d",
             local.replica.replica_id, local.replica.learned, local.replica.promised)
    return True
