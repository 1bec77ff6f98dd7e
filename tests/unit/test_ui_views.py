"""The pure parts of the scheduler's pages (scheduler.ui.views): paging, instance ranges, the processes of a
config's executor data (bad data shows none, never an error), times, Mesos resources of an offer, the config
diff (field by field), update strategies, times in the cron time zone."""
from __future__ import annotations

import json

import pytest

from scheduler.ui import views
from zoneinfo import ZoneInfo

from thermos_executor.aurora_api.gen.ttypes import (
    BatchJobUpdateStrategy, Constraint, Container, DockerContainer, DockerParameter, ExecutorConfig, Identity,
    JobKey, JobUpdateStrategy, LimitConstraint, Metadata, QueueJobUpdateStrategy, Range, Resource, TaskConfig,
    TaskConstraint, ValueConstraint, VariableBatchJobUpdateStrategy)


@pytest.mark.parametrize("total,offset,size,first,last,previous,next_", [
    (0, 0, 50, 0, 0, None, None),
    (10, 0, 50, 1, 10, None, None),
    (120, 0, 50, 1, 50, None, 50),
    (120, 50, 50, 51, 100, 0, 100),
    (120, 100, 50, 101, 120, 50, None),
    (120, 30, 50, 31, 80, 0, 80),
    (120, 500, 50, 120, 120, 450, None),
])
def test_page(total, offset, size, first, last, previous, next_):
    p = views.page(list(range(total)), offset, size)
    assert (p.first, p.last, p.previous, p.next) == (first, last, previous, next_)
    assert p.rows == list(range(total))[offset:offset + size]


def test_ranges_and_instances():
    ranges = {Range(5, 5), Range(0, 2), Range(7, 9)}
    assert views.ranges_text(ranges) == "0-2, 5, 7-9"
    assert views.instances_of(ranges) == [0, 1, 2, 5, 7, 8, 9]
    assert views.ranges_text(None) == "" and views.instances_of(None) == []


@pytest.mark.parametrize("data,expected", [
    ('{"task": {"processes": [{"name": "a", "cmdline": "echo a"}, {"name": "b"}]}}', [("a", "echo a"), ("b", "")]),
    ("not json", []),
    ('["a list"]', []),
    ('{"task": {"processes": ["x", {"name": 3}]}}', [("3", "")]),
    (None, []),
])
def test_processes_of_executor_data(data, expected):
    config = TaskConfig(executorConfig=ExecutorConfig(name="AuroraExecutor", data=data) if data else None)
    assert views.processes(config) == expected


def test_formatting():
    assert views.fmt_ms(0) == "" and views.fmt_ms(None) == ""
    assert views.fmt_ms(1_700_000_000_000) == "2023-11-14 22:13:20"
    assert views.fmt_mb(2048) == "2 GiB" and views.fmt_mb(1536) == "1536 MiB" and views.fmt_mb(None) == "0 MiB"
    assert views.status_name(2) == "RUNNING" and views.status_name(999) == "999"


def test_offer_resources_and_attributes():
    raw = {"resources": [{"name": "mem", "scalar": {"value": 1024}, "role": "aurora"},
                         {"name": "disks", "set": {"item": ["a", "b"]}},
                         {"name": "odd"}],
           "attributes": [{"name": "n", "scalar": {"value": 2}}, {"name": "bare"}]}

    class Held:
        offer_id, agent_id, hostname = "o", "S", "h"
    Held.raw = raw
    (row,) = views.offers([Held])
    assert row["resources"] == ["mem: 1024 (aurora)", "disks: {a, b}", "odd"]
    assert row["attributes"] == ["n: 2", "bare"]


def task_config(**changes) -> TaskConfig:
    data = {"task": {"name": "t", "processes": [{"name": "main", "cmdline": "./run", "max_failures": 1}],
                     "resources": {"cpu": 1.0}, "finalization_wait": 30},
            "role": "www", "priority": 0, "health_check_config": {"interval_secs": 10.0}}
    fields = dict(job=JobKey("www", "prod", "t"), owner=Identity(user="alice"), isService=True, priority=0,
                  maxTaskFailures=1, production=False, tier="preferred",
                  resources={Resource(numCpus=1.0), Resource(ramMb=1024), Resource(diskMb=64),
                             Resource(namedPort="http")},
                  constraints={Constraint(name="host", constraint=TaskConstraint(limit=LimitConstraint(1)))},
                  metadata={Metadata(key="a", value="1")},
                  executorConfig=ExecutorConfig(name="AuroraExecutor", data=json.dumps(data)))
    fields.update(changes)
    return TaskConfig(**fields)


