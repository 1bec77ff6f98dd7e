"""`BiCache`: entries key -> value that expire a fixed time after they were put, found by key or by value.

    slots = BiCache(expire_after=300.0, clock=time.monotonic)   # -preemption_slot_hold_time
    slots.put(proposal, group)
    slots.keys_of(group)          # [proposal, ...]: every live key holding this value, oldest first
    slots.get(proposal)           # group, or None once expired or removed
    slots.remove(proposal, group)

Aurora's BiCache (a Guava cache written-expiring, plus its inverse multimap), on an injected clock. The
preemptor keeps its slots in one (proposal -> task group, -preemption_slot_hold_time) and the task scheduler
its reservations in another (agent id -> task group, -offer_reservation_duration). Expired entries are dropped
on every access, so a reader never sees one.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)


class BiCache(Generic[K, V]):
    def __init__(self, expire_after: float, clock: Callable[[], float]):
        self.expire_after = expire_after
        self._clock = clock
        self._entries: dict[K, tuple[V, float]] = {}     # key -> (value, expiry), in order of writing

    def put(self, key: K, value: V) -> None:
        """Put (or re-put, restarting its time) an entry."""
        self._entries.pop(key, None)
        self._entries[key] = (value, self._clock() + self.expire_after)

    def get(self, key: K) -> V | None:
        self._expire()
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def keys_of(self, value: V) -> list[K]:
        """Aurora's getByValue: the live keys holding `value`, oldest first."""
        self._expire()
        return [k for k, (v, _) in self._entries.items() if v == value]

    def remove(self, key: K, value: V) -> None:
        """Drop the entry `key` if it holds `value`."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] == value:
            del self._entries[key]

    def as_map(self) -> dict[K, V]:
        self._expire()
        return {k: v for k, (v, _) in self._entries.items()}

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        # Entries are in order of writing and all live equally long: the expired ones are a prefix.
        while self._entries:
            key, (_, expiry) = next(iter(self._entries.items()))
            if expiry > now:
                break
            del self._entries[key]
