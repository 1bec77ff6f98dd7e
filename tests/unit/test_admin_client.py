"""aurora-admin's argument parsing and pure helpers: sizes, durations, hosts, batches, formats, the DRAINED wait."""
from __future__ import annotations

import pytest

from scheduler.client import admin_cli
from scheduler.client.admin_hosts import wait_for_drained
from scheduler.client.admin_util import (AdminError, flatten_struct, format_task, host_batches, parse_cpu,
                                         parse_data_mb, parse_hostnames, parse_shards, parse_sla_percentage,
                                         parse_states, parse_time_secs, shellify)
from thermos_executor.aurora_api.gen.ttypes import AssignedTask, JobKey, ScheduledTask, TaskConfig


def parse(*args):
    return admin_cli.parser(admin_cli.commands()).parse_args(list(args))


def test_every_aurora_admin_command_is_registered():
    assert set(admin_cli.commands()) >= {
        "set_quota", "increase_quota", "query", "prune_tasks", "scheduler_backup_now", "scheduler_list_backups",
        "scheduler_stage_recovery", "scheduler_print_recovery_tasks", "scheduler_delete_recovery_tasks",
        "scheduler_commit_recovery", "scheduler_unload_recovery", "scheduler_snapshot", "reconcile_tasks",
        "get_scheduler", "host_drain", "host_activate", "host_deactivate", "host_status", "sla_host_drain",
        "get_cluster_config"}


def test_options_parse_as_aurora_spells_them():
    o = parse("reconcile_tasks", "-t", "implicit", "-b", "5", "west")
    assert (o.command, o.type, o.batch_size, o.cluster) == ("reconcile_tasks", "implicit", 5, "west")
    assert parse("reconcile_tasks", "west").type == "explicit"
    o = parse("query", "-l", "%taskId%", "--states=RUNNING,KILLED", "--shards=0,1", "--force", "west", "www")
    assert (o.listformat, o.states, o.shards, o.force, o.role, o.job) == (
        "%taskId%", "RUNNING,KILLED", "0,1", True, "www", None)
    o = parse("host_drain", "--hosts=a,b", "--grouping=none", "--drain_timeout=10", "--poll-interval=0.5", "west")
    assert (o.hosts, o.grouping, o.drain_timeout, o.poll_interval) == ("a,b", "none", 10.0, 0.5)
    o = parse("prune_tasks", "--env=prod", "--limit=3", "west")
    assert (o.environment, o.limit, o.states) == ("prod", 3, None)


@pytest.mark.parametrize("args", [("set_quota", "west", "www"), ("reconcile_tasks", "-t", "both", "west"),
                                  ("prune_tasks", "--limit=x", "west"), ("nosuch",), ()])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(*args)
    assert exit_.value.code == 2
    assert "usage: aurora-admin" in capsys.readouterr().err


def test_sizes_cpus_times_and_percentages():
    assert parse_data_mb("512") == 512 and parse_data_mb("10m") == 10 and parse_data_mb("2G") == 2048
    assert parse_data_mb("1024KB") == 1 and parse_data_mb("1t") == 1024 * 1024
    assert parse_cpu("0.5") == 0.5
    assert parse_time_secs("1d3h45m") == 99900 and parse_time_secs("30m") == 1800
    assert parse_sla_percentage("95") == 95.0
    for bad, call in (("1q", parse_data_mb), ("", parse_data_mb), ("-1g", parse_data_mb), ("x", parse_cpu),
                      ("-1", parse_cpu), ("nan", parse_cpu), ("5x", parse_time_secs), ("", parse_time_secs),
                      ("0", parse_sla_percentage), ("101", parse_sla_percentage), ("x", parse_sla_percentage)):
        with pytest.raises(AdminError):
            call(bad)


def test_hosts_from_list_or_file(tmp_path):
    assert parse_hostnames(None, "a, b,,c") == ["a", "b", "c"]
    path = tmp_path / "hosts"
    path.write_text("a\n\nb\n")
    assert parse_hostnames(str(path), None) == ["a", "b"]
    path.write_text("\n")
    with pytest.raises(AdminError, match="No valid hosts found in"):
        parse_hostnames(str(path), None)
    for filename, hosts in ((None, None), ("f", "a")):
        with pytest.raises(AdminError, match="Please specify either --filename or --hosts"):
            parse_hostnames(filename, hosts)
    with pytest.raises(AdminError, match="No valid hosts found."):
        parse_hostnames(None, ",")


def test_batches_by_grouping():
    assert list(host_batches(["b", "a"])) == [{"a"}, {"b"}]
    assert list(host_batches(["b", "a"], "none")) == [{"a", "b"}]
    with pytest.raises(AdminError, match="Unknown grouping function rack"):
        list(host_batches(["a"], "rack"))


def test_states_shards_and_listformat():
    assert parse_states("RUNNING,KILLED", ["RUNNING", "KILLED"]) == ["RUNNING", "KILLED"]
    with pytest.raises(AdminError, match="Unknown state 'X' specified."):
        parse_states("X", ["RUNNING"])
    assert parse_shards("0,2") == {0, 2} and parse_shards(None) == set()
    with pytest.raises(AdminError):
        parse_shards("0,x")
    task = ScheduledTask(status=2, assignedTask=AssignedTask(taskId="t1", instanceId=3, task=TaskConfig(
        job=JobKey(role="www", environment="prod", name="hello"))))
    fields = flatten_struct(task)
    assert format_task("%role%/%name%/%instanceId% %taskId%", fields) == "www/hello/3 t1"
    with pytest.raises(AdminError, match="Unknown key in format string"):
        format_task("%nosuch%", fields)


def test_shellify():
    assert list(shellify({"name": "west", "zk_port": 2181, "tags": ["a b"], "x": {"y": True}}, export=True,
                         prefix="AURORA_CLUSTER_")) == [
        "export AURORA_CLUSTER_NAME=west", "export AURORA_CLUSTER_ZK_PORT=2181",
        "export AURORA_CLUSTER_TAGS_0='a b'", "export AURORA_CLUSTER_X_Y=1"]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_for_drained_until_drained_or_timeout():
    clock, logs = FakeClock(), []
    modes = {"a": "DRAINING", "b": "DRAINED"}

    def status_of(hosts):
        if clock.now >= 10:
            modes["a"] = "DRAINED"
        return [(h, modes[h]) for h in hosts]
    left = wait_for_drained(status_of, {"a", "b"}, timeout=60, interval=5, clock=clock, log=logs.append)
    assert left == set() and clock.now == 10
    assert logs == ["Waiting for hosts to be in DRAINED: ['a']"] * 2

    clock, logs = FakeClock(), []
    left = wait_for_drained(lambda hosts: [(h, "DRAINING") for h in hosts], {"a"}, timeout=12, interval=5,
                            clock=clock, log=logs.append)
    assert left == {"a"} and clock.now == 12
    assert logs[-1] == "Failed to move all hosts into DRAINED within 12 s:\n\tHost:a\tStatus:DRAINING"
