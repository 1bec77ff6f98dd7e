"""Offers parsed from Mesos v1 JSON: sums, roles, attributes as Aurora stores them, bad input, Aurora's order."""
import copy
import random

import pytest

from thermos_executor.aurora_api.gen.ttypes import MaintenanceMode

from scheduler.scheduling.offers import (OfferError, OfferOrder, attributes_of, host_attributes, java_double,
                                         order_offers, parse_offer, parse_offer_order, with_mode)
from scheduler.scheduling.resources import ResourceBag
from tests.scheduling_helpers import offer, offer_dict

M = MaintenanceMode


def test_a_plain_offer():
    parsed = parse_offer(offer_dict(7, cpus=2, mem=1024, disk=4096, ports=[(31000, 31009), (32000, 32000)],
                                    attributes={"rack": "a", "host": "host7"}, gpus=1))
    assert (parsed.offer_id, parsed.agent_id, parsed.hostname) == ("offer-7", "agent-7", "host7")
    assert parsed.resources == ResourceBag(cpus=2.0, ram_mb=1024.0, disk_mb=4096.0, ports=11, gpus=1.0)
    assert parsed.port_ranges == ((31000, 31009), (32000, 32000))
    assert parsed.attributes == {"rack": frozenset({"a"}), "host": frozenset({"host7"})}
    assert parsed.mode == M.NONE and parsed.unavailability_start_s is None and parsed.has_cpu_and_mem
    assert not parsed.is_dedicated
    assert with_mode(parsed, M.DRAINING).mode == M.DRAINING and parsed.mode == M.NONE


def test_same_named_resources_add_up_and_others_are_ignored():
    data = offer_dict(1, cpus=1, ports=[(31000, 31000)])
    data["resources"] += [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "role": "aurora",
         "reservation": {"principal": "p"}},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 8}, "revocable": {}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 40000, "end": 40001}]}},
        {"name": "network_bandwidth", "type": "SCALAR", "scalar": {"value": 1000}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}, "role": "other"},
        {"name": "disk", "type": "SCALAR", "scalar": {"value": 10},
         "reservations": [{"type": "STATIC", "role": "aurora"}]},
    ]
    everything = parse_offer(data)
    assert everything.resources.cpus == 1.5 and everything.revocable_cpus == 8
    assert everything.resources.ram_mb == 4096 + 64 and everything.resources.disk_mb == 8192 + 10
    assert everything.resources.ports == 3 and everything.port_ranges == ((31000, 31000), (40000, 40001))
    ours = parse_offer(data, role="aurora")
    assert ours.resources.cpus == 1.5 and ours.resources.ram_mb == 4096 and ours.resources.disk_mb == 8202


def test_attributes_as_aurora_stores_them():
    data = offer_dict(1)
    data["attributes"] = [
        {"name": "rack", "type": "TEXT", "text": {"value": "a"}},
        {"name": "rack", "type": "TEXT", "text": {"value": "b"}},
        {"name": "cores", "type": "SCALAR", "scalar": {"value": 8}},
        {"name": "weight", "type": "SCALAR", "scalar": {"value": 0.5}},
        {"name": "big", "type": "SCALAR", "scalar": {"value": 1e7}},
        {"name": "span", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}},
        {"name": "dedicated", "type": "TEXT", "text": {"value": "www-data/web"}},
    ]
    parsed = parse_offer(data)
    assert parsed.attributes == {"rack": frozenset({"a", "b"}), "cores": frozenset({"8.0"}),
                                 "weight": frozenset({"0.5"}), "big": frozenset({"1.0E7"}), "span": frozenset(),
                                 "dedicated": frozenset({"www-data/web"})}
    assert parsed.is_dedicated
    stored = host_attributes(parsed)
    assert stored.host == "host1" and stored.slaveId == "agent-1" and stored.mode is None
    assert attributes_of(stored) == parsed.attributes
    assert attributes_of(None) == {} and attributes_of({"rack": ["a"]}) == {"rack": frozenset({"a"})}


@pytest.mark.parametrize("number, text", [
    (1.0, "1.0"), (8, "8.0"), (0.5, "0.5"), (-2.25, "-2.25"), (0.0, "0.0"), (1234567.0, "1234567.0"),
    (1e7, "1.0E7"), (12345678.0, "1.2345678E7"), (0.001, "0.001"), (0.0001, "1.0E-4"), (1.5e-7, "1.5E-7"),
    (float("inf"), "Infinity"),
])
def test_scalars_print_as_java_prints_a_double(number, text):
    assert java_double(number) == text


def test_unavailability_and_no_cpu():
    parsed = parse_offer(offer_dict(1, unavailability_ns=1_500_000_000))
    assert parsed.unavailability_start_s == 1.5
    assert not parse_offer(offer_dict(2, cpus=0)).has_cpu_and_mem
    assert not parse_offer(offer_dict(3, mem=0)).has_cpu_and_mem


def _broken(change):
    data = offer_dict(9)
    change(data)
    return data


