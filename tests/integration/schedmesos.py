"""A whole cluster on loopback for tests and benchmarks: real ZooKeeper, `aurora-scheduler` processes, the
Mesos-API stand-in with several agents, and real Thermos executors and runners.

    with MesosCluster(tmp_path, zookeeper.endpoints, agents=[{"attributes": "rack:a"}, ...]) as c:
        leader = c.sched.wait_leader()
        c.create(JOB_TEXT)                          # a .aurora text: loaded and converted as Aurora's client
        c.wait_tasks("www/prod/hello", lambda ts: all(t.status == RUNNING for t in ts))
"""
from __future__ import annotations

import os
import sys
import textwrap

from scheduler.mesos_standin.local import LocalMesos
from thermos_executor.aurora_api.gen.ttypes import JobKey, ResponseCode, TaskQuery
from thermos_executor.config import loader
from thermos_executor.config.thrift import convert

from tests.helpers import wait_for
from tests.integration.schedcluster import SchedulerCluster

EXECUTOR = os.path.join(os.path.dirname(sys.executable), "thermos_executor")
AGENT_RESOURCES = "cpus:4;mem:4096;disk:8192;ports:[31000-31999]"

# Fast clocks for tests; everything else is Aurora's default.
FAST_FLAGS = (
    f"-thermos_executor_path={EXECUTOR}", "-thermos_executor_flags=--nosetuid --stop_timeout_in_secs 10",
    "-thermos_executor_cpu=0.1", "-thermos_executor_ram=32MB",
    "-max_reschedule_task_delay_on_startup=100ms", "-initial_schedule_penalty=200ms",
    "-max_schedule_penalty=1secs", "-min_offer_hold_time=1mins", "-offer_filter_duration=0secs",
    "-initial_task_kill_retry_interval=2secs", "-max_registration_delay=30secs",
    "-flapping_task_threshold=5secs", "-initial_flapping_task_delay=2secs", "-max_flapping_task_delay=4secs",
    "-reconciliation_initial_delay=1hrs",
)


def job_config(text: str, tmp_dir, name: str = "job.aurora"):
    """A JobConfiguration from .aurora text, as `aurora job create` builds it."""
    path = os.path.join(os.fspath(tmp_dir), name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    loaded = loader.load(path)
    return convert(loader.choose_job(loaded), user=os.environ.get("USER", "root"))


def key(text: str) -> JobKey:
    role, environment, name = text.split("/")
    return JobKey(role=role, environment=environment, name=name)


class MesosCluster:
    def __init__(self, tmp_path, zk_endpoints: str, *, agents: list[dict] | int = 3, size: int = 3,
                 extra_args: tuple = (), zk_master: bool = False):
        """`zk_master`: the master announces itself in ZooKeeper and schedulers find it through `zk://`."""
        self.dir = os.fspath(tmp_path)
        zk = f"zk://{zk_endpoints}/mesos-{os.path.basename(self.dir)}" if zk_master else None
        self.mesos = LocalMesos(os.path.join(self.dir, "mesos"), resources=AGENT_RESOURCES, agents=agents,
                                heartbeat_interval=1.0, executor_registration_timeout=30.0, zk=zk)
        self.sched: SchedulerCluster | None = None
        self._size = size
        self._zk = zk_endpoints
        self._extra = tuple(extra_args)

    def __enter__(self) -> MesosCluster:
        self.mesos.start()
        master = self.mesos.zk_url or self.mesos.master_address
        self.sched = SchedulerCluster(self.dir, self._zk, size=self._size, mesos_master=master,
                                      extra_args=FAST_FLAGS + self._extra)
        self.sched.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.sched is not None:
            self.sched.close()
        self.mesos.stop()

    def client(self):
        return self.sched.client(self.sched.wait_leader())

    def create(self, text: str, name: str = "job.aurora"):
        reply = self.client().createJob(job_config(text, self.dir, name))
        assert reply.responseCode == ResponseCode.OK, reply
        return reply

    def tasks(self, job: str, statuses=None) -> list:
        reply = self.client().getTasksWithoutConfigs(TaskQuery(jobKeys={key(job)}, statuses=statuses))
        assert reply.responseCode == ResponseCode.OK, reply
        return reply.result.scheduleStatusResult.tasks

    def wait_tasks(self, job: str, condition, timeout: float = 60.0, what: str = "tasks"):
        """The job's tasks once `condition(tasks)` holds."""
        found = []

        def check():
            found[:] = self.tasks(job)
            return condition(found)
        try:
            wait_for(check, timeout, interval=0.1, what=what)
        except AssertionError:
            raise AssertionError(f"{what}: last seen {[(t.assignedTask.taskId, t.status) for t in found]}; "
                                 f"leader stderr tail: {self.leader_stderr()[-3000:]}") from None
        return list(found)

    def leader_stderr(self) -> str:
        leaders = self.sched.leaders()
        return self.sched.stderr(leaders[0]) if leaders else ""
