"""`aurora`, the command-line client, end to end: the real `aurora` executable against real schedulers on
the Mesos-API stand-in with real executors, found through ZooKeeper as users find them (clusters.json)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus

from tests.helpers import free_port, wait_for
from tests.integration.schedmesos import MesosCluster

S = ScheduleStatus
AURORA = os.path.join(os.path.dirname(sys.executable), "aurora")
JOB = """
task = Task(processes=[Process(name='main', cmdline='sleep 600')],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Service(cluster='test', role='www', environment='prod', name='{name}', task=task, instances={instances})]
"""


class Aurora:
    """Runs `aurora` with its own clusters.json (AURORA_CONFIG_ROOT) and an empty HOME."""

    def __init__(self, workdir, clusters: list[dict], **env):
        self.dir = str(workdir)
        os.makedirs(os.path.join(self.dir, "etc"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "home"), exist_ok=True)
        self.write_clusters(clusters)
        self.env = {**os.environ, "AURORA_CONFIG_ROOT": os.path.join(self.dir, "etc"),
                    "HOME": os.path.join(self.dir, "home"), **env}
        self.env.pop("DISPLAY", None)
        self.env.pop("BROWSER", None)

    def write_clusters(self, clusters) -> None:
        with open(os.path.join(self.dir, "etc", "clusters.json"), "w") as f:
            f.write(clusters if isinstance(clusters, str) else json.dumps(clusters))

    def config(self, name: str = "hello", instances: int = 2, text: str | None = None) -> str:
        path = os.path.join(self.dir, f"{name}-{instances}.aurora")
        with open(path, "w") as f:
            f.write(text if text is not None else JOB.format(name=name, instances=instances))
        return path

    def __call__(self, *args, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return subprocess.run([AURORA, *args], capture_output=True, text=True, timeout=timeout,
                              env={**self.env, **env})


def zk_cluster(cluster: MesosCluster, zookeeper, name: str = "test") -> dict:
    return {"name": name, "zk": zookeeper.endpoints, "scheduler_zk_path": cluster.sched.serverset,
            "auth_mechanism": "UNAUTHENTICATED", "slave_root": "/var/lib/mesos"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    with MesosCluster(tmp_path_factory.mktemp("cluster"), zookeeper.endpoints, size=1, agents=2) as c:
        c.sched.wait_leader()
        yield c


@pytest.fixture
def aurora(cluster, zookeeper, tmp_path):
    return Aurora(tmp_path, [zk_cluster(cluster, zookeeper)])


def active(cluster, job: str) -> dict:
    return {t.assignedTask.instanceId: t for t in cluster.tasks(job)
            if t.status in (S.PENDING, S.ASSIGNED, S.STARTING, S.RUNNING)}


def test_job_lifecycle(cluster, aurora):
    leader_port = cluster.sched.http_ports[cluster.sched.wait_leader()]
    r = aurora("job", "create", "--wait-until=RUNNING", "test/www/prod/life", aurora.config("life", 2))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Job create succeeded: job url=http://127.0.0.1:{leader_port}/scheduler/www/prod/life"
    assert "Waiting for" in r.stderr                                        # progress while it waits
    assert sorted(t.status for t in active(cluster, "www/prod/life").values()) == [S.RUNNING, S.RUNNING]

    r = aurora("job", "status", "test/www/prod/life")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Active tasks (2):\n") and "Inactive tasks (0):" in r.stdout
    assert "Task role: www, env: prod, name: life, instance: 1, status: RUNNING on agent" in r.stdout
    assert "CPU: 0.1 core(s), RAM: 8 MB, Disk: 8 MB" in r.stdout

    r = aurora("job", "status", "--write-json", "test/www/*/li*")
    (status,) = json.loads(r.stdout)
    assert status["job"] == "test/www/prod/life" and len(status["active"]) == 2
    assert status["active"][0]["status"] == "RUNNING" and status["active"][0]["assignedTask"]["instanceId"] == 0

    r = aurora("job", "list", "test/www")
    assert r.returncode == 0 and "test/www/prod/life" in r.stdout.split()
    assert aurora("job", "list", "test/nobody").stdout == ""
    assert "test/www/prod/life" in aurora("job", "list", "test").stdout.split()      # every role

    r = aurora("job", "kill", "test/www/prod/life/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Successfully killed instances [1]", "Job kill succeeded"]
    assert list(active(cluster, "www/prod/life")) == [0]

    r = aurora("job", "add", "--wait-until=RUNNING", "test/www/prod/life/0", "2")
    assert r.returncode == 0, r.stderr
    now = active(cluster, "www/prod/life")
    assert sorted(now) == [0, 1, 2] and all(t.status == S.RUNNING for t in now.values())

    before = now[0].assignedTask.taskId
    r = aurora("job", "restart", "--watch-secs=1", "--healthcheck-interval-seconds=1", "test/www/prod/life/0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Job test/www/prod/life restarted successfully"
    restarted = active(cluster, "www/prod/life")[0]
    assert restarted.assignedTask.taskId != before and restarted.status == S.RUNNING

    r = aurora("job", "killall", "test/www/prod/life")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "Job killall succeeded"
    assert active(cluster, "www/prod/life") == {}
    r = aurora("job", "killall", "test/www/prod/life")
    assert (r.returncode, r.stderr.strip()) == (6, "No tasks to kill found for job test/www/prod/life")
    r = aurora("job", "status", "test/www/prod/nothing")
    assert (r.returncode, r.stderr.strip()) == (6, "Found no jobs matching test/www/prod/nothing")


def test_diff_inspect_config_list_quota(cluster, aurora):
    config = aurora.config("diffy", 1)
    assert aurora("job", "create", "test/www/prod/diffy", config).returncode == 0
    r = aurora("job", "diff", "test/www/prod/diffy", config)
    assert (r.returncode, r.stdout) == (0, "")                              # same config: no difference
    r = aurora("job", "diff", "test/www/prod/diffy", aurora.config("diffy", 2))
    assert r.returncode == 0 and "# instance 1" in r.stdout and r.stdout.startswith(">") is False

    r = aurora("job", "inspect", "test/www/prod/diffy", config)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == ["Job level information", "  name:       'diffy'", "  role:       'www'"]
    assert "Process 'main':" in r.stdout and "    sleep 600" in r.stdout
    assert json.loads(aurora("job", "inspect", "--write-json", "test/www/prod/diffy", config).stdout)["name"] \
        == "diffy"

    r = aurora("config", "list", config)
    assert (r.returncode, r.stdout.strip()) == (0, "jobs=[test/www/prod/diffy]")

    r = aurora("quota", "get", "test/www")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Allocated:"
    assert "Production shared pool resources consumed:" in r.stdout       # Service(... ) is not production
    r = aurora("job", "open", "test/www/prod/diffy")
    assert r.returncode == 0 and r.stdout.strip().endswith("/scheduler/www/prod/diffy")


def test_create_until_finished_and_refusals(cluster, aurora):
    done = JOB.replace("Service(", "Job(").replace("sleep 600", "true")
    r = aurora("job", "create", "--wait-until=FINISHED", "test/www/prod/quick",
               aurora.config("quick", text=done.format(name="quick", instances=2)))
    assert r.returncode == 0, r.stderr
    assert sorted(t.status for t in cluster.tasks("www/prod/quick")) == [S.FINISHED, S.FINISHED]
    cron = JOB.replace("instances={instances}", "instances={instances}, cron_schedule='* * * * *'")
    r = aurora("job", "create", "test/www/prod/cron", aurora.config("cron", text=cron.format(name="cron", instances=1)))
    assert (r.returncode, r.stderr.strip()) == (4, 'Error executing command: Cron jobs may only be scheduled with '
                                                   '"aurora cron schedule" command')
    assert aurora("job", "create", "test/www/prod/twice", aurora.config("twice", 1)).returncode == 0
    r = aurora("job", "create", "test/www/prod/twice", aurora.config("twice", 1))
    assert r.returncode == 4 and r.stderr.splitlines()[0] == "Job creation failed due to error:"
    r = aurora("job", "kill", "--strict", "test/www/prod/twice/0-3")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Invalid instance parameter: [1, 2, 3]")
    r = aurora("job", "restart", "test/www/prod/twice/5")
    assert r.returncode == 10 and r.stderr.splitlines()[-1].strip() == "Instance 5 not active"
    r = aurora("job", "restart", "--max-total-failures=-1", "test/www/prod/twice")
    assert r.returncode == 6 and "max_total_failures option must be >0" in r.stderr
    r = aurora("job", "add", "test/www/prod/twice/4", "1")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: Invalid instance parameter: [4]")
    assert aurora("job", "killall", "test/www/prod/twice").returncode == 0


def test_bad_inputs_are_one_line_errors(cluster, aurora):
    config = aurora.config("bad", 1)
    r = aurora("job", "status", "nope/www/prod/bad")
    assert (r.returncode, r.stderr.strip()) == (3, "Error executing command: Unknown cluster nope, valid clusters: "
                                                   "test")
    r = aurora("job", "create", "nope/www/prod/bad", config)          # the config is read first, as Aurora
    assert r.returncode == 3 and "Could not find job nope/www/prod/bad\nCandidates are:\n  test/www/prod/bad" \
        in r.stderr
    r = aurora("job", "create", "test/www/prod", config)
    assert r.returncode == 2 and "Invalid path 'test/www/prod'. path should be a string in the form " \
                                 "CLUSTER/ROLE/ENV/NAME" in r.stderr
    r = aurora("job", "create", "test/www/prod/b@d", config)
    assert r.returncode == 2 and "Invalid name 'b@d'" in r.stderr
    r = aurora("job", "create", "test/www/prod/other", config)
    assert r.returncode == 3 and "Error loading configuration: Could not find job test/www/prod/other" in r.stderr
    broken = aurora.config("broken", 1, text="jobs = [Job(name='x', task=Tsk())]\n")
    r = aurora("job", "create", "test/www/prod/x", broken)
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1 and "NameError" in r.stderr
    assert "Traceback" not in r.stderr
    r = aurora("config", "list", broken)
    assert r.returncode == 4 and r.stderr.startswith("Error loading configuration file:")
    r = aurora("job", "kill", "test/www/prod/bad")
    assert (r.returncode, r.stderr.strip()) == (6, "Error executing command: The instances list cannot be omitted "
                                                   "in a kill command!; use killall to kill all instances")
    r = aurora("job", "kill", "test/www/prod/bad/x-y")
    assert r.returncode == 2 and "Invalid instance list 'x-y'" in r.stderr


def test_no_scheduler_reachable_is_exit_7(aurora, zookeeper):
    port = free_port()
    aurora.write_clusters([{"name": "gone", "scheduler_uri": f"http://127.0.0.1:{port}"},
                           {"name": "empty", "zk": zookeeper.endpoints, "scheduler_zk_path": "/aurora/nobody"}])
    fast = {"AURORA_CLIENT_RPC_MAXIMUM_WAIT": "1", "AURORA_CLIENT_RPC_RETRY_INTERVAL": "0.2"}
    r = aurora("job", "status", "gone/www/prod/x", **fast)
    assert r.returncode == 7
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error executing command: no scheduler answered at http://127.0.0.1:{port} within 1 s:")
    assert "Connection error with scheduler" in r.stderr and "Traceback" not in r.stderr
    r = aurora("job", "list", "empty/www", **fast)
    assert r.returncode == 7 and "No schedulers detected in empty!" in r.stderr.splitlines()[-1]
    aurora.write_clusters([{"name": "nozk", "zk": f"127.0.0.1:{port}", "scheduler_zk_path": "/aurora/x"}])
    r = aurora("job", "list", "nozk/www", **fast)
    assert r.returncode == 7 and r.stderr.splitlines()[-1].endswith("Failed to connect to Zookeeper within 1 seconds.")


def test_clusters_json_variants(cluster, aurora, zookeeper):
    leader = cluster.sched.wait_leader()
    direct = {"name": "direct", "scheduler_uri": f"http://127.0.0.1:{cluster.sched.http_ports[leader]}"}
    # A list, an object of clusters, entries without a name ignored; ~/.aurora overrides AURORA_CONFIG_ROOT.
    aurora.write_clusters({"a": direct, "b": {"zk": "ignored"}})
    assert aurora("quota", "get", "direct/www").returncode == 0
    os.makedirs(os.path.join(aurora.dir, "home", ".aurora"))
    with open(os.path.join(aurora.dir, "home", ".aurora", "clusters.json"), "w") as f:
        json.dump([{**zk_cluster(cluster, zookeeper), "name": "direct"}], f)
    r = aurora("job", "open", "direct/www")
    assert r.returncode == 0 and r.stdout.strip() == f"http://127.0.0.1:{cluster.sched.http_ports[leader]}" \
                                                     f"/scheduler/www"
    aurora.write_clusters('[{"name": "x",}]')
    r = aurora("quota", "get", "x/www")
    path = os.path.join(aurora.dir, "etc", "clusters.json")
    assert r.returncode == 3 and r.stderr.strip().startswith(f"Error executing command: Unable to parse {path}:")
    assert len(r.stderr.strip().splitlines()) == 1
    aurora.write_clusters('[{"name": "x"}]')
    r = aurora("quota", "get", "x/www")
    assert r.returncode == 3 and "does not specify zk or scheduler_uri" in r.stderr


def test_client_follows_the_leader_across_a_failover(tmp_path, zookeeper):
    with MesosCluster(tmp_path / "ha", zookeeper.endpoints, size=3, agents=1) as c:
        old = c.sched.wait_leader()
        aurora = Aurora(tmp_path / "client", [zk_cluster(c, zookeeper)], AURORA_CLIENT_RPC_RETRY_INTERVAL="0.5",
                        AURORA_CLIENT_RPC_MAXIMUM_WAIT="60")
        assert aurora("job", "create", "test/www/prod/ha", aurora.config("ha", 1)).returncode == 0
        # A follower answers /api with a 307 to the leader: a cluster naming a follower still works.
        follower = next(i for i in range(3) if i != old)
        aurora.write_clusters([zk_cluster(c, zookeeper),
                               {"name": "follower", "scheduler_uri": f"http://127.0.0.1:{c.sched.http_ports[follower]}"}])
        r = aurora("job", "status", "follower/www/prod/ha")
        assert r.returncode == 0 and "Active tasks (1):" in r.stdout, r.stderr

        c.sched.kill(old)
        r = aurora("job", "status", "test/www/prod/ha")        # retries until a new leader is advertised
        assert r.returncode == 0, r.stderr
        assert "Active tasks (1):" in r.stdout
        new = c.sched.wait_leader(exclude=(old,))
        assert new != old
        wait_for(lambda: aurora("job", "list", "test/www").stdout.split() == ["test/www/prod/ha"], 30,
                 what="list through the new leader")


CRON = """
task = Task(processes=[Process(name='main', cmdline='echo run')],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Job(cluster='test', role='www', environment='prod', name='{name}', task=task,
            cron_schedule='{schedule}')]
