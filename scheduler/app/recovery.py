"""``aurora-scheduler-recovery``: load a backup into a fresh replicated log, offline (Aurora's RecoveryTool).

  aurora-scheduler-recovery -from BACKUP -to LOG -backup=FILE
      -native_log_file_path=P -native_log_zk_group_path=G -zk_endpoints=Z
      [-native_log_quorum_size=1] [-native_log_port=8083] [-ip=127.0.0.1]
      [-native_log_write_timeout=3secs] [-zk_session_timeout=15secs] [-batch-size=50]

Run it with every scheduler stopped, on one scheduler host, with that scheduler's log flags, after
`aurora-log initialize --path=P` on every replica (docs/storage.md, "Recovery"). Guarantees:

* It writes only into a log that holds nothing: it replicates the replica at P in-process (a `LogNode`
  joining the group in ZooKeeper, serving its replica on -native_log_port as `aurora-log serve` would) and,
  once elected writer and recovered, reads the whole log; any entry at all and it stops with Aurora's
  "Refusing to recover into non-empty persistence", writing nothing. A writer elected elsewhere (a
  scheduler still running) is refused too.
* The backup becomes ops as Aurora's SnapshotStoreImpl.asStream streams them (host attributes, tasks, cron
  jobs, framework id, quotas, job updates with their events; and our maintenance requests), each saveTasks
  holding at most -batch-size tasks; ops are appended -batch-size at a time, one transaction per append,
  framed like any scheduler write, each acknowledged by -native_log_quorum_size replicas before the next.
  A scheduler replaying the log then holds exactly the backup.
* Bad input (a missing or corrupt backup, -from/-to other than BACKUP/LOG, a log path that is a file, not
  initialized, or locked by a running replica, ZooKeeper unreachable) is one line on stderr and exit 1
  (2 for bad flags); nothing is written.

Only `-from BACKUP -to LOG` is supported: Aurora's backups are read-only as a destination, and a log is
copied by the log itself.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Iterator

from thermos_executor.daemon import aurora_flags as F
from thermos_executor.daemon.http import ListenError, bind_sockets

from scheduler.log.cli import SERVE_FLAGS
from scheduler.log.protocol import VOTING, LogError
from scheduler.storage import codec, framing
from scheduler.storage.backup import read_backup
from scheduler.storage.gen.ttypes import (Op, SaveCronJob, SaveFrameworkId, SaveHostAttributes,
                                          SaveHostMaintenanceRequest, SaveJobInstanceUpdateEvent, SaveJobUpdate,
                                          SaveJobUpdateEvent, SaveQuota, SaveTasks, Snapshot)
from scheduler.storage.replicated import ReplicatedLog

log = logging.getLogger("aurora-scheduler-recovery")

USAGE = __doc__.split("\n\n")[1]
ENDPOINTS = ("LOG", "BACKUP")
NON_EMPTY = "Refusing to recover into non-empty persistence"
FLAGS = [F.Flag("from"), F.Flag("to"), F.Flag("backup"), F.Flag("batch_size", "int", 50),
         *(f for f in SERVE_FLAGS if f.name != "elect")]


class RecoveryError(Exception):
    """Recovery cannot go on; one line for the operator."""


def snapshot_ops(snapshot: Snapshot, tasks_per_op: int) -> Iterator[Op]:
    """The ops that rebuild `snapshot` on an empty store, in Aurora's order (pure)."""
    for attributes in snapshot.hostAttributes or ():
        yield Op(saveHostAttributes=SaveHostAttributes(hostAttributes=attributes))
    tasks = list(snapshot.tasks or ())
    for i in range(0, len(tasks), tasks_per_op):
        yield Op(saveTasks=SaveTasks(tasks=tasks[i:i + tasks_per_op]))
    for cron in snapshot.cronJobs or ():
        yield Op(saveCronJob=SaveCronJob(jobConfig=cron.jobConfiguration, lastRunMs=cron.lastRunMs))
    metadata = snapshot.schedulerMetadata
    if metadata is not None and metadata.frameworkId is not None:
        yield Op(saveFrameworkId=SaveFrameworkId(id=metadata.frameworkId))
    for quota in snapshot.quotaConfigurations or ():
        yield Op(saveQuota=SaveQuota(role=quota.role, quota=quota.quota))
    for stored in snapshot.jobUpdateDetails or ():
        details = stored.details
        key = details.update.summary.key
        yield Op(saveJobUpdate=SaveJobUpdate(jobUpdate=details.update))
        for event in details.updateEvents or ():
            yield Op(saveJobUpdateEvent=SaveJobUpdateEvent(event=event, key=key))
        for event in details.instanceEvents or ():
            yield Op(saveJobInstanceUpdateEvent=SaveJobInstanceUpdateEvent(event=event, key=key))
    for request in snapshot.hostMaintenanceRequests or ():
        yield Op(saveHostMaintenanceRequest=SaveHostMaintenanceRequest(hostMaintenanceRequest=request))