BAD = {
    "not an object": ([], "offer is list, not an object"),
    "no id": (_broken(lambda d: d.pop("id")), "offer ?: no id.value"),
    "empty id": (_broken(lambda d: d.update(id={"value": ""})), "offer ?: no id.value"),
    "no agent": (_broken(lambda d: d.pop("agent_id")), "offer offer-9: no agent_id.value"),
    "no hostname": (_broken(lambda d: d.pop("hostname")), "offer offer-9: no hostname"),
    "negative": (_broken(lambda d: d["resources"][0]["scalar"].update(value=-1)),
                 "offer offer-9: resource cpus: scalar value -1 is not a number >= 0"),
    "text scalar": (_broken(lambda d: d["resources"][1]["scalar"].update(value="lots")),
                    "offer offer-9: resource mem: scalar value 'lots' is not a number >= 0"),
    "bool scalar": (_broken(lambda d: d["resources"][1]["scalar"].update(value=True)),
                    "offer offer-9: resource mem: scalar value True is not a number >= 0"),
    "nan": (_broken(lambda d: d["resources"][2]["scalar"].update(value=float("nan"))),
            "offer offer-9: resource disk: scalar value nan is not a number >= 0"),
    "no scalar": (_broken(lambda d: d["resources"][2].pop("scalar")),
                  "offer offer-9: resource disk: scalar value None is not a number >= 0"),
    "wrong type": (_broken(lambda d: d["resources"][0].update(type="RANGES")),
                   "offer offer-9: resource cpus: type 'RANGES', not SCALAR"),
    "reversed range": (_broken(lambda d: d["resources"][3]["ranges"].update(range=[{"begin": 5, "end": 4}])),
                       "offer offer-9: resource ports: bad range {'begin': 5, 'end': 4}"),
    "open range": (_broken(lambda d: d["resources"][3]["ranges"].update(range=[{"begin": 5}])),
                   "offer offer-9: resource ports: bad range {'begin': 5}"),
    "text range": (_broken(lambda d: d["resources"][3]["ranges"].update(range=[{"begin": "1", "end": 2}])),
                   "offer offer-9: resource ports: bad range"),
    "huge port": (_broken(lambda d: d["resources"][3]["ranges"].update(range=[{"begin": 1, "end": 70000}])),
                  "offer offer-9: resource ports: bad range"),
    "no ranges": (_broken(lambda d: d["resources"][3].pop("ranges")),
                  "offer offer-9: resource ports: no ranges.range list"),
    "resources": (_broken(lambda d: d.update(resources={})), "offer offer-9: resources is not a list"),
    "nameless": (_broken(lambda d: d["resources"].append({"type": "SCALAR"})),
                 "offer offer-9: a resource without a name"),
    "attribute": (_broken(lambda d: d.update(attributes=[{"name": "r", "type": "SCALAR", "scalar": {}}])),
                  "offer offer-9: attribute r: scalar value is not a number"),
    "text attribute": (_broken(lambda d: d.update(attributes=[{"name": "r", "type": "TEXT"}])),
                       "offer offer-9: attribute r: no text.value"),
    "unavailability": (_broken(lambda d: d.update(unavailability={"start": {}})),
                       "offer offer-9: unavailability without start.nanoseconds"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_surprising_offer_is_one_line_of_offer_error(name):
    data, message = BAD[name]
    before = copy.deepcopy(data)
    with pytest.raises(OfferError) as caught:
        parse_offer(data)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert data == before or name == "nan"
    with pytest.raises(OfferError):
        parse_offer(offer_dict(1), mode=7)


def test_aurora_order_maintenance_then_unavailability_then_the_flag():
    rng = random.Random(3)
    offers = [offer("drained", M.DRAINED, rng), offer("scheduled", M.SCHEDULED, rng),
              offer("draining", M.DRAINING, rng), offer("none", M.NONE, rng)]
    assert [o.hostname for o in order_offers(offers)] == ["hostnone", "hostscheduled", "hostdraining",
                                                          "hostdrained"]
    soon = offer("soon", unavailability_ns=100 * 10**9)
    later = offer("later", unavailability_ns=900 * 10**9)
    never = offer("never")
    assert [o.hostname for o in order_offers([soon, later, never])] == ["hostnever", "hostlater", "hostsoon"]
    small, big = offer("small", cpus=1), offer("big", cpus=8, mem=512)
    assert order_offers([big, small], [OfferOrder.CPU]) == [small, big]
    assert order_offers([small, big], [OfferOrder.MEMORY]) == [big, small]
    assert order_offers([small, big], [OfferOrder.DISK, OfferOrder.CPU]) == [small, big]


def test_random_order_is_stable_per_offer_and_seeded():
    offers = [offer(i, rng=random.Random(i)) for i in range(50)]
    once, again = order_offers(offers), order_offers(list(reversed(offers)))
    assert once == again and once != offers
    assert order_offers(offers, [OfferOrder.RANDOM]) == once


def test_offer_order_flag():
    assert parse_offer_order("RANDOM") == (OfferOrder.RANDOM,)
    assert parse_offer_order("cpu, memory") == (OfferOrder.CPU, OfferOrder.MEMORY)
    assert parse_offer_order("") == (OfferOrder.RANDOM,)
    with pytest.raises(ValueError, match="'FAST' is not one of RANDOM, CPU"):
        parse_offer_order("CPU,FAST")
