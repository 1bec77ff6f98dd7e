"""The pure parts of the scheduler's pages (scheduler.ui.views): paging, instance ranges, the processes of a
config's executor data (bad data shows none, never an error), times, Mesos resources of an offer."""
from __future__ import annotations

import pytest

from scheduler.ui import views
from thermos_executor.aurora_api.gen.ttypes import ExecutorConfig, Range, TaskConfig


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
