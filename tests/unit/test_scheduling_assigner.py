"""First fit: Aurora's offer order, one task per offer, limits within a batch, ports, vetoes reported."""
import random
from collections import Counter

import pytest

from thermos_executor.aurora_api.gen.ttypes import MaintenanceMode

from scheduler.scheduling.assigner import PlacementSettings, pick_ports, place
from scheduler.scheduling.constraints import AttributeAggregate
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.nearest_fit import NearestFit
from scheduler.scheduling.offers import OfferOrder
from scheduler.scheduling.resources import ResourceBag
from tests.scheduling_helpers import config, limit, offer, value

M = MaintenanceMode


def run(tasks, cfg, offers, **kw):
    kw.setdefault("now", 1000.0)
    kw.setdefault("rng", random.Random(5))
    return place(tasks, cfg, offers, **kw)


def hosts(result):
    return [a.hostname for a in result.assignments]


def test_first_fit_in_aurora_order_none_before_scheduled_and_draining_vetoed():
    offers = [offer("drain", M.DRAINING), offer("sched", M.SCHEDULED), offer("small", cpus=0.5),
              offer("none")]
    result = run(["t1"], config(), offers)
    assert hosts(result) == ["hostnone"]
    result = run(["t1"], config(), [offers[0], offers[1], offers[2]])
    assert hosts(result) == ["hostsched"]
    # The vetoes of the offers judged before the one taken are reported.
    assert {k: [v.reason for v in vs] for k, vs in result.vetoes.items()} == {"offer-small": ["Insufficient: CPU"]}
    result = run(["t1"], config(), [offers[0]])
    assert result.assignments == [] and [v.reason for v in result.vetoes["offer-drain"]] == [
        "Host draining for maintenance"]


def test_random_order_is_the_offers_arbitrary_draw():
    offers = [offer(i, rng=random.Random(i)) for i in range(20)]
    first = min(offers, key=lambda o: o.arbitrary)
    assert hosts(run(["t1"], config(), offers)) == [first.hostname]
    by_cpu = [offer("a", cpus=8), offer("b", cpus=2), offer("c", cpus=4)]
    settings = PlacementSettings(offer_order=(OfferOrder.CPU,))
    assert hosts(run(["t1"], config(), by_cpu, settings=settings)) == ["hostb"]
    assert hosts(run(["t1"], config(), by_cpu, ordered=True)) == ["hosta"]


def test_an_offer_takes_one_task_per_attempt():
    one_big = [offer("big", cpus=64, mem=65536)]
    result = run(["t1", "t2"], config(), one_big)
    assert [(a.task_id, a.offer_id) for a in result.assignments] == [("t1", "offer-big")]
    two = [offer("x"), offer("y")]
    result = run(["t1", "t2", "t3"], config(), two)
    assert sorted(a.offer_id for a in result.assignments) == ["offer-x", "offer-y"]
    assert [a.task_id for a in result.assignments] == ["t1", "t2"]


def test_limit_counts_the_tasks_placed_earlier_in_the_batch():
    cfg = config(constraints=[limit("rack", 1)])
    offers = [offer(i, attributes={"rack": "a"}) for i in range(3)] + [offer("b", attributes={"rack": "b"})]
    result = run(["t1", "t2", "t3"], cfg, offers, ordered=True)
    assert [a.offer.attributes["rack"] for a in result.assignments] == [frozenset({"a"}), frozenset({"b"})]
    assert result.aggregate.count("rack", "a") == 1 and result.aggregate.count("rack", "b") == 1
    # The limit veto is dynamic: reported, not banned.
    bans = set()
    result = run(["t1"], cfg, offers[:2], aggregate=AttributeAggregate({("rack", "a"): 1}), static_bans=bans)
    assert result.assignments == [] and bans == set()
    assert {v.reason for vs in result.vetoes.values() for v in vs} == {"Limit not satisfied: rack"}