"""


def test_cron_schedule_show_start_deschedule(cluster, aurora):
    leader_port = cluster.sched.http_ports[cluster.sched.wait_leader()]
    # January 1st, 03:00 or 04:00: no natural run during the test (the runs here are `cron start`'s).
    config = aurora.config("nightly", text=CRON.format(name="nightly", schedule="0 {{hour}} 1 1 *"))
    r = aurora("cron", "schedule", "--bind", "hour=3", "test/www/prod/nightly", config)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("Cron job scheduled, status can be viewed at "
                                f"http://127.0.0.1:{leader_port}/scheduler/www/prod/nightly")
    r = aurora("cron", "show", "test/www/prod/nightly")
    assert (r.returncode, r.stdout) == (0, "test/www/prod/nightly\t 0 3 1 1 *\n")
    assert cluster.tasks("www/prod/nightly") == []                  # scheduled, not run
    assert "test/www/prod/nightly" in aurora("job", "list", "test/www").stdout.split()

    # --read-json: the job as `aurora job inspect --write-json` prints it; scheduling again replaces the template.
    r = aurora("job", "inspect", "--write-json", "--bind", "hour=4", "test/www/prod/nightly", config)
    assert r.returncode == 0, r.stderr
    as_json = aurora.config("nightly-json", text=r.stdout)
    r = aurora("cron", "schedule", "--read-json", "test/www/prod/nightly", as_json)
    assert r.returncode == 0, r.stderr
    assert aurora("cron", "show", "test/www/prod/nightly").stdout == "test/www/prod/nightly\t 0 4 1 1 *\n"

    r = aurora("cron", "start", "--config", config, "--bind", "hour=3", "test/www/prod/nightly")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    (run,) = cluster.wait_tasks("www/prod/nightly", lambda ts: len(ts) == 1 and ts[0].status == S.FINISHED,
                                what="the started run to finish")
    assert run.assignedTask.instanceId == 0

    r = aurora("cron", "deschedule", "test/www/prod/nightly")
    assert (r.returncode, r.stdout) == (0, "Cron descheduling succeeded.\n"), r.stderr
    r = aurora("cron", "show", "test/www/prod/nightly")
    assert (r.returncode, r.stdout, r.stderr) == (6, "", "No cron entry found for job test/www/prod/nightly\n")
    assert [t.assignedTask.taskId for t in cluster.tasks("www/prod/nightly")] == [run.assignedTask.taskId]


def test_cron_bad_inputs(cluster, aurora):
    plain = aurora.config("plaincron", 1)                            # a Service: no cron schedule
    r = aurora("cron", "schedule", "test/www/prod/plaincron", plain)
    assert (r.returncode, r.stdout, r.stderr) == (
        4, "", 'Error executing command: Non-cron jobs may only be created with "aurora job create" command\n')
    assert cluster.tasks("www/prod/plaincron") == []

    bad = aurora.config("badcron", text=CRON.format(name="badcron", schedule="61 * * * *"))
    r = aurora("cron", "schedule", "test/www/prod/badcron", bad)
    assert (r.returncode, r.stdout) == (10, "")
    assert r.stderr.splitlines() == ["Error scheduling cron job test/www/prod/badcron:",
                                     "\tInvalid cron schedule: 61 * * * *"]
    assert aurora("cron", "show", "test/www/prod/badcron").returncode == 6     # nothing saved

    r = aurora("cron", "start", "test/www/prod/nosuch")
    assert (r.returncode, r.stdout) == (10, "")
    assert r.stderr.splitlines() == ["Error starting cron job test/www/prod/nosuch:",
                                     "\tFailed to start cron job - No cron job found for www/prod/nosuch."]
    r = aurora("cron", "show", "test/www/prod/nosuch")
    assert (r.returncode, r.stderr) == (6, "No cron entry found for job test/www/prod/nosuch\n")
    r = aurora("cron", "deschedule", "test/www/prod/nosuch")             # Aurora: OK, "not scheduled with cron"
    assert (r.returncode, r.stdout) == (0, "Cron descheduling succeeded.\n")

    # A job with active tasks but no cron schedule has no cron entry; nor can it be scheduled over.
    assert aurora("job", "create", "test/www/prod/live", aurora.config("live", 1)).returncode == 0
    r = aurora("cron", "show", "test/www/prod/live")
    assert (r.returncode, r.stderr) == (6, "No cron entry found for job test/www/prod/live\n")
    r = aurora("cron", "schedule", "test/www/prod/live", aurora.config("live", text=CRON.format(
        name="live", schedule="* * * * *")))
    assert r.returncode == 10 and r.stderr.splitlines()[1] == "\tJob www/prod/live already exists"
    assert aurora("job", "killall", "test/www/prod/live").returncode == 0

    r = aurora("cron", "start", "--config", aurora.config("broken", text="jobs = [Job(task=Tsk())]\n"),
               "test/www/prod/nosuch")
    assert r.returncode == 3 and r.stderr.startswith("Error executing command: Error loading configuration:")
    r = aurora("cron", "show", "nope/www/prod/x")
    assert (r.returncode, r.stderr.strip()) == (3, "Error executing command: Unknown cluster nope, valid clusters: "
                                                   "test")
    r = aurora("cron", "deschedule", "test/www/prod")
    assert r.returncode == 2 and "Invalid path 'test/www/prod'" in r.stderr
    r = aurora("cron", "schedule", "--open-browser", "test/www/prod/badcron", bad)   # start's option, not this
    assert r.returncode == 2 and "unrecognized arguments: --open-browser" in r.stderr
    assert "Traceback" not in r.stderr