def batches(ops: Iterator[Op], size: int) -> Iterator[list[Op]]:
    batch: list[Op] = []
    for op in ops:
        batch.append(op)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_flags(values: dict) -> None:
    """Refuse a command line Aurora's tool would not run (FlagError, one line)."""
    F.require(values, "from", "to")
    for name in ("from", "to"):
        values[name] = values[name].upper()
        if values[name] not in ENDPOINTS:
            raise F.FlagError(f"-{name}: {values[name]!r} is not one of {', '.join(ENDPOINTS)}")
    if values["to"] == "BACKUP":
        raise F.FlagError("-to BACKUP: Backups are read-only")
    if values["from"] == "LOG":
        raise F.FlagError("-from LOG: the log copies itself to new replicas; recover from a backup (-from BACKUP)")
    F.require(values, "backup", "native_log_file_path", "native_log_zk_group_path", "zk_endpoints")
    if values["batch_size"] < 1:
        raise F.FlagError("-batch-size must be at least 1")
    if values["native_log_quorum_size"] < 1:
        raise F.FlagError("-native_log_quorum_size must be at least 1")
    if not 0 <= values["native_log_port"] < 65536:
        raise F.FlagError("-native_log_port must be a port number")


def load_backup(path: str) -> Snapshot:
    if not os.path.exists(path):
        raise RecoveryError(f"Backup {path} does not exist.")
    try:
        return read_backup(path)
    except codec.CodingError as e:
        raise RecoveryError(f"cannot read backup {path}: {e}") from None
    except OSError as e:
        raise RecoveryError(f"cannot read backup {path}: {e.strerror or e}") from None


def check_log_path(path: str) -> None:
    if not os.path.exists(path):
        raise RecoveryError(f"no replica at -native_log_file_path {path}: run `aurora-log initialize --path={path}`")
    if not os.path.isdir(path):
        raise RecoveryError(f"-native_log_file_path {path} exists and is not a directory")


async def recover(values: dict, snapshot: Snapshot) -> tuple[int, int]:
    """Write `snapshot` into the empty log the flags name; (ops, batches) written."""
    from tornado.httpserver import HTTPServer

    from scheduler.log.node import LogNode
    from scheduler.log.server import make_app

    path, ip = values["native_log_file_path"], values["ip"]
    try:
        sockets = bind_sockets(ip, values["native_log_port"])
    except ListenError as e:
        raise RecoveryError(str(e)) from None
    try:
        node = LogNode(path, f"{ip}:{sockets[0].getsockname()[1]}", values["zk_endpoints"],
                       values["native_log_zk_group_path"], values["native_log_quorum_size"],
                       write_timeout=values["native_log_write_timeout"],
                       session_timeout=values["zk_session_timeout"])
    except LogError:  # the replica is locked by a running process, or not a replica
        for sock in sockets:
            sock.close()
        raise
    server = HTTPServer(make_app(node), max_body_size=1 << 30)
    server.add_sockets(sockets)
    try:
        if node.replica.status != VOTING:
            raise RecoveryError(f"the replica at {path} is {node.replica.status}, not initialized: run "
                                f"`aurora-log initialize --path={path}` on every replica first")
        try:
            await node.start()
        except Exception as e:  # noqa: BLE001 - kazoo timeouts and friends: one line
            why = str(e) or type(e).__name__
            raise RecoveryError(f"cannot reach ZooKeeper at {values['zk_endpoints']}: {why}") from None
        log.info("Recovering from BACKUP %s to LOG %s", values["backup"], path)
        target = ReplicatedLog(await _become_writer(node, 2 * values["zk_session_timeout"] + 10))
        log.info("Ensuring recovery destination is empty")
        async for _ in target.read():
            raise RecoveryError(NON_EMPTY)
        return await _write(target, snapshot, values["batch_size"])
    finally:
        server.stop()
        await node.stop()


async def _become_writer(node, timeout: float):
    """The node's recovered Coordinator, once ZooKeeper elected it; RecoveryError if another node is the
    writer, or none is ready by the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        writer = node.discovery.writer
        if writer is not None and writer != node.address:
            raise RecoveryError(f"{writer} is the log's writer in {node.group_path}: stop every scheduler and "
                                "log replica of this group before recovering")
        coordinator = node.coordinator
        if coordinator is not None and coordinator.recovered:
            return coordinator
        await asyncio.sleep(0.05)  # a condition poll with a deadline
    last = node.coordinator.last_error if node.coordinator else "not elected"
    raise RecoveryError(f"the log was not writable within {timeout:.0f}s ({last or 'no quorum'}); "
                        f"-native_log_quorum_size={node.quorum} replicas must be reachable")


async def _write(target: ReplicatedLog, snapshot: Snapshot, batch_size: int) -> tuple[int, int]:
    started, count, number = time.monotonic(), 0, 0
    for number, batch in enumerate(batches(snapshot_ops(snapshot, batch_size), batch_size), 1):
        log.info("Saving batch %d", number)
        entry = codec.encode(codec.transaction(batch))
        await target.append(framing.frame(entry, framing.DEFAULT_MAX_ENTRY_SIZE))
        count += len(batch)
    log.info("Copied %d ops in %d ms", count, (time.monotonic() - started) * 1000)
    return count, number


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # its retries are noise here: we say one line
    if any(a in ("-h", "-help", "--help") for a in argv):
        print(USAGE)
        return 0
    try:
        values = F.parse(argv, FLAGS)
        check_flags(values)
    except F.FlagError as e:
        print(f"aurora-scheduler-recovery: {e}", file=sys.stderr)
        return 2
    try:
        snapshot = load_backup(values["backup"])
        check_log_path(values["native_log_file_path"])
        ops, written = asyncio.run(recover(values, snapshot))
    except (RecoveryError, LogError) as e:
        print(f"aurora-scheduler-recovery: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"recovered {len(snapshot.tasks or ())} tasks ({ops} ops in {written} batches) from "
          f"{values['backup']} into {values['native_log_file_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
