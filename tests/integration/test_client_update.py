"""`aurora update ...` end to end: the real `aurora` executable against a real scheduler on the Mesos-API
stand-in with real executors (one cluster for the module), as an operator drives an update: start it, follow
it, pause, resume, abort and roll it back, list and inspect it, and what every bad input answers."""
from __future__ import annotations

import json
import re

import pytest

from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus, TaskQuery

from tests.integration.schedmesos import MesosCluster, key
from tests.integration.test_client import Aurora, zk_cluster

S = ScheduleStatus
ACTIVE = (S.PENDING, S.ASSIGNED, S.STARTING, S.RUNNING)
URL = re.compile(r"^Job update has started\. View your update progress at "
                 r"(http://127\.0\.0\.1:\d+/scheduler/www/prod/(\w+)/update/([0-9a-f-]{36}))$")
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


def service(name: str, version: str, update_config: str = "watch_secs=1", instances: int = 1,
            cmd: str | None = None, kind: str = "Service", extra: str = "") -> str:
    cmdline = cmd if cmd is not None else f"echo {version}; sleep 600"
    return f"""
task = Task(processes=[Process(name='main', cmdline={cmdline!r})],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [{kind}(cluster='test', role='www', environment='prod', name={name!r}, task=task,
               instances={instances}, update_config=UpdateConfig({update_config}){extra})]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    with MesosCluster(tmp_path_factory.mktemp("cluster"), zookeeper.endpoints, size=1, agents=2) as c:
        c.sched.wait_leader()
        yield c


@pytest.fixture
def aurora(cluster, zookeeper, tmp_path):
    return Aurora(tmp_path, [zk_cluster(cluster, zookeeper)])


def versions(cluster, job: str) -> dict[int, tuple[str, str]]:
    """instance -> (status, version) of the job's active tasks."""
    query = TaskQuery(jobKeys={key(f"www/prod/{job}")}, statuses=set(ACTIVE))
    tasks = cluster.client().getTasksStatus(query).result.scheduleStatusResult.tasks
    found = {}
    for t in tasks:
        version = re.search(r"echo (v\d)", t.assignedTask.task.executorConfig.data)
        found[t.assignedTask.instanceId] = (S._VALUES_TO_NAMES[t.status], version.group(1) if version else "?")
    return found


def create(aurora, name: str, instances: int = 1) -> None:
    config = aurora.config(f"{name}-v1", text=service(name, "v1", instances=instances))
    r = aurora("job", "create", "--wait-until=RUNNING", f"test/www/prod/{name}", config)
    assert r.returncode == 0, r.stderr


