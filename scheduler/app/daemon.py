"""`SchedulerDaemon`: the wiring of one `aurora-scheduler` process, and its lifecycle.

One asyncio loop owns everything here. The pieces: the log node (our replica; the writer only while we
lead), storage on it (`DurableStorage`, READY only on the leader), the Jobs API on storage, the election
(`Leadership`), and two HTTP servers: -http_port (health, metrics, /api) and -native_log_port (the replica
protocol between schedulers; a separate port, as Mesos' log used LIBPROCESS_PORT).

Lifecycle, with Aurora's ``scheduler_lifecycle_<STATE>`` gauges:

* IDLE -> PREPARING_STORAGE: open the replica, join the log's group; -> STORAGE_PREPARED: enter the election.
  A follower stays here, hosting only its replica: no state in memory, /api redirected to the leader.
* LEADER_AWAITING_REGISTRATION: elected. Grant the log node the writer role (the scheduler's election is
  the only one: the node runs none of its own), wait until the writer's recovery round has succeeded
  (an EMPTY replica: the node logs "Replica in EMPTY status ..." and /api answers ERROR_TRANSIENT "Storage
  is not READY" meanwhile), replay storage (prepare, start), arm the task timers (`TaskTimers`: timeouts,
  throttling, pruning), the cron timers and job update history pruning (`UpdateHistoryPruner`), start the
  periodic snapshot, then advertise the ServerSet member and serve.
  Then the Mesos framework starts (scheduler.framework: subscribe with the saved framework ID, place, launch,
  follow status updates, reconcile); ACTIVE comes with its registration (``framework_registered 1``).
* DEAD: on SIGTERM/SIGINT (exit 0), or fatally (exit 1, one ERROR line): leadership lost (session LOST,
  ZooKeeper unreachable for a session timeout, or our candidate node gone), the writer fenced, any failed
  log append, truncate, snapshot or replay. A fatal error first takes the writer role away synchronously,
  so nothing more is written, then tears down.

Every task the daemon starts is in `_tasks`; `run` cancels and awaits them all before it returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from enum import StrEnum

from tornado.httpserver import HTTPServer
from thermos_executor.daemon.http import ListenError, bind_sockets

from scheduler.api.admin import AdminApi, Handlers
from scheduler.api.handlers import SchedulerApi
from scheduler.api.maintenance import MaintenanceApi, MaintenanceController
from scheduler.api.reconciliation import ReconciliationApi
from scheduler.api.state_manager import StateManager
from scheduler.api.update_queries import UpdateQueriesApi
from scheduler.log.node import LogNode
from scheduler.log.protocol import LogError
from scheduler.log.server import make_app as make_log_app
from scheduler.state.status import ScheduleStatus
from scheduler.storage.backup import BackupDirError, Backups
from scheduler.storage.durable import DurableStorage
from scheduler.storage.replicated import ReplicatedLog

from . import flags
from .flags import Config
from .http import make_app
from .leadership import Leadership
from .timers import TaskTimers
from .update_pruner import UpdateHistoryPruner
from .cron import CronTimers
from .updater import JobUpdates
from scheduler.api.updates import UpdateApi
from scheduler.api.cron import CronApi
from scheduler.state import cron
from scheduler.framework.framework import Framework
from scheduler.framework.placer import Placer

log = logging.getLogger(__name__)


# The log node's control tick (its commit heartbeat to followers, membership checks): once a second, not the
# node's 0.5 s default, halves what an idle scheduler spends (bench/cluster_local.py: a whole idle cluster went
# from 2.3 % to 1.5 % of a core); writes are sent at once whatever the tick.
LOG_TICK = 1.0


class Lifecycle(StrEnum):
    IDLE = "IDLE"
    PREPARING_STORAGE = "PREPARING_STORAGE"
    STORAGE_PREPARED = "STORAGE_PREPARED"
    LEADER_AWAITING_REGISTRATION = "LEADER_AWAITING_REGISTRATION"
    ACTIVE = "ACTIVE"
    DEAD = "DEAD"


class StartupError(Exception):
    """The daemon cannot start (a port taken, ZooKeeper unreachable, a replica in use); one line."""


class LeaderLog:
    """The `Log` storage writes through: the log node's current writer. Any failed append or truncate is
    fatal (its outcome is unknown, and a fenced or cut-off writer must not go on serving): `fatal` is
    called before the error propagates to storage, which rolls the write back and answers ERROR."""

    def __init__(self, node: LogNode, fatal):
        self.node, self.fatal = node, fatal

    async def append(self, entries: list[bytes]) -> list[int]:
        try:
            return await ReplicatedLog(self.node.writer()).append(entries)
        except LogError as e:
            self.fatal(f"log append failed: {e}")
            raise

    def read(self, start: int = 1):
        return ReplicatedLog(self.node.writer()).read(start)

    async def truncate(self, before: int) -> None:
        try:
            await ReplicatedLog(self.node.writer()).truncate(before)
        except LogError as e:
            self.fatal(f"log truncate failed: {e}")
            raise


class SchedulerDaemon:
    """One scheduler process (see the module docstring). The constructor binds the ports and opens the
    replica (`StartupError` on failure); `run` serves until stopped and returns the exit code."""

    def __init__(self, config: Config):
        self.config = config
        self.state = Lifecycle.IDLE
        self.exit_code = 0
        self.settings = flags.api_settings(config)
        self.mesos = flags.mesos(config)
        try:
            backups = Backups(config.backup_dir, config.backup_interval, config.max_saved_backups)
        except BackupDirError as e:     # before a port or the replica is taken
            raise StartupError(str(e)) from None
        self._http_sockets = _bind(config.bind_ip, config.http_port, "-http_port")
        self._log_sockets = _bind(config.bind_ip, config.native_log_port, "-native_log_port")
        self.http_port = self._http_sockets[0].getsockname()[1]
        self.log_port = self._log_sockets[0].getsockname()[1]
        try:
            self.node = LogNode(config.native_log_file_path, f"{config.advertised_ip}:{self.log_port}",
                                config.zk_endpoints, config.native_log_zk_group_path, config.native_log_quorum_size,
                                write_timeout=config.native_log_write_timeout,
                                session_timeout=config.zk_session_timeout, elect=False, tick=LOG_TICK)
        except LogError as e:
            raise StartupError(str(e)) from None
        self.node.on_fenced = lambda reason: self.fatal(f"the log writer was fenced: {reason}")
        self.storage = DurableStorage(LeaderLog(self.node, self.fatal), max_entry_size=config.dlog_max_entry_size,
                                      backups=backups)
        self.manager = StateManager(self.storage, kill=self._kill, clock_ms=lambda: int(time.time() * 1000),
                                    hostname=config.hostname, flapping=flags.flapping(config),
                                    on_change=self._on_change)
        self.maintenance = MaintenanceController(self.manager, spawn=self._spawn)
        self.timers = TaskTimers(self.manager, timeout_ms=int(config.transient_task_state_timeout * 1000),
                                 prune=flags.pruning(config))
        self.update_pruner = UpdateHistoryPruner(self.storage, flags.update_history(config), self.manager.clock_ms)
        tz = cron.zone(config.cron_timezone)
        self.cron = CronTimers(self.manager, tz=tz, initial_backoff_s=config.cron_start_initial_backoff,
                               max_backoff_s=config.cron_start_max_backoff)
        self.updates = JobUpdates(self.manager)
        self._stop = asyncio.Event()
        # The handler POST /api dispatches to by method name: the job calls, then the admin calls. A committed
        # recovery stops the scheduler (exit 0, as Aurora's shutDownNow): restarted, it replays the recovered log.
        self.placer = Placer(self.mesos)
        self.api = Handlers(SchedulerApi(self.storage, self.manager, self.settings,
                                         pending_reason=self.placer.pending_reason,
                                         next_cron_run=self.cron.next_run_ms),
                            AdminApi(self.storage, backups, self.settings, shutdown=self._stop.set),
                            MaintenanceApi(self.maintenance, self.settings),
                            ReconciliationApi(self._reconciler, self.settings),
                            CronApi(self.storage, self.settings, tz=tz, runs=self.cron, clock_ms=self.manager.clock_ms),
                            UpdateApi(self.storage, self.settings, self.updates),
                            UpdateQueriesApi(self.storage, self.settings))
        self.leadership: Leadership | None = None
        self.framework: Framework | None = None   # the leader's, once storage is ready
        self.local_mesos = None                   # -mesos_master_address=local: the stand-in, in this process
        self._tasks: set[asyncio.Task] = set()

    # -- what the HTTP layer reads -------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return bool(self.leadership and self.leadership.leading)

    @property
    def leader(self) -> tuple[str, int] | None:
        return self.leadership.leader if self.leadership else None

    def vars(self) -> dict:
        counts = dict.fromkeys(ScheduleStatus, 0)
        if self.storage.state == "READY":
            for task in self.storage.store.tasks:
                counts[ScheduleStatus(task.status)] += 1
        v = {f"task_store_{status.name}": n for status, n in counts.items()}
        v.update({f"scheduler_lifecycle_{s}": int(s == self.state) for s in Lifecycle})
        v.update(self.storage.vars())
        v.update(self.manager.vars())
        v.update(self.timers.vars())
        v.update(self.cron.vars())
        v.update(self.updates.vars())
        v.update(self.update_pruner.vars())
        v.update(self.node.vars())
        v.update(self.framework.vars() if self.framework else {"framework_registered": 0})
        return v

    # -- running -------------------------------------------------------------------------------------------
    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (0) or a fatal error (1); `StartupError` if ZooKeeper is unreachable."""
        loop = asyncio.get_running_loop()
        servers = [HTTPServer(make_app(self, self.api)), HTTPServer(make_log_app(self.node), max_body_size=1 << 30)]
        servers[0].add_sockets(self._http_sockets)
        servers[1].add_sockets(self._log_sockets)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        c = self.config
        try:
            self.state = Lifecycle.PREPARING_STORAGE
            try:
                kazoo_log = logging.getLogger("kazoo")
                level = kazoo_log.level
                kazoo_log.setLevel(logging.CRITICAL)   # its connection retries would bury our one line
                try:
                    await self.node.start(c.zk_connection_timeout)
                finally:
                    kazoo_log.setLevel(level)
                self.leadership = Leadership(c.zk_endpoints, c.serverset_path, f"{c.hostname}:{self.http_port}",
                                             loop, session_timeout=c.zk_session_timeout,
                                             on_elected=self._elected, on_lost=self._lost)
                await self.leadership.start(c.zk_connection_timeout)
            except Exception as e:  # noqa: BLE001 - kazoo's timeouts and friends: one line, not a traceback
                why = str(e) or type(e).__name__
                raise StartupError(f"cannot reach ZooKeeper at {c.zk_endpoints}: {why}") from None
            if self.state == Lifecycle.PREPARING_STORAGE:
                self.state = Lifecycle.STORAGE_PREPARED
            log.info("scheduler %s serving HTTP on port %d, log replica on port %d (cluster %s, mesos %s)",
                     c.hostname, self.http_port, self.log_port, c.cluster_name, c.mesos_master_address)
            await self._stop.wait()
        finally:
            await self._teardown(servers)
        return self.exit_code

    def fatal(self, reason: str) -> None:
        """Stop being anything now: no more writes, then exit 1 with `reason` as the one ERROR line."""
        if self.exit_code:
            return
        self.exit_code = 1
        log.error("exiting: %s", reason)
        self.node.step_down(reason)
        self._stop.set()

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _teardown(self, servers: list[HTTPServer]) -> None:
        self.state = Lifecycle.DEAD
        for server in servers:
            server.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.framework is not None:
            await self.framework.stop()
        await self.timers.stop()
        await self.cron.stop()
        await self.updates.stop()
        await self.update_pruner.stop()
        await self.storage.stop()
        if self.leadership is not None:
            await self.leadership.stop()
        await self.node.stop()

    # -- leadership ----------------------------------------------------------------------------------------
    def _elected(self) -> None:
        self.state = Lifecycle.LEADER_AWAITING_REGISTRATION
        self._spawn(self._lead())

    def _lost(self, reason: str) -> None:
        if self.leading or self.state == Lifecycle.LEADER_AWAITING_REGISTRATION:
            self.fatal(f"Lost leadership, committing suicide ({reason})")
        else:
            self.fatal(f"{reason}; a follower restarts to rejoin the election")

    async def _lead(self) -> None:
        try:
            self.node.become_writer()
            coord = await self.node.wait_writer()
            if not await coord.wait_recovered():     # the node runs the recovery rounds and says why they fail
                return  # fenced or stepped down: fatal() is already on its way
            await self.storage.prepare()
            await self.storage.start()
            self.timers.start()  # before any await: no change can commit unseen in between
            self.cron.start()    # fires, once, a run that came due while no scheduler led
            self.update_pruner.start()
            self._start_framework()
            await self.updates.start()   # rolling updates resume (their kills reach the framework)
            self._spawn(self.maintenance.poll_forever(self.config.host_maintenance_polling_interval))
            self._spawn(self._snapshots())
            c = self.config
            await self.leadership.advertise(c.hostname, self.http_port, c.serverset_endpoint_name)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a leader that cannot start serving must not stay leader
            self.fatal(f"cannot take over as leader: {str(e) or type(e).__name__}")

    async def _snapshots(self) -> None:
        """Snapshot (and truncate, and back up when due) every -dlog_snapshot_interval."""
        while True:
            await asyncio.sleep(self.config.dlog_snapshot_interval)
            try:
                await self.storage.snapshot()
            except Exception as e:  # noqa: BLE001 - a failed snapshot is a failed log write: fatal
                self.fatal(f"snapshot failed: {e}")
                return

    def _start_framework(self) -> None:
        master = self.mesos.master_address
        if master == "local":
            master = self._start_local_mesos()
        self.framework = Framework(self.mesos, self.storage, self.manager, master=master, fatal=self.fatal,
                                   placer=self.placer, parse_offer=self.placer.parse_offer,
                                   on_registered=self._registered, tiers=self.settings.tiers)
        self.framework.start()

    def _start_local_mesos(self) -> str:
        """-mesos_master_address=local: the Mesos-API stand-in (one agent) in this process, beside the log."""
        from scheduler.mesos_standin.local import LocalMesos
        work_dir = os.path.join(os.path.dirname(os.path.abspath(self.config.native_log_file_path)), "mesos")
        self.local_mesos = LocalMesos(work_dir)
        self.local_mesos.start()
        log.info("-mesos_master_address=local: the Mesos-API stand-in serves at %s (work dir %s)",
                 self.local_mesos.master_address, work_dir)
        return self.local_mesos.master_address

    def _registered(self) -> None:
        if self.state == Lifecycle.LEADER_AWAITING_REGISTRATION:
            self.state = Lifecycle.ACTIVE

    def _reconciler(self):
        return self.framework.reconciler if self.framework is not None else None

    def _on_change(self, change) -> None:
        self.timers.on_change(change)
        self.updates.on_change(change)
        self.maintenance.on_change(change)
        if self.framework is not None:
            self.framework.on_change(change)

    def _kill(self, task_id: str) -> None:
        if self.framework is not None:
            self.framework.kill(task_id)
        else:
            log.info("kill of %s not sent: not registered with Mesos yet", task_id)


def _bind(ip: str, port: int, flag: str) -> list:
    try:
        return bind_sockets(ip or "", port)      # "" = every interface
    except ListenError as e:
        raise StartupError(f"{flag}: {e}") from None