def data_with(**changes) -> ExecutorConfig:
    data = json.loads(task_config().executorConfig.data)
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return ExecutorConfig(name="AuroraExecutor", data=json.dumps(data))


def test_equal_configs_have_no_diff_and_their_fields_print_in_order():
    assert views.config_diff(task_config(), task_config()) == []
    fields = views.config_fields(task_config())
    assert list(fields)[:12] == ["cpus", "ram", "disk", "gpus", "ports", "tier", "production", "service", "priority",
                                 "max failures", "owner", "contact"]
    assert fields["ram"] == "1 GiB" and fields["ports"] == "http" and fields["constraint host"] == "limit:1"
    assert fields["process main"] == "./run" and fields["process main max_failures"] == "1"
    assert fields["task.finalization_wait"] == "30" and fields["health_check_config.interval_secs"] == "10"
    # What a TaskConfig field already shows is not repeated from the executor data.
    assert "role" not in fields and not any(k.startswith(("task.resources", "task.processes")) for k in fields)


@pytest.mark.parametrize("changes,expected", [
    (dict(resources={Resource(numCpus=2.0), Resource(ramMb=512), Resource(diskMb=64)}),
     [("cpus", "1", "2"), ("ram", "1 GiB", "512 MiB"), ("ports", "http", "")]),
    (dict(priority=5, production=True, maxTaskFailures=3, tier="preemptible"),
     [("tier", "preferred", "preemptible"), ("production", "false", "true"), ("priority", "0", "5"),
      ("max failures", "1", "3")]),
    (dict(owner=Identity(user="bob"), contactEmail="b@x"), [("owner", "alice", "bob"), ("contact", "", "b@x")]),
    (dict(constraints={Constraint(name="host", constraint=TaskConstraint(limit=LimitConstraint(2))),
                       Constraint(name="rack", constraint=TaskConstraint(
                           value=ValueConstraint(negated=True, values={"b", "a"})))}),
     [("constraint host", "limit:1", "limit:2"), ("constraint rack", "", "!a,b")]),
    (dict(metadata={Metadata(key="a", value="2"), Metadata(key="a", value="3"), Metadata(key="z", value="")}),
     [("metadata a", "1", "2, 3")]),
    (dict(executorConfig=data_with(task__processes=[{"name": "main", "cmdline": "./run --fast", "max_failures": 1},
                                                    {"name": "side", "cmdline": "./side"}])),
     [("process main", "./run", "./run --fast"), ("process side", "", "./side")]),
    (dict(executorConfig=data_with(health_check_config={"interval_secs": 10.0, "timeout_secs": 2.0},
                                   task__finalization_wait=5)),
     [("task.finalization_wait", "30", "5"), ("health_check_config.timeout_secs", "", "2")]),
    (dict(executorConfig=ExecutorConfig(name="Other", data="not json")),
     [("executor", "AuroraExecutor", "Other"), ("process main", "./run", ""), ("process main max_failures", "1", ""),
      ("task.finalization_wait", "30", ""), ("task.name", "t", ""), ("health_check_config.interval_secs", "10", ""),
      ("executor data", "", "not json")]),
    (dict(container=Container(docker=DockerContainer(image="img:2", parameters=[DockerParameter("a", "b")]))),
     [("container.docker.image", "", "img:2"), ("container.docker.parameters[0].name", "", "a"),
      ("container.docker.parameters[0].value", "", "b")]),
])
def test_config_diff_field_by_field(changes, expected):
    assert views.config_diff(task_config(), task_config(**changes)) == expected


def test_update_strategies_print():
    S = JobUpdateStrategy
    assert views._strategy_text(None) == ""
    assert views._strategy_text(S(queueStrategy=QueueJobUpdateStrategy(groupSize=3))) == "queue, group size 3"
    assert views._strategy_text(S(batchStrategy=BatchJobUpdateStrategy(groupSize=2))) == "batch, group size 2"
    variable = S(varBatchStrategy=VariableBatchJobUpdateStrategy(groupSizes=[1, 2, 5], autopauseAfterBatch=True))
    assert views._strategy_text(variable) == "variable batch, group sizes 1, 2, 5, autopause after each batch"


def test_times_in_the_cron_time_zone():
    berlin = ZoneInfo("Europe/Berlin")
    assert views.fmt_ms_tz(1_700_000_000_000, berlin) == "2023-11-14 23:13:20 CET"
    assert views.fmt_ms_tz(1_690_000_000_000, berlin) == "2023-07-22 06:26:40 CEST"
    assert views.fmt_ms_tz(1_700_000_000_000, ZoneInfo("GMT")) == "2023-11-14 22:13:20 GMT"
    assert views.zone_name(berlin) == "Europe/Berlin"
