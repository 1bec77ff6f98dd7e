"""The scheduling filter: every veto's text and score, Aurora's order of evaluation, constraints and limits."""
import pytest

from thermos_executor.aurora_api.gen.ttypes import (AssignedTask, Attribute, Constraint, HostAttributes,
                                                    MaintenanceMode, ScheduledTask, TaskConstraint)

from scheduler.scheduling.constraints import AttributeAggregate, compile_constraints
from scheduler.scheduling.filter import ResourceRequest, filter_offer, vetoes
from scheduler.scheduling.resources import EMPTY, ResourceBag, ResourceType, executor_overhead, task_demand
from scheduler.scheduling.veto import Veto, VetoGroup, VetoType, veto_group
from scheduler.state.status import ScheduleStatus
from tests.scheduling_helpers import config, limit, offer, value

BIG = ResourceBag(cpus=16, ram_mb=65536, disk_mb=1 << 20, ports=100, gpus=4)
M = MaintenanceMode


def reasons(found):
    return [(v.reason, v.score) for v in found]


def check(task, attrs=None, mode=M.NONE, available=BIG, aggregate=None, **kw):
    attrs = {k: frozenset([v] if isinstance(v, str) else v) for k, v in (attrs or {}).items()}
    return reasons(vetoes(available, attrs, mode, task, aggregate, executor_overhead(), **kw))


def test_every_veto_text_score_and_group():
    assert (Veto.dedicated().reason, Veto.dedicated().score) == ("Host is dedicated", 1_000_000)
    assert (Veto.maintenance("draining").reason, Veto.maintenance("draining").score) == (
        "Host draining for maintenance", 100_000)
    assert Veto.maintenance("drained").reason == "Host drained for maintenance"
    assert (Veto.constraint_mismatch("rack").reason, Veto.constraint_mismatch("rack").score) == (
        "Constraint not satisfied: rack", 10_000)
    assert (Veto.unsatisfied_limit("host").reason, Veto.unsatisfied_limit("host").score) == (
        "Limit not satisfied: host", 10_000)
    names = {r: Veto.insufficient(r, 1).reason for r in ResourceType}
    assert names == {ResourceType.CPUS: "Insufficient: CPU", ResourceType.RAM_MB: "Insufficient: RAM",
                     ResourceType.DISK_MB: "Insufficient: disk", ResourceType.PORTS: "Insufficient: ports",
                     ResourceType.GPUS: "Insufficient: GPU"}
    assert Veto.unsatisfied_limit("host").kind.group is VetoGroup.DYNAMIC
    assert all(t.group is VetoGroup.STATIC for t in VetoType if t is not VetoType.LIMIT_NOT_SATISFIED)


@pytest.mark.parametrize("rtype, excess, score", [
    (ResourceType.CPUS, 0.5, 31),              # int(1000 * 0.5) // 16
    (ResourceType.CPUS, 0.01, 0),              # a small shortfall scores 0, as Aurora's integer division
    (ResourceType.CPUS, 100, 1000),            # capped at 1000
    (ResourceType.RAM_MB, 1024, 41),           # 1,024,000 // 24,576
    (ResourceType.DISK_MB, 10240, 22),         # 10,240,000 // 460,800
    (ResourceType.PORTS, 3, 3),
    (ResourceType.GPUS, 1, 250),
])
def test_resource_veto_scores_scale_the_shortfall_as_aurora(rtype, excess, score):
    assert Veto.insufficient(rtype, excess).score == score


def test_veto_groups():
    assert veto_group([]) is VetoGroup.EMPTY
    assert veto_group([Veto.insufficient(ResourceType.CPUS, 1), Veto.dedicated()]) is VetoGroup.STATIC
    assert veto_group([Veto.unsatisfied_limit("host")]) is VetoGroup.DYNAMIC
    assert veto_group([Veto.unsatisfied_limit("host"), Veto.constraint_mismatch("x")]) is VetoGroup.MIXED


