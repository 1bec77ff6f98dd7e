"""A small Mesos framework for tests, on the unmodified `pymesos.MesosSchedulerDriver`.

    fw = TestFramework(mesos.master_address).start()
    fw.launch([task_info("t1", f"{sys.executable} {ECHO_EXECUTOR}", b'{"finish": true}')])
    fw.wait_for_state("t1", "TASK_FINISHED")
    fw.stop()

It records every callback in order (updates, offers, rescinds, failures, errors, heartbeats) and waits on them with
a condition and a deadline, never by sleeping. Pending launches go to the first offer that fits all of them
(agent_id filled in, `ports: N` requests turned into concrete ports from the offer); other offers are declined
with `decline_refuse_seconds`. Callbacks run on pymesos' I/O thread, so they only record and never block.
"""
from __future__ import annotations

import base64
import copy
import os
import sys
import threading
import time

from pymesos import MesosSchedulerDriver, Scheduler

from scheduler.mesos_standin.resources import Resources

ECHO_EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "echo_executor.py")


def echo_command() -> str:
    """The shell command that runs tests/fixtures/echo_executor.py with this interpreter."""
    return f"{sys.executable} {ECHO_EXECUTOR}"


def task_info(task_id: str, executor_command: str, data: bytes = b"", resources: dict | None = None,
              executor_id: str | None = None, executor_resources: dict | None = None,
              environment: dict | None = None) -> dict:
    """A TaskInfo for a custom executor run by `executor_command` (through /bin/sh).

    `resources` is like `{'cpus': 0.1, 'mem': 32, 'ports': 2}`: scalars, and `ports` either a count (filled in
    from the offer at launch) or a list of (begin, end) ranges. `environment` goes to the executor's
    command.environment.
    """
    resources = dict(resources or {"cpus": 0.1, "mem": 32})
    ports = resources.pop("ports", None)
    task = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": ""},
        "resources": Resources.from_dict(resources).to_proto(),
        "executor": {
            "executor_id": {"value": executor_id or f"{task_id}-executor"},
            "name": f"executor for {task_id}",
            "command": {"value": executor_command, "shell": True},
        },
        "data": base64.b64encode(data).decode("ascii"),
    }
    if executor_resources:
        task["executor"]["resources"] = Resources.from_dict(executor_resources).to_proto()
    if environment:
        task["executor"]["command"]["environment"] = {
            "variables": [{"name": k, "value": v} for k, v in environment.items()]}
    if isinstance(ports, int):
        task["_ports"] = ports  # resolved from the offer at launch
    elif ports:
        task["resources"] += Resources.from_dict({"ports": ports}).to_proto()
    return task


