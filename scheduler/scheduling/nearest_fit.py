"""NearestFit: for each task group, the vetoes of the offer that came closest, for getPendingReason.

    fits = NearestFit()                               # expiry 10 minutes, as Aurora
    fits.vetoed(key, vetoes, now)                     # every vetoed (offer, group) of an attempt
    fits.pending_reason(key, now) -> "Insufficient: CPU,Insufficient: RAM"   # "" when nothing is known
    fits.task_left_pending(key)                       # a task of the group was assigned (left PENDING)
    fits.tasks_deleted(keys)                          # tasks deleted

The closest fit is the veto set with the lowest total score (vetoes are scored so one stronger veto outweighs
any number of weaker ones). As Aurora's Guava cache (expireAfterWrite 10 min, the Fit updated in place), a
group's entry lives 10 minutes from its first veto, keeping the lowest set seen meanwhile; then it is forgotten
and the next veto starts afresh, so a reason cannot stay stuck on an offer long gone. A group is also forgotten
when one of its tasks leaves PENDING or its tasks are deleted. `now` is any monotonic clock, in seconds.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.veto import Veto, total_score

EXPIRATION_S = 10 * 60.0


class NearestFit:
    """Per group: (written at, vetoes, their total score)."""

    def __init__(self, expiration_s: float = EXPIRATION_S):
        self.expiration_s = expiration_s
        self._fits: dict[TaskGroupKey, list] = {}

    def vetoed(self, key: TaskGroupKey, vetoes: Sequence[Veto], now: float) -> None:
        """One offer vetoed the group: keep these vetoes if they are the closest fit yet."""
        if not vetoes:
            return
        fit = self._fits.get(key)
        if fit is None or now - fit[0] >= self.expiration_s:
            self._fits[key] = [now, tuple(vetoes), total_score(vetoes)]
            return
        score = total_score(vetoes)
        if score < fit[2]:
            fit[1], fit[2] = tuple(vetoes), score

    def nearest_fit(self, key: TaskGroupKey, now: float) -> tuple[Veto, ...]:
        fit = self._fits.get(key)
        if fit is None:
            return ()
        if now - fit[0] >= self.expiration_s:
            del self._fits[key]
            return ()
        return fit[1]

    def pending_reason(self, key: TaskGroupKey, now: float) -> str:
        """The reasons of the nearest fit joined by "," (ReadOnlySchedulerImpl.getPendingReason)."""
        return ",".join(veto.reason for veto in self.nearest_fit(key, now))

    def task_left_pending(self, key: TaskGroupKey) -> None:
        """A task of the group moved out of PENDING (assigned, killed ...): forget the group."""
        self._fits.pop(key, None)

    def tasks_deleted(self, keys: Iterable[TaskGroupKey]) -> None:
        for key in keys:
            self._fits.pop(key, None)

    def expire(self, now: float) -> None:
        """Drop every expired entry (Guava does it lazily; call this now and then to bound memory)."""
        for key in [k for k, fit in self._fits.items() if now - fit[0] >= self.expiration_s]:
            del self._fits[key]

    def __len__(self) -> int:
        return len(self._fits)