def test_a_fitting_offer_passes_and_the_executor_overhead_is_added():
    task = config(cpus=1.0, ram_mb=128)
    assert task_demand(task) == ResourceBag(1.0, 128, 64, 0, 0)
    assert check(task, available=ResourceBag(1.25, 256, 64, 0, 0)) == []
    # 1.0 + 0.25 executor cpus > 1.1; 128 + 128 MB > 200
    assert check(task, available=ResourceBag(1.1, 200, 64, 0, 0)) == [
        ("Insufficient: CPU", 9), ("Insufficient: RAM", 2)]
    # No executor (a Docker task): no overhead.
    assert check(config(cpus=1.0, ram_mb=128, executor=False), available=ResourceBag(1.1, 200, 64, 0, 0)) == []


def test_every_short_resource_is_listed_in_aurora_order():
    task = config(cpus=2, ram_mb=2048, disk_mb=2048, ports=["http", "admin"], gpus=1)
    assert check(task, available=EMPTY) == [
        ("Insufficient: CPU", 140), ("Insufficient: RAM", 88), ("Insufficient: disk", 4),
        ("Insufficient: ports", 2), ("Insufficient: GPU", 250)]
    assert check(task, available=ResourceBag(4, 4096, 4096, 1, 1)) == [("Insufficient: ports", 1)]


def test_order_of_evaluation_returns_only_the_strongest_class():
    task = config(cpus=64, constraints=[value("rack", "a")])
    dedicated_draining = {"dedicated": "x/y", "rack": "b"}
    assert check(task, dedicated_draining, M.DRAINING) == [("Host is dedicated", 1_000_000)]
    assert check(task, {"rack": "b"}, M.DRAINING) == [("Host draining for maintenance", 100_000)]
    assert check(task, {"rack": "b"}, M.DRAINED) == [("Host drained for maintenance", 100_000)]
    assert check(task, {"rack": "b"}, M.SCHEDULED) == [("Constraint not satisfied: rack", 10_000)]
    assert check(task, {"rack": "a"}, M.NONE) == [("Insufficient: CPU", 1000)]


def test_mesos_unavailability_within_the_threshold_drains():
    task = config()
    start = 1_000_000.0
    assert check(task, unavailability_start_s=start, now=start - 361) == []
    assert check(task, unavailability_start_s=start, now=start - 359) == [("Host draining for maintenance", 100_000)]
    assert check(task, unavailability_start_s=start, now=start - 100, unavailability_threshold_s=60) == []
    # Aurora's own mode is judged first.
    assert check(task, mode=M.DRAINED, unavailability_start_s=start, now=start) == [
        ("Host drained for maintenance", 100_000)]


def test_value_constraints_and_their_negation():
    rack_a = config(constraints=[value("rack", "a", "b")])
    assert check(rack_a, {"rack": "b"}) == []
    assert check(rack_a, {"rack": "c"}) == [("Constraint not satisfied: rack", 10_000)]
    assert check(rack_a, {}) == [("Constraint not satisfied: rack", 10_000)]
    not_a = config(constraints=[value("rack", "a", negated=True)])
    assert check(not_a, {"rack": "b"}) == []
    assert check(not_a, {}) == []                   # a host without the attribute has none of the values
    assert check(not_a, {"rack": "a"}) == [("Constraint not satisfied: rack", 10_000)]
    assert check(not_a, {"rack": ["a", "b"]}) == [("Constraint not satisfied: rack", 10_000)]


def test_value_constraints_are_judged_before_limits_and_only_the_first_failure_counts():
    task = config(constraints=[limit("host", 1), value("zone", "z1"), value("rack", "r1")])
    rules = compile_constraints(task.constraints)
    assert [r.name for r in rules] == ["rack", "zone", "host"]
    full = AttributeAggregate({("host", "h1"): 1})
    assert check(task, {"host": "h1", "rack": "r2", "zone": "z2"}, aggregate=full) == [
        ("Constraint not satisfied: rack", 10_000)]
    assert check(task, {"host": "h1", "rack": "r1", "zone": "z1"}, aggregate=full) == [
        ("Limit not satisfied: host", 10_000)]


