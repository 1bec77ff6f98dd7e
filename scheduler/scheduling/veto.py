"""Why an offer cannot take a task: Aurora's vetoes, their texts and their scores.

    Veto.dedicated()                   "Host is dedicated"                  1,000,000  static
    Veto.maintenance("draining")       "Host draining for maintenance"        100,000  static
    Veto.constraint_mismatch("rack")   "Constraint not satisfied: rack"        10,000  static
    Veto.unsatisfied_limit("host")     "Limit not satisfied: host"             10,000  dynamic
    Veto.insufficient(CPUS, 0.5)       "Insufficient: CPU"                  <= 1,000  static, scaled

A score only ranks vetoes: NearestFit keeps the set with the lowest total, and the classes are 10x apart so
that the few vetoes of a weaker class never outweigh one of a stronger (SchedulingFilter.VetoType). A static
veto will hold for this offer whatever happens in the cluster, a dynamic one may lift (another task of the job
goes away), which is why Aurora bans an offer for a task group only when all its vetoes are static.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from scheduler.scheduling.resources import ResourceType


class VetoGroup(StrEnum):
    EMPTY = "EMPTY"
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"
    MIXED = "MIXED"


class VetoType(Enum):
    """Aurora's VetoType: (reason format, group, score)."""
    INSUFFICIENT_RESOURCES = ("Insufficient: {}", VetoGroup.STATIC, 10 ** 3)
    CONSTRAINT_MISMATCH = ("Constraint not satisfied: {}", VetoGroup.STATIC, 10 ** 4)
    LIMIT_NOT_SATISFIED = ("Limit not satisfied: {}", VetoGroup.DYNAMIC, 10 ** 4)
    MAINTENANCE = ("Host {} for maintenance", VetoGroup.STATIC, 10 ** 5)
    DEDICATED_CONSTRAINT_MISMATCH = ("Host is dedicated", VetoGroup.STATIC, 10 ** 6)

    @property
    def group(self) -> VetoGroup:
        return self.value[1]

    @property
    def score(self) -> int:
        return self.value[2]


@dataclass(frozen=True, slots=True)
class Veto:
    reason: str
    score: int
    kind: VetoType

    @staticmethod
    def dedicated() -> Veto:
        return _DEDICATED

    @staticmethod
    def maintenance(mode_name: str) -> Veto:
        """`mode_name` lower case, as Aurora prints the mode: "draining", "drained"."""
        return _veto(VetoType.MAINTENANCE, mode_name)

    @staticmethod
    def constraint_mismatch(name: str) -> Veto:
        return _veto(VetoType.CONSTRAINT_MISMATCH, name)

    @staticmethod
    def unsatisfied_limit(name: str) -> Veto:
        return _veto(VetoType.LIMIT_NOT_SATISFIED, name)

    @staticmethod
    def insufficient(rtype: ResourceType, excess: float) -> Veto:
        """The shortfall `excess` scaled by a typical agent's amount: min(1000, int(1000 * excess) // range),
        Java's truncating int arithmetic (SchedulingFilterImpl.scale)."""
        return SHORTFALL[rtype].veto(excess)


def _veto(kind: VetoType, parameter: str) -> Veto:
    return Veto(kind.value[0].format(parameter), kind.score, kind)


_DEDICATED = _veto(VetoType.DEDICATED_CONSTRAINT_MISMATCH, "")


class Shortfall:
    """The "Insufficient: <resource>" vetoes of one resource, made once per score: the filter judges
    thousands of offers per attempt, and a veto is a value."""

    __slots__ = ("scaling_range", "reason", "_by_score")

    def __init__(self, rtype: ResourceType):
        self.scaling_range = rtype.scaling_range
        self.reason = VetoType.INSUFFICIENT_RESOURCES.value[0].format(rtype.aurora_name)
        self._by_score: dict[int, Veto] = {}

    def veto(self, excess: float) -> Veto:
        score = int(1000 * excess) // self.scaling_range
        if score > 1000:
            score = 1000
        veto = self._by_score.get(score)
        if veto is None:
            veto = self._by_score[score] = Veto(self.reason, score, VetoType.INSUFFICIENT_RESOURCES)
        return veto


SHORTFALL = {rtype: Shortfall(rtype) for rtype in ResourceType}


def veto_group(vetoes: Iterable[Veto]) -> VetoGroup:
    """EMPTY, STATIC, DYNAMIC, or MIXED when both kinds are present (Veto.identifyGroup)."""
    group = VetoGroup.EMPTY
    for veto in vetoes:
        current = veto.kind.group
        if group is VetoGroup.EMPTY:
            group = current
        elif current is not group:
            return VetoGroup.MIXED
    return group


def total_score(vetoes: Iterable[Veto]) -> int:
    return sum(v.score for v in vetoes)
