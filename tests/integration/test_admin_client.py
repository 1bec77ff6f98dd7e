"""`aurora-admin` end to end: the real executable against a real scheduler on the Mesos-API stand-in with real
executors, found through ZooKeeper via clusters.json, as operators use it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus

from tests.integration.schedmesos import MesosCluster
from tests.integration.test_client import Aurora, active, zk_cluster

S = ScheduleStatus
ADMIN = os.path.join(os.path.dirname(sys.executable), "aurora-admin")


class Admin(Aurora):
    def admin(self, *args, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run([ADMIN, *args], capture_output=True, text=True, timeout=timeout,
                              env={**self.env, **env})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    with MesosCluster(tmp_path_factory.mktemp("cluster"), zookeeper.endpoints, size=1, agents=2) as c:
        c.sched.wait_leader()
        yield c


@pytest.fixture
def aurora(cluster, zookeeper, tmp_path):
    return Admin(tmp_path, [zk_cluster(cluster, zookeeper)], AURORA_CLIENT_RPC_MAXIMUM_WAIT="60")


def test_quota_set_and_increase(aurora):
    r = aurora.admin("set_quota", "test", "www", "2.0", "1g", "2048")
    assert r.returncode == 0, r.stderr
    assert "Response from scheduler: OK (message: )" in r.stderr
    r = aurora("quota", "get", "test/www")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == ["Allocated:", "  CPU: 2.0 core(s)", "  RAM: 1024 MB", "  Disk: 2048 MB"]

    r = aurora.admin("increase_quota", "test", "www", "1", "512m", "0")
    assert r.returncode == 0, r.stderr
    assert "Attempting to update quota for www to\n\tCPU\t3.0\n\tRAM\t1536 MB\n\tDisk\t2048 MB" in r.stderr
    assert aurora("quota", "get", "test/www").stdout.splitlines()[1:4] == [
        "  CPU: 3.0 core(s)", "  RAM: 1536 MB", "  Disk: 2048 MB"]


def test_backup_snapshot_reconcile_and_leader(cluster, aurora):
    r = aurora.admin("scheduler_backup_now", "test")
    assert r.returncode == 0, r.stderr
    r = aurora.admin("scheduler_list_backups", "test")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"{len(lines) - 1} available backups:" and len(lines) >= 2
    assert aurora.admin("scheduler_snapshot", "test").returncode == 0
    for args in (("--type=explicit", "--batch_size=10"), ("--type=implicit",), ()):
        r = aurora.admin("reconcile_tasks", *args, "test")
        assert r.returncode == 0, r.stderr
        assert "Response from scheduler: OK" in r.stderr
    r = aurora.admin("reconcile_tasks", "--batch_size=0", "test")                # the scheduler refuses
    assert r.returncode == 1 and "Response from scheduler: INVALID_REQUEST" in r.stderr

    port = cluster.sched.http_ports[cluster.sched.wait_leader()]
    r = aurora.admin("get_scheduler", "test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Found leading scheduler at: http://127.0.0.1:{port}"

    r = aurora.admin("get_cluster_config", "--sh", "--export", "test")
    assert "export AURORA_CLUSTER_NAME=test" in r.stdout.splitlines()


def test_drain_query_activate_prune(cluster, aurora):
    r = aurora("job", "create", "--wait-until=RUNNING", "test/www/prod/drainme", aurora.config("drainme", 1))
    assert r.returncode == 0, r.stderr
    (task,) = active(cluster, "www/prod/drainme").values()
    host, first = task.assignedTask.slaveHost, task.assignedTask.taskId

    r = aurora.admin("query", "test", "www", "drainme")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["www/drainme/0 RUNNING"]
    r = aurora.admin("query", "-l", "%taskId% %slaveHost%", "test", "www", "drainme")
    assert r.stdout.strip() == f"{first} {host}"

    r = aurora.admin("host_drain", f"--hosts={host}", "--poll_interval=0.5", "--drain_timeout=60", "test")
    assert r.returncode == 0, r.stderr
    assert f"Hosts DRAINED: {host}" in r.stderr
    moved = cluster.wait_tasks("www/prod/drainme", lambda ts: any(
        t.status == S.RUNNING and t.assignedTask.slaveHost != host for t in ts), what="task moved")
    assert all(t.assignedTask.slaveHost != host for t in moved if t.status == S.RUNNING)
    r = aurora.admin("host_status", f"--hosts={host}", "test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{host} is in state: DRAINED"

    r = aurora.admin("host_activate", f"--hosts={host}", "test")
    assert r.returncode == 0, r.stderr
    assert aurora.admin("host_status", f"--hosts={host}", "test").stdout.strip() == f"{host} is in state: NONE"

    r = aurora.admin("host_deactivate", f"--hosts={host}", "test")
    assert r.returncode == 0, r.stderr
    assert aurora.admin("host_status", f"--hosts={host}", "test").stdout.strip() == f"{host} is in state: SCHEDULED"
    assert aurora.admin("host_activate", f"--hosts={host}", "test").returncode == 0

    r = aurora.admin("query", "--states=KILLED,RUNNING", "test", "www", "drainme")         # outside ACTIVE
    assert r.returncode == 1 and "--force is required" in r.stderr
    r = aurora.admin("query", "--force", "--states=KILLED", "-l", "%taskId%", "test", "www", "drainme")
    assert r.returncode == 0 and r.stdout.split() == [first]
    r = aurora.admin("prune_tasks", "--role=www", "--states=KILLED", "test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Tasks pruned."
    assert first not in {t.assignedTask.taskId for t in cluster.tasks("www/prod/drainme")}
    assert aurora("job", "killall", "test/www/prod/drainme").returncode == 0


def test_bad_inputs_one_line_and_exit_codes(cluster, aurora):
    def fails(code, *args):
        r = aurora.admin(*args)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr
        return r.stderr.strip()

    assert fails(1, "set_quota", "nope", "www", "1", "1g", "1g") == "Unknown cluster: nope. Known clusters: test"
    assert fails(1, "set_quota", "test", "www", "lots", "1g", "1g") == "could not convert string to float: 'lots'"
    assert fails(1, "set_quota", "test", "www", "1", "1q", "1g").startswith("Invalid data size: '1q'")
    assert fails(1, "host_drain", "test") == "Please specify either --filename or --hosts"
    assert fails(1, "host_status", "--hosts=a", "--filename=f", "test") == "Please specify either --filename or --hosts"
    assert fails(1, "host_drain", "--hosts=a", "--grouping=rack", "test") == \
        "Unknown grouping function rack. Must be one of: by_host, none"
    assert fails(1, "host_status", "--filename=/nonexistent", "test").startswith("Unable to read /nonexistent")
    assert fails(1, "query", "test") == "--force is required for expensive queries (no role specified)"
    assert fails(1, "query", "--states=BOGUS", "test", "www", "x").startswith("Unknown state 'BOGUS' specified.")
    assert fails(1, "scheduler_stage_recovery", "test", "no-such-backup").startswith("Response from scheduler: ERROR")
    assert fails(1, "sla_host_drain", "--hosts=agent2", "test").endswith(
        "SLA-aware drain is not supported by this scheduler yet (no slaDrainHosts); use host_drain")
    assert "usage: aurora-admin set_quota" in fails(2, "set_quota", "test", "www")
    assert "invalid choice" in fails(2, "reconcile_tasks", "--type=sideways", "test")
    aurora.write_clusters("{not json")
    assert fails(3, "get_scheduler", "test").startswith("Unable to parse")
