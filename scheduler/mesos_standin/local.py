"""LocalMesos: the stand-in's master and agents on a tornado IOLoop in a background thread, for tests and for
`aurora-scheduler --mesos_master_address=local`.

    mesos = LocalMesos(work_dir, resources={'cpus': 2.0, 'mem': 4096, 'disk': 10240, 'ports': [(31000, 31999)]},
                       attributes={'rack': 'a'})
    mesos = LocalMesos(work_dir, agents=[{}, {'attributes': 'rack:b'}, {'resources': 'cpus:8'}],
                       zk='zk://127.0.0.1:2181/mesos')   # three agents; the master announced in ZooKeeper
    mesos.start()                      # returns once every server listens on 127.0.0.1 (and the znode exists)
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

from scheduler.mesos_standin import agent_specs, web
from scheduler.mesos_standin.agent import Agent
from scheduler.mesos_standin.agent_specs import AgentSpec
from scheduler.mesos_standin.announce import MasterAnnouncement, parse_zk_url
from scheduler.mesos_standin.master import Master
from thermos_executor.daemon.http import bind_sockets

log = logging.getLogger(__name__)

DEFAULT_RESOURCES = {"cpus": 2.0, "mem": 4096, "disk": 10240, "ports": [(31000, 31999)]}


class Cluster:
    """A master and its agents on the current IOLoop (the async core shared by LocalMesos and the CLI).

    `agents` are `agent_specs.AgentSpec`s (`agent_specs.build` makes them). With `zk` (a `zk://` URL) the master
    announces itself there as a Mesos master does (`announce.py`) from `start()` to `stop()`.
    """

    def __init__(self, work_dir: str, agents: list[AgentSpec], *, hostname: str | None = None,
                 ip: str = "127.0.0.1", master_port: int = 0, executor_env: dict | None = None,
                 record_messages: bool = False, heartbeat_interval: float = 15.0,
                 executor_registration_timeout: float = 60.0, executor_reregistration_timeout: float = 10.0,
                 executor_shutdown_grace_period: float = 5.0, zk: str | None = None):
        if not agents:
            raise ValueError("a cluster needs at least one agent")
        self.work_dir = os.path.abspath(work_dir)
        self.message_log = web.MessageLog(enabled=record_messages)
        self.master = Master(ip=ip, hostname=hostname, heartbeat_interval=heartbeat_interval,
                             message_log=self.message_log, agent_root_fn=lambda: self.work_dir)
        self.agents = [Agent(self.master, spec.work_dir, spec.resources, list(spec.attributes), name=spec.name,
                             hostname=spec.hostname, ip=ip, port=spec.port, executor_env=executor_env,
                             registration_timeout=executor_registration_timeout,
                             reregistration_timeout=executor_reregistration_timeout,
                             shutdown_grace_period=executor_shutdown_grace_period, message_log=self.message_log)
                       for spec in agents]
        self.zk = zk
        self.announcement: MasterAnnouncement | None = None
        if zk is not None:
            parse_zk_url(zk)  # a bad URL fails here, before anything listens
        self._master_port = master_port
        self._master_server: tornado.httpserver.HTTPServer | None = None

    @property
    def agent(self) -> Agent:
        """The first agent (the only one in a one-agent cluster)."""
        return self.agents[0]

    def find_agent(self, which: int | str | None = None) -> Agent:
        """An agent by index into `agents` (0 = the first), by ID or by name (`agent2`); None is the first."""
        if which is None:
            return self.agents[0]
        if isinstance(which, int) and not isinstance(which, bool):
            if 0 <= which < len(self.agents):
                return self.agents[which]
            raise LookupError(f"no agent at index {which}: there are {len(self.agents)}")
        for agent in self.agents:
            if which in (agent.id, agent.name):
                return agent
        raise LookupError(f"no agent with ID or name {which!r}")

    def start(self) -> None:
        """Listen (master, then each agent) and, with `zk`, start announcing; returns without waiting for
        ZooKeeper (see `announced`)."""
        os.makedirs(self.work_dir, exist_ok=True)
        sockets = bind_sockets(self.master.ip, self._master_port, "master")
        self.master.port = sockets[0].getsockname()[1]
        self._master_server = tornado.httpserver.HTTPServer(self.master.application())
        self._master_server.add_sockets(sockets)
        self.master.start_heartbeats()
        for agent in self.agents:
            os.makedirs(agent.work_dir, exist_ok=True)
            agent.listen()
        if self.zk is not None:
            self.announcement = MasterAnnouncement(self.zk, self.master.master_info())
            self.announcement.start()

    async def announced(self, timeout: float) -> bool:
        """Whether the master's znode exists, waiting up to `timeout` seconds (True without `zk`)."""
        if self.announcement is None:
            return True
        return await asyncio.get_running_loop().run_in_executor(None, self.announcement.wait, timeout)

    async def stop(self) -> None:
        if self.announcement is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.announcement.stop)
            self.announcement = None
        for agent in self.agents:
            await agent.shutdown()
        self.master.stop()
        if self._master_server is not None:
            self._master_server.stop()
            await self._master_server.close_all_connections()


