"""A role's resource quota: what consumes it and whether a change fits (Aurora 0.22's QuotaManager and
QuotaCheckResult), pure rules over the stored tasks, cron templates and job updates.

Only production tasks that are not dedicated consume quota ("prod shared"). A task is production when its
`production` flag is set, and config validation sets that flag from the tier (a tier that is neither
preemptible nor revocable, `preferred` by default, is production), so the flag is the one thing read here.
A role's consumption of each kind (prod/non-prod x shared/dedicated) is, as Aurora computes it:

* its active tasks, except those of cron jobs and those an active job update is replacing, plus
* for each active job update, per resource, the larger of its initial and its desired instances (so neither a
  roll forward nor a roll back can exceed it), plus
* for each cron template, per resource, the larger of the template x its instance count and the job's
  active tasks (a running cron task may be bigger than its updated template).

The checks a write makes inside its transaction, each answering a `QuotaCheck`:

    check = quota.check_instance_addition(store, template, count)   # createJob, addInstances
    check = quota.check_job_update(store, update)                     # startJobUpdate (worst case of old+new)
    check = quota.check_cron_update(store, job)                       # scheduleCronJob/replaceCronTemplate
    if not check.sufficient:
        refuse(INVALID_REQUEST, check.message)   # "Insufficient resource quota: CPU quota exceeded by ..."

`saved_quota_error(role, aggregate, store)` is setQuota's own check (negative values, below current prod use).
Arithmetic is Aurora's: doubles, compared exactly (ResourceBag), so 3 x 0.1 CPU does not fit a 0.3 quota.
"""
from __future__ import annotations

from thermos_executor.aurora_api import job_key

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from scheduler.api import config as configs
from scheduler.api import summaries
from scheduler.state.status import ACTIVE
from scheduler.state.updates import ACTIVE as ACTIVE_UPDATES
from thermos_executor.aurora_api.gen.ttypes import ResourceAggregate, TaskConfig, TaskQuery

INSUFFICIENT = "Insufficient resource quota: "
# (field of Bag, ResourceType name in Aurora's toString, its getAuroraName, its getAuroraUnit), in ResourceType order.
_TYPES = (("cpus", "CPUS", "CPU", "core(s)"), ("ram_mb", "RAM_MB", "RAM", "MB"), ("disk_mb", "DISK_MB", "disk", "MB"))


@dataclass(frozen=True)
class Bag:
    """CPUs, RAM and disk, as doubles (Aurora's ResourceBag restricted to QUOTA_RESOURCE_TYPES)."""
    cpus: float = 0.0
    ram_mb: float = 0.0
    disk_mb: float = 0.0

    @classmethod
    def of(cls, configs_or_aggregates: Iterable) -> Bag:
        """The summed CPU, RAM and disk of TaskConfigs or ResourceAggregates (anything with `resources`)."""
        totals = summaries.resource_totals(configs_or_aggregates)
        return cls(float(totals["numCpus"]), float(totals["ramMb"]), float(totals["diskMb"]))

    def _zip(self, other: Bag, op: Callable[[float, float], float]) -> Bag:
        return Bag(*(op(getattr(self, f), getattr(other, f)) for f, *_ in _TYPES))

    def __add__(self, other: Bag) -> Bag:
        return self._zip(other, lambda a, b: a + b)

    def __sub__(self, other: Bag) -> Bag:
        return self._zip(other, lambda a, b: a - b)

    def max(self, other: Bag) -> Bag:
        """Per resource: the larger of the two (the worst case of two configs)."""
        return self._zip(other, max)

    def scale(self, n: int) -> Bag:
        return Bag(self.cpus * n, self.ram_mb * n, self.disk_mb * n)

    def aggregate(self) -> ResourceAggregate:
        """As getQuota answers it (ResourceManager.aggregateFromBag: CPUs a double, RAM and disk longs)."""
        return summaries.aggregate(self.cpus, int(self.ram_mb), int(self.disk_mb))

    def __str__(self) -> str:
        """Aurora's ResourceBag.toString, which setQuota's refusal prints."""
        vectors = ", ".join(f"{name}={_java_double(getattr(self, f))}" for f, name, *_ in _TYPES)
        return f"ResourceBag{{resourceVectors={{{vectors}}}}}"


EMPTY = Bag()


