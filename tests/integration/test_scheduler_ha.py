"""Three real `aurora-scheduler` processes on loopback with real ZooKeeper: the one election, /leaderhealth,
the ServerSet member, leader redirects, createJob through the IDL client, kill -9 and SIGSTOP of the leader
(nothing acknowledged lost; a paused leader's late write fenced and the process gone), an EMPTY log,
snapshots across a restart, what the leader does to tasks on its own (timeouts, throttling, pruning), and
every bad flag as one line and exit 1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading

import pytest
from kazoo.client import KazooClient
from schedcluster import BIN, SchedulerCluster, http_get, job_config

from scheduler.api import client as api_client
from thermos_executor.aurora_api.gen.ttypes import ResponseCode, ScheduleStatus
from tests.helpers import free_port, wait_for
from tests.zookeeper import ZooKeeperServer

OK, TRANSIENT = ResponseCode.OK, ResponseCode.ERROR_TRANSIENT


@pytest.fixture
def cluster(tmp_path, zookeeper):
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=3, quorum=2)
    yield c
    c.close()


def _post(port: int, body: bytes, headers: dict) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api", body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read(), dict(reply.getheaders())
    finally:
        conn.close()


def test_one_leader_redirects_and_create_job(cluster, zookeeper):
    cluster.start()
    leader = cluster.wait_leader()
    followers = [i for i in range(3) if i != leader]
    for i in followers:
        wait_for(lambda i=i: cluster.leaderhealth(i) == 503, 10, what=f"follower {i} to know the leader")
    assert cluster.leaders() == [leader]

    # The ServerSet member: one member_ node with Aurora's JSON, beside the election's nodes.
    zk = KazooClient(hosts=zookeeper.endpoints)
    zk.start()
    try:
        members = [n for n in zk.get_children(cluster.serverset) if n.startswith("member_")]
        assert len(members) == 1
        data = json.loads(zk.get(f"{cluster.serverset}/{members[0]}")[0])
    finally:
        zk.stop()
        zk.close()
    port = cluster.http_ports[leader]
    assert data == {"serviceEndpoint": {"host": "127.0.0.1", "port": port},
                    "additionalEndpoints": {"http": {"host": "127.0.0.1", "port": port}}, "status": "ALIVE"}

    # createJob through the IDL client, both protocols, acknowledged and readable.
    for protocol, name in (("binary", "hello"), ("json", "hello-json")):
        reply = cluster.client(leader, protocol).createJob(job_config("www", "prod", name))
        assert reply.responseCode == OK, reply
    tasks = cluster.tasks(leader, "www")
    assert sorted(t.assignedTask.task.job.name for t in tasks) == ["hello", "hello-json"]
    assert {t.status for t in tasks} == {ScheduleStatus.PENDING}

    # Followers redirect /api and UI paths (307 to the leader, same path); the bypass header is served here.
    follower = followers[0]
    status, _, headers = _post(cluster.http_ports[follower], b"x", {"Content-Type": "application/x-thrift"})
    assert (status, headers["Location"]) == (307, f"http://127.0.0.1:{port}/api")
    status, _, headers = http_get(cluster.http_ports[follower], "/scheduler/www?x=1")
    assert (status, headers["Location"]) == (307, f"http://127.0.0.1:{port}/scheduler/www?x=1")
    status, page, _ = http_get(port, "/scheduler/www")            # the leader serves the page
    assert status == 200 and 'href="/scheduler/www/prod/hello-json"' in page

    def bypass_send(body, content_type):
        status, data, _ = _post(cluster.http_ports[follower], body,
                                {"Content-Type": content_type, "Accept": content_type, "Bypass-Leader-Redirect": "1"})
        assert status == 200
        return data
    reply = api_client.client(bypass_send).getJobs("www")
    assert (reply.responseCode, reply.details[0].message) == (TRANSIENT, "Storage is not READY")

    # Metrics with Aurora's names.
    status, text, _ = http_get(port, "/vars")
    assert status == 200
    values = dict(line.split(" ", 1) for line in text.splitlines())
    assert values["task_store_PENDING"] == "2" and values["framework_registered"] == "0"
    assert values["scheduler_lifecycle_LEADER_AWAITING_REGISTRATION"] == "1"
    assert int(values["scheduler_log_entries_written"]) == 2
    assert json.loads(http_get(port, "/vars.json")[1])["task_store_PENDING"] == 2
    assert "# TYPE task_store_PENDING gauge\ntask_store_PENDING 2\n" in http_get(port, "/metrics")[1]
    assert http_get(cluster.http_ports[follower], "/health")[:2] == (200, "OK\n")


def test_kill_9_of_the_leader_loses_no_acknowledged_job(cluster):
    cluster.start()
    leader = cluster.wait_leader()
    names = [f"job{n}" for n in range(5)]
    for name in names:
        assert cluster.client(leader).createJob(job_config("www", "prod", name)).responseCode == OK
    cluster.kill(leader)
    successor = cluster.wait_leader(exclude=(leader,))
    assert sorted(t.assignedTask.task.job.name for t in cluster.tasks(successor, "www")) == names
    assert "storage READY: replayed" in cluster.stderr(successor)
    assert cluster.client(successor).createJob(job_config("www", "prod", "after")).responseCode == OK
    # The killed scheduler comes back as a follower.
    cluster.launch(leader)
    wait_for(lambda: cluster.leaderhealth(leader) == 503, 30, what="the restarted scheduler to follow")


def test_sigstop_of_the_leader_fences_its_late_write_and_it_exits(cluster):
    cluster.start()
    leader = cluster.wait_leader()
    assert cluster.client(leader).createJob(job_config("www", "prod", "before")).responseCode == OK
    cluster.stop(leader)
    successor = cluster.wait_leader(exclude=(leader,))
    late: list = []

    def write_late():
        try:
            late.append(cluster.client(leader, timeout=30).createJob(job_config("www", "prod", "late")))
        except Exception as e:  # noqa: BLE001 - a dropped connection is an acceptable answer too
            late.append(e)
    thread = threading.Thread(target=write_late)
    thread.start()
    try:
        cluster.cont(leader)
        assert cluster.wait_exit(leader) != 0
    finally:
        thread.join(30)
    assert late and getattr(late[0], "responseCode", None) != OK, late
    assert "exiting:" in cluster.stderr(leader)
    assert [t.assignedTask.task.job.name for t in cluster.tasks(successor, "www")] == ["before"]


def test_empty_log_answers_error_transient(tmp_path, zookeeper):
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, quorum=1)
    try:
        c.start(initialize=False)
        wait_for(lambda: c.leaderhealth(0) == 200, 20, what="the leader")
        wait_for(lambda: "Replica in EMPTY status" in c.stderr(0), 20, what="the EMPTY line")
        reply = c.client(0).createJob(job_config("www", "prod", "hello"))
        assert (reply.responseCode, reply.details[0].message) == (TRANSIENT, "Storage is not READY")
    finally:
        c.close()


def test_snapshot_then_restart_replays_it(tmp_path, zookeeper):
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, quorum=1,
                         extra_args=("-dlog_snapshot_interval=200ms",))
    try:
        c.start()
        c.wait_leader()
        assert c.client(0).createJob(job_config("www", "prod", "a")).responseCode == OK

        def snapshots():
            return int(json.loads(http_get(c.http_ports[0], "/vars.json")[1])["scheduler_log_snapshots"])
        wait_for(lambda: snapshots() >= 1, 20, what="a snapshot")
        assert c.client(0).createJob(job_config("www", "prod", "b")).responseCode == OK
        c.procs[0].send_signal(signal.SIGTERM)
        assert c.wait_exit(0) == 0
        c.launch(0)
        c.wait_leader()
        assert sorted(t.assignedTask.task.job.name for t in c.tasks(0, "www")) == ["a", "b"]
    finally:
        c.close()


def test_backup_then_online_recovery_through_the_daemon(tmp_path, zookeeper):
    # Aurora's procedure: performBackup, later stageRecovery + commitRecovery; the scheduler stops, and when
    # restarted it replays the recovered state: what came after the backup is gone.
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, quorum=1)
    try:
        c.start()
        c.wait_leader()
        client = c.client(0)
        assert client.createJob(job_config("www", "prod", "before")).responseCode == OK
        assert client.performBackup().responseCode == OK
        [backup] = client.listBackups().result.listBackupsResult.backups
        assert backup.startswith("scheduler-backup-")
        assert client.createJob(job_config("www", "prod", "after")).responseCode == OK
        assert client.stageRecovery(backup).responseCode == OK
        assert client.commitRecovery().responseCode == OK
        assert c.wait_exit(0) == 0
        c.launch(0)
        c.wait_leader()
        assert [t.assignedTask.task.job.name for t in c.tasks(0, "www")] == ["before"]
    finally:
        c.close()


def test_the_leader_times_out_throttles_and_prunes_tasks_on_its_own(tmp_path, zookeeper):
    # forceTaskState(ASSIGNED) with no Mesos to move the task on: LOST "Task timed out", replaced PENDING; the
    # replacement's own timeout makes it flap, so its replacement is THROTTLED and then released to PENDING;
    # the LOST tasks are pruned after -history_prune_threshold.
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1, quorum=1, extra_args=(
        "-transient_task_state_timeout=500ms", "-history_prune_threshold=1secs",
        "-history_min_retention_threshold=100ms", "-initial_flapping_task_delay=500ms",
        "-max_flapping_task_delay=1secs"))
    try:
        c.start()
        c.wait_leader()
        client = c.client(0)
        assert client.createJob(job_config("www", "prod", "stuck")).responseCode == OK

        def by_id():
            return {t.assignedTask.taskId: t for t in c.tasks(0, "www")}

        def timed_out(task_id):
            assert client.forceTaskState(task_id, ScheduleStatus.ASSIGNED).responseCode == OK
            wait_for(lambda: task_id in by_id() and by_id()[task_id].status == ScheduleStatus.LOST, 20,
                     what=f"{task_id} to time out")
            assert by_id()[task_id].taskEvents[-1].message == "Task timed out"
            return wait_for(lambda: [t for t in by_id().values() if t.ancestorId == task_id], 20,
                            what=f"the replacement of {task_id}")[0]

        [first] = c.tasks(0, "www")
        second = timed_out(first.assignedTask.taskId)
        assert second.taskEvents[-1].message == "Rescheduled"
        third = timed_out(second.assignedTask.taskId)
        tid = third.assignedTask.taskId
        wait_for(lambda: by_id()[tid].status == ScheduleStatus.PENDING, 20, what="the throttled task's release")
        events = by_id()[tid].taskEvents
        assert [e.status for e in events] == [ScheduleStatus.THROTTLED, ScheduleStatus.PENDING]
        assert events[0].message.startswith("Rescheduled, penalized for ")

        wait_for(lambda: list(by_id()) == [tid], 20, what="the LOST tasks to be pruned")

        def counters():  # counted once the write has returned, which a read may precede
            values = json.loads(http_get(c.http_ports[0], "/vars.json")[1])
            return values["timed_out_tasks"], values["tasks_pruned"]
        wait_for(lambda: counters() == (2, 2), 10, what="timed_out_tasks 2 and tasks_pruned 2")
    finally:
        c.close()


@pytest.mark.parametrize("replace", [False, True], ids=["zookeeper-gone", "zookeeper-replaced"])
def test_a_leader_that_loses_its_zookeeper_session_exits(tmp_path, replace):
    """ZooKeeper gone for a session timeout, or replaced by a fresh server on the same port (which refuses the
    old session's reconnect): either way the leader exits rather than lead on."""
    first = ZooKeeperServer(tmp_path / "zk1").start()
    c = SchedulerCluster(tmp_path / "c", first.endpoints, size=1, quorum=1)
    os.makedirs(c.dir)
    second = None
    try:
        c.start()
        c.wait_leader()
        first.kill()
        if replace:
            second = ZooKeeperServer(tmp_path / "zk2", port=first.port).start()
        assert c.wait_exit(0) == 1
        assert "exiting: Lost leadership, committing suicide (ZooKeeper" in c.stderr(0)
    finally:
        c.close()
        for server in (first, second):
            if server is not None:
                server.stop()


def _required(tmp_path) -> list[str]:
    return ["-cluster_name=test", "-zk_endpoints=127.0.0.1:1", "-serverset_path=/aurora/scheduler",
            "-mesos_master_address=127.0.0.1:5050", f"-native_log_file_path={tmp_path}/log",
            "-native_log_zk_group_path=/aurora/log", f"-backup_dir={tmp_path}/backups",
            "-zk_session_timeout=1secs", "-zk_connection_timeout=1secs", "-http_port=0", "-native_log_port=0"]


@pytest.mark.parametrize("change, message", [
    (["-no_such_flag=1"], "unknown flag '-no_such_flag'"),
    (["-zk_session_timeout=soon"], "-zk_session_timeout: bad duration 'soon'"),
    (["-dlog_max_entry_size=12parsecs"], "-dlog_max_entry_size: bad size '12parsecs'"),
    (["-max_tasks_per_job=many"], "-max_tasks_per_job: 'many' is not an integer"),
    (["-allow_docker_parameters=maybe"], "-allow_docker_parameters: 'maybe' is not true or false"),
    (["DROP:-cluster_name", "DROP:-backup_dir"], "missing required flags: -cluster_name, -backup_dir"),
    (["LOGFILE"], "exists and is not a directory"),
    (["-backup_dir=/etc/hostname/backups"], "-backup_dir=/etc/hostname/backups is not a writable directory"),
    (["-tier_config=/nonexistent/tiers.json"], "-tier_config=/nonexistent/tiers.json: No such file"),
    (["TAKEN"], "-http_port: cannot listen on"),
    (["-mesos_master_address=master"], "-mesos_master_address='master' is not host:port, zk://host:port"),
    (["-mesos_master_address=master:99999"], "-mesos_master_address=master:99999: the port is out of range"),
    (["-global_container_mounts=/etc/ssl:/etc/ssl"],
     "-global_container_mounts: '/etc/ssl:/etc/ssl' is not host_path:container_path:mode"),
    (["-global_container_mounts=/etc/ssl:/etc/ssl:rx"], "-global_container_mounts: '/etc/ssl:/etc/ssl:rx': mode"),
    ([], "cannot reach ZooKeeper at 127.0.0.1:1"),
])
def test_bad_flags_are_one_line_and_exit_1(tmp_path, change, message):
    args = _required(tmp_path)
    for item in change:
        if item.startswith("DROP:"):
            args = [a for a in args if not a.startswith(item[5:] + "=")]
        elif item == "LOGFILE":
            open(f"{tmp_path}/log", "w").close()
        elif item == "TAKEN":
            port = free_port()
            import socket
            holder = socket.socket()
            holder.bind(("127.0.0.1", port))
            holder.listen()
            args += [f"-http_port={port}", "-ip=127.0.0.1"]
        else:
            args.append(item)
    proc = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if "aurora-scheduler:" in line]
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "kazoo" not in proc.stderr   # no retry noise around the line
    if os.path.exists(f"{tmp_path}/log") and os.path.isfile(f"{tmp_path}/log"):
        assert open(f"{tmp_path}/log").read() == ""