class Faults:
    """Fault switches for tests. Each acts at once on the IOLoop and returns when done. `agent` picks the agent
    (an index into `mesos.agents`, an agent ID or a name such as `agent2`); None is the first agent.

    - close_scheduler_stream(abort=False): end every framework's event stream (`abort` drops the TCP connection
      instead of ending the chunked body). pymesos schedulers reconnect and re-subscribe with their framework ID.
    - close_executor_stream(executor_id, abort=False, agent=None): end that executor's event stream (on every
      agent when `agent` is None). pymesos executors reconnect if MESOS_CHECKPOINT is non-empty, else shut
      themselves down.
    - drop_next_update(count=1, agent=None): the agent answers its next `count` executor UPDATE calls 202 and
      drops them: never forwarded, never acknowledged.
    - lose_agent(rejoin=True, agent=None): the agent is lost: executors killed, tasks TASK_LOST
      (TASK_UNREACHABLE for PARTITION_AWARE frameworks), offers rescinded, FAILURE {agent_id} to every
      framework. With `rejoin` the machine comes back as a new agent (new agent ID, fresh offers). Returns the
      lost agent's ID. Other agents are untouched.
    - restart_agent(agent=None): stop serving the agent (streams end, connections close), then serve again on
      the same port. Executors must subscribe again within `executor_reregistration_timeout`, else they are
      killed.
    - rescind_offers(): RESCIND every outstanding offer (offers follow again as usual). Returns how many.
    """

    def __init__(self, mesos: LocalMesos):
        self._mesos = mesos

    def _agent(self, which) -> Agent:
        return self._mesos.cluster.find_agent(which)

    def close_scheduler_stream(self, abort: bool = False) -> int:
        def close():
            streams = [fw.stream for fw in self._mesos.cluster.master.frameworks.values() if fw.connected]
            for stream in streams:
                stream.close(abort=abort)
            return len(streams)
        return self._mesos.call(close)

    def close_executor_stream(self, executor_id: str, abort: bool = False, agent: int | str | None = None) -> int:
        def close():
            agents = self._mesos.cluster.agents if agent is None else [self._agent(agent)]
            return sum(a.close_executor_stream(executor_id, abort) for a in agents)
        return self._mesos.call(close)

    def drop_next_update(self, count: int = 1, agent: int | str | None = None) -> None:
        def drop():
            self._agent(agent).drop_updates += count
        self._mesos.call(drop)

    def lose_agent(self, rejoin: bool = True, agent: int | str | None = None) -> str:
        return self._mesos.call(lambda: self._agent(agent).lose(rejoin))

    def restart_agent(self, agent: int | str | None = None) -> None:
        async def restart():
            await self._agent(agent).restart()
        self._mesos.call_async(restart)

    def rescind_offers(self) -> int:
        return self._mesos.call(self._mesos.cluster.master.rescind_offers)