@dataclass(frozen=True)
class QuotaInfo:
    """A role's quota and its four consumptions (Aurora's QuotaInfo; getQuota's answer)."""
    quota: Bag
    prod_shared: Bag
    prod_dedicated: Bag
    non_prod_shared: Bag
    non_prod_dedicated: Bag


@dataclass(frozen=True)
class QuotaCheck:
    """Whether a change fits the quota; `details` lists each resource over it, "; "-joined."""
    sufficient: bool
    details: str = ""

    @property
    def message(self) -> str:
        """The refusal's text (SchedulerThriftInterface.validateTaskLimits)."""
        return INSUFFICIENT + self.details


SUFFICIENT = QuotaCheck(True)


def is_production(config: TaskConfig) -> bool:
    return bool(config.production)


def consumes_quota(config: TaskConfig) -> bool:
    """Production and not dedicated: the tasks a role's quota is checked against (PROD_SHARED)."""
    return is_production(config) and not summaries.is_dedicated(config)


def greater_or_equal(quota: Bag, requested: Bag) -> QuotaCheck:
    """QuotaCheckResult.greaterOrEqual: every resource of `requested` within `quota`, or what exceeds it."""
    over = [f"{label} quota exceeded by {_java_2f(getattr(requested, f) - getattr(quota, f))} {unit}"
            for f, _, label, unit in _TYPES if getattr(quota, f) - getattr(requested, f) < 0]
    return QuotaCheck(not over, "; ".join(over))


# -- consumption, pure ----------------------------------------------------------------------------------------
_KINDS: dict[str, Callable[[TaskConfig], bool]] = {
    "prod_shared": consumes_quota,
    "prod_dedicated": lambda c: is_production(c) and summaries.is_dedicated(c),
    "non_prod_shared": lambda c: not is_production(c) and not summaries.is_dedicated(c),
    "non_prod_dedicated": lambda c: not is_production(c) and summaries.is_dedicated(c),
}


def quota_info(quota: ResourceAggregate | None, active_tasks: Iterable, cron_jobs: Iterable,
               updates: Mapping[tuple[str, str, str], object]) -> QuotaInfo:
    """One role's QuotaInfo from its quota (None: zeros), its active ScheduledTasks, its cron templates
    (JobConfigurations) and its active updates' JobUpdateInstructions by job key (role, env, name)."""
    tasks = [t.assignedTask for t in active_tasks]
    crons = {job_key(job.key): job for job in cron_jobs}
    consumption = {kind: _consumption(tasks, updates, crons, keep) for kind, keep in _KINDS.items()}
    return QuotaInfo(quota=Bag.of([quota]) if quota is not None else EMPTY, **consumption)


def _consumption(tasks: list, updates: Mapping, crons: Mapping, keep: Callable[[TaskConfig], bool]) -> Bag:
    kept = [t for t in tasks if keep(t.task)]
    not_cron = [t for t in kept if _job_key(t.task) not in crons]
    untouched = [t.task for t in not_cron if not _updating(t, updates.get(_job_key(t.task)))]
    total = Bag.of(untouched)
    for instructions in updates.values():
        initial = [c for c in instructions.initialState or () if keep(c.task)]
        desired = [c for c in [instructions.desiredState] if c is not None and keep(c.task)]
        total += _instance_configs(initial).max(_instance_configs(desired))
    by_job = defaultdict(list)
    for task in kept:
        by_job[_job_key(task.task)].append(task.task)
    for key, job in crons.items():
        if keep(job.taskConfig):
            total += Bag.of([job.taskConfig]).scale(job.instanceCount or 0).max(Bag.of(by_job.get(key, ())))
    return total


def _updating(task, instructions) -> bool:
    """Whether an active update's initial or desired state names this task's instance."""
    if instructions is None:
        return False
    configs = list(instructions.initialState or ()) + [c for c in [instructions.desiredState] if c is not None]
    return any(r.first <= task.instanceId <= r.last for c in configs for r in c.instances or ())


def _instance_configs(configs: Iterable) -> Bag:
    total = EMPTY
    for config in configs:
        count = sum(r.last - r.first + 1 for r in config.instances or ())
        total += Bag.of([config.task]).scale(count)
    return total


def _job_key(config: TaskConfig) -> tuple[str, str, str]:
    return job_key(config.job)


