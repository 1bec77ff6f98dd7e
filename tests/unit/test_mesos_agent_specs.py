"""The stand-in's agent specs (names, host names, work dirs, ports, merged overrides) and zk:// URLs: pure."""
from __future__ import annotations

import os

import pytest

from scheduler.mesos_standin import agent_specs
from scheduler.mesos_standin.agent_specs import AgentSpecError, build, merge_attributes, merge_resources, \
    parse_overrides
from scheduler.mesos_standin.announce import ZkUrlError, parse_zk_url
from scheduler.mesos_standin.resources import Resources, attributes_summary, parse_attributes

BASE = Resources.parse("cpus:2;mem:4096;disk:10240;ports:[31000-31999]")


def test_one_agent_keeps_the_single_agent_layout():
    (spec,) = build("/w", 1, BASE, "rack:a", hostname="h", port=5051)
    assert (spec.name, spec.hostname, spec.work_dir, spec.port, spec.resources) == ("agent1", "h", "/w", 5051, BASE)
    (spec,) = build("/w", 1, BASE, {})
    assert spec.hostname == os.uname().nodename and spec.port == 0


def test_several_agents_get_names_host_names_work_dirs_and_consecutive_ports():
    specs = build("/w", 3, BASE, {"rack": "a"}, hostname="ignored-for-several", port=5051)
    assert [(s.name, s.hostname, s.work_dir, s.port) for s in specs] == [
        ("agent1", "agent1", "/w/agent1", 5051), ("agent2", "agent2", "/w/agent2", 5052),
        ("agent3", "agent3", "/w/agent3", 5053)]
    assert [s.port for s in build("/w", 3, BASE, {})] == [0, 0, 0]


def test_overrides_merge_by_name():
    specs = build("/w", 2, BASE, "rack:a;zone:z", overrides={
        2: {"resources": "cpus:8;ports:[1-2]", "attributes": {"rack": "b", "level": 3}, "hostname": "big",
            "port": 6000}})
    assert specs[0].resources == BASE
    assert specs[1].resources == Resources.parse("cpus:8;mem:4096;disk:10240;ports:[1-2]")
    assert attributes_summary(specs[1].attributes) == {"rack": "b", "zone": "z", "level": 3.0}
    assert [a["name"] for a in specs[1].attributes] == ["rack", "zone", "level"]
    assert (specs[1].hostname, specs[1].port) == ("big", 6000)
    assert merge_resources(BASE, Resources()) == BASE
    assert merge_attributes(parse_attributes("a:1"), []) == parse_attributes("a:1")


@pytest.mark.parametrize("count, overrides, says", [
    (0, {}, "1-1000, got 0"), (1001, {}, "got 1001"), (True, {}, "got True"),
    (2, {3: {}}, "agent 3 does not exist"), (2, {1: {"cpus": 1}}, "unknown field(s) cpus"),
    (2, {1: {"resources": "cpus:x"}}, "agent 1: resource cpus"), (2, {2: {"attributes": "rack"}}, "agent 2"),
    (2, {1: {"hostname": "a b"}}, "without spaces"), (2, {1: {"port": 70000}}, "0-65535"),
    (2, {1: {"resources": 5}}, "resources must be")])
def test_bad_specs_are_one_line_errors(count, overrides, says):
    with pytest.raises(AgentSpecError) as e:
        build("/w", count, BASE, {}, overrides=overrides)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_parse_overrides_from_flags():
    overrides = parse_overrides({"resources": ["2=cpus:4;mem:8192"], "attributes": ["1=rack:a;host:x"],
                                 "hostname": ["2=big"]}, 2)
    assert overrides[2]["resources"] == Resources.parse("cpus:4;mem:8192") and overrides[2]["hostname"] == "big"
    assert attributes_summary(overrides[1]["attributes"]) == {"rack": "a", "host": "x"}
    for values, says in ((["cpus:4"], "is not N=VALUE"), (["x=cpus:4"], "is not N=VALUE"),
                         (["0=cpus:4"], "agent 0 does not exist"), (["1=cpus:4", "1=mem:1"], "given twice"),
                         (["1=cpus"], "not name:value")):
        with pytest.raises(AgentSpecError, match="--agent_resources") as e:
            parse_overrides({"resources": values}, 2)
        assert says in str(e.value)


def test_from_list():
    assert agent_specs.from_list([{}, {"hostname": "b"}]) == (2, {1: {}, 2: {"hostname": "b"}})
    for bad in ([], "x", [1]):
        with pytest.raises(AgentSpecError):
            agent_specs.from_list(bad)


def test_zk_urls():
    assert parse_zk_url("zk://127.0.0.1:2181/mesos") == ("127.0.0.1:2181", "/mesos")
    assert parse_zk_url("zk://a:1,b:2/x/y/") == ("a:1,b:2", "/x/y")
    for bad, says in (("zk://a:1", "needs hosts and a path"), ("zk://a:1/", "needs hosts and a path"),
                      ("zk:///mesos", "needs hosts"), ("http://a:1/m", "is not a zk://"), (None, "is not a zk://"),
                      ("zk://u:p@a:1/m", "credentials"), ("zk://a/m", "'a' is not HOST:PORT"),
                      ("zk://a:99999/m", "is not HOST:PORT")):
        with pytest.raises(ZkUrlError) as e:
            parse_zk_url(bad)
        assert says in str(e.value)
