"""The narrow log storage is written against (Aurora's scheduler/log/Log.java), and an in-memory one.

A `Log` is a sequence of opaque byte entries at increasing positions. Storage needs three things of it:

* `append(entries)`: the positions of the entries once they are durable; all of them land in order, or the
  call raises. When it raises, the outcome is unknown (some or all entries may still be in the log) - the
  caller must treat the write as failed and must not assume it absent from the log either;
* `read(start)`: the entries from `start` (or from the beginning of what is kept) to the end, in order, as
  (position, bytes); positions may skip (truncation markers, no-ops of the log itself);
* `truncate(before)`: entries before `before` may be discarded.

`MemoryLog` is that, in a list, for unit tests and benchmarks, with a fault knob for failed appends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class LogError(Exception):
    """An append, read or truncate that failed; one line meant for an operator."""


class Log(Protocol):
    async def append(self, entries: list[bytes]) -> list[int]: ...

    def read(self, start: int = 1) -> AsyncIterator[tuple[int, bytes]]: ...

    async def truncate(self, before: int) -> None: ...


class MemoryLog:
    """A `Log` in memory. Positions start at 1. `fail_next_append(keep=n)` makes the next append store its
    first `n` entries and then raise, as a write that failed part way."""

    def __init__(self):
        self.entries: dict[int, bytes] = {}
        self.next_position = 1
        self.appends = 0
        self._fail_keep: int | None = None

    def fail_next_append(self, keep: int = 0) -> None:
        self._fail_keep = keep

    async def append(self, entries: list[bytes]) -> list[int]:
        keep, self._fail_keep = self._fail_keep, None
        positions = []
        for i, data in enumerate(entries):
            if keep is not None and i >= keep:
                break
            self.entries[self.next_position] = bytes(data)
            positions.append(self.next_position)
            self.next_position += 1
        if keep is not None:
            raise LogError(f"append failed after {len(positions)} of {len(entries)} entries")
        self.appends += 1
        return positions

    async def read(self, start: int = 1) -> AsyncIterator[tuple[int, bytes]]:
        for position in sorted(p for p in self.entries if p >= start):
            yield position, self.entries[position]

    async def truncate(self, before: int) -> None:
        for position in [p for p in self.entries if p < before]:
            del self.entries[position]
