"""`Log` over scheduler.log's `Coordinator` (the elected writer of the replicated log); thin.

Reads come from the writer's own replica, which holds every committed entry once the writer's recovery round
has run, so a read first makes sure it has: the whole log is then read, as Aurora's storage requires before
replay. Only APPEND entries are storage's: the log's own no-ops and truncation markers are left out. Errors
are the log's `LogError`s, unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from scheduler.log.coordinator import Coordinator
from scheduler.log.protocol import APPEND

READ_PAGE = 5_000  # positions per read of the local replica


class ReplicatedLog:
    def __init__(self, writer: Coordinator):
        self.writer = writer

    async def append(self, entries: list[bytes]) -> list[int]:
        return await self.writer.append(entries)

    async def read(self, start: int = 1) -> AsyncIterator[tuple[int, bytes]]:
        if not self.writer.recovered:
            await self.writer.recover()
        position, end = max(start, self.writer.beginning()), self.writer.ending()
        while position <= end:
            for entry in await self.writer.read(position, min(position + READ_PAGE - 1, end)):
                if entry.kind == APPEND:
                    yield entry.position, entry.payload
            position += READ_PAGE

    async def truncate(self, before: int) -> None:
        await self.writer.truncate(before)