# -- reading a role's state out of the store ------------------------------------------------------------------
def role_info(store, role: str, requested_update=None) -> QuotaInfo:
    """QuotaInfo of `role` in `store` (an in-memory Store: `tasks`, `cron_jobs`, `job_updates`, `quotas`);
    `requested_update` (a JobUpdate not yet stored) counts as if it were in progress."""
    active = store.tasks.fetch(TaskQuery(role=role, statuses=set(ACTIVE)))
    crons = [job for key, job in store.cron_jobs.items() if key[0] == role]
    updates = {}
    for details in store.job_updates.values():
        summary = details.update.summary
        if summary.key.job.role == role and summary.state is not None \
                and summary.state.status in ACTIVE_UPDATES:
            updates[job_key(summary.key.job)] = details.update.instructions
    if requested_update is not None:
        updates[job_key(requested_update.summary.key.job)] = requested_update.instructions
    return quota_info(store.quotas.get(role), active, crons, updates)


def check_instance_addition(store, template: TaskConfig, instances: int) -> QuotaCheck:
    """Whether `instances` more tasks of `template` fit its role's quota (createJob, addInstances)."""
    if instances < 0:
        raise ValueError(f"instances must not be negative: {instances}")
    if not consumes_quota(template):
        return SUFFICIENT
    info = role_info(store, template.job.role)
    return greater_or_equal(info.quota, info.prod_shared + Bag.of([template]).scale(instances))


def check_job_update(store, update) -> QuotaCheck:
    """Whether a JobUpdate (not yet stored) fits: consumption counts, per resource, the worst case of its
    initial and desired instances in place of the instances it replaces (startJobUpdate)."""
    desired = update.instructions.desiredState
    if desired is None or not consumes_quota(desired.task):
        return SUFFICIENT
    info = role_info(store, update.summary.key.job.role, requested_update=update)
    return greater_or_equal(info.quota, info.prod_shared)


def check_cron_update(store, job) -> QuotaCheck:
    """Whether a cron template (a JobConfiguration) fits: current use plus the delta between it and the stored
    template of the same key, if any (scheduleCronJob, replaceCronTemplate). As Aurora, only non-production
    templates skip the check (a dedicated production template is checked too)."""
    if not is_production(job.taskConfig):
        return SUFFICIENT
    info = role_info(store, job.key.role)
    old = store.cron_jobs.get(job_key(job.key))
    old_bag = Bag.of([old.taskConfig]).scale(old.instanceCount or 0) if old is not None else EMPTY
    new_bag = Bag.of([job.taskConfig]).scale(job.instanceCount or 0)
    return greater_or_equal(info.quota, info.prod_shared + (new_bag - old_bag))


def saved_quota_error(role: str, quota: ResourceAggregate, store) -> str | None:
    """Why setQuota may not save `quota` (QuotaManager.saveQuota), or None: a negative value, or less than
    the role's current prod shared consumption in any resource."""
    bag = Bag.of([quota])
    if any(getattr(bag, f) < 0 for f, *_ in _TYPES):
        return f"Negative values in: {aggregate_text(quota)}"
    prod = role_info(store, role).prod_shared
    if not greater_or_equal(bag, prod).sufficient:
        return f"Quota: {aggregate_text(quota)} is less then current prod reservation: {prod}"  # Aurora's typo
    return None


def aggregate_text(aggregate: ResourceAggregate) -> str:
    """A quota as Aurora's Thrift toString prints one, its resources in a fixed order (CPU, RAM, disk, others)
    where Java printed a HashSet's: ResourceAggregate(resources:[<Resource numCpus:1.0>, <Resource ramMb:64>])."""
    items = []
    for resource in aggregate.resources or ():
        field = configs.resource_kind(resource)
        if field is not None:
            value = getattr(resource, field)
            text = _java_double(value) if isinstance(value, float) else str(value)
            items.append((configs.RESOURCE_FIELDS.index(field), text, f"<Resource {field}:{text}>"))
    return f"ResourceAggregate(resources:[{', '.join(item for *_, item in sorted(items))}])"


def _java_double(value: float) -> str:
    """Java's Double.toString: plain from 1e-3 up to 1e7, else computerized scientific (1.048576E7)."""
    value = float(value)
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


def _java_2f(value: float) -> str:
    """Java's String.format("%.2f"): half-up on the double's shortest decimal form (0.125 -> 0.13, 0.15 ->
    0.15), where Python's own format rounds the binary value half-even (0.125 -> 0.12)."""
    return str(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
