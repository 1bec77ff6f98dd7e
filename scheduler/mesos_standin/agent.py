"""The agent of the stand-in: launches executors for real and serves the executor side of the Mesos v1 API.

`Agent` holds the executors and the status update manager; `ExecutorHandler` routes `POST /api/v1/executor`:

- SUBSCRIBE answers 200 with a chunked RecordIO stream: SUBSCRIBED {executor_info, framework_info, agent_info,
  container_id}, then LAUNCH, KILL, ACKNOWLEDGED, MESSAGE, SHUTDOWN events.
- UPDATE and MESSAGE answer 202. Updates go through a per-task queue, as in Mesos' status update manager: only
  the oldest unacknowledged update of a task is forwarded to the scheduler; its ACKNOWLEDGE pops it, sends
  ACKNOWLEDGED to the executor (for updates the executor sent) and forwards the next. A framework that
  (re)subscribes gets the heads of its queues again.

Executor life: LAUNCHING (process started, not subscribed; tasks wait in `queued`) -> REGISTERED -> TERMINATING
(SHUTDOWN sent, SIGKILL to the tree after the grace period) -> TERMINATED. When the process exits, every task that
is not terminal gets an update from the agent (TASK_FAILED "Executor terminated: ..." unless a pending reason says
otherwise) and the framework gets a FAILURE with the wait status. Exits are noticed at once through a pidfd on the
IOLoop, not by polling.

Also served: `GET /state` (agent-shaped), `/files/browse`, `/files/read`, `/version`, `/health`.
"""
from __future__ import annotations

import collections
import logging
import os
import time
import uuid

import tornado.httpserver
import tornado.ioloop
import tornado.web

from scheduler.mesos_standin import containerizer, protocol, web
from scheduler.mesos_standin.resources import Resources, attributes_summary
from scheduler.mesos_standin.web import CallError, id_value, require
from thermos_executor.daemon.http import bind_sockets
from thermos_executor.mesos_state import MesosState, STATES, is_terminal

log = logging.getLogger(__name__)

LAUNCHING, REGISTERED, TERMINATING, TERMINATED = "LAUNCHING", "REGISTERED", "TERMINATING", "TERMINATED"


class Executor:
    """One executor run (one container) on this agent."""

    def __init__(self, framework_info: dict, info: dict, container_id: str, directory: str, grace: float):
        self.framework_id = framework_info["id"]["value"]
        self.framework_info = framework_info
        self.executor_id = info["executor_id"]["value"]
        self.info = info
        self.container_id = container_id
        self.directory = directory
        self.grace = grace
        self.state = LAUNCHING
        self.process = None
        self.pidfd: int | None = None
        self.stream: web.EventStream | None = None
        self.queued: dict[str, dict] = {}  # launched by the scheduler, not yet delivered (not subscribed)
        self.tasks: dict[str, dict] = {}  # delivered to the executor
        self.states: dict[str, str] = {}  # latest state per task, from updates
        self.seen_uuids: set[str] = set()
        self.termination: tuple[str, str, str] | None = None  # (state, reason, message) for live tasks at exit
        self.timers: list = []
        self.lost = False
        self.wait_status: int | None = None
        self.subscriptions = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.framework_id, self.executor_id

    @property
    def connected(self) -> bool:
        return self.stream is not None and self.stream.is_open

    def live_tasks(self) -> list[str]:
        return list(self.queued) + [t for t in self.tasks if not is_terminal(self.states.get(t, ""))]