class LocalMesos:
    """A master and its agents of the Mesos-API stand-in, served from a background thread. See the module docs.

    `agents` is a number of agents alike (`resources`, `attributes`), or a list with one dict of overrides per
    agent (`hostname`, `resources`, `attributes` merged by name, `port`); None is one agent with today's layout
    (`hostname`, `agent_port`, `work_dir`). See `agent_specs` for names, host names, ports and work dirs.
    """

    def __init__(self, work_dir: str, resources: dict | str | None = None, attributes: dict | str | None = None,
                 hostname: str | None = None, executor_env: dict | None = None, *, agents: int | list | None = None,
                 ip: str = "127.0.0.1", master_port: int = 0, agent_port: int = 0, record_messages: bool = False,
                 heartbeat_interval: float = 15.0, executor_registration_timeout: float = 60.0,
                 executor_reregistration_timeout: float = 10.0, executor_shutdown_grace_period: float = 5.0,
                 zk: str | None = None):
        self._work_dir = os.path.abspath(work_dir)
        shared = agent_specs.as_resources(DEFAULT_RESOURCES if resources is None else resources)
        if agents is None or isinstance(agents, int):
            count, overrides = (1 if agents is None else agents), {}
        else:
            count, overrides = agent_specs.from_list(agents)
        self.specs = agent_specs.build(self._work_dir, count, shared, attributes or {}, hostname=hostname,
                                       port=agent_port, overrides=overrides)
        if zk is not None:
            parse_zk_url(zk)
        self._options = dict(hostname=hostname, ip=ip, master_port=master_port, executor_env=executor_env,
                             record_messages=record_messages, heartbeat_interval=heartbeat_interval,
                             executor_registration_timeout=executor_registration_timeout,
                             executor_reregistration_timeout=executor_reregistration_timeout,
                             executor_shutdown_grace_period=executor_shutdown_grace_period, zk=zk)
        self.cluster: Cluster | None = None
        self.faults = Faults(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> LocalMesos:
        if self._thread is not None:
            raise RuntimeError("LocalMesos is already started")
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready, timeout), name="local-mesos", daemon=True)
        self._thread.start()
        ready.result(timeout + 5)  # re-raises a bind error, for instance
        return self

    def _run(self, ready: concurrent.futures.Future, timeout: float) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            async def setup():
                self.cluster = Cluster(self._work_dir, self.specs, **self._options)
                self.cluster.start()
                if not await self.cluster.announced(timeout):
                    raise RuntimeError(f"the master could not announce itself at {self._options['zk']} "
                                       f"within {timeout:g}s")
            loop.run_until_complete(setup())
        except BaseException as e:
            if self.cluster is not None:
                loop.run_until_complete(self.cluster.stop())
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
    def zk_url(self) -> str | None:
        """The `zk://` URL the master is announced at (None without `zk`)."""
        return self._options["zk"]

    @property
    def agents(self) -> list[Agent]:
        """Every agent, in order (`agent1` first). Read `id`, `name`, `hostname`, `address`, `port`, `work_dir`
        from any thread; call anything else through `call`."""
        return list(self.cluster.agents)

    def agent(self, which: int | str | None = None) -> Agent:
        """One agent: an index into `agents`, an agent ID or a name (`agent2`); None is the first."""
        return self.cluster.find_agent(which)

    @property
    def agent_address(self) -> str:
        """The first agent's address."""
        return self.cluster.agent.address

    @property
    def agent_id(self) -> str:
        """The first agent's ID."""
        return self.cluster.agent.id

    @property
    def work_dir(self) -> str:
        """The cluster's work dir: the agent's with one agent, the parent of `<work_dir>/agentN` with several."""
        return self._work_dir

    @property
    def message_log(self) -> web.MessageLog:
        return self.cluster.message_log

    def executor_pid(self, executor_id: str, framework_id: str | None = None,
                     agent: int | str | None = None) -> int | None:
        """The pid of a running executor (None if it is not running), on `agent` or on any agent."""
        return self._first(lambda a: a.executor_pid(executor_id, framework_id), agent)

    def executor_directory(self, executor_id: str, framework_id: str | None = None,
                           agent: int | str | None = None) -> str | None:
        """The run directory (sandbox) of the executor's latest run, on `agent` or on any agent."""
        return self._first(lambda a: a.executor_directory(executor_id, framework_id), agent)

    def _first(self, lookup, agent):
        """The first non-None `lookup(agent)`, on the loop, over `agent` or every agent."""
        def find():
            return next((v for v in map(lookup, self._agents_to_search(agent)) if v is not None), None)
        return self.call(find)

    def _agents_to_search(self, agent) -> list[Agent]:
        return self.cluster.agents if agent is None else [self.cluster.find_agent(agent)]

    def state(self) -> dict:
        """The master's /state."""
        return self.call(self.cluster.master.state)

    def agent_state(self, agent: int | str | None = None) -> dict:
        """An agent's /state (the first agent's by default)."""
        return self.call(lambda: self.cluster.find_agent(agent).state())
