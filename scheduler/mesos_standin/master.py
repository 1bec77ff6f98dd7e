"""The master of the stand-in: frameworks, offers, tasks, and the scheduler side of the Mesos v1 API.

`Master` holds the state and the rules; `MasterApp` routes HTTP to it:

- `GET /version`, `GET /health`, `GET /state` (also `/state.json`, `/master/state`): a Mesos-shaped summary.
- `POST /api/v1/scheduler`: SUBSCRIBE answers 200 with a chunked RecordIO event stream and a `Mesos-Stream-Id`
  header; every other call must carry that header and is answered 202 with an empty body, or 4xx and one line.
- `GET /files/browse`, `GET /files/read`: the agent's sandboxes (one machine, so the master serves them too).

Offers: each agent's unallocated, unoffered resources go to one framework at a time (round robin among connected,
unsuppressed frameworks whose filters do not refuse them), one offer per agent; a framework gets the offers of one
allocation cycle in one OFFERS event. A cycle costs one pass over tasks, executors and offers plus one step per
agent, so a hundred agents stay cheap. DECLINE and the unused part of an ACCEPT install a
filter for `filters.refuse_seconds` (default 5 s, as Mesos); REVIVE clears a framework's filters. Agents are
in-process objects (`agent.Agent`) that the master calls directly, and that call back `observe_task_state`,
`forward_update`, `executor_terminated` and `executor_message`.

Everything runs on one tornado IOLoop; nothing here is thread-safe (LocalMesos marshals onto the loop).
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import logging
import os
import socket
import struct
import time
import uuid

import tornado.ioloop
import tornado.web

from scheduler.mesos_standin import protocol, web
from scheduler.mesos_standin.resources import ResourceError, Resources, attributes_summary
from scheduler.mesos_standin.web import CallError, id_value, require
from thermos_executor.mesos_state import MesosState, is_terminal

log = logging.getLogger(__name__)

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
EMPTY = Resources()


@dataclasses.dataclass
class Task:
    task_id: str
    framework_id: str
    agent_id: str
    executor_id: str
    info: dict
    resources: Resources
    state: str = MesosState.TASK_STAGING  # the latest state the agent knows (Mesos' task.state)
    status_update_state: str | None = None  # the state of the last update forwarded to the scheduler
    latest_status: dict | None = None
    statuses: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Offer:
    offer_id: str
    framework_id: str
    agent_id: str
    resources: Resources


@dataclasses.dataclass
class Filter:
    agent_id: str
    resources: Resources
    until: float


class Framework:
    def __init__(self, framework_id: str, info: dict):
        self.id = framework_id
        self.info = info
        self.stream: web.EventStream | None = None
        self.stream_id: str | None = None
        self.suppressed = False
        self.filters: dict[str, list[Filter]] = {}  # agent ID -> filters
        self.tasks: dict[str, Task] = {}
        self.completed_tasks: collections.deque[Task] = collections.deque(maxlen=1000)
        self.registered_time = time.time()
        self.failover_timer = None

    @property
    def connected(self) -> bool:
        return self.stream is not None and self.stream.is_open

    def send(self, event: dict) -> bool:
        return self.stream.send(event) if self.connected else False

    def refuses(self, agent_id: str, resources: Resources, now: float) -> bool:
        filters = self.filters.get(agent_id)
        if not filters:
            return False
        live = [f for f in filters if f.until > now]
        if len(live) != len(filters):
            if live:
                self.filters[agent_id] = live
            else:
                del self.filters[agent_id]
        return any(f.resources.contains(resources) for f in live)

    def filter_count(self) -> int:
        return sum(len(filters) for filters in self.filters.values())


class Master:
    """The master's state and rules. See the module docstring for the API it serves."""

    def __init__(self, *, ip: str = "127.0.0.1", hostname: str | None = None, heartbeat_interval: float = 15.0,
                 message_log: web.MessageLog | None = None, agent_root_fn=None):
        self.id = str(uuid.uuid4())
        self.ip = ip
        self.hostname = hostname or os.uname().nodename
        self.port = 0
        self.heartbeat_interval = heartbeat_interval
        self.message_log = message_log or web.MessageLog()
        self.start_time = time.time()
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: collections.deque[Framework] = collections.deque(maxlen=100)
        self.offers: dict[str, Offer] = {}
        self.agents: dict = {}
        self.executors: dict[tuple[str, str, str], Resources] = {}  # (agent, framework, executor) -> resources
        self._agent_root_fn = agent_root_fn
        self._sequences: collections.Counter = collections.Counter()
        self._allocation_pending = False
        self._round_robin = 0
        self._heartbeat = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def application(self) -> tornado.web.Application:
        root_fn = self._agent_root_fn or (lambda: "/nonexistent")
        return tornado.web.Application([
            (r"/version", web.VersionHandler),
            (r"/health", web.HealthHandler),
            (r"/(?:master/)?state(?:\.json)?", MasterStateHandler, {"master": self}),
            (r"/api/v1/scheduler", SchedulerHandler, {"master": self}),
            (r"/files/browse(?:\.json)?", web.FilesBrowseHandler, {"root_fn": root_fn}),
            (r"/files/read(?:\.json)?", web.FilesReadHandler, {"root_fn": root_fn}),
        ])

    def start_heartbeats(self) -> None:
        if self.heartbeat_interval and self.heartbeat_interval > 0:
            self._heartbeat = tornado.ioloop.PeriodicCallback(self._send_heartbeats, self.heartbeat_interval * 1000)
            self._heartbeat.start()

    def stop(self) -> None:
        if self._heartbeat:
            self._heartbeat.stop()
        for fw in list(self.frameworks.values()):
            if fw.failover_timer is not None:
                tornado.ioloop.IOLoop.current().remove_timeout(fw.failover_timer)
            if fw.stream:
                fw.stream.close()

    def _send_heartbeats(self) -> None:
        for fw in self.frameworks.values():
            fw.send(protocol.event("HEARTBEAT"))

    def _next(self, prefix: str) -> str:
        """Mesos' ID shapes: `<master>-0000` (frameworks), `<master>-S0` (agents), `<master>-O0` (offers)."""
        n = self._sequences[prefix]
        self._sequences[prefix] += 1
        return f"{self.id}-{prefix}{n:04d}" if not prefix else f"{self.id}-{prefix}{n}"

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def master_info(self) -> dict:
        try:
            packed = struct.unpack("<I", socket.inet_aton(self.ip))[0]
        except OSError:
            packed = 0
        return {"id": self.id, "ip": packed, "port": self.port, "pid": f"master@{self.ip}:{self.port}",
                "hostname": self.hostname, "version": web.MESOS_VERSION,
                "address": {"ip": self.ip, "hostname": self.hostname, "port": self.port}}

    # -- agents (called by agent.Agent) --------------------------------------------------------------------------
    def new_agent_id(self) -> str:
        return self._next("S")

    def add_agent(self, agent) -> None:
        self.agents[agent.id] = agent
        log.info("agent %s registered: %s", agent.id, agent.total)
        self._allocate_soon()

    def remove_agent(self, agent_id: str, message: str) -> None:
        """The agent is gone: rescind its offers, its tasks become LOST (UNREACHABLE if partition-aware),
        and every framework gets a FAILURE for the agent."""
        if self.agents.pop(agent_id, None) is None:
            return
        for offer in [o for o in self.offers.values() if o.agent_id == agent_id]:
            self._rescind(offer)
        for fw in self.frameworks.values():
            for task in [t for t in fw.tasks.values() if t.agent_id == agent_id]:
                state = MesosState.TASK_UNREACHABLE if protocol.partition_aware(fw.info) else MesosState.TASK_LOST
                status = protocol.status(task.task_id, state, source="SOURCE_MASTER", agent_id=agent_id,
                                         executor_id=task.executor_id, reason="REASON_AGENT_REMOVED",
                                         message=f"Agent {agent_id} removed: {message}")
                self._master_update(fw, task, status)
        for key in [k for k in self.executors if k[0] == agent_id]:
            del self.executors[key]
        for fw in self.frameworks.values():
            fw.send(protocol.event("FAILURE", {"agent_id": {"value": agent_id}}))

    def observe_task_state(self, framework_id: str, task_id: str, status: dict) -> None:
        """The agent learnt a new state for the task (before the update is forwarded)."""
        fw = self.frameworks.get(framework_id)
        task = fw.tasks.get(task_id) if fw else None
        if task is None:
            return
        was_terminal = is_terminal(task.state)
        task.state = status["state"]
        task.latest_status = status
        if is_terminal(task.state) and not was_terminal:
            self._allocate_soon()  # the task's resources are free again

    def forward_update(self, framework_id: str, status: dict) -> bool:
        """Forward an agent's status update to the scheduler; False if the framework cannot take it now."""
        fw = self.frameworks.get(framework_id)
        if fw is None:
            return False
        task = fw.tasks.get(status["task_id"]["value"])
        if task is not None:
            task.status_update_state = status["state"]
            task.statuses.append({"state": status["state"], "timestamp": status.get("timestamp", time.time())})
        return fw.send(protocol.event("UPDATE", {"status": status}))

    def executor_terminated(self, framework_id: str, agent_id: str, executor_id: str,
                            wait_status: int | None) -> None:
        """The executor is gone (wait_status None: it never started): free its resources, send FAILURE."""
        self.executors.pop((agent_id, framework_id, executor_id), None)
        fw = self.frameworks.get(framework_id)
        if fw is not None and wait_status is not None:
            fw.send(protocol.event("FAILURE", {"agent_id": {"value": agent_id}, "executor_id": {"value": executor_id},
                                               "status": wait_status}))
        self._allocate_soon()

    def executor_message(self, framework_id: str, agent_id: str, executor_id: str, data: str) -> None:
        fw = self.frameworks.get(framework_id)
        if fw is not None:
            fw.send(protocol.event("MESSAGE", {"agent_id": {"value": agent_id}, "executor_id": {"value": executor_id},
                                               "data": data}))

    # -- resources and offers ------------------------------------------------------------------------------------
    def used_by_agent(self) -> dict[str, Resources]:
        """Resources of live tasks and their executors, per agent ID, in one pass (agents with none are absent)."""
        used: dict[str, Resources] = {}
        for fw in self.frameworks.values():
            for task in fw.tasks.values():
                if not is_terminal(task.state) and not task.resources.empty():
                    used[task.agent_id] = used.get(task.agent_id, EMPTY) + task.resources
        for (agent_id, _, _), resources in self.executors.items():
            used[agent_id] = used.get(agent_id, EMPTY) + resources
        return used

    def offered_by_agent(self) -> dict[str, Resources]:
        """Resources in outstanding offers, per agent ID."""
        offered: dict[str, Resources] = {}
        for offer in self.offers.values():
            offered[offer.agent_id] = offered.get(offer.agent_id, EMPTY) + offer.resources
        return offered

    def used(self, agent_id: str) -> Resources:
        return self.used_by_agent().get(agent_id, EMPTY)

    def offered(self, agent_id: str) -> Resources:
        return self.offered_by_agent().get(agent_id, EMPTY)

    def available(self, agent_id: str) -> Resources:
        return self.agents[agent_id].total - self.used(agent_id) - self.offered(agent_id)

    def _allocate_soon(self) -> None:
        if not self._allocation_pending:
            self._allocation_pending = True
            tornado.ioloop.IOLoop.current().add_callback(self._allocate)

    def _allocate(self) -> None:
        """One allocation cycle: each agent's unoffered, unused resources become one offer to one framework;
        a framework gets all its new offers in one OFFERS event (as Mesos' batch allocator sends them)."""
        self._allocation_pending = False
        now = time.monotonic()
        frameworks = list(self.frameworks.values())
        if not any(fw.connected and not fw.suppressed for fw in frameworks):
            return
        used, offered = self.used_by_agent(), self.offered_by_agent()
        batches: dict[str, tuple[Framework, list[Offer]]] = {}
        n = len(frameworks)
        for agent in list(self.agents.values()):
            available = agent.total
            if agent.id in used:
                available = available - used[agent.id]
            if agent.id in offered:
                available = available - offered[agent.id]
            if available.empty():
                continue
            for i in range(n):
                fw = frameworks[(self._round_robin + i) % n]
                if not fw.connected or fw.suppressed or fw.refuses(agent.id, available, now):
                    continue
                self._round_robin = (self._round_robin + i + 1) % n
                offer = Offer(self._next("O"), fw.id, agent.id, available)
                self.offers[offer.offer_id] = offer
                batches.setdefault(fw.id, (fw, []))[1].append(offer)
                break
        for fw, offers in batches.values():
            bodies = [self._offer_json(fw, self.agents[o.agent_id], o) for o in offers]
            if not fw.send(protocol.event("OFFERS", {"offers": bodies})):
                for offer in offers:
                    self.offers.pop(offer.offer_id, None)

    def _offer_json(self, fw: Framework, agent, offer: Offer) -> dict:
        resources = offer.resources
        body = {
            "id": {"value": offer.offer_id},
            "framework_id": {"value": fw.id},
            "agent_id": {"value": agent.id},
            "hostname": agent.hostname,
            "url": {"scheme": "http", "address": {"hostname": agent.hostname, "ip": agent.ip, "port": agent.port},
                    "path": "/slave(1)"},
            "resources": resources.to_proto(),
            "attributes": agent.attributes,
        }
        executor_ids = agent.executor_ids(fw.id)
        if executor_ids:
            body["executor_ids"] = [{"value": e} for e in executor_ids]
        return body

    def _rescind(self, offer: Offer) -> None:
        self.offers.pop(offer.offer_id, None)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.send(protocol.event("RESCIND", {"offer_id": {"value": offer.offer_id}}))

    def rescind_offers(self) -> int:
        """Fault switch: rescind every outstanding offer (then offer again as usual). Returns how many."""
        offers = list(self.offers.values())
        for offer in offers:
            self._rescind(offer)
        self._allocate_soon()
        return len(offers)

    def _add_filter(self, fw: Framework, agent_id: str, resources: Resources, filters: dict | None) -> None:
        refuse = DEFAULT_REFUSE_SECONDS
        if isinstance(filters, dict) and filters.get("refuse_seconds") is not None:
            try:
                refuse = float(filters["refuse_seconds"])
            except (TypeError, ValueError):
                raise CallError(400, "'filters.refuse_seconds' must be a number") from None
            if refuse < 0 or refuse != refuse:
                refuse = DEFAULT_REFUSE_SECONDS  # Mesos: a negative value means the default
        refuse = min(refuse, MAX_REFUSE_SECONDS)
        if refuse > 0 and not resources.empty():
            fw.filters.setdefault(agent_id, []).append(Filter(agent_id, resources, time.monotonic() + refuse))
            tornado.ioloop.IOLoop.current().call_later(refuse, self._allocate_soon)

    # -- the scheduler API ---------------------------------------------------------------------------------------
    def subscribe(self, handler, call: dict) -> web.EventStream:
        require(call, "subscribe")
        require(call["subscribe"], "framework_info", where="subscribe.")
        info = dict(call["subscribe"]["framework_info"])
        require(info, "user", "name", where="subscribe.framework_info.")
        top_id = call.get("framework_id")
        info_id = info.get("id")
        if top_id is not None and info_id is not None and top_id != info_id:
            raise CallError(400, "'framework_id' differs from 'subscribe.framework_info.id'")
        wanted = id_value(top_id or info_id, "framework_id") if (top_id or info_id) else None
        stream = web.EventStream(handler, "scheduler", self.message_log, stream_id=web.new_stream_id())
        if wanted and any(f.id == wanted for f in self.completed_frameworks):
            stream.send(protocol.event("ERROR", {"message": "Framework has been removed"}))
            stream.close()
            return stream
        fw = self.frameworks.get(wanted) if wanted else None
        if fw is None:
            fw = Framework(wanted or self._next(""), info)
            self.frameworks[fw.id] = fw
            log.info("framework %s (%s) registered", fw.id, info.get("name"))
        else:
            if fw.failover_timer is not None:
                tornado.ioloop.IOLoop.current().remove_timeout(fw.failover_timer)
                fw.failover_timer = None
            if fw.connected:
                fw.send(protocol.event("ERROR", {"message": "Framework failed over"}))
                fw.stream.close()
            log.info("framework %s (%s) re-subscribed", fw.id, info.get("name"))
        info["id"] = {"value": fw.id}
        fw.info = info
        fw.stream, fw.stream_id = stream, stream.stream_id
        stream.closed.add_done_callback(lambda _: self._stream_closed(fw, stream))
        stream.send(protocol.event("SUBSCRIBED", {
            "framework_id": {"value": fw.id},
            "heartbeat_interval_seconds": float(self.heartbeat_interval),
            "master_info": self.master_info(),
        }))
        for agent in self.agents.values():
            agent.resend_updates(fw.id)
        self._allocate_soon()
        return stream

    def _stream_closed(self, fw: Framework, stream: web.EventStream) -> None:
        if fw.stream is not stream or self.frameworks.get(fw.id) is not fw:
            return
        for offer in [o for o in self.offers.values() if o.framework_id == fw.id]:
            del self.offers[offer.offer_id]
        timeout = fw.info.get("failover_timeout") or 0.0
        try:
            timeout = max(0.0, float(timeout))
        except (TypeError, ValueError):
            timeout = 0.0
        log.info("framework %s disconnected; failover timeout %ss", fw.id, timeout)
        loop = tornado.ioloop.IOLoop.current()
        fw.failover_timer = loop.call_later(timeout, lambda: self._failover_expired(fw, stream))
        self._allocate_soon()

    def _failover_expired(self, fw: Framework, stream) -> None:
        if fw.stream is stream and not fw.connected and self.frameworks.get(fw.id) is fw:
            log.info("framework %s did not fail over in time: removing it", fw.id)
            self._remove_framework(fw)

    def call(self, call: dict, stream_id: str | None) -> None:
        """Apply one non-SUBSCRIBE call; raises CallError for a bad one."""
        kind = call["type"]
        if kind == "SUBSCRIBE":
            raise CallError(400, "SUBSCRIBE must be the only call on its connection")
        require(call, "framework_id")
        framework_id = id_value(call["framework_id"], "framework_id")
        fw = self.frameworks.get(framework_id)
        if fw is None:
            if any(f.id == framework_id for f in self.completed_frameworks):
                raise CallError(400, f"Framework {framework_id} has been removed")
            raise CallError(400, f"Framework {framework_id} cannot be found")
        if not stream_id:
            raise CallError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != fw.stream_id:
            raise CallError(400, f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                                 f"currently associated with framework ID {fw.id}")
        handler = getattr(self, f"_call_{kind.lower()}", None)
        if handler is None:
            raise CallError(400, f"Call type {kind} is not supported by the Mesos-API stand-in")
        handler(fw, call)

    def _call_teardown(self, fw: Framework, call: dict) -> None:
        self._remove_framework(fw)

    def _call_decline(self, fw: Framework, call: dict) -> None:
        require(call, "decline")
        offer_ids = [id_value(o, "decline.offer_ids") for o in call["decline"].get("offer_ids") or []]
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None or offer.framework_id != fw.id:
                log.info("framework %s declined unknown offer %s", fw.id, offer_id)
                continue
            del self.offers[offer_id]
            self._add_filter(fw, offer.agent_id, offer.resources, call["decline"].get("filters"))
        self._allocate_soon()

    def _call_revive(self, fw: Framework, call: dict) -> None:
        fw.filters.clear()
        fw.suppressed = False
        self._allocate_soon()

    def _call_suppress(self, fw: Framework, call: dict) -> None:
        fw.suppressed = True

    def _call_request(self, fw: Framework, call: dict) -> None:
        pass  # Mesos' allocator ignores requests too

    def _call_accept_inverse_offers(self, fw: Framework, call: dict) -> None:
        pass  # the stand-in makes no inverse offers

    _call_decline_inverse_offers = _call_accept_inverse_offers

    def _call_kill(self, fw: Framework, call: dict) -> None:
        require(call, "kill")
        require(call["kill"], "task_id", where="kill.")
        task_id = id_value(call["kill"]["task_id"], "kill.task_id")
        task = fw.tasks.get(task_id)
        if task is None:
            log.info("kill of unknown task %s: reconciling it", task_id)
            self._reconcile_explicit(fw, [{"task_id": {"value": task_id}}])
            return
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.kill_task(fw.id, task_id, call["kill"].get("kill_policy"))

    def _call_shutdown(self, fw: Framework, call: dict) -> None:
        require(call, "shutdown")
        require(call["shutdown"], "executor_id", "agent_id", where="shutdown.")
        executor_id = id_value(call["shutdown"]["executor_id"], "shutdown.executor_id")
        agent = self.agents.get(id_value(call["shutdown"]["agent_id"], "shutdown.agent_id"))
        if agent is not None:
            agent.shutdown_executor(fw.id, executor_id)

    def _call_acknowledge(self, fw: Framework, call: dict) -> None:
        require(call, "acknowledge")
        require(call["acknowledge"], "agent_id", "task_id", "uuid", where="acknowledge.")
        ack = call["acknowledge"]
        agent_id = id_value(ack["agent_id"], "acknowledge.agent_id")
        task_id = id_value(ack["task_id"], "acknowledge.task_id")
        if not isinstance(ack["uuid"], str):
            raise CallError(400, "'acknowledge.uuid' must be a base64 string")
        agent = self.agents.get(agent_id)
        if agent is None:
            log.info("acknowledgement for task %s on unknown agent %s ignored", task_id, agent_id)
            return
        acked = agent.acknowledge(fw.id, task_id, ack["uuid"])
        if acked is not None and is_terminal(acked["state"]):
            self._complete(fw, task_id)

    def _call_reconcile(self, fw: Framework, call: dict) -> None:
        tasks = (call.get("reconcile") or {}).get("tasks") or []
        if not isinstance(tasks, list):
            raise CallError(400, "'reconcile.tasks' must be a list")
        if tasks:
            self._reconcile_explicit(fw, tasks)
            return
        for task in list(fw.tasks.values()):
            fw.send(protocol.event("UPDATE", {"status": self._reconciliation_status(task)}))

    def _reconcile_explicit(self, fw: Framework, tasks: list) -> None:
        statuses = []
        for entry in tasks:
            require(entry, "task_id", where="reconcile.tasks[].")
            task_id = id_value(entry["task_id"], "reconcile.tasks[].task_id")
            agent_id = entry["agent_id"].get("value") if isinstance(entry.get("agent_id"), dict) else None
            task = fw.tasks.get(task_id)
            aware = protocol.partition_aware(fw.info)
            if task is not None:
                statuses.append(self._reconciliation_status(task))
            elif agent_id and agent_id in self.agents:
                statuses.append(protocol.status(task_id, MesosState.TASK_GONE if aware else MesosState.TASK_LOST,
                                                source="SOURCE_MASTER", agent_id=agent_id,
                                                reason="REASON_RECONCILIATION",
                                                message="Reconciliation: Task is unknown to the agent"))
            else:
                statuses.append(protocol.status(task_id, MesosState.TASK_UNKNOWN if aware else MesosState.TASK_LOST,
                                                source="SOURCE_MASTER", reason="REASON_RECONCILIATION",
                                                message="Reconciliation: Task is unknown"))
        for status in statuses:
            fw.send(protocol.event("UPDATE", {"status": status}))

    def _reconciliation_status(self, task: Task) -> dict:
        status = protocol.status(task.task_id, task.state, source="SOURCE_MASTER", agent_id=task.agent_id,
                                 executor_id=task.executor_id, reason="REASON_RECONCILIATION",
                                 message="Reconciliation: Latest task state")
        latest = task.latest_status or {}
        for key in ("data", "healthy", "labels", "container_status"):
            if key in latest:
                status[key] = latest[key]
        return status

    def _call_message(self, fw: Framework, call: dict) -> None:
        require(call, "message")
        require(call["message"], "agent_id", "executor_id", "data", where="message.")
        message = call["message"]
        agent = self.agents.get(id_value(message["agent_id"], "message.agent_id"))
        if agent is not None:
            agent.framework_message(fw.id, id_value(message["executor_id"], "message.executor_id"), message["data"])

    def _call_accept(self, fw: Framework, call: dict) -> None:
        require(call, "accept")
        accept = call["accept"]
        offer_ids = [id_value(o, "accept.offer_ids") for o in accept.get("offer_ids") or []]
        if not offer_ids:
            raise CallError(400, "Expecting 'accept.offer_ids' to hold at least one offer ID")
        operations = accept.get("operations") or []
        if not isinstance(operations, list):
            raise CallError(400, "'accept.operations' must be a list")
        launches = []
        for op in operations:
            if not isinstance(op, dict) or not isinstance(op.get("type"), str):
                raise CallError(400, "Expecting 'accept.operations[].type' to be present")
            if op["type"] == "LAUNCH":
                require(op, "launch", where="accept.operations[].")
                tasks = op["launch"].get("task_infos") or []
                for task in tasks:
                    require(task, "name", "task_id", "agent_id", where="accept.operations[].launch.task_infos[].")
                    id_value(task["task_id"], "task_infos[].task_id")
                    id_value(task["agent_id"], "task_infos[].agent_id")
                    if "data" in task and not _is_base64(task["data"]):
                        raise CallError(400, "'accept.operations[].launch.task_infos[].data' is not base64")
                launches.extend(tasks)
            elif op["type"] == "LAUNCH_GROUP":
                raise CallError(400, "LAUNCH_GROUP is not supported by the Mesos-API stand-in")
            else:
                log.warning("framework %s: operation %s ignored (the stand-in only launches)", fw.id, op["type"])

        error, offers = None, []
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None:
                error = error or f"Offer {offer_id} is no longer valid"
            elif offer.framework_id != fw.id:
                error = error or f"Offer {offer_id} has invalid framework"
            elif offer in offers:
                error = error or f"Duplicate offer {offer_id} in offer list"
            else:
                offers.append(offer)
        if offers and len({o.agent_id for o in offers}) > 1:
            error = error or "Aggregated offers must belong to one single agent"
        for offer in offers:
            self.offers.pop(offer.offer_id, None)
        if error:
            state = MesosState.TASK_DROPPED if protocol.partition_aware(fw.info) else MesosState.TASK_LOST
            for task in launches:
                fw.send(protocol.event("UPDATE", {"status": protocol.status(
                    task["task_id"]["value"], state, source="SOURCE_MASTER", reason="REASON_INVALID_OFFERS",
                    message=f"Task launched with invalid offers: {error}")}))
            self._allocate_soon()
            return

        agent = self.agents.get(offers[0].agent_id)
        available = Resources()
        for offer in offers:
            available = available + offer.resources
        new_executors: set[str] = set()
        for task in launches:
            task_id = task["task_id"]["value"]
            try:
                needed, executor_resources, executor_id = self._validate_task(fw, task, agent, new_executors)
                if not available.contains(needed):
                    raise ValueError(f"Total resources {needed} required by task and its executor is more than "
                                     f"available {available}")
            except (ValueError, ResourceError) as e:
                fw.send(protocol.event("UPDATE", {"status": protocol.status(
                    task_id, MesosState.TASK_ERROR, source="SOURCE_MASTER", agent_id=offers[0].agent_id,
                    reason="REASON_TASK_INVALID", message=str(e))}))
                continue
            available = available - needed
            if executor_resources is not None:
                new_executors.add(executor_id)
                self.executors[(agent.id, fw.id, executor_id)] = executor_resources
            fw.tasks[task_id] = Task(task_id, fw.id, agent.id, executor_id, task,
                                     Resources.from_proto(task.get("resources")))
            agent.launch(fw.info, task)
        self._add_filter(fw, agent.id, available, accept.get("filters"))
        self._allocate_soon()

    def _validate_task(self, fw: Framework, task: dict, agent, new_executors: set) -> tuple:
        """(resources needed incl. a new executor's, that executor's resources or None, executor id)."""
        task_id = task["task_id"]["value"]
        if task_id in fw.tasks:
            raise ValueError(f"Task has duplicate ID: {task_id}")
        if agent is None or task["agent_id"]["value"] != agent.id:
            raise ValueError(f"Task uses agent ID {task['agent_id']['value']} which is not the agent of its offers")
        has_executor, has_command = "executor" in task, "command" in task
        if has_executor == has_command:
            raise ValueError("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
        if has_command:
            raise ValueError("The Mesos-API stand-in runs only tasks with an ExecutorInfo (custom executors); "
                             "command tasks are not supported")
        executor = task["executor"]
        if not isinstance(executor, dict):
            raise ValueError("'executor' must be an ExecutorInfo object")
        executor_id = executor.get("executor_id", {}).get("value") if isinstance(executor.get("executor_id"),
                                                                                 dict) else None
        if not executor_id:
            raise ValueError("Expecting 'executor.executor_id' to be present")
        if "framework_id" in executor and executor["framework_id"] != {"value": fw.id}:
            raise ValueError("ExecutorInfo has an invalid FrameworkID")
        command = executor.get("command")
        if not isinstance(command, dict) or not isinstance(command.get("value", ""), str):
            raise ValueError("Expecting 'executor.command' to be present")
        if command.get("shell", True) and not command.get("value"):
            raise ValueError("'executor.command.value' is required for a shell command")
        task_resources = Resources.from_proto(task.get("resources"))
        executor_resources = Resources.from_proto(executor.get("resources"))
        if executor_id in new_executors or agent.has_executor(fw.id, executor_id):
            return task_resources, None, executor_id
        return task_resources + executor_resources, executor_resources, executor_id

    # -- framework removal and task completion -------------------------------------------------------------------
    def _remove_framework(self, fw: Framework) -> None:
        if self.frameworks.pop(fw.id, None) is None:
            return
        log.info("framework %s removed", fw.id)
        if fw.failover_timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(fw.failover_timer)
            fw.failover_timer = None
        for offer in [o for o in self.offers.values() if o.framework_id == fw.id]:
            del self.offers[offer.offer_id]
        for task in list(fw.tasks.values()):
            if not is_terminal(task.state):
                task.state = MesosState.TASK_KILLED
            self._complete(fw, task.task_id)
        for agent in self.agents.values():
            agent.shutdown_framework(fw.id)
        for key in [k for k in self.executors if k[1] == fw.id]:
            del self.executors[key]
        self.completed_frameworks.append(fw)
        if fw.stream:
            fw.stream.close()
        self._allocate_soon()

    def _master_update(self, fw: Framework, task: Task, status: dict) -> None:
        """An update the master makes itself (no uuid, no acknowledgement): the task is over."""
        task.state = status["state"]
        task.latest_status = status
        task.statuses.append({"state": status["state"], "timestamp": status["timestamp"]})
        fw.send(protocol.event("UPDATE", {"status": status}))
        self._complete(fw, task.task_id)

    def _complete(self, fw: Framework, task_id: str) -> None:
        task = fw.tasks.pop(task_id, None)
        if task is not None:
            fw.completed_tasks.append(task)
            self._allocate_soon()

    # -- /state --------------------------------------------------------------------------------------------------
    def state(self) -> dict:
        def task_json(task: Task) -> dict:
            return {"id": task.task_id, "name": task.info.get("name", ""), "framework_id": task.framework_id,
                    "executor_id": task.executor_id, "slave_id": task.agent_id, "state": task.state,
                    "resources": task.resources.summary(), "statuses": list(task.statuses)}

        def framework_json(fw: Framework, active: bool) -> dict:
            used = Resources()
            for task in fw.tasks.values():
                if not is_terminal(task.state):
                    used = used + task.resources
            offered = Resources()
            for offer in self.offers.values():
                if offer.framework_id == fw.id:
                    offered = offered + offer.resources
            return {"id": fw.id, "name": fw.info.get("name"), "user": fw.info.get("user"),
                    "role": fw.info.get("role", "*"), "hostname": fw.info.get("hostname", ""),
                    "failover_timeout": fw.info.get("failover_timeout", 0), "checkpoint": fw.info.get("checkpoint",
                                                                                                       False),
                    "active": active and fw.connected, "connected": fw.connected, "suppressed": fw.suppressed,
                    "registered_time": fw.registered_time,
                    "tasks": [task_json(t) for t in fw.tasks.values()],
                    "completed_tasks": [task_json(t) for t in fw.completed_tasks],
                    "offers": [{"id": o.offer_id, "slave_id": o.agent_id, "resources": o.resources.summary()}
                               for o in self.offers.values() if o.framework_id == fw.id],
                    "offered_resources": offered.summary(), "used_resources": used.summary(),
                    "filters": fw.filter_count()}

        slaves = []
        used, offered = self.used_by_agent(), self.offered_by_agent()
        for agent in self.agents.values():
            slaves.append({"id": agent.id, "hostname": agent.hostname, "port": agent.port,
                           "pid": f"slave(1)@{agent.ip}:{agent.port}", "active": True,
                           "resources": agent.total.summary(),
                           "used_resources": used.get(agent.id, EMPTY).summary(),
                           "offered_resources": offered.get(agent.id, EMPTY).summary(),
                           "unreserved_resources": agent.total.summary(),
                           "attributes": attributes_summary(agent.attributes), "version": web.MESOS_VERSION})
        return {
            "version": web.MESOS_VERSION, "id": self.id, "pid": f"master@{self.ip}:{self.port}",
            "hostname": self.hostname, "start_time": self.start_time, "leader": f"master@{self.ip}:{self.port}",
            "leader_info": self.master_info(), "activated_slaves": len(self.agents), "deactivated_slaves": 0,
            "slaves": slaves,
            "frameworks": [framework_json(f, True) for f in self.frameworks.values()],
            "completed_frameworks": [framework_json(f, False) for f in self.completed_frameworks],
            "orphan_tasks": [], "unregistered_frameworks": [],
        }


def _is_base64(value) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return isinstance(value, str)
    except (ValueError, TypeError):
        return False


class MasterStateHandler(web.Handler):
    def initialize(self, master: Master):
        self.master = master

    def get(self):
        self.send_json(self.master.state())


class SchedulerHandler(web.StreamingHandler):
    """POST /api/v1/scheduler: SUBSCRIBE becomes an event stream; other calls answer 202."""

    def initialize(self, master: Master):
        self.master = master

    async def post(self):
        stream_id = self.request.headers.get("Mesos-Stream-Id")
        await self.serve_call("scheduler", self.master.message_log, self.master.subscribe,
                              lambda call: self.master.call(call, stream_id))