class Agent:
    """One Mesos agent on this machine, with its own ID, host name, port and work dir. See the module docstring;
    `Cluster` builds one per `AgentSpec`. It owns one listening socket and no thread or timer at rest, so a
    hundred of them in one process cost little."""

    def __init__(self, master, work_dir: str, resources: Resources, attributes: list[dict], *,
                 hostname: str | None = None, ip: str = "127.0.0.1", port: int = 0,
                 executor_env: dict | None = None, registration_timeout: float = 60.0,
                 reregistration_timeout: float = 10.0, shutdown_grace_period: float = 5.0,
                 message_log: web.MessageLog | None = None, name: str = "agent1"):
        self.master = master
        self.name = name
        self.work_dir = os.path.abspath(work_dir)
        self.total = resources
        self.attributes = attributes
        self.hostname = hostname or os.uname().nodename
        self.ip = ip
        self.port = port
        self.executor_env = dict(executor_env or {})
        self.registration_timeout = registration_timeout
        self.reregistration_timeout = reregistration_timeout
        self.shutdown_grace_period = shutdown_grace_period
        self.message_log = message_log or web.MessageLog()
        self.id = master.new_agent_id()
        self.executors: dict[tuple[str, str], Executor] = {}
        self.completed_executors: collections.deque[Executor] = collections.deque(maxlen=200)
        self.updates: dict[tuple[str, str], collections.deque] = {}  # (framework, task) -> [(status, executor key)]
        self.removed_frameworks: set[str] = set()
        self.drop_updates = 0
        self._server: tornado.httpserver.HTTPServer | None = None

    # -- serving -------------------------------------------------------------------------------------------------
    def application(self) -> tornado.web.Application:
        return tornado.web.Application([
            (r"/version", web.VersionHandler),
            (r"/health", web.HealthHandler),
            (r"/(?:slave\(1\)/)?state(?:\.json)?", AgentStateHandler, {"agent": self}),
            (r"/api/v1/executor", ExecutorHandler, {"agent": self}),
            (r"/files/browse(?:\.json)?", web.FilesBrowseHandler, {"root_fn": lambda: self.work_dir}),
            (r"/files/read(?:\.json)?", web.FilesReadHandler, {"root_fn": lambda: self.work_dir}),
        ])

    def listen(self) -> None:
        """Serve on ip:port (port 0 picks a free one, kept for later restarts) and register with the master."""
        sockets = bind_sockets(self.ip, self.port, "agent")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(self.application())
        self._server.add_sockets(sockets)
        if self.id not in self.master.agents:
            self.master.add_agent(self)

    async def stop_serving(self) -> None:
        if self._server is not None:
            self._server.stop()
            for ex in self.executors.values():
                if ex.stream is not None:
                    ex.stream.close()
            await self._server.close_all_connections()
            self._server = None

    async def shutdown(self) -> None:
        """Stop serving and kill every executor (LocalMesos.stop)."""
        for ex in list(self.executors.values()):
            ex.lost = True
            self._kill(ex)
        await self.stop_serving()

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def info(self) -> dict:
        return {"id": {"value": self.id}, "hostname": self.hostname, "port": self.port,
                "resources": self.total.to_proto(), "attributes": self.attributes}

    # -- called by the master ------------------------------------------------------------------------------------
    def has_executor(self, framework_id: str, executor_id: str) -> bool:
        ex = self.executors.get((framework_id, executor_id))
        return ex is not None and ex.state in (LAUNCHING, REGISTERED)

    def executor_ids(self, framework_id: str) -> list[str]:
        return [e for (f, e), ex in self.executors.items() if f == framework_id and ex.state != TERMINATED]

    def launch(self, framework_info: dict, task: dict) -> None:
        framework_id = framework_info["id"]["value"]
        task_id = task["task_id"]["value"]
        executor_id = task["executor"]["executor_id"]["value"]
        self.removed_frameworks.discard(framework_id)
        ex = self.executors.get((framework_id, executor_id))
        if ex is not None and ex.state in (TERMINATING, TERMINATED):
            self._agent_update(framework_id, task_id, executor_id, MesosState.TASK_LOST, "REASON_EXECUTOR_TERMINATED",
                               "Executor is terminating")
            return
        if ex is None:
            try:
                ex = self._spawn(framework_info, task["executor"])
            except containerizer.LaunchError as e:
                log.warning("executor %s of framework %s: %s", executor_id, framework_id, e)
                self._agent_update(framework_id, task_id, executor_id, MesosState.TASK_FAILED,
                                   "REASON_CONTAINER_LAUNCH_FAILED", f"Failed to launch container: {e}")
                self.master.executor_terminated(framework_id, self.id, executor_id, None)
                return
        if ex.connected and ex.state == REGISTERED:
            ex.tasks[task_id] = task
            ex.stream.send(protocol.event("LAUNCH", {"task": task}))
        else:
            ex.queued[task_id] = task

    def kill_task(self, framework_id: str, task_id: str, kill_policy: dict | None) -> None:
        ex = next((e for e in self.executors.values()
                   if e.framework_id == framework_id and (task_id in e.queued or task_id in e.tasks)), None)
        if ex is None:
            log.info("kill of task %s: no executor holds it", task_id)
            return
        if task_id in ex.queued:
            del ex.queued[task_id]
            self._agent_update(framework_id, task_id, ex.executor_id, MesosState.TASK_KILLED,
                               "REASON_TASK_KILLED_DURING_LAUNCH", "Killed before delivery to the executor")
            if not ex.live_tasks():
                self._shutdown(ex)
            return
        if not ex.connected:
            log.warning("kill of task %s dropped: executor %s is not connected", task_id, ex.executor_id)
            return
        payload = {"task_id": {"value": task_id}}
        if kill_policy:
            payload["kill_policy"] = kill_policy
        ex.stream.send(protocol.event("KILL", payload))

    def acknowledge(self, framework_id: str, task_id: str, update_uuid: str) -> dict | None:
        """Pop the task's oldest update if `update_uuid` is its uuid; returns it (None if unexpected)."""
        key = (framework_id, task_id)
        queue = self.updates.get(key)
        if not queue or queue[0][0].get("uuid") != update_uuid:
            log.info("unexpected acknowledgement for task %s (uuid %s)", task_id, update_uuid)
            return None
        status, executor_key = queue.popleft()
        if executor_key is not None:
            ex = self.executors.get(executor_key)
            if ex is not None and ex.connected:
                ex.stream.send(protocol.event("ACKNOWLEDGED", {"task_id": {"value": task_id}, "uuid": update_uuid}))
        if queue:
            self.master.forward_update(framework_id, queue[0][0])
        else:
            del self.updates[key]
        return status

    def resend_updates(self, framework_id: str) -> None:
        for (fw, _), queue in list(self.updates.items()):
            if fw == framework_id and queue:
                self.master.forward_update(fw, queue[0][0])

    def shutdown_framework(self, framework_id: str) -> None:
        self.removed_frameworks.add(framework_id)
        for key in [k for k in self.updates if k[0] == framework_id]:
            del self.updates[key]
        for ex in list(self.executors.values()):
            if ex.framework_id == framework_id:
                self._shutdown(ex)

    def shutdown_executor(self, framework_id: str, executor_id: str) -> None:
        ex = self.executors.get((framework_id, executor_id))
        if ex is not None:
            self._shutdown(ex)

    def framework_message(self, framework_id: str, executor_id: str, data: str) -> None:
        ex = self.executors.get((framework_id, executor_id))
        if ex is not None and ex.connected:
            ex.stream.send(protocol.event("MESSAGE", {"data": data}))

    # -- the executor API ----------------------------------------------------------------------------------------
    def _find(self, call: dict) -> Executor:
        require(call, "framework_id", "executor_id")
        framework_id = id_value(call["framework_id"], "framework_id")
        executor_id = id_value(call["executor_id"], "executor_id")
        ex = self.executors.get((framework_id, executor_id))
        if ex is None or ex.state == TERMINATED:
            raise CallError(400, f"Executor {executor_id} of framework {framework_id} is not running on this agent")
        return ex

    def executor_subscribe(self, handler, call: dict) -> web.EventStream:
        ex = self._find(call)
        if ex.state == TERMINATING:
            raise CallError(400, f"Executor {ex.executor_id} is terminating")
        subscribe = call.get("subscribe") or {}
        stream = web.EventStream(handler, "executor", self.message_log)
        if ex.connected:
            ex.stream.close()
        ex.stream = stream
        ex.subscriptions += 1
        stream.closed.add_done_callback(lambda _: self._executor_stream_closed(ex, stream))
        self._cancel_timers(ex)
        ex.state = REGISTERED
        stream.send(protocol.event("SUBSCRIBED", {
            "executor_info": ex.info,
            "framework_info": ex.framework_info,
            "agent_info": self.info(),
            "container_id": {"value": ex.container_id},
        }))
        for update in subscribe.get("unacknowledged_updates") or []:
            status = update.get("status") if isinstance(update, dict) else None
            if isinstance(status, dict) and status.get("uuid") not in ex.seen_uuids:
                self._executor_update(ex, status)
        for task_id, task in list(ex.queued.items()):
            ex.tasks[task_id] = task
            stream.send(protocol.event("LAUNCH", {"task": task}))
        ex.queued.clear()
        return stream

    def executor_call(self, call: dict) -> None:
        ex = self._find(call)
        kind = call["type"]
        if kind == "UPDATE":
            require(call, "update")
            require(call["update"], "status", where="update.")
            status = call["update"]["status"]
            require(status, "task_id", "state", where="update.status.")
            task_id = id_value(status["task_id"], "update.status.task_id")
            if status["state"] not in STATES:
                raise CallError(400, f"'update.status.state' {status['state']!r} is not a task state")
            if status["state"] == MesosState.TASK_STAGING:
                raise CallError(400, "Received an Update call with TASK_STAGING, which is not a valid update state")
            if not isinstance(status.get("uuid"), str) or not status["uuid"]:
                raise CallError(400, "Expecting 'uuid' to be present")
            if task_id not in ex.tasks and task_id not in ex.queued:
                raise CallError(400, f"Task {task_id} is not a task of executor {ex.executor_id}")
            if self.drop_updates > 0:
                self.drop_updates -= 1
                log.warning("fault switch: dropping update %s for task %s", status["state"], task_id)
                return
            self._executor_update(ex, status)
        elif kind == "MESSAGE":
            require(call, "message")
            require(call["message"], "data", where="message.")
            self.master.executor_message(ex.framework_id, self.id, ex.executor_id, call["message"]["data"])
        elif kind == "SUBSCRIBE":
            raise CallError(400, "SUBSCRIBE must be the only call on its connection")
        else:
            raise CallError(400, f"Call type {kind} is not supported by the Mesos-API stand-in")

    def _executor_update(self, ex: Executor, status: dict) -> None:
        if status.get("uuid") in ex.seen_uuids:
            return  # a duplicate, e.g. re-sent on re-subscription
        ex.seen_uuids.add(status.get("uuid"))
        status = dict(status)
        status["agent_id"] = {"value": self.id}
        status["executor_id"] = {"value": ex.executor_id}
        status.setdefault("source", "SOURCE_EXECUTOR")
        status.setdefault("timestamp", time.time())
        ex.states[status["task_id"]["value"]] = status["state"]
        self._status_update(ex.framework_id, status, ex.key)

    def _agent_update(self, framework_id: str, task_id: str, executor_id: str, state: str, reason: str,
                      message: str) -> None:
        status = protocol.status(task_id, state, source="SOURCE_AGENT", agent_id=self.id, executor_id=executor_id,
                                 reason=reason, message=message, with_uuid=True)
        self._status_update(framework_id, status, None)

    def _status_update(self, framework_id: str, status: dict, executor_key) -> None:
        if framework_id in self.removed_frameworks:
            return
        key = (framework_id, status["task_id"]["value"])
        queue = self.updates.setdefault(key, collections.deque())
        queue.append((status, executor_key))
        self.master.observe_task_state(framework_id, key[1], status)
        if len(queue) == 1:
            self.master.forward_update(framework_id, status)

    def _executor_stream_closed(self, ex: Executor, stream) -> None:
        if ex.stream is stream:
            ex.stream = None

    # -- executor processes --------------------------------------------------------------------------------------
    def _spawn(self, framework_info: dict, executor_info: dict) -> Executor:
        framework_id = framework_info["id"]["value"]
        container_id = str(uuid.uuid4())
        directory = containerizer.run_directory(self.work_dir, self.id, framework_id,
                                                executor_info["executor_id"]["value"], container_id)
        info = dict(executor_info)
        info["framework_id"] = {"value": framework_id}
        grace = containerizer.grace_period(info, self.shutdown_grace_period)
        ex = Executor(framework_info, info, container_id, directory, grace)
        command = info.get("command") or {}
        try:
            containerizer.prepare_sandbox(directory)
        except OSError as e:
            raise containerizer.LaunchError(f"cannot create the sandbox {directory}: {e.strerror}") from None
        containerizer.fetch(command, directory)
        env = containerizer.environment(
            base=os.environ, extra=self.executor_env, agent_endpoint=self.address, agent_id=self.id,
            framework_id=framework_id, executor_id=ex.executor_id, directory=directory,
            checkpoint=bool(framework_info.get("checkpoint")), grace=grace, command=command)
        args, executable = containerizer.argv(command)
        ex.process = containerizer.spawn(args, executable, env, directory)
        self.executors[ex.key] = ex
        loop = tornado.ioloop.IOLoop.current()
        ex.pidfd = os.pidfd_open(ex.process.pid)
        loop.add_handler(ex.pidfd, lambda fd, events: self._reap(ex), tornado.ioloop.IOLoop.READ)
        ex.timers.append(loop.call_later(self.registration_timeout, self._registration_timeout, ex))
        log.info("executor %s of framework %s started: pid %d in %s", ex.executor_id, framework_id,
                 ex.process.pid, directory)
        return ex

    def _registration_timeout(self, ex: Executor) -> None:
        if ex.state == LAUNCHING:
            ex.termination = (MesosState.TASK_FAILED, "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
                              f"Executor did not register within {self.registration_timeout:g}secs")
            log.warning("executor %s did not subscribe in time: killing it", ex.executor_id)
            self._kill(ex)

    def _reregistration_timeout(self, ex: Executor) -> None:
        if ex.state == REGISTERED and not ex.connected:
            ex.termination = (MesosState.TASK_LOST, "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
                              f"Executor did not re-register within {self.reregistration_timeout:g}secs")
            log.warning("executor %s did not re-subscribe after the restart: killing it", ex.executor_id)
            self._kill(ex)

    def _shutdown(self, ex: Executor) -> None:
        if ex.state in (TERMINATING, TERMINATED):
            return
        ex.state = TERMINATING
        if ex.connected:
            ex.stream.send(protocol.event("SHUTDOWN"))
            ex.timers.append(tornado.ioloop.IOLoop.current().call_later(ex.grace, self._kill, ex))
        else:
            self._kill(ex)

    def _kill(self, ex: Executor) -> None:
        if ex.process is not None and ex.wait_status is None:
            containerizer.kill_tree(ex.process.pid)

    def _cancel_timers(self, ex: Executor) -> None:
        loop = tornado.ioloop.IOLoop.current()
        for timer in ex.timers:
            loop.remove_timeout(timer)
        ex.timers.clear()

    def _reap(self, ex: Executor) -> None:
        loop = tornado.ioloop.IOLoop.current()
        if ex.pidfd is not None:
            loop.remove_handler(ex.pidfd)
            os.close(ex.pidfd)
            ex.pidfd = None
        ex.wait_status = protocol.wait_status_of(ex.process.wait())
        self._executor_terminated(ex)

    def _executor_terminated(self, ex: Executor) -> None:
        if ex.state == TERMINATED:
            return
        ex.state = TERMINATED
        self._cancel_timers(ex)
        if ex.stream is not None:
            ex.stream.close()
        if self.executors.get(ex.key) is ex:
            del self.executors[ex.key]
        self.completed_executors.append(ex)
        how = protocol.describe_wait_status(ex.wait_status)
        log.info("executor %s of framework %s %s", ex.executor_id, ex.framework_id, how)
        if ex.lost:
            return
        state, reason, message = ex.termination or (MesosState.TASK_FAILED, "REASON_EXECUTOR_TERMINATED",
                                                     f"Executor terminated: {how}")
        for task_id in ex.live_tasks():
            ex.states[task_id] = state
            self._agent_update(ex.framework_id, task_id, ex.executor_id, state, reason, message)
        ex.queued.clear()
        if ex.framework_id not in self.removed_frameworks:
            self.master.executor_terminated(ex.framework_id, self.id, ex.executor_id, ex.wait_status)

    # -- fault switches (see local.Faults) -----------------------------------------------------------------------
    def close_executor_stream(self, executor_id: str, abort: bool = False) -> int:
        closed = 0
        for ex in self.executors.values():
            if ex.executor_id == executor_id and ex.connected:
                ex.stream.close(abort=abort)
                closed += 1
        return closed

    def lose(self, rejoin: bool = True) -> str:
        """The agent is lost: executors are killed without updates from here; the master makes the tasks LOST
        and tells every framework. With `rejoin` the machine registers again as a new agent (new ID)."""
        old_id = self.id
        for ex in list(self.executors.values()):
            ex.lost = True
            if ex.stream is not None:
                ex.stream.close()
            self._kill(ex)
        self.executors.clear()
        self.updates.clear()
        self.master.remove_agent(old_id, "the agent was lost (fault switch)")
        if rejoin:
            self.id = self.master.new_agent_id()
            self.master.add_agent(self)
        return old_id

    async def restart(self) -> None:
        """Stop serving (streams end, connections close), then serve again on the same port. Executors have
        `reregistration_timeout` seconds to subscribe again; those that do not are killed (TASK_LOST)."""
        await self.stop_serving()
        self.listen()
        loop = tornado.ioloop.IOLoop.current()
        for ex in self.executors.values():
            if ex.state == REGISTERED and not ex.connected:
                ex.timers.append(loop.call_later(self.reregistration_timeout, self._reregistration_timeout, ex))

    def executor_pid(self, executor_id: str, framework_id: str | None = None) -> int | None:
        for ex in self.executors.values():
            if ex.executor_id == executor_id and (framework_id is None or ex.framework_id == framework_id):
                return ex.process.pid if ex.process is not None and ex.wait_status is None else None
        return None

    def executor_directory(self, executor_id: str, framework_id: str | None = None) -> str | None:
        for ex in list(self.executors.values()) + list(self.completed_executors)[::-1]:
            if ex.executor_id == executor_id and (framework_id is None or ex.framework_id == framework_id):
                return ex.directory
        return None

    # -- /state --------------------------------------------------------------------------------------------------
    def state(self) -> dict:
        def executor_json(ex: Executor) -> dict:
            return {"id": ex.executor_id, "name": ex.info.get("name", ""), "container": ex.container_id,
                    "directory": ex.directory, "state": ex.state,
                    "pid": ex.process.pid if ex.process is not None else None,
                    "resources": Resources.from_proto(ex.info.get("resources")).summary(),
                    "tasks": [{"id": t, "state": ex.states.get(t, MesosState.TASK_STAGING)} for t in ex.tasks],
                    "queued_tasks": [{"id": t} for t in ex.queued]}

        frameworks: dict[str, dict] = {}
        for ex in self.executors.values():
            fw = frameworks.setdefault(ex.framework_id, {
                "id": ex.framework_id, "name": ex.framework_info.get("name"),
                "checkpoint": bool(ex.framework_info.get("checkpoint")), "executors": [],
                "completed_executors": []})
            fw["executors"].append(executor_json(ex))
        for ex in self.completed_executors:
            fw = frameworks.setdefault(ex.framework_id, {
                "id": ex.framework_id, "name": ex.framework_info.get("name"),
                "checkpoint": bool(ex.framework_info.get("checkpoint")), "executors": [],
                "completed_executors": []})
            fw["completed_executors"].append(executor_json(ex))
        return {"id": self.id, "hostname": self.hostname, "pid": f"slave(1)@{self.address}",
                "version": web.MESOS_VERSION, "resources": self.total.summary(),
                "attributes": attributes_summary(self.attributes),
                "master_hostname": self.master.hostname, "flags": {"work_dir": self.work_dir},
                "frameworks": list(frameworks.values())}


class AgentStateHandler(web.Handler):
    def initialize(self, agent: Agent):
        self.agent = agent

    def get(self):
        self.send_json(self.agent.state())


class ExecutorHandler(web.StreamingHandler):
    """POST /api/v1/executor: SUBSCRIBE becomes an event stream; UPDATE and MESSAGE answer 202."""

    def initialize(self, agent: Agent):
        self.agent = agent

    async def post(self):
        await self.serve_call("executor", self.agent.message_log, self.agent.executor_subscribe,
                              self.agent.executor_call)