def test_the_callers_aggregate_is_not_changed():
    aggregate = AttributeAggregate({("host", "h0"): 1})
    result = run(["t1"], config(constraints=[limit("host", 1)]), [offer(1, attributes={"host": "h1"})],
                 aggregate=aggregate)
    assert hosts(result) == ["host1"]
    assert aggregate == AttributeAggregate({("host", "h0"): 1})
    assert result.aggregate == AttributeAggregate({("host", "h0"): 1, ("host", "h1"): 1})


def test_ports_are_picked_from_the_ranges_never_twice():
    cfg = config(ports=["http", "admin", "health"])
    result = run(["t1"], cfg, [offer(1, ports=[(31000, 31001), (32000, 32000)])])
    ports = result.assignments[0].ports
    assert sorted(ports) == ["admin", "health", "http"]
    assert sorted(ports.values()) == [31000, 31001, 32000]
    result = run(["t1"], cfg, [offer(2, ports=[(31000, 31001)])])
    assert result.assignments == [] and [v.reason for v in result.vetoes["offer-2"]] == ["Insufficient: ports"]
    assert run(["t1"], config(), [offer(3, ports=None)]).assignments[0].ports == {}


def test_pick_ports_draws_every_port_of_every_range():
    rng = random.Random(0)
    seen = Counter()
    for _ in range(2000):
        chosen = pick_ports([(10, 12), (20, 20), (30, 31)], ["a", "b"], rng)
        assert chosen["a"] != chosen["b"]
        seen.update(chosen.values())
    assert set(seen) == {10, 11, 12, 20, 30, 31}
    assert min(seen.values()) > 500           # uniform: about 667 each
    assert pick_ports([(5, 5)], [], rng) == {}
    with pytest.raises(ValueError, match="2 ports wanted, 1 offered"):
        pick_ports([(5, 5)], ["a", "b"], rng)


def test_vetoes_go_to_nearest_fit_and_static_ones_ban_the_offer():
    fits, bans = NearestFit(), set()
    cfg = config(cpus=3, constraints=[value("rack", "a")])
    offers = [offer("wrongrack", attributes={"rack": "b"}), offer("small", cpus=2, attributes={"rack": "a"})]
    result = run(["t1"], cfg, offers, nearest_fit=fits, static_bans=bans, fit_now=5.0, ordered=True)
    assert result.assignments == []
    assert fits.pending_reason(TaskGroupKey(cfg), 5.0) == "Insufficient: CPU"
    assert bans == {"offer-wrongrack", "offer-small"}
    # A banned offer is skipped without a veto.
    fits2 = NearestFit()
    result = run(["t1"], cfg, offers, nearest_fit=fits2, static_bans=bans)
    assert result.vetoes == {} and len(fits2) == 0


def test_skipped_without_veto_offers_without_cpu_or_mem_and_reserved_agents():
    cfg = config()
    other = TaskGroupKey(config(cpus=2))
    offers = [offer("nocpu", cpus=0), offer("held", cpus=8), offer("free")]
    result = run(["t1"], cfg, offers, reserved={"agent-held": other}, ordered=True)
    assert hosts(result) == ["hostfree"] and result.vetoes == {}
    result = run(["t1"], cfg, offers, reserved={"agent-held": TaskGroupKey(config())}, ordered=True)
    assert hosts(result) == ["hostheld"]


def test_an_unplaced_task_ends_the_attempt():
    fits = NearestFit()
    result = run(["t1", "t2", "t3"], config(cpus=100), [offer(1), offer(2)], nearest_fit=fits)
    assert result.assignments == [] and sorted(result.vetoes) == ["offer-1", "offer-2"]


def test_overhead_from_settings():
    cfg = config(cpus=1.0, ram_mb=100)
    tight = [offer(1, cpus=1.0, mem=100)]
    assert run(["t1"], cfg, tight).assignments == []
    no_overhead = PlacementSettings(overhead=ResourceBag())
    assert hosts(run(["t1"], cfg, tight, settings=no_overhead)) == ["host1"]