def start(aurora, name: str, *args, instances_spec: str = "", **config):
    """`aurora update start` of a new version (default v2): (result, update page URL, update id)."""
    version = config.pop("version", "v2")
    path = aurora.config(f"{name}-{version}", text=service(name, version, **config))
    r = aurora("update", "start", *args, f"test/www/prod/{name}" + (f"/{instances_spec}" if instances_spec else ""),
               path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    match = URL.match([line for line in r.stdout.splitlines() if line.startswith("Job update has started")][0])
    assert match and match.group(2) == name, r.stdout
    return r, match.group(1), match.group(3)


def test_start_info_list_and_wait_until_rolled_forward(cluster, aurora):
    create(aurora, "roll", instances=2)
    r, url, update_id = start(aurora, "roll", "--message", "deploy v2", instances=2)
    leader_port = cluster.sched.http_ports[cluster.sched.wait_leader()]
    assert r.stdout.splitlines() == [
        "This job update will:", "update instances: [0-1]",
        f"Job update has started. View your update progress at "
        f"http://127.0.0.1:{leader_port}/scheduler/www/prod/roll/update/{update_id}"]
    assert url.endswith(f"/update/{update_id}")

    r = aurora("update", "wait", "test/www/prod/roll", update_id)
    assert r.returncode == 0, r.stderr
    states = r.stdout.splitlines()
    assert states[-1] == "Current state ROLLED_FORWARD" and set(states) <= {
        "Current state ROLLING_FORWARD", "Current state ROLLED_FORWARD"}
    assert versions(cluster, "roll") == {0: ("RUNNING", "v2"), 1: ("RUNNING", "v2")}

    r = aurora("update", "info", "test/www/prod/roll", update_id)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Job: test/www/prod/roll, UpdateID: {update_id}"
    assert re.fullmatch(f"Started {TIMESTAMP}, last activity: {TIMESTAMP}", lines[1]), lines[1]
    assert lines[2:5] == ["Current status: ROLLED_FORWARD", "Update events:", lines[4]]
    assert re.fullmatch(f"  Status: ROLLING_FORWARD at {TIMESTAMP}", lines[4])
    assert lines[5] == "      message: deploy v2"     # Aurora's indent 4 plus its own two spaces
    assert re.fullmatch(f"  Status: ROLLED_FORWARD at {TIMESTAMP}", lines[6])
    assert lines[7] == "Instance events:"
    instance_events = [re.sub(f" at {TIMESTAMP}", "", line) for line in lines[8:-2]]
    assert instance_events == ["  Instance 0: INSTANCE_UPDATING", "  Instance 0: INSTANCE_UPDATED",
                               "  Instance 1: INSTANCE_UPDATING", "  Instance 1: INSTANCE_UPDATED"]
    assert lines[-2] == "Metadata:"
    assert re.fullmatch(r"  org\.apache\.aurora\.client\.update_id: [0-9a-f-]{36}", lines[-1])

    info = json.loads(aurora("update", "info", "--write-json", "test/www/prod/roll", update_id).stdout)
    assert (info["updateId"], info["job"], info["status"]) == (update_id, "test/www/prod/roll", "ROLLED_FORWARD")
    assert isinstance(info["started"], int) and re.fullmatch(TIMESTAMP, info["last_modified"])
    assert [(e["status"], e.get("message")) for e in info["update_events"]] == [
        ("ROLLING_FORWARD", "deploy v2"), ("ROLLED_FORWARD", None)]
    assert [(e["instance"], e["action"]) for e in info["instance_update_events"]][:2] == [
        (0, "INSTANCE_UPDATING"), (0, "INSTANCE_UPDATED")]
    assert list(info["metadata"][0]) == ["org.apache.aurora.client.update_id"]

    r = aurora("update", "list", "test/www")
    assert r.returncode == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["JOB", "UPDATE", "ID", "STATUS", "CREATED", "BY", "STARTED", "LAST", "MODIFIED"]
    assert header.index("UPDATE ID") == 48 and header.index("STATUS") == 85
    (row,) = [row for row in rows if update_id in row]
    assert row.split()[:4] == ["test/www/prod/roll", update_id, "ROLLED_FORWARD", "UNSECURE"]
    assert row.index(update_id) == 48
    assert aurora("update", "list", "test/www/prod/roll", "--status", "active").stdout == ""
    assert aurora("update", "list", "test/www/devel").stdout == ""            # the env is filtered here
    listed = json.loads(aurora("update", "list", "test/www/prod/roll", "--status", "succeeded",
                               "--status", "failed", "--write-json").stdout)
    assert [(u["job"], u["id"], u["status"], u["user"]) for u in listed] == [
        ("test/www/prod/roll", update_id, "ROLLED_FORWARD", "UNSECURE")]
    assert re.fullmatch(TIMESTAMP, listed[0]["started"]) and re.fullmatch(TIMESTAMP, listed[0]["last_modified"])

    # --wait follows the update to its end; the update names instance 1, so only it changes.
    r, _, _ = start(aurora, "roll", "--wait", instances_spec="1", version="v3", instances=2)
    lines = r.stdout.splitlines()
    assert lines[:3] == ["This job update will:", "update instances: [1]", "not change instances: [0]"]
    assert lines[-1] == "Current state ROLLED_FORWARD" and r.returncode == 0
    assert versions(cluster, "roll") == {0: ("RUNNING", "v2"), 1: ("RUNNING", "v3")}

    # The same config again changes nothing: the scheduler says so and no update starts.
    same = aurora.config("roll-v3", text=service("roll", "v3", instances=2))
    r = aurora("update", "start", "test/www/prod/roll/1", same)
    assert (r.returncode, r.stdout.splitlines()) == (0, ["This job update will:", "not change instances: [0], [1]",
                                                         "Job is unchanged by proposed update."])
    assert aurora("job", "killall", "test/www/prod/roll").returncode == 0


def test_pause_resume_abort(cluster, aurora):
    create(aurora, "steer")
    # watch_secs=60: the update stays ROLLING_FORWARD while the test steers it.
    _, _, update_id = start(aurora, "steer", update_config="watch_secs=60")
    r = aurora("update", "pause", "test/www/prod/steer", "-m", "hold on")
    assert (r.returncode, r.stdout) == (0, "Update has been paused.\n"), r.stderr
    r = aurora("update", "info", "test/www/prod/steer")                        # no id: the active update
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"Job: test/www/prod/steer, UpdateID: {update_id}"
    assert "Current status: ROLL_FORWARD_PAUSED" in r.stdout and "      message: hold on" in r.stdout

    # Another update while this one is active: the scheduler refuses it.
    r = aurora("update", "start", "test/www/prod/steer", aurora.config("steer-v3", text=service("steer", "v3")))
    assert r.returncode == 10
    assert r.stderr.splitlines() == [
        "Failed to start update due to error:",
        "\tAn active update already exists for this job, please terminate it before starting another. Active "
        "updates are those in states [ROLLING_FORWARD, ROLLING_BACK, ROLL_FORWARD_PAUSED, ROLL_BACK_PAUSED, "
        "ROLL_FORWARD_AWAITING_PULSE, ROLL_BACK_AWAITING_PULSE]"]

    r = aurora("update", "resume", "test/www/prod/steer", "--message", "go on")
    assert (r.returncode, r.stdout) == (0, "Update has been resumed.\n"), r.stderr
    assert aurora("update", "list", "test/www/prod/steer", "--status", "active").stdout.count(update_id) == 1
    r = aurora("update", "abort", "test/www/prod/steer", "-m", "enough")
    assert (r.returncode, r.stdout) == (0, "Update has been aborted.\n"), r.stderr

    r = aurora("update", "info", "--write-json", "test/www/prod/steer", update_id)
    info = json.loads(r.stdout)
    assert info["status"] == "ABORTED"
    assert [(e["status"], e.get("message")) for e in info["update_events"]] == [
        ("ROLLING_FORWARD", None), ("ROLL_FORWARD_PAUSED", "hold on"), ("ROLLING_FORWARD", "go on"),
        ("ABORTED", "enough")]
    r = aurora("update", "wait", "test/www/prod/steer", update_id)             # ended, and not ROLLED_FORWARD
    assert (r.returncode, r.stdout) == (20, "Current state ABORTED\n")
    for verb in ("pause", "resume", "abort", "rollback"):
        r = aurora("update", verb, "test/www/prod/steer")
        assert (r.returncode, r.stdout, r.stderr) == (6, "", "No active update found for this job.\n"), verb
    r = aurora("update", "info", "test/www/prod/steer")
    assert (r.returncode, r.stderr) == (6, "There is no active update for this job.\n")
    r = aurora("update", "wait", "test/www/prod/steer")
    assert (r.returncode, r.stderr) == (6, "No active update found for this job.\n")
    assert aurora("job", "killall", "test/www/prod/steer").returncode == 0


def test_rollback_on_request_and_after_a_failure(cluster, aurora):
    create(aurora, "back", instances=2)
    # Paused after its first batch (instance 0), the update cannot finish before the rollback asks.
    autopause = "update_strategy=BatchUpdateStrategy(batch_size=1, autopause_after_batch=True), watch_secs=1"
    _, _, update_id = start(aurora, "back", update_config=autopause, instances=2)
    r = aurora("update", "rollback", "--wait", "test/www/prod/back", "-m", "changed my mind")
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0] == "Update rollback has started." and lines[-1] == "Current state ROLLED_BACK"
    assert set(lines[1:]) <= {"Current state ROLLING_BACK", "Current state ROLLED_BACK"}
    assert versions(cluster, "back") == {0: ("RUNNING", "v1"), 1: ("RUNNING", "v1")}
    info = json.loads(aurora("update", "info", "--write-json", "test/www/prod/back", update_id).stdout)
    assert ("ROLLING_BACK", "changed my mind") in [(e["status"], e.get("message")) for e in info["update_events"]]

    # A version that fails at once is rolled back by the scheduler: `start --wait` ends with 4. (watch_secs=10:
    # on a loaded machine a task can be seen RUNNING for seconds before its failure is; one seen RUNNING for the
    # whole watch would count as updated, as in Aurora.)
    path = aurora.config("back-bad", text=service("back", "v2", "watch_secs=10", cmd="echo v2; exit 1",
                                                  instances=2))
    r = aurora("update", "start", "--wait", "test/www/prod/back", path)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert r.stdout.splitlines()[-1] == "Current state ROLLED_BACK"
    cluster.wait_tasks("www/prod/back", lambda ts: [t.status for t in ts if t.status in ACTIVE] == [S.RUNNING] * 2,
                       what="v1 running again")
    assert versions(cluster, "back") == {0: ("RUNNING", "v1"), 1: ("RUNNING", "v1")}
    assert aurora("job", "killall", "test/www/prod/back").returncode == 0