def test_limit_counting_with_several_values():
    task = config(constraints=[limit("rack", 2)])
    aggregate = AttributeAggregate.of_hosts([{"rack": frozenset({"a"})}, {"rack": frozenset({"b"})},
                                             {"rack": frozenset({"b"})}])
    assert aggregate.count("rack", "a") == 1 and aggregate.count("rack", "b") == 2
    assert check(task, {"rack": "a"}, aggregate=aggregate) == []
    # A host with several values must be under the limit for each of them.
    assert check(task, {"rack": ["a", "b"]}, aggregate=aggregate) == [("Limit not satisfied: rack", 10_000)]
    assert check(task, {"rack": "c"}, aggregate=aggregate) == []
    # A limit needs the attribute.
    assert check(task, {"host": "x"}, aggregate=aggregate) == [("Constraint not satisfied: rack", 10_000)]
    assert check(config(constraints=[limit("host", 0)]), {"host": "fresh"}) == [("Limit not satisfied: host", 10_000)]


def test_dedicated_hosts():
    plain = config()
    mine = config(constraints=[value("dedicated", "www-data/web")])
    anyone = config(constraints=[value("dedicated", "*/web")])
    assert check(plain, {"dedicated": "www-data/web"}) == [("Host is dedicated", 1_000_000)]
    assert check(mine, {"dedicated": "www-data/web"}) == []
    assert check(mine, {"dedicated": "other/web"}) == [("Constraint not satisfied: dedicated", 10_000)]
    assert check(mine, {"rack": "a"}) == [("Constraint not satisfied: dedicated", 10_000)]
    assert check(anyone, {"dedicated": "*/web"}) == []
    assert check(anyone, {"dedicated": "www-data/web"}) == [("Constraint not satisfied: dedicated", 10_000)]
    # An attribute named dedicated with no value still makes the host dedicated.
    assert check(plain, {"dedicated": []}) == [("Host is dedicated", 1_000_000)]


def test_filter_offer_reads_a_parsed_offer():
    request = ResourceRequest.of(config(ports=["http"]), AttributeAggregate(), executor_overhead())
    assert filter_offer(offer(1, ports=[(31000, 31000)]), request, now=0.0) == ()
    assert reasons(filter_offer(offer(2, ports=None), request, now=0.0)) == [("Insufficient: ports", 1)]
    assert reasons(filter_offer(offer(3, mode=M.DRAINING), request, now=0.0)) == [
        ("Host draining for maintenance", 100_000)]
    late = offer(4, unavailability_ns=10 * 10**9)
    assert reasons(filter_offer(late, request, now=5.0)) == [("Host draining for maintenance", 100_000)]


def test_a_constraint_that_is_neither_kind_is_refused():
    with pytest.raises(ValueError, match="'rack' is neither"):
        compile_constraints({Constraint("rack", TaskConstraint())})


def test_the_job_aggregate_counts_only_slave_assigned_tasks():
    def task(status, host):
        return ScheduledTask(status=status, assignedTask=AssignedTask(taskId=f"{host}-{status}", slaveHost=host))

    stored = {"h1": HostAttributes("h1", {Attribute("rack", {"a"}), Attribute("host", {"h1"})}),
              "h2": HostAttributes("h2", {Attribute("rack", {"a"}), Attribute("rack", {"b"})})}
    tasks = [task(ScheduleStatus.RUNNING, "h1"), task(ScheduleStatus.ASSIGNED, "h2"),
             task(ScheduleStatus.PENDING, None), task(ScheduleStatus.FINISHED, "h1"),
             task(ScheduleStatus.KILLING, "gone")]               # unknown host: counted nowhere
    aggregate = AttributeAggregate.for_job(tasks, stored)
    assert aggregate == AttributeAggregate({("rack", "a"): 2, ("host", "h1"): 1, ("rack", "b"): 1})
    assert AttributeAggregate.for_job(tasks, stored.get) == aggregate


def test_constraint_veto_on_rules_and_vetoes_are_shared_values():
    from scheduler.scheduling.constraints import constraint_veto
    rules = compile_constraints({value("rack", "a"), limit("host", 1)})
    aggregate = AttributeAggregate({("host", "h1"): 1})
    assert constraint_veto(rules, {"rack": frozenset({"a"}), "host": frozenset({"h2"})}, aggregate) is None
    assert constraint_veto(rules, {"rack": frozenset({"a"}), "host": frozenset({"h1"})}, aggregate) == \
        Veto.unsatisfied_limit("host")
    assert constraint_veto(rules, {}, aggregate) == Veto.constraint_mismatch("rack")
    assert Veto.insufficient(ResourceType.CPUS, 0.5) is Veto.insufficient(ResourceType.CPUS, 0.5)
