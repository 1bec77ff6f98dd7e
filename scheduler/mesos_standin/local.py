"""LocalMesos: the stand-in's master and agent on a tornado IOLoop in a background thread, for tests and for
`aurora-scheduler --mesos_master_address=local`.

    mesos = LocalMesos(work_dir, resources={'cpus': 2.0, 'mem': 4096, 'disk': 10240, 'ports': [(31000, 31999)]},
                       attributes={'rack': 'a'})
    mesos.start()                      # returns once both servers listen on 127.0.0.1
    driver = MesosSchedulerDriver(sched, framework_info, mesos.master_address)
    ...
    mesos.faults.close_scheduler_stream()
    mesos.stop()                       # executors killed, ports closed

Every public method may be called from any thread: it runs on the IOLoop's thread and returns its result.
`record_messages=True` keeps every Call received and Event sent (scheduler and executor APIs) in
`mesos.message_log`, for validation against the Mesos protos.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading

import tornado.httpserver
import tornado.ioloop

from scheduler.mesos_standin import web
from scheduler.mesos_standin.agent import Agent
from scheduler.mesos_standin.master import Master
from scheduler.mesos_standin.resources import Resources, attributes_from_dict, parse_attributes
from thermos_executor.daemon.http import bind_sockets

log = logging.getLogger(__name__)

DEFAULT_RESOURCES = {"cpus": 2.0, "mem": 4096, "disk": 10240, "ports": [(31000, 31999)]}


class Cluster:
    """A master and one agent on the current IOLoop (the async core shared by LocalMesos and the CLI)."""

    def __init__(self, work_dir: str, resources: Resources, attributes: list[dict], *, hostname: str | None = None,
                 ip: str = "127.0.0.1", master_port: int = 0, agent_port: int = 0,
                 executor_env: dict | None = None, record_messages: bool = False, heartbeat_interval: float = 15.0,
                 executor_registration_timeout: float = 60.0, executor_reregistration_timeout: float = 10.0,
                 executor_shutdown_grace_period: float = 5.0):
        self.work_dir = os.path.abspath(work_dir)
        self.message_log = web.MessageLog(enabled=record_messages)
        self.master = Master(ip=ip, hostname=hostname, heartbeat_interval=heartbeat_interval,
                             message_log=self.message_log, agent_root_fn=lambda: self.work_dir)
        self.agent = Agent(self.master, self.work_dir, resources, attributes, hostname=hostname, ip=ip,
                           port=agent_port, executor_env=executor_env,
                           registration_timeout=executor_registration_timeout,
                           reregistration_timeout=executor_reregistration_timeout,
                           shutdown_grace_period=executor_shutdown_grace_period, message_log=self.message_log)
        self._master_port = master_port
        self._master_server: tornado.httpserver.HTTPServer | None = None

    def start(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        sockets = bind_sockets(self.master.ip, self._master_port, "master")
        self.master.port = sockets[0].getsockname()[1]
        self._master_server = tornado.httpserver.HTTPServer(self.master.application())
        self._master_server.add_sockets(sockets)
        self.master.start_heartbeats()
        self.agent.listen()

    async def stop(self) -> None:
        await self.agent.shutdown()
        self.master.stop()
        if self._master_server is not None:
            self._master_server.stop()
            await self._master_server.close_all_connections()


class Faults:
    """Fault switches for tests. Each acts at once on the IOLoop and returns when done.

    - close_scheduler_stream(abort=False): end every framework's event stream (`abort` drops the TCP connection
      instead of ending the chunked body). pymesos schedulers reconnect and re-subscribe with their framework ID.
    - close_executor_stream(executor_id, abort=False): end that executor's event stream. pymesos executors
      reconnect if MESOS_CHECKPOINT is non-empty, else shut themselves down.
    - drop_next_update(count=1): the next `count` executor UPDATE calls are answered 202 and then dropped:
      never forwarded, never acknowledged.
    - lose_agent(rejoin=True): the agent is lost: executors killed, tasks TASK_LOST (TASK_UNREACHABLE for
      PARTITION_AWARE frameworks), offers rescinded, FAILURE {agent_id} to every framework. With `rejoin` the
      machine comes back as a new agent (new agent ID, fresh offers). Returns the lost agent's ID.
    - restart_agent(): stop serving the agent (streams end, connections close), then serve again on the same
      port. Executors must subscribe again within `executor_reregistration_timeout`, else they are killed.
    - rescind_offers(): RESCIND every outstanding offer (offers follow again as usual). Returns how many.
    """

    def __init__(self, mesos: LocalMesos):
        self._mesos = mesos

    def close_scheduler_stream(self, abort: bool = False) -> int:
        def close():
            streams = [fw.stream for fw in self._mesos.cluster.master.frameworks.values() if fw.connected]
            for stream in streams:
                stream.close(abort=abort)
            return len(streams)
        return self._mesos.call(close)

    def close_executor_stream(self, executor_id: str, abort: bool = False) -> int:
        return self._mesos.call(lambda: self._mesos.cluster.agent.close_executor_stream(executor_id, abort))

    def drop_next_update(self, count: int = 1) -> None:
        def drop():
            self._mesos.cluster.agent.drop_updates += count
        self._mesos.call(drop)

    def lose_agent(self, rejoin: bool = True) -> str:
        return self._mesos.call(lambda: self._mesos.cluster.agent.lose(rejoin))

    def restart_agent(self) -> None:
        self._mesos.call_async(self._mesos.cluster.agent.restart)

    def rescind_offers(self) -> int:
        return self._mesos.call(self._mesos.cluster.master.rescind_offers)


class LocalMesos:
    """A master and an agent of the Mesos-API stand-in, served from a background thread. See the module docs."""

    def __init__(self, work_dir: str, resources: dict | str | None = None, attributes: dict | str | None = None,
                 hostname: str | None = None, executor_env: dict | None = None, *, ip: str = "127.0.0.1",
                 master_port: int = 0, agent_port: int = 0, record_messages: bool = False,
                 heartbeat_interval: float = 15.0, executor_registration_timeout: float = 60.0,
                 executor_reregistration_timeout: float = 10.0, executor_shutdown_grace_period: float = 5.0):
        if isinstance(resources, str):
            parsed = Resources.parse(resources)
        else:
            parsed = Resources.from_dict(DEFAULT_RESOURCES if resources is None else resources)
        if isinstance(attributes, str):
            parsed_attributes = parse_attributes(attributes)
        else:
            parsed_attributes = attributes_from_dict(attributes or {})
        self._options = dict(hostname=hostname, ip=ip, master_port=master_port, agent_port=agent_port,
                             executor_env=executor_env, record_messages=record_messages,
                             heartbeat_interval=heartbeat_interval,
                             executor_registration_timeout=executor_registration_timeout,
                             executor_reregistration_timeout=executor_reregistration_timeout,
                             executor_shutdown_grace_period=executor_shutdown_grace_period)
        self._work_dir = os.path.abspath(work_dir)
        self._resources = parsed
        self._attributes = parsed_attributes
        self.cluster: Cluster | None = None
        self.faults = Faults(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> LocalMesos:
        if self._thread is not None:
            raise RuntimeError("LocalMesos is already started")
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="local-mesos", daemon=True)
        self._thread.start()
        ready.result(timeout)  # re-raises a bind error, for instance
        return self

    def _run(self, ready: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            async def setup():
                self.cluster = Cluster(self._work_dir, self._resources, self._attributes, **self._options)
                self.cluster.start()
            loop.run_until_complete(setup())
        except BaseException as e:
            ready.set_exception(e)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None:
            return
        try:
            self.call_async(self.cluster.stop, timeout=timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> LocalMesos:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- running on the loop -------------------------------------------------------------------------------------
    def call(self, fn, *args, timeout: float = 10.0):
        """Run fn(*args) on the IOLoop's thread and return its result (re-raising its exception)."""
        async def run():
            return fn(*args)
        return self.call_async(run, timeout=timeout)

    def call_async(self, coroutine_fn, *args, timeout: float = 10.0):
        if self._loop is None:
            raise RuntimeError("LocalMesos is not started")
        future = asyncio.run_coroutine_threadsafe(coroutine_fn(*args), self._loop)
        return future.result(timeout)

    # -- what tests and the scheduler read -----------------------------------------------------------------------
    @property
    def master_address(self) -> str:
        return self.cluster.master.address

    @property
    def agent_address(self) -> str:
        return self.cluster.agent.address

    @property
    def agent_id(self) -> str:
        return self.cluster.agent.id

    @property
    def work_dir(self) -> str:
        return self._work_dir

    @property
    def message_log(self) -> web.MessageLog:
        return self.cluster.message_log

    def executor_pid(self, executor_id: str, framework_id: str | None = None) -> int | None:
        """The pid of a running executor (None if it is not running)."""
        return self.call(self.cluster.agent.executor_pid, executor_id, framework_id)

    def executor_directory(self, executor_id: str, framework_id: str | None = None) -> str | None:
        """The run directory (sandbox) of the executor's latest run."""
        return self.call(self.cluster.agent.executor_directory, executor_id, framework_id)

    def state(self) -> dict:
        """The master's /state."""
        return self.call(self.cluster.master.state)

    def agent_state(self) -> dict:
        """The agent's /state."""
        return self.call(self.cluster.agent.state)