def test_bad_inputs_are_one_line_errors(cluster, aurora):
    good = aurora.config("good", text=service("good", "v1"))

    def fails(code: int, *args) -> str:
        r = aurora("update", *args)
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        return r.stderr

    assert "Instance specifier must be a CLUSTER/ROLE/ENV/JOB/INSTANCES tuple" in fails(2, "start", "test/www/prod",
                                                                                       good)
    assert "Invalid env 'b@d'" in fails(2, "pause", "test/www/b@d/good")
    assert "Invalid path 'test/www'" in fails(2, "info", "test/www")
    assert "Update filter must be a path of the form CLUSTER/ROLE/ENV/JOB." in fails(2, "list", "a/b/c/d/e")
    assert "invalid choice: 'nope'" in fails(2, "list", "test", "--status", "nope")
    assert fails(3, "pause", "nowhere/www/prod/good") == ("Error executing command: Unknown cluster nowhere, valid "
                                                          "clusters: test\n")

    cron = aurora.config("cron", text=service("cron", "v1", kind="Job", extra=", cron_schedule='* * * * *'"))
    assert fails(4, "start", "test/www/prod/cron", cron) == (
        'Error executing command: Cron jobs may only be updated with "aurora cron schedule" command\n')
    zero = aurora.config("zero", text=service("zero", "v1", update_config="batch_size=0"))
    assert fails(3, "start", "test/www/prod/zero", zero) == (
        "Error executing command: update_config: Batch size should be greater than 0\n")
    watch = aurora.config("watch", text=service("watch", "v1", update_config="watch_secs=0"))
    assert fails(3, "start", "test/www/prod/watch", watch) == (
        "Error executing command: update_config: Watch seconds should be greater than 0\n")
    assert "Error loading configuration: Could not find job test/www/prod/other" in fails(
        3, "start", "test/www/prod/other", good)
    adhoc = aurora.config("adhoc", text=service("adhoc", "v1", kind="Job"))
    assert fails(10, "start", "test/www/prod/adhoc", adhoc) == (
        "Failed to start update due to error:\n\tUpdates are not supported for non-service tasks.\n")

    assert fails(6, "info", "test/www/prod/good", "no-such-update") == (
        "There is no update for key: JobUpdateKey(job=JobKey(role='www', environment='prod', name='good'), "
        "id='no-such-update')\n")
    assert fails(6, "wait", "test/www/prod/good", "no-such-update") == (
        "Error executing command: Job update not found.\n")
    for verb in ("pause", "resume", "abort", "rollback"):
        assert fails(6, verb, "test/www/prod/good", "-m", "why") == "No active update found for this job.\n"

    create(aurora, "strict")
    assert fails(6, "start", "--strict", "test/www/prod/strict/0-2", aurora.config("strict-v2", text=service(
        "strict", "v2"))) == "Error executing command: Invalid instance parameter: [1, 2]\n"
    assert aurora("job", "killall", "test/www/prod/strict").returncode == 0
