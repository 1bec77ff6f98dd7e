"""Task constraints against a host's attributes, and the job counts limit constraints are judged on.

    aggregate = AttributeAggregate.for_job(active_tasks_of_job, attributes_by_host)
    aggregate.count("rack", "a")                 # the job's tasks on hosts with rack=a
    rules = compile_constraints(config.constraints)   # value constraints first, as Aurora checks them
    constraint_veto(rules, host_attributes, aggregate) -> Veto | None     # the first failing one

A value constraint holds when the host has one of the listed values for that attribute, or, negated, none of
them (a host without the attribute satisfies a negated one). A limit constraint needs the attribute (else
"Constraint not satisfied") and, for every value the host has, fewer of the job's tasks than the limit already
on hosts with that value (else "Limit not satisfied"). Counting is over the job's SLAVE_ASSIGNED tasks
(AttributeAggregate.getJobActiveState), each counted once for every (name, value) of its host.

Dedicated hosts: a host with a `dedicated` attribute takes only tasks with a `dedicated` constraint; that
constraint is then an ordinary value constraint on the attribute ("www-data/web", or "*/web" for any role:
scheduler.api.config checks who may ask for which value, placement only compares strings).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from thermos_executor.aurora_api.gen.ttypes import Constraint, HostAttributes, ScheduledTask

from scheduler.scheduling.offers import DEDICATED_ATTRIBUTE, attributes_of
from scheduler.scheduling.veto import Veto
from scheduler.state.status import SLAVE_ASSIGNED

Attributes = Mapping[str, frozenset[str]]


class AttributeAggregate:
    """Counts of a job's placed tasks per (attribute name, value) of their hosts. Built once per scheduling
    attempt (a snapshot), then `add` records a task placed during the attempt so the next one sees it."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[tuple[str, str], int] | None = None):
        self._counts: Counter[tuple[str, str]] = Counter(counts or {})

    @classmethod
    def of_hosts(cls, hosts: Iterable[Attributes]) -> AttributeAggregate:
        """One entry per task: the attributes of the host it runs on."""
        aggregate = cls()
        for attributes in hosts:
            aggregate.add(attributes)
        return aggregate

    @classmethod
    def for_job(cls, tasks: Iterable[ScheduledTask],
                host_attributes: Callable[[str], HostAttributes | Attributes | None] | Mapping) -> AttributeAggregate:
        """From the job's tasks (any statuses; only SLAVE_ASSIGNED ones count) and the stored attributes of
        their hosts (a mapping or a lookup by host name). A task whose host has no stored attributes counts
        nowhere (Aurora assumes they are always there)."""
        lookup = host_attributes.get if isinstance(host_attributes, Mapping) else host_attributes
        aggregate = cls()
        for task in tasks:
            if task.status not in SLAVE_ASSIGNED or task.assignedTask is None:
                continue
            host = task.assignedTask.slaveHost
            if host:
                aggregate.add(attributes_of(lookup(host)))
        return aggregate

    def add(self, attributes: Attributes) -> None:
        """Count one more task on a host with these attributes (AttributeAggregate.updateAttributeAggregate)."""
        counts = self._counts
        for name, values in attributes.items():
            for value in values:
                counts[name, value] += 1

    def count(self, name: str, value: str) -> int:
        return self._counts.get((name, value), 0)

    @property
    def counts(self) -> Mapping[tuple[str, str], int]:
        """(name, value) -> tasks, read-only (the filter's fast path reads it directly)."""
        return self._counts

    def copy(self) -> AttributeAggregate:
        return AttributeAggregate(self._counts)

    def __eq__(self, other) -> bool:
        return isinstance(other, AttributeAggregate) and +self._counts == +other._counts

    __hash__ = None

    def __repr__(self) -> str:
        return f"AttributeAggregate({dict(self._counts)!r})"


@dataclass(frozen=True, slots=True)
class Rule:
    """One task constraint, prepared: a value constraint (values, negated) or a limit (limit)."""
    name: str
    values: frozenset[str] | None = None
    negated: bool = False
    limit: int | None = None

    def as_check(self) -> tuple:
        """(name, values, negated, limit, (mismatch veto,), (limit veto,)): the filter's fast form."""
        return (self.name, self.values, self.negated, self.limit, (Veto.constraint_mismatch(self.name),),
                (Veto.unsatisfied_limit(self.name),))


def compile_constraints(constraints: Iterable[Constraint] | None) -> tuple[Rule, ...]:
    """The task's constraints as rules, value constraints before limit constraints (Aurora's VALUES_FIRST, a
    stable sort). ValueError with one line for a constraint that is neither."""
    values, limits = [], []
    for constraint in sorted(constraints or (), key=_constraint_order):
        tc = constraint.constraint
        if tc is not None and tc.value is not None:
            values.append(Rule(constraint.name, values=frozenset(tc.value.values or ()),
                               negated=bool(tc.value.negated)))
        elif tc is not None and tc.limit is not None and isinstance(tc.limit.limit, int):
            limits.append(Rule(constraint.name, limit=tc.limit.limit))
        else:
            raise ValueError(f"constraint {constraint.name!r} is neither a value nor a limit constraint")
    return tuple(values + limits)


def _constraint_order(constraint: Constraint) -> tuple:
    # A Thrift set has no order; sort by name and content so the first failing constraint is deterministic.
    tc = constraint.constraint
    value = tc.value if tc is not None else None
    return (constraint.name or "", sorted(value.values or ()) if value is not None else [], repr(tc))


def is_dedicated_task(rules: Iterable[Rule]) -> bool:
    """Whether the task asks for dedicated hosts (ConfigurationManager.isDedicated: a constraint by that name)."""
    return any(rule.name == DEDICATED_ATTRIBUTE for rule in rules)


def constraint_veto(rules: Iterable[Rule], attributes: Attributes, aggregate: AttributeAggregate) -> Veto | None:
    """The first rule the host fails, as a veto; None when all hold (ConstraintMatcher.getVeto in order)."""
    vetoed = check_constraints(tuple(rule.as_check() for rule in rules), attributes, aggregate.counts)
    return None if vetoed is None else vetoed[0]


def check_constraints(checks: tuple, attributes: Attributes,
                      counts: Mapping[tuple[str, str], int]) -> tuple[Veto] | None:
    """`constraint_veto` on prepared checks (Rule.as_check), as the filter's one-veto tuple: the filter calls
    this once per offer."""
    for name, values, negated, limit, mismatch, unsatisfied in checks:
        host_values = attributes.get(name)
        if values is not None:
            if (host_values is not None and not host_values.isdisjoint(values)) == negated:
                return mismatch
        elif host_values is None:
            return mismatch
        else:
            for value in host_values:
                if limit <= counts.get((name, value), 0):
                    return unsatisfied
    return None