class TestFramework(Scheduler):
    """A pymesos scheduler recording what it sees; see the module docstring."""

    __test__ = False  # not a pytest test class

    def __init__(self, master_address: str, name: str = "test-framework", checkpoint: bool = False,
                 failover_timeout: float = 100.0, capabilities: tuple = (), decline_refuse_seconds: float = 5.0,
                 hold_offers: bool = False, implicit_acknowledgements: bool = True):
        self.framework_info = {"user": os.environ.get("USER") or "root", "name": name, "checkpoint": checkpoint,
                               "failover_timeout": failover_timeout, "hostname": os.uname().nodename}
        if capabilities:
            self.framework_info["capabilities"] = [{"type": c} for c in capabilities]
        self.decline_refuse_seconds = decline_refuse_seconds
        self.hold_offers = hold_offers
        self.driver = MesosSchedulerDriver(self, self.framework_info, master_address,
                                           implicit_acknowledgements=implicit_acknowledgements)
        self.cond = threading.Condition()
        self.framework_id: str | None = None
        self.registrations = 0
        self.disconnections = 0
        self.updates: list[dict] = []
        self.offers: list[dict] = []
        self.held_offers: list[dict] = []
        self.rescinded: list[str] = []
        self.failures: list[dict] = []
        self.errors: list[str] = []
        self.messages: list[dict] = []
        self.heartbeats = 0
        self.pending: list[dict] = []
        self.pending_agent: str | None = None  # launch only on this agent's offers (None: any agent)
        self.launched_on: dict[str, dict] = {}

    # -- control -------------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> TestFramework:
        self.driver.start()
        self.wait_for(lambda: self.framework_id, timeout, "framework registration")
        return self

    def stop(self, failover: bool = False) -> None:
        """Stop the driver; without `failover` pymesos sends TEARDOWN first."""
        self.driver.stop(failover)
        self.driver.join()

    def launch(self, tasks: list[dict], revive: bool = True, agent_id: str | None = None) -> None:
        """Launch on the next offer that fits all `tasks` (REVIVE first, clearing our filters), from the agent
        `agent_id` if given."""
        with self.cond:
            self.pending.extend(copy.deepcopy(tasks))
            self.pending_agent = agent_id
            held, self.held_offers = self.held_offers, []
        if held:
            self._use(self.driver, held)
        elif revive:
            self.driver.reviveOffers()

    def kill(self, task_id: str) -> None:
        self.driver.killTask({"value": task_id})

    def reconcile(self, task_ids: list[str] | None = None) -> None:
        """Explicit reconciliation of `task_ids`, implicit (all tasks) when None."""
        self.driver.reconcileTasks([{"task_id": {"value": t}} for t in task_ids or []])

    def decline_held(self, refuse_seconds: float | None = None) -> None:
        with self.cond:
            held, self.held_offers = self.held_offers, []
        for offer in held:
            filters = None if refuse_seconds is None else {"refuse_seconds": refuse_seconds}
            self.driver.declineOffer(offer["id"], filters)

    # -- waiting -------------------------------------------------------------------------------------------------
    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; updates: "
                                         f"{[(u['task_id']['value'], u['state']) for u in self.updates]}")
                self.cond.wait(left)

    def wait_for_state(self, task_id: str, state: str, timeout: float = 10.0) -> dict:
        """The first update of `task_id` with `state` (waiting for it if needed)."""
        return self.wait_for(lambda: next((u for u in self.updates if u["task_id"]["value"] == task_id
                                           and u["state"] == state), None), timeout, f"{task_id} {state}")

    def states(self, task_id: str) -> list[str]:
        with self.cond:
            return [u["state"] for u in self.updates if u["task_id"]["value"] == task_id]

    def _record(self, fn) -> None:
        with self.cond:
            fn()
            self.cond.notify_all()

    # -- pymesos callbacks (I/O thread) --------------------------------------------------------------------------
    def registered(self, driver, framework_id, master_info):
        def rec():
            self.framework_id = framework_id["value"]
            self.registrations += 1
        self._record(rec)

    def reregistered(self, driver, master_info):
        self._record(lambda: setattr(self, "registrations", self.registrations + 1))

    def disconnected(self, driver):
        self._record(lambda: setattr(self, "disconnections", self.disconnections + 1))

    def resourceOffers(self, driver, offers):
        self._record(lambda: self.offers.extend(offers))
        self._use(driver, offers)

    def _use(self, driver, offers):
        for offer in offers:
            with self.cond:
                tasks = self._fit(offer) if self.pending else None
                if tasks is not None:
                    self.pending = []
                    for task in tasks:
                        self.launched_on[task["task_id"]["value"]] = offer
                elif self.hold_offers:
                    self.held_offers.append(offer)
                self.cond.notify_all()
            if tasks is not None:
                driver.launchTasks(offer["id"], tasks)
            elif not self.hold_offers:
                driver.declineOffer(offer["id"], {"refuse_seconds": self.decline_refuse_seconds})

    def _fit(self, offer) -> list[dict] | None:
        if self.pending_agent is not None and offer["agent_id"]["value"] != self.pending_agent:
            return None
        available = Resources.from_proto(offer["resources"])
        ports = list(_iter_ports(available.ranges.get("ports", ())))
        tasks = []
        for pending in self.pending:
            task = copy.deepcopy(pending)
            count = task.pop("_ports", 0)
            if count:
                if len(ports) < count:
                    return None
                chosen, ports = ports[:count], ports[count:]
                task["resources"] += Resources.from_dict({"ports": [(p, p) for p in chosen]}).to_proto()
            needed = Resources.from_proto(task["resources"]) + Resources.from_proto(
                task["executor"].get("resources"))
            if not available.contains(needed):
                return None
            available = available - needed
            task["agent_id"] = offer["agent_id"]
            tasks.append(task)
        return tasks

    def offerRescinded(self, driver, offer_id):
        def rec():
            self.rescinded.append(offer_id["value"])
            self.held_offers = [o for o in self.held_offers if o["id"] != offer_id]
        self._record(rec)

    def statusUpdate(self, driver, update):
        self._record(lambda: self.updates.append(update))

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        self._record(lambda: self.messages.append({"executor_id": executor_id, "agent_id": agent_id,
                                                   "data": message}))

    def slaveLost(self, driver, agent_id):
        self._record(lambda: self.failures.append({"agent_id": agent_id["value"]}))

    def executorLost(self, driver, executor_id, agent_id, status):
        self._record(lambda: self.failures.append({"agent_id": agent_id["value"],
                                                   "executor_id": executor_id["value"], "status": status}))

    def error(self, driver, message):
        self._record(lambda: self.errors.append(message))

    def processHeartBeat(self, driver):
        self._record(lambda: setattr(self, "heartbeats", self.heartbeats + 1))


def _iter_ports(ranges):
    for begin, end in ranges:
        yield from range(begin, end + 1)
